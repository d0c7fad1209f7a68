"""The page's models: loading them once, the "what are you drawing?" menu (`Choice`, `build_catalog`), warming
them up so no one's first request compiles, and the Morph tab's test drawings."""

from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchrnn import data, magenta
from sketchrnn.checkpoint import bundled_model_dirs, drawing_ranking, load_model
from sketchrnn.demo.defaults import CANVAS_SIZE, DEFAULT_CATEGORY, DEFAULT_ENDINGS, MAX_ENDINGS
from sketchrnn.model import TrainedModel
from sketchrnn.model.config import MODEL_KINDS
from sketchrnn.model.inference import padded_batch
from sketchrnn.sample import CANVAS_FILL, MAX_TRIES, decoder_of_categories, guess
from sketchrnn.strokes import stroke3_to_polylines

logger = logging.getLogger(__name__)


WARM_UP_BATCHES = (1, 2, 4, 8, 16, 32)  # the sampler compiles one program per (padded) batch size it meets
WARM_UP_GUESS_POINTS = (8, 24, 48, 100, 190)  # one drawing per length bucket of the scorer (16 ... 256 rows)
TEST_DRAWINGS_PER_CATEGORY = 5  # drawings of each category the Morph tab's pickers offer
REPO_ROOT = Path(__file__).resolve().parent.parent.parent  # a model's training data paths are relative to it


@dataclass(frozen=True)
class Choice:
    """One entry of the "what are you drawing?" menu: a loaded model and one of its categories."""

    model: TrainedModel
    category: str


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
    return build_catalog(models, page_ranking(model_dir))


def load_page_models(model_dir=None) -> tuple[dict[str, Choice], dict[str, TrainedModel]]:
    """Every model the page uses, loaded once and warmed up as `load_catalog` does: the menu of the
    decoder-only models, and the VAEs by name (those redraw and morph; a VAE never completes or guesses:
    without a drawing's z it has nothing to start from)."""
    models = load_models(model_dir, kinds=MODEL_KINDS)
    start_warm_up(models)
    redrawers = {model.name: model for model in models if model.config.kind == "vae"}
    return build_catalog([model for model in models if model.config.kind != "vae"], page_ranking(model_dir)), redrawers


def chooses(model: TrainedModel) -> bool:
    """Whether the page draws more than it shows with this model (tries): a decoder of several categories."""
    return decoder_of_categories(model)


def default_batch(model: TrainedModel) -> int:
    """The batch the sampler runs for the page's default settings: the default endings, times the model's tries
    for a model that chooses, padded to a power of two as the sampler pads it."""
    return padded_batch(DEFAULT_ENDINGS * (model.drawing.default.tries if chooses(model) else 1))


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


def build_catalog(models: list[TrainedModel], ranking: dict | None = None) -> dict[str, Choice]:
    """Menu label -> (model, category) for every category of every model: categories in alphabetical order, and
    within a category the model that draws it best first.

    Best: first in ``ranking`` (category -> [(model name, share recognised on validation or None)], best first:
    `sketchrnn.checkpoint.drawing_ranking`); models it does not name follow, by name. A label is the category
    name, plus the model's name and its share where two models serve the category or the share is known:
    "pig (magenta-pig, 73% recognisable)".
    """
    ranking = ranking or {}
    pairs = [(model, category) for model in models for category in model.categories]
    counts: dict[str, int] = {}
    for _, category in pairs:
        counts[category] = counts.get(category, 0) + 1

    def order(pair):
        model, category = pair
        ranked = [name for name, _ in ranking.get(category, [])]
        return category, ranked.index(model.name) if model.name in ranked else len(ranked), model.name

    catalog = {}
    for model, category in sorted(pairs, key=order):
        share = dict(ranking.get(category, [])).get(model.name)
        label = category if counts[category] == 1 and share is None else menu_label(category, model.name, share)
        catalog[label] = Choice(model, category)
    return catalog


def menu_label(category: str, model_name: str, share: float | None) -> str:
    """A menu entry naming the model and, when measured, how often its completions were recognised."""
    return f"{category} ({model_name})" if share is None else f"{category} ({model_name}, {share:.0%} recognisable)"


def page_ranking(model_dir=None) -> dict:
    """The ranking beside the models the page loads (data/models/drawing_ranking.json, or the one in a folder of
    models `model_dir`); none when there is none. A damaged file is logged and ignored: the menu then orders models by name."""
    if model_dir is not None and (Path(model_dir) / "config.json").is_file():
        return {}  # one model: nothing to rank it against
    try:
        return drawing_ranking(model_dir)
    except ValueError as error:
        logger.warning("the models' ranking is ignored: %s", error)
        return {}


def default_label(catalog: dict[str, Choice]) -> str:
    """The menu's first choice: a pig, by the model that draws it best (the first of its labels, see
    `build_catalog`)."""
    return next((label for label, choice in catalog.items() if choice.category == DEFAULT_CATEGORY), next(iter(catalog)))


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
