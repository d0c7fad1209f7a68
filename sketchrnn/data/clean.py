"""Cleaning and deterministic splits of the drawings read from sources.

A source's drawings travel as one ``_Batch``: every drawing's stroke-3 rows concatenated, so each
step runs vectorised over all of them at once. Coordinates that are NaN/inf or absurd are refused
(:func:`_check_coordinates`); :func:`clean_stroke3_flat` is ``strokes.clean_stroke3`` (clamp
offsets to +-1000, drop repeated points) on many drawings, :func:`rescale_drawings_flat` the
optional uniform rescale. Records are de-duplicated on ``key_id`` across every source loaded (the
first occurrence wins) when each record of a file has one.

Splits: a source without its own split is split per category with
``numpy.random.default_rng([seed, crc32(category)]).permutation``, applied to the category's drawings
in ``key_id`` order (file order when the file has no key_ids); valid and test get
``floor(count * fraction)`` drawings (at least one each once a category has 3), train the rest. So
a drawing's split depends only on the seed, its category and the set of that source's drawings of
that category -- not on the file order, on the other sources or categories loaded, or on
``max_length`` (the cap is applied after splitting). ``Split.keys`` records which drawing went where.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field

import numpy as np

from sketchrnn import strokes

SPLIT_NAMES = ("train", "valid", "test")
ABSURD_COORDINATE = 1e5  # |coordinate| or |offset| beyond this is refused as corrupt data


@dataclass
class Split:
    """One split: cleaned, length-capped stroke-3 drawings and their category ids."""

    drawings: list[np.ndarray]  # each float32 [N, 3] (dx, dy, pen_lifted) in the source's units
    category_ids: np.ndarray  # int64 [len(drawings)], index into Dataset.categories
    keys: list[str] = field(default_factory=list)  # per drawing: its key_id, or "<file name>:<where in the file>"

    def __len__(self) -> int:
        return len(self.drawings)


@dataclass
class _Batch:
    """Many drawings of one source concatenated: the unit the vectorised pipeline works on."""

    path: str
    stroke3: np.ndarray  # [P, 3] every drawing's rows one after another
    lengths: np.ndarray  # int64 [D] rows per drawing, each > 0
    categories: np.ndarray  # object [D] canonical category name per drawing
    keys: np.ndarray  # object [D] key_id, or "<file name>:<location>"
    locations: np.ndarray  # object [D] where the drawing is in the file ("line 12", "train[3]")
    keyed: bool  # keys are key_ids: de-duplicate on them and order splits by them
    given_splits: np.ndarray | None = None  # int8 [D] index into SPLIT_NAMES for files with their own split


def _check_coordinates(values: np.ndarray, lengths, locations, path) -> None:
    """ValueError naming the drawing if a value is NaN/inf or a coordinate is absurdly large."""
    if values.dtype.kind in "iu" and values.dtype.itemsize <= 2:
        return  # 16-bit integers are always finite and within +-ABSURD_COORDINATE
    if np.isfinite(values).all() and np.abs(values[:, :2]).max(initial=0) <= ABSURD_COORDINATE:
        return
    finite = np.isfinite(values).all(axis=1)
    bad = ~finite | (np.abs(np.where(np.isfinite(values[:, :2]), values[:, :2], 0)) > ABSURD_COORDINATE).any(axis=1)
    if not bad.any():
        return
    row = int(np.argmax(bad))
    drawing = int(np.searchsorted(np.cumsum(lengths), row, side="right"))
    reason = "NaN or infinite" if not finite[row] else f"absurd (beyond +-{ABSURD_COORDINATE:g})"
    raise ValueError(
        f"{path}: {locations[drawing]}: the drawing has {reason} coordinates {values[row, :2].tolist()}; "
        f"coordinates must be finite numbers within +-{ABSURD_COORDINATE:g}"
    )


def _starts(lengths) -> np.ndarray:
    """Start index of each run given the run lengths."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.cumsum(lengths) - lengths


def _select(batch: _Batch, mask: np.ndarray) -> _Batch:
    """The drawings of a batch where ``mask`` is true."""
    if mask.all():
        return batch
    return dataclasses.replace(
        batch, stroke3=batch.stroke3[np.repeat(mask, batch.lengths)], lengths=batch.lengths[mask],
        categories=batch.categories[mask], keys=batch.keys[mask], locations=batch.locations[mask],
        given_splits=None if batch.given_splits is None else batch.given_splits[mask],
    )


