"""The page's layout: `build_demo` lays out the two tabs and wires their controls to the event functions
(`sketchrnn.demo.handlers`); `CSS` styles the drawings shown."""

from __future__ import annotations

import atexit
import functools
import shutil
from pathlib import Path

import gradio as gr

from sketchrnn.canvas import StrokeCanvas
from sketchrnn.demo.catalog import Choice, default_label
from sketchrnn.demo.defaults import (
    CONCURRENCY_LIMIT, DEFAULT_ENDINGS, MAX_ENDINGS, MAX_SEED, MORPH_STEPS, MORPH_TEMPERATURE, SVG_SIZE,
    TEMPERATURE_RANGE,
)
from sketchrnn.demo.handlers import (
    NO_VAE, complete_drawing, draw_something, guess_drawing, model_settings, morph_drawings, new_seed,
    pick_test_drawing, redraw_drawing,
)
from sketchrnn.demo.outputs import OUTPUT_LIFETIME_S, new_output_root
from sketchrnn.model import TrainedModel
from sketchrnn.sample import MAX_GUIDANCE, MAX_TRIES
from sketchrnn.svg import DEFAULT_COLOR, DEFAULT_ENDING_COLOR


CSS = """
.sketch-endings { display: flex; flex-wrap: wrap; gap: 12px; }
.sketch-ending { margin: 0; padding: 6px; border: 1px solid #dddddd; border-radius: 8px; background: #ffffff; }
.sketch-ending svg { display: block; width: %dpx; height: %dpx; max-width: 100%%; }
.sketch-ending figcaption { text-align: center; font-size: 0.9em; color: #555555; }
.sketch-legend-person { color: %s; font-weight: 600; }
.sketch-legend-model { color: %s; font-weight: 600; }
.sketch-strip svg { display: block; width: 100%%; height: auto; }
""" % (SVG_SIZE, SVG_SIZE, DEFAULT_COLOR, DEFAULT_ENDING_COLOR)


def build_demo(catalog: dict[str, Choice], output_root: Path | None = None, *,
               redrawers: dict[str, TrainedModel] | None = None,
               test_drawings: dict[str, list] | None = None) -> gr.Blocks:
    """Lay out the page and wire the controls to the event functions above. Download files go to
    `output_root`; by default a new private temporary folder, removed when the interpreter exits.

    `catalog`: the decoder-only models' menu (complete, draw something, guess); `redrawers`: the VAEs by
    name (Redraw and the Morph tab; without one those say so); `test_drawings`: what the Morph tab's
    pickers offer (`load_test_drawings`).
    """
    redrawers, test_drawings = redrawers or {}, test_drawings or {}
    if output_root is None:
        output_root = new_output_root()
        atexit.register(shutil.rmtree, output_root, ignore_errors=True)
    with gr.Blocks(title="Sketch-RNN: finish my drawing", delete_cache=(OUTPUT_LIFETIME_S, OUTPUT_LIFETIME_S)) as demo:
        gr.Markdown(
            "## Sketch-RNN: start a drawing, the model finishes it\n"
            'Draw with a mouse, pen or finger. <span class="sketch-legend-person">Your strokes</span> stay dark, '
            '<span class="sketch-legend-model">the model\'s</span> are red. **Redraw** lets the VAE draw your drawing '
            "its own way; the **Morph** tab turns one drawing into another."
        )
        with gr.Tabs():
            with gr.Tab("Complete or redraw", elem_id="complete-tab"):
                _build_complete_tab(catalog, redrawers, output_root)
            with gr.Tab("Morph", elem_id="morph-tab"):
                morph_controls = _build_morph_tab(redrawers, test_drawings)
        _wire_morph_events(morph_controls, catalog, redrawers, test_drawings, output_root)
    return demo


