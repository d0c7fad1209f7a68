"""Calibrating "what are you drawing?": per-model temperatures, per-(model, category) offsets and length slopes.

:func:`sketchrnn.sample.guess` scores a drawing by each model's mean log-likelihood per point, in canvas
pixels (comparable across models by the change of variables). Raw, those scores are biased and flat:
some models give every drawing a higher likelihood than others do, categories differ in how predictable
their strokes are, models differ in how confident they are, how much a category gains or loses depends
on how far the drawing has got, and a softmax over per-point means puts 8% on each of the top three
guesses whatever the drawing. So ``guess`` ranks categories by the calibrated logit::

    logit(c) = max over models m that draw c of [ score(m, c) / T(m) * (n(m) / 40) ** e(m)
                                                  + offset(m, c) + slope(m, c) log n(m) ]

with ``n(m)`` the number of points model m read, a temperature per model and an offset and a length
slope per (model, category), fitted by maximum likelihood (multinomial logistic regression, each
category weighed alike, a small L2 penalty on the offsets and slopes) on the *valid* splits of the
models' own training data: each drawing complete and cut to its first 40% of points, drawn into the
demo's canvas as a person's drawing arrives. Test splits are never used.

The length exponent ``e(m)`` is 0 unless asked for (``sketchrnn calibrate-guess --length-exponents``):
0 is a mean per point, as sure of a 10-point start as of a finished drawing; 1 would be the drawing's
whole log-likelihood, as if every point were independent evidence. Fitted, it comes out at 0.26-0.39. It
makes the percentages mean more (five-fold cross-validated on the validation drawings,
``benchmarks/guess_penalty.py --with-exponents``: held-out cross-entropy 0.910 -> 0.844 nats, complete
drawings 0.478 -> 0.404, cut ones 1.343 -> 1.283) but does not rank better (validation top-1 the same;
on the test drawings cut to 40% 62.0% -> 60.6%, radio 57% -> 45%), and the endings that ``tries``
chooses by it were recognised a little less often (``docs/quality/tuning/recognisability_length_exponents.md``),
so the bundled calibration keeps it at 0. A file written before the exponent existed loads with every
exponent 0, which is exactly its form.

A category with no validation drawing here (e.g. magenta's cat: magenta trained it, this machine has no
cat split) is fitted on *stand-ins*: the model's own unconditional samples at temperature 1 (draws from
the distribution it learned from the real data), brought into the official simplified format (longer
side 255, RDP 2.0) as the validation drawings are. Left out of the fit, such a category would get median
parameters that do not match its model's level, and was never guessed (0 of 25 real cats; 64% of
complete ones with stand-ins). Checked on categories that do have validation drawings, pretending they
had none: stand-ins give magenta's pig and alarm clock models a calibration close to the one their real drawings
give. A model imported after calibrating gets the median temperature, offset and slope until
``sketchrnn calibrate-guess`` fits again for the models a user has.

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
FORM = "score/T(m)*(n/40)^e(m) + offset(m,c) + slope(m,c)*log(n)"  # written into the file: another form is refused
EARLIER_FORM = "score/T(m) + offset(m,c) + slope(m,c)*log(n)"  # read as FORM with every exponent 0
REFERENCE_POINTS = 40.0  # n at which the length exponent leaves the temperature as it is
CUT_FRACTION = 0.4  # the cut drawings keep this fraction of points, as a drawing in progress
CANVAS_SIDE = 400.0  # the demo's canvas
CANVAS_FILL = 0.8  # a validation drawing's longer side on that canvas
STAND_IN_TEMPERATURE = 1.0  # stand-ins are the model's own distribution, not its sharpened (demo) samples
PENALTY = 1e-5  # L2 on the offsets and slopes: keeps pairs that never win near zero; chosen by benchmarks/guess_penalty.py
FIT_STEPS = 800
BALANCED = True  # every category weighs alike in the fit, however many validation drawings it has (guess_penalty.py)
LENGTH_EXPONENTS = False  # fitted, they calibrate better but rank no better (see the module doc)


def _median(values, default: float) -> float:
    values = list(values)
    return float(np.median(values)) if values else default


@dataclass
class GuessCalibration:
    """How to turn per-point log-likelihoods into calibrated category logits (see the module doc)."""

    temperatures: dict[str, float] = field(default_factory=dict)  # model name -> T(m); fitted: well below 1
    offsets: dict[str, float] = field(default_factory=dict)  # "model/category" -> offset
    slopes: dict[str, float] = field(default_factory=dict)  # "model/category" -> weight of log(points)
    facts: dict = field(default_factory=dict)  # what it was fitted on, and its validation figures
    exponents: dict[str, float] = field(default_factory=dict)  # model name -> e(m); missing: 0 (a mean per point)

    def logits(self, model_name: str, categories, scores, points) -> np.ndarray:
        """Calibrated logits of one model's categories from ``scores [C]``, per-point log-likelihoods of ``points`` points
        (or of one category, from ``scores [E]`` and ``points [E]`` of E drawings)."""
        temperature = self.temperatures.get(model_name, _median(self.temperatures.values(), 1.0))
        exponent = self.exponents.get(model_name, _median(self.exponents.values(), 0.0))
        keys = [pair_key(model_name, c) for c in categories]
        default_offset, default_slope = _median(self.offsets.values(), 0.0), _median(self.slopes.values(), 0.0)
        offsets = np.array([self.offsets.get(k, default_offset) for k in keys])
        slopes = np.array([self.slopes.get(k, default_slope) for k in keys])
        log_points = np.log(np.maximum(points, 1))
        return (np.asarray(scores) / temperature * np.exp(exponent * (log_points - math.log(REFERENCE_POINTS)))
                + offsets + slopes * log_points)

    def save(self, path) -> Path:
        """Write the calibration as JSON (atomically)."""
        from sketchrnn.checkpoint import atomic_write_text

        content = {"form": FORM, "temperatures": self.temperatures, "exponents": self.exponents, "offsets": self.offsets,
                   "slopes": self.slopes, "facts": self.facts}
        atomic_write_text(Path(path), json.dumps(content, indent=2) + "\n")
        return Path(path)

    @classmethod
    def load(cls, path) -> "GuessCalibration":
        """Read a calibration file; a damaged or outdated one is a ValueError saying how to rebuild it."""
        rebuild = "rebuild it with sketchrnn calibrate-guess"
        try:
            content = json.loads(Path(path).read_text())
            if content.get("form") not in (FORM, EARLIER_FORM):
                raise ValueError(f"it was fitted for another form of guess ({content.get('form', 'one temperature')})")
            if content["form"] == EARLIER_FORM:
                content["exponents"] = {}
            names = ("temperatures", "exponents", "offsets", "slopes")
            tables = [{str(k): float(v) for k, v in content[name].items()} for name in names]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{path} is not a usable guess calibration ({error}); {rebuild}") from None
        temperatures, exponents, offsets, slopes = tables
        if not all(math.isfinite(t) and t > 0 for t in temperatures.values()):
            raise ValueError(f"{path}: every temperature must be positive; {rebuild}")
        if not all(map(math.isfinite, [*exponents.values(), *offsets.values(), *slopes.values()])):
            raise ValueError(f"{path}: every length exponent, offset and slope must be finite; {rebuild}")
        return cls(temperatures, offsets, slopes, content.get("facts", {}), exponents)


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


def stand_in_drawings(model, category: str, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` samples of ``model``'s ``category`` at temperature 1, as official simplified drawings.

    Each is scaled so its longer side spans 0-255 and simplified with RDP 2.0, the format of the
    validation drawings; samples with fewer than 2 points left are skipped, and more are drawn in batches
    until ``count`` are found or about twice ``count`` have been drawn (then fewer are returned).
    """
    from sketchrnn import sample

    found, batch = [], 0
    while len(found) < count and batch * sample.MAX_ENDINGS < 2 * count:
        for polylines in sample.sample(model, sample.MAX_ENDINGS, temperature=STAND_IN_TEMPERATURE,
                                       pen_temperature=STAND_IN_TEMPERATURE, guidance=0.0, tries=1,
                                       seed=seed + batch, category=category):
            polylines = [p for p in polylines if len(p)]
            if not polylines:
                continue
            points = np.concatenate(polylines)
            low, extent = points.min(axis=0), float(np.ptp(points, axis=0).max())
            simplified = strokes.rdp_polylines([(p - low) * (255.0 / max(extent, 1e-6)) for p in polylines])
            stroke3 = strokes.polylines_to_stroke3(simplified)
            if len(stroke3) >= 2:
                found.append(stroke3)
        batch += 1
    return found[:count]