def _deduplicate(batches: list[_Batch]) -> list[_Batch]:
    """Drop drawings whose key_id an earlier drawing (of any source) already had."""
    seen: set[str] = set()
    result = []
    for batch in batches:
        if not batch.keyed:
            result.append(batch)
            continue
        mask = np.ones(len(batch.keys), dtype=bool)
        for index, key in enumerate(batch.keys):
            if key in seen:
                mask[index] = False
            seen.add(key)
        result.append(_select(batch, mask))
    return result


def _prepare(batch: _Batch, rescale_to: float | None) -> _Batch:
    """Optionally rescale, then clean every drawing of a batch (float32 rows)."""
    stroke3 = batch.stroke3
    if rescale_to is not None:
        stroke3 = rescale_drawings_flat(stroke3, batch.lengths, rescale_to)
    stroke3, lengths = clean_stroke3_flat(stroke3, batch.lengths)
    return dataclasses.replace(batch, stroke3=stroke3, lengths=lengths)


def rescale_drawings_flat(stroke3: np.ndarray, lengths, size: float) -> np.ndarray:
    """Scale each concatenated stroke-3 drawing uniformly so max(width, height) == ``size``.

    Drawings without extent (a single point) are left as they are.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    extent = drawing_extents_flat(stroke3, lengths)
    factor = np.where(extent > 0, size / np.where(extent > 0, extent, 1.0), 1.0)
    result = np.array(stroke3, dtype=np.float64)
    result[:, :2] = result[:, :2] * np.repeat(factor, lengths)[:, None]
    return result


def drawing_extents_flat(stroke3: np.ndarray, lengths) -> np.ndarray:
    """``strokes.drawing_extent`` (max(width, height) of the points) of many concatenated drawings: float64 ``[D]``.

    0 for a drawing without extent: a single point, or only zero offsets.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        return np.zeros(0)
    starts = _starts(lengths)
    offsets = np.asarray(stroke3[:, :2], dtype=np.float64)
    positions = np.cumsum(offsets, axis=0)
    positions -= np.repeat(positions[starts] - offsets[starts], lengths, axis=0)  # each drawing from its own origin
    return (np.maximum.reduceat(positions, starts, axis=0) - np.minimum.reduceat(positions, starts, axis=0)).max(axis=1)


def clean_stroke3_flat(stroke3: np.ndarray, lengths, limit: float = strokes.OFFSET_LIMIT) -> tuple[np.ndarray, np.ndarray]:
    """``strokes.clean_stroke3`` on many concatenated drawings at once (same rows, float32).

    Returns the cleaned rows and the new length of each drawing. Pen values become exactly 0 or 1.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    cleaned = np.asarray(stroke3, dtype=np.float32).copy()
    cleaned[:, :2] = np.clip(cleaned[:, :2], -limit, limit)
    pen_lifted = cleaned[:, 2] > 0.5
    zero_move = (cleaned[:, 0] == 0) & (cleaned[:, 1] == 0)
    inside_stroke = np.concatenate([[False], ~pen_lifted[:-1]])  # the previous point kept the pen down
    inside_stroke[_starts(lengths)] = False  # a drawing's first row is never dropped
    drop = zero_move & inside_stroke
    kept = np.flatnonzero(~drop)
    # a dropped row passes its pen lift to the kept row before it: max over each kept row's run
    cleaned[:, 2] = 0.0
    cleaned[kept, 2] = np.maximum.reduceat(pen_lifted, kept) if len(kept) else []
    dropped_per_drawing = np.add.reduceat(drop.astype(np.int64), _starts(lengths)) if len(lengths) else lengths
    return cleaned[kept], lengths - dropped_per_drawing


def split_counts(count: int, fractions) -> tuple[int, int, int]:
    """How many of ``count`` drawings go to (train, valid, test).

    Valid and test get ``floor(count * fraction)``, at least one each when their fraction is
    positive and ``count >= 3``; train gets the rest.
    """
    sizes = []
    for fraction in fractions[1:]:
        size = int(np.floor(count * fraction + 1e-9))
        sizes.append(max(size, 1) if fraction > 0 and count >= 3 else size)
    return count - sum(sizes), sizes[0], sizes[1]


def seeded_split(keys, seed: int, category: str, fractions) -> np.ndarray:
    """Split codes (0 train, 1 valid, 2 test) for one category's drawings of one source.

    The drawings are put in ``keys`` order (pass ``np.arange(n)`` for file order) and permuted with
    ``default_rng([seed, crc32(category)])``; the result is in the order ``keys`` was given.
    """
    keys = np.asarray(keys)
    count = len(keys)
    order = np.argsort(keys, kind="stable")
    rng = np.random.default_rng([seed, zlib.crc32(category.encode("utf-8"))])
    shuffled = order[rng.permutation(count)]
    train, valid, _ = split_counts(count, fractions)
    codes = np.full(count, 2, dtype=np.int8)
    codes[shuffled[:train]] = 0
    codes[shuffled[train : train + valid]] = 1
    return codes


def _split_codes(batch: _Batch, seed: int, fractions) -> np.ndarray:
    """Split code of every drawing of a batch: the file's own split, or a seeded one per category."""
    if batch.given_splits is not None:
        return batch.given_splits
    names, inverse = np.unique(batch.categories.astype(str), return_inverse=True)
    codes = np.empty(len(batch.lengths), dtype=np.int8)
    for index, name in enumerate(names):
        members = np.flatnonzero(inverse == index)
        keys = batch.keys[members].astype(str) if batch.keyed else np.arange(len(members))
        codes[members] = seeded_split(keys, seed, str(name), fractions)
    return codes


