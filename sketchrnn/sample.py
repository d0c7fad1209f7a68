"""Drawing with a trained model: new drawings, completions of a person's strokes, and scoring.

The model's compiled sampler (``model.sampler``, :class:`sketchrnn.model.Sampler`) runs the LSTM: priming
and the whole sampling loop in one XLA-compiled ``tf.while_loop``, with randomness from stateless ops keyed
by ``(seed, step)``, so the same seed gives the same drawing, always; scoring ("what are you drawing?") runs
the same compiled step over the drawing's rows and gives each point's log-likelihood. This module checks a
person's input, maps their canvas onto the model's units and back, ranks categories by those scores,
(with ``tries``) keeps the drawings a model itself finds most like the chosen category (:func:`most_like`), and
(with ``guidance``) has a model of several categories guide each step towards the chosen one (:func:`guided`).
``tests/test_sample.py`` checks the compiled path against the Keras network and a NumPy reference step.

Everything here is a pure function of the model, the inputs and an explicit seed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from sketchrnn import strokes
from sketchrnn.drawing_settings import MAX_GUIDANCE, MAX_TEMPERATURE, MAX_TRIES, resolved

MAX_ENDINGS = 16
SCORING_THREADS = 2  # models scored at once by guess (one per CPU core here)
MAX_INPUT_POINTS = 20000  # more raw points than this is not a drawing we can take
MAX_COORDINATE = 1e6
CANVAS_FILL = 0.8  # a drawing filling this fraction of the canvas gets the model's typical size
MIN_ENDING_STEPS = 50  # an ending may always run this many steps, however long the person's drawing
MAX_RDP_PASSES = 10  # RDP passes at most when fitting a drawing to the model: bounds the work per drawing
RDP_PIECE_POINTS = 256  # RDP runs on pieces of at most this many points: a pass costs O(points x 256) at worst


@dataclass
class Completion:
    """A person's strokes and the model's endings, all in the person's (canvas) coordinates."""

    prime: list[np.ndarray]  # the person's strokes, (k, 2) arrays
    endings: list[list[np.ndarray]]  # n endings, each a list of (k, 2) strokes continuing the prime
    left_out: int = 0  # the person's shortest strokes the model could not take (more strokes than it reads)


def is_number(value) -> bool:
    """A real number (not a bool); may be NaN, infinite or an int too large for a float."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))


def shown(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages (an int of 400 digits stays readable)."""
    if isinstance(value, int) and abs(value) >= 10**limit:  # str() refuses ints over 4,300 digits
        return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    return cut(repr(value), limit)