def examples_to_fit(models, per_category: int, seed: int = 0) -> tuple[dict[str, list[np.ndarray]], dict[str, int]]:
    """The drawings to fit on, ``{category: [stroke-3]}``, and how many of them are stand-ins per pair.

    Validation drawings where some model's data has the category; where none has, stand-ins from each
    model that draws it (:func:`stand_in_drawings`), as many as a typical category has validation
    drawings (the median; ``per_category`` if no category has any), so a stand-in category weighs as
    much as a real one.
    """
    validation = validation_drawings(models, per_category, seed)
    drawings = dict(validation)  # stand-ins go only under categories it does not have
    count = int(_median([len(items) for items in validation.values()], per_category))
    stand_ins: dict[str, int] = {}
    for model in models:
        for category in model.categories:
            if category in validation:
                continue
            made = stand_in_drawings(model, category, count, seed)
            drawings.setdefault(category, []).extend(made)
            stand_ins[pair_key(model.name, category)] = len(made)
    return drawings, stand_ins


def canvas_examples(drawings: dict[str, list[np.ndarray]]) -> tuple[list[list[np.ndarray]], list[str]]:
    """Each drawing on the canvas complete, then cut to ``CUT_FRACTION``: ``(examples, labels)``, in pairs."""
    examples, labels = [], []
    for category, items in drawings.items():
        for drawing in items:
            for fraction in (1.0, CUT_FRACTION):
                examples.append(on_canvas(drawing, fraction))
                labels.append(category)
    return examples, labels


