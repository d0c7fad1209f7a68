"""Quick, Draw! datasets: :func:`load_dataset` reads sources, cleans and splits their drawings, and length-caps them.

Sources (:func:`load_dataset` takes several; each is a path or a bare category name):

* **Sketch-RNN ``.npz``** -- the official layout (the file's own split is kept) or a single array
  ``sketches`` (split here), read without running anything from the file (see
  :mod:`sketchrnn.data.npz`).
* **ndjson** (``.ndjson``, ``.json``, either optionally ``.gz``): one JSON object a line; the
  ``ndjson_format`` of :func:`load_dataset` says how its points are treated (see
  :mod:`sketchrnn.data.ndjson`). Records are de-duplicated on ``key_id`` across every source
  loaded (the first occurrence wins) when each record of a file has one.
* **A bare category name** (``pig``): the official Sketch-RNN ``.npz`` in the cache
  (:func:`~sketchrnn.data.download.cache_path`), fetched by
  :func:`~sketchrnn.data.download.download_category` only when asked to.

Category names are canonical: underscores become spaces (``alarm_clock`` and the ``word``
``alarm clock`` are one category), as in the official category list.

Pipeline of every drawing: read -> stroke-3 (``strokes.polylines_to_stroke3(origin=None)``
semantics for ndjson) -> refuse NaN/inf or absurd coordinates -> optional uniform rescale
(``rescale_to``) -> ``strokes.clean_stroke3`` (clamp offsets to +-1000, drop repeated points) ->
leave out drawings without extent -> split -> ``strokes.cap_length`` (drawings longer than
``max_length`` points are dropped). The steps run vectorised over all drawings of a source at once.
How a source without its own split is split, deterministically: see :mod:`sketchrnn.data.clean`.

Left out, and counted in ``Dataset.left_out`` (shown by :func:`describe`): drawings longer than
``max_length`` points (after splitting, as above), and drawings without extent (every point in one
place: a single point, or only zero offsets), which carry no shape to learn; these are left out
before splitting, like drawings without points, so junk in a file does not move the other drawings
between splits. A source none of whose drawings has extent is refused.

A source must be a regular file: a directory, device (``/dev/zero``), named pipe or symbolic link
loop is refused by ``os.stat`` before anything is opened, so reading never hangs.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from sketchrnn import strokes
from sketchrnn.data.categories import NPZ_SUFFIXES, _source_suffix, canonical_category, category_from_filename, validate_category
from sketchrnn.data.clean import Split, _assemble, _Batch, _check_splits, _deduplicate, _drop_without_extent, _prepare
from sketchrnn.data.download import cache_path, category_url, download_category, stderr_progress
from sketchrnn.data.ndjson import NDJSON_FORMATS, _read_ndjson_source
from sketchrnn.data.npz import _read_npz_source

LEFT_OUT_REASONS = ("without extent", "longer than max_length")  # keys of Split.left_out


@dataclass
class Dataset:
    """Drawings of one or more sources, by split, with their category names."""

    categories: list[str]
    splits: dict[str, Split]  # keys "train", "valid", "test"
    sources: list[str]  # what was loaded, for model cards
    options: dict = field(default_factory=dict)  # the load_dataset settings, for model cards
    left_out: dict[str, int] = field(default_factory=dict)  # LEFT_OUT_REASONS -> how many drawings were left out

    def stats(self) -> strokes.DataStats:
        """Normalisation statistics (scale factor, typical extent, median length) of the train split."""
        return strokes.compute_stats(self.splits["train"].drawings)


def load_dataset(
    sources: Sequence[str],
    *,
    max_length: int = strokes.MAX_LENGTH,
    seed: int = 0,
    rescale_to: float | None = None,
    cache_dir=None,
    download: bool = False,
    split_fractions=(0.9, 0.05, 0.05),
    categories=None,
    ndjson_format: str = "auto",
) -> Dataset:
    """Load, clean, split and length-cap drawings from files or cached categories.

    Args:
        sources: paths (``.npz``, ``.ndjson``, ``.ndjson.gz``, ``.json``) or bare category names
            (``"pig"``: the official Sketch-RNN file in ``cache_dir``).
        max_length: drawings with more points (after cleaning) are dropped.
        seed: seed of the split of sources without their own split (see :mod:`sketchrnn.data.clean`).
        rescale_to: if given, every drawing is scaled uniformly so max(width, height) == rescale_to
            (255 is the official simplified frame; Sketch-RNN ``.npz`` files use a larger one).
        cache_dir: where bare category names are looked up (default :func:`default_cache_dir`).
        download: fetch a bare category that is not in the cache.
        split_fractions: (train, valid, test) fractions for sources without their own split.
        categories: keep only these category names (ValueError for a name no source has).
        ndjson_format: "auto", "simplified", "dense" or "raw" (see :mod:`sketchrnn.data.ndjson`).

    Raises ValueError naming the file and what is wrong for anything unreadable or unusable.
    """
    sources = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    _check_options(sources, max_length, seed, rescale_to, split_fractions, ndjson_format)
    wanted = _wanted_categories(categories)
    batches, available = _read_sources(sources, wanted, cache_dir, download, ndjson_format)
    _check_wanted(wanted, available)
    batches = [batch for batch in _deduplicate(batches) if len(batch.lengths)]
    if not batches:
        raise ValueError(f"no drawings found in {', '.join(map(str, sources))}: the dataset is empty")
    batches, without_extent = _drop_without_extent([_prepare(batch, rescale_to) for batch in batches])
    names, splits, uncapped = _assemble(batches, seed, split_fractions, max_length)
    _check_splits(splits, uncapped, split_fractions, max_length, batches)
    options = dict(max_length=max_length, seed=seed, rescale_to=rescale_to, split_fractions=list(split_fractions),
                   categories=None if wanted is None else sorted(wanted), ndjson_format=ndjson_format)
    too_long = sum(uncapped.values()) - sum(len(split) for split in splits.values())
    return Dataset(categories=names, splits=splits, sources=[os.fspath(s) for s in sources], options=options,
                   left_out=dict(zip(LEFT_OUT_REASONS, (without_extent, too_long))))


def _check_options(sources, max_length, seed, rescale_to, split_fractions, ndjson_format) -> None:
    """Refuse settings load_dataset cannot honour, saying what is accepted."""
    if not sources:
        raise ValueError("no sources given: pass .npz / .ndjson paths or category names such as 'pig'")
    if not isinstance(max_length, (int, np.integer)) or max_length < 1:
        raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if rescale_to is not None and not (np.isfinite(rescale_to) and rescale_to > 0):
        raise ValueError(f"rescale_to must be a positive number or None, got {rescale_to!r}")
    fractions = np.asarray(split_fractions, dtype=np.float64)
    if fractions.shape != (3,) or (fractions < 0).any() or fractions[0] <= 0 or abs(fractions.sum() - 1) > 1e-6:
        raise ValueError(f"split_fractions must be three non-negative numbers (train > 0) summing to 1, got {split_fractions!r}")
    if ndjson_format not in NDJSON_FORMATS:
        raise ValueError(f"ndjson_format must be one of {', '.join(NDJSON_FORMATS)}, got {ndjson_format!r}")


def _wanted_categories(categories) -> set[str] | None:
    """The canonical names of the requested categories, or None for all."""
    if categories is None:
        return None
    if isinstance(categories, str):
        categories = [categories]
    return {canonical_category(name) for name in categories}


def _check_wanted(wanted: set[str] | None, available: set[str]) -> None:
    """ValueError listing the available categories if a requested one is in no source."""
    if wanted is None:
        return
    unknown = sorted(wanted - available)
    if unknown:
        raise ValueError(
            f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(map(repr, unknown))}; "
            f"the sources have: {', '.join(sorted(available))}"
        )


def _resolve_source(source, cache_dir, download: bool) -> Path:
    """The file a source names: an existing path, or a bare category's file in the cache."""
    text = os.fspath(source)
    if "\x00" in text:
        raise ValueError(f"{text!r}: not a file name or category name (it contains a NUL character)")
    path = _expand_user(Path(text))
    looks_like_path = path.is_file() or _source_suffix(path.name) is not None or "/" in text or os.sep in text
    if looks_like_path:
        problem = _not_a_regular_file(path)
        if problem:
            raise ValueError(f"{text}: {problem}")
        if _source_suffix(path.name) is None:
            raise ValueError(
                f"{text}: unsupported file type; expected .npz, .ndjson, .ndjson.gz, .json or .json.gz, "
                "or a bare category name such as 'pig'"
            )
        return path
    category = validate_category(text)
    target = cache_path(category, "npz", cache_dir)
    if target.is_file():
        return target
    if download:
        return download_category(category, kind="npz", cache_dir=cache_dir, progress=stderr_progress)
    raise ValueError(_not_cached_message(category, target))


