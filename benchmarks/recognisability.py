"""How recognisable: an independent recogniser as a yardstick for people's drawings, cuts, completions and samples.

A small Keras CNN on rasterised drawings is trained on the *training* splits of the bundled models'
own data only (never valid or test), loaded exactly as those models' training loaded it (sources,
split seed, rescaling from each model's ``metadata["train_settings"]``), so the test splits below are
the models' held-out test splits. It is a yardstick only: nothing in the package uses it.

Per model and category it prints the recogniser's top-1 / top-3 rate on

  * the people's own test drawings (the ceiling),
  * those drawings cut to their first 40% of points, no completion (the floor),
  * completions of the cuts, 4 endings each, at the demo's defaults (temperature, pen temperature,
    a 400x400 canvas, and for a model of several categories its guidance, ``guidance``, and its tries: the
    4 of tries x 4 that the model itself finds most like the category, ``sample.most_like``; the whole
    drawing, prime + ending, is scored), and for such a model also the first 4 drawn with plain sampling
    (no guidance, no choosing),
  * unconditional samples at the demo's defaults (and plain, likewise);
  * for a VAE, instead of the last two: its reconstructions of the people's drawings, 4 each, as the demo's
    Redraw makes them (decoded from the encoding's mean at the demo's temperatures);

and, for "what are you drawing?" as the demo runs it (over the models the demo loads), the top-1 rate on
complete test drawings and on the same drawings cut to 40%, and how often its first guess is right
against the probability the demo shows for it; beside them, kept out of those figures, the same rates on
the category's drawings of the 344-category sample that no own model's files hold (by key_id), people's
drawings unlike a selected training set's (``unseen_sample_drawings``). Writes docs/quality/recognisability.md.

Models: the bundled ones under data/models/ (our own and imported magenta-* models) and, for a
category with a ../shared/data/magenta/<category>.gen.json but no bundled magenta model, that file
converted in memory. The recogniser is cached in benchmarks/out/ (``--retrain`` trains it anew).

A candidate (``--candidate DIR``: a model exported with ``sketchrnn export`` but not bundled) is measured
like an imported model, on the bundled models' test drawings, with the same recogniser, so its rows
compare directly with the bundled model's before a promotion. It is refused if its own training split
holds any of those test drawings.

    python benchmarks/recognisability.py [--per-category 100] [--models quickdraw6 magenta-pig ...] [--retrain]
    python benchmarks/recognisability.py --models quickdraw6 --candidate /tmp/new-quickdraw6 --no-guess --out /tmp/r.md
"""

from __future__ import annotations

import argparse
import datetime
import functools
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from sketchrnn import checkpoint, magenta, morph, sample, strokes  # noqa: E402
from sketchrnn import demo  # noqa: E402  (the demo's defaults and its "what are you drawing?" call)
from sketchrnn.data import load_dataset  # noqa: E402
from sketchrnn.train import training_data_options  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
OUT_DIR = ROOT / "benchmarks" / "out"
DOC_PATH = ROOT / "docs" / "quality" / "recognisability.md"
SEED = 0  # every random choice here: the recogniser's initialisation and augmentation, sampling seeds
PRIME_FRACTION = 0.4  # a cut keeps this fraction of a drawing's points
RASTER_SIZE = 28  # recogniser input: RASTER_SIZE x RASTER_SIZE greyscale (QuickDraw's bitmap size)
OVERSAMPLE = 4  # lines are drawn at 4x the raster size, thickened, then averaged down (greyscale)
LINE_RADIUS = 2  # thickening at the fine resolution: lines ~5 fine pixels (~1.25 raster pixels) wide
MARGIN = 2  # raster pixels left empty around the drawing
AUGMENTED_COPIES = 1  # extra randomly rotated / stretched copies of each training drawing
AUGMENT_ROTATION = 10.0  # degrees, at most, either way
AUGMENT_SCALE = 0.15  # x and y stretched independently by up to +-15% (the models' own augmentation)
EPOCHS = 8
BATCH_SIZE = 128
RECOGNISER_VERSION = 1  # bump when the recogniser's architecture or training changes (invalidates the cache)
GUESS_TOP = 3  # as the demo asks
PER_CATEGORY = 100  # test drawings per cell by default (the SPG test splits have 40 a category, the others 110-226)


# ----------------------------------------------------------------------------------------------
# Rasterising polylines


def rasterise(polylines, size: int = RASTER_SIZE) -> np.ndarray:
    """A drawing (absolute polylines, any units, y down) as a ``(size, size)`` float32 image in [0, 1].

    The drawing is scaled uniformly to fit the raster (its longer side spans it, less a margin) and
    centred, as people's drawings vary in size. Lines are point-sampled at the fine resolution
    (``OVERSAMPLE`` x), thickened by ``LINE_RADIUS`` and averaged down to greyscale.
    """
    polylines = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polylines]
    polylines = [p for p in polylines if len(p)]
    fine = size * OVERSAMPLE
    image = np.zeros((fine, fine), dtype=np.float32)  # (row = y, column = x)
    if not polylines:
        return image.reshape(size, OVERSAMPLE, size, OVERSAMPLE).mean(axis=(1, 3))
    points = np.concatenate(polylines)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = (fine - 1 - 2 * MARGIN * OVERSAMPLE) / max(float((high - low).max()), 1e-6)
    shift = (fine - 1) / 2.0 - (low + high) / 2.0 * scale
    starts, ends = _segments([p * scale + shift for p in polylines])
    columns, rows = _sample_segments(starts, ends).T
    image[np.clip(rows, 0, fine - 1), np.clip(columns, 0, fine - 1)] = 1.0
    return _thicken(image, LINE_RADIUS).reshape(size, OVERSAMPLE, size, OVERSAMPLE).mean(axis=(1, 3))


def _segments(polylines) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points ``(S, 2)`` of every line segment; a one-point stroke is a zero-length segment."""
    starts = [p[:-1] if len(p) > 1 else p for p in polylines]
    ends = [p[1:] if len(p) > 1 else p for p in polylines]
    return np.concatenate(starts), np.concatenate(ends)


def _sample_segments(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Integer pixel positions ``(P, 2)`` along every segment, at most half a pixel apart."""
    counts = np.ceil(np.hypot(*(ends - starts).T) * 2.0).astype(np.int64) + 1  # (S,)
    first = np.cumsum(counts) - counts
    steps = np.arange(counts.sum()) - np.repeat(first, counts)  # (P,) index within its segment
    fraction = steps / np.repeat(np.maximum(counts - 1, 1), counts)
    positions = np.repeat(starts, counts, axis=0) + fraction[:, None] * np.repeat(ends - starts, counts, axis=0)
    return np.rint(positions).astype(np.int64)