def cut(text: str, limit: int) -> str:
    """``text``, cut to ``limit`` characters with "..." when longer (a message stays readable whatever it names)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_sampling_options(n: int, temperature: float, pen_temperature: float | None = None) -> None:
    if not is_number(n) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_ENDINGS:
        raise ValueError(f"number of drawings must be a whole number from 1 to {MAX_ENDINGS}, got {shown(n)}")
    for name, value in (("temperature", temperature), ("pen temperature", pen_temperature)):
        if (value is not None or name == "temperature") and not (is_number(value) and 0.0 < value <= MAX_TEMPERATURE):
            raise ValueError(f"{name} must be a number in (0, {MAX_TEMPERATURE:g}], got {shown(value)}; "
                             "0.2-0.6 gives tidy drawings")


def check_guidance(guidance) -> None:
    if not (is_number(guidance) and 0.0 <= guidance <= MAX_GUIDANCE):
        raise ValueError(f"guidance must be a number from 0 to {MAX_GUIDANCE:g}, got {shown(guidance)} "
                         "(0 draws without it; 8 prefers what only the chosen category draws)")


def guided(model, guidance: float) -> dict:
    """The sampler's guidance arguments for ``model``: guidance needs categories to compare, so a model of one
    category, or a VAE (whose drawings follow z), draws without it."""
    if guidance > 0 and decoder_of_categories(model):
        return {"guidance": float(guidance), "categories": len(model.categories)}
    return {}


def check_max_steps(max_steps) -> None:
    if max_steps is not None and not (is_number(max_steps) and isinstance(max_steps, (int, np.integer))
                                      and max_steps >= 1):
        raise ValueError(f"max_steps must be a whole number of at least 1, got {shown(max_steps)}")


def check_canvas_size(canvas_size) -> None:
    if canvas_size is None:
        return
    if (not isinstance(canvas_size, (list, tuple, np.ndarray)) or len(canvas_size) != 2
            or not all(is_number(side) and 1 <= side <= MAX_COORDINATE for side in canvas_size)):
        raise ValueError(f"canvas size must be two numbers (width, height) from 1 to {MAX_COORDINATE:.0f} "
                         f"pixels, got {shown(canvas_size)}")


def settings_for_drawing(model, category, n, temperature, pen_temperature, guidance, tries) -> tuple:
    """``(temperature, pen_temperature, guidance, tries)`` a drawing uses: those given, else the model's for the
    category (:func:`sketchrnn.drawing_settings.resolved`), checked with messages naming what is accepted."""
    settings = resolved(model, category, temperature=temperature, pen_temperature=pen_temperature,
                        guidance=guidance, tries=tries)
    check_sampling_options(n, settings.temperature, settings.pen_temperature)
    check_tries(settings.tries)
    check_guidance(settings.guidance)
    return settings.temperature, settings.pen_temperature, settings.guidance, settings.tries


def sample(model, n: int = 1, *, temperature: float | None = None, seed: int = 0, category=None,
           max_steps: int | None = None, greedy: bool = False, pen_temperature: float | None = None,
           tries: int | None = None, calibration=None, guidance: float | None = None):
    """Draw ``n`` new drawings; each is a list of polylines in the data's units (e.g. 0-255-like).

    ``temperature`` tau divides the mixture logits and scales sigma by sqrt(tau), as the paper;
    ``pen_temperature`` tempers the pen state's logits (the paper uses tau: pass the same value for that).
    With ``tries`` > 1 the model draws ``n * tries`` and keeps the ``n`` it finds most like ``category``
    (:func:`most_like`). ``guidance`` > 0 steers each step towards what the chosen category draws and the
    model's other categories do not (:meth:`sketchrnn.model.Sampler.generate`; a model of one category
    ignores it). A setting left None is the model's for the category (``model.drawing``, see
    :mod:`sketchrnn.drawing_settings`; the project's defaults when it has none), as the CLI and the demo use.
    """
    check_seed(seed)
    temperature, pen_temperature, guidance, tries = settings_for_drawing(model, category, n, temperature,
                                                                         pen_temperature, guidance, tries)
    check_max_steps(max_steps)
    category_id = model.category_id(category)
    drawn = drawings_to_draw(model, n, tries, greedy)
    drawings = model.sampler.generate(
        np.zeros((0, 3), np.float32), np.full(drawn, category_id), max_steps or model.config.max_length,
        float(temperature), seed, greedy, pen_temperature, **guided(model, guidance),
    )
    drawings = [strokes.stroke3_to_polylines(strokes.denormalize(d, model.stats.scale_factor)) for d in drawings]
    if drawn > n:
        drawings = [drawings[i] for i in most_like(model, category_id, [], drawings, n, calibration=calibration)]
    return drawings


def check_tries(tries) -> None:
    if not is_number(tries) or not isinstance(tries, (int, np.integer)) or not 1 <= tries <= MAX_TRIES:
        raise ValueError(f"tries must be a whole number from 1 to {MAX_TRIES}, got {shown(tries)} "
                         "(1 keeps the first drawings drawn)")


def compares_categories(model) -> bool:
    """Whether ``tries`` can choose among a model's drawings: it draws several categories to compare them by."""
    return len(model.categories) > 1


def decoder_of_categories(model) -> bool:
    """A decoder of several categories: the models whose drawings guidance steers and the demo's tries choose
    among (a VAE's drawings follow z, a model of one category has nothing to compare)."""
    return model.config.kind == "decoder" and compares_categories(model)


def drawings_to_draw(model, n: int, tries: int, greedy: bool) -> int:
    """How many drawings to draw to keep ``n``: ``n * tries``, except where there is nothing to choose
    between (greedy drawings are all alike) or nothing to compare with (a model of one category)."""
    return n * tries if compares_categories(model) and not greedy else n


def most_like(model, category_id: int, prime, drawings, keep: int, canvas_size=None, calibration=None) -> list[int]:
    """Indices of the ``keep`` drawings the model itself finds most like its category ``category_id``, best first.

    Each whole drawing (the person's ``prime`` strokes, then one of ``drawings``, canvas units) is scored
    as "what are you drawing?" scores it, by this model alone: its per-point log-likelihood under each of
    the model's categories (:func:`canvas_score`), calibrated when a ``calibration`` is given
    (:class:`sketchrnn.calibration.GuessCalibration`), and ranked by the share of ``category_id`` in the
    softmax over them. An ending that could as well be another of the model's categories (a pig's ending
    that makes an alarm clock) ranks low. Only the model's own likelihoods take part: nothing from outside
    the model steers its drawings.
    """
    shares = []
    for drawing in drawings:
        whole = list(prime) + list(drawing)
        if sum(len(stroke) for stroke in whole) < 2:  # a drawing of nothing is like nothing: last
            shares.append(-np.inf)
            continue
        scores, points = canvas_score(model, whole, canvas_size)
        if calibration is not None:
            scores = calibration.logits(model.name, model.categories, scores, points)
        shares.append(scores[category_id] - np.logaddexp.reduce(scores))
    return [int(i) for i in np.argsort(-np.asarray(shares), kind="stable")[:keep]]


