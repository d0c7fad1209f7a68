"""Drawings as SVG text: pure functions of strokes, built with svgwrite.

Everything here takes *polylines* (see :mod:`sketchrnn.strokes`: a list of strokes, each an
``(n, 2)`` array of absolute ``(x, y)`` points, ``y`` pointing down) and returns SVG as a ``str``.
Conventions every function shares:

* **Units.** Paths keep the drawing's own coordinates; the ``viewBox`` is the bounding box of the
  points plus a margin (a fraction of its larger side) plus half a stroke width, so round caps are
  never clipped. ``width``/``height`` put the larger side at ``size`` pixels, keeping the aspect ratio.
  ``stroke_width`` is in those output **pixels**, so a drawing in 0-255 canvas units and the same
  drawing in normalised units look alike.
* **Numbers.** Coordinates are written with the fewest decimals (at least 2, at most 12) that keep
  rounding under 0.01 output pixel: 2 decimals for canvas-sized drawings, more for small
  (normalised) ones. The ``viewBox`` is rounded outwards, so it always contains every point.
* **Dots.** A one-point stroke is a zero-length path ``M x,y L x,y``; round caps draw it as a dot of
  diameter ``stroke_width`` (the SVG rule for zero-length subpaths). One stroke = one ``<path>``.
* **Zero-size drawings.** A single point (or points all in one place) is shown in a 1 x 1 unit box;
  a straight horizontal or vertical line still gets a nonzero height or width from the margin.
* **Empty strokes** are skipped; an empty drawing gives a valid, blank picture.
* **Animation** (``animate=True``): SMIL only, no script. Each path has ``stroke-dasharray`` equal
  to its length (computed here from its points); an ``<animate>`` of ``stroke-dashoffset`` from that
  length to 0 draws it, and a ``<set>`` keeps it hidden until its turn. Strokes draw one after
  another in ``duration`` seconds in all, each for a time proportional to its length (plus a small
  share so dots show up). Begin times are absolute seconds, not id references, so several SVGs can
  sit inline on one page. Without SMIL (static renderers) the finished drawing shows.
* **Morphs** (:func:`morph_svg`): drawings shown one at a time, forwards then back, for ever. Each is a
  ``<g>`` whose ``visibility`` an ``<animate calcMode="discrete" repeatCount="indefinite">`` switches
  on for its turns of the cycle (``keyTimes``); SMIL only, no script. Without SMIL the first drawing shows.
* **Deterministic.** No ids, no text, no randomness: the same input gives byte-identical output.
  Nothing from the caller reaches the SVG except numbers and validated colours.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import svgwrite
from svgwrite.animate import Animate, Set
from svgwrite.container import SVG, Group
from svgwrite.path import Path as PathElement
from svgwrite.shapes import Rect

from sketchrnn.files import atomic_write_text
from sketchrnn.strokes import stroke3_to_polylines

DEFAULT_COLOR = "#1f1f1f"  # the person's strokes / a plain drawing
DEFAULT_ENDING_COLOR = "#d62728"  # the model's strokes in a completion
DEFAULT_DURATION = 2.0  # seconds for a whole animated drawing
MAX_COORDINATE = 1e9  # larger |x| or |y| is refused (nothing sensible is drawn that far out)
MIN_DECIMALS, MAX_DECIMALS = 2, 12  # digits after the point in coordinates
PIXEL_PRECISION = 0.01  # coordinates are rounded to at most this many output pixels
DOT_SHARE = 0.02  # each stroke's animation time gets this share of the total ink length on top
MORPH_FRAME_SECONDS = 0.2  # how long a morph shows each drawing on its way
MORPH_HOLD_SECONDS = 1.0  # how long a morph rests on its first and last drawing
CSS_COLOR_NAMES = frozenset(
    "black white gray grey silver red maroon orange yellow olive lime green teal cyan aqua "
    "blue navy purple magenta fuchsia pink brown".split()
)
_HEX_COLOR = re.compile(r"#(?:[0-9a-f]{3}|[0-9a-f]{6})")


# ----------------------------------------------------------------------------------------------
# Validation


def check_polylines(polylines, what: str = "drawing") -> list[np.ndarray]:
    """Validate a drawing and return its non-empty strokes as float64 ``(n, 2)`` arrays.

    Raises ValueError naming the bad stroke for non-numeric values, wrong shapes, NaN/inf or
    coordinates beyond ``MAX_COORDINATE``.
    """
    if isinstance(polylines, (str, bytes, dict)) or not _is_iterable(polylines):
        raise ValueError(f"{what} must be a list of strokes, each an (n, 2) array of (x, y) points")
    strokes = []
    for index, stroke in enumerate(polylines):
        points = _as_points(stroke, f"{what}: stroke {index}")
        if len(points):
            strokes.append(points)
    return strokes


def _is_iterable(value) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


def _as_points(stroke, where: str) -> np.ndarray:
    """One stroke as a finite float64 ``(n, 2)`` array (``(0, 2)`` when empty)."""
    if isinstance(stroke, (str, bytes)):
        raise ValueError(f"{where} is text; expected an (n, 2) array of (x, y) numbers")
    try:
        array = np.asarray(stroke)
    except (ValueError, TypeError):
        raise ValueError(f"{where} is not a rectangular (n, 2) array of numbers") from None
    if array.size == 0:
        return np.zeros((0, 2))
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{where} holds {array.dtype} values; expected an (n, 2) array of numbers")
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{where} has shape {array.shape}; expected (n, 2) (a drawing is a list of strokes)")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{where} contains NaN or infinite coordinates; every coordinate must be finite")
    if np.max(np.abs(array)) > MAX_COORDINATE:
        raise ValueError(f"{where} has a coordinate beyond +-{MAX_COORDINATE:g}")
    return array.astype(np.float64)


def check_color(color, what: str = "color") -> str:
    """Validate a colour: ``#rgb``, ``#rrggbb`` or a basic CSS name; return it in lower case."""
    if isinstance(color, str):
        lowered = color.strip().lower()
        if _HEX_COLOR.fullmatch(lowered) or lowered in CSS_COLOR_NAMES:
            return lowered
    names = ", ".join(sorted(CSS_COLOR_NAMES))
    raise ValueError(f"{what} must be '#rgb', '#rrggbb' or one of: {names}")


