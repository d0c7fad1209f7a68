"""The Gradio demo: draw a squiggle, the model completes it (or a VAE redraws it), download the SVGs;
on the Morph tab a VAE morphs one drawing into another.

`build_demo` lays out the page and wires the buttons to the plain functions below
(`complete_drawing`, `draw_something`, `redraw_drawing`, `morph_drawings`, `pick_test_drawing`,
`guess_drawing`, `new_seed`), which tests call directly. Decoder-only models complete, draw and guess;
VAEs (``config.kind == "vae"``) redraw and morph. `main` parses the command line, loads the models once
and serves the page on 127.0.0.1:7860. Nothing here contacts another machine unless ``--share`` asks for
a public link.
"""

from __future__ import annotations

import os

# Before gradio is imported: no analytics, version checks or telemetry (the demo works offline).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import argparse
import atexit
import contextlib
import functools
import html
import logging
import math
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

import numpy as np

from sketchrnn import calibration, data, magenta, morph
from sketchrnn.canvas import DEFAULT_SIZE, StrokeCanvas, parse_strokes
from sketchrnn.checkpoint import bundled_model_dirs, load_model
from sketchrnn.model import TrainedModel
from sketchrnn.model.config import MODEL_KINDS
from sketchrnn.model.inference import padded_batch
from sketchrnn.sample import (
    CANVAS_FILL, MAX_GUIDANCE, MAX_TRIES, complete, decoder_of_categories, guess, guided, sample,
)
from sketchrnn.strokes import stroke3_to_polylines
from sketchrnn.svg import (
    DEFAULT_COLOR,
    DEFAULT_ENDING_COLOR,
    completion_svg,
    drawing_svg,
    grid_svg,
    interpolation_svg,
    morph_svg,
    redrawings_svg,
    save_svg,
)

logger = logging.getLogger(__name__)

