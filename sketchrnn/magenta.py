"""Magenta's pretrained Sketch-RNN models (sketch-rnn-js / ``@magenta/sketch``) as this project's models.

Google's Magenta project published decoder-only Sketch-RNN models for about 113 Quick, Draw!
categories, each trained on the full ~70,000-drawing category file (Apache-2.0; the drawings are
Quick, Draw!, CC BY 4.0). They are served as ``<name>.gen.json`` files at :data:`MODEL_URL` and
run only in magenta.js. This module converts one into an ordinary model directory, so every
command (``sample``, ``complete``, ``evaluate``, ``render``, ``export``, the demo) uses it through
the project's one network and sampler.

The ``.gen.json`` format (checked by decoding the published files)::

    [info, dims, weights]
    info    = {"name": "pig", "max_seq_len": 168, "scale_factor": 70.0921, "mode": 2, "version": 6}
    dims    = [[H, 6M+3], [6M+3], [5, 4H], [H, 4H], [4H]]   output kernel, output bias,
                                                             LSTM input kernel, recurrent kernel, LSTM bias
    weights = base64 strings of little-endian int16, row-major; value = int16 * 10 / 32767

magenta's LSTM step: ``z = x W_x + h W_h + b`` split into gates in the order **i, j, f, o**
(j = candidate), ``c' = c sigmoid(f + 1) + sigmoid(i) tanh(j)``, ``h' = tanh(c') sigmoid(o)``: the
forget bias 1.0 is added at run time, not stored. Keras (and :class:`sketchrnn.model.StrokeLSTM`)
orders the gates i, f, j, o and keeps the whole bias in ``b``; so the conversion reorders the four
column blocks and adds 1.0 to the forget block of the bias. Both are exact. The output row
(pen logits, then M each of mixture logits, mu_x, mu_y, log sigma_x, log sigma_y, rho before tanh)
is already this project's head layout. Inputs are stroke-5 rows with offsets divided by
``scale_factor``, starting from ``(0, 0, 1, 0, 0)``, as here.

Writing (``sketchrnn models export-js``) is the exact inverse, for a decoder magenta.js can run: one
category (a model of several has its category embedding folded into the LSTM bias), gate blocks back in
the order i, j, f, o, the forget bias 1.0 taken out of the stored bias, each weight rounded to the nearest
int16 step (10 / 32767). A file read here and written again is the same file, byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchrnn import checkpoint, data, files
from sketchrnn.drawing_settings import MAGENTA_JS, MAGENTA_JS_NOTE, ModelDrawingSettings
from sketchrnn.model import ModelConfig, TrainedModel, build_network, fold_embedding
from sketchrnn.strokes import DataStats

MODELS_BASE_URL = "https://storage.googleapis.com/quickdraw-models/sketchRNN/models"  # or $SKETCHRNN_MODELS_URL
MODEL_URL = MODELS_BASE_URL + "/{name}.gen.json"
WEIGHT_SCALE = 10.0 / 32767.0  # a stored int16 times this is the weight
LARGEST_STORED = 32767  # so weights are stored within [-10, 10]
FORGET_BIAS = 1.0  # added to the forget gate at run time by magenta's LSTM cell
MAX_FILE_BYTES = 64 * 2**20  # published files are ~3 MB; refuse anything far larger before parsing
UNCLIPPED_LOG_SIGMA = -20.0  # magenta clips no sigma; its models reach log sigma ~ -11, so -20 changes nothing
SIZE_SAMPLES = 64  # own samples drawn at import to measure the model's typical drawing size
SIZE_SEED = 0
MAX_DIM = 1 << 16  # the largest dimension a file may declare (published models: 2048); the model's own limits follow
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
CREDIT = (
    "Pretrained by Google's Magenta project (sketch-rnn-js / @magenta/sketch models, Apache-2.0), "
    "trained on Quick, Draw! drawings (Google, CC BY 4.0)."
)
# Names of the published models (magenta-js sketch README); `models download` accepts others too.
KNOWN_MODELS = (
    "alarm_clock ambulance angel ant antyoga backpack barn basket bear bee beeflower bicycle bird book brain "
    "bridge bulldozer bus butterfly cactus calendar castle cat catbus catpig chair couch crab crabchair "
    "crabrabbitfacepig cruise_ship diving_board dog dogbunny dolphin duck elephant elephantpig eye face fan "
    "fire_hydrant firetruck flamingo flower floweryoga frog frogsofa garden hand hedgehog helicopter "
    "kangaroo key lantern lighthouse lion lionsheep lobster map mermaid monapassport monkey mosquito "
    "octopus owl paintbrush palm_tree parrot passport peas penguin pig pigsheep pineapple pool postcard "
    "power_outlet rabbit rabbitturtle radio radioface rain rhinoceros rifle roller_coaster sandwich "
    "scorpion sea_turtle sheep skull snail snowflake speedboat spider squirrel steak stove strawberry "
    "swan swing_set the_mona_lisa tiger toothbrush toothpaste tractor trombone truck whale windmill "
    "yoga yogabicycle everything"
).split()


@dataclass
class MagentaFile:
    """The decoded contents of a ``.gen.json``: facts and float32 weights in magenta's layout."""

    name: str  # the category, e.g. "pig"
    max_seq_len: int  # longest training drawing in points
    scale_factor: float  # offsets were divided by this for training
    output_kernel: np.ndarray  # (H, 6M + 3)
    output_bias: np.ndarray  # (6M + 3,)
    input_kernel: np.ndarray  # (5, 4H), gate blocks i, j, f, o
    recurrent_kernel: np.ndarray  # (H, 4H), gate blocks i, j, f, o
    lstm_bias: np.ndarray  # (4H,), gate blocks i, j, f, o, without the forget bias

    @property
    def hidden_size(self) -> int:
        return self.recurrent_kernel.shape[0]

    @property
    def num_mixtures(self) -> int:
        return (self.output_bias.shape[0] - 3) // 6


