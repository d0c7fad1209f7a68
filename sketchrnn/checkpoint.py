"""Model directories and training checkpoints: the one place that writes and reads trained models.

A **model directory** holds ``config.json`` (the :class:`~sketchrnn.model.ModelConfig`, the data's
scale factor and typical extent, the category names, the training step) and ``weights.npz`` (one
float32 array per weight, keyed by the weight's path; plain NumPy, no pickle). A **checkpoint** is a
model directory plus ``optimizer.npz`` and ``state.json`` (data position, elapsed time).

Every directory is written under a temporary name and renamed into place, so a kill during a save
never leaves a half-written model where a good one was. A run directory looks like::

    runs/NAME/train.json               the training settings (for --resume)
    runs/NAME/checkpoints/ckpt-000500  complete checkpoints (the newest few)
    runs/NAME/checkpoints/latest       name of the newest checkpoint (atomically replaced)
    runs/NAME/best/                    model directory with the best validation loss so far
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from sketchrnn import files
from sketchrnn.drawing_settings import SECTION as DRAWING_SECTION
from sketchrnn.drawing_settings import ModelDrawingSettings
from sketchrnn.model import TrainedModel, build_network, weight_key
from sketchrnn.strokes import DataStats

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"
OPTIMIZER_FILE = "optimizer.npz"
STATE_FILE = "state.json"
KEEP_CHECKPOINTS = 2
FORMAT_VERSION = 1


MARKER_FILE = ".sketchrnn-model"  # written into every model directory and checkpoint: "this project wrote this folder"
CARD_FILE = "MODEL_CARD.md"
PROJECT_FILES = frozenset({CONFIG_FILE, WEIGHTS_FILE, OPTIMIZER_FILE, STATE_FILE, CARD_FILE, MARKER_FILE})
MODEL_DIR_KIND = "a model directory this project wrote"


def is_model_dir(directory: Path) -> bool:
    """True for a folder holding a model's ``config.json`` (a model directory or a checkpoint)."""
    return (Path(directory) / CONFIG_FILE).is_file()


def written_here(directory) -> bool:
    """Whether a writer of models may replace ``directory`` as a whole: a folder this project wrote, holding
    nothing but the files it writes.

    Its entries must all be regular files (no link, no subfolder) named as this project names them
    (``PROJECT_FILES``), among them ``config.json``, and either the marker ``.sketchrnn-model`` (written since
    the marker exists) or ``weights.npz`` (model directories written before it: the bundled ``data/models/*``,
    earlier exports, imports and runs, whose files are exactly the project's). A folder holding anything else --
    a person's notes, a subfolder, a symbolic link -- is never replaced, marker or not.
    """
    try:
        entries = list(os.scandir(directory))
        kinds_ok = all(entry.is_file(follow_symlinks=False) for entry in entries)
    except OSError:
        return False
    names = {entry.name for entry in entries}
    return kinds_ok and names <= PROJECT_FILES and CONFIG_FILE in names and bool({MARKER_FILE, WEIGHTS_FILE} & names)


def _atomic_directory(final: Path, write) -> Path:
    """Write a model or checkpoint directory atomically; refuses to replace a folder this project did not write."""
    return files.atomic_directory(final, write, owned=written_here, kind=MODEL_DIR_KIND)


atomic_write_text = files.atomic_write_text  # replace a small text file atomically (never a link or a device)


def _write_model_files(directory: Path, model: TrainedModel, weights_dtype=np.float32) -> None:
    """config.json and weights.npz of a model into ``directory``."""
    config = {
        "format_version": FORMAT_VERSION,
        "model": model.config.to_dict(),
        "stats": {
            "scale_factor": model.stats.scale_factor,
            "typical_extent": model.stats.typical_extent,
            "median_length": model.stats.median_length,
            "simplify_epsilon": model.stats.simplify_epsilon,
        },
        "categories": list(model.categories),
        "step": int(model.step),
        "name": model.name,
        "metadata": model.metadata,
    }
    if model.drawing.chosen:  # a model without settings of its own draws with the project's defaults, whatever they become
        config[DRAWING_SECTION] = model.drawing.to_dict()
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    (directory / MARKER_FILE).write_text("written by sketchrnn: a model directory it may replace as a whole\n")
    np.savez(directory / WEIGHTS_FILE, **{k: v.astype(weights_dtype) for k, v in model.numpy_weights().items()})


