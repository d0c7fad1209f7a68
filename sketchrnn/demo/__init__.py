"""The Gradio demo: draw a squiggle, the model completes it (or a VAE redraws it), download the SVGs;
on the Morph tab a VAE morphs one drawing into another.

`build_demo` (`layout`) lays out the page and wires the buttons to the plain functions in `handlers`
(`complete_drawing`, `draw_something`, `redraw_drawing`, `morph_drawings`, `pick_test_drawing`,
`guess_drawing`, `new_seed`), which tests call directly. Decoder-only models complete, draw and guess;
VAEs (``config.kind == "vae"``) redraw and morph. `main` (`server`) parses the command line, loads the models
once (`catalog`) and serves the page on 127.0.0.1:7860. Nothing here contacts another machine unless
``--share`` asks for a public link.

One job a file: `defaults` (the controls' defaults and ranges), `catalog` (loading the models, the menu,
warm-up, test drawings), `running` (which requests take turns; the model's errors as gr.Error), `checks`
(what arrives from the page), `handlers` (the event functions), `outputs` (inline SVG and download files),
`layout` (the page), `server` (command line, private folder, launch). This module re-exports the page's public
names, so ``from sketchrnn import demo; demo.complete_drawing(...)`` works as before.
"""

from __future__ import annotations

import os

# Before gradio is imported: no analytics, version checks or telemetry (the demo works offline).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from sketchrnn.demo.catalog import (  # noqa: E402
    REPO_ROOT, TEST_DRAWINGS_PER_CATEGORY, WARM_UP_BATCHES, WARM_UP_GUESS_POINTS, Choice, build_catalog,
    canvas_strokes, chooses, default_batch, default_label, load_catalog, load_models, load_page_models,
    load_test_drawings, menu_label, page_batches, page_ranking, start_warm_up, warm_up, warm_up_guesses,
)
from sketchrnn.demo.checks import (  # noqa: E402
    checked_choice, checked_drawing, checked_guidance, checked_number, checked_redrawer, checked_settings,
    checked_tries, number_text,
)
from sketchrnn.demo.defaults import (  # noqa: E402
    CANVAS_SIZE, CONCURRENCY_LIMIT, DEFAULT_CATEGORY, DEFAULT_ENDINGS, DEFAULT_GUIDANCE, DEFAULT_TEMPERATURE,
    DEFAULT_TRIES, MAX_ENDINGS, MAX_SEED, MORPH_STEPS, MORPH_TEMPERATURE, PEN_TEMPERATURE, SVG_SIZE,
    TEMPERATURE_RANGE,
)
from sketchrnn.demo.handlers import (  # noqa: E402
    NO_VAE, complete_drawing, draw_something, guess_calibration, guess_drawing, model_settings, morph_drawings,
    new_seed, pick_test_drawing, redraw_drawing, redrawer_for, tries_note, vae_category,
)
from sketchrnn.demo.layout import CSS, build_demo  # noqa: E402
from sketchrnn.demo.outputs import (  # noqa: E402
    OUTPUT_LIFETIME_S, endings_html, file_stem, new_output_root, prune_outputs, write_named_svg_files,
    write_svg_files,
)
from sketchrnn.demo.running import (  # noqa: E402
    LARGE_DRAWING_LANE, LARGE_DRAWING_POINTS, LARGE_DRAWING_STROKES, LARGE_GUIDED_STREAMS, LARGE_SCORING_PAIRS,
    call_model, drawing_lane, guided_streams, scored_pairs,
)
from sketchrnn.demo.server import (  # noqa: E402
    gradio_temp_dir, launch_demo, main, parse_args, private_server_folder, sigterm_exits,
)

__all__ = [
    "CANVAS_SIZE", "CONCURRENCY_LIMIT", "CSS", "DEFAULT_CATEGORY", "DEFAULT_ENDINGS", "DEFAULT_GUIDANCE",
    "DEFAULT_TEMPERATURE", "DEFAULT_TRIES", "LARGE_DRAWING_LANE", "LARGE_DRAWING_POINTS", "LARGE_DRAWING_STROKES",
    "LARGE_GUIDED_STREAMS", "LARGE_SCORING_PAIRS", "MAX_ENDINGS", "MAX_SEED", "MORPH_STEPS",
    "MORPH_TEMPERATURE", "NO_VAE", "OUTPUT_LIFETIME_S", "PEN_TEMPERATURE", "REPO_ROOT", "SVG_SIZE",
    "TEMPERATURE_RANGE", "TEST_DRAWINGS_PER_CATEGORY", "WARM_UP_BATCHES", "WARM_UP_GUESS_POINTS", "Choice",
    "build_catalog", "build_demo", "call_model", "canvas_strokes", "checked_choice", "checked_drawing",
    "checked_guidance", "checked_number", "checked_redrawer", "checked_settings", "checked_tries", "chooses",
    "complete_drawing", "default_batch", "default_label", "draw_something", "drawing_lane", "endings_html",
    "file_stem", "gradio_temp_dir", "guess_calibration", "guess_drawing", "guided_streams", "launch_demo",
    "load_catalog", "load_models", "load_page_models", "load_test_drawings", "main", "menu_label", "model_settings",
    "morph_drawings", "new_output_root", "new_seed", "number_text", "page_batches", "page_ranking", "parse_args",
    "pick_test_drawing",
    "private_server_folder", "prune_outputs", "redraw_drawing", "redrawer_for", "scored_pairs", "sigterm_exits",
    "start_warm_up", "tries_note", "vae_category", "warm_up", "warm_up_guesses", "write_named_svg_files",
    "write_svg_files",
]