MAX_ENDINGS = 8  # endings per press of Complete (the slider's upper end)
MAX_SEED = 2**31 - 1
TEMPERATURE_RANGE = (0.05, 1.5)  # the slider's range; the sampler accepts (0, 2]
DEFAULT_TEMPERATURE = 0.4  # Sketch-RNN's usual sampling temperature
# The slider's temperature tempers the offsets; the pen state is sampled at 1.0. With the paper's single
# temperature, our models (trained for about an hour on 2 CPU cores) rarely sample "drawing ended" below
# 0.6 and scribble on to the 250-point cap; at 1.0 drawings end where people's do (README, "Sampling").
PEN_TEMPERATURE = 1.0
DEFAULT_ENDINGS = 4
# A model of several categories draws each step guided towards what the chosen category draws and its other
# categories do not (`Sampler.generate`; 0 turns it off). Chosen on validation cuts only, 4 endings each
# (benchmarks/guidance.py, docs/quality/tuning/guidance_tries1.md): completions the independent recogniser names
# rightly, quickdraw6 69.0% unguided -> 78.0% at 4, 79.8% at 8, 80.2% at 16 (alarm clock 48% -> 70%); spg20
# 73.2% -> 82.0%, 81.7%, 81.8%. It costs a batch as many times larger as the model has categories.
DEFAULT_GUIDANCE = 8.0
# Tries: the model draws this many drawings for each one shown and shows those it finds itself most like the
# chosen category (sample.most_like). Unguided, 3 tries lift quickdraw6's validation completions 69.0% -> 71.8%;
# guided, they add nothing (79.8% -> 79.6%, docs/quality/tuning/guidance_tries3.md) at six times the time, so
# the page starts at 1; its slider still offers up to 4. Magenta's models draw one category: nothing to compare.
DEFAULT_TRIES = 1
DEFAULT_CATEGORY = "pig"  # what the menu starts on
# Requests worked on at once (the queue holds the rest). More than the 2 CPU cores here, so that a normal
# drawing never waits behind large ones: those take turns in a lane of their own (see `drawing_lane`).
CONCURRENCY_LIMIT = 4
LARGE_DRAWING_POINTS = 2000  # a drawing with more points than this, or
LARGE_DRAWING_STROKES = 200  # more strokes than this, is large: up to ~1 s of work (mostly its SVGs)
# a request that scores more (drawing, category) pairs than this when it chooses among tries takes turns too:
# 8 endings x 4 tries x 20 categories is ~2 s of work; the defaults on a 20-category model score 240
LARGE_SCORING_PAIRS = 256
# and so does one whose guided sampling runs more streams than this (one per drawing drawn and category, the
# drawings padded to a power of two as the sampler pads them): the defaults on a 20-category model run 80, 4
# endings x 3 tries 320 (~0.8 s of work), 8 x 4 run 640
LARGE_GUIDED_STREAMS = 320
LARGE_DRAWING_LANE = threading.BoundedSemaphore(1)  # large drawings are worked on one at a time
OUTPUT_LIFETIME_S = 3600  # SVG files offered for download are deleted after this long
WARM_UP_BATCHES = (1, 2, 4, 8, 16, 32)  # the sampler compiles one program per (padded) batch size it meets
WARM_UP_GUESS_POINTS = (8, 24, 48, 100, 190)  # one drawing per length bucket of the scorer (16 ... 256 rows)
SVG_SIZE = 256  # pixels of an ending's larger side on the page
CANVAS_SIZE = (DEFAULT_SIZE, DEFAULT_SIZE)  # the drawing keeps its size relative to this canvas
MORPH_STEPS = (2, 12, 8)  # the Morph tab's slider: fewest and most drawings from A to B, and the default
# The morph's temperature: low, so that the drawings change only as z does (the paper decodes its
# interpolations at low temperature too); every step is decoded with the same seed.
MORPH_TEMPERATURE = 0.1
TEST_DRAWINGS_PER_CATEGORY = 5  # drawings of each category the Morph tab's pickers offer
REPO_ROOT = Path(__file__).resolve().parent.parent  # a model's training data paths are relative to it
NO_VAE = ("Redrawing and morphing need a VAE (the paper's encoder + decoder), and none is loaded. Train one with "
          "`sketchrnn train --model vae ...` and export it beside the other models: "
          "`sketchrnn export RUN data/models/NAME`.")
# gradio modules that copy $GRADIO_TEMP_DIR into DEFAULT_TEMP_DIR at import (6.31); see private_server_folder
GRADIO_MODULES_WITH_TEMP_DIR = ("gradio.routes", "gradio.route_utils", "gradio.mcp", "gradio.screen_recording_utils")

CSS = """
.sketch-endings { display: flex; flex-wrap: wrap; gap: 12px; }
.sketch-ending { margin: 0; padding: 6px; border: 1px solid #dddddd; border-radius: 8px; background: #ffffff; }
.sketch-ending svg { display: block; width: %dpx; height: %dpx; max-width: 100%%; }
.sketch-ending figcaption { text-align: center; font-size: 0.9em; color: #555555; }
.sketch-legend-person { color: %s; font-weight: 600; }
.sketch-legend-model { color: %s; font-weight: 600; }
.sketch-strip svg { display: block; width: 100%%; height: auto; }
""" % (SVG_SIZE, SVG_SIZE, DEFAULT_COLOR, DEFAULT_ENDING_COLOR)


@dataclass(frozen=True)
class Choice:
    """One entry of the "what are you drawing?" menu: a loaded model and one of its categories."""

    model: TrainedModel
    category: str


# ----------------------------------------------------------------------------------------------
# Models


def load_models(model_dir=None, kinds=("decoder",)) -> list[TrainedModel]:
    """Load every model once: the bundled and imported ones (magenta's included; a downloaded but not yet
    imported magenta file is imported first), or the model in `model_dir`, or the models under it.
    Only models of these `kinds` are kept: "decoder" models complete, draw and guess; "vae" ones redraw.

    Raises ValueError when there is nothing to load.
    """
    if model_dir is None:
        directories = magenta.usable_model_dirs(log=logger.warning)
    elif (Path(model_dir) / "config.json").is_file():
        directories = [Path(model_dir)]
    else:
        directories = bundled_model_dirs(root=model_dir)
    if not directories:
        where = model_dir if model_dir is not None else "data/models/"
        raise ValueError(f"No trained model found in {where}: train one, or pass --model-dir DIR")
    models = [load_model(directory) for directory in directories]
    return [model for model in models if model.config.kind in kinds]