def save_model(model: TrainedModel, directory, *, weights_dtype=np.float32, extra_files: dict[str, str] | None = None) -> Path:
    """Write a model directory atomically, replacing a model already there (never a folder holding other files).

    ``weights_dtype`` np.float16 halves the file (for bundled models; loading casts back to float32);
    ``extra_files`` (file name -> text, e.g. a model card) are written into the same atomic directory.
    """

    def write(temporary: Path) -> None:
        _write_model_files(temporary, model, weights_dtype)
        for name, text in (extra_files or {}).items():
            (temporary / name).write_text(text)

    return _atomic_directory(Path(directory), write)


def _read_config(directory: Path) -> dict:
    """Parse config.json of a model directory and check every field as untrusted input.

    Returns its fields with ``model`` a checked :class:`~sketchrnn.model.ModelConfig` and ``stats`` a checked
    :class:`DataStats`; a ValueError names the file and the field for anything else, before anything is built.
    """
    config_path = directory / CONFIG_FILE
    if not (config_path.exists() or config_path.is_symlink()):
        raise ValueError(f"{directory} is not a model directory: {CONFIG_FILE} is missing")
    try:
        config = files.read_json(config_path)
        _ = config["model"], config["stats"]["scale_factor"], config["stats"]["typical_extent"], config["categories"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{config_path} is corrupt or incomplete ({error}); re-export or retrain the model") from None
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{config_path} has format_version {config.get('format_version')!r}, expected {FORMAT_VERSION}")
    try:
        return _checked_config(config)
    except ValueError as error:
        raise ValueError(f"{config_path}: {error}") from None


MAX_NAME_CHARACTERS = 200  # the longest category or model name a config may hold


def _checked_config(config: dict) -> dict:
    """config.json's fields checked: the model settings (types, ranges, memory), statistics, categories, step, name."""
    from sketchrnn.model import ModelConfig

    model_config = ModelConfig.from_dict(config["model"])
    model_config.check_memory()
    categories = config["categories"]
    if not (isinstance(categories, list) and categories and all(_is_name(name) for name in categories)):
        raise ValueError(f"categories must be a list of names (strings of 1 to {MAX_NAME_CHARACTERS} characters), "
                         f"got {str(categories)[:80]}")
    if len(set(categories)) != len(categories):
        raise ValueError("categories must not repeat a name")
    if model_config.num_categories > 1 and len(categories) != model_config.num_categories:
        raise ValueError(f"categories names {len(categories)}, but the model has num_categories "
                         f"{model_config.num_categories}")
    step, name, metadata = config.get("step", 0), config.get("name") or "", config.get("metadata", {})
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= 10**12:
        raise ValueError(f"step must be a whole number >= 0, got {str(step)[:40]}")
    if not (name == "" or _is_name(name)) or not isinstance(metadata, dict):
        raise ValueError(f"name must be a string of at most {MAX_NAME_CHARACTERS} characters and metadata an object")
    return {**config, "model": model_config, "stats": checked_stats(config["stats"]), "categories": categories,
            "step": step, "name": name, "metadata": metadata}


def _is_name(value) -> bool:
    """A category or model name: a string of 1 to MAX_NAME_CHARACTERS characters, none of them a control character."""
    return (isinstance(value, str) and 0 < len(value) <= MAX_NAME_CHARACTERS
            and value.isprintable())


def checked_stats(stats) -> DataStats:
    """The ``stats`` object: positive finite numbers (simplify_epsilon up to 255), no unknown fields."""
    known = set(DataStats.__dataclass_fields__)
    if not isinstance(stats, dict) or not set(stats) <= known:
        raise ValueError(f"stats must be an object with the fields {', '.join(sorted(known))}")
    for field, value in stats.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        highest = 255 if field == "simplify_epsilon" else 1e30  # a tolerance in the 0-255 frame; NaN, inf fail
        if not (number and 0 < value <= highest):
            accepted = "a number in (0, 255]" if field == "simplify_epsilon" else "a positive finite number"
            raise ValueError(f"stats {field} must be {accepted}, got {str(value)[:40]}")
    try:
        return DataStats(**stats)
    except TypeError as error:  # a required field is missing
        raise ValueError(f"stats is incomplete ({error})") from None


def _read_arrays(path: Path, what: str) -> dict[str, np.ndarray]:
    """Load every array of an .npz without pickle; a damaged file becomes a ValueError."""
    if not path.is_file():
        raise ValueError(f"{path.parent} is incomplete: {path.name} ({what}) is missing")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path} ({what}) is corrupt: {error}") from None