def _build_complete_tab(catalog: dict[str, Choice], redrawers: dict[str, TrainedModel], output_root: Path) -> None:
    """The first tab: the canvas, the guesses, the settings and actions, the endings and their downloads."""
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            canvas = StrokeCanvas(label="Your drawing", elem_id="canvas")
            guesses = gr.Label(
                label="What are you drawing? (the model's guesses)", num_top_classes=3,
                visible=len(catalog) > 1, elem_id="guesses",
            )
        with gr.Column(scale=1, min_width=280):
            controls = _build_controls(catalog)
    status = gr.Markdown(elem_id="status")
    endings_view = gr.HTML(elem_id="endings")
    downloads = gr.File(label="Download the endings (.svg)", file_count="multiple", elem_id="downloads")
    _wire_events(canvas, guesses, controls, (endings_view, downloads, status), catalog, redrawers, output_root)


def _build_controls(catalog: dict[str, Choice]) -> dict[str, gr.components.Component]:
    """The settings column: category, temperature, endings, seed, animation and the three actions."""
    labels, first = list(catalog), default_label(catalog)
    temperature, tries, guidance = model_settings(first, catalog=catalog)  # the first model's; the menu moves them
    controls = {
        "label": gr.Dropdown(
            labels, value=first, label="I am drawing a…", elem_id="category",
            info="Best model first; the share: how often an independent recogniser named its completions of "
                 "half-drawn validation drawings rightly" if any("recognisable" in label for label in labels) else None,
        ),
        "temperature": gr.Slider(
            *TEMPERATURE_RANGE, value=temperature, step=0.05, label="Temperature (higher = wilder)",
            elem_id="temperature",
        ),
        "endings": gr.Slider(1, MAX_ENDINGS, value=DEFAULT_ENDINGS, step=1, label="Endings", elem_id="endings-count"),
        "tries": gr.Slider(
            1, MAX_TRIES, value=tries, step=1, label="Tries per ending",
            info="Models of several categories draw this many and show those most like your category (1: the first drawn)",
            elem_id="tries",
        ),
        "guidance": gr.Slider(
            0, MAX_GUIDANCE, value=guidance, step=1, label="Guidance",
            info="Models of several categories prefer, at each step, what your category draws and their others do not "
                 "(0: plain sampling)",
            elem_id="guidance",
        ),
    }
    with gr.Row():
        controls["seed"] = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=MAX_SEED, elem_id="seed")
        controls["new_seed"] = gr.Button("New seed", elem_id="new-seed", scale=0)
    controls["animate"] = gr.Checkbox(True, label="Animate the model's strokes", elem_id="animate")
    with gr.Row():
        controls["complete"] = gr.Button("Complete", variant="primary", elem_id="complete")
        controls["draw_something"] = gr.Button("Draw something", elem_id="draw-something")
        controls["redraw"] = gr.Button("Redraw", elem_id="redraw")
    return controls


def _build_morph_tab(redrawers: dict[str, TrainedModel], test_drawings: dict[str, list]) -> dict:
    """The Morph tab: two canvases (each with a picker of test drawings), the settings, the button, the outputs."""
    gr.Markdown("Draw two drawings, or pick two the model never saw: it morphs A into B through its latent space.")
    if not redrawers:
        gr.Markdown(NO_VAE, elem_id="morph-note")
    if not test_drawings:
        gr.Markdown("No test drawings to pick from: the shared data (`../shared/data` beside the project) is not on "
                    "this machine. Drawing works all the same.", elem_id="morph-no-test-drawings")
    controls = {}
    with gr.Row():
        for side in ("a", "b"):
            with gr.Column(scale=1, min_width=320):
                controls[f"canvas_{side}"] = StrokeCanvas(label=f"Drawing {side.upper()}",
                                                          elem_id=f"morph-canvas-{side}")
                controls[f"pick_{side}"] = gr.Dropdown(
                    list(test_drawings), value=None, label="…or pick a test drawing", visible=bool(test_drawings),
                    elem_id=f"morph-pick-{side}",
                )
    with gr.Row():
        controls["model"] = gr.Dropdown(list(redrawers), value=next(iter(redrawers), None), label="Model",
                                        visible=len(redrawers) > 1, elem_id="morph-model")
        controls["steps"] = gr.Slider(*MORPH_STEPS[:2], value=MORPH_STEPS[2], step=1, label="Drawings from A to B",
                                      elem_id="morph-steps")
        controls["temperature"] = gr.Slider(*TEMPERATURE_RANGE, value=MORPH_TEMPERATURE, step=0.05,
                                            label="Temperature (higher = wilder)", elem_id="morph-temperature")
        controls["seed"] = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=MAX_SEED, elem_id="morph-seed")
    controls["morph"] = gr.Button("Morph", variant="primary", elem_id="morph")
    controls["status"] = gr.Markdown(elem_id="morph-status")
    controls["strip"] = gr.HTML(elem_id="morph-strip")
    controls["animation"] = gr.HTML(elem_id="morph-animation")
    controls["downloads"] = gr.File(label="Download the strip and the animated morph (.svg)", file_count="multiple",
                                    elem_id="morph-downloads")
    return controls


