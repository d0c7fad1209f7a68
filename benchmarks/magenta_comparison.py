"""Our models against magenta's pretrained ones: held-out L_R in the same units, on the same drawings.

For every category both serve (our model: default data/models/quickdraw6; magenta's: the
``.gen.json`` files in ../shared/data/magenta, converted in memory by ``sketchrnn.magenta``), on the
test split of *our* model's training data (never seen by our model; magenta's models were trained by
Google on the official training split, and the shared .npz files come from the official test split):

  * each drawing is rescaled to max side = the model's own size (ours: 255, as trained; magenta's:
    its typical extent measured on its own samples), normalised by the model's scale factor, padded
    to N_max = 251 rows, and scored with the paper's L_R (eqs. 9-11);
  * the offset term is converted to the common unit -- log-density per pixel of the 0-255 frame --
    by the change of variables: a point's log-density in frame pixels = its log-density in the model's
    units + 2 log(g / scale_factor), g = the model's size / 255. So L_s in the table is
    ``L_s(model units) - 2 log(g / scale_factor) * points / N_max``, averaged over drawings; L_p needs no
    conversion. Lower is better; the figures compare across the two models row by row.

    python benchmarks/magenta_comparison.py [--ours data/models/quickdraw6] [--magenta-dir ../shared/data/magenta]
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from sketchrnn import checkpoint, magenta, strokes  # noqa: E402
from sketchrnn.data import load_dataset  # noqa: E402
from sketchrnn.model import reconstruction_loss  # noqa: E402
from sketchrnn.pipeline import evaluation_batches  # noqa: E402
from sketchrnn.train import training_data_options  # noqa: E402

N_MAX = 251  # the paper's padded length for a 250-point cap: the same for both models
FRAME = 255.0


def common_unit_loss(model, drawings_255, category: str) -> dict:
    """L_R, L_s, L_p of ``model`` on drawings at max side 255, in 0-255-frame pixel units (see module doc)."""
    size = model.metadata.get("rescale_to") or training_data_options(model)["rescale_to"] or FRAME
    scale = size / FRAME
    drawings = [strokes.normalize(strokes.denormalize(d, scale), model.stats.scale_factor) for d in drawings_255]
    category_ids = np.full(len(drawings), model.category_id(category), np.int32)
    offset, pen = [], []
    for inputs, targets, ids in evaluation_batches(drawings, category_ids, 100, rows=N_MAX + 1):
        model_inputs = (tf.constant(inputs), tf.constant(ids)) if model.config.num_categories > 1 else tf.constant(inputs)
        outputs, _ = model.network(model_inputs)
        parts = reconstruction_loss(outputs, targets, model.config.num_mixtures, n_max=N_MAX,
                                    min_log_sigma=model.config.min_log_sigma)
        offset += list(parts[0].numpy())
        pen += list(parts[1].numpy())
    points = np.array([len(d) for d in drawings])
    offset = np.array(offset) - 2.0 * math.log(scale / model.stats.scale_factor) * points / N_MAX
    return {"L_R": float(np.mean(offset + pen)), "L_s": float(np.mean(offset)), "L_p": float(np.mean(pen))}


def test_drawings(model, category: str) -> list[np.ndarray]:
    """The test split of ``category`` from our model's own training data, at max side 255."""
    options = training_data_options(model)
    sources = model.metadata["train_settings"]["data"]
    dataset = load_dataset(sources, seed=options["seed"], rescale_to=FRAME, categories=[category])
    return dataset.splits["test"].drawings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ours", default="data/models/quickdraw6", help="our model directory")
    parser.add_argument("--magenta-dir", default="../shared/data/magenta", help="folder of magenta .gen.json files")
    arguments = parser.parse_args(argv)
    ours = checkpoint.load_model(arguments.ours)
    print(f"held-out L_R in 0-255-frame pixels, N_max {N_MAX}; test split of {ours.name}'s data (lower is better)")
    print(f"{'category':<12} {'drawings':>8} | {'ours L_R':>9} {'L_s':>7} {'L_p':>6} | {'magenta L_R':>11} {'L_s':>7} {'L_p':>6}")
    for path in sorted(Path(arguments.magenta_dir).glob("*.gen.json")):
        theirs = magenta.to_trained_model(magenta.read_gen_json(path), source=path.name)
        category = theirs.categories[0]
        if category not in ours.categories:
            continue
        drawings = test_drawings(ours, category)
        a, b = common_unit_loss(ours, drawings, category), common_unit_loss(theirs, drawings, category)
        print(f"{category:<12} {len(drawings):>8} | {a['L_R']:>9.4f} {a['L_s']:>7.4f} {a['L_p']:>6.4f} | "
              f"{b['L_R']:>11.4f} {b['L_s']:>7.4f} {b['L_p']:>6.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