def _expand_user(path: Path) -> Path:
    """``~`` expanded; the path unchanged when there is no such user or home directory."""
    try:
        return path.expanduser()
    except RuntimeError:
        return path


def _not_a_regular_file(path: Path) -> str | None:
    """Why ``path`` cannot be a data source, or None for a regular file.

    Found with ``os.stat`` alone: a device or named pipe is never opened (reading a FIFO would hang).
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "is a broken symbolic link (its target does not exist)" if path.is_symlink() else "no such file"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "is a symbolic link loop (following the links never reaches a file)"
        return f"cannot be read ({error.strerror or error})"
    if stat.S_ISREG(mode):
        return None
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    return f"is {kind}, not a regular file; expected an .npz, .ndjson, .ndjson.gz, .json or .json.gz file"


def _not_cached_message(category: str, target: Path) -> str:
    """What to do when a bare category's file is not in the cache."""
    command_name = category.replace(" ", "_")
    return (
        f"category {category!r} is not in the cache: {target} does not exist. "
        f"Run `sketchrnn data download {command_name}` (or load with download=True / --download), or without network access "
        f"fetch {category_url(category, 'npz')} elsewhere and put it at {target}"
    )


def _read_sources(sources, wanted, cache_dir, download, ndjson_format) -> tuple[list[_Batch], set[str]]:
    """Read every source; also return every category name the sources have (before filtering)."""
    batches, available = [], set()
    for source in sources:
        path = _resolve_source(source, cache_dir, download)
        if _source_suffix(path.name) in NPZ_SUFFIXES:
            category = category_from_filename(path)
            available.add(category)
            if wanted is None or category in wanted:
                batches.append(_read_npz_source(path, category))
        else:
            batches.append(_read_ndjson_source(path, wanted, available, ndjson_format))
    return batches, available