def _thicken(image: np.ndarray, radius: int) -> np.ndarray:
    """Grey-level dilation by a square of side ``2 * radius + 1``."""
    padded = np.pad(image, radius)
    height, width = image.shape
    thick = image.copy()
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            np.maximum(thick, padded[dy : dy + height, dx : dx + width], out=thick)
    return thick


def raster_batch(drawings) -> np.ndarray:
    """Many drawings (each a list of polylines) as a ``(B, RASTER_SIZE, RASTER_SIZE, 1)`` float32 batch."""
    return np.stack([rasterise(d) for d in drawings])[..., None] if drawings else np.zeros(
        (0, RASTER_SIZE, RASTER_SIZE, 1), np.float32)


def augmented(polylines, rng: np.random.Generator) -> list[np.ndarray]:
    """A drawing randomly rotated (up to ``AUGMENT_ROTATION`` degrees) and stretched in x and y."""
    angle = np.radians(rng.uniform(-AUGMENT_ROTATION, AUGMENT_ROTATION))
    stretch = rng.uniform(1.0 - AUGMENT_SCALE, 1.0 + AUGMENT_SCALE, size=2)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return [(p @ rotation.T) * stretch for p in polylines]


# ----------------------------------------------------------------------------------------------
# Data: the splits each own-trained model was trained and tested on


def resolved(source: str) -> str:
    """A model's recorded data path (relative to the checkout, e.g. ``../shared/data/...``) made absolute."""
    path = Path(source)
    return str(path if path.is_absolute() else (ROOT / path).resolve())


@dataclass
class TestSet:
    """The held-out test drawings of one category, with where they come from."""

    category: str
    drawings: list  # stroke-3 arrays, in the order of the split
    source: str  # the model whose data split they come from, e.g. "quickdraw6"


def load_model_data(model):
    """The dataset an own-trained model was trained on, loaded as its training loaded it."""
    settings = model.metadata["train_settings"]
    sources = [resolved(s) for s in settings["data"]]
    return load_dataset(sources, max_length=model.config.max_length, **training_data_options(model))


def split_by_category(dataset, split: str) -> dict[str, list]:
    """``{category: [stroke-3 drawings]}`` of one split, in split order."""
    part = dataset.splits[split]
    grouped: dict[str, list] = {name: [] for name in dataset.categories}
    for drawing, category_id in zip(part.drawings, part.category_ids):
        grouped[dataset.categories[category_id]].append(drawing)
    return grouped


def training_data(datasets: dict) -> tuple[list[str], list, np.ndarray]:
    """(categories, polylines, labels) of every TRAINING split of the own-trained models' data."""
    categories = sorted({c for dataset in datasets.values() for c in dataset.categories})
    drawings, labels = [], []
    for dataset in datasets.values():
        for category, group in split_by_category(dataset, "train").items():
            drawings += [strokes.stroke3_to_polylines(d) for d in group]
            labels += [categories.index(category)] * len(group)
    return categories, drawings, np.asarray(labels, dtype=np.int64)


def test_sets(datasets: dict, split: str = "test") -> dict[str, list[TestSet]]:
    """``{category: [TestSet per own-trained model whose data has it]}``, in model order (``split="valid"``: the
    validation drawings instead, for choosing settings)."""
    found: dict[str, list[TestSet]] = {}
    for name, dataset in datasets.items():
        for category, group in split_by_category(dataset, split).items():
            found.setdefault(category, []).append(TestSet(category, group, name))
    return found


# ----------------------------------------------------------------------------------------------
# The recogniser


def build_recogniser(num_classes: int):
    """A small CNN: three conv + pool blocks, one hidden dense layer; logits ``(B, num_classes)``."""
    import keras

    layers = keras.layers
    return keras.Sequential([
        keras.Input((RASTER_SIZE, RASTER_SIZE, 1)),
        layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(),   # (B, 14, 14, 32)
        layers.Conv2D(64, 3, padding="same", activation="relu"), layers.MaxPooling2D(),   # (B, 7, 7, 64)
        layers.Conv2D(128, 3, padding="same", activation="relu"), layers.MaxPooling2D(),  # (B, 3, 3, 128)
        layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dropout(0.3),
        layers.Dense(num_classes),
    ])


