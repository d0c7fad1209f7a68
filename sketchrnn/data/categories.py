"""Category names: the canonical spelling, the category a file name stands for, names safe in URLs and file names.

Category names are canonical: underscores become spaces (``alarm_clock`` and the ``word``
``alarm clock`` are one category), as in the official category list.
"""

from __future__ import annotations

import re
from pathlib import Path

NPZ_SUFFIXES = (".npz",)
NDJSON_SUFFIXES = (".ndjson.gz", ".json.gz", ".ndjson", ".json")
FILE_PREFIXES = ("quickdraw_sketchrnn_", "quickdraw_simplified_", "quickdraw_raw_", "full_simplified_", "full_raw_", "sketchrnn_")
CATEGORY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]*")  # letters, digits, spaces, _ and - (t-shirt)


def canonical_category(name) -> str:
    """The canonical spelling of a category: underscores become spaces, whitespace is collapsed."""
    return " ".join(str(name).replace("_", " ").split())


def category_from_filename(path) -> str:
    """The category a file name stands for, decorations removed.

    ``quickdraw_sketchrnn_pig_2200.npz``, ``spg/pig.ndjson.gz``, ``pig.npz`` -> ``pig``;
    ``quickdraw_simplified_eye_4488.ndjson`` -> ``eye``; ``alarm_clock.npz`` -> ``alarm clock``.
    """
    name = Path(path).name
    suffix = _source_suffix(name)
    if suffix:
        name = name[: -len(suffix)]
    for prefix in FILE_PREFIXES:
        if name.lower().startswith(prefix):
            name = name[len(prefix) :]
            break
    return canonical_category(re.sub(r"_\d+$", "", name))


def validate_category(name: str) -> str:
    """Check a category name is safe to put in a URL or file name; return its canonical form."""
    if not isinstance(name, str) or not CATEGORY_PATTERN.fullmatch(name.strip()):
        raise ValueError(
            f"invalid category name {name!r}: use letters, digits, spaces, underscores or hyphens, "
            "e.g. 'pig', 'alarm clock', 'alarm_clock'"
        )
    return canonical_category(name)


def _source_suffix(name: str) -> str | None:
    """The known file suffix of a source name (lower case), or None."""
    lower = name.lower()
    return next((suffix for suffix in NPZ_SUFFIXES + NDJSON_SUFFIXES if lower.endswith(suffix)), None)