def check_seed(seed) -> None:
    if not is_number(seed) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be a whole number from 0 to 2147483647, got {shown(seed)}")


def check_canvas_strokes(strokes_in) -> list[np.ndarray]:
    """Validate a person's drawing (a list of strokes, each a list of ``[x, y]``); returns float arrays.

    Raises ValueError saying what is wrong (and where) for anything else: no strokes, more than
    ``MAX_INPUT_POINTS`` points, a point that is not two numbers, a missing (null), non-finite or
    absurdly large coordinate, fewer than two points in all. Empty strokes are dropped.
    """
    if not isinstance(strokes_in, (list, tuple)) or len(strokes_in) == 0:
        raise ValueError("the drawing is empty: draw at least one stroke first")
    if len(strokes_in) > MAX_INPUT_POINTS:
        raise ValueError(f"the drawing has more than {MAX_INPUT_POINTS} strokes; draw something simpler")
    for index, stroke in enumerate(strokes_in):
        if not isinstance(stroke, (list, tuple, np.ndarray)):
            raise ValueError(f"stroke {index + 1} is not a list of [x, y] points")
    if sum(len(stroke) for stroke in strokes_in) > MAX_INPUT_POINTS:
        raise ValueError(f"the drawing has more than {MAX_INPUT_POINTS} points; draw something simpler")
    checked = [_stroke_points(stroke, f"stroke {index + 1}") for index, stroke in enumerate(strokes_in)]
    checked = [points for points in checked if len(points)]
    if sum(len(points) for points in checked) < 2:
        raise ValueError("the drawing is a single dot: draw a line of at least two points")
    return checked


def _stroke_points(stroke, where: str) -> np.ndarray:
    """One stroke as a ``(k, 2)`` float array, or a ValueError naming the stroke and what is wrong."""
    if isinstance(stroke, np.ndarray) and stroke.dtype.kind in "iuf" and stroke.ndim == 2 and stroke.shape[1] == 2:
        points = stroke.astype(np.float64)
    else:
        points = np.array([_point(point, where) for point in stroke], dtype=np.float64).reshape(-1, 2)
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{where} has a coordinate that is NaN or infinite; coordinates must be finite numbers")
    if len(points) and np.abs(points).max() > MAX_COORDINATE:
        raise ValueError(f"{where} has absurdly large coordinates (beyond {MAX_COORDINATE:.0f} pixels)")
    return points


def _point(point, where: str) -> tuple[float, float]:
    """One ``[x, y]`` point as two floats, or a ValueError saying what is wrong with it."""
    if not isinstance(point, (list, tuple, np.ndarray)) or len(point) != 2:
        raise ValueError(f"{where} has a point that is not a pair of numbers: it must be a list of [x, y] points")
    for coordinate in point:
        if coordinate is None:
            raise ValueError(f"{where} has a point with a missing coordinate (null); each point must be [x, y] numbers")
        if not is_number(coordinate):
            raise ValueError(f"{where} holds something other than numbers ({shown(coordinate, 30)}); "
                             "each point must be [x, y]")
        if isinstance(coordinate, int) and abs(coordinate) > MAX_COORDINATE:  # may be too large for a float
            raise ValueError(f"{where} has absurdly large coordinates (beyond {MAX_COORDINATE:.0f} pixels)")
    return point[0], point[1]