def warm_up(models: list[TrainedModel], sizes=WARM_UP_BATCHES) -> None:
    """Complete a tiny drawing once per batch size the page can ask for, so that the one-off
    compilation of the sampler happens at start-up instead of during someone's first request."""
    for model in models:
        model.sampler.warm_up(sizes, guided_categories=len(model.categories) if chooses(model) else 0)


def warm_up_guesses(models: list[TrainedModel], stop: threading.Event | None = None) -> None:
    """Guess once on drawings of 8 to 190 points, so that the scorer's programs for every drawing
    length (compiled once per model and length bucket) are ready before someone's first strokes."""
    for points in WARM_UP_GUESS_POINTS:
        if stop is not None and stop.is_set():
            return
        zigzag = [[20 + index * 300 / points, 100 + index % 2 * 100] for index in range(points)]
        guess(models, [zigzag], canvas_size=CANVAS_SIZE)


def _warm_up_the_rest(models: list[TrainedModel], stop: threading.Event) -> None:
    for size in WARM_UP_BATCHES:
        for model in models:
            if stop.is_set():
                return
            if size in page_batches(model) and size != default_batch(model):
                warm_up([model], (size,))
    warm_up_guesses([model for model in models if model.config.kind != "vae"], stop)  # VAEs never guess


def _finish_warm_up(thread: threading.Thread, stop: threading.Event) -> None:
    """At exit: let the warm-up finish its current step. TensorFlow aborts the process (SIGABRT) when
    the interpreter shuts down under a thread that is still compiling."""
    stop.set()
    thread.join()


def load_catalog(model_dir=None) -> dict[str, Choice]:
    """Load the decoder-only models (see `load_models`), list their categories for the menu, and warm them
    up: the default number of endings before returning; other batch sizes and guesses in the background."""
    models = load_models(model_dir)
    start_warm_up(models)
    return build_catalog(models)


def load_page_models(model_dir=None) -> tuple[dict[str, Choice], dict[str, TrainedModel]]:
    """Every model the page uses, loaded once and warmed up as `load_catalog` does: the menu of the
    decoder-only models, and the VAEs by name (those redraw and morph; a VAE never completes or guesses:
    without a drawing's z it has nothing to start from)."""
    models = load_models(model_dir, kinds=MODEL_KINDS)
    start_warm_up(models)
    redrawers = {model.name: model for model in models if model.config.kind == "vae"}
    return build_catalog([model for model in models if model.config.kind != "vae"]), redrawers


def chooses(model: TrainedModel) -> bool:
    """Whether the page draws more than it shows with this model (tries): a decoder of several categories."""
    return decoder_of_categories(model)


def default_batch(model: TrainedModel) -> int:
    """The batch the sampler runs for the page's default settings: the default endings, times the default
    tries for a model that chooses, padded to a power of two as the sampler pads it."""
    return padded_batch(DEFAULT_ENDINGS * (DEFAULT_TRIES if chooses(model) else 1))


def page_batches(model: TrainedModel) -> list[int]:
    """Every batch size the page can make the sampler run with this model."""
    most = MAX_ENDINGS * (MAX_TRIES if chooses(model) else 1)
    return [size for size in WARM_UP_BATCHES if size < 2 * most]


def start_warm_up(models: list[TrainedModel]) -> None:
    """Compile each model's batch for the default settings now, and the other batch sizes and guesses in the background."""
    for model in models:
        warm_up([model], (default_batch(model),))
    stop = threading.Event()
    thread = threading.Thread(target=_warm_up_the_rest, args=(models, stop), name="warm-up", daemon=True)
    thread.start()
    atexit.register(_finish_warm_up, thread, stop)


