"""The page's event functions (called by the page; plain functions so tests reach them without a browser):
complete, draw something, redraw, morph, pick a test drawing, guess, new seed."""

from __future__ import annotations

import functools
import logging
import secrets
import time

import gradio as gr

from sketchrnn import calibration, morph
from sketchrnn.canvas import parse_strokes
from sketchrnn.drawing_settings import DrawingSettings, resolved
from sketchrnn.demo.checks import (
    checked_choice, checked_drawing, checked_guidance, checked_number, checked_redrawer, checked_settings,
    checked_tries,
)
from sketchrnn.demo.catalog import Choice
from sketchrnn.demo.defaults import CANVAS_SIZE, MAX_SEED, MORPH_STEPS, PEN_TEMPERATURE, SVG_SIZE, TEMPERATURE_RANGE
from sketchrnn.demo.messages import markdown_text, refusal
from sketchrnn.demo.outputs import endings_html, file_stem, write_named_svg_files, write_svg_files
from sketchrnn.demo.running import call_model, drawing_lane, guided_streams, scored_pairs
from sketchrnn.model import TrainedModel
from sketchrnn.sample import complete, guess, sample
from sketchrnn.svg import (
    DEFAULT_ENDING_COLOR,
    completion_svg,
    drawing_svg,
    grid_svg,
    interpolation_svg,
    morph_svg,
    redrawings_svg,
)

logger = logging.getLogger(__name__)


NO_VAE = ("Redrawing and morphing need a VAE (the paper's encoder + decoder), and none is loaded. Train one with "
          "`sketchrnn train --model vae ...` and export it beside the other models: "
          "`sketchrnn export RUN data/models/NAME`.")


def tries_note(model: TrainedModel, shown: int, tries: int, category: str) -> str:
    """What the status line says about the tries: how many were drawn and how the shown ones were chosen."""
    if not scored_pairs(model, shown, tries):
        return ""
    return f" Chosen from {shown * tries}: those the model itself finds most like a {markdown_text(category)}."


def model_settings(label, *, catalog) -> tuple[float, int, float]:
    """What the sliders move to when the menu picks `label`: the temperature, tries and guidance its model draws
    its category with when not told otherwise (`sketchrnn.drawing_settings.resolved`: the model's own settings,
    else the project's defaults), as `sample.complete` and `sketchrnn complete` use them."""
    settings = resolved_settings(checked_choice(catalog, label))
    return settings.temperature, settings.tries, settings.guidance


def resolved_settings(choice: Choice) -> DrawingSettings:
    """The settings the choice's model draws its category with, unless the sliders say otherwise."""
    return resolved(choice.model, choice.category)


def checked_request(catalog, label, temperature, endings, seed, tries, guidance):
    """The menu choice, its model's settings, and the request's values checked; tries and guidance left out
    (None) are the model's. Returns ``(choice, settings, temperature, endings, seed, tries, guidance)``."""
    choice = checked_choice(catalog, label)
    settings = resolved_settings(choice)
    temperature, endings, seed = checked_settings(temperature, endings, seed)
    tries = checked_tries(settings.tries if tries is None else tries)
    guidance = checked_guidance(settings.guidance if guidance is None else guidance)
    return choice, settings, temperature, endings, seed, tries, guidance


def complete_drawing(strokes, label, temperature, endings, seed, animate, tries=None, guidance=None,
                     *, catalog, output_root):
    """Complete the person's drawing `endings` ways (each chosen from `tries`; each step guided by `guidance`;
    None: the model's, see `model_settings`). The pen temperature is the model's (it has no slider).

    Returns (HTML with the endings as inline SVG, the .svg files to download, a status line).
    """
    drawing = checked_drawing(strokes)
    choice, settings, temperature, endings, seed, tries, guidance = checked_request(
        catalog, label, temperature, endings, seed, tries, guidance)
    started = time.perf_counter()
    with drawing_lane(drawing, scored_pairs(choice.model, endings, tries),
                      guided_streams(choice.model, endings, tries, guidance)):
        completion = call_model(
            complete, choice.model, drawing, n=endings, temperature=temperature, seed=seed,
            category=choice.category, canvas_size=CANVAS_SIZE, pen_temperature=settings.pen_temperature,
            tries=tries, calibration=guess_calibration(), guidance=guidance,
        )
        pairs = [(completion.prime, ending) for ending in completion.endings]
        svg_texts = [completion_svg(prime, ending, size=SVG_SIZE, animate=bool(animate)) for prime, ending in pairs]
        files = write_svg_files(svg_texts, grid_svg(pairs), f"{file_stem(choice.category)}-ending", output_root)
    captions = [f"Ending {index}" for index in range(1, len(svg_texts) + 1)]
    seconds = time.perf_counter() - started
    noun = "ending" if len(svg_texts) == 1 else "endings"
    status = f"{len(svg_texts)} {noun} of your {markdown_text(choice.category)} in {seconds:.2f} s (seed {seed})."
    status += tries_note(choice.model, len(svg_texts), tries, choice.category)
    if completion.left_out:
        status += (f" Your drawing has more strokes than the model can read: it left out the "
                   f"{completion.left_out} shortest.")
    finished = sum(1 for ending in completion.endings if not any(len(stroke) for stroke in ending))
    if finished:
        which = "The model added nothing" if len(svg_texts) == 1 else f"{finished} of {len(svg_texts)} endings added nothing"
        status += (f" {which}: it takes your {markdown_text(choice.category)} as finished. Try another seed or a "
                   "higher temperature, or draw less of it.")
    return endings_html(svg_texts, captions), files, status


