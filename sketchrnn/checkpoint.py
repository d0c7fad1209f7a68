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
import shutil
import zipfile
from pathlib import Path

import numpy as np

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


MODEL_DIR_KIND = f"a model directory (it has no {CONFIG_FILE})"


def is_model_dir(directory: Path) -> bool:
    """True for a folder holding a model's ``config.json`` (a model directory or a checkpoint)."""
    return (Path(directory) / CONFIG_FILE).is_file()


def _atomic_directory(final: Path, write) -> Path:
    """Write a model or checkpoint directory atomically; refuses to replace a folder that holds no model."""
    return files.atomic_directory(final, write, owned=is_model_dir, kind=MODEL_DIR_KIND)


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
    """Parse and check config.json of a model directory."""
    config_path = directory / CONFIG_FILE
    if not (config_path.exists() or config_path.is_symlink()):
        raise ValueError(f"{directory} is not a model directory: {CONFIG_FILE} is missing")
    try:
        config = files.read_json(config_path)
        _ = config["model"], config["stats"]["scale_factor"], config["stats"]["typical_extent"], config["categories"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{config_path} is corrupt or incomplete ({error}); re-export or retrain the model") from None
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{config_path} has format_version {config.get('format_version')}, expected {FORMAT_VERSION}")
    return config


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
    """Load a trained model from a model directory, a run directory or a checkpoint (the one loader)."""
    from sketchrnn.model import ModelConfig

    directory = resolve_model_dir(path)
    config = _read_config(directory)
    try:
        model_config = ModelConfig.from_dict(config["model"])
        model_config.validate()
    except (TypeError, ValueError) as error:
        raise ValueError(f"{directory / CONFIG_FILE}: bad model settings ({error})") from None
    network = build_network(model_config)
    restore_weights(network, directory)
    drawing = read_drawing_settings(config, directory)
    stats = DataStats(**config["stats"])
    if not (np.isfinite(stats.scale_factor) and stats.scale_factor > 0):
        raise ValueError(f"{directory / CONFIG_FILE}: scale_factor must be a positive number")
    if not (isinstance(stats.simplify_epsilon, (int, float)) and 0 < stats.simplify_epsilon <= 255):
        raise ValueError(f"{directory / CONFIG_FILE}: simplify_epsilon must be a number in (0, 255], "
                         f"got {stats.simplify_epsilon!r}")
    return TrainedModel(
        network=network,
        config=model_config,
        stats=stats,
        categories=list(config["categories"]),
        step=int(config.get("step", 0)),
        name=config.get("name") or directory.name,
        path=directory,
        metadata=config.get("metadata", {}),
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
    config = _read_config(directory)
    ModelDrawingSettings.from_dict(drawing.to_dict(), list(config["categories"]))
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
