"""ndjson sources (``.ndjson``, ``.json``, either optionally ``.gz``), read in bounded chunks into stroke-3 drawings.

One JSON object a line, with ``drawing`` = a list of strokes ``[[x...], [y...], ...]``; rows after
``y`` are ignored. How the points are treated is the ``ndjson_format`` of
:func:`sketchrnn.data.load_dataset`:

- ``"simplified"`` -- the official simplified files: 0-255 frame, RDP already applied; used as is.
- ``"dense"`` -- dense points already in the 0-255 frame (the SPG files, ``[x, y, part_label]``):
  Ramer-Douglas-Peucker with epsilon 2.0 (``strokes.RDP_EPSILON``) is applied.
- ``"raw"`` -- the official raw files (``[x, y, t]``, canvas pixels): each drawing is aligned to a
  minimum of 0 and scaled uniformly so its longer side is 255, then RDP with epsilon 2.0, as the
  official simplification pipeline does (its 1-pixel resampling step is not repeated here).
- ``"auto"`` (default) -- per file: strokes of only ``[x, y]`` are ``simplified``; strokes with more
  rows are ``dense`` when every coordinate of the file lies in the 0-255 frame give or take
  ``FRAME_MARGIN`` (the SPG files stray to -7..277), else ``raw``. A small raw file whose drawings
  all fit in 0-255 is read as dense: pass ``ndjson_format="raw"`` for it.

The category of a drawing is its ``word`` field, else the file name (see
:func:`~sketchrnn.data.categories.category_from_filename`). Drawings without points are skipped.
Every drawing becomes stroke-3 with ``strokes.polylines_to_stroke3(origin=None)`` semantics.

What is corrupt is refused with a ValueError naming the file and line: boolean or non-numeric
coordinates, ``null`` coordinates, numbers too large for a float, JSON nested too deeply, and
trailing bytes after a gzip stream. A ``.gz`` file is inflated once (counting, in constant memory)
before it is parsed, so it may inflate to at most the limit of
:func:`~sketchrnn.data.npz.inflation_limit`; ``MAX_LINE_BYTES`` (16 MiB) is the longest line
accepted (one QuickDraw drawing is a few kB). What a file turns into is bounded as it is parsed: its
drawings, its points and each drawing's points (:mod:`sketchrnn.limits`, each with the environment variable that
raises it), so a small file of many tiny records cannot fill memory.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from sketchrnn import limits, strokes
from sketchrnn.data.categories import canonical_category, category_from_filename
from sketchrnn.data.clean import ABSURD_COORDINATE, _Batch, _check_coordinates, _starts
from sketchrnn.data.npz import READ_CHUNK, _inflation_error, inflation_limit

NDJSON_FORMATS = ("auto", "simplified", "dense", "raw")
FRAME = 255.0  # the official simplified frame: a drawing's longer side spans 0-255
FRAME_MARGIN = 32.0  # "auto" reads dense points within [-32, 287] as already in the 0-255 frame
MAX_LINE_BYTES = 16 << 20  # the longest ndjson line accepted (one QuickDraw drawing is a few kB)
FLUSH_POINTS = 1 << 20  # parsed coordinates move into a float64 chunk every this many points
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class _ParsedNdjson:
    """Every drawing of an ndjson file flattened into coordinates while parsing.

    The coordinates are kept as JSON gave them (``xs``, ``ys``) only until ``FLUSH_POINTS`` have arrived, then
    checked and moved into float64 chunks (a Python number costs 32 bytes a coordinate, a float64 8). The
    drawings, the points and each drawing's points are counted against :mod:`sketchrnn.limits` as they arrive.
    """

    path: Path
    xs: list = field(default_factory=list)  # coordinates not yet in a chunk
    ys: list = field(default_factory=list)
    chunks: list = field(default_factory=list)  # float64 [n, 2] arrays of the coordinates before xs / ys
    chunked: int = 0  # points in the chunks
    stroke_lengths: list = field(default_factory=list)  # points per non-empty stroke
    strokes_per_drawing: list = field(default_factory=list)
    categories: list = field(default_factory=list)
    keys: list = field(default_factory=list)
    locations: list = field(default_factory=list)
    all_keyed: bool = True
    max_rows: int = 0  # most rows of any stroke: 2 for [x, y], 3+ for raw / dense files
    # (drawings, points, points per drawing) it may hold: sketchrnn.limits, read once per file
    bounds: tuple = field(default_factory=lambda: (limits.DRAWINGS.value(), limits.POINTS.value(),
                                                   limits.DRAWING_POINTS.value()))

    def add(self, drawing, category: str, key_id, location: str) -> None:
        """Append one record's strokes; records whose strokes have no points are skipped."""
        path = self.path
        if not isinstance(drawing, list):
            raise ValueError(f"{path}: {location}: 'drawing' must be a list of strokes [[x...], [y...]], got {type(drawing).__name__}")
        lengths = []
        for stroke in drawing:
            if not (isinstance(stroke, list) and len(stroke) >= 2 and isinstance(stroke[0], list)
                    and isinstance(stroke[1], list) and len(stroke[0]) == len(stroke[1])):
                raise ValueError(f"{path}: {location}: each stroke must be [[x...], [y...]] with as many x as y values")
            if stroke[0]:
                lengths.append(len(stroke[0]))
                self.max_rows = max(self.max_rows, len(stroke))
        if not lengths:
            return
        self._count(sum(lengths), location)
        for stroke in drawing:
            if stroke[0]:
                self.xs.extend(stroke[0])
                self.ys.extend(stroke[1])
        self.stroke_lengths.extend(lengths)
        self.strokes_per_drawing.append(len(lengths))
        self.categories.append(category)
        self.all_keyed &= key_id is not None
        self.keys.append(f"{path.name}:{location}" if key_id is None else str(key_id))
        self.locations.append(location)
        if len(self.xs) >= FLUSH_POINTS:
            self._flush()

    def _count(self, points: int, location: str) -> None:
        """Refuse a drawing past the per-drawing limit, or one that takes the file past its drawings or points."""
        most_drawings, most_points, most_drawing_points = self.bounds
        if points > most_drawing_points:
            raise limits.DRAWING_POINTS.error(f"{self.path}: {location}", f"the drawing has {points:,} points,")
        if len(self.locations) + 1 > most_drawings:
            raise limits.DRAWINGS.error(str(self.path), "it holds", "a file of many tiny records")
        if self.chunked + len(self.xs) + points > most_points:
            raise limits.POINTS.error(str(self.path), "its drawings hold")

    def _flush(self) -> None:
        """Move the coordinates not yet in a chunk into a float64 chunk (ValueError naming a bad one)."""
        if self.xs:
            self.chunks.append(_checked_points(self, self.xs, self.ys, self.chunked))
            self.chunked += len(self.xs)
            self.xs, self.ys = [], []

    def points(self) -> np.ndarray:
        """Every coordinate as float64 ``[P, 2]``."""
        self._flush()
        points = np.concatenate(self.chunks) if self.chunks else np.zeros((0, 2))
        self.chunks = []
        return points