def data_fingerprint(datasets: dict, categories: list[str]) -> str:
    """What the cached recogniser depends on: data, split options, categories and recipe."""
    facts = {name: [dataset.sources, dataset.options, len(dataset.splits["train"])] for name, dataset in datasets.items()}
    facts["recipe"] = [RECOGNISER_VERSION, RASTER_SIZE, OVERSAMPLE, LINE_RADIUS, MARGIN, AUGMENTED_COPIES,
                       AUGMENT_ROTATION, AUGMENT_SCALE, EPOCHS, BATCH_SIZE, SEED, categories]
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def train_recogniser(categories: list[str], drawings: list, labels: np.ndarray):
    """Fit the CNN on the training drawings plus augmented copies, classes weighted to balance."""
    import keras

    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    copies = [drawings] + [[augmented(d, rng) for d in drawings] for _ in range(AUGMENTED_COPIES)]
    images = np.concatenate([raster_batch(c) for c in copies])
    targets = np.tile(labels, 1 + AUGMENTED_COPIES)
    counts = np.bincount(labels, minlength=len(categories))
    class_weight = {i: float(len(labels) / (len(categories) * max(c, 1))) for i, c in enumerate(counts)}
    network = build_recogniser(len(categories))
    network.compile(optimizer=keras.optimizers.Adam(1e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    network.fit(images, targets, batch_size=BATCH_SIZE, epochs=EPOCHS, shuffle=True, class_weight=class_weight,
                verbose=2)
    return network


def cache_paths() -> tuple[Path, Path]:
    """Where the cached recogniser lives: its weights, and the facts it was trained from."""
    return OUT_DIR / "recogniser_weights.npz", OUT_DIR / "recogniser.json"


def load_or_train_recogniser(datasets: dict, retrain: bool):
    """The cached recogniser if it matches the data and recipe (and ``retrain`` is off), else a new one.

    Returns ``(network, categories, facts)``; facts say how many drawings it was trained on and how long it took.
    """
    categories, drawings, labels = training_data(datasets)
    fingerprint = data_fingerprint(datasets, categories)
    weights_path, facts_path = cache_paths()
    if not retrain and weights_path.is_file() and facts_path.is_file():
        facts = json.loads(facts_path.read_text())
        if facts.get("fingerprint") == fingerprint:
            network = build_recogniser(len(categories))
            with np.load(weights_path) as saved:
                network.set_weights([saved[f"w{i}"] for i in range(len(saved.files))])
            return network, categories, {**facts, "cached": True}
    log(f"training the recogniser on {len(labels)} training drawings (+{AUGMENTED_COPIES} augmented copies each), "
        f"{len(categories)} categories")
    started = time.perf_counter()
    network = train_recogniser(categories, drawings, labels)
    facts = {"fingerprint": fingerprint, "categories": categories, "train_drawings": int(len(labels)),
             "per_category": {c: int(n) for c, n in zip(categories, np.bincount(labels, minlength=len(categories)))},
             "train_seconds": round(time.perf_counter() - started, 1)}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(weights_path, **{f"w{i}": w for i, w in enumerate(network.get_weights())})
    facts_path.write_text(json.dumps(facts, indent=1))
    return network, categories, {**facts, "cached": False}


@dataclass
class Recogniser:
    """The trained CNN and its category names; ranks drawings."""

    network: object
    categories: list[str]

    def top_k(self, drawings, k: int = 3) -> np.ndarray:
        """Indices ``(B, k)`` into ``categories`` of the k most likely, best first."""
        if not drawings:
            return np.zeros((0, k), np.int64)
        logits = self.network.predict(raster_batch(drawings), batch_size=256, verbose=0)
        return np.argsort(-logits, axis=1)[:, :k]

    def rates(self, drawings, category: str) -> dict:
        """Top-1 and top-3 rate of ``category`` among the drawings; an empty drawing counts as not recognised."""
        target = self.categories.index(category)
        ranked = self.top_k(drawings)
        drawn = np.array([sum(len(p) for p in d) > 1 for d in drawings], dtype=bool)
        return {"count": len(drawings), "top1": float(np.mean((ranked[:, 0] == target) & drawn)),
                "top3": float(np.mean((ranked == target).any(axis=1) & drawn))}


# ----------------------------------------------------------------------------------------------
# People's drawings on the demo's canvas


def own_decoder_data(bundled: dict) -> dict:
    """The data of each bundled decoder-only model trained here, loaded as its training loaded it: what the
    recogniser learns from (its training splits) and is measured on (the others), by model name."""
    return {name: load_model_data(model) for name, model in bundled.items()
            if "train_settings" in model.metadata and model.config.kind == "decoder"}


def cached_recogniser(datasets: dict) -> Recogniser:
    """The recogniser trained on ``datasets``' training splits, from the cache (trained once when missing)."""
    network, categories, _ = load_or_train_recogniser(datasets, retrain=False)
    return Recogniser(network, categories)


def on_canvas(stroke3, fill: float = sample.CANVAS_FILL) -> tuple[list[np.ndarray], Callable]:
    """A test drawing as a person would have drawn it on the demo's canvas, and the mapping used.

    The drawing's longer side spans ``fill`` of the canvas (the fill the demo maps onto a model's
    typical size), centred. Returns the polylines in canvas pixels and the point mapping, so a cut of
    the drawing lands where those points were drawn.
    """
    polylines = strokes.stroke3_to_polylines(stroke3)
    points = np.concatenate(polylines)
    low, high = points.min(axis=0), points.max(axis=0)
    width, height = demo.CANVAS_SIZE
    scale = fill * min(width, height) / max(float((high - low).max()), 1e-6)
    centre = np.array([width, height], dtype=np.float64) / 2.0

    def mapping(p):
        return (np.asarray(p, dtype=np.float64) - (low + high) / 2.0) * scale + centre

    return [mapping(p) for p in polylines], mapping


def cut_length(stroke3, fraction: float = PRIME_FRACTION) -> int:
    """How many of a drawing's points its cut keeps: the first ``fraction`` of them, at least 2."""
    return max(2, int(round(len(stroke3) * fraction)))


def cut_on_canvas(stroke3, fraction: float = PRIME_FRACTION) -> list[np.ndarray]:
    """The first ``fraction`` of a test drawing's points (at least 2), placed on the canvas as the whole would be."""
    _, mapping = on_canvas(stroke3)
    return [mapping(p) for p in strokes.stroke3_to_polylines(stroke3[:cut_length(stroke3, fraction)])]


def as_payload(polylines) -> list[list[list[float]]]:
    """Polylines as the canvas sends them: lists of ``[x, y]`` floats."""
    return [np.asarray(p, dtype=np.float64).tolist() for p in polylines]


# ----------------------------------------------------------------------------------------------
# Models


@dataclass
class Entry:
    """One model to measure: how to load it and what its test drawings are."""

    name: str
    load: Callable  # () -> TrainedModel
    own: bool  # trained here (has train_settings), or imported from magenta
    candidate: bool = False  # a --candidate (own False: it completes the first own model's test drawings)
    model: object = None
    seconds: float = 0.0
    results: dict = field(default_factory=dict)  # category -> row of rates


def model_entries(bundled: dict) -> list[Entry]:
    """The bundled models, then ``../shared/data/magenta/<cat>.gen.json`` files not already bundled."""
    entries = [Entry(name, lambda m=model: m, "train_settings" in model.metadata) for name, model in bundled.items()]
    imported = {model.metadata.get("source_file") for model in bundled.values()}
    for path in sorted((SHARED_DATA / "magenta").glob("*.gen.json")):
        if path.name not in imported:
            entries.append(Entry(f"magenta-{path.name.removesuffix('.gen.json')}",
                                 lambda p=path: magenta.to_trained_model(magenta.read_gen_json(p), source=p.name), False))
    return entries


def select_entries(entries: list[Entry], wanted: list[str] | None) -> list[Entry]:
    """The entries named in ``wanted`` (all when None); ValueError naming the choices for an unknown name."""
    if not wanted:
        return entries
    names = [entry.name for entry in entries]
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise ValueError(f"unknown model {', '.join(unknown)}; choose from {', '.join(names)}")
    return [entry for entry in entries if entry.name in wanted]


def candidate_entries(paths: list[Path]) -> list[Entry]:
    """``--candidate`` model directories, each named ``candidate:<folder>``."""
    entries = []
    for path in paths:
        model = checkpoint.load_model(path)
        entries.append(Entry(f"candidate:{path.name}", lambda m=model: m, own=False, candidate=True))
    return entries


def drawing_key(stroke3) -> bytes:
    """A drawing's identity up to scale: its pen states and its offsets divided by its largest extent."""
    drawing = np.asarray(stroke3, dtype=np.float64)
    positions = np.cumsum(drawing[:, :2], axis=0)
    extent = max(float((positions.max(axis=0) - positions.min(axis=0)).max()), 1e-9)
    return np.round(drawing[:, :2] / extent, 3).tobytes() + drawing[:, 2].astype(np.int8).tobytes()


def leaked_test_drawings(model, tests: dict[str, list[TestSet]], dataset=None) -> int:
    """How many of the bundled test drawings of the model's categories are in its own training split
    (``dataset``: the model's training data when already loaded, see :func:`load_model_data`)."""
    if "train_settings" not in model.metadata:
        return 0  # imported: its training data is not here to check
    trained = {drawing_key(d) for d in (dataset or load_model_data(model)).splits["train"].drawings}
    return sum(drawing_key(d) in trained for category in model.categories
               for test in tests.get(category, []) for d in test.drawings)


def log(message: str) -> None:
    """Progress on stderr, time-stamped (the tables go to stdout and the report)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Measuring


def test_set_for(entry: Entry, category: str, tests: dict[str, list[TestSet]]) -> TestSet | None:
    """An own model's own test split of the category; for an imported model, the first own model's."""
    candidates = tests.get(category, [])
    if entry.own:
        candidates = [t for t in candidates if t.source == entry.name]
    return candidates[0] if candidates else None


def completed(model, category: str, cuts: list, tries: int | None = None, guidance: float | None = None,
              temperature: float | None = None, pen_temperature: float | None = None) -> list:
    """Each cut's :class:`sketchrnn.sample.Completion` (the prime and its endings), as the demo draws them: its
    endings, seeds and canvas, and the model's settings for the category unless given (``model.drawing``, what the
    demo's sliders start at; ``tries=1, guidance=0``: the first endings drawn, unguided: plain sampling)."""
    return [sample.complete(model, as_payload(cut), n=demo.DEFAULT_ENDINGS, temperature=temperature,
                            seed=SEED + index, category=category, canvas_size=demo.CANVAS_SIZE,
                            pen_temperature=pen_temperature, tries=tries, calibration=demo.guess_calibration(),
                            guidance=guidance)
            for index, cut in enumerate(cuts)]


def completions(model, category: str, cuts: list, tries: int | None = None, guidance: float | None = None) -> list:
    """Every ending of every cut as one whole drawing (prime + ending), as :func:`completed` draws them."""
    return wholes(completed(model, category, cuts, tries, guidance))


def wholes(completions: list) -> list:
    """Each ending of each :class:`sketchrnn.sample.Completion` as one whole drawing: the prime, then the ending."""
    return [list(completion.prime) + list(ending) for completion in completions for ending in completion.endings]


def unconditional(model, category: str, count: int, tries: int | None = None, guidance: float | None = None) -> list:
    """``count`` drawings from nothing, in batches of the demo's default size, at the model's settings unless given
    (``tries=1, guidance=0``: the first drawn, unguided)."""
    drawings, batch = [], 0
    while len(drawings) < count:
        size = min(demo.DEFAULT_ENDINGS, count - len(drawings))
        drawings += sample.sample(model, size, seed=SEED + batch, category=category, tries=tries,
                                  calibration=demo.guess_calibration(), guidance=guidance)
        batch += 1
    return drawings


def reconstructions(model, drawings: list) -> list:
    """A VAE's redrawings of whole drawings, 4 each, as the demo's Redraw makes them (z = the encoding's mean)."""
    redrawn = []
    for index, drawing in enumerate(drawings):
        redrawn += morph.reconstruct(model, as_payload(drawing), n=demo.DEFAULT_ENDINGS, temperature=demo.DEFAULT_TEMPERATURE,
                                     seed=SEED + index, canvas_size=demo.CANVAS_SIZE,
                                     pen_temperature=demo.PEN_TEMPERATURE).redrawings
    return redrawn


def measure_category(entry: Entry, category: str, test: TestSet, recogniser: Recogniser, per_category: int) -> dict:
    """The rates of one model on one category (see the module docstring): a decoder's completions and samples,
    a VAE's reconstructions."""
    chosen = test.drawings[:per_category]
    people = [on_canvas(d)[0] for d in chosen]
    cuts = [cut_on_canvas(d) for d in chosen]
    row = {"test_source": test.source, "ceiling": recogniser.rates(people, category),
           "floor": recogniser.rates(cuts, category)}
    if entry.model.config.kind == "vae":
        row["reconstruction"] = recogniser.rates(reconstructions(entry.model, people), category)
    else:
        row["completion"] = recogniser.rates(completions(entry.model, category, cuts), category)
        row["unconditional"] = recogniser.rates(unconditional(entry.model, category, per_category), category)
        if demo.chooses(entry.model):  # the same without choosing or guidance: the first drawings drawn, plain
            row["completion_first"] = recogniser.rates(completions(entry.model, category, cuts, 1, 0.0), category)
            row["unconditional_first"] = recogniser.rates(unconditional(entry.model, category, per_category, 1, 0.0),
                                                          category)
    return row


def measure_model(entry: Entry, tests: dict, recogniser: Recogniser, per_category: int) -> None:
    """Fill ``entry.results`` for every category the model serves (a note where it cannot be measured)."""
    started = time.perf_counter()
    for category in entry.model.categories:
        test = test_set_for(entry, category, tests)
        if category not in recogniser.categories or test is None:
            entry.results[category] = {"note": "not measured: no training or test drawings of this category here"}
            continue
        entry.results[category] = measure_category(entry, category, test, recogniser, per_category)
        row = entry.results[category]
        log(f"{entry.name} / {category}: " + ", ".join(f"{k} {row[k]['top1']:.0%}" for k in ROW_KINDS if k in row))
    entry.seconds = time.perf_counter() - started


# "_first": the first drawings drawn, for a model that chooses among tries (the demo's are chosen); the last: VAEs only
ROW_KINDS = ("ceiling", "floor", "completion", "completion_first", "unconditional", "unconditional_first", "reconstruction")


def recogniser_accuracy(recogniser: Recogniser, tests: dict[str, list[TestSet]]) -> dict:
    """The recogniser's own top-1 / top-3 on every complete test drawing of its categories."""
    per_category, hits1, hits3, total = {}, 0, 0, 0
    for category in recogniser.categories:
        drawings = [strokes.stroke3_to_polylines(d) for t in tests.get(category, []) for d in t.drawings]
        rates = recogniser.rates(drawings, category)
        per_category[category] = rates
        hits1, hits3, total = hits1 + rates["top1"] * len(drawings), hits3 + rates["top3"] * len(drawings), total + len(drawings)
    return {"per_category": per_category, "count": total, "top1": hits1 / total, "top3": hits3 / total}


SAMPLE_344 = SHARED_DATA / "quickdraw_simplified_344cats_25each.ndjson"  # the first 25 drawings of 344 categories


@functools.cache
def sample_344() -> tuple[dict[str, list], frozenset]:
    """The 344-category sample, read once: ``{category: [(stroke-3, key_id), ...]}`` (all its splits) and the
    key_ids of the drawings Quick, Draw! recognised."""
    dataset = load_dataset([str(SAMPLE_344)], seed=SEED, rescale_to=255.0)
    found: dict[str, list] = {}
    for split in dataset.splits.values():
        for drawing, category_id, key in zip(split.drawings, split.category_ids, split.keys):
            found.setdefault(dataset.categories[category_id], []).append((drawing, key))
    recognised = frozenset(str(record["key_id"]) for record in map(json.loads, SAMPLE_344.read_text().splitlines())
                           if record.get("recognized"))
    return found, recognised


def extra_cat_drawings() -> list:
    """The 25 cat drawings of the 344-category sample (all its splits): the only cats here, for guessing."""
    return [drawing for drawing, _ in sample_344()[0]["cat"]]


def own_keys(datasets: dict) -> dict[str, set | None]:
    """``{category: key_ids of every drawing any own model's files hold}``, None where some of them have no key_id
    (the Sketch-RNN ``.npz`` files), so nothing can be checked against them."""
    found: dict[str, set | None] = {}
    for dataset in datasets.values():
        for split in dataset.splits.values():
            for key, category_id in zip(split.keys, split.category_ids):
                category = dataset.categories[category_id]
                keys = found.setdefault(category, set())
                if keys is not None and ":" in key:  # "<file name>:<where in the file>": no key_id
                    found[category] = None
                elif keys is not None:
                    keys.add(key)
    return found


def unseen_sample_drawings(category: str, keys: dict[str, set | None]) -> list:
    """The category's drawings of the 344-category sample whose key_id no own model's files hold, and that
    Quick, Draw! recognised (the SPG files hold only those): people's drawings no model here has seen, but not
    a fair sample where the training files are a selection (SPG's leaves out drawings of few strokes), so they
    are reported beside the test figures, never pooled with them. Empty for a category whose own drawings
    cannot be checked (no key_ids) or that no own model has."""
    held = keys.get(category)
    if held is None:
        return []
    drawings, recognised = sample_344()
    return [drawing for drawing, key in drawings.get(category, []) if key in recognised and key not in held]


def guess_drawings(category: str, tests: dict, per_category: int) -> tuple[list, str]:
    """Test drawings of a category for guessing: ``per_category`` from each own model's test split, and where from."""
    sets = tests.get(category, [])
    if sets:
        return [d for t in sets for d in t.drawings[:per_category]], " + ".join(t.source for t in sets)
    if category == "cat":
        return extra_cat_drawings(), "344-category sample (all 25; magenta may have trained on them)"
    return [], "none"


def top_guess(drawing, catalog) -> tuple[str | None, float]:
    """The demo's first guess for a drawing and the probability it shows for it ((None, 0) if it guessed nothing)."""
    guesses = demo.guess_drawing(as_payload(drawing), catalog=catalog)
    return (max(guesses, key=guesses.get), max(guesses.values())) if guesses else (None, 0.0)


def guesses_of(drawings: list, catalog) -> dict:
    """The demo's first guess (and the probability shown for it) of each drawing, complete and cut to 40%."""
    return {"complete": [top_guess(on_canvas(d)[0], catalog) for d in drawings],
            "cut": [top_guess(cut_on_canvas(d), catalog) for d in drawings]}


def measure_guess(guess_models: list, tests: dict, per_category: int, keys: dict[str, set | None]) -> dict:
    """Top-1 of "what are you drawing?" over the given models, per category, complete and cut to 40%, and
    each first guess's shown probability with whether it was right (``"sure"``: ``[(kind, probability, right)]``);
    under ``"unseen"`` the same top-1 rates on :func:`unseen_sample_drawings` (``keys``: :func:`own_keys`)."""
    catalog = demo.build_catalog(guess_models)
    categories = sorted({choice.category for choice in catalog.values()})
    results = {}
    for category in categories:
        drawings, source = guess_drawings(category, tests, per_category)
        guesses = guesses_of(drawings, catalog)
        unseen = unseen_sample_drawings(category, keys) if category in tests else []
        unseen_guesses = guesses_of(unseen, catalog)
        results[category] = {"source": source, "count": len(drawings), "held_out": category in tests,
                             "strokes": median_strokes(drawings),
                             **{kind: hit_rate(found, category) for kind, found in guesses.items()},
                             "sure": [(kind, p, g == category) for kind, found in guesses.items() for g, p in found],
                             "unseen": {"count": len(unseen), "strokes": median_strokes(unseen),
                                        **{kind: hit_rate(found, category) for kind, found in unseen_guesses.items()}}}
        if drawings:
            log(f"guess / {category}: complete {results[category]['complete']:.0%}, cut {results[category]['cut']:.0%}"
                + (f"; {len(unseen)} unseen sample drawings: cut {results[category]['unseen']['cut']:.0%}" if unseen else ""))
    return results


def median_strokes(drawings: list) -> float:
    """The median number of strokes of stroke-3 drawings (0 for none)."""
    return float(np.median([np.sum(d[:, 2] > 0.5) for d in drawings])) if drawings else 0.0


def hit_rate(guesses: list, category: str) -> float | None:
    """How often the first guess was ``category`` (None for no drawings)."""
    return float(np.mean([g == category for g, _ in guesses])) if guesses else None


# ----------------------------------------------------------------------------------------------
# Report


READING_START, READING_END = "<!-- reading: kept when the script rewrites this file -->", "<!-- /reading -->"


def percent(rates: dict | None, key: str = "top1") -> str:
    """A rate as a whole percentage, or a dash when there is none."""
    return "–" if rates is None or rates.get(key) is None else f"{rates[key]:.0%}"


def pair(rates: dict | None) -> str:
    """``top-1 / top-3`` of one cell (a dash where the model does not do this)."""
    return f"{percent(rates, 'top1')} / {percent(rates, 'top3')}"


def machine() -> str:
    """The machine, as the other benchmarks name it, plus its CPU model and load at the start."""
    import keras
    import tensorflow as tf

    model_name = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                       if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return (f"{os.cpu_count()} CPU cores ({model_name}, {platform.machine()}, {platform.system()}), "
            f"TensorFlow {tf.__version__}, Keras {keras.__version__}, no GPU; load average at start "
            f"{os.getloadavg()[0]:.1f} (shared with other work)")


def recogniser_lines(facts: dict, accuracy: dict) -> list[str]:
    counts = ", ".join(f"{c} {n}" for c, n in facts["per_category"].items())
    lines = [
        "## The recogniser (the yardstick)", "",
        f"A small Keras CNN (3 conv + pool blocks, dense 128, dropout 0.3) on {RASTER_SIZE}x{RASTER_SIZE} greyscale "
        f"rasters (each drawing scaled to fit, lines drawn with NumPy at {OVERSAMPLE}x and averaged down), trained "
        f"{EPOCHS} epochs on the **training splits only** of the own models' data ({facts['train_drawings']} drawings "
        f"of {len(facts['categories'])} categories, plus {AUGMENTED_COPIES} randomly rotated (±{AUGMENT_ROTATION:g}°) "
        f"and stretched (±{AUGMENT_SCALE:.0%}) copy each, classes weighted to balance; {facts['train_seconds']} s"
        f"{', cached' if facts['cached'] else ''}). Training drawings per category: {counts}.", "",
        f"Its own accuracy on all {accuracy['count']} complete test drawings: top-1 **{accuracy['top1']:.1%}**, "
        f"top-3 **{accuracy['top3']:.1%}** (chance {1 / len(facts['categories']):.1%}).", "",
        "A category with no model's training split here is left out of the recogniser: cat (magenta-cat) has only the "
        "25 drawings of the 344-category sample, too few for a class next to 720-4,000 drawings of the others, and no "
        "held-out split; such a model is listed but not measured.", "",
        "| category | test drawings | top-1 | top-3 |", "|---|---|---|---|",
    ]
    lines += [f"| {c} | {r['count']} | {percent(r)} | {percent(r, 'top3')} |" for c, r in accuracy["per_category"].items()]
    return lines + [""]


def model_lines(entry: Entry, per_category: int) -> list[str]:
    kind = "candidate, not bundled" if entry.candidate else "trained here" if entry.own else "magenta's pretrained model"
    path = entry.model.path if entry.candidate else entry.model.path.relative_to(ROOT) if entry.model.path else (
        entry.model.metadata.get("source_file", ""))
    lines = [f"### {entry.name} ({kind}; {path}; measured in {entry.seconds:.0f} s)", "",
             f"top-1 / top-3 of the recogniser; the first n (at most {per_category}) test drawings of each category, "
             f"{demo.DEFAULT_ENDINGS} endings of each cut ({demo.DEFAULT_ENDINGS} x n completions), {per_category} "
             f"unconditional samples; as the demo draws them, at the model's own settings ({settings_text(entry.model)}) "
             "and, for a model of several categories, also the first drawn with plain sampling (no choosing, no "
             "guidance).", "",
             "| category | test drawings from | people's drawings (ceiling) | cut to 40% (floor) | completions (demo) "
             "| completions, first drawn | unconditional (demo) | unconditional, first drawn | reconstructions (VAE) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for category, row in entry.results.items():
        if "note" in row:
            lines.append(f"| {category} | {row['note']} | | | | | | | |")
        else:
            cells = " | ".join(pair(row.get(kind)) for kind in ROW_KINDS)
            lines.append(f"| {category} | {row['test_source']} (n={row['ceiling']['count']}) | {cells} |")
    return lines + [""]


def comparison_lines(entries: list[Entry]) -> list[str]:
    """Completion top-1 per category for every category two or more measured models serve."""
    shared: dict[str, dict[str, dict]] = {}
    for entry in entries:
        for category, row in entry.results.items():
            if "note" not in row and "completion" in row:  # VAEs do not complete
                shared.setdefault(category, {})[entry.name] = row
    shared = {c: rows for c, rows in shared.items() if len(rows) > 1}
    if not shared:
        return []
    names = [e.name for e in entries if any(e.name in rows for rows in shared.values())]
    lines = ["## Completions compared across models (top-1)", "",
             "Each model's completions of its test drawings cut to 40% (an imported model or a candidate completes the "
             "first own model's test drawings of the category, so e.g. magenta-pig and quickdraw6 complete the same "
             "pigs). As the demo draws them, at each model's own settings; in brackets, for a model of several "
             "categories, its first endings drawn with plain sampling (a model of one category has nothing to "
             "compare with and shows the first, unguided), and the floor.", "",
             "| category | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for category, rows in sorted(shared.items()):
        lines.append(f"| {category} | " + " | ".join(
            cell(rows[n]) if n in rows else "" for n in names) + " |")
    return lines + [""]


def settings_text(model) -> str:
    """A model's drawing settings for the tables' captions: its default, and each category's own where it has one."""
    drawing = model.drawing
    text = drawing.default.describe()
    for category, own in sorted(drawing.categories.items()):
        text += f"; {category}: {own.describe()}"
    return text


def cell(row: dict) -> str:
    """A comparison cell: completions as the demo draws them (first drawn), floor."""
    first = f"first drawn {percent(row['completion_first'])}; " if "completion_first" in row else ""
    return f"{percent(row['completion'])} ({first}floor {percent(row['floor'])})"


def guess_lines(results: dict, guess_models: list, per_category: int) -> list[str]:
    held_out = {c: r for c, r in results.items() if r["held_out"] and r["count"]}
    drawings = sum(r["count"] for r in held_out.values())
    overall = {kind: sum(r[kind] * r["count"] for r in held_out.values()) / max(drawings, 1) for kind in ("complete", "cut")}
    mean = {kind: float(np.mean([r[kind] for r in held_out.values()])) if held_out else 0.0 for kind in ("complete", "cut")}
    worst = min(held_out.items(), key=lambda item: item[1]["cut"]) if held_out else ("–", {"cut": None})
    lines = [
        '## "What are you drawing?" today', "",
        f"`sketchrnn.demo.guess_drawing` (top {GUESS_TOP} over {', '.join(m.name for m in guess_models)}: the models "
        f"`sketchrnn.demo.load_models()` loads; canvas {demo.CANVAS_SIZE[0]}x{demo.CANVAS_SIZE[1]}), top-1 rate on the first "
        f"(at most) {per_category} test drawings of each own model's test split of the category (pooled where two models have it), "
        f"placed on the canvas at {sample.CANVAS_FILL:.0%} fill; complete and cut to their first 40% of points.", "",
        f"Over the {len(held_out)} categories with held-out test drawings ({drawings} drawings): complete **{overall['complete']:.1%}** "
        f"(mean of the categories {mean['complete']:.1%}; target ≥ 80%), cut to 40% **{overall['cut']:.1%}** (mean of the "
        f"categories {mean['cut']:.1%}; target ≥ 60%); lowest category when cut: {worst[0]} "
        f"{percent(worst[1], 'cut')} (target: none below 30%).", "", *unseen_lines(held_out), "",
        "| category | drawings | from | complete top-1 | cut to 40% top-1 "
        "| unseen sample drawings (strokes / test's): complete / cut |", "|---|---|---|---|---|---|"]
    for category, row in results.items():
        mark = "" if row["held_out"] else " †"
        extra = row["unseen"]
        unseen = (f"{extra['count']} ({extra['strokes']:g} / {row['strokes']:g}): {percent(extra, 'complete')} / "
                  f"{percent(extra, 'cut')}" if extra["count"] else "–")
        lines.append(f"| {category}{mark} | {row['count']} | {row['source']} | {percent(row, 'complete')} | "
                     f"{percent(row, 'cut')} | {unseen} |")
    if any(not r["held_out"] for r in results.values()):
        lines += ["", "† not in the overall figure: no held-out test split of this category here."]
    return lines + [""] + reliability_lines([item for r in held_out.values() for item in r["sure"]])


def unseen_lines(held_out: dict) -> list[str]:
    """What the unseen sample drawings are, and how the guess does on them against the same categories' tests."""
    having = {c: r for c, r in held_out.items() if r["unseen"]["count"]}
    if not having:
        return []
    extra, tested = sum(r["unseen"]["count"] for r in having.values()), sum(r["count"] for r in having.values())
    unseen = {kind: sum(r["unseen"][kind] * r["unseen"]["count"] for r in having.values()) / extra for kind in ("complete", "cut")}
    test = {kind: sum(r[kind] * r["count"] for r in having.values()) / tested for kind in ("complete", "cut")}
    return [f"**Unseen sample drawings** (the last column): the category's drawings of the 344-category sample (the "
            f"first 25 drawings of each category) that no own model's files hold (by key_id) and that Quick, Draw! "
            f"recognised: {extra} in {len(having)} categories (none for the Sketch-RNN `.npz` categories, whose "
            f"drawings have no key_id to check). They are not a bigger test split, and are kept out of the overall "
            f"figures: for the SPG categories they are what the SPG set left out of those first drawings (it holds no "
            f"drawing of one stroke and few of two), often of fewer strokes than the test drawings (median strokes in "
            f"brackets, the test drawings' after the slash). They show how the guess does on people's drawings unlike "
            f"those its models learned from: right first for {unseen['complete']:.0%} of them complete and "
            f"{unseen['cut']:.0%} cut to 40%, against {test['complete']:.0%} and {test['cut']:.0%} of the same "
            f"categories' {tested} test drawings."]


SURE_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)


def reliability_lines(sure: list) -> list[str]:
    """Do the percentages mean something: the first guesses binned by the probability the demo shows for them,
    against how often they were right (and how many in each bin were complete drawings, how many cut)."""
    lines = ["### How sure it says it is, and how often it is right", "",
             "Each first guess above, binned by the probability the demo shows beside it; a calibrated guess is right "
             "about as often as it says (the two middle columns close).", "",
             "| shown for the first guess | guesses | mean shown | right | of complete / cut drawings |", "|---|---|---|---|---|"]
    if not sure:
        return lines + [""]
    shown, right = np.array([p for _, p, _ in sure]), np.array([r for _, _, r in sure], float)
    cut = np.array([kind == "cut" for kind, _, _ in sure])
    for low, high, inside in sure_bins(shown):
        lines.append(f"| {low:.0%}–{min(high, 1.0):.0%} | {inside.sum()} | {shown[inside].mean():.0%} | "
                     f"{right[inside].mean():.0%} | {(inside & ~cut).sum()} / {(inside & cut).sum()} |")
    return lines + ["", f"Over all {len(sure)}: mean shown {shown.mean():.1%}, right {right.mean():.1%}; expected calibration "
                        f"error (bins above, weighted) {expected_calibration_error(shown, right):.1%}.", ""]


def sure_bins(shown: np.ndarray) -> list[tuple[float, float, np.ndarray]]:
    """``(low, high, which of shown fall in [low, high))`` for each of SURE_BINS that holds any."""
    bins = [(low, high, (shown >= low) & (shown < high)) for low, high in zip(SURE_BINS, SURE_BINS[1:])]
    return [(low, high, inside) for low, high, inside in bins if inside.any()]


def expected_calibration_error(shown: np.ndarray, right: np.ndarray) -> float:
    """Weighted mean of |mean shown - fraction right| over SURE_BINS."""
    total = sum(inside.sum() * abs(shown[inside].mean() - right[inside].mean()) for _, _, inside in sure_bins(shown))
    return total / max(len(shown), 1)


def write_report(path: Path, text: str) -> None:
    """Write a markdown report (its folder made if need be) and print it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    print(text)


def kept_reading(path: Path) -> str:
    """The hand-written reading of the results from an earlier version of the file, if any."""
    if not path.is_file():
        return ""
    text = path.read_text()
    start, end = text.find(READING_START), text.find(READING_END)
    return text[start + len(READING_START) : end].strip() if 0 <= start < end else ""


def document(header: dict, sections: list[list[str]], reading: str) -> str:
    lines = ["# How recognisable: the recognition yardstick", "",
             "Written by `benchmarks/recognisability.py` (issue 10, part 1). An independent recogniser trained on people's "
             "drawings judges whether a drawing looks like its category; it is a yardstick only, nothing in the package "
             "uses it.", "",
             f"- Command: `{header['command']}`", f"- Date: {header['date']}", f"- Code: {header['code']}",
             f"- Machine: {header['machine']}",
             f"- Run time: {header['minutes']:.1f} min", f"- Drawings per cell: {header['cells']}",
             f"- Settings: each model's own (the `drawing` section of its config.json, where the page's sliders start; "
             f"given under each model's table), {demo.DEFAULT_ENDINGS} endings, canvas "
             f"{demo.CANVAS_SIZE[0]}x{demo.CANVAS_SIZE[1]}, seeds {SEED} + drawing index", "",
             "## Reading", "", READING_START, reading or "(to be written after reading the tables)", READING_END, ""]
    return "\n".join(lines + [line for section in sections for line in section])


# ----------------------------------------------------------------------------------------------
# Entry point


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-category", type=int, default=PER_CATEGORY,
                        help=f"test drawings (at most; SPG categories have 40) and unconditional samples per model "
                             f"and category (default {PER_CATEGORY})")
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="models to measure, e.g. quickdraw6 magenta-pig magenta-face (default: all; the "
                             "recogniser always learns from every own model's training data, and the guess "
                             "figures use the models the demo loads)")
    parser.add_argument("--retrain", action="store_true", help="train the recogniser anew instead of using the cache")
    parser.add_argument("--no-guess", action="store_true", help='skip the "what are you drawing?" figures')
    parser.add_argument("--candidate", nargs="+", type=Path, default=[], metavar="DIR",
                        help="also measure these exported model directories (not bundled) on the bundled models' test "
                             "drawings, to compare before a promotion; needs --out")
    parser.add_argument("--out", type=Path, help=f"markdown report (default {DOC_PATH.relative_to(ROOT)})")
    arguments = parser.parse_args(argv)
    if arguments.per_category < 1:
        parser.error("--per-category must be at least 1")
    if arguments.candidate and arguments.out is None:
        parser.error(f"--candidate needs --out: {DOC_PATH.relative_to(ROOT)} describes the bundled models")
    arguments.out = arguments.out or DOC_PATH
    return arguments


def code_version() -> str:
    """The commit measured, and whether the package had uncommitted changes then."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "sketchrnn")
    return f"commit {commit}" + (" with uncommitted changes in sketchrnn/" if dirty else "")


def command_line(argv) -> str:
    return " ".join(["TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/recognisability.py", shlex.join(argv)]).strip()


def model_sections(entries: list[Entry], tests: dict, recogniser: Recogniser, per_category: int) -> list[list[str]]:
    """Load and measure each model in turn; its table, then the comparison across models."""
    sections = [["## Per model and category", ""]]
    for entry in entries:
        log(f"measuring {entry.name}")
        entry.model = entry.load()
        measure_model(entry, tests, recogniser, per_category)
        sections.append(model_lines(entry, per_category))
    return sections + [comparison_lines(entries)]


def main(argv=None) -> int:
    """Train or load the recogniser, measure, print the tables and write the report; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    arguments = parse_args(argv)
    started = time.perf_counter()
    header = {"command": command_line(argv), "date": datetime.date.today().isoformat(), "machine": machine(),
              "code": code_version()}
    bundled = {d.name: checkpoint.load_model(d) for d in checkpoint.bundled_model_dirs()}
    try:
        entries = select_entries(model_entries(bundled), arguments.models)
        entries += candidate_entries(arguments.candidate)
    except (ValueError, OSError) as error:
        print(f"recognisability: {error}", file=sys.stderr)
        return 2
    log(f"loading the own models' data ({', '.join(n for n, m in bundled.items() if 'train_settings' in m.metadata)})")
    datasets = {n: load_model_data(m) for n, m in bundled.items() if "train_settings" in m.metadata}
    # the recogniser learns from the decoder-only models' data (a VAE trained on the same files adds no drawings)
    decoder_data = {n: d for n, d in datasets.items() if bundled[n].config.kind == "decoder"}
    network, categories, facts = load_or_train_recogniser(decoder_data, arguments.retrain)
    recogniser, tests = Recogniser(network, categories), test_sets(datasets)
    decoder_tests = test_sets(decoder_data)  # a VAE trained on a decoder's files has the same test split
    for entry in (e for e in entries if e.candidate):
        leaked = leaked_test_drawings(entry.load(), tests)
        if leaked:
            print(f"recognisability: {entry.name} was trained on {leaked} of the bundled models' test drawings; its "
                  "completions of them would not be held out (train it with the bundled models' files and seed)",
                  file=sys.stderr)
            return 2
    accuracy = recogniser_accuracy(recogniser, decoder_tests)
    log(f"recogniser: top-1 {accuracy['top1']:.1%}, top-3 {accuracy['top3']:.1%} on {accuracy['count']} test drawings")
    sections = [recogniser_lines(facts, accuracy), *model_sections(entries, tests, recogniser, arguments.per_category)]
    if not arguments.no_guess:
        guess_models = demo.load_models()  # exactly the models the demo loads and guesses with
        guesses = measure_guess(guess_models, decoder_tests, arguments.per_category, own_keys(datasets))
        sections.append(guess_lines(guesses, guess_models, arguments.per_category))
    header["minutes"] = (time.perf_counter() - started) / 60.0
    header["cells"] = (f"n in each row: the first n = min({arguments.per_category}, the test split) test drawings of the "
                       f"category (ceiling, floor), {demo.DEFAULT_ENDINGS} x n completions ({demo.DEFAULT_ENDINGS} per cut), "
                       f"{arguments.per_category} unconditional samples; the SPG test splits have 40 drawings a category")
    write_report(arguments.out, document(header, sections, kept_reading(arguments.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