# ----------------------------------------------------------------------------------------------
# Reading a .gen.json


def read_gen_json(path) -> MagentaFile:
    """Decode and check a magenta ``.gen.json``; a file that is not a valid model raises ValueError."""
    path = Path(path)
    try:
        if not path.is_file():
            raise ValueError(f"{path} is not a file; pass a magenta model file such as pig.gen.json")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"{path} is {path.stat().st_size / 2**20:.0f} MB; magenta's models are about 3 MB "
                             f"(limit {MAX_FILE_BYTES // 2**20} MB)")
        content = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{path} is not a magenta model file: it is not readable JSON ({error})") from None
    if not isinstance(content, list) or len(content) != 3:
        raise ValueError(f"{path} is not a magenta model file: expected a JSON array [info, dims, weights]")
    info, dims, weights = content
    return _decode(path, _check_info(path, info), _check_dims(path, dims), weights)


def _check_info(path: Path, info) -> dict:
    """The ``info`` object: a name, a positive ``max_seq_len`` and a positive finite ``scale_factor``."""
    if not isinstance(info, dict):
        raise ValueError(f"{path}: the first element must be the info object with name, max_seq_len, scale_factor")
    name, length, scale = info.get("name"), info.get("max_seq_len"), info.get("scale_factor")
    if not (isinstance(name, str) and name.strip() and len(name) <= 100 and name.isprintable()):
        raise ValueError(f"{path}: info.name must be the category name (1 to 100 printable characters), "
                         f"got {str(name)[:60]!r}")
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 10_000:
        raise ValueError(f"{path}: info.max_seq_len must be a whole number from 1 to 10000, got {length!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < 1e30:  # NaN and inf fail too
        raise ValueError(f"{path}: info.scale_factor must be a positive finite number, got {scale!r}")
    return {"name": name.strip(), "max_seq_len": length, "scale_factor": float(scale)}


def _check_dims(path: Path, dims) -> list[tuple[int, ...]]:
    """``dims`` must be the five shapes of a decoder-only model with consistent H and M."""
    whole = lambda n: type(n) is int and 0 < n <= MAX_DIM  # noqa: E731 (not a bool, a float such as 512.0 or 1e999, a string)
    try:
        if not all(isinstance(shape, list) and all(whole(n) for n in shape) for shape in dims):
            raise TypeError
        shapes = [tuple(shape) for shape in dims]
        (hidden, outputs), (outputs_b,), (inputs, gates), (hidden_r, gates_r), (gates_b,) = shapes
    except (TypeError, ValueError):
        raise ValueError(f"{path}: dims must be five shapes of whole numbers from 1 to {MAX_DIM} "
                         f"[[H, 6M+3], [6M+3], [5, 4H], [H, 4H], [4H]] (a decoder-only model), got {str(dims)[:200]}") from None
    consistent = (hidden > 0 and gates == 4 * hidden and hidden_r == hidden and gates_r == gates_b == gates
                  and inputs == 5 and outputs == outputs_b and outputs > 3 and (outputs - 3) % 6 == 0)
    if not consistent:
        raise ValueError(f"{path}: dims {shapes} are not those of a decoder-only Sketch-RNN "
                         "([[H, 6M+3], [6M+3], [5, 4H], [H, 4H], [4H]]; models with an encoder are not supported)")
    return shapes


def _decode(path: Path, info: dict, shapes: list[tuple[int, ...]], weights) -> MagentaFile:
    """Decode the five base64 int16 weight strings into float32 arrays of the given shapes."""
    if not isinstance(weights, list) or len(weights) != len(shapes):
        raise ValueError(f"{path}: expected {len(shapes)} weight strings, one per shape in dims")
    arrays = []
    for index, (text, shape) in enumerate(zip(weights, shapes)):
        if not isinstance(text, str):
            raise ValueError(f"{path}: weight {index} must be a base64 string")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{path}: weight {index} is not valid base64 (truncated or damaged file?)") from None
        expected = 2 * math.prod(shape)
        if len(raw) != expected:
            raise ValueError(f"{path}: weight {index} holds {len(raw)} bytes, expected {expected} for shape {shape} "
                             "(truncated or damaged file?)")
        arrays.append((np.frombuffer(raw, dtype="<i2").astype(np.float32) * np.float32(WEIGHT_SCALE)).reshape(shape))
    output_kernel, output_bias, input_kernel, recurrent_kernel, lstm_bias = arrays
    return MagentaFile(info["name"], info["max_seq_len"], info["scale_factor"], output_kernel, output_bias,
                       input_kernel, recurrent_kernel, lstm_bias)


# ----------------------------------------------------------------------------------------------
# Conversion to this project's model


def keras_gate_order(matrix: np.ndarray) -> np.ndarray:
    """Reorder the last axis's four gate blocks from magenta's (i, j, f, o) to Keras's (i, f, j, o)."""
    input_gate, candidate, forget_gate, output_gate = np.split(matrix, 4, axis=-1)
    return np.concatenate([input_gate, forget_gate, candidate, output_gate], axis=-1)


def converted_weights(magenta: MagentaFile) -> dict[str, np.ndarray]:
    """The model's weights keyed as :class:`sketchrnn.model.SketchRNN` names them, exactly converted."""
    bias = keras_gate_order(magenta.lstm_bias).copy()
    units = magenta.hidden_size
    bias[units : 2 * units] += FORGET_BIAS  # the forget block, now second
    return {
        "lstm/kernel": keras_gate_order(magenta.input_kernel),
        "lstm/recurrent_kernel": keras_gate_order(magenta.recurrent_kernel),
        "lstm/bias": bias,
        "mixture_head/kernel": magenta.output_kernel,
        "mixture_head/bias": magenta.output_bias,
    }


def to_trained_model(magenta: MagentaFile, source: str = "", measure_size: bool = True) -> TrainedModel:
    """Build the project's network from a decoded magenta file, and measure its typical drawing size
    (:func:`own_size`; ``measure_size=False`` leaves a placeholder size, for tests of the weights only)."""

    config = ModelConfig(hidden_size=magenta.hidden_size, num_mixtures=magenta.num_mixtures, num_categories=1,
                         recurrent_dropout=0.0, max_length=magenta.max_seq_len, min_log_sigma=UNCLIPPED_LOG_SIGMA)
    try:
        config.validate()
    except ValueError as error:
        raise ValueError(f"{source or magenta.name}: {error}") from None
    config.check_memory(source or magenta.name)
    network = build_network(config)
    checkpoint.assign_weights(network, converted_weights(magenta), source or magenta.name)
    category = data.canonical_category(magenta.name)
    model = TrainedModel(
        network=network, config=config, stats=DataStats(magenta.scale_factor, 1.0, 1.0), categories=[category],
        name=f"magenta-{magenta.name}",
        metadata={"source": "magenta", "source_file": source, "url": MODEL_URL.format(name=magenta.name),
                  "license": "Apache-2.0", "credit": CREDIT},
    )
    if measure_size:
        try:
            model.stats = checkpoint.checked_stats(dataclasses.asdict(own_size(model)))
        except ValueError as error:  # e.g. no extent: its own drawings are single points
            raise ValueError(f"{source or magenta.name}: its own drawings, measured at import, give {error}; "
                             "the file holds no usable model") from None
    model.metadata["rescale_to"] = model.stats.typical_extent * model.stats.scale_factor
    model.drawing = ModelDrawingSettings(MAGENTA_JS, chosen_by=MAGENTA_JS_NOTE)  # as magenta.js's demos draw
    return model


def own_size(model, count: int = SIZE_SAMPLES, seed: int = SIZE_SEED) -> DataStats:
    """The model's typical drawing extent, length and point density, measured on its own samples at temperature 1.

    A magenta file does not say how large its training drawings were, only the offsets' scale; the
    canvas mapping needs the typical size (median max(width, height), normalised units), so it is
    read off drawings the model makes at the training density (temperature 1.0, a fixed seed).
    """
    from sketchrnn import sample, strokes

    drawings = []
    for batch_seed in range(seed, seed + math.ceil(count / sample.MAX_ENDINGS)):
        drawings += sample.sample(model, sample.MAX_ENDINGS, temperature=1.0, pen_temperature=1.0, seed=batch_seed)
    stroke3 = [strokes.polylines_to_stroke3(d) for d in drawings if d]
    extents = [strokes.drawing_extent(d) / model.stats.scale_factor for d in stroke3]
    return DataStats(scale_factor=model.stats.scale_factor, typical_extent=float(np.median(extents)),
                     median_length=float(np.median([len(d) for d in stroke3])),
                     simplify_epsilon=strokes.simplification_epsilon(stroke3))


# ----------------------------------------------------------------------------------------------
# Writing a .gen.json (export-js): the inverse of reading one

INFO_MODE = 2  # info.mode and info.version as in the published files (magenta.js reads neither)
INFO_VERSION = 6
JS_NUM_MIXTURES = 20  # @magenta/sketch's SketchRNN reads exactly 20 Gaussians (its NMIXTURE is fixed)
WEIGHT_NAMES = ("output kernel", "output bias", "LSTM input kernel", "LSTM recurrent kernel", "LSTM bias")  # dims order


def magenta_gate_order(matrix: np.ndarray) -> np.ndarray:
    """Reorder the last axis's four gate blocks from Keras's (i, f, j, o) to magenta's (i, j, f, o).

    The inverse of :func:`keras_gate_order`, which is its own inverse: both swap the middle two blocks.
    """
    return keras_gate_order(matrix)


def check_exportable(model) -> None:
    """Refuse (ValueError) a model magenta.js's SketchRNN cannot run: a VAE, a layer-normalised LSTM, M != 20."""
    name, config = model.name or "this model", model.config
    if config.kind != "decoder":
        kind = "a VAE" if config.kind == "vae" else f"a {config.kind}"
        raise ValueError(f"{name} is {kind}: magenta.js runs decoder-only models (it starts every drawing "
                         "from a zero state, a VAE from its encoded drawing); export a decoder such as "
                         "data/models/quickdraw6 (nothing was written)")
    if config.layer_norm:
        raise ValueError(f"{name} uses a layer-normalised LSTM (--layer-norm), which magenta.js cannot run (it steps "
                         "a plain LSTM cell); export a model trained without --layer-norm (nothing was written)")
    if config.num_mixtures != JS_NUM_MIXTURES:
        raise ValueError(f"{name} has {config.num_mixtures} Gaussians; magenta.js reads exactly {JS_NUM_MIXTURES} "
                         f"(train with --num-mixtures {JS_NUM_MIXTURES}) (nothing was written)")


def export_category(model, category=None) -> str:
    """The category to export: ``category`` (any spelling, ``alarm_clock``), or the model's only one."""
    if category is None:
        if len(model.categories) > 1:
            raise ValueError(f"{model.name} draws {len(model.categories)} categories and magenta's format holds one: "
                             f"choose it with --category ({', '.join(model.categories[:8])}"
                             f"{', ...' if len(model.categories) > 8 else ''})")
        return model.categories[0]
    category = data.canonical_category(category)
    model.category_id(category)  # an unknown category raises the usual message
    return category


def from_trained_model(model, category=None) -> MagentaFile:
    """A decoder's weights for one category in magenta's layout: the inverse of :func:`converted_weights`.

    A model of several categories has the category's embedding folded into the LSTM bias
    (:func:`~sketchrnn.model.fold_embedding`, as ``train --init-from`` does); float32 weights, not yet rounded.
    """
    check_exportable(model)
    category = export_category(model, category)
    weights = model.numpy_weights()
    kernel, bias = weights["lstm/kernel"], weights["lstm/bias"]  # (5 [+ E], 4H), (4H,): gate blocks i, f, j, o
    if model.network.category_embedding is not None:
        embedding = weights["category_embedding/embeddings"][model.category_id(category)]  # (E,)
        kernel, bias = fold_embedding(kernel, bias, embedding)
    units = model.config.hidden_size
    bias = bias.copy()
    bias[units : 2 * units] -= FORGET_BIAS  # the forget block, second in Keras's order: magenta adds it at run time
    return MagentaFile(
        name=category.replace(" ", "_"), max_seq_len=int(model.config.max_length),
        scale_factor=float(model.stats.scale_factor),
        output_kernel=weights["mixture_head/kernel"], output_bias=weights["mixture_head/bias"],
        input_kernel=magenta_gate_order(kernel), recurrent_kernel=magenta_gate_order(weights["lstm/recurrent_kernel"]),
        lstm_bias=magenta_gate_order(bias),
    )


def encoded_weight(array: np.ndarray, what: str) -> str:
    """One weight as magenta stores it: the nearest int16 steps (value / WEIGHT_SCALE), little-endian, base64.

    The inverse of the decoding in :func:`read_gen_json`; a weight beyond +-10 cannot be stored (ValueError).
    """
    steps = np.round(np.asarray(array, np.float64) / WEIGHT_SCALE)
    largest = float(np.max(np.abs(array))) if np.size(array) else 0.0
    if not np.all(np.isfinite(steps)) or np.max(np.abs(steps), initial=0) > LARGEST_STORED:
        raise ValueError(f"the {what} has a weight of magnitude {largest:.4g}; magenta's format stores weights within "
                         f"+-{LARGEST_STORED * WEIGHT_SCALE:g} (int16 * 10 / 32767), so this model cannot be exported "
                         "(nothing was written)")
    return base64.b64encode(steps.astype("<i2").tobytes()).decode("ascii")


def gen_json_text(magenta: MagentaFile) -> str:
    """The ``.gen.json`` text of a decoded model: compact JSON ``[info, dims, weights]`` and a newline, as published."""
    arrays = (magenta.output_kernel, magenta.output_bias, magenta.input_kernel, magenta.recurrent_kernel,
              magenta.lstm_bias)
    info = {"mode": INFO_MODE, "version": INFO_VERSION, "max_seq_len": int(magenta.max_seq_len), "name": magenta.name,
            "scale_factor": float(magenta.scale_factor)}
    weights = [encoded_weight(array, what) for array, what in zip(arrays, WEIGHT_NAMES)]
    return json.dumps([info, [list(array.shape) for array in arrays], weights], separators=(",", ":")) + "\n"


# ----------------------------------------------------------------------------------------------
# Import, download, list


def _cache_root(cache_dir=None) -> Path:
    """The download cache: ``cache_dir``, else the project's default (``data/`` in a checkout)."""
    return Path(cache_dir).expanduser() if cache_dir is not None else data.default_cache_dir()


def imported_dir(cache_dir=None) -> Path:
    """Where imported models go by default: ``<download cache>/imported`` (``data/imported`` in a checkout)."""
    return _cache_root(cache_dir) / "imported"


def gen_json_dir(cache_dir=None) -> Path:
    """Where published model files are cached: ``<download cache>/magenta``."""
    return _cache_root(cache_dir) / "magenta"


def gen_json_cache_path(name: str, cache_dir=None) -> Path:
    """The cache file of a published model: ``<download cache>/magenta/<name>.gen.json``."""
    return gen_json_dir(cache_dir) / f"{check_name(name)}.gen.json"


def check_name(name: str) -> str:
    """A published model's name as the URL spells it (``alarm clock`` -> ``alarm_clock``), or ValueError."""
    spelled = str(name).strip().lower().replace(" ", "_")
    if not NAME_PATTERN.match(spelled):
        raise ValueError(f"{name!r} is not a model name; names look like pig, cat, alarm_clock "
                         f"(known: {', '.join(KNOWN_MODELS[:12])}, ...)")
    return spelled


def import_model(path, destination=None, *, evaluate_on=None, weights_dtype=np.float32) -> Path:
    """Convert a ``.gen.json`` into a model directory with a MODEL_CARD.md; returns the directory.

    ``destination`` defaults to ``<cache>/imported/magenta-<name>``, the name from the file made a safe folder
    name (:func:`sketchrnn.files.safe_name`: it never leads out of ``imported/``); an existing directory there
    is replaced only if this project wrote it (:func:`sketchrnn.checkpoint.written_here`). ``evaluate_on``
    (data sources of the model's category) adds held-out L_R, under this project's definition and magenta's,
    to the card. Nothing is written unless the file converts completely.
    """
    from sketchrnn import export

    magenta = read_gen_json(path)
    if destination is None:
        destination = imported_dir() / files.safe_name(f"magenta-{magenta.name}")
    destination = export.check_destination(destination)
    model = to_trained_model(magenta, source=Path(path).name)
    if evaluate_on:
        model.metadata["test_loss"] = evaluate_both_ways(model, evaluate_on)
    model.name = destination.name
    checkpoint.save_model(model, destination, weights_dtype=weights_dtype,
                          extra_files={export.CARD_FILE: model_card(model)})
    return destination


def model_url(name: str, base_url: str | None = None) -> str:
    """Where a published model is served (base overridable by argument or ``$SKETCHRNN_MODELS_URL``)."""
    base = base_url or os.environ.get("SKETCHRNN_MODELS_URL") or MODELS_BASE_URL
    return f"{base.rstrip('/')}/{check_name(name)}.gen.json"


def download_model(name: str, *, cache_dir=None, base_url: str | None = None, progress=None,
                   timeout: float = 60.0) -> Path:
    """Fetch a published ``.gen.json`` into the download cache once (atomic); returns the cached file.

    Offline, the :class:`~sketchrnn.data.DownloadError` names the URL and where to put the file by hand.
    """
    return data.download_to_cache(model_url(name, base_url), gen_json_cache_path(name, cache_dir), read_gen_json,
                                  progress=progress, timeout=timeout)


def download_and_import(name: str, *, cache_dir=None, base_url: str | None = None, progress=None) -> Path:
    """``models download NAME``: the cached (or freshly fetched) file, imported into ``imported/``."""
    cached = download_model(name, cache_dir=cache_dir, base_url=base_url, progress=progress)
    model_name = f"magenta-{check_name(name)}"
    for destination in (*[p for p in checkpoint.bundled_model_dirs() if p.name == model_name],
                        imported_dir(cache_dir) / model_name):
        if (destination / checkpoint.CONFIG_FILE).is_file():
            return destination  # bundled or imported before: nothing to do
    return import_model(cached, imported_dir(cache_dir) / model_name)


def model_inventory(cache_dir=None) -> list[tuple[str, str, Path]]:
    """Every model a user has: ``(kind, name, path)`` with kind bundled, imported or cached (not imported)."""
    rows = [("bundled", path.name, path) for path in checkpoint.bundled_model_dirs()]
    bundled_names = {name for _, name, _ in rows}
    imported = [path for path in checkpoint.bundled_model_dirs(imported_dir(cache_dir)) if path.name not in bundled_names]
    rows += [("imported", path.name, path) for path in imported]
    imported_names = {path.name for path in imported} | bundled_names
    cached = sorted(gen_json_dir(cache_dir).glob("*.gen.json"))
    rows += [("cached", path.name[: -len(".gen.json")], path) for path in cached
             if f"magenta-{path.name[: -len('.gen.json')]}" not in imported_names]
    return rows


def usable_model_dirs(cache_dir=None, log=None) -> list[Path]:
    """The model directories a user has: bundled, then imported; a cached ``.gen.json`` not yet
    imported is imported first (a file that fails to convert is reported through ``log`` and skipped)."""
    directories = []
    for kind, name, path in model_inventory(cache_dir):
        if kind == "cached":
            try:
                path = import_model(path, imported_dir(cache_dir) / files.safe_name(f"magenta-{name}"))
            except ValueError as error:
                if log:
                    log(f"skipping the cached model {path}: {error}")
                continue
        directories.append(path)
    return directories


# ----------------------------------------------------------------------------------------------
# Held-out L_R, ours and magenta's, and the model card


def evaluate_both_ways(model, sources, split: str = "test") -> dict:
    """L_R of ``model`` on ``split`` of ``sources``, drawings mapped to the model's typical size.

    Returns ``{"drawings", "ours": {loss, offset_loss, pen_loss}, "magenta": {...}, "rescale_to", "split"}``:
    *ours* is the paper's L_R with N_max = max_length + 1 (end rows' pen loss included); *magenta*
    is what magenta's evaluation computes (the end rows masked, divided by max_seq_len, and
    ``-log(density + 1e-6)`` for the offsets). Both are in the model's normalised units.
    """
    import tensorflow as tf

    from sketchrnn.data import load_dataset
    from sketchrnn.model import magenta_reconstruction_loss, reconstruction_loss
    from sketchrnn.pipeline import evaluation_batches
    from sketchrnn.strokes import normalize

    rescale_to = model.metadata["rescale_to"]
    dataset = load_dataset(sources, max_length=model.config.max_length, rescale_to=rescale_to,
                           categories=model.categories)
    drawings = [normalize(d, model.stats.scale_factor) for d in dataset.splits[split].drawings]
    if not drawings:
        raise ValueError(f"no {split} drawings of {', '.join(model.categories)} in {', '.join(map(str, sources))}")
    totals = np.zeros(4)
    rows = model.config.max_length + 2
    for inputs, targets, _ in evaluation_batches(drawings, np.zeros(len(drawings), np.int32), 100, rows=rows):
        outputs, _ = model.network(tf.constant(inputs))
        config = model.config
        ours = reconstruction_loss(outputs, targets, config.num_mixtures, n_max=rows - 1, min_log_sigma=config.min_log_sigma)
        theirs = magenta_reconstruction_loss(outputs[:, :-1], targets[:, :-1], config.num_mixtures, config.min_log_sigma)
        totals += [float(np.sum(part)) for part in (*ours, *theirs)]
    means = totals / len(drawings)
    as_dict = lambda offset, pen: {"loss": offset + pen, "offset_loss": offset, "pen_loss": pen}  # noqa: E731
    return {"drawings": len(drawings), "split": split, "rescale_to": rescale_to,
            "sources": [Path(s).name for s in sources],
            "ours": as_dict(*means[:2]), "magenta": as_dict(*means[2:])}


def model_card(model) -> str:
    """The MODEL_CARD.md of an imported magenta model: source, license, credit, size, held-out L_R."""
    meta, stats = model.metadata, model.stats
    lines = [
        f"# {model.name}", "",
        f"Magenta's pretrained decoder-only Sketch-RNN for **{model.categories[0]}**, imported by "
        f"`sketchrnn models import` from `{meta.get('source_file') or meta['url']}` (published at {meta['url']}).", "",
        f"- {CREDIT}",
        "- License: Apache-2.0 (the weights, Magenta / Google); the training drawings are Quick, Draw! (CC BY 4.0).",
        f"- LSTM hidden size {model.config.hidden_size}, {model.config.num_mixtures} Gaussians, no layer norm, "
        f"trained by Google on the full Quick, Draw! category file (~70,000 drawings); length cap "
        f"{model.config.max_length} points; scale factor {stats.scale_factor:.6g}.",
        f"- Typical drawing extent {stats.typical_extent:.4g} (normalised units) and median length "
        f"{stats.median_length:.0f} points and point density (RDP tolerance {stats.simplify_epsilon:g} in a 0-255 "
        f"frame), measured at import on {SIZE_SAMPLES} of the model's own samples (temperature 1.0, seed "
        f"{SIZE_SEED}); a person's canvas is mapped onto that size and simplified to that density.",
        "- Conversion: gate blocks reordered from magenta's (i, j, f, o) to (i, f, j, o), magenta's run-time "
        "forget bias 1.0 added to the stored bias; output layout and start row unchanged (exact).",
    ]
    result = meta.get("test_loss")
    if result:
        lines += [
            "", f"## Held-out L_R ({result['split']} split of {', '.join(result['sources'])}, {result['drawings']} drawings)", "",
            f"Drawings rescaled to max side {result['rescale_to']:.1f} (the model's typical size), normalised by "
            "the scale factor.", "",
            "| definition | L_R | L_s | L_p |", "|---|---|---|---|",
            _loss_row(f"this project's (paper eqs. 9-11, N_max = {model.config.max_length + 1}, end rows' pen loss "
                      "included)", result["ours"]),
            _loss_row(f"magenta's evaluation (end rows masked, divided by max_seq_len = {model.config.max_length}, "
                      "-log(p + 1e-6))", result["magenta"]),
        ]
    lines += ["", *model.drawing.card_lines(model.categories)]
    return "\n".join(lines) + "\n"


def _loss_row(name: str, loss: dict) -> str:
    return f"| {name} | {loss['loss']:.4f} | {loss['offset_loss']:.4f} | {loss['pen_loss']:.4f} |"