def score_table(models, examples, canvas_size=(CANVAS_SIDE, CANVAS_SIDE), progress=None):
    """Every example scored by every (model, category): ``(keys [K], scores [E, K], points [E, K])``.

    ``scores`` are per-point log-likelihoods (:func:`sketchrnn.sample.canvas_score`), ``points`` how many
    points the pair's model read.
    """
    from sketchrnn import sample

    keys = [pair_key(model.name, category) for model in models for category in model.categories]
    scores, points = [], []
    for index, polylines in enumerate(examples):
        scored = [sample.canvas_score(model, polylines, canvas_size) for model in models]
        scores.append(np.concatenate([row for row, _ in scored]))
        points.append(np.concatenate([np.full(len(model.categories), n) for model, (_, n) in zip(models, scored)]))
        if progress and ((index + 1) % 50 == 0 or index + 1 == len(examples)):
            progress(index + 1, len(examples))
    return keys, np.array(scores), np.array(points)


@dataclass
class Fitted:
    """What :func:`fit` found."""

    temperatures: dict[str, float]
    offsets: dict[str, float]
    slopes: dict[str, float]
    cross_entropy: float  # weighted mean over the examples (see ``balanced``), in nats
    exponents: dict[str, float] = field(default_factory=dict)  # empty unless fitted (``length_exponents=True``)

    def calibration(self, facts=None) -> "GuessCalibration":
        """What was fitted, as the calibration ``guess`` uses."""
        return GuessCalibration(self.temperatures, self.offsets, self.slopes, facts or {}, self.exponents)