def build_catalog(models: list[TrainedModel]) -> dict[str, Choice]:
    """Menu label -> (model, category) for every category of every model, in alphabetical order.

    A label is the category name, plus the model's name when two models serve the same category.
    """
    pairs = [(model, category) for model in models for category in model.categories]
    counts: dict[str, int] = {}
    for _, category in pairs:
        counts[category] = counts.get(category, 0) + 1
    catalog = {}
    for model, category in pairs:
        label = category if counts[category] == 1 else f"{category} ({model.name})"
        catalog[label] = Choice(model, category)
    return dict(sorted(catalog.items()))


def default_label(catalog: dict[str, Choice]) -> str:
    """The menu's first choice: a pig, by the strongest model that draws one (magenta's, when present)."""
    pigs = sorted((not choice.model.name.startswith("magenta-"), label)
                  for label, choice in catalog.items() if choice.category == DEFAULT_CATEGORY)
    return pigs[0][1] if pigs else next(iter(catalog))


def load_test_drawings(model: TrainedModel, per_category: int = TEST_DRAWINGS_PER_CATEGORY,
                       root: Path = REPO_ROOT) -> dict[str, list]:
    """A few drawings of each category from the test split of the data `model` was trained on, as canvas
    strokes: ``{"pig 1": strokes, ...}``. The split is training's own (same sources, seed, rescaling and
    length cap), so the model never saw these. Empty when the data is not on this machine (relative
    paths are read from `root`, where training ran: ``../shared/data/...``)."""
    settings = model.metadata.get("train_settings", {})
    sources = [root / source for source in model.metadata.get("data", [])]
    if not sources or not all(source.is_file() for source in sources):
        return {}
    try:
        dataset = data.load_dataset([str(source) for source in sources], seed=settings.get("seed", 0),
                                    rescale_to=settings.get("rescale_to"), categories=settings.get("categories"),
                                    max_length=settings.get("max_length", model.config.max_length))
    except ValueError as error:
        logger.warning("no test drawings to pick from: %s", error)
        return {}
    test, picked, counts = dataset.splits["test"], {}, {}
    for stroke3, category_id in zip(test.drawings, test.category_ids):
        category = dataset.categories[category_id]
        counts[category] = counts.get(category, 0) + 1
        if counts[category] <= per_category:
            picked[f"{category} {counts[category]}"] = canvas_strokes(stroke3_to_polylines(stroke3))
    return dict(sorted(picked.items()))


def canvas_strokes(polylines) -> list:
    """A drawing as canvas strokes: scaled to fill `CANVAS_FILL` of the canvas, centred, 0.1 pixel steps."""
    points = np.concatenate(polylines)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = CANVAS_FILL * min(CANVAS_SIZE) / max(float(np.max(high - low)), 1e-6)
    centre = np.asarray(CANVAS_SIZE) / 2
    return [np.round((stroke - (low + high) / 2) * scale + centre, 1).tolist() for stroke in polylines]


# ----------------------------------------------------------------------------------------------
# Checking what arrives from the page (or from a hand-made API call)


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
    raise refusal(f"Pick what you are drawing from the list: {', '.join(catalog)}.")


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


def guided_streams(model: TrainedModel, shown: int, tries: int, guidance: float) -> int:
    """LSTM streams a request's guided sampling runs: one per category for each drawing drawn, padded as the
    sampler pads them (0 where it does not guide)."""
    if not guided(model, guidance):  # exactly when the sampler guides
        return 0
    return padded_batch(shown * tries) * len(model.categories)


def scored_pairs(model: TrainedModel, shown: int, tries: int) -> int:
    """(drawing, category) pairs a request scores to choose `shown` drawings from `tries` each (0 if it does not)."""
    return shown * tries * len(model.categories) if tries > 1 and chooses(model) else 0