def canvas_to_model(polylines, model, canvas_size=None):
    """A person's canvas strokes as normalised stroke-3 for the model, and the pixel -> model factor.

    The canvas (``canvas_size = (width, height)``; default: the drawing's own bounding box) is
    mapped so that a drawing filling ``CANVAS_FILL`` of it gets the model's typical extent; the
    drawing's size relative to the canvas is kept. Strokes are simplified with RDP to the density of
    the model's training drawings (``model.stats.simplify_epsilon`` in 0-255 units, where 255 is a
    drawing filling ``CANVAS_FILL`` of the canvas, as QuickDraw scales each drawing); a drawing still
    longer than the model can take is simplified further until it fits (see :func:`fit_point_budget`),
    never cut.
    """
    polylines = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polylines]
    polylines = [p for p in polylines if len(p)]
    if not polylines:
        raise ValueError("the drawing is empty: draw at least one stroke first")
    points = np.concatenate(polylines)
    extent = float(max(canvas_size)) if canvas_size else float(np.ptp(points, axis=0).max() / CANVAS_FILL)
    extent = max(extent, 1e-6)
    to_255 = 255.0 / (CANVAS_FILL * extent)  # a drawing of the typical size spans 0-255
    limit = max(model.config.max_length - MIN_ENDING_STEPS, 2)
    simplified = fit_point_budget([p * to_255 for p in polylines], limit, model.stats.simplify_epsilon)
    factor = model.stats.typical_extent / 255.0  # normalised units per 0-255 unit
    stroke3 = strokes.polylines_to_stroke3([s * factor for s in simplified], origin=None)
    return stroke3.astype(np.float32), to_255 * factor


def fit_point_budget(polylines, limit: int, epsilon: float = strokes.RDP_EPSILON) -> list[np.ndarray]:
    """Simplify strokes (0-255 units) with RDP at ``epsilon``, then coarser until at most ``limit`` points
    remain, in at most ``MAX_RDP_PASSES`` RDP passes.

    Each pass simplifies the previous pass's strokes with a larger epsilon (1.5x, up to 4x when far
    over). Strokes cannot shrink below their two end points, so when two points per stroke are too
    many, the shortest strokes are left out first (never the last one, which the endings continue);
    if the passes end over the limit, each stroke keeps only its end points. Always terminates.
    """
    polylines = _drop_shortest_strokes(polylines, limit)
    for _ in range(MAX_RDP_PASSES):
        polylines = _rdp_in_pieces(polylines, epsilon)
        count = sum(len(p) for p in polylines)
        if count <= limit:
            return polylines
        epsilon *= min(max(count / limit, 1.5), 4.0)
    return [p[[0, -1]] if len(p) > 1 else p for p in polylines]


def _drop_shortest_strokes(polylines, limit: int) -> list[np.ndarray]:
    """Leave out the fewest, shortest strokes (never the last) so that two points per stroke fit ``limit``."""
    floor = np.minimum([len(p) for p in polylines], 2)  # what RDP can shrink each stroke to
    excess = int(floor.sum()) - limit
    if excess <= 0:
        return polylines
    sizes = np.array([len(p) for p in polylines])
    points = np.concatenate(polylines)
    steps = np.append(np.hypot(*np.diff(points, axis=0).T), 0.0)  # (N,) ink from each point to the next
    steps[np.cumsum(sizes) - 1] = 0.0  # the jump to the next stroke is not ink
    ink = np.add.reduceat(steps, np.cumsum(sizes) - sizes)  # (S,) each stroke's length
    order = np.argsort(ink[:-1], kind="stable")  # shortest first; the last stroke stays
    dropped = order[: int(np.searchsorted(np.cumsum(floor[order]), excess)) + 1]
    keep = np.ones(len(polylines), dtype=bool)
    keep[dropped] = False
    return [p for p, kept in zip(polylines, keep) if kept]


def _rdp_in_pieces(polylines, epsilon: float) -> list[np.ndarray]:
    """RDP on every stroke, long strokes cut into pieces of ``RDP_PIECE_POINTS`` that share end points.

    RDP can take one round per point (a zigzag); pieces bound a pass to ~points x RDP_PIECE_POINTS work.
    """
    pieces, owners = [], []
    for index, stroke in enumerate(polylines):
        starts = range(0, max(len(stroke) - 1, 1), RDP_PIECE_POINTS - 1)
        pieces += [stroke[start : start + RDP_PIECE_POINTS] for start in starts]
        owners += [index] * len(starts)
    joined: list[list[np.ndarray]] = [[] for _ in polylines]
    for owner, piece in zip(owners, strokes.rdp_polylines(pieces, epsilon)):
        joined[owner].append(piece[1:] if joined[owner] else piece)  # a piece starts where the last ended
    return [np.concatenate(parts) for parts in joined]