def fit(keys, scores, points, labels, steps: int = FIT_STEPS, penalty: float = PENALTY, balanced: bool = False,
        length_exponents: bool = False) -> Fitted:
    """Fit temperatures, offsets, slopes (and length exponents) by maximum likelihood (the module doc's logit).

    ``scores [E, K]`` per-point log-likelihoods per (model, category) key, ``points [E, K]`` how many
    points each key's model read; ``labels [E]`` the true category of each example. A category's logit
    is the max over its keys, as in ``guess``. Only keys of categories that occur in ``labels`` take
    part, and only models with such a key get a temperature. ``balanced`` weighs every category alike
    (each example by 1 / its category's count) instead of every example alike. Without
    ``length_exponents`` every exponent stays 0 (a mean per point) and ``Fitted.exponents`` is empty.
    """
    import keras
    import tensorflow as tf

    categories = sorted(set(labels))
    used = [k for k, key in enumerate(keys) if key.split("/", 1)[1] in categories]
    model_names = sorted({keys[k].split("/", 1)[0] for k in used})
    owner = tf.constant([[keys[k].split("/", 1)[0] == name for name in model_names] for k in used], tf.float32)  # (K', M)
    members = np.array([[keys[k].split("/", 1)[1] == c for c in categories] for k in used])  # (K', C)
    target = np.array([categories.index(label) for label in labels])
    counts = np.bincount(target, minlength=len(categories))
    weights = tf.constant(1.0 / counts[target] if balanced else np.ones(len(target)), tf.float32)
    weights = weights / tf.reduce_sum(weights)
    table = tf.constant(scores[:, used], tf.float32)  # (E, K')
    log_points = tf.constant(np.log(np.maximum(points[:, used], 1)), tf.float32)
    log_length = log_points - math.log(REFERENCE_POINTS)
    mask = tf.constant(np.where(members, 0.0, -1e9), tf.float32)  # (K', C): -inf where a key is not the category's
    log_inverse_temperatures = keras.Variable(np.full(len(model_names), math.log(10.0), np.float32))
    offsets = keras.Variable(np.zeros(len(used), np.float32), name="offsets")
    slopes = keras.Variable(np.zeros(len(used), np.float32), name="slopes")
    exponents = keras.Variable(np.zeros(len(model_names), np.float32), name="exponents")

    def loss():
        scale = tf.linalg.matvec(owner, log_inverse_temperatures) + tf.linalg.matvec(owner, exponents) * log_length  # (E, K')
        logits = table * tf.exp(scale) + offsets + slopes * log_points  # (E, K')
        by_category = tf.reduce_max(logits[:, :, None] + mask[None], axis=1)  # (E, C)
        cross_entropy = tf.reduce_sum(weights * tf.nn.sparse_softmax_cross_entropy_with_logits(target, by_category))
        return cross_entropy, penalty * (tf.reduce_sum(tf.square(offsets)) + tf.reduce_sum(tf.square(slopes)))

    optimizer = keras.optimizers.Adam(0.05)
    variables = [log_inverse_temperatures, offsets, slopes] + ([exponents] if length_exponents else [])
    optimizer.build(variables)

    @tf.function  # one traced step: 800 eager steps cost seconds, the graph a fraction of one
    def step():
        with tf.GradientTape() as tape:
            total = tf.add_n(loss())
        optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))

    for _ in range(steps):
        step()
    temperatures = {name: float(np.exp(-value)) for name, value in zip(model_names, log_inverse_temperatures.numpy())}
    return Fitted(temperatures, {keys[k]: float(v) for k, v in zip(used, offsets.numpy())},
                  {keys[k]: float(v) for k, v in zip(used, slopes.numpy())}, float(loss()[0]),
                  dict(zip(model_names, map(float, exponents.numpy()))) if length_exponents else {})


def calibrate(models, per_category: int = 250, seed: int = 0, progress=None,
              length_exponents: bool = LENGTH_EXPONENTS) -> GuessCalibration:
    """Fit the calibration of ``models`` on their validation drawings (stand-ins where a category has none),
    complete and cut to 40%; ``length_exponents`` also fits an exponent per model (see the module doc)."""
    drawings, stand_ins = examples_to_fit(models, per_category, seed)
    if not drawings:
        raise ValueError("no models to calibrate: give at least one model directory")
    examples, labels = canvas_examples(drawings)
    keys, scores, points = score_table(models, examples, progress=progress)
    fitted = fit(keys, scores, points, labels, balanced=BALANCED, length_exponents=length_exponents)
    facts = {"models": [m.name for m in models], "examples": len(examples), "per_category": per_category,
             "cut_fraction": CUT_FRACTION, "penalty": PENALTY, "balanced": BALANCED, "stand_ins": stand_ins,
             "stand_in_temperature": STAND_IN_TEMPERATURE, "length_exponents": length_exponents,
             "validation_cross_entropy": round(fitted.cross_entropy, 4),
             "date": datetime.date.today().isoformat()}
    return fitted.calibration(facts)