def _left_out_text(left_out: dict[str, int], max_length) -> str:
    """``"3 without extent (all points in one place), 12 longer than max_length=250 points"`` (zero counts omitted)."""
    texts = {"without extent": "without extent (all points in one place)",
             "longer than max_length": f"longer than max_length={max_length} points"}
    return ", ".join(f"{count} {texts[reason]}" for reason, count in left_out.items() if count)


def describe(dataset: Dataset) -> str:
    """A short human-readable report: per split drawings and length percentiles, then the train statistics."""
    lines = [f"sources: {', '.join(dataset.sources)}", f"categories ({len(dataset.categories)}): {_short_list(dataset.categories)}"]
    lines.append(f"{'split':<6} {'drawings':>9} {'min':>5} {'p50':>5} {'p90':>5} {'p99':>5} {'max':>5}   (points per drawing)")
    for name, split in dataset.splits.items():
        lengths = np.array([len(d) for d in split.drawings])
        if len(lengths):
            low, p50, p90, p99, high = np.percentile(lengths, [0, 50, 90, 99, 100])
            lines.append(f"{name:<6} {len(lengths):>9} {low:>5.0f} {p50:>5.0f} {p90:>5.0f} {p99:>5.0f} {high:>5.0f}")
        else:
            lines.append(f"{name:<6} {0:>9}")
    if any(dataset.left_out.values()):
        lines.append(f"left out: {_left_out_text(dataset.left_out, dataset.options.get('max_length', '?'))}")
    stats = dataset.stats()
    lines.append(f"scale factor: {stats.scale_factor:.4g} source units (std of the train split's dx and dy)")
    lines.append(
        f"typical extent: {stats.typical_extent:.4g} normalised units = {stats.typical_extent * stats.scale_factor:.4g} "
        "source units (median max(width, height) of a train drawing)"
    )
    return "\n".join(lines)


def _short_list(names: list[str], limit: int = 20) -> str:
    """Up to ``limit`` names, then how many more."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names) - limit} more)"