def complete(model, strokes_in, n: int = 4, *, temperature: float | None = None, seed: int = 0, category=None,
             max_steps: int | None = None, greedy: bool = False, canvas_size=None,
             pen_temperature: float | None = None, tries: int | None = None, calibration=None,
             guidance: float | None = None) -> Completion:
    """Complete a person's drawing ``n`` ways; the endings continue from their last point (canvas units).

    ``max_steps`` caps each ending's points (default: what the model's length cap leaves after the
    person's drawing, at least ``MIN_ENDING_STEPS``). Temperatures as in :func:`sample`. With ``tries`` > 1
    the model draws ``n * tries`` endings and keeps the ``n`` whose whole drawings it finds most like
    ``category`` (:func:`most_like`, with the guess ``calibration`` if given), best first. ``guidance`` as in
    :func:`sample`; a setting left None is the model's, as in :func:`sample`.
    """
    check_seed(seed)
    temperature, pen_temperature, guidance, tries = settings_for_drawing(model, category, n, temperature,
                                                                         pen_temperature, guidance, tries)
    check_max_steps(max_steps)
    check_canvas_size(canvas_size)
    polylines = check_canvas_strokes(strokes_in)
    category_id = model.category_id(category)
    drawn = drawings_to_draw(model, n, tries, greedy)
    stroke3, pixel_factor = canvas_to_model(polylines, model, canvas_size)
    steps = max_steps or max(model.config.max_length - len(stroke3), MIN_ENDING_STEPS)
    endings = model.sampler.generate(stroke3, np.full(drawn, category_id), steps, float(temperature), seed, greedy,
                                     pen_temperature, **guided(model, guidance))
    last_point = polylines[-1][-1]
    endings = [[p / pixel_factor + last_point for p in strokes.stroke3_to_polylines(e)] for e in endings]
    if drawn > n:
        endings = [endings[i] for i in most_like(model, category_id, polylines, endings, n, canvas_size, calibration)]
    return Completion(
        prime=polylines,
        endings=endings,
        left_out=len(polylines) - int(stroke3[:, 2].sum()),  # each stroke the model read ends with a pen lift
    )


def log_likelihood(model, stroke3, category_ids) -> np.ndarray:
    """Mean log-likelihood per point of a (partial) normalised drawing, for each category id ``[B]``.

    Per point: log of the offset mixture density plus log of the pen state's probability
    (the paper's L_s and L_p terms, without the end-of-drawing row, since the drawing may go on),
    computed in the compiled loop (:meth:`sketchrnn.model.Sampler.log_likelihoods`).
    """
    stroke5 = strokes.stroke3_to_stroke5(stroke3)[:-1]  # (L + 1, 5): start token and points, no end row
    return model.sampler.log_likelihoods(stroke5, category_ids).mean(axis=-1)


def canvas_score(model, polylines, canvas_size=None) -> tuple[np.ndarray, int]:
    """Per-point log-likelihood of a canvas drawing under each category of ``model``, in canvas-pixel units,
    and how many points the model read: ``(scores [C], n)``.

    The drawing is mapped into the model's units; the change of variables back to canvas pixels adds
    2 log(pixel factor) per point, which makes scores of models with different units comparable.
    """
    stroke3, pixel_factor = canvas_to_model(polylines, model, canvas_size)
    scores = log_likelihood(model, stroke3, np.arange(len(model.categories))) + 2.0 * np.log(pixel_factor)
    return scores, len(stroke3)


def guess(models, strokes_in, *, top: int = 3, canvas_size=None, calibration=None) -> list[tuple[str, float]]:
    """Rank categories for a (partial) drawing by likelihood: ``[(category, probability)]``, best first.

    Each model scores the drawing mapped into its own units (:func:`canvas_score`: mean log-likelihood
    per point, in canvas pixels). With a ``calibration`` (:class:`sketchrnn.calibration.GuessCalibration`,
    fitted on validation drawings) the scores become calibrated logits; without one, the raw scores are
    the logits. A category drawn by several models gets one vote, its best model's; a softmax over the
    categories gives the probabilities.
    """
    if not is_number(top) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be a whole number of at least 1, got {shown(top)}")
    check_canvas_size(canvas_size)
    polylines = check_canvas_strokes(strokes_in)
    names, scores = [], []
    with ThreadPoolExecutor(SCORING_THREADS) as pool:  # the compiled loops release the GIL: two models at once
        for model, (per_point, points) in zip(models, pool.map(lambda model: canvas_score(model, polylines, canvas_size), models)):
            names += list(model.categories)
            scores += list(per_point if calibration is None else calibration.logits(model.name, model.categories, per_point, points))
    if not names:
        raise ValueError("no models to guess with")
    best: dict[str, float] = {}  # one vote per category: a category two models draw counts once, by its best model
    for name, score in zip(names, scores):
        best[name] = max(best.get(name, -np.inf), float(score))
    categories, scores = list(best), np.asarray(list(best.values()))
    probabilities = np.exp(scores - np.logaddexp.reduce(scores))
    return sorted(zip(categories, probabilities.tolist()), key=lambda item: -item[1])[:top]