def _check_number(value, what: str, low: float, high: float = math.inf, low_inclusive=False) -> float:
    """A finite real number with ``low < value <= high`` (``low <= value`` if ``low_inclusive``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {type(value).__name__}")
    above_low = value >= low if low_inclusive else value > low
    if not (above_low and value <= high):
        raise ValueError(f"{what} must be {'>=' if low_inclusive else '>'} {low:g} and <= {high:g}, got {value:g}")
    return float(value)


@dataclass(frozen=True)
class _Style:
    """Options shared by every picture, validated once."""

    size: float  # pixels of the larger side
    margin: float  # fraction of the drawing's larger side added on each side
    stroke_width: float  # output pixels
    duration: float  # seconds for a whole animated drawing


def _check_style(size, margin, stroke_width, duration, size_name: str = "size") -> _Style:
    size = _check_number(size, size_name, 0.0)
    return _Style(
        size=size,
        margin=_check_number(margin, "margin", 0.0, 0.45, low_inclusive=True),
        stroke_width=_check_number(stroke_width, "stroke_width", 0.0, size / 4),
        duration=_check_number(duration, "duration", 0.0),
    )


def _check_background(background) -> str | None:
    if background is None or (isinstance(background, str) and background.strip().lower() == "none"):
        return None
    return check_color(background, "background")


# ----------------------------------------------------------------------------------------------
# Numbers and the fitted frame


def _format(value: float, decimals: int) -> str:
    """Fixed-point text with trailing zeros dropped (``1.50`` -> ``1.5``, ``-0.00`` -> ``0``)."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _format_scaled(integer: int, decimals: int) -> str:
    """Exact text of ``integer * 10**-decimals``."""
    whole, fraction = divmod(abs(integer), 10**decimals)
    text = f"{'-' if integer < 0 else ''}{whole}.{fraction:0{decimals}d}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@dataclass(frozen=True)
