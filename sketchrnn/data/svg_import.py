"""Line art as a Sketch-RNN dataset: SVG files (and the CLI's JSON drawings) -> a ``.npz`` with a dataset card.

Inputs (:func:`import_drawings` takes several): SVG files, folders of them (walked in name order, links to
folders not followed), tar archives of them (``.tgz``, ``.tar.gz``, ``.tar``; read as a stream, nothing is
extracted to disk), and drawings in the command line's JSON format (``.json``: one drawing, a list of strokes
of ``[x, y]`` points or one QuickDraw record ``{"drawing": [[[x...], [y...]], ...]}``; ``.ndjson``: one such
drawing a line). Inside folders and archives only ``DRAWING_SUFFIXES`` files are read; the others are counted
as ignored. **One SVG file = one drawing**; identical files are imported once.

An SVG becomes polylines as a browser would draw its strokes: every visible stroked shape (``path`` with all
commands, ``line``, ``polyline``, ``polygon``, ``rect`` with ``rx``/``ry``, ``circle``, ``ellipse``), with the
``transform`` of the shape and of its groups and the ``viewBox``, CSS classes and ``<style>`` included: that is
``svgelements``' work. A shape without a stroke (``stroke="none"``, ``stroke-width="0"``, fully transparent or
hidden) is not drawn. Curves and arcs are flattened to chords of at most ``MAX_CHORD`` output pixels (off the
curve by at most ~0.2 pixel where it bends tighter than 10 pixels), so the simplification below decides the
points, not the flattening.

Then Quick, Draw!'s published preprocessing of its simplified drawings: align the drawing to the top-left
(minimum 0), scale it uniformly so its larger side is 255, resample every stroke at 1-pixel spacing, simplify
with Ramer-Douglas-Peucker (``strokes.RDP_EPSILON`` = 2.0), round to whole pixels; then the project's stroke-3
conversion and cleaning (``strokes.polylines_to_stroke3(origin=None)``, ``strokes.clean_stroke3``), the seeded
split of :func:`sketchrnn.data.clean.seeded_split` (keyed by each drawing's name, 90/5/5) and the length cap
(``strokes.cap_length``: longer drawings are left out, after splitting).

Output: the official Sketch-RNN layout (``train``/``valid``/``test`` object arrays of int16 stroke-3), which
``sketchrnn data info`` and ``sketchrnn train --data`` read safely; its category is its file name (as for
every ``.npz``). Beside it, ``NAME.card.md``: sources, counts, length statistics and every skipped file with
its reason. Both are written to temporary files and renamed into place.

Untrusted input never hurts: the XML is parsed first by ``defusedxml`` with DTDs forbidden (so no entity
expansion, no external entity, no file or URL is ever read); ``<image>``, ``<script>``, ``<text>``, ``<use>``,
``<foreignObject>`` are refused, never followed; a file larger than ``MAX_FILE_BYTES``, with more than
``MAX_NUMBERS`` coordinates, ``MAX_ELEMENTS`` elements or nesting deeper than ``MAX_DEPTH``, a zero-size
``viewBox``, NaN/infinite or absurd coordinates, a device, FIFO or link loop: each such file is skipped with
a one-line reason (``SKIP_REASONS``) and counted. Memory stays bounded: at most ``MAX_FILE_BYTES`` of a
file is read, and with ``jobs > 1`` (SVG geometry read by worker processes, results kept in order, so the
output is the same) at most ``WINDOW_FILES`` files or ``WINDOW_BYTES`` are read ahead for the workers.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import math
import os
import re
import stat
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from sketchrnn import files, strokes
from sketchrnn.data.categories import category_from_filename, validate_category
from sketchrnn.data.clean import SPLIT_NAMES, seeded_split
from sketchrnn.data.npz import READ_CHUNK, inflation_limit

DRAWING_SUFFIXES = (".svg", ".ndjson", ".json")  # read inside folders and archives; other files are ignored
ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar")
FRAME = 255.0  # Quick, Draw!'s frame: a drawing's larger side spans 0-255
FRAME_DECIMALS = 6  # framed points are rounded to this many decimals before resampling (see frame_polylines)
RESAMPLE_SPACING = 1.0  # pixels between resampled points (Quick, Draw!: 1)
MAX_CHORD = 4.0  # a curve is flattened to chords of at most this many output pixels
MAX_CURVE_SAMPLES = 4096  # points of one curve at most (a curve 64 times the frame long is noise, not a stroke)
COARSE_SAMPLES = 33  # points per curve of the first flattening (which finds the drawing's extent)
COARSE_POSITIONS = np.linspace(0.0, 1.0, COARSE_SAMPLES)
MAX_FILE_BYTES = 8 << 20  # a larger file is skipped (line art is kilobytes; an icon ~1 kB)
MAX_NUMBERS = 200_000  # coordinates in path data and points of one file (a drawing keeps <= 250 points)
MAX_ELEMENTS = 20_000  # XML elements of one file
MAX_POINTS = 1_000_000  # points of one file's flattened curves and lines (in the 255 frame: 1 per 4 px of curve)
MAX_DEPTH = 64  # nesting of XML elements
MAX_COORDINATE = 1e9  # |x| or |y| beyond this (after transforms) is refused as absurd
SPLIT_FRACTIONS = (0.9, 0.05, 0.05)  # train, valid, test
PREPROCESS_BATCH = 256  # drawings resampled and simplified together
WORKER_CHUNK = 16  # files sent to a worker process at a time
WINDOW_FILES, WINDOW_BYTES = 512, 64 << 20  # files (or bytes of them) read ahead for the worker processes
WORKERS_AFTER = 200  # with jobs > 1, the files after this many are read by worker processes
REFUSED_ELEMENTS = {  # local tag name -> why the file is refused (these are never followed)
    "image": "an <image> (a raster picture, not strokes)",
    "feImage": "an <feImage> (a filter that loads a picture)",
    "script": "a <script>",
    "text": "a <text> (letters are not strokes)",
    "use": "a <use> (references to other elements are not followed)",
    "foreignObject": "a <foreignObject> (HTML or other non-SVG content)",
}
SKIP_REASONS = {  # reason -> what it means, in the order the card lists them
    "unreadable": "not a regular file, larger than the size limit, or a damaged archive",
    "not XML": "not well-formed XML",
    "DTD or entities": "declares a DTD or entities (refused: entity expansion, external entities)",
    "not SVG": "XML whose root element is not <svg>",
    "refused element": "contains <image>, <script>, <text>, <use> or <foreignObject>",
    "too complex": f"more than {MAX_NUMBERS:,} coordinates, {MAX_ELEMENTS:,} elements or {MAX_DEPTH} levels of nesting",
    "zero-size viewBox": "an <svg> whose viewBox, width or height is zero (or negative): nothing is drawn",
    "bad coordinates": f"NaN, infinite or absurd (beyond +-{MAX_COORDINATE:g}) coordinates",
    "geometry error": "svgelements could not compute the shapes",
    "no strokes": "no visible stroked shape (fill-only art, empty, or all hidden)",
    "no extent": "every point in one place",
    "not a drawing": "JSON that is not a drawing (a list of strokes of [x, y] points, or a QuickDraw record)",
    "duplicate": "the same bytes as a file imported before",
    "too long": "longer than max_length points after simplification",
}
NUMBER = re.compile(rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
NOT_A_NUMBER = re.compile(r"(?<![a-z])(?:nan|inf|infinity)(?![a-z])", re.IGNORECASE)
GEOMETRY_ATTRIBUTES = frozenset(("d", "points", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "width",
                                 "height", "transform", "viewBox", "stroke-width"))
GZIP_MAGIC = b"\x1f\x8b"


class Skip(Exception):
    """A file or drawing that is not imported: ``reason`` (a key of ``SKIP_REASONS``) and a one-line ``detail``."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail

    def __reduce__(self):  # travels back from the worker processes
        return Skip, (self.reason, self.detail)