def tries_note(model: TrainedModel, shown: int, tries: int, category: str) -> str:
    """What the status line says about the tries: how many were drawn and how the shown ones were chosen."""
    if not scored_pairs(model, shown, tries):
        return ""
    return f" Chosen from {shown * tries}: those the model itself finds most like a {markdown_text(category)}."


def checked_settings(temperature, endings, seed) -> tuple[float, int, int]:
    """Temperature, number of endings and seed, each checked against the controls' ranges."""
    return (
        checked_number(temperature, "temperature", *TEMPERATURE_RANGE),
        checked_number(endings, "number of endings", 1, MAX_ENDINGS, integer=True),
        checked_number(seed, "seed", 0, MAX_SEED, integer=True),
    )


def drawing_lane(drawing, scored_pairs: int = 0, guided_streams: int = 0):
    """What to hold while working on `drawing`: large drawings, and requests that score more than
    `LARGE_SCORING_PAIRS` (drawing, category) pairs to choose among tries or sample more than
    `LARGE_GUIDED_STREAMS` guided streams, take turns (at most one at a time, so however many are sent, they
    occupy one core and one request slot in work); others go straight on."""
    if (len(drawing) > LARGE_DRAWING_STROKES or sum(len(stroke) for stroke in drawing) > LARGE_DRAWING_POINTS
            or scored_pairs > LARGE_SCORING_PAIRS or guided_streams > LARGE_GUIDED_STREAMS):
        return LARGE_DRAWING_LANE
    return contextlib.nullcontext()


def refusal(message: str) -> gr.Error:
    """The gr.Error for a refused request: one line in the server's log (not a traceback), and the message shown
    as text (Gradio renders an error's message as HTML; a name from an imported model may hold markup)."""
    logger.warning("refused a request: %s", " ".join(message.split())[:300])
    return gr.Error(html.escape(message, quote=False), print_exception=False)


def markdown_text(text) -> str:
    """Untrusted text (a category or model name from a model's files) for a Markdown status line: shown as
    written, never as markup (Markdown's inline characters backslash-escaped, then HTML's, as the endings' captions)."""
    return html.escape(re.sub(r"([\\`*_\[\]~|!])", r"\\\1", str(text)), quote=False)


def call_model(function, *args, **kwargs):
    """Run a sampling function; its ValueError becomes a gr.Error, anything else a short apology."""
    try:
        return function(*args, **kwargs)
    except ValueError as error:
        raise refusal(str(error)) from None
    except Exception:
        logger.exception("the model failed")
        raise refusal("The model failed on this drawing. Try again, or press Clear and draw something else.") from None


# ----------------------------------------------------------------------------------------------
# Output: inline SVG for the page, .svg files for download


def endings_html(svg_texts: list[str], captions: list[str]) -> str:
    """The SVGs side by side, each in a captioned card."""
    cards = "".join(
        f'<figure class="sketch-ending">{svg_text}<figcaption>{html.escape(caption)}</figcaption></figure>'
        for svg_text, caption in zip(svg_texts, captions)
    )
    return f'<div class="sketch-endings">{cards}</div>'


def file_stem(label: str) -> str:
    """A file-name-safe version of a menu label: lower case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "drawing"


def write_svg_files(svg_texts: list[str], all_svg: str, stem: str, output_root: Path) -> list[str]:
    """Save each SVG and the all-in-one SVG in a new folder of their own; returns the paths."""
    named = {f"{stem}-{index}.svg": text for index, text in enumerate(svg_texts, 1)}
    return write_named_svg_files({**named, f"{stem}-all.svg": all_svg}, output_root)


def write_named_svg_files(svg_by_name: dict[str, str], output_root: Path) -> list[str]:
    """Save SVG texts under their file names in a new folder of their own; returns the paths."""
    prune_outputs(output_root)
    folder = Path(tempfile.mkdtemp(prefix="request-", dir=output_root))
    return [str(save_svg(text, folder / name)) for name, text in svg_by_name.items()]


def prune_outputs(output_root: Path, lifetime_s: float = OUTPUT_LIFETIME_S) -> None:
    """Delete request folders older than `lifetime_s` seconds."""
    cutoff = time.time() - lifetime_s
    for folder in Path(output_root).glob("request-*"):
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            continue  # another request removed it first


def new_output_root() -> Path:
    """A private temporary folder for this server's download files."""
    return Path(tempfile.mkdtemp(prefix="sketchrnn-demo-"))