def _split_rows(rows: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """Concatenated drawings back into one array (a view) per drawing."""
    ends = np.cumsum(lengths).tolist()
    return [rows[start:end] for start, end in zip([0] + ends[:-1], ends)]


def _assemble(batches: list[_Batch], seed: int, fractions, max_length: int):
    """Category names (in order of first appearance), the length-capped splits, and each split's size before the cap."""
    names = list(dict.fromkeys(name for batch in batches for name in batch.categories))
    category_index = {name: index for index, name in enumerate(names)}
    parts = {name: ([], [], []) for name in SPLIT_NAMES}  # drawings, category ids, keys
    for batch in batches:
        codes = _split_codes(batch, seed, fractions)
        drawings = _split_rows(batch.stroke3, batch.lengths)
        ids = np.fromiter((category_index[name] for name in batch.categories), dtype=np.int64, count=len(drawings))
        for code, split_name in enumerate(SPLIT_NAMES):
            members = np.flatnonzero(codes == code)
            parts[split_name][0].extend(drawings[i] for i in members)
            parts[split_name][1].append(ids[members])
            parts[split_name][2].extend(batch.keys[members])
    splits, uncapped = {}, {name: len(part[0]) for name, part in parts.items()}
    for split_name, (drawings, ids, keys) in parts.items():
        kept_drawings, kept = strokes.cap_length(drawings, max_length)
        ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        splits[split_name] = Split(kept_drawings, ids[kept], [str(keys[i]) for i in kept])
    return names, splits, uncapped


def _drop_without_extent(batches: list[_Batch]) -> tuple[list[_Batch], int]:
    """The batches without their drawings that have no extent, and how many those were.

    ValueError for a source none of whose drawings has extent (nothing to learn from).
    """
    kept, dropped = [], 0
    for batch in batches:
        has_extent = drawing_extents_flat(batch.stroke3, batch.lengths) > 0
        if not has_extent.any():
            raise ValueError(
                f"{batch.path}: none of its {len(batch.lengths)} drawings has any extent (each keeps all its points in "
                "one place: a single point, or only zero offsets), so there is nothing to learn from; a source needs "
                "drawings whose points span some width or height"
            )
        dropped += int(len(has_extent) - has_extent.sum())
        kept.append(_select(batch, has_extent))
    return kept, dropped


def _check_splits(splits: dict[str, Split], uncapped: dict[str, int], fractions, max_length: int, batches) -> None:
    """ValueError if the train split, or a split that should have drawings, ended up empty."""
    sources = ", ".join(batch.path for batch in batches)
    has_own_split = any(batch.given_splits is not None for batch in batches)
    for index, name in enumerate(SPLIT_NAMES):
        if len(splits[name]) or (fractions[index] == 0 and not has_own_split):
            continue
        if uncapped[name]:
            hint = f"all {uncapped[name]} of its drawings are longer than max_length={max_length} points: raise max_length"
        else:
            hint = "too few drawings to split: add drawings, or set that split's fraction to 0"
        raise ValueError(f"the {name} split of {sources} is empty: {hint}")