class _Frame:
    """Where a drawing sits: its viewBox and how its numbers are written."""

    view_box: tuple[int, int, int, int]  # min x, min y, width, height in steps of 10**-decimals units
    decimals: int  # digits after the point of every coordinate
    size: float  # output pixels of the viewBox's larger side

    @property
    def pixels_per_unit(self) -> float:
        return self.size * 10**self.decimals / max(self.view_box[2:])

    def view_box_text(self) -> str:
        return " ".join(_format_scaled(value, self.decimals) for value in self.view_box)

    def pixel_size(self) -> tuple[str, str]:
        """width and height attributes in pixels, larger side = ``size``."""
        larger = max(self.view_box[2:])
        return tuple(_format(self.size * side / larger, 2) for side in self.view_box[2:])

    def units(self, pixels: float) -> str:
        """A length given in output pixels, in drawing units."""
        return _format(pixels / self.pixels_per_unit, self.decimals + 2)


def _fit_frame(strokes: list[np.ndarray], style: _Style) -> _Frame:
    """The viewBox of ``strokes``: bounding box + margin + half a stroke, rounded outwards."""
    points = np.concatenate(strokes) if strokes else np.zeros((1, 2))
    low, high = points.min(axis=0), points.max(axis=0)
    span = float(np.max(high - low))
    if span == 0.0:  # a dot (or nothing): show a 1 x 1 box around it
        low, high, span = low - 0.5, high + 0.5, 1.0
    # larger side s = span * (1 + 2 margin) + stroke_width in units, and units = pixels * s / size
    side = span * (1 + 2 * style.margin) / (1 - style.stroke_width / style.size)
    pad = (side - span) / 2
    # as a difference of logs: the quotient overflows to infinity for a subnormal side (a span near 1e-306)
    decimals = math.ceil(math.log10(style.size) - math.log10(side) - math.log10(PIXEL_PRECISION))
    decimals = min(max(decimals, MIN_DECIMALS), MAX_DECIMALS)
    step = 10**decimals
    x0, y0 = (math.floor((value - pad) * step) for value in low)
    x1, y1 = (math.ceil((value + pad) * step) for value in high)
    # at least one step a side: a span finer than the steps (a subnormal one) whose other axis sits exactly on a
    # step would round to a 0-wide box, which an SVG viewer does not draw at all
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    return _Frame((x0, y0, x1 - x0, y1 - y0), decimals, style.size)


# ----------------------------------------------------------------------------------------------
# Paths and animation


def _path_data(points: np.ndarray, decimals: int) -> str:
    """``M x,y L x,y L x,y ...``; a one-point stroke repeats its point (a zero-length dot)."""
    coordinates = [f"{_format(x, decimals)},{_format(y, decimals)}" for x, y in points]
    if len(coordinates) == 1:
        coordinates.append(coordinates[0])
    return "M" + coordinates[0] + " L" + " L".join(coordinates[1:])


def _ink_length(points: np.ndarray, decimals: int) -> float:
    """Length of the polyline as written (coordinates rounded to ``decimals``)."""
    rounded = np.round(points, decimals)
    return float(np.hypot(*np.diff(rounded, axis=0).T).sum()) if len(points) > 1 else 0.0


