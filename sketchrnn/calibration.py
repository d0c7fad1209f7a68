"""Calibrating "what are you drawing?": a temperature and a per-(model, category) offset fitted on validation drawings.

:func:`sketchrnn.sample.guess` scores a drawing by each model's mean log-likelihood per point, in canvas
pixels (comparable across models by the change of variables). Raw, those scores are biased and flat:
some models give every drawing a higher likelihood than others do, categories differ in how predictable
their strokes are, and a softmax over per-point means puts 8% on each of the top three guesses whatever
the drawing. So ``guess`` ranks categories by the calibrated logit::

    logit(c) = max over models m that draw c of [ score(m, c) / temperature + offset(m, c) ]

with ``temperature`` and the offsets fitted by maximum likelihood (multinomial logistic regression, a
small L2 penalty on the offsets) on the *valid* splits of the models' own training data: each drawing
complete and cut to its first 40% of points, drawn into the demo's canvas as a person's drawing
arrives. Test splits are never used. A (model, category) pair with no validation drawing (e.g. a
magenta model of a category without data here) gets the median offset, as does a model imported after
calibrating; ``sketchrnn calibrate-guess`` fits again for the models a user has.

The result is JSON beside the bundled models: ``data/models/guess_calibration.json``.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sketchrnn import strokes

CALIBRATION_FILE = "guess_calibration.json"
CUT_FRACTION = 0.4  # the cut drawings keep this fraction of points, as a drawing in progress
CANVAS_SIDE = 400.0  # the demo's canvas
CANVAS_FILL = 0.8  # a validation drawing's longer side on that canvas
OFFSET_PENALTY = 1e-3  # L2 weight on the offsets: keeps pairs with little evidence near zero
FIT_STEPS = 600


@dataclass
class GuessCalibration:
    """How to turn per-point log-likelihoods into calibrated category logits (see the module doc)."""

    temperature: float = 1.0  # per-point scores are divided by this (fitted: well below 1, they are flat)
    offsets: dict[str, float] = field(default_factory=dict)  # "model/category" -> offset
    facts: dict = field(default_factory=dict)  # what it was fitted on, and its validation figures

    def default_offset(self) -> float:
        """The offset of a pair that was not fitted: the median of the fitted ones."""
        return float(np.median(list(self.offsets.values()))) if self.offsets else 0.0

    def logits(self, model_name: str, categories, scores) -> np.ndarray:
        """Calibrated logits of ``scores [C]`` (per-point log-likelihoods) of one model's categories."""
        default = self.default_offset()
        offsets = np.array([self.offsets.get(pair_key(model_name, c), default) for c in categories])
        return np.asarray(scores) / self.temperature + offsets

    def save(self, path) -> Path:
        """Write the calibration as JSON (atomically)."""
        from sketchrnn.checkpoint import atomic_write_text

        content = {"temperature": self.temperature, "offsets": self.offsets, "facts": self.facts}
        atomic_write_text(Path(path), json.dumps(content, indent=2) + "\n")
        return Path(path)

    @classmethod
    def load(cls, path) -> "GuessCalibration":
        """Read a calibration file; a damaged one is a ValueError saying how to rebuild it."""
        try:
            content = json.loads(Path(path).read_text())
            temperature = float(content["temperature"])
            offsets = {str(k): float(v) for k, v in content["offsets"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{path} is not a guess calibration ({error}); rebuild it with sketchrnn calibrate-guess") from None
        if not (math.isfinite(temperature) and temperature > 0) or not all(map(math.isfinite, offsets.values())):
            raise ValueError(f"{path}: the temperature must be positive and every offset finite")
        return cls(temperature, offsets, content.get("facts", {}))


def pair_key(model_name: str, category: str) -> str:
    """The key of a (model, category) pair in :attr:`GuessCalibration.offsets`."""
    return f"{model_name}/{category}"


def default_path(root=None) -> Path:
    """Where the bundled calibration lives: beside the bundled models."""
    root = Path(root) if root is not None else Path(__file__).resolve().parent.parent / "data" / "models"
    return root / CALIBRATION_FILE


def load_default(root=None) -> GuessCalibration | None:
    """The calibration beside the bundled models, or None if there is none."""
    path = default_path(root)
    return GuessCalibration.load(path) if path.is_file() else None


# ----------------------------------------------------------------------------------------------
# Fitting


def on_canvas(stroke3, fraction: float = 1.0) -> list[np.ndarray]:
    """A drawing (its first ``fraction`` of points) as canvas strokes: centred, longer side at 80% of the canvas."""
    polylines = strokes.stroke3_to_polylines(stroke3)
    points = np.concatenate(polylines)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = CANVAS_FILL * CANVAS_SIDE / max(float((high - low).max()), 1e-6)
    placed = [(p - (low + high) / 2) * scale + CANVAS_SIDE / 2 for p in polylines]
    keep = max(2, int(round(len(stroke3) * fraction)))
    return strokes.stroke3_to_polylines(strokes.polylines_to_stroke3(placed, origin=None)[:keep], origin=placed[0][0])


def validation_drawings(models, per_category: int, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Up to ``per_category`` valid-split drawings of each category, from every model trained here."""
    from sketchrnn.data import load_dataset
    from sketchrnn.train import training_data_options

    found: dict[str, list[np.ndarray]] = {}
    for model in models:
        sources = model.metadata.get("train_settings", {}).get("data")
        if not sources:
            continue  # an imported model: no training data here
        options = training_data_options(model)
        dataset = load_dataset(sources, seed=options["seed"], rescale_to=options["rescale_to"], categories=options["categories"])
        part = dataset.splits["valid"]
        for index, drawing in enumerate(part.drawings):
            found.setdefault(dataset.categories[part.category_ids[index]], []).append(drawing)
    rng = np.random.default_rng(seed)
    return {c: [found[c][i] for i in sorted(rng.permutation(len(found[c]))[:per_category])] for c in sorted(found)}


def score_table(models, examples, canvas_size=(CANVAS_SIDE, CANVAS_SIDE), progress=None):
    """Per-point scores of every example under every (model, category): ``(keys [K], scores [E, K])``."""
    from sketchrnn import sample

    keys = [pair_key(model.name, category) for model in models for category in model.categories]
    rows = []
    for index, polylines in enumerate(examples):
        rows.append(np.concatenate([sample.canvas_score(model, polylines, canvas_size) for model in models]))
        if progress and ((index + 1) % 50 == 0 or index + 1 == len(examples)):
            progress(index + 1, len(examples))
    return keys, np.array(rows)


def fit(keys, scores, labels, steps: int = FIT_STEPS) -> tuple[float, dict[str, float], float]:
    """Fit temperature and offsets by maximum likelihood; returns them and the final mean cross-entropy.

    ``scores [E, K]`` per (model, category) key; ``labels [E]`` the true category of each example. A
    category's logit is the max over its keys, as in ``guess``. Only keys of categories that occur in
    ``labels`` take part.
    """
    import keras
    import tensorflow as tf

    categories = sorted(set(labels))
    used = [k for k, key in enumerate(keys) if key.split("/", 1)[1] in categories]
    members = np.array([[key.split("/", 1)[1] == c for c in categories] for key in (keys[k] for k in used)])  # (K', C)
    target = np.array([categories.index(label) for label in labels])
    table = tf.constant(scores[:, used], tf.float32)  # (E, K')
    log_inverse_temperature = keras.Variable(0.0, name="log_inverse_temperature")
    offsets = keras.Variable(np.zeros(len(used), np.float32), name="offsets")
    mask = tf.constant(np.where(members, 0.0, -1e9), tf.float32)  # (K', C): -inf where a key is not the category's

    def loss():
        logits = table * tf.exp(log_inverse_temperature) + offsets  # (E, K')
        by_category = tf.reduce_max(logits[:, :, None] + mask[None], axis=1)  # (E, C)
        cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(target, by_category)
        return tf.reduce_mean(cross_entropy), OFFSET_PENALTY * tf.reduce_sum(tf.square(offsets))

    optimizer = keras.optimizers.Adam(0.05)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            total = tf.add_n(loss())
        variables = [log_inverse_temperature, offsets]
        optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
    temperature = float(np.exp(-log_inverse_temperature.numpy()))
    fitted = {keys[k]: float(v) for k, v in zip(used, offsets.numpy())}
    return temperature, fitted, float(loss()[0])


def calibrate(models, per_category: int = 25, seed: int = 0, progress=None) -> GuessCalibration:
    """Fit the calibration of ``models`` on their validation drawings, complete and cut to 40%."""
    drawings = validation_drawings(models, per_category, seed)
    if not drawings:
        raise ValueError("none of these models was trained here, so there are no validation drawings to calibrate on")
    examples, labels = [], []
    for category, items in drawings.items():
        for drawing in items:
            for fraction in (1.0, CUT_FRACTION):
                examples.append(on_canvas(drawing, fraction))
                labels.append(category)
    keys, scores = score_table(models, examples, progress=progress)
    temperature, offsets, cross_entropy = fit(keys, scores, labels)
    facts = {"models": [m.name for m in models], "examples": len(examples), "per_category": per_category,
             "cut_fraction": CUT_FRACTION, "validation_cross_entropy": round(cross_entropy, 4),
             "date": datetime.date.today().isoformat()}
    return GuessCalibration(temperature, offsets, facts)
