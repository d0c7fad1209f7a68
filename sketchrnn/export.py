"""Exporting a trained run as a model directory with a model card (what the project bundles)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

from sketchrnn import checkpoint, files

CARD_FILE = checkpoint.CARD_FILE


def machine_description() -> str:
    """This machine in a few words: CPU count, processor, OS, TensorFlow version."""
    import tensorflow as tf

    return f"{os.cpu_count()} CPU cores ({platform.machine()}, {platform.system()}), TensorFlow {tf.__version__}, no GPU" \
        if not tf.config.list_physical_devices("GPU") else f"{os.cpu_count()} CPU cores + GPU, TensorFlow {tf.__version__}"


def check_destination(destination) -> Path:
    """Refuse an export destination that exists and is not an empty folder or a model directory this project
    wrote (:func:`sketchrnn.checkpoint.written_here`).

    Exporting replaces the destination as a whole: a folder holding anything else is never deleted.
    """
    return files.check_directory_target(destination, checkpoint.written_here, checkpoint.MODEL_DIR_KIND)


def export_run(run_dir, destination, test_losses: dict | None = None, reference: dict | None = None,
               weights_dtype=np.float32) -> Path:
    """Copy a run's best model to ``destination`` with its training facts and a MODEL_CARD.md.

    ``destination`` must be new, empty or a model directory (see :func:`check_destination`).
    ``test_losses`` (category -> L_R dict, e.g. from :func:`test_losses_by_category`) go into the card, and
    ``reference`` (``{"model": name, "test_loss": same kind of dict}``: another model on the same split) beside them.
    ``weights_dtype`` np.float16 stores the weights at half the size (loading casts them back to float32).
    """
    from sketchrnn.train import read_settings, run_lock_of

    check_destination(destination)
    run_dir = Path(run_dir)
    model = checkpoint.load_model(run_dir / "best")
    settings = read_settings(run_dir)
    latest = checkpoint.latest_checkpoint(run_dir)
    state = checkpoint.read_state(latest) if latest else {}
    model.metadata.setdefault("train_settings", {k: v for k, v in settings.__dict__.items() if k != "out"})
    model.metadata.update(
        run_steps=state.get("step"), run_seconds=state.get("elapsed_seconds"),
        machine=model.metadata.get("machine") or machine_description(),
        best_step=model.metadata.get("best_step", model.step),
    )
    imported = imported_sources(model.metadata.get("data", []))
    if imported:
        model.metadata["imported_from"] = imported
    if test_losses:
        model.metadata["test_loss"] = test_losses
    if reference:
        model.metadata["reference_test_loss"] = reference
    model.name = Path(destination).name
    if weights_dtype != np.float32:
        model.metadata["weights_dtype"] = np.dtype(weights_dtype).name
    with run_lock_of(Path(destination).parent):  # a run folder's best/ is not replaced under a running `train`
        checkpoint.save_model(model, destination, weights_dtype=weights_dtype, extra_files={CARD_FILE: model_card(model)})
    return Path(destination)


def model_card(model) -> str:
    """A markdown model card from a model's config and metadata."""
    meta = model.metadata
    settings = meta.get("train_settings", {})
    vae = model.config.kind == "vae"
    what = ("A Sketch-RNN VAE (Ha & Eck 2017, section 3: a bidirectional LSTM encoder to a latent vector z, the decoder "
            "started from z; it redraws and morphs drawings)" if vae else "A decoder-only Sketch-RNN")
    lines = [
        f"# {model.name}", "",
        f"{what} trained by this project's `sketchrnn train` on {data_credit(meta)}. "
        f"Categories: {', '.join(model.categories)}.", "",
        "## Data", "",
        *[f"- `{Path(source).name}`" for source in meta.get("data", [])],
        f"- drawings after cleaning and the {model.config.max_length}-point cap: "
        + ", ".join(f"{k} {v}" for k, v in meta.get("drawings", {}).items()),
        f"- split: deterministic, seed {settings.get('seed', 0)} (official train/valid/test where a file has them); "
        f"drawings rescaled to max side {settings.get('rescale_to')}" if settings.get("rescale_to") else
        f"- split: deterministic, seed {settings.get('seed', 0)} (official train/valid/test where a file has them)",
        f"- scale factor {model.stats.scale_factor:.4g}, typical extent {model.stats.typical_extent:.4g} (normalised units); "
        f"point density: RDP tolerance {model.stats.simplify_epsilon:g} in a 0-255 frame (a person's strokes are "
        f"simplified to it)", "",
        "## Model and training", "",
        f"- LSTM hidden size {model.config.hidden_size}, {model.config.num_mixtures} Gaussians, "
        f"{model.config.num_categories} categor{'y' if model.config.num_categories == 1 else 'ies'}, "
        f"recurrent dropout {model.config.recurrent_dropout}"
        + (f"; encoder 2 x {model.config.encoder_size} units, N_z {model.config.latent_size}" if vae else ""),
        "- settings: " + ", ".join(f"{k}={v}" for k, v in settings.items() if k != "data"),
        f"- this model: step {meta.get('best_step', model.step)} (best validation loss) of a "
        f"{meta.get('run_steps')}-step run, {_hours(meta.get('run_seconds'))} of training on {meta.get('machine')}",
    ]
    if meta.get("init_from"):
        start = meta["init_from"]
        lines.append(f"- started from the weights of {start.get('name')} (step {start.get('step')}, "
                     f"`{start.get('model')}`), not random ones (`--init-from`)")
    if meta.get("weights_dtype"):
        lines.append(f"- weights stored as {meta['weights_dtype']} (computed in float32); the test L_R below is of "
                     f"these stored weights")
    if "valid_loss" in meta:
        valid = meta["valid_loss"]
        lines.append(f"- validation L_R {valid['loss']:.4f}" + (f", L_KL {valid['kl_loss']:.4f}" if "kl_loss" in valid else ""))
    if meta.get("test_loss"):
        lines += ["", *_test_loss_table(meta["test_loss"], meta.get("reference_test_loss"))]
    lines += ["", *model.drawing.card_lines(model.categories)]
    return "\n".join(lines) + "\n"