def assign_weights(network, arrays: dict[str, np.ndarray], source) -> None:
    """Copy arrays keyed by :func:`weight_key` into the network's weights, checking names, shapes and finiteness."""
    expected = {weight_key(weight): weight for weight in network.weights}
    if set(expected) != set(arrays):
        raise ValueError(
            f"{source} does not match the model in config.json: missing {sorted(set(expected) - set(arrays))}, "
            f"unexpected {sorted(set(arrays) - set(expected))}"
        )
    for name, weight in expected.items():
        if tuple(weight.shape) != arrays[name].shape or not np.all(np.isfinite(arrays[name])):
            raise ValueError(f"{source}: weight {name} has shape {arrays[name].shape} or non-finite values, "
                             f"expected finite {tuple(weight.shape)}")
        weight.assign(arrays[name])


def _check_weight_shapes(path: Path, config) -> None:
    """Refuse a weights.npz whose decoder does not fit config.json, from its ``.npy`` headers alone, so no network is
    built (which costs time and memory for a large ``hidden_size``) for weights that cannot fill it."""
    expected = {"lstm/recurrent_kernel": (config.hidden_size, 4 * config.hidden_size),
                "mixture_head/kernel": (config.hidden_size, config.output_size)}
    for key, found in _header_shapes(path, expected).items():
        if found != expected[key]:
            raise ValueError(f"{path}: weight {key} has shape {found}, but config.json describes {expected[key]}: the two "
                             "files are not of one model")


def _header_shapes(path: Path, keys) -> dict[str, tuple]:
    """The shapes of these arrays of an .npz, read from their headers; what cannot be read is left out (a damaged
    file is reported when its arrays are read)."""
    shapes = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for key in keys:
                with archive.open(f"{key}.npy") as member:
                    version = npy_format.read_magic(member)
                    reader = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
                    shapes[key] = tuple(reader(member)[0])
    except (OSError, KeyError, ValueError, EOFError, SyntaxError, TypeError, zipfile.BadZipFile):
        pass
    return shapes


def restore_weights(network, directory) -> None:
    """Fill a built network with the weights saved in a model or checkpoint directory."""
    path = Path(directory) / WEIGHTS_FILE
    assign_weights(network, _read_arrays(path, "weights"), path)


