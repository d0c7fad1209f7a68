"""Pen-stroke formats and the pure-NumPy operations on them.

Formats (defined once, here):

* **stroke-3** -- float array ``[N, 3]`` of ``(dx, dy, pen_lifted)``. Row ``i`` is the offset from
  point ``i - 1`` to point ``i`` (point ``-1`` is the origin ``(0, 0)``); ``pen_lifted = 1`` means
  the pen leaves the paper after point ``i``, so point ``i + 1`` starts a new stroke. The pen is
  up before the first point, so row 0 is always a move, never a line.
* **stroke-5** -- float array ``[N + 2, 5]`` (or longer, padded) of ``(dx, dy, p1, p2, p3)`` with a
  one-hot pen state: ``p1`` pen stays down, ``p2`` pen lifts after this point, ``p3`` the drawing
  has ended (an end row carries no point; every row after it is an end row too). Row 0 is the
  start token ``(0, 0, 1, 0, 0)``; the N points follow; then at least one end row.
* **polylines** -- the absolute form a canvas gives and SVG draws: a list of strokes, each an
  ``(n, 2)`` float array of ``(x, y)`` points, ``y`` pointing down.

Everything here is NumPy only (no TensorFlow), so data tools and the demo stay light.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

START_TOKEN = np.array([0.0, 0.0, 1.0, 0.0, 0.0], dtype=np.float32)
RDP_EPSILON = 2.0  # Ramer-Douglas-Peucker tolerance in 0-255 units, as the official QuickDraw pipeline
OFFSET_LIMIT = 1000.0  # raw offsets are clamped to +-this before normalising (magenta's `limit`)
MAX_LENGTH = 250  # default length cap in points (Sketch-RNN's max_seq_len)


# ----------------------------------------------------------------------------------------------
# Conversions between the three formats


def polylines_to_stroke3(polylines, origin=(0.0, 0.0)) -> np.ndarray:
    """Absolute polylines -> stroke-3 ``[N, 3]``; row 0 is the first point minus ``origin``.

    Pass ``origin=None`` to start at the first point (row 0 becomes ``(0, 0, ...)``).
    """
    strokes = [np.asarray(stroke, dtype=np.float64).reshape(-1, 2) for stroke in polylines]
    strokes = [stroke for stroke in strokes if len(stroke)]
    if not strokes:
        return np.zeros((0, 3), dtype=np.float32)
    points = np.concatenate(strokes)  # (N, 2)
    start = points[0] if origin is None else np.asarray(origin, dtype=np.float64)
    pen_lifted = np.zeros(len(points))
    pen_lifted[np.cumsum([len(stroke) for stroke in strokes]) - 1] = 1.0
    offsets = np.diff(points, axis=0, prepend=start[None, :])
    return np.column_stack([offsets, pen_lifted]).astype(np.float32)


def stroke3_to_polylines(stroke3, origin=(0.0, 0.0)) -> list[np.ndarray]:
    """stroke-3 ``[N, 3]`` -> absolute polylines (a list of ``(n, 2)`` arrays)."""
    stroke3 = np.asarray(stroke3, dtype=np.float64).reshape(-1, 3)
    if len(stroke3) == 0:
        return []
    points = np.cumsum(stroke3[:, :2], axis=0) + np.asarray(origin, dtype=np.float64)
    ends = np.flatnonzero(stroke3[:, 2] > 0.5) + 1
    if len(ends) == 0 or ends[-1] != len(points):
        ends = np.append(ends, len(points))
    starts = np.concatenate([[0], ends[:-1]])
    return [points[start:end] for start, end in zip(starts, ends)]


def stroke3_to_stroke5(stroke3, rows: int | None = None) -> np.ndarray:
    """stroke-3 ``[N, 3]`` -> stroke-5 ``[rows, 5]``: start token, N points, then end rows.

    As Sketch-RNN's ``to_big_strokes``: every real point keeps its pen state (p1 or p2; the
    last point lifts the pen) and the rows after it are end rows ``(0, 0, 0, 0, 1)``. By
    default ``rows = N + 2`` (one end row); a larger ``rows`` pads with more end rows.
    """
    stroke3 = np.asarray(stroke3, dtype=np.float32).reshape(-1, 3)
    length = len(stroke3)
    rows = length + 2 if rows is None else rows
    if rows < length + 2:
        raise ValueError(f"drawing has {length} points; stroke-5 needs at least {length + 2} rows, got {rows}")
    stroke5 = np.zeros((rows, 5), dtype=np.float32)
    stroke5[0] = START_TOKEN
    stroke5[1 : length + 1, :2] = stroke3[:, :2]
    stroke5[1 : length + 1, 3] = stroke3[:, 2] > 0.5
    stroke5[1 : length + 1, 2] = 1.0 - stroke5[1 : length + 1, 3]
    stroke5[length + 1 :, 4] = 1.0
    return stroke5


def stroke5_to_stroke3(stroke5, has_start_token: bool | None = None) -> np.ndarray:
    """stroke-5 (with or without the start token) -> stroke-3, stopping before the first end row.

    The pen state of each row is its largest of p1/p2/p3, so sampled (soft) rows work too.
    ``has_start_token=None`` drops a first row equal to the start token; pass False for rows that
    never carry one (sampled rows), so a real first ``(0, 0, pen down)`` point is kept.
    """
    stroke5 = np.asarray(stroke5, dtype=np.float32).reshape(-1, 5)
    if has_start_token is None:
        has_start_token = len(stroke5) > 0 and np.array_equal(stroke5[0], START_TOKEN)
    if has_start_token:
        stroke5 = stroke5[1:]
    pen = np.argmax(stroke5[:, 2:], axis=1)  # 0 down, 1 lifted, 2 ended
    ended = np.flatnonzero(pen == 2)
    length = ended[0] if len(ended) else len(stroke5)
    stroke3 = np.zeros((length, 3), dtype=np.float32)
    stroke3[:, :2] = stroke5[:length, :2]
    stroke3[:, 2] = pen[:length] == 1
    return stroke3


# ----------------------------------------------------------------------------------------------
# Ramer-Douglas-Peucker, vectorised over every stroke at once


def rdp_keep_mask(points: np.ndarray, stroke_ends: np.ndarray, epsilon: float = RDP_EPSILON) -> np.ndarray:
    """Which points Ramer-Douglas-Peucker keeps, for many strokes in one vectorised pass.

    ``points`` is ``(N, 2)``, every stroke concatenated; ``stroke_ends`` the exclusive end index of
    each stroke. Identical to running recursive RDP on each stroke (split at the first point
    farthest from the chord's line, keep it if farther than ``epsilon``). Each round measures the
    interior points of the segments not yet settled, keeps each one's farthest point (the first,
    on ties) when beyond ``epsilon`` and splits there. Settled points drop out of the work, which
    makes it about 5x faster on dense QuickDraw strokes than re-measuring every point each round.
    """
    points = np.asarray(points, dtype=np.float64)
    stroke_ends = np.asarray(stroke_ends, dtype=np.int64)
    keep = np.zeros(len(points), dtype=bool)
    if len(points) == 0:
        return keep
    first, last = np.concatenate([[0], stroke_ends[:-1]]), stroke_ends - 1  # each open segment's end points
    keep[first] = keep[last] = True
    while True:
        still_open = last - first >= 2
        first, last = first[still_open], last[still_open]
        if len(first) == 0:
            return keep
        chosen = _rdp_split_points(points, first, last, epsilon)  # -1 where the segment is settled
        split = chosen >= 0
        keep[chosen[split]] = True
        first, last = np.concatenate([first[split], chosen[split]]), np.concatenate([chosen[split], last[split]])


def _rdp_split_points(points: np.ndarray, first: np.ndarray, last: np.ndarray, epsilon: float) -> np.ndarray:
    """For each segment ``first..last``: its first farthest interior point if beyond ``epsilon``, else -1.

    Distances are to the chord's line (to ``first`` when the chord has no length); ties go to the
    first point, as ``np.argmax`` in recursive RDP.
    """
    interior = last - first - 1  # (S,) at least 1 each
    total = int(interior.sum())
    segment_starts = np.cumsum(interior) - interior
    index = np.arange(total) + np.repeat(first + 1 - segment_starts, interior)  # (M,) the interior points
    first_x, first_y = points[first, 0], points[first, 1]
    chord_x, chord_y = points[last, 0] - first_x, points[last, 1] - first_y
    relative_x = points[index, 0] - np.repeat(first_x, interior)
    relative_y = points[index, 1] - np.repeat(first_y, interior)
    cross = np.abs(np.repeat(chord_x, interior) * relative_y - np.repeat(chord_y, interior) * relative_x)
    chord_length = np.repeat(np.hypot(chord_x, chord_y), interior)
    distance = cross / np.where(chord_length > 0, chord_length, 1.0)
    degenerate = np.flatnonzero(chord_length == 0)
    distance[degenerate] = np.hypot(relative_x[degenerate], relative_y[degenerate])
    segment_max = np.maximum.reduceat(distance, segment_starts)
    at_max = np.where(distance == np.repeat(segment_max, interior), np.arange(total), total)
    farthest = index[np.minimum.reduceat(at_max, segment_starts)]
    return np.where(segment_max > epsilon, farthest, -1)


def rdp_polylines(polylines, epsilon: float = RDP_EPSILON) -> list[np.ndarray]:
    """Simplify each stroke of a drawing with Ramer-Douglas-Peucker (``epsilon`` in point units)."""
    strokes = [np.asarray(stroke, dtype=np.float64).reshape(-1, 2) for stroke in polylines]
    strokes = [stroke for stroke in strokes if len(stroke)]
    if not strokes:
        return []
    ends = np.cumsum([len(stroke) for stroke in strokes])
    points = np.concatenate(strokes)
    keep = rdp_keep_mask(points, ends, epsilon)
    return [points[start:end][keep[start:end]] for start, end in zip(np.concatenate([[0], ends[:-1]]), ends)]


# ----------------------------------------------------------------------------------------------
# Cleaning, normalisation and length


def clean_stroke3(stroke3, limit: float = OFFSET_LIMIT) -> np.ndarray:
    """Clamp offsets to ``+-limit`` and drop repeated points inside a stroke (zero moves).

    A zero move that starts a stroke is kept: the next line is drawn from it. A dropped
    point passes its pen lift to the point before it, so the drawing is unchanged.
    """
    stroke3 = np.asarray(stroke3, dtype=np.float32).reshape(-1, 3).copy()
    stroke3[:, :2] = np.clip(stroke3[:, :2], -limit, limit)
    if len(stroke3) < 2:
        return stroke3
    zero_move = (stroke3[:, 0] == 0) & (stroke3[:, 1] == 0)
    inside_stroke = np.concatenate([[False], stroke3[:-1, 2] < 0.5])  # previous point kept the pen down
    drop = zero_move & inside_stroke
    if not drop.any():
        return stroke3
    # pass each dropped row's pen lift back to the nearest kept row before it
    kept_index = np.maximum.accumulate(np.where(~drop, np.arange(len(stroke3)), 0))
    lifted = np.zeros(len(stroke3), dtype=bool)
    np.logical_or.at(lifted, kept_index, stroke3[:, 2] > 0.5)
    stroke3[:, 2] = lifted
    return stroke3[~drop]


def check_finite(stroke3, what: str = "drawing") -> None:
    """Raise ValueError if a stroke-3 array holds NaN or infinite values."""
    if not np.all(np.isfinite(stroke3)):
        raise ValueError(f"{what} contains NaN or infinite coordinates; every coordinate must be a finite number")


@dataclass(frozen=True)
class DataStats:
    """Normalisation statistics of a training split, kept with every model trained on it."""

    scale_factor: float  # std of every dx and dy in the training split (Sketch-RNN's normaliser)
    typical_extent: float  # median of max(width, height) of a drawing, in normalised units
    median_length: float  # median number of points of a drawing
    simplify_epsilon: float = RDP_EPSILON  # how finely the drawings are simplified (see simplification_epsilon)


def scale_factor(drawings) -> float:
    """Sketch-RNN's normalising scale: the standard deviation of every dx and dy of the drawings."""
    offsets = np.concatenate([np.asarray(d, dtype=np.float64)[:, :2].ravel() for d in drawings] or [np.zeros(0)])
    if offsets.size == 0:
        raise ValueError("cannot compute a scale factor from an empty dataset")
    factor = float(np.std(offsets))
    return factor if factor > 0 else 1.0