def _ndjson_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of every line of a plain or gzip'd ndjson file, read in bounded chunks.

    A ``.gz`` file is inflated once first, only counting (constant memory), so a decompression
    bomb or trailing data is refused before anything is parsed.
    """
    if not path.name.lower().endswith(".gz"):
        return _split_lines(_file_chunks(path), path)
    limit = inflation_limit()
    for _ in _gunzip_chunks(path, limit):
        pass
    return _split_lines(_gunzip_chunks(path, limit), path)


def _file_chunks(path: Path) -> Iterator[bytes]:
    """The bytes of a file, ``READ_CHUNK`` at a time."""
    with open(path, "rb") as stream:
        while chunk := stream.read(READ_CHUNK):
            yield chunk


def _gunzip_chunks(path: Path, limit: int) -> Iterator[bytes]:
    """The inflated bytes of a gzip file (every member), ValueError once they pass ``limit`` bytes."""
    inflated = 0
    with open(path, "rb") as stream:
        for chunk in _inflate_gzip_members(stream, path):
            inflated += len(chunk)
            if inflated > limit:
                raise _inflation_error(path, "its gzip stream inflates to", limit)
            yield chunk


def _inflate_gzip_members(stream, path: Path) -> Iterator[bytes]:
    """Inflate concatenated gzip members in chunks of at most ``READ_CHUNK`` bytes.

    ValueError for trailing bytes that do not start another member, and for a cut-off stream.
    """
    decompressor, pending = zlib.decompressobj(wbits=31), b""
    while True:
        pending = pending or stream.read(READ_CHUNK)
        if not pending:
            if decompressor.eof:
                return
            raise ValueError(f"{path}: cannot read the file (corrupt or truncated? the gzip stream ends early)")
        if decompressor.eof:
            if not pending.startswith(GZIP_MAGIC):
                trailing = len(pending) + os.fstat(stream.fileno()).st_size - stream.tell()
                raise ValueError(f"{path}: not a valid gzip file: {trailing} bytes of trailing data follow the end of "
                                 "the gzip stream (the file was altered, or is not what gzip writes)")
            decompressor = zlib.decompressobj(wbits=31)
        output = decompressor.decompress(pending, READ_CHUNK)
        pending = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
        if output:
            yield output


def _split_lines(chunks: Iterator[bytes], path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each ``\\n``-ended line of a stream of chunks; ValueError for an over-long line."""
    parts, waiting, number = [], 0, 0  # the start of a line not yet ended, and its length
    for chunk in chunks:
        if b"\n" not in chunk:
            parts.append(chunk)
            waiting += len(chunk)
            if waiting > MAX_LINE_BYTES:
                raise ValueError(f"{path}: line {number + 1} is longer than {MAX_LINE_BYTES >> 20} MiB; one ndjson "
                                 "record a line is expected, and a QuickDraw drawing takes a few kB")
            continue
        lines = (b"".join(parts) + chunk).split(b"\n")
        parts = [lines.pop()]
        waiting = len(parts[0])
        for line in lines:
            number += 1
            yield number, line
    if waiting:
        yield number + 1, b"".join(parts)