def draw_something(label, temperature, endings, seed, animate, tries=None, guidance=None, *, catalog, output_root):
    """Let the model draw `endings` new drawings of the chosen category from nothing (each chosen from
    `tries` and guided by `guidance`, as `complete_drawing`'s endings; the model's pen temperature).

    Returns the same three things as `complete_drawing`.
    """
    choice, settings, temperature, endings, seed, tries, guidance = checked_request(
        catalog, label, temperature, endings, seed, tries, guidance)
    started = time.perf_counter()
    with drawing_lane([], scored_pairs(choice.model, endings, tries), guided_streams(choice.model, endings, tries, guidance)):
        drawings = call_model(
            sample, choice.model, endings, temperature=temperature, seed=seed, category=choice.category,
            pen_temperature=settings.pen_temperature, tries=tries, calibration=guess_calibration(), guidance=guidance,
        )
    svg_texts = [
        drawing_svg(drawing, color=DEFAULT_ENDING_COLOR, size=SVG_SIZE, animate=bool(animate)) for drawing in drawings
    ]
    all_svg = grid_svg(drawings, color=DEFAULT_ENDING_COLOR)
    files = write_svg_files(svg_texts, all_svg, file_stem(choice.category), output_root)
    captions = [f"Drawing {index}" for index in range(1, len(svg_texts) + 1)]
    status = (f"{len(svg_texts)} new {markdown_text(choice.category)} drawings in {time.perf_counter() - started:.2f} s "
              f"(seed {seed}).")
    status += tries_note(choice.model, len(svg_texts), tries, choice.category)
    return endings_html(svg_texts, captions), files, status


def redraw_drawing(strokes, label, temperature, endings, seed, animate, *, catalog, redrawers, output_root):
    """Let a VAE redraw the person's drawing `endings` ways: encode it to z, decode z (`sketchrnn.morph`).

    Returns the same three things as `complete_drawing`; without a VAE, no drawings and a status saying so.
    """
    if not redrawers:
        return "", None, NO_VAE
    drawing = checked_drawing(strokes)
    choice = checked_choice(catalog, label)
    temperature, endings, seed = checked_settings(temperature, endings, seed)
    model = redrawer_for(redrawers, choice.category)
    started = time.perf_counter()
    with drawing_lane(drawing):
        redrawing = call_model(
            morph.reconstruct, model, drawing, endings, temperature=temperature, seed=seed,
            category=vae_category(model, choice.category), canvas_size=CANVAS_SIZE, pen_temperature=PEN_TEMPERATURE,
        )
        svg_texts = [drawing_svg(drawn, color=DEFAULT_ENDING_COLOR, size=SVG_SIZE, animate=bool(animate))
                     for drawn in redrawing.redrawings]
        all_svg = redrawings_svg(redrawing.drawing, redrawing.redrawings)
        files = write_svg_files(svg_texts, all_svg, f"{file_stem(model.name)}-redrawing", output_root)
    captions = [f"Redrawing {index}" for index in range(1, len(svg_texts) + 1)]
    noun = "redrawing" if len(svg_texts) == 1 else "redrawings"
    status = (f"{len(svg_texts)} {noun} of your drawing by {markdown_text(model.name)} in "
              f"{time.perf_counter() - started:.2f} s "
              f"(seed {seed}).")
    if redrawing.left_out:
        status += (f" Your drawing has more strokes than the model can read: it left out the "
                   f"{redrawing.left_out} shortest.")
    return endings_html(svg_texts, captions), files, status