def _wire_events(canvas, guesses, controls, outputs, catalog, redrawers, output_root) -> None:
    """Connect the buttons (and the canvas, for guesses) to the event functions."""
    settings = [controls[name] for name in ("temperature", "endings", "seed", "animate")]
    # preprocess=False: the functions get the raw values and check them themselves, so a hand-made
    # API call with a string or a list for a number still gets a message a person can act on.
    shared = {"concurrency_id": "model", "concurrency_limit": CONCURRENCY_LIMIT, "preprocess": False}
    controls["complete"].click(
        functools.partial(complete_drawing, catalog=catalog, output_root=output_root),
        inputs=[canvas, controls["label"], *settings, controls["tries"], controls["guidance"]], outputs=list(outputs),
        api_name="complete",
        **shared,
    )
    controls["draw_something"].click(
        functools.partial(draw_something, catalog=catalog, output_root=output_root),
        inputs=[controls["label"], *settings, controls["tries"], controls["guidance"]], outputs=list(outputs),
        api_name="draw_something",
        **shared,
    )
    controls["redraw"].click(
        functools.partial(redraw_drawing, catalog=catalog, redrawers=redrawers, output_root=output_root),
        inputs=[canvas, controls["label"], *settings], outputs=list(outputs), api_name="redraw", **shared,
    )
    controls["new_seed"].click(new_seed, outputs=controls["seed"], api_name="new_seed", queue=False)
    controls["label"].change(  # a model draws with its own settings: the sliders move to them
        functools.partial(model_settings, catalog=catalog), inputs=controls["label"],
        outputs=[controls[name] for name in ("temperature", "tries", "guidance")], api_name="model_settings",
        queue=False, preprocess=False,
    )
    if len(catalog) > 1:
        canvas.change(
            functools.partial(guess_drawing, catalog=catalog), inputs=canvas, outputs=guesses, api_name="guess",
            show_progress="hidden", trigger_mode="always_last", **shared,
        )


def _wire_morph_events(controls, catalog, redrawers, test_drawings, output_root) -> None:
    """Connect the Morph button and the test-drawing pickers."""
    settings = [controls[name] for name in ("canvas_a", "canvas_b", "model", "steps", "temperature", "seed")]
    controls["morph"].click(
        functools.partial(morph_drawings, catalog=catalog, redrawers=redrawers, output_root=output_root),
        inputs=settings, outputs=[controls[name] for name in ("strip", "animation", "downloads", "status")],
        api_name="morph", concurrency_id="model", concurrency_limit=CONCURRENCY_LIMIT, preprocess=False,
    )
    for side in ("a", "b"):
        controls[f"pick_{side}"].input(
            functools.partial(pick_test_drawing, test_drawings=test_drawings), inputs=controls[f"pick_{side}"],
            outputs=controls[f"canvas_{side}"], api_name=f"pick_{side}", queue=False, preprocess=False,
        )