def _parse_ndjson(path: Path, wanted, available: set[str]) -> _ParsedNdjson:
    """Parse every line of an ndjson file, keeping the records of the wanted categories."""
    parsed = _ParsedNdjson(path)
    fallback = category_from_filename(path)
    try:
        for line_number, line in _ndjson_lines(path):
            if not line.strip():
                continue
            where = f"{path}: line {line_number}"
            record = _parse_record(_decode_line(line, where), where)
            category = canonical_category(record["word"]) if "word" in record else fallback
            available.add(category)
            if wanted is None or category in wanted:
                parsed.add(record["drawing"], category, record.get("key_id"), f"line {line_number}")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: cannot read the file (corrupt or truncated? {error})") from None
    return parsed


def _decode_line(line: bytes, where: str) -> str:
    """A line as UTF-8 text, or a ValueError naming it."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{where}: not UTF-8 text ({error.reason} at byte {error.start}); ndjson files are UTF-8") from None


def _parse_record(line: str, where: str) -> dict:
    """One ndjson line as a record with a ``drawing`` field; ``where`` names the file and line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: malformed JSON ({error.msg} at column {error.colno})") from None
    except RecursionError:
        raise ValueError(f"{where}: JSON nested too deeply; a record is an object whose 'drawing' is a list of "
                         "strokes [[x...], [y...]] (three levels of lists)") from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise ValueError(f"{where}: unreadable JSON ({error})") from None
    if not isinstance(record, dict) or "drawing" not in record:
        raise ValueError(
            f"{where}: the record has no 'drawing' field; expected one JSON object a line "
            'like {"word": "pig", "key_id": "...", "drawing": [[[x...], [y...]], ...]}'
        )
    return record


def _checked_points(parsed: _ParsedNdjson, xs: list, ys: list, first: int) -> np.ndarray:
    """Parsed JSON coordinates (the file's points from index ``first`` on) as float64 ``[n, 2]``, or a
    ValueError naming the drawing and what is wrong."""
    if set(map(type, xs)) | set(map(type, ys)) <= {int, float}:
        try:
            return np.column_stack([np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64)])
        except OverflowError:
            pass  # an integer beyond float range: found and named below
    bad, axis, problem = next((index, axis, problem) for index, pair in enumerate(zip(xs, ys))
                              for axis, value in zip("xy", pair) if (problem := _coordinate_problem(value)))
    points_per_drawing = np.add.reduceat(parsed.stroke_lengths, _starts(parsed.strokes_per_drawing))
    drawing = int(np.searchsorted(np.cumsum(points_per_drawing), first + bad, side="right"))
    raise ValueError(
        f"{parsed.path}: {parsed.locations[drawing]}: coordinate {axis} {problem}; "
        f"coordinates must be numbers (JSON integers or decimals) within +-{ABSURD_COORDINATE:g}"
    )