def resolve_model_dir(path) -> Path:
    """Find the model directory a user means: a model dir, a run's ``best/``, or its latest checkpoint."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"model path {path} does not exist; pass a model directory (with {CONFIG_FILE}) or a run directory")
    if (path / CONFIG_FILE).exists():
        return path
    if (path / "best" / CONFIG_FILE).exists():
        return path / "best"
    latest = latest_checkpoint(path)
    if latest is not None:
        return latest
    raise ValueError(f"{path} holds no model: expected {CONFIG_FILE}, a best/ model or checkpoints/")


def load_model(path) -> TrainedModel:
    """Load a trained model from a model directory, a run directory or a checkpoint (the one loader).

    config.json is checked as untrusted input (:func:`_read_config`: types, ranges, a memory estimate) before the
    network is built, and every weight against it.
    """
    directory = resolve_model_dir(path)
    config = _read_config(directory)
    _check_weight_shapes(directory / WEIGHTS_FILE, config["model"])
    network = build_network(config["model"])
    restore_weights(network, directory)
    drawing = read_drawing_settings(config, directory)
    return TrainedModel(
        network=network,
        config=config["model"],
        stats=config["stats"],
        categories=list(config["categories"]),
        step=config["step"],
        name=config["name"] or directory.name,
        path=directory,
        metadata=config["metadata"],
        drawing=drawing,
    )


def read_drawing_settings(config: dict, directory: Path) -> ModelDrawingSettings:
    """The model's drawing settings from its parsed config.json (the project's defaults when it has none)."""
    if DRAWING_SECTION not in config:
        return ModelDrawingSettings()
    try:
        return ModelDrawingSettings.from_dict(config[DRAWING_SECTION], list(config["categories"]))
    except ValueError as error:
        raise ValueError(f"{directory / CONFIG_FILE}: bad drawing settings: {error}; fix or remove the "
                         f"\"{DRAWING_SECTION}\" section (without it the model draws with the project's defaults)") from None


def write_drawing_settings(directory, drawing: ModelDrawingSettings) -> Path:
    """Replace the drawing settings in a model directory's config.json (atomically; nothing else changes).

    The settings are checked against the model's categories first: a section the loader would refuse is never written.
    """
    directory = resolve_model_dir(directory)
    categories = list(_read_config(directory)["categories"])  # the whole config checked as the loader checks it
    config = files.read_json(directory / CONFIG_FILE)  # and rewritten as it is, but for the drawing section
    ModelDrawingSettings.from_dict(drawing.to_dict(), categories)
    if drawing.chosen:
        config[DRAWING_SECTION] = drawing.to_dict()
    else:
        config.pop(DRAWING_SECTION, None)
    return atomic_write_text(directory / CONFIG_FILE, json.dumps(config, indent=2) + "\n")


# ----------------------------------------------------------------------------------------------
# Training checkpoints


def save_checkpoint(run_dir, model: TrainedModel, optimizer, state: dict) -> Path:
    """Write ``checkpoints/ckpt-STEP`` atomically, point ``latest`` at it, prune old ones."""
    checkpoints = Path(run_dir) / "checkpoints"

    def write(directory: Path) -> None:
        _write_model_files(directory, model)
        np.savez(directory / OPTIMIZER_FILE, **{f"{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(optimizer.variables)})
        (directory / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")

    files.clean_stale_temporaries(checkpoints)  # any step's temporaries a killed run left
    final = _atomic_directory(checkpoints / f"ckpt-{model.step:08d}", write)
    atomic_write_text(checkpoints / "latest", final.name + "\n")
    for old in sorted(checkpoints.glob("ckpt-*"))[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir) -> Path | None:
    """The newest complete checkpoint of a run (``latest`` pointer, else the highest step), or None."""
    checkpoints = Path(run_dir) / "checkpoints"
    pointed = _pointed_checkpoint(checkpoints)
    if pointed is not None:
        return pointed
    complete = [c for c in sorted(checkpoints.glob("ckpt-*")) if (c / STATE_FILE).is_file()]
    return complete[-1] if complete else None


def _pointed_checkpoint(checkpoints: Path) -> Path | None:
    """The checkpoint ``checkpoints/latest`` names, if that is a small regular file naming a complete one here."""
    try:
        name = files.read_regular_file(checkpoints / "latest", 256).decode("utf-8").strip()
    except (ValueError, UnicodeDecodeError):  # missing, not a regular file, too large or not text
        return None
    named = checkpoints / name
    return named if name.startswith("ckpt-") and "/" not in name and (named / STATE_FILE).is_file() else None


def restore_optimizer(optimizer, checkpoint: Path, trainable_variables) -> None:
    """Rebuild the optimizer's variables and fill them from a checkpoint's optimizer.npz."""
    arrays = _read_arrays(checkpoint / OPTIMIZER_FILE, "optimizer state")
    optimizer.build(trainable_variables)
    variables = optimizer.variables
    if len(arrays) != len(variables):
        raise ValueError(f"{checkpoint}: optimizer state has {len(arrays)} arrays, expected {len(variables)}")
    for i, variable in enumerate(variables):
        value = arrays[f"{i:04d}"]
        if tuple(variable.shape) != value.shape:
            raise ValueError(f"{checkpoint}: optimizer array {i} has shape {value.shape}, expected {tuple(variable.shape)}")
        variable.assign(value)


def read_state(checkpoint: Path) -> dict:
    """The training state (step, data position, elapsed time) stored in a checkpoint."""
    try:
        return files.read_json(checkpoint / STATE_FILE)
    except ValueError as error:
        raise ValueError(f"{checkpoint / STATE_FILE} is unreadable ({error})") from None


BUNDLED_ROOT = Path(__file__).resolve().parent.parent / "data" / "models"


def bundled_model_dirs(root=None) -> list[Path]:
    """Model directories shipped with the project under ``data/models/`` (sorted by name)."""
    root = Path(root) if root is not None else BUNDLED_ROOT
    return sorted(p for p in root.iterdir() if (p / CONFIG_FILE).is_file()) if root.is_dir() else []


def drawing_ranking(root=None) -> dict[str, list[tuple[str, float | None]]]:
    """Per category, the models beside each other under ``root`` (default ``data/models/``) that draw it, best first
    on validation (``drawing_ranking.json``, written by benchmarks/choose_drawing_settings.py); {} when there is none.
    A damaged file is a ValueError."""
    from sketchrnn.drawing_settings import RANKING_FILE, read_ranking

    path = (Path(root) if root is not None else BUNDLED_ROOT) / RANKING_FILE
    return read_ranking(path) if path.exists() else {}


def best_first(directories: list[Path], category: str | None, ranking: dict) -> list[Path]:
    """Model directories with those that draw ``category`` best (by ``ranking``, see :func:`drawing_ranking`) first;
    the rest keep their order."""
    order = [name for name, _ in ranking.get(category, [])]
    return sorted(directories, key=lambda d: order.index(d.name) if d.name in order else len(order))