def _schedule(lengths: list[float], duration: float) -> list[tuple[int, int]]:
    """``(begin, duration)`` in milliseconds per stroke: one after another, ``duration`` s in all.

    Each stroke's time is proportional to its length plus ``DOT_SHARE`` of the total length, and
    at least 1 ms; integers make the chain exact (begin of k = begin + duration of k - 1).
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    total = lengths.sum()
    weights = lengths + DOT_SHARE * total if total > 0 else np.ones(len(lengths))
    ends = np.rint(np.cumsum(weights) / weights.sum() * duration * 1000.0)
    timings, previous_end = [], 0
    for end in ends:
        end = max(int(end), previous_end + 1)
        timings.append((previous_end, end - previous_end))
        previous_end = end
    return timings


def _seconds(milliseconds: int) -> str:
    return _format(milliseconds / 1000.0, 3) + "s"


def _animate_path(path: PathElement, points: np.ndarray, frame: _Frame, timing: tuple[int, int]) -> None:
    """Make ``path`` draw itself from ``begin`` for ``duration`` ms (see the module docstring)."""
    begin, duration = timing
    if begin > 0:  # hidden until its turn, then back to the base value (visible): no freeze
        path.add(Set(attributeName="visibility", to="hidden", begin="0s", dur=_seconds(begin), debug=False))
    length = _ink_length(points, frame.decimals)
    if length == 0.0:  # a dot just appears
        return
    step = 10**frame.decimals  # the dash is a little longer than the path, so no gap shows at its end
    dash = _format_scaled(math.ceil(length * 1.001 * step) + 1, frame.decimals)
    path.update({"stroke-dasharray": f"{dash} {dash}"})
    timing_attributes = {"from": dash, "to": "0", "begin": _seconds(begin), "dur": _seconds(duration), "fill": "freeze"}
    path.add(Animate(attributeName="stroke-dashoffset", debug=False, **timing_attributes))


def _stroke_group(strokes, color: str, frame: _Frame, style: _Style, timings) -> Group:
    """One ``<g>`` holding a ``<path>`` per stroke, with the colour and round caps and joins."""
    group = Group(debug=False)
    group.update(
        {
            "fill": "none",
            "stroke": color,
            "stroke-width": frame.units(style.stroke_width),
            "stroke-linecap": "round",
            "stroke-linejoin": "round",
        }
    )
    for index, points in enumerate(strokes):
        path = PathElement(d=_path_data(points, frame.decimals), debug=False)
        if timings is not None:
            _animate_path(path, points, frame, timings[index])
        group.add(path)
    return group


def _draw_layers(container, layers, frame: _Frame, style: _Style) -> None:
    """Add each layer ``(strokes, color, animated)``; animated layers share one schedule, in order."""
    animated = [points for strokes, _, is_animated in layers if is_animated for points in strokes]
    timings = iter(_schedule([_ink_length(points, frame.decimals) for points in animated], style.duration))
    for strokes, color, is_animated in layers:
        layer_timings = [next(timings) for _ in strokes] if is_animated else None
        container.add(_stroke_group(strokes, color, frame, style, layer_timings))


def _background_rect(frame: _Frame, color: str) -> Rect:
    x, y, width, height = (_format_scaled(value, frame.decimals) for value in frame.view_box)
    return Rect(insert=(x, y), size=(width, height), fill=color, debug=False)


def _render(layers, style: _Style, background: str | None) -> str:
    """A whole SVG document of ``layers`` fitted together."""
    frame = _fit_frame([points for strokes, _, _ in layers for points in strokes], style)
    document = svgwrite.Drawing(size=frame.pixel_size(), viewBox=frame.view_box_text(), debug=False)
    if background is not None:
        document.add(_background_rect(frame, background))
    _draw_layers(document, layers, frame, style)
    return document.tostring()


# ----------------------------------------------------------------------------------------------
# Public API


def drawing_svg(
    polylines,
    *,
    stroke_width: float = 2.0,
    color: str = DEFAULT_COLOR,
    size: float = 256,
    margin: float = 0.05,
    animate: bool = False,
    background: str | None = "white",
    duration: float = DEFAULT_DURATION,
) -> str:
    """One drawing as SVG text, fitted to its bounding box.

    Args:
        polylines: list of strokes, each ``(n, 2)`` absolute ``(x, y)``, ``y`` down.
        stroke_width: in output pixels. size: pixels of the larger side. margin: fraction of the
        drawing's larger side on each side. animate: strokes draw themselves in ``duration`` seconds.
        background: a colour, or ``None`` for transparent.
    """
    style = _check_style(size, margin, stroke_width, duration)
    layers = [(check_polylines(polylines), check_color(color), bool(animate))]
    return _render(layers, style, _check_background(background))


def completion_svg(
    prime,
    ending,
    *,
    prime_color: str = DEFAULT_COLOR,
    ending_color: str = DEFAULT_ENDING_COLOR,
    stroke_width: float = 2.0,
    size: float = 256,
    margin: float = 0.05,
    animate: bool = False,
    animate_prime: bool = False,
    background: str | None = "white",
    duration: float = DEFAULT_DURATION,
) -> str:
    """The person's strokes (``prime``) and the model's (``ending``) in two colours, fitted together.

    The prime is drawn first, then the ending, each as its own ``<g>`` with its colour. With
    ``animate`` only the ending draws itself (the prime shows at once) unless ``animate_prime``,
    in which case the prime draws first and the ending follows, in ``duration`` seconds in all.
    """
    style = _check_style(size, margin, stroke_width, duration)
    layers = [
        (check_polylines(prime, "prime"), check_color(prime_color, "prime_color"), bool(animate and animate_prime)),
        (check_polylines(ending, "ending"), check_color(ending_color, "ending_color"), bool(animate)),
    ]
    return _render(layers, style, _check_background(background))


def grid_svg(
    drawings,
    *,
    columns: int | None = None,
    cell_size: float = 160,
    gap: float = 8,
    stroke_width: float = 2.0,
    color: str = DEFAULT_COLOR,
    ending_color: str = DEFAULT_ENDING_COLOR,
    colors=None,
    margin: float = 0.05,
    animate: bool = False,
    background: str | None = "white",
    duration: float = DEFAULT_DURATION,
) -> str:
    """Many drawings in a grid of square cells, each fitted separately (a nested ``<svg>`` per cell).

    Each item is polylines, or a ``(prime, ending)`` *tuple* for a completion (told apart from a
    drawing given as a tuple of two strokes by nesting: a completion's parts are lists of strokes).
    ``colors``: optional, one colour per item, for a drawing's strokes or a completion's ending
    (default ``color`` / ``ending_color``). ``columns`` defaults to ceil(sqrt(count)). Cells are
    ``cell_size`` pixels with ``gap`` pixels around them; ``stroke_width`` is in pixels of a cell.
    """
    drawings = list(drawings) if _is_iterable(drawings) and not isinstance(drawings, (str, bytes)) else None
    if not drawings:
        raise ValueError("grid_svg needs a non-empty list of drawings")
    style = _check_style(cell_size, margin, stroke_width, duration, size_name="cell_size")
    columns = _check_columns(columns, len(drawings))
    cell_colors = _check_cell_colors(colors, len(drawings))
    color, ending_color = check_color(color), check_color(ending_color, "ending_color")
    cells = [
        _cell_layers(item, index, color, ending_color, cell_colors[index] if cell_colors else None, bool(animate))
        for index, item in enumerate(drawings)
    ]
    gap = _check_number(gap, "gap", 0.0, low_inclusive=True)
    return _grid_document(cells, columns, gap, style, _check_background(background))


def _grid_document(cells, columns: int, gap: float, style: _Style, background: str | None) -> str:
    """Lay the cells' layers out row by row, each cell a nested ``<svg>`` with its own viewBox."""
    rows = math.ceil(len(cells) / columns)
    width, height = (_format(count * style.size + (count + 1) * gap, 2) for count in (columns, rows))
    document = svgwrite.Drawing(size=(width, height), viewBox=f"0 0 {width} {height}", debug=False)
    if background is not None:
        document.add(Rect(insert=(0, 0), size=(width, height), fill=background, debug=False))
    for index, layers in enumerate(cells):
        row, column = divmod(index, columns)
        corner = (_format(gap + column * (style.size + gap), 2), _format(gap + row * (style.size + gap), 2))
        document.add(_cell_svg(layers, corner, style))
    return document.tostring()


def _check_columns(columns, count: int) -> int:
    if columns is None:
        return math.ceil(math.sqrt(count))
    if isinstance(columns, bool) or not isinstance(columns, numbers.Integral) or columns < 1:
        raise ValueError(f"columns must be a positive integer, got {columns!r}")
    return int(columns)


def _check_cell_colors(colors, count: int):
    if colors is None:
        return None
    colors = list(colors) if _is_iterable(colors) and not isinstance(colors, str) else None
    if colors is None or len(colors) != count:
        raise ValueError(f"colors must be a list of one colour per drawing ({count})")
    return [check_color(value, f"colors[{index}]") for index, value in enumerate(colors)]


def _cell_layers(item, index: int, color: str, ending_color: str, cell_color: str | None, animate: bool):
    """One grid item as layers ``(strokes, color, animated)``; completions animate the ending.

    ``cell_color`` (if given) replaces ``color`` for a drawing and ``ending_color`` for a completion.
    """
    if _is_completion_pair(item):
        prime = check_polylines(item[0], f"drawings[{index}] prime")
        ending = check_polylines(item[1], f"drawings[{index}] ending")
        return [(prime, color, False), (ending, cell_color or ending_color, animate)]
    return [(check_polylines(item, f"drawings[{index}]"), cell_color or color, animate)]


def _cell_svg(layers, corner: tuple[str, str], style: _Style) -> SVG:
    frame = _fit_frame([points for strokes, _, _ in layers for points in strokes], style)
    cell = SVG(insert=corner, size=(_format(style.size, 2),) * 2, viewBox=frame.view_box_text(), debug=False)
    _draw_layers(cell, layers, frame, style)
    return cell


def _is_completion_pair(item) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and not any(_looks_like_stroke(part) for part in item)


def _looks_like_stroke(value) -> bool:
    """True for one stroke (an (n, 2) array or a list of [x, y]); False for a list of strokes."""
    if isinstance(value, np.ndarray):
        return value.ndim == 2
    if not isinstance(value, (list, tuple)) or not value:
        return False
    first = value[0]
    if isinstance(first, np.ndarray):
        return first.ndim == 1
    return isinstance(first, (list, tuple)) and len(first) > 0 and isinstance(first[0], numbers.Real)


def redrawings_svg(drawing, redrawings, *, color: str = DEFAULT_COLOR, ending_color: str = DEFAULT_ENDING_COLOR,
                   **options) -> str:
    """A person's drawing (``color``) and the model's redrawings of it (``ending_color``) in one row of cells.

    ``options``: those of :func:`grid_svg` (cell size, stroke width, background...).
    """
    redrawings = list(redrawings)
    colors = [color] + [ending_color] * len(redrawings)
    return grid_svg([drawing, *redrawings], columns=len(colors), colors=colors, **options)


def interpolation_svg(start, drawings, end, *, color: str = DEFAULT_COLOR, ending_color: str = DEFAULT_ENDING_COLOR,
                      **options) -> str:
    """A morph as a strip of cells: the first person's drawing (``color``), the model's drawings on the way
    (``ending_color``), the second person's drawing (``color``). ``options``: those of :func:`grid_svg`."""
    drawings = list(drawings)
    colors = [color] + [ending_color] * len(drawings) + [color]
    return grid_svg([start, *drawings, end], columns=len(colors), colors=colors, **options)


def morph_svg(
    frames,
    *,
    stroke_width: float = 2.0,
    color: str = DEFAULT_COLOR,
    size: float = 256,
    margin: float = 0.05,
    background: str | None = "white",
    frame_seconds: float = MORPH_FRAME_SECONDS,
    hold_seconds: float = MORPH_HOLD_SECONDS,
) -> str:
    """Drawings shown one after another, first to last and back, looping for ever: an animated morph.

    ``frames``: the drawings (polylines), all in one coordinate system: they share one viewBox fitted to
    every frame, so what stays in place on the way stays in place on screen. Each is shown for
    ``frame_seconds``, the first and last for ``hold_seconds`` (see the module docstring: SMIL, no script).
    """
    frames = list(frames) if _is_iterable(frames) and not isinstance(frames, (str, bytes)) else None
    if not frames:
        raise ValueError("morph_svg needs a non-empty list of drawings")
    style = _check_style(size, margin, stroke_width, DEFAULT_DURATION)
    color = check_color(color)
    frame_ms = max(round(_check_number(frame_seconds, "frame_seconds", 0.0) * 1000), 1)
    hold_ms = max(round(_check_number(hold_seconds, "hold_seconds", 0.0) * 1000), 1)
    drawings = [check_polylines(frame, f"frames[{index}]") for index, frame in enumerate(frames)]
    frame = _fit_frame([points for strokes in drawings for points in strokes], style)
    document = svgwrite.Drawing(size=frame.pixel_size(), viewBox=frame.view_box_text(), debug=False)
    if background := _check_background(background):
        document.add(_background_rect(frame, background))
    turns, cycle_ms = _morph_turns(len(drawings), frame_ms, hold_ms)
    for index, strokes in enumerate(drawings):
        group = _stroke_group(strokes, color, frame, style, None)
        if index > 0:
            group.update({"visibility": "hidden"})  # what a renderer without SMIL shows: the first drawing
        if len(drawings) > 1:
            group.add(_visibility_animation(turns[index], cycle_ms))
        document.add(group)
    return document.tostring()


def _morph_turns(count: int, frame_ms: int, hold_ms: int) -> tuple[list[list[tuple[int, int]]], int]:
    """When each of ``count`` drawings shows in one cycle, first to last and back: ``(begin, end)`` ms
    intervals per drawing, and the cycle's length."""
    order = list(range(count)) + list(range(count - 2, 0, -1))  # 0 1 2 3 2 1, then again from 0
    turns: list[list[tuple[int, int]]] = [[] for _ in range(count)]
    now = 0
    for index in order:
        length = hold_ms if index in (0, count - 1) else frame_ms
        turns[index].append((now, now + length))
        now += length
    return turns, now


def _visibility_animation(turns: list[tuple[int, int]], cycle_ms: int) -> Animate:
    """An ``<animate>`` of ``visibility`` that shows a drawing during its ``turns`` of each cycle."""
    changes = [(0, "visible" if turns[0][0] == 0 else "hidden")]
    for begin, end in turns:
        if begin > 0:
            changes.append((begin, "visible"))
        if end < cycle_ms:
            changes.append((end, "hidden"))
    key_times = ";".join(_format(time / cycle_ms, 6) for time, _ in changes)
    animation = Animate(attributeName="visibility", debug=False)
    animation.update({"values": ";".join(state for _, state in changes), "keyTimes": key_times,
                      "calcMode": "discrete", "dur": _seconds(cycle_ms), "repeatCount": "indefinite"})
    return animation


def stroke3_svg(stroke3, **options) -> str:
    """A stroke-3 ``[N, 3]`` drawing as SVG: :func:`stroke3_to_polylines` then :func:`drawing_svg`."""
    try:
        array = np.asarray(stroke3)
    except (ValueError, TypeError):
        raise ValueError("stroke-3 drawing must be an [N, 3] array of numbers") from None
    if array.size and (array.dtype.kind not in "iuf" or array.ndim != 2 or array.shape[1] != 3):
        shape = f"{array.dtype} of shape {array.shape}"
        raise ValueError(f"stroke-3 drawing must be an [N, 3] array of numbers, got {shape}")
    if array.size and not np.all(np.isfinite(array)):
        raise ValueError("stroke-3 drawing contains NaN or infinite values; every value must be finite")
    return drawing_svg(stroke3_to_polylines(array.reshape(-1, 3)), **options)


def save_svg(svg_text: str, path) -> Path:
    """Write ``svg_text`` to ``path`` atomically (a temporary file beside it, then ``os.replace``).

    The file is UTF-8 with mode 0644; a crash never leaves a half-written file at ``path``. A ``path`` that
    is a folder, a link, a device or a FIFO, or whose folder is missing, is refused with a ValueError.
    """
    if not isinstance(svg_text, str):
        raise ValueError(f"svg_text must be a str, got {type(svg_text).__name__}")
    return atomic_write_text(path, svg_text)