@contextlib.contextmanager
def private_server_folder():
    """A private (0700) temporary folder for one server, holding Gradio's cache; removed on exit.

    Gradio caches the files it serves in ``$GRADIO_TEMP_DIR`` (default: a ``/tmp/gradio`` shared by
    every Gradio server on the machine, readable by all, and served by any of them). Each server
    here gets its own ``gradio-cache`` inside its folder instead; enter this before building Blocks.
    """
    root = new_output_root()  # mkdtemp: mode 0700
    cache = root / "gradio-cache"
    cache.mkdir(mode=0o700)
    atexit.register(shutil.rmtree, root, ignore_errors=True)  # also when the interpreter exits another way
    try:
        with gradio_temp_dir(cache):
            yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def gradio_temp_dir(folder: Path):
    """Point Gradio's cache at `folder` for the duration: $GRADIO_TEMP_DIR, and the few gradio modules
    that copied it at import (already done), which would otherwise still create /tmp/gradio."""
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    modules = [sys.modules.get(name) for name in GRADIO_MODULES_WITH_TEMP_DIR]
    saved = [(module, module.DEFAULT_TEMP_DIR) for module in modules if hasattr(module, "DEFAULT_TEMP_DIR")]
    for module, _ in saved:
        module.DEFAULT_TEMP_DIR = str(folder)
    try:
        yield
    finally:
        for module, directory in saved:
            module.DEFAULT_TEMP_DIR = directory
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous


