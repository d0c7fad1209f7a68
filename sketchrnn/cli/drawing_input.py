"""A drawing given on the command line: a JSON file of canvas strokes or one simplified-ndjson record."""

from __future__ import annotations

import argparse
import json
import math


def positive_size(text: str) -> float:
    """A canvas side: a finite number > 0 (``'nan'``, ``'inf'``, ``0`` and negatives are refused)."""

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give the canvas width and height in pixels") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; width and height must be finite numbers > 0")
    return value


MAX_DRAWING_BYTES = 8 * 2**20  # a --input drawing larger than this is refused (20,000 points take ~1 MB)
JSON_KINDS = {str: "a string", int: "a number", float: "a number", bool: "true or false", type(None): "null"}


def read_drawing_json(path) -> list:
    """A drawing from a JSON file: canvas strokes, or one simplified-ndjson record.

    Only a regular file of at most ``MAX_DRAWING_BYTES`` is read (a FIFO or device is refused, never opened);
    numbers too large for a float (``10**400``) and ``NaN`` / ``Infinity`` are refused.
    """

    from sketchrnn import files

    try:
        text = files.read_regular_file(path, MAX_DRAWING_BYTES).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not text (UTF-8 JSON expected)") from None
    try:
        value = json.loads(text, parse_int=json_coordinate, parse_float=json_coordinate, parse_constant=json_constant)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error})") from None
    except ValueError as error:  # from json_coordinate / json_constant
        raise ValueError(f"{path}: {error}") from None
    except RecursionError:
        raise ValueError(f"{path} is JSON nested too deeply; a drawing is a list of strokes, each a list of "
                         f"[x, y] points (3 levels)") from None
    if isinstance(value, dict):
        return drawing_from_record(value, path)
    if not isinstance(value, list):
        raise ValueError(f"{path} holds {JSON_KINDS.get(type(value), 'a JSON value')} ({text.strip()[:40]}), not a "
                         f"drawing: expected a list of strokes, each a list of [x, y] points, or a QuickDraw record "
                         f"{{\"drawing\": [[[x...], [y...]], ...]}}")
    return value


def json_coordinate(text: str) -> float:
    """A JSON number as a float; ValueError for one too large for a float (e.g. ``10**400``)."""

    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 20 else f"{text[:12]}... ({len(text)} characters)"
        raise ValueError(f"the number {shown} is too large for a coordinate; points must be [x, y] pixel positions")
    return value


def json_constant(name: str):
    """Refuse JSON's non-standard ``NaN`` / ``Infinity`` constants (Python's json accepts them)."""
    raise ValueError(f"{name} is not a coordinate; points must be [x, y] with finite numbers")


def drawing_from_record(record: dict, path) -> list:
    """The strokes of a simplified-ndjson record ``{"drawing": [[[x...], [y...]], ...]}`` as lists of (x, y)."""
    if "drawing" not in record:
        raise ValueError(f"{path}: a JSON object must be a QuickDraw record with a 'drawing' field")
    try:
        return [list(zip(stroke[0], stroke[1])) for stroke in record["drawing"]]
    except (TypeError, IndexError, KeyError):
        raise ValueError(f"{path}: 'drawing' must be a list of [[x...], [y...]] strokes") from None