def redrawer_for(redrawers: dict[str, TrainedModel], category: str) -> TrainedModel:
    """The VAE that redraws a drawing of `category`: one trained with category conditioning that draws it,
    else the first (a VAE without conditioning reads what the drawing is from the drawing itself)."""
    conditioned = [model for model in redrawers.values()
                   if model.config.num_categories > 1 and category in model.categories]
    return (conditioned or list(redrawers.values()))[0]


def vae_category(model: TrainedModel, category: str) -> str | None:
    """The category to pass to a VAE: `category` for one conditioned on it, else None (not used)."""
    return category if model.config.num_categories > 1 and category in model.categories else None


def morph_drawings(first, second, name, steps, temperature, seed, *, catalog, redrawers, output_root):
    """Morph drawing A into drawing B in `steps` drawings with the VAE called `name` (`sketchrnn.morph`).

    Returns (HTML with the strip, HTML with the animated morph, the two .svg files to download, a status
    line); without a VAE, nothing and a status saying so.
    """
    if not redrawers:
        return "", "", None, NO_VAE
    start = checked_drawing(first, "Drawing A is empty: draw something on it, or pick a drawing.")
    end = checked_drawing(second, "Drawing B is empty: draw something on it, or pick a drawing.")
    model = checked_redrawer(redrawers, name, catalog)
    steps = checked_number(steps, "number of steps", MORPH_STEPS[0], MORPH_STEPS[1], integer=True)
    temperature = checked_number(temperature, "temperature", *TEMPERATURE_RANGE)
    seed = checked_number(seed, "seed", 0, MAX_SEED, integer=True)
    started = time.perf_counter()
    with drawing_lane(start + end):  # one lane for both: two large drawings never wait for each other
        interpolation = call_model(
            morph.interpolate, model, start, end, steps, temperature=temperature, seed=seed,
            canvas_size=CANVAS_SIZE, pen_temperature=PEN_TEMPERATURE,
        )
        strip = interpolation_svg(interpolation.start, interpolation.drawings, interpolation.end)
        animated = morph_svg(interpolation.drawings, color=DEFAULT_ENDING_COLOR, size=SVG_SIZE)
        files = write_named_svg_files({"morph-strip.svg": strip, "morph-animated.svg": animated}, output_root)
    status = (f"{steps} drawings from A to B by {markdown_text(model.name)} in {time.perf_counter() - started:.2f} s "
              f"(seed {seed}).")
    if interpolation.left_out:
        status += (f" The drawings have more strokes than the model can read: it left out the "
                   f"{interpolation.left_out} shortest.")
    animation_html = endings_html([animated], ["A to B and back, looping"])
    return f'<div class="sketch-strip">{strip}</div>', animation_html, files, status


def pick_test_drawing(label, *, test_drawings: dict[str, list]):
    """The test drawing called `label`, for a canvas; nothing changes while none is picked."""
    if label is None or label == "":
        return gr.skip()
    if isinstance(label, str) and label in test_drawings:
        return test_drawings[label]
    raise refusal(f"Pick a drawing from the list of {len(test_drawings)} test drawings.")


def guess_drawing(strokes, *, catalog) -> dict[str, float]:
    """The top guesses of what the drawing is, {category: probability}; empty while there is too little.

    A payload the page never sends (a hand-made API call) gets a gr.Error saying what is wrong.
    """
    try:
        drawing = parse_strokes([] if strokes is None else strokes)
    except ValueError as error:
        raise refusal(str(error)) from None
    if sum(len(stroke) for stroke in drawing) < 2:
        return {}
    models = list({id(choice.model): choice.model for choice in catalog.values()}.values())
    with drawing_lane(drawing):
        return dict(call_model(guess, models, drawing, top=3, canvas_size=CANVAS_SIZE, calibration=guess_calibration()))


@functools.cache
def guess_calibration():
    """The calibration of "what are you drawing?" beside the bundled models (None without one; a damaged
    file is logged and ignored, so guesses still come, uncalibrated)."""
    try:
        return calibration.load_default()
    except ValueError as error:
        logger.warning("%s", error)
        return None


def new_seed() -> int:
    """A fresh random seed for the seed box."""
    return secrets.randbelow(MAX_SEED + 1)