@contextlib.contextmanager
def sigterm_exits():
    """Turn SIGTERM (what `kill` and service managers send) into SystemExit, so clean-up code runs.

    Only the main thread may install signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


# ----------------------------------------------------------------------------------------------
# Event functions (called by the page; plain functions so tests reach them without a browser)


def complete_drawing(strokes, label, temperature, endings, seed, animate, tries=DEFAULT_TRIES, guidance=DEFAULT_GUIDANCE,
                     *, catalog, output_root):
    """Complete the person's drawing `endings` ways (each chosen from `tries`: see `DEFAULT_TRIES`; each step
    guided by `guidance`: see `DEFAULT_GUIDANCE`).

    Returns (HTML with the endings as inline SVG, the .svg files to download, a status line).
    """
    drawing = checked_drawing(strokes)
    choice = checked_choice(catalog, label)
    temperature, endings, seed = checked_settings(temperature, endings, seed)
    tries, guidance = checked_tries(tries), checked_guidance(guidance)
    started = time.perf_counter()
    with drawing_lane(drawing, scored_pairs(choice.model, endings, tries),
                      guided_streams(choice.model, endings, tries, guidance)):
        completion = call_model(
            complete, choice.model, drawing, n=endings, temperature=temperature, seed=seed,
            category=choice.category, canvas_size=CANVAS_SIZE, pen_temperature=PEN_TEMPERATURE,
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
        status += (f" {which}: it takes your {markdown_text(choice.category)} as finished. Try another seed or a higher "
                   "temperature, or draw less of it.")
    return endings_html(svg_texts, captions), files, status


def draw_something(label, temperature, endings, seed, animate, tries=DEFAULT_TRIES, guidance=DEFAULT_GUIDANCE, *,
                   catalog, output_root):
    """Let the model draw `endings` new drawings of the chosen category from nothing (each chosen from
    `tries` and guided by `guidance`, as `complete_drawing`'s endings).

    Returns the same three things as `complete_drawing`.
    """
    choice = checked_choice(catalog, label)
    temperature, endings, seed = checked_settings(temperature, endings, seed)
    tries, guidance = checked_tries(tries), checked_guidance(guidance)
    started = time.perf_counter()
    with drawing_lane([], scored_pairs(choice.model, endings, tries), guided_streams(choice.model, endings, tries, guidance)):
        drawings = call_model(
            sample, choice.model, endings, temperature=temperature, seed=seed, category=choice.category,
            pen_temperature=PEN_TEMPERATURE, tries=tries, calibration=guess_calibration(), guidance=guidance,
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
    status = (f"{len(svg_texts)} {noun} of your drawing by {markdown_text(model.name)} in {time.perf_counter() - started:.2f} s "
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


def checked_redrawer(redrawers: dict[str, TrainedModel], name, catalog: dict[str, Choice]) -> TrainedModel:
    """The VAE called `name`, or a gr.Error: a decoder-only model's name gets `sketchrnn.morph`'s message."""
    if isinstance(name, str) and name in redrawers:
        return redrawers[name]
    decoders = {choice.model.name: choice.model for choice in catalog.values()}
    if isinstance(name, str) and name in decoders:
        call_model(morph.check_vae, decoders[name])  # raises: it cannot redraw
    raise refusal(f"Pick a model that redraws from the list: {', '.join(redrawers)}.")


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


# ----------------------------------------------------------------------------------------------
# The page


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
    labels = list(catalog)
    controls = {
        "label": gr.Dropdown(labels, value=default_label(catalog), label="I am drawing a…", elem_id="category"),
        "temperature": gr.Slider(
            *TEMPERATURE_RANGE, value=DEFAULT_TEMPERATURE, step=0.05, label="Temperature (higher = wilder)",
            elem_id="temperature",
        ),
        "endings": gr.Slider(1, MAX_ENDINGS, value=DEFAULT_ENDINGS, step=1, label="Endings", elem_id="endings-count"),
        "tries": gr.Slider(
            1, MAX_TRIES, value=DEFAULT_TRIES, step=1, label="Tries per ending",
            info="Models of several categories draw this many and show those most like your category (1: the first drawn)",
            elem_id="tries",
        ),
        "guidance": gr.Slider(
            0, MAX_GUIDANCE, value=DEFAULT_GUIDANCE, step=1, label="Guidance",
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


def launch_demo(demo: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False, block=True):
    """Serve `demo` through the queue (concurrent requests wait their turn); returns when it stops
    (or at once with ``block=False``)."""
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=64)
    return demo.launch(
        server_name=host, server_port=port, share=share, css=CSS, prevent_thread_lock=not block, quiet=not block
    )


# ----------------------------------------------------------------------------------------------
# Command line


def parse_args(argv=None) -> argparse.Namespace:
    """The demo's command-line flags."""
    parser = argparse.ArgumentParser(prog="sketchrnn demo", description="Serve the drawing demo in a web page.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default 7860)")
    parser.add_argument(
        "--model-dir", default=None, help="a trained model, or a folder of them (default: the bundled models)"
    )
    parser.add_argument(
        "--share", action="store_true", help="also open a public gradio.live link (contacts Gradio's servers)"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Load the models once, then serve the demo until interrupted (Ctrl-C or SIGTERM); returns the
    exit status. The server's files (downloads, Gradio's cache) live in a private temporary folder
    that is removed on the way out."""
    args = parse_args(argv)
    with sigterm_exits(), private_server_folder() as output_root:
        try:
            catalog, redrawers = load_page_models(args.model_dir)
        except ValueError as error:
            print(f"sketchrnn demo: {error}", file=sys.stderr)
            return 2
        if not catalog:
            print("sketchrnn demo: the models list no categories (a VAE alone cannot complete drawings)",
                  file=sys.stderr)
            return 2
        test_drawings = load_test_drawings(next(iter(redrawers.values()))) if redrawers else {}
        blocks = build_demo(catalog, output_root, redrawers=redrawers, test_drawings=test_drawings)
        try:
            launch_demo(blocks, host=args.host, port=args.port, share=args.share)
        finally:
            blocks.close(verbose=False)
    return 0