def imported_sources(data_sources) -> dict[str, list[str]]:
    """For each data file written by ``sketchrnn data import``: the file names of the sources its dataset card lists."""
    from sketchrnn.data import svg_import

    imported = {}
    for source in data_sources:
        card = svg_import.card_path(source) if str(source).lower().endswith(".npz") else None
        if card is not None and card.is_file():
            imported[Path(source).name] = svg_import.card_sources(card.read_text(encoding="utf-8", errors="replace"))
    return imported


def data_credit(meta: dict) -> str:
    """What a model was trained on, with the credit due: Quick, Draw!'s drawings and/or imported line art."""
    imported = meta.get("imported_from") or {}
    names = sorted({Path(name).name for sources in imported.values() for name in sources})
    art = (f"line art imported with `sketchrnn data import` from {', '.join(f'`{name}`' for name in names) or 'SVG files'} "
           "(the licences of those sources apply; see the dataset card beside the data file)")
    if imported and len(imported) == len(meta.get("data", [])):
        return art
    quickdraw = "Quick, Draw! drawings (Google, CC BY 4.0)"
    return f"{quickdraw} and {art}" if imported else quickdraw


def _test_loss_table(test_loss: dict, reference: dict | None) -> list[str]:
    """The card's held-out table: L_R and its parts, L_KL for a VAE, and another model's L_R beside them."""
    kl = all("kl_loss" in result for result in test_loss.values())
    other = reference["test_loss"] if reference else {}
    title = "## Held-out test L_R" + (" and L_KL" if kl else "") + " (never used for training or model selection)"
    header = ["category", "drawings", "L_R", "L_s", "L_p"] + (["L_KL"] if kl else []) + (
        [f"L_R of {reference['model']}"] if reference else [])
    lines = [title, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for category, result in test_loss.items():
        cells = [category, str(result["drawings"])] + [f"{result[k]:.4f}" for k in ("loss", "offset_loss", "pen_loss")]
        cells += [f"{result['kl_loss']:.4f}"] if kl else []
        cells += [f"{other[category]['loss']:.4f}" if category in other else "-"] if reference else []
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "L_R as in Ha & Eck (2017) eqs. 9-11, each drawing padded to N_max = max_length + 1 rows."]
    if kl:
        lines.append("The VAE's L_R is measured decoding from z = mu (the encoding's mean), so it is repeatable; "
                     "L_KL = KL(N(mu, sigma) || N(0, I)) / N_z, eq. 12.")
    return lines


def _hours(seconds) -> str:
    if seconds is None:
        return "unknown time"
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def test_losses_by_category(model_dir, sources, **data_options) -> dict:
    """Test-split L_R of a model for each of its categories, and over all of them under ``all``."""
    from sketchrnn.train import evaluate

    result = evaluate(model_dir, sources, **data_options)
    keys = ("drawings", "loss", "offset_loss", "pen_loss", "kl_loss")
    return {"all": {k: result[k] for k in keys if k in result}, **result["per_category"]}