def _coordinate_problem(value) -> str | None:
    """What is wrong with one parsed JSON coordinate, or None for a number a float can hold."""
    if value is None:
        return "is missing (null)"
    if isinstance(value, bool):
        return f"is a boolean ({json.dumps(value)}), not a number"
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            return f"is too large: an integer of {len(str(abs(value)))} digits"
        return None
    if isinstance(value, float):
        return None
    kind = {str: "a string", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)
    shown = json.dumps(value)
    return f"is {kind} ({shown if len(shown) <= 40 else shown[:37] + '...'}), not a number"


def _read_ndjson_source(path: Path, wanted, available: set[str], ndjson_format: str) -> _Batch:
    """All drawings of an ndjson file as one batch of stroke-3 rows (RDP'd where the format needs it)."""
    parsed = _parse_ndjson(path, wanted, available)
    points = parsed.points()
    stroke_lengths = np.asarray(parsed.stroke_lengths, dtype=np.int64)
    drawing_strokes = np.asarray(parsed.strokes_per_drawing, dtype=np.int64)
    drawing_lengths = np.add.reduceat(stroke_lengths, _starts(drawing_strokes)) if len(drawing_strokes) else drawing_strokes
    _check_coordinates(points, drawing_lengths, parsed.locations, path)
    kind = _ndjson_kind(ndjson_format, parsed.max_rows, points)
    if kind == "raw":
        points = _fit_to_frame(points, drawing_lengths)
    if kind in ("raw", "dense") and len(points):
        points, stroke_lengths = _simplify(points, stroke_lengths)
        drawing_lengths = np.add.reduceat(stroke_lengths, _starts(drawing_strokes))
    return _Batch(
        path=str(path), stroke3=_polylines_to_stroke3_flat(points, stroke_lengths, drawing_lengths),
        lengths=drawing_lengths, categories=np.array(parsed.categories, dtype=object),
        keys=np.array(parsed.keys, dtype=object), locations=np.array(parsed.locations, dtype=object),
        keyed=parsed.all_keyed,
    )


def _ndjson_kind(requested: str, max_rows: int, points: np.ndarray) -> str:
    """The format of an ndjson file: as requested, or guessed ("auto", see the module docstring)."""
    if requested != "auto":
        return requested
    if max_rows <= 2:
        return "simplified"
    if len(points) == 0 or (points.min() >= -FRAME_MARGIN and points.max() <= FRAME + FRAME_MARGIN):
        return "dense"
    return "raw"


def _fit_to_frame(points: np.ndarray, drawing_lengths: np.ndarray, frame: float = FRAME) -> np.ndarray:
    """Align each drawing to a minimum of 0 and scale it uniformly so its longer side is ``frame``."""
    starts = _starts(drawing_lengths)
    low = np.minimum.reduceat(points, starts, axis=0)  # (D, 2)
    extent = (np.maximum.reduceat(points, starts, axis=0) - low).max(axis=1)  # (D,)
    factor = frame / np.where(extent > 0, extent, frame)
    return (points - np.repeat(low, drawing_lengths, axis=0)) * np.repeat(factor, drawing_lengths)[:, None]


def _simplify(points: np.ndarray, stroke_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ramer-Douglas-Peucker (epsilon 2.0) on every stroke at once; returns kept points and stroke lengths."""
    keep = strokes.rdp_keep_mask(points, np.cumsum(stroke_lengths), strokes.RDP_EPSILON)
    kept_lengths = np.add.reduceat(keep.astype(np.int64), _starts(stroke_lengths))
    return points[keep], kept_lengths


def _polylines_to_stroke3_flat(points: np.ndarray, stroke_lengths, drawing_lengths) -> np.ndarray:
    """``strokes.polylines_to_stroke3(origin=None)`` for many drawings at once: ``[P, 3]`` float64.

    Row 0 of each drawing is ``(0, 0)``; the last point of each stroke has ``pen_lifted = 1``.
    """
    offsets = np.diff(points, axis=0, prepend=points[:1])  # (P, 2)
    offsets[_starts(drawing_lengths)] = 0.0
    pen_lifted = np.zeros(len(points))
    pen_lifted[np.cumsum(stroke_lengths) - 1] = 1.0
    return np.column_stack([offsets, pen_lifted])