@dataclass
class Skipped:
    """One file (or drawing of an ndjson file) left out, and why."""

    name: str
    reason: str  # a key of SKIP_REASONS
    detail: str  # one line


@dataclass
class SourceCount:
    """What one SRC held: drawings imported, files skipped, files ignored (not drawing files)."""

    source: str
    imported: int = 0
    skipped: int = 0
    ignored: int = 0


@dataclass
class ImportResult:
    """What :func:`import_drawings` wrote and left out."""

    path: Path  # the .npz
    card_path: Path  # the dataset card beside it
    category: str
    splits: dict[str, list[np.ndarray]]  # int16 stroke-3 drawings per split
    skipped: list[Skipped]
    sources: list[SourceCount]
    seed: int
    max_length: int

    @property
    def imported(self) -> int:
        return sum(len(drawings) for drawings in self.splits.values())

    def skipped_by_reason(self) -> dict[str, int]:
        """How many were skipped for each reason (reasons without any left out)."""
        counts = {reason: 0 for reason in SKIP_REASONS}
        for skipped in self.skipped:
            counts[skipped.reason] += 1
        return {reason: count for reason, count in counts.items() if count}


# ----------------------------------------------------------------------------------------------
# SVG -> polylines (in the SVG's user units, transforms applied)


def check_svg_xml(content: bytes):
    """The XML tree of an SVG file, parsed by defusedxml with DTDs forbidden; :class:`Skip` for anything refused.

    Checks the tree before any geometry is computed: the root is ``<svg>``, no refused element, at most
    ``MAX_ELEMENTS`` elements nested at most ``MAX_DEPTH`` deep, no zero-size viewBox, at most
    ``MAX_NUMBERS`` coordinates in path data and points.
    """
    from xml.etree.ElementTree import ParseError

    import defusedxml
    import defusedxml.ElementTree

    try:
        root = defusedxml.ElementTree.fromstring(content, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as error:
        raise Skip("DTD or entities", f"refused: it declares {_defused_what(error)}, which is never expanded or "
                                      "followed (entity bombs, external entities)") from None
    except ParseError as error:
        raise Skip("not XML", f"not well-formed XML ({error})") from None
    if _local_name(root.tag) != "svg":
        raise Skip("not SVG", f"an XML file whose root element is <{_local_name(root.tag)[:40]}>, not <svg>")
    _check_elements(root)
    return root


def _defused_what(error) -> str:
    """What a defusedxml exception refused, in words."""
    import defusedxml

    if isinstance(error, defusedxml.DTDForbidden):
        return "a DTD (<!DOCTYPE ...>)"
    if isinstance(error, defusedxml.EntitiesForbidden):
        return f"the entity {error.name!r}"
    return "an external reference"


def _local_name(tag) -> str:
    """``{namespace}name`` -> ``name`` (a comment or processing instruction gives "")."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _check_elements(root) -> None:
    """Walk the tree (without recursion) and refuse what :func:`check_svg_xml` lists."""
    count, numbers, pending = 0, 0, [(root, 1)]
    while pending:
        element, depth = pending.pop()
        count += 1
        if count > MAX_ELEMENTS or depth > MAX_DEPTH:
            what = f"more than {MAX_ELEMENTS:,} elements" if count > MAX_ELEMENTS else f"elements nested more than {MAX_DEPTH} deep"
            raise Skip("too complex", f"refused: {what}")
        name = _local_name(element.tag)
        if name in REFUSED_ELEMENTS:
            raise Skip("refused element", f"refused: it contains {REFUSED_ELEMENTS[name]}; a drawing must be strokes only")
        if name == "svg":
            _check_view_box(element)
        for attribute in GEOMETRY_ATTRIBUTES.intersection(element.keys()):
            value = element.get(attribute)
            if NOT_A_NUMBER.search(value):
                raise Skip("bad coordinates", f"its <{name}> has a NaN or infinite number in {attribute}="
                                              f"{value.strip()[:30]!r}; coordinates must be finite numbers")
            if attribute in ("d", "points"):
                numbers += len(NUMBER.findall(value.encode("utf-8", "replace")))
        if numbers > MAX_NUMBERS:
            raise Skip("too complex", f"refused: more than {MAX_NUMBERS:,} coordinates in its path data and points")
        pending.extend((child, depth + 1) for child in element)


def _check_view_box(element) -> None:
    """Skip for an ``<svg>`` whose viewBox, width or height is zero or negative (SVG: nothing is drawn)."""
    text = element.get("viewBox")
    if text is not None:
        values = text.replace(",", " ").split()
        try:
            width, height = float(values[2]), float(values[3])
        except (IndexError, ValueError):
            width = height = 1.0  # svgelements ignores a malformed viewBox, as browsers do
        if not (width > 0 and height > 0):
            raise Skip("zero-size viewBox", f"its viewBox {text.strip()[:40]!r} has zero or negative size, so nothing is drawn")
    for attribute in ("width", "height"):
        match = re.fullmatch(r"\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)[a-z%]*\s*", element.get(attribute, ""))
        if match and float(match.group(1)) <= 0:
            raise Skip("zero-size viewBox", f"its {attribute} is {element.get(attribute).strip()[:20]!r}, so nothing is drawn")


def svg_polylines(content: bytes) -> list[np.ndarray]:
    """Every visible stroked shape of an SVG file as polylines in its user units (transforms applied).

    Curves are flattened finely enough for :func:`preprocess` (see the module docstring): first at
    ``COARSE_SAMPLES`` points each, which gives the drawing's extent, then again, finer, where a curve is
    too long for that once the drawing is scaled to the 255 frame. Raises :class:`Skip` for anything
    refused or without strokes.
    """
    check_svg_xml(content)
    shapes = _stroked_shapes(content)
    if not shapes:
        raise Skip("no strokes", "no visible stroked shape (only fills, or nothing drawn)")
    outlines = [outline for shape in shapes for outline in _shape_outlines(shape)]
    if not outlines:
        raise Skip("no strokes", "its stroked shapes draw nothing (empty or unreadable path data, zero-size shapes)")
    coarse = [np.asarray(_outline_points(outline, None), dtype=np.float64) for outline in outlines]
    _check_finite(coarse)
    extent = _extent(coarse)
    if extent == 0:
        raise Skip("no extent", "every point of its strokes is in one place")
    scale = FRAME / extent
    curves = [part for outline in outlines for part in outline if isinstance(part, _Curve)]
    if sum(map(len, coarse)) + sum(max(curve.samples(scale) - COARSE_SAMPLES, 0) for curve in curves) > MAX_POINTS:
        raise Skip("too complex", f"refused: its curves flatten to more than {MAX_POINTS:,} points")
    return [points if not any(isinstance(part, _Curve) and part.samples(scale) > COARSE_SAMPLES for part in outline)
            else np.asarray(_outline_points(outline, scale), dtype=np.float64)
            for outline, points in zip(outlines, coarse)]


@dataclass
class _Curve:
    """A curve or arc of an outline: its svgelements segment and its first, coarse points (start excluded)."""

    segment: object
    coarse: list  # COARSE_SAMPLES - 1 points (x, y), the last one exactly the segment's end
    length: float  # of the coarse polyline, in user units

    def samples(self, scale: float) -> int:
        """Points that keep its chords under MAX_CHORD once scaled by ``scale`` (at most MAX_CURVE_SAMPLES)."""
        return min(int(math.ceil(self.length * scale / MAX_CHORD)) + 1, MAX_CURVE_SAMPLES)

    def points(self, scale: float | None) -> list:
        """Its points after the start: the coarse ones, or (with ``scale``) as many as :meth:`samples` asks."""
        samples = COARSE_SAMPLES if scale is None else self.samples(scale)
        if samples <= COARSE_SAMPLES:
            return self.coarse
        fine = np.asarray(self.segment.npoint(np.linspace(0.0, 1.0, samples)), dtype=np.float64).reshape(-1, 2)
        return fine[1:-1].tolist() + [self.coarse[-1]]


def _outline_points(outline: list, scale: float | None) -> list:
    """The points of an outline (its parts: (x, y) points and curves), curves sampled as :meth:`_Curve.points`."""
    points = []
    for part in outline:
        if isinstance(part, _Curve):
            points.extend(part.points(scale))
        else:
            points.append(part)
    return points


def _stroked_shapes(content: bytes) -> list:
    """The shapes svgelements finds that are drawn with a visible stroke."""
    from svgelements import SVG, Shape

    try:
        document = SVG.parse(io.BytesIO(content), reify=False)  # transforms applied once, in segments()
        return [element for element in document.elements() if isinstance(element, Shape) and _is_stroked(element)]
    except Exception as error:  # a damaged file can fail in the library in many ways; none of them is ours to show
        raise Skip("geometry error", f"svgelements could not read its shapes ({type(error).__name__}: {str(error)[:80]})") from None


def _is_stroked(shape) -> bool:
    """True when the shape is drawn with a stroke a viewer would show."""
    values = getattr(shape, "values", {})
    if str(values.get("visibility", "visible")).strip().lower() in ("hidden", "collapse"):
        return False
    try:
        if float(values.get("opacity", 1.0)) <= 0:
            return False
    except (TypeError, ValueError):
        pass
    stroke = shape.stroke
    if stroke is None or stroke.value is None or stroke.alpha == 0:
        return False
    width = shape.stroke_width
    return width is None or not isinstance(width, (int, float)) or width > 0


def _shape_outlines(shape) -> list[list]:
    """A shape's segments as outlines (a new one at every move or jump): lists of (x, y) points and curves."""
    from svgelements import Close, Line, Move

    outlines, current = [], []
    try:
        for segment in shape.segments(transformed=True):
            if isinstance(segment, Move):
                _close_outline(outlines, current)
                current = [_xy(segment.end)]
                continue
            start, end = _xy(segment.start), _xy(segment.end)
            if not current or not _same_point(_last_point(current), start):
                _close_outline(outlines, current)
                current = [start]
            if isinstance(segment, (Line, Close)):
                current.append(end)
            else:
                current.append(_coarse_curve(segment, end))
    except Skip:
        raise
    except Exception as error:
        raise Skip("geometry error", f"svgelements could not compute a <{type(shape).__name__.lower()}> "
                                     f"({type(error).__name__}: {str(error)[:80]})") from None
    _close_outline(outlines, current)
    return outlines


def _coarse_curve(segment, end: tuple[float, float]) -> _Curve:
    """A curve sampled at COARSE_SAMPLES points (the last replaced by its exact end point)."""
    points = np.asarray(segment.npoint(COARSE_POSITIONS), dtype=np.float64).reshape(-1, 2)
    length = float(np.hypot(*np.diff(points, axis=0).T).sum())
    return _Curve(segment, points[1:-1].tolist() + [end], length)


def _last_point(outline: list) -> tuple[float, float]:
    last = outline[-1]
    return tuple(last.coarse[-1]) if isinstance(last, _Curve) else last


def _xy(point) -> tuple[float, float]:
    """An svgelements point as a plain (x, y) tuple; Skip when it is not finite or absurdly far."""
    x, y = float(point[0]), float(point[1])
    if not (abs(x) <= MAX_COORDINATE and abs(y) <= MAX_COORDINATE):
        raise Skip("bad coordinates", f"a point ({x:g}, {y:g}) is NaN, infinite or beyond +-{MAX_COORDINATE:g}")
    return x, y


def _same_point(first: tuple[float, float], second: tuple[float, float]) -> bool:
    """True when two points are one (up to rounding in the transforms)."""
    scale = 1e-9 * max(1.0, abs(first[0]), abs(first[1]))
    return abs(first[0] - second[0]) <= scale and abs(first[1] - second[1]) <= scale


def _close_outline(outlines: list, current: list) -> None:
    if current:
        outlines.append(current)


def _check_finite(polylines: list[np.ndarray]) -> None:
    for line in polylines:
        if not np.all(np.abs(line) <= MAX_COORDINATE):
            raise Skip("bad coordinates", f"its shapes reach NaN, infinite or absurd (beyond +-{MAX_COORDINATE:g}) coordinates")


def _extent(polylines: list[np.ndarray]) -> float:
    points = np.concatenate(polylines)
    return float(np.max(points.max(axis=0) - points.min(axis=0)))


# ----------------------------------------------------------------------------------------------
# Quick, Draw!'s preprocessing


def preprocess(polylines) -> np.ndarray:
    """Polylines in any units -> an int16 stroke-3 drawing, as Quick, Draw! simplified its drawings.

    Align to the top-left (minimum 0), scale uniformly so the larger side is 255, resample each stroke at
    1-pixel spacing, Ramer-Douglas-Peucker with epsilon 2.0, round to whole pixels; then
    ``strokes.polylines_to_stroke3(origin=None)`` and ``strokes.clean_stroke3``. Raises :class:`Skip`
    for a drawing without extent.
    """
    (result,) = preprocess_many([polylines])
    if isinstance(result, Skip):
        raise result
    return result


def preprocess_many(drawings) -> list[np.ndarray | Skip]:
    """:func:`preprocess` of many drawings, resampled and simplified in one vectorised pass (a Skip for each refused)."""
    results: list = [None] * len(drawings)
    framed, owners = [], []  # every stroke of every drawing, and the index of its drawing
    for index, polylines in enumerate(drawings):
        try:
            lines = frame_polylines(polylines)
        except Skip as skip:
            results[index] = skip
            continue
        framed.extend(lines)
        owners.extend([index] * len(lines))
    simplified = strokes.rdp_polylines(resample_polylines(framed, RESAMPLE_SPACING), strokes.RDP_EPSILON)
    by_drawing: dict[int, list] = {}
    for owner, line in zip(owners, simplified):
        by_drawing.setdefault(owner, []).append(np.rint(line))
    for index, lines in by_drawing.items():
        stroke3 = strokes.polylines_to_stroke3(lines, origin=None)
        results[index] = strokes.clean_stroke3(stroke3).astype(np.int16)
    return results


def frame_polylines(polylines) -> list[np.ndarray]:
    """The polylines moved so their minimum is (0, 0) and scaled uniformly so their larger side is 255."""
    lines = [np.asarray(line, dtype=np.float64).reshape(-1, 2) for line in polylines]
    lines = [line for line in lines if len(line)]
    if not lines:
        raise Skip("no strokes", "no points")
    points = np.concatenate(lines)
    low = points.min(axis=0)
    extent = float(np.max(points.max(axis=0) - low))
    if not extent > 0:
        raise Skip("no extent", "every point of its strokes is in one place")
    scale = FRAME / extent
    # rounded to a millionth of a pixel: the float noise of transforms (1e-13) must not flip RDP's ties
    return [np.round((line - low) * scale, FRAME_DECIMALS) for line in lines]


def resample_polylines(polylines, spacing: float = RESAMPLE_SPACING) -> list[np.ndarray]:
    """Each polyline resampled at ``spacing`` along its length, its first and last points kept.

    A stroke of one point (or of zero length) stays one point. Each stroke on its own, so a drawing's
    result never depends on what it is batched with.
    """
    return [_resample_line(np.asarray(line, dtype=np.float64).reshape(-1, 2), spacing) for line in polylines if len(line)]


def _resample_line(line: np.ndarray, spacing: float) -> np.ndarray:
    """One polyline ``(n, 2)`` at ``spacing`` along its length (first and last points kept)."""
    steps = np.hypot(*np.diff(line, axis=0).T)
    moving = steps > 0
    if not moving.any():
        return line[:1]
    line = np.concatenate([line[:1], line[1:][moving]])  # repeated points say nothing about the path
    arc = np.concatenate([[0.0], np.cumsum(steps[moving])])
    positions = np.arange(0.0, arc[-1], spacing)
    if arc[-1] - positions[-1] > 1e-9 * spacing:
        positions = np.append(positions, arc[-1])
    return np.column_stack([np.interp(positions, arc, line[:, 0]), np.interp(positions, arc, line[:, 1])])


# ----------------------------------------------------------------------------------------------
# The command line's JSON drawings


def json_drawings(content: bytes, name: str, per_line: bool) -> Iterator[tuple[str, list | Skip]]:
    """``(name, polylines or Skip)`` for the drawing of a ``.json`` file, or each line of an ``.ndjson`` one."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        yield name, Skip("not a drawing", "not UTF-8 text")
        return
    if not per_line:
        yield name, _json_drawing(text)
        return
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield f"{name}:line {number}", _json_drawing(line)


def _json_drawing(text: str) -> list | Skip:
    """The polylines of one JSON drawing (strokes of [x, y] points, or a QuickDraw record), or why not."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
        strokes_value = value["drawing"] if isinstance(value, dict) else value
        if isinstance(value, dict):  # a record: each stroke is [[x...], [y...], ...]
            strokes_value = [list(zip(stroke[0], stroke[1])) for stroke in strokes_value]
        polylines = [np.asarray(stroke, dtype=np.float64).reshape(-1, 2) for stroke in strokes_value]
    except json.JSONDecodeError as error:
        return Skip("not a drawing", f"not valid JSON ({error})")
    except RecursionError:
        return Skip("not a drawing", "JSON nested too deeply")
    except (KeyError, TypeError, IndexError, ValueError) as error:
        return Skip("not a drawing", f"not a drawing: expected a list of strokes of [x, y] points or a QuickDraw record "
                                     f"{{\"drawing\": [[[x...], [y...]], ...]}} ({type(error).__name__}: {str(error)[:60]})")
    points = [line for line in polylines if len(line)]
    if not points:
        return Skip("no strokes", "a drawing without points")
    if not all(np.all(np.abs(line) <= MAX_COORDINATE) for line in points):
        return Skip("bad coordinates", f"NaN, infinite or absurd (beyond +-{MAX_COORDINATE:g}) coordinates")
    return points


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a coordinate")


# ----------------------------------------------------------------------------------------------
# Sources: files, folders, tar archives


@dataclass
class _Entry:
    """One file found in a source: its name (for the card and the split) and its bytes, or why it is not read."""

    name: str
    suffix: str  # one of DRAWING_SUFFIXES
    content: bytes | None = None
    skip: Skip | None = None


def _suffix(name: str, suffixes) -> str | None:
    lower = name.lower()
    return next((suffix for suffix in suffixes if lower.endswith(suffix)), None)


def check_source(source) -> str:
    """What a SRC is: "folder", "archive" or one of DRAWING_SUFFIXES (a file that may still prove unreadable).

    ValueError for a SRC that does not exist or is not an SVG, JSON, ndjson, archive or folder.
    """
    path = Path(source)
    try:
        if stat.S_ISDIR(os.stat(path).st_mode):
            return "folder"
    except FileNotFoundError:
        raise ValueError(f"{source}: no such file or folder" + (" (a broken symbolic link)" if path.is_symlink() else "")) from None
    except OSError:
        pass  # a link loop, a permission problem: skipped with its reason when read
    if _suffix(path.name, ARCHIVE_SUFFIXES):
        return "archive"
    suffix = _suffix(path.name, DRAWING_SUFFIXES)
    if suffix is None:
        raise ValueError(f"{source}: not an SVG, .json or .ndjson drawing, a folder of them or a .tgz/.tar archive of them")
    return suffix


def source_entries(source, count: SourceCount) -> Iterator[_Entry]:
    """The drawing files of one SRC (a file, a folder or a tar archive); ``count.ignored`` counts the others."""
    kind = check_source(source)
    if kind == "folder":
        yield from _folder_entries(Path(source), count)
    elif kind == "archive":
        yield from _archive_entries(Path(source), count)
    else:
        yield _file_entry(Path(source), kind)


def _file_entry(path: Path, suffix: str) -> _Entry:
    """One file's bytes (at most MAX_FILE_BYTES, regular files only), or why it is skipped."""
    try:
        return _Entry(str(path), suffix, content=files.read_regular_file(path, MAX_FILE_BYTES))
    except ValueError as error:
        detail = str(error).removeprefix(f"{path} ").removeprefix("is ")
        return _Entry(str(path), suffix, skip=Skip("unreadable", detail))


def _folder_entries(folder: Path, count: SourceCount) -> Iterator[_Entry]:
    """The drawing files under a folder, in name order; links to folders are not followed (no loops)."""
    for directory, subdirectories, names in os.walk(folder, onerror=None, followlinks=False):
        subdirectories.sort()
        for name in sorted(names):
            suffix = _suffix(name, DRAWING_SUFFIXES)
            if suffix is None:
                count.ignored += 1
                continue
            yield _file_entry(Path(directory) / name, suffix)


def _archive_entries(path: Path, count: SourceCount) -> Iterator[_Entry]:
    """The drawing files of a tar archive (plain or gzip'd), read as a stream in archive order.

    Nothing is extracted: links and devices in the archive are skipped, members larger than
    MAX_FILE_BYTES are skipped unread, and the archive may inflate to at most ``inflation_limit()`` bytes.
    """
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            yield _Entry(str(path), ".tgz", skip=Skip("unreadable", f"{files.describe_mode(mode)}, not a regular file"))
            return
        handle = open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY), "rb")
    except OSError as error:
        yield _Entry(str(path), ".tgz", skip=Skip("unreadable", f"cannot be read ({error.strerror or error})"))
        return
    limit = inflation_limit()
    with handle:
        try:
            stream = gzip.GzipFile(fileobj=handle, mode="rb") if handle.peek(2)[:2] == GZIP_MAGIC else handle
            with tarfile.open(fileobj=stream, mode="r|") as archive:
                for member in archive:
                    if member.offset_data + max(member.size, 0) > limit:
                        raise Skip("unreadable", f"the archive inflates to more than {limit:,} bytes; the rest of it is not read")
                    entry = _member_entry(archive, member, f"{path}:{member.name}", count)
                    if entry is not None:
                        yield entry
                _read_to_the_end(stream, limit)
        except Skip as skip:
            yield _Entry(str(path), ".tgz", skip=skip)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            yield _Entry(str(path), ".tgz", skip=Skip("unreadable", f"a damaged or truncated archive ({type(error).__name__}: "
                                                                    f"{str(error)[:80]}); the rest of it is not read"))


