"""Checking what arrives from the page (or from a hand-made API call): each value in its control's range, or a
gr.Error saying what to do."""

from __future__ import annotations

import math

from sketchrnn import morph
from sketchrnn.canvas import parse_strokes
from sketchrnn.demo.catalog import Choice
from sketchrnn.demo.defaults import MAX_ENDINGS, MAX_SEED, TEMPERATURE_RANGE
from sketchrnn.demo.messages import refusal
from sketchrnn.demo.running import call_model
from sketchrnn.model import TrainedModel
from sketchrnn.sample import MAX_GUIDANCE, MAX_TRIES, cut


MAX_LISTED = 300  # characters of the menu's entries a refusal lists (the menu says how well each model draws)


def checked_drawing(strokes, empty: str = "The canvas is empty: draw the start of something, or press Draw "
                                        "something.") -> list[list[list[float]]]:
    """The canvas value as strokes, or a gr.Error saying what to do (`empty`: what to say for an empty canvas)."""
    try:
        drawing = parse_strokes([] if strokes is None else strokes)
    except ValueError as error:
        raise refusal(f"{error} Press Clear and draw something simpler.") from None
    points = sum(len(stroke) for stroke in drawing)
    if points == 0:
        raise refusal(empty)
    if points < 2:
        raise refusal("A single dot is not enough to go on: draw a line or two, then press the button again.")
    return drawing


def checked_choice(catalog: dict[str, Choice], label) -> Choice:
    """The menu entry called `label`, or a gr.Error listing the entries."""
    if isinstance(label, str) and label in catalog:
        return catalog[label]
    raise refusal(f"Pick what you are drawing from the list: {cut(', '.join(catalog), MAX_LISTED)}.")


def checked_number(value, name: str, low: float, high: float, *, integer: bool = False) -> float | int:
    """`value` as a finite number in [low, high] (rounded when `integer`), or a gr.Error."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = None
    # compared, never converted: a JSON integer of 400 digits fits no float (OverflowError)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == math.inf:
        raise refusal(f"The {name} must be a number from {number_text(low)} to {number_text(high)}.")
    if not low <= value <= high:
        raise refusal(f"The {name} must be from {number_text(low)} to {number_text(high)}; got {number_text(value)}.")
    return int(round(value)) if integer else float(value)


def number_text(value: float | int) -> str:
    """A number for a message: whole numbers in full (2147483647, not 2.14748e+09), others short."""
    if abs(value) >= 1e15:
        return "a number far larger" if value > 0 else "a number far smaller"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def checked_tries(tries) -> int:
    """Tries per drawing shown, checked against the slider's range."""
    return checked_number(tries, "tries per drawing", 1, MAX_TRIES, integer=True)


def checked_guidance(guidance) -> float:
    """Guidance, checked against the slider's range."""
    return checked_number(guidance, "guidance", 0.0, MAX_GUIDANCE)


def checked_settings(temperature, endings, seed) -> tuple[float, int, int]:
    """Temperature, number of endings and seed, each checked against the controls' ranges."""
    return (
        checked_number(temperature, "temperature", *TEMPERATURE_RANGE),
        checked_number(endings, "number of endings", 1, MAX_ENDINGS, integer=True),
        checked_number(seed, "seed", 0, MAX_SEED, integer=True),
    )


def checked_redrawer(redrawers: dict[str, TrainedModel], name, catalog: dict[str, Choice]) -> TrainedModel:
    """The VAE called `name`, or a gr.Error: a decoder-only model's name gets `sketchrnn.morph`'s message."""
    if isinstance(name, str) and name in redrawers:
        return redrawers[name]
    decoders = {choice.model.name: choice.model for choice in catalog.values()}
    if isinstance(name, str) and name in decoders:
        call_model(morph.check_vae, decoders[name])  # raises: it cannot redraw
    raise refusal(f"Pick a model that redraws from the list: {', '.join(redrawers)}.")