def drawing_extent(stroke3) -> float:
    """max(width, height) of a drawing's points (0 for an empty drawing)."""
    stroke3 = np.asarray(stroke3, dtype=np.float64)
    if len(stroke3) == 0:
        return 0.0
    points = np.cumsum(stroke3[:, :2], axis=0)
    return float(np.max(points.max(axis=0) - points.min(axis=0)))


def compute_stats(drawings) -> DataStats:
    """Scale factor, typical extent, median length and simplification of a (training) split of stroke-3 drawings."""
    factor = scale_factor(drawings)
    extents = [drawing_extent(d) / factor for d in drawings]
    lengths = [len(d) for d in drawings]
    return DataStats(scale_factor=factor, typical_extent=float(np.median(extents)), median_length=float(np.median(lengths)),
                     simplify_epsilon=simplification_epsilon(drawings))


SIMPLIFY_CANDIDATES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)  # RDP tolerances tried, 0-255 units
SIMPLIFY_KEEP = 0.95  # drawings "already satisfy" a tolerance when RDP at it keeps this share of their points
SIMPLIFY_SAMPLE = 500  # drawings measured (evenly spread over the list)


def simplification_epsilon(drawings) -> float:
    """The coarsest RDP tolerance (0-255 units of each drawing's own extent) the drawings already satisfy.

    Point density differs between sources: the official simplified files are RDP'd at 2.0 in a 0-255
    frame, Sketch-RNN's ``.npz`` files at 2.0 in their own larger frame (about 1.0-1.25 once in 0-255).
    A model learns the density it was trained on; a person's canvas strokes are simplified to the same
    density before the model reads them (:func:`sketchrnn.sample.canvas_to_model`). Measured as the
    largest candidate at which RDP keeps at least 95% of the drawings' points.
    """
    drawings = list(drawings)
    if not drawings:
        return RDP_EPSILON
    chosen = [drawings[i] for i in np.unique(np.linspace(0, len(drawings) - 1, SIMPLIFY_SAMPLE).astype(int))]
    lines = []
    for drawing in chosen:
        extent = drawing_extent(drawing)
        if extent > 0:
            lines.extend(p * (255.0 / extent) for p in stroke3_to_polylines(drawing) if len(p))
    if not lines:
        return float(SIMPLIFY_CANDIDATES[0])
    # RDP works stroke by stroke, so every sampled stroke goes through one vectorised pass per tolerance; a
    # coarser tolerance keeps a subset of a finer one's points, so the first tolerance met from the top is the answer
    points, ends = np.concatenate(lines), np.cumsum([len(line) for line in lines])
    for epsilon in sorted(SIMPLIFY_CANDIDATES, reverse=True):
        if rdp_keep_mask(points, ends, epsilon).sum() >= SIMPLIFY_KEEP * len(points):
            return float(epsilon)
    return float(SIMPLIFY_CANDIDATES[0])


def normalize(stroke3, factor: float) -> np.ndarray:
    """Divide a drawing's offsets by the scale factor (pen column untouched)."""
    stroke3 = np.asarray(stroke3, dtype=np.float32).copy()
    stroke3[:, :2] /= factor
    return stroke3


def denormalize(stroke3, factor: float) -> np.ndarray:
    """Undo :func:`normalize`."""
    stroke3 = np.asarray(stroke3, dtype=np.float32).copy()
    stroke3[:, :2] *= factor
    return stroke3


def cap_length(drawings, max_length: int = MAX_LENGTH):
    """The length-cap rule for datasets: drawings longer than ``max_length`` points are dropped.

    This is Sketch-RNN's rule (its loader skips sequences longer than ``max_seq_len``): a cut
    drawing would teach the model to stop mid-stroke. Returns ``(kept drawings, kept indices)``.
    """
    kept = [i for i, d in enumerate(drawings) if len(d) <= max_length]
    return [drawings[i] for i in kept], np.asarray(kept, dtype=np.int64)