def _read_to_the_end(stream, limit: int) -> None:
    """Read what follows the last member (tar padding): a gzip stream cut short raises EOFError only there."""
    for _ in range(limit // READ_CHUNK + 1):
        if not stream.read(READ_CHUNK):
            return
    raise Skip("unreadable", f"the archive inflates to more than {limit:,} bytes")


def _member_entry(archive: tarfile.TarFile, member: tarfile.TarInfo, name: str, count: SourceCount) -> _Entry | None:
    """One archive member as an entry (None for folders and for files that are not drawings)."""
    if member.isdir():
        return None
    suffix = _suffix(member.name, DRAWING_SUFFIXES)
    if suffix is None:
        count.ignored += 1
        return None
    if not member.isfile():
        kind = "a symbolic link" if member.issym() else "a hard link" if member.islnk() else "a device or FIFO"
        return _Entry(name, suffix, skip=Skip("unreadable", f"{kind} inside the archive (never followed)"))
    if member.size > MAX_FILE_BYTES:
        return _Entry(name, suffix, skip=Skip("unreadable", f"larger than {MAX_FILE_BYTES:,} bytes, the most accepted here"))
    return _Entry(name, suffix, content=archive.extractfile(member).read(MAX_FILE_BYTES + 1))


# ----------------------------------------------------------------------------------------------
# The import


def entry_drawings(entry: _Entry) -> Iterator[tuple[str, list | Skip]]:
    """``(name, polylines or Skip)`` for each drawing of one file (polylines in the file's own units)."""
    if entry.skip is not None:
        yield entry.name, entry.skip
    elif entry.suffix == ".svg":
        try:
            yield entry.name, svg_polylines(entry.content)
        except Skip as skip:
            yield entry.name, skip
    else:
        yield from json_drawings(entry.content, entry.name, per_line=entry.suffix == ".ndjson")


@dataclass
class _Collected:
    """The drawings imported so far (preprocessed in batches of ``PREPROCESS_BATCH``) and those skipped."""

    names: list = field(default_factory=list)
    drawings: list = field(default_factory=list)  # int16 stroke-3
    origins: list = field(default_factory=list)  # the SourceCount of each drawing
    skipped: list = field(default_factory=list)
    pending: list = field(default_factory=list)  # (name, polylines, SourceCount) waiting for preprocessing

    def add(self, name: str, drawing, count: SourceCount) -> None:
        if isinstance(drawing, Skip):
            self.skip(name, drawing, count)
            return
        self.pending.append((name, drawing, count))
        if len(self.pending) >= PREPROCESS_BATCH:
            self.flush()

    def skip(self, name: str, skip: Skip, count: SourceCount) -> None:
        self.skipped.append(Skipped(name, skip.reason, skip.detail))
        count.skipped += 1

    def flush(self) -> None:
        results = preprocess_many([polylines for _, polylines, _ in self.pending])
        for (name, _, count), result in zip(self.pending, results):
            if isinstance(result, Skip):
                self.skip(name, result, count)
            else:
                self.names.append(name)
                self.drawings.append(result)
                self.origins.append(count)
                count.imported += 1
        self.pending = []


def import_drawings(sources, out, *, category: str | None = None, seed: int = 0,
                    max_length: int = strokes.MAX_LENGTH, jobs: int = 1) -> ImportResult:
    """Import line art (see the module docstring) into the Sketch-RNN dataset ``out`` and its card.

    Args:
        sources: SVG / JSON / ndjson files, folders of them, tar archives of them.
        out: the ``.npz`` to write; its file name is its category (``icons.npz`` -> "icons").
        category: optional; must be the category the file name stands for (a check against typos).
        seed: seed of the split. max_length: drawings with more points are left out (after splitting).
        jobs: processes reading SVG geometry (the files are read, and the results kept, in this one, in
            order; the output does not depend on ``jobs``).

    Raises ValueError (nothing written) for bad arguments, a missing SRC, or too few drawings to split.
    """
    out, category = _check_import_options(sources, out, category, seed, max_length, jobs)
    collected, counts = _Collected(), [SourceCount(str(source)) for source in sources]
    for index, drawings in _read_entries(_all_entries(sources, counts), jobs):
        for name, drawing in drawings:
            collected.add(name, drawing, counts[index])
    collected.flush()
    splits = _split(collected, category, seed, max_length)
    result = ImportResult(out, card_path(out), category, splits, collected.skipped, counts, seed, max_length)
    write_dataset(result)
    return result


def _all_entries(sources, counts: list[SourceCount]) -> Iterator[tuple[int, _Entry]]:
    """``(source index, entry)`` for every drawing file of every SRC, in order, duplicates marked."""
    seen: dict = {}
    for index, source in enumerate(sources):
        for entry in source_entries(source, counts[index]):
            _deduplicate(entry, seen)
            yield index, entry


def _entry_result(item: tuple[int, _Entry]) -> tuple[int, list]:
    """What a worker sends back for one entry: its source index and its drawings (the bytes stay behind)."""
    index, entry = item
    return index, list(entry_drawings(entry))


def _read_entries(items: Iterator[tuple[int, _Entry]], jobs: int) -> Iterator[tuple[int, list]]:
    """:func:`_entry_result` of every item, in order: here, or in ``jobs`` worker processes."""
    items = iter(items)
    if jobs <= 1:
        yield from map(_entry_result, items)
        return
    first = list(itertools.islice(items, WORKERS_AFTER))
    yield from map(_entry_result, first)  # a small import is done before worker processes would have started
    if len(first) < WORKERS_AFTER:
        return
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(jobs) as pool:  # spawn: safe beside threads (the demo, TensorFlow)
        for window in _windows(items):
            yield from pool.imap(_entry_result, window, chunksize=WORKER_CHUNK)


def _windows(items: Iterator) -> Iterator[list]:
    """The items in lists of at most WINDOW_FILES entries or WINDOW_BYTES of file content (so the workers'
    queue never holds more than that: ``Pool.imap`` alone would read every file ahead)."""
    window, size = [], 0
    for item in items:
        window.append(item)
        size += len(item[1].content or b"")
        if len(window) >= WINDOW_FILES or size >= WINDOW_BYTES:
            yield window
            window, size = [], 0
    if window:
        yield window


def _check_import_options(sources, out, category, seed, max_length, jobs) -> tuple[Path, str]:
    """The output path and category; ValueError for options that cannot be honoured."""
    if not sources:
        raise ValueError("no sources given: pass SVG files, folders of them or .tgz archives of them")
    for source in sources:
        check_source(source)
    if not isinstance(jobs, (int, np.integer)) or not 1 <= jobs <= 64:
        raise ValueError(f"jobs must be a whole number from 1 to 64, got {jobs!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(max_length, (int, np.integer)) or max_length < 1:
        raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
    out = Path(out)
    if out.suffix.lower() != ".npz":
        raise ValueError(f"--out {out}: the dataset is a .npz file; name it CATEGORY.npz (e.g. icons.npz)")
    from_name = validate_category(category_from_filename(out))
    if category is not None and validate_category(category) != from_name:
        raise ValueError(f"--category {category!r} but {out.name} is read as category {from_name!r} (a .npz's category "
                         f"is its file name): name the output {validate_category(category).replace(' ', '_')}.npz")
    files.check_file_target(out)
    files.check_file_target(card_path(out))
    return out, from_name


def card_path(out) -> Path:
    """Where the dataset card of ``out`` goes: ``icons.npz`` -> ``icons.card.md``."""
    out = Path(out)
    return out.with_name(out.name[: -len(out.suffix)] + ".card.md")


def _deduplicate(entry: _Entry, seen: dict) -> None:
    """Mark an entry whose bytes an earlier entry had as a duplicate."""
    if entry.content is None:
        return
    digest = hashlib.blake2b(entry.content, digest_size=16).digest()
    if digest in seen:
        entry.skip, entry.content = Skip("duplicate", f"the same bytes as {seen[digest]}"), None
    else:
        seen[digest] = entry.name


def _split(collected: _Collected, category: str, seed: int, max_length: int) -> dict[str, list[np.ndarray]]:
    """Seeded split (by name), then the length cap (those left out are counted as skipped)."""
    names, drawings = collected.names, collected.drawings
    if len(drawings) < 3:
        raise ValueError(f"only {len(drawings)} drawing(s) could be imported (see the reasons above); a dataset needs at "
                         "least 3, one each for train, valid and test: nothing was written")
    codes = seeded_split(np.asarray(names), seed, category, SPLIT_FRACTIONS)
    splits = {}
    for code, split_name in enumerate(SPLIT_NAMES):
        members = np.flatnonzero(codes == code)
        kept, kept_index = strokes.cap_length([drawings[i] for i in members], max_length)
        splits[split_name] = kept
        for index in sorted(set(members.tolist()) - set(members[kept_index].tolist())):
            collected.origins[index].imported -= 1
            collected.skip(names[index], Skip("too long", f"{len(drawings[index])} points after simplification, more than "
                                                          f"max_length={max_length}"), collected.origins[index])
    empty = [name for name, split in splits.items() if not split]
    if empty:
        raise ValueError(f"the {', '.join(empty)} split would be empty after leaving out drawings longer than "
                         f"max_length={max_length} points: raise --max-length or add drawings; nothing was written")
    return splits


# ----------------------------------------------------------------------------------------------
# Writing: the .npz and its card


def write_dataset(result: ImportResult) -> None:
    """Write the ``.npz`` (official layout, int16 stroke-3 object arrays) and the card, each atomically."""
    arrays = {}
    for name in SPLIT_NAMES:
        array = np.empty(len(result.splits[name]), dtype=object)
        array[:] = [np.asarray(drawing, dtype=np.int16) for drawing in result.splits[name]]
        arrays[name] = array
    path = files.check_file_target(result.path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            np.savez_compressed(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        files.check_file_target(path)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    files.atomic_write_text(result.card_path, dataset_card(result))


def _length_rows(splits: dict[str, list[np.ndarray]]) -> list[str]:
    """A markdown table of drawings, points and strokes per split."""
    rows = ["| split | drawings | points min | p50 | p90 | p99 | max | strokes p50 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, drawings in splits.items():
        lengths = np.array([len(d) for d in drawings])
        stroke_counts = np.array([int(np.sum(d[:, 2] > 0)) for d in drawings])
        low, p50, p90, p99, high = np.percentile(lengths, [0, 50, 90, 99, 100])
        rows.append(f"| {name} | {len(drawings):,} | {low:.0f} | {p50:.0f} | {p90:.0f} | {p99:.0f} | {high:.0f} | "
                    f"{np.median(stroke_counts):.0f} |")
    return rows


def dataset_card(result: ImportResult) -> str:
    """The dataset card (markdown): what was imported from where, how, lengths, and every file left out."""
    total = {name: len(drawings) for name, drawings in result.splits.items()}
    lines = [
        f"# Dataset card: {result.category}",
        "",
        f"`{result.path.name}`: {result.imported:,} drawings of the category \"{result.category}\" "
        f"(train {total['train']:,}, valid {total['valid']:,}, test {total['test']:,}), written by "
        f"`sketchrnn data import` (seed {result.seed}, max_length {result.max_length}).",
        "",
        "Preprocessing (Quick, Draw!'s for its simplified drawings): every visible stroked SVG shape, transforms and "
        f"viewBox applied (svgelements); aligned to the top-left, scaled uniformly so the larger side is {FRAME:g}, "
        f"resampled at {RESAMPLE_SPACING:g}-pixel spacing, simplified with Ramer-Douglas-Peucker (epsilon "
        f"{strokes.RDP_EPSILON:g}), rounded to whole pixels; stroke-3 (int16), repeated points dropped; split "
        f"{'/'.join(f'{f:.0%}' for f in SPLIT_FRACTIONS)} by name with the seed; drawings longer than "
        f"{result.max_length} points left out. Licences: those of the sources.",
        "",
        "## Sources",
        "",
        "| source | imported | skipped | other files ignored |",
        "|---|---:|---:|---:|",
        *[f"| `{count.source}` | {count.imported:,} | {count.skipped:,} | {count.ignored:,} |" for count in result.sources],
        "",
        "## Lengths (points per drawing)",
        "",
        *_length_rows(result.splits),
        "",
        "## Skipped",
        "",
    ]
    by_reason = result.skipped_by_reason()
    if not by_reason:
        lines.append("Nothing was skipped.")
    for reason, count in by_reason.items():
        meaning = SKIP_REASONS[reason]
        lines += [f"### {reason}: {count:,}", "", f"{meaning[0].upper()}{meaning[1:]}.", ""]
        lines += [f"- `{item.name}`: {item.detail}" for item in result.skipped if item.reason == reason]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


SOURCE_ROW = re.compile(r"^\| `([^`]+)` \| [\d,]+ \| [\d,]+ \| [\d,]+ \|$", re.MULTILINE)


def card_sources(card_text: str) -> list[str]:
    """The sources a dataset card lists (as given to the import)."""
    sources_section = card_text.split("## Sources", 1)[-1].split("\n## ", 1)[0]
    return SOURCE_ROW.findall(sources_section)


def summary(result: ImportResult) -> str:
    """One line: what was written, how many drawings per split and how many were skipped for what."""
    total = {name: len(drawings) for name, drawings in result.splits.items()}
    text = (f"{result.path}: {result.imported:,} drawings of \"{result.category}\" (train {total['train']:,}, "
            f"valid {total['valid']:,}, test {total['test']:,})")
    by_reason = result.skipped_by_reason()
    if by_reason:
        text += f"; skipped {len(result.skipped):,}: " + ", ".join(f"{count:,} {reason}" for reason, count in by_reason.items())
    return text + f"; card {result.card_path}"
