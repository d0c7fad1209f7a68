"""Quick, Draw! datasets: safe loading, the download cache, cleaning and deterministic splits.

Sources (:func:`load_dataset` takes several; each is a path or a bare category name):

* **Sketch-RNN ``.npz``** -- either the official layout (arrays ``train``, ``valid``, ``test``; the
  file's own split is kept) or a single array ``sketches`` (split here; ``pix_count`` and any other
  member is ignored). Each array holds int16 stroke-3 drawings ``[N, 3]`` as a NumPy object array,
  which is read by :func:`load_npz_safely` without ``allow_pickle`` (no code from the file runs).
* **ndjson** (``.ndjson``, ``.json``, either optionally ``.gz``): one JSON object a line, with
  ``drawing`` = a list of strokes ``[[x...], [y...], ...]``; rows after ``y`` are ignored. How the
  points are treated is the ``ndjson_format`` of :func:`load_dataset`:

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
  :func:`category_from_filename`). Records are de-duplicated on ``key_id`` across every source
  loaded (the first occurrence wins) when each record of a file has one. Drawings without points
  are skipped.
* **A bare category name** (``pig``): the official Sketch-RNN ``.npz`` in the cache
  (:func:`cache_path`), fetched by :func:`download_category` only when asked to.

Category names are canonical: underscores become spaces (``alarm_clock`` and the ``word``
``alarm clock`` are one category), as in the official category list.

Pipeline of every drawing: read -> stroke-3 (``strokes.polylines_to_stroke3(origin=None)``
semantics for ndjson) -> refuse NaN/inf or absurd coordinates -> optional uniform rescale
(``rescale_to``) -> ``strokes.clean_stroke3`` (clamp offsets to +-1000, drop repeated points) ->
leave out drawings without extent -> split -> ``strokes.cap_length`` (drawings longer than
``max_length`` points are dropped). The steps run vectorised over all drawings of a source at once.

Splits: a source without its own split is split per category with
``numpy.random.default_rng([seed, crc32(category)]).permutation``, applied to the category's drawings
in ``key_id`` order (file order when the file has no key_ids); valid and test get
``floor(count * fraction)`` drawings (at least one each once a category has 3), train the rest. So
a drawing's split depends only on the seed, its category and the set of that source's drawings of
that category -- not on the file order, on the other sources or categories loaded, or on
``max_length`` (the cap is applied after splitting). ``Split.keys`` records which drawing went where.

Left out, and counted in ``Dataset.left_out`` (shown by :func:`describe`): drawings longer than
``max_length`` points (after splitting, as above), and drawings without extent (every point in one
place: a single point, or only zero offsets), which carry no shape to learn; these are left out
before splitting, like drawings without points, so junk in a file does not move the other drawings
between splits. A source none of whose drawings has extent is refused.

What is corrupt is refused with a ValueError naming the file: a negative shape in an ``.npy``
header, boolean or non-numeric coordinates, ``null`` coordinates, numbers too large for a float,
JSON nested too deeply, an encrypted or oddly compressed zip member, and trailing bytes after a zip
archive, after a ``.npy`` member's array or after a gzip stream.

Hostile input limits (a decompression bomb must not exhaust memory):

* ``MAX_INFLATED_BYTES`` (512 MiB) -- the most a compressed source may inflate to: the ``.npz``
  members read, or the whole gzip stream of a ``.gz`` file. An official per-category ``.npz``
  (about 75,000 drawings) inflates to roughly 40-120 MB. Members and gzip streams are read in
  1 MiB chunks, and a ``.gz`` file is inflated once (counting, in constant memory) before it is
  parsed. Raise the limit for a genuine larger file with the environment variable
  ``SKETCHRNN_MAX_INFLATED_MB`` (a whole number of MiB, e.g. ``SKETCHRNN_MAX_INFLATED_MB=2048``).
  An ``.npz`` download stops once it passes the limit (plus 1 MiB), and an object array that
  unpacks to more drawing bytes than its member holds (one drawing referenced many times) is refused.
* ``MAX_LINE_BYTES`` (16 MiB) -- the longest ndjson line; one QuickDraw drawing is a few kB.

A source must be a regular file: a directory, device (``/dev/zero``), named pipe or symbolic link
loop is refused by ``os.stat`` before anything is opened, so reading never hangs.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import http.client
import io
import json
import math
import os
import pickle
import re
import stat
import struct
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
from numpy.lib import format as npy_format

from sketchrnn import files, strokes

SPLIT_NAMES = ("train", "valid", "test")
NDJSON_FORMATS = ("auto", "simplified", "dense", "raw")
FRAME = 255.0  # the official simplified frame: a drawing's longer side spans 0-255
FRAME_MARGIN = 32.0  # "auto" reads dense points within [-32, 287] as already in the 0-255 frame
ABSURD_COORDINATE = 1e5  # |coordinate| or |offset| beyond this is refused as corrupt data
DEFAULT_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset"
DOWNLOAD_KINDS = {"npz": ("sketchrnn", ".npz"), "simplified": ("full/simplified", ".ndjson")}  # kind -> (URL dir, suffix)
NPZ_SUFFIXES = (".npz",)
NDJSON_SUFFIXES = (".ndjson.gz", ".json.gz", ".ndjson", ".json")
FILE_PREFIXES = ("quickdraw_sketchrnn_", "quickdraw_simplified_", "quickdraw_raw_", "full_simplified_", "full_raw_", "sketchrnn_")
CATEGORY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]*")  # letters, digits, spaces, _ and - (t-shirt)
DOWNLOAD_CHUNK = 1 << 20
READ_CHUNK = 1 << 20  # compressed sources are inflated this many bytes at a time
MAX_INFLATED_BYTES = 512 << 20  # the most a compressed source may inflate to (official .npz: ~40-120 MB)
INFLATED_LIMIT_VARIABLE = "SKETCHRNN_MAX_INFLATED_MB"  # environment variable raising MAX_INFLATED_BYTES, in MiB
MAX_LINE_BYTES = 16 << 20  # the longest ndjson line accepted (one QuickDraw drawing is a few kB)
MIN_PICKLED_DRAWING_BYTES = 16  # a pickled object array needs at least this many bytes per element
GZIP_MAGIC = b"\x1f\x8b"
ZIP_END_SIGNATURE = b"PK\x05\x06"  # the end-of-central-directory record; 22 bytes, then the archive comment
ZIP_END_SIZE = 22
LEFT_OUT_REASONS = ("without extent", "longer than max_length")  # keys of Split.left_out

ProgressCallback = Callable[[str, int, "int | None", bool], None]  # (file name, bytes so far, total, done)


# ----------------------------------------------------------------------------------------------
# The public dataset


@dataclass
class Split:
    """One split: cleaned, length-capped stroke-3 drawings and their category ids."""

    drawings: list[np.ndarray]  # each float32 [N, 3] (dx, dy, pen_lifted) in the source's units
    category_ids: np.ndarray  # int64 [len(drawings)], index into Dataset.categories
    keys: list[str] = field(default_factory=list)  # per drawing: its key_id, or "<file name>:<where in the file>"

    def __len__(self) -> int:
        return len(self.drawings)


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
        seed: seed of the split of sources without their own split (see the module docstring).
        rescale_to: if given, every drawing is scaled uniformly so max(width, height) == rescale_to
            (255 is the official simplified frame; Sketch-RNN ``.npz`` files use a larger one).
        cache_dir: where bare category names are looked up (default :func:`default_cache_dir`).
        download: fetch a bare category that is not in the cache.
        split_fractions: (train, valid, test) fractions for sources without their own split.
        categories: keep only these category names (ValueError for a name no source has).
        ndjson_format: "auto", "simplified", "dense" or "raw" (see the module docstring).

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


# ----------------------------------------------------------------------------------------------
# Category names and sources


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


# ----------------------------------------------------------------------------------------------
# Safe .npz reading


class UnsafePickleError(ValueError):
    """A pickled .npy member asked for something other than NumPy array reconstruction."""


class _ArrayType:
    """Stands in for ``numpy.ndarray`` in a pickle: only ever the first argument of ``_reconstruct``."""


_ARRAY_TYPE = _ArrayType()
PICKLED_DTYPE_NAME = re.compile(r"b1|[iu][1248]|f[248]|O[48]")  # plain numbers, booleans and objects


def _reconstruct_stand_in(array_type, shape, typecode) -> np.ndarray:
    """``numpy``'s ``_reconstruct``, safely: an empty array that BUILD then fills (shape and type come from there)."""
    if array_type is not _ARRAY_TYPE:
        raise pickle.UnpicklingError("_reconstruct is only accepted for numpy.ndarray")
    return np.empty(0, dtype=np.uint8)


@dataclass
class _DtypeRecipe:
    """Stands in for a ``numpy.dtype`` in a pickle: a plain number, boolean or object type and its byte order."""

    name: str  # "i2", "f8", "O8", ...
    byteorder: str = "="

    def set_state(self, state) -> None:
        """BUILD of a dtype: only its byte order is taken; a structured or sub-array dtype is refused."""
        if not (isinstance(state, tuple) and len(state) >= 5 and state[1] in ("<", ">", "|", "=")
                and state[2:5] == (None, None, None)):
            raise pickle.UnpicklingError(f"unsupported dtype state {str(state)[:80]}")
        self.byteorder = state[1]

    def dtype(self) -> np.dtype:
        """The real dtype."""
        return _plain_dtype(self.name, self.byteorder)


@functools.lru_cache(maxsize=64)
def _plain_dtype(name: str, byteorder: str) -> np.dtype:
    """``numpy.dtype(name)`` in ``byteorder`` ("<", ">", or "|" / "=" for native)."""
    dtype = np.dtype(name)
    return dtype.newbyteorder(byteorder) if byteorder in "<>" else dtype


def _dtype_stand_in(name, align=False, copy=False) -> _DtypeRecipe:
    """``numpy.dtype(name, align, copy)`` from a pickle, for the plain types of ``PICKLED_DTYPE_NAME`` only."""
    if not (isinstance(name, str) and PICKLED_DTYPE_NAME.fullmatch(name)):
        raise pickle.UnpicklingError(f"unsupported dtype {str(name)[:40]!r}; only numbers, booleans and objects")
    return _DtypeRecipe(name)


PICKLE_GLOBALS = {  # the only globals a pickled .npy member may name, each mapped to a safe stand-in
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_stand_in,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_stand_in,
    ("numpy", "ndarray"): _ARRAY_TYPE,
    ("numpy", "dtype"): _dtype_stand_in,
}


def _checked_array_state(state) -> tuple:
    """An ndarray BUILD state ``(version, shape, dtype, fortran_order, data)`` whose data fits its shape exactly.

    So NumPy never allocates more than the data the pickle holds, nor reads past it.
    """
    if isinstance(state, tuple) and len(state) == 4:
        state = (1, *state)  # pickles of NumPy before version 1.0.x carry no version
    if not (isinstance(state, tuple) and len(state) == 5):
        raise pickle.UnpicklingError("malformed array state")
    version, shape, recipe, fortran_order, raw = state
    if not (type(version) is int and isinstance(shape, tuple) and len(shape) <= 32 and isinstance(recipe, _DtypeRecipe)
            and all(type(size) is int and size >= 0 for size in shape)):
        raise pickle.UnpicklingError("malformed array state")
    dtype, count = recipe.dtype(), math.prod(shape)
    if dtype.hasobject:
        fits = isinstance(raw, list) and len(raw) == count
    else:
        fits = isinstance(raw, (bytes, str)) and len(raw) == count * dtype.itemsize
    if not fits:
        raise pickle.UnpicklingError(f"the data of an array of dtype {dtype} and shape {shape} does not fit that shape")
    return version, shape, dtype, bool(fortran_order), raw


class _NumpyOnlyUnpickler(pickle._Unpickler):
    """An unpickler that can rebuild NumPy arrays of plain types and nothing else.

    Object arrays pickle as ``_reconstruct(ndarray, shape, typecode)`` then BUILD with ``(version,
    shape, dtype, fortran_order, data)``, and dtypes as ``dtype(name, align, copy)`` then BUILD with
    their byte order. Only those globals are admitted, as stand-ins (``PICKLE_GLOBALS``): nothing
    from the file reaches NumPy until BUILD has checked the state (:func:`_checked_array_state`).
    Any other global (``os.system``, ``builtins.open``, ...) is refused before it is looked up, so
    no code from the file can run. This is the pure-Python unpickler: its memo is a dict, where the
    C unpickler grows an array to whatever memo index the file names (gigabytes from five bytes).
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, stream, path):
        super().__init__(stream, encoding="latin1")  # files written by Python 2 era NumPy
        self.path = path

    def find_class(self, module, name):
        """The stand-in for an admitted global; UnsafePickleError for any other, before it is looked up."""
        if (module, name) in PICKLE_GLOBALS:
            return PICKLE_GLOBALS[(module, name)]
        raise UnsafePickleError(
            f"{self.path}: refused to load: its pickled data asks for {module}.{name}, which could run code; "
            "only NumPy arrays are accepted (this is not a Sketch-RNN dataset file, or it has been tampered with)"
        )

    def load_build(self):
        """BUILD, for the stand-ins only: a dtype takes its byte order, an array its checked state."""
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, _DtypeRecipe):
            target.set_state(state)
        elif type(target) is np.ndarray:
            target.__setstate__(_checked_array_state(state))
        else:
            raise pickle.UnpicklingError(f"cannot set the state of a {type(target).__name__}")

    dispatch[pickle.BUILD[0]] = load_build


def npz_member_names(path) -> list[str]:
    """Names of the arrays in an .npz file (``train``, ``sketches``, ...), without reading them."""
    path = Path(path)
    with _open_zip(path) as archive:
        return [name[:-4] for name in archive.namelist() if name.endswith(".npy")]


def load_npz_safely(path, members=None) -> dict[str, np.ndarray]:
    """Read the arrays of an .npz file without executing anything from it (no ``allow_pickle``).

    Numeric members are read straight from their bytes; object members are unpickled by an
    unpickler that only admits NumPy array reconstruction. ``members`` restricts which arrays are
    read (missing names are left out). The members read may inflate to at most
    :func:`inflation_limit` bytes together, and are read in chunks. Raises ValueError naming the
    file for corrupt, truncated, encrypted, oversized or malicious files.
    """
    path = Path(path)
    with _open_zip(path) as archive:
        infos = {info.filename[:-4]: info for info in archive.infolist() if info.filename.endswith(".npy")}
        chosen = infos if members is None else {key: infos[key] for key in members if key in infos}
        _check_members(list(chosen.values()), path)
        return {key: _read_npy(_read_member(archive, info, path), path, info.filename) for key, info in chosen.items()}


def inflation_limit() -> int:
    """Bytes a compressed source may inflate to: ``$SKETCHRNN_MAX_INFLATED_MB`` MiB if set, else ``MAX_INFLATED_BYTES``."""
    configured = os.environ.get(INFLATED_LIMIT_VARIABLE, "").strip()
    if not configured:
        return MAX_INFLATED_BYTES
    if not configured.isdigit() or int(configured) == 0:
        raise ValueError(f"{INFLATED_LIMIT_VARIABLE} must be a positive whole number of MiB (e.g. 2048), got {configured!r}")
    return int(configured) << 20


def _inflation_error(path: Path, what: str, limit: int) -> ValueError:
    """The error for a source that inflates past the limit: what and how much, and how to raise the limit."""
    mebibytes = limit / (1 << 20)
    suggestion = max(2 * math.ceil(mebibytes), 1024)
    return ValueError(
        f"{path}: {what} more than {mebibytes:g} MiB, the limit on what a compressed source may inflate to "
        f"(a decompression bomb, or a far larger file than an official one). If the file is genuine, raise the "
        f"limit with the environment variable {INFLATED_LIMIT_VARIABLE}, e.g. {INFLATED_LIMIT_VARIABLE}={suggestion}"
    )


def _open_zip(path: Path) -> zipfile.ZipFile:
    """Open a zip archive, turning every failure (trailing data included) into a ValueError naming the file."""
    try:
        trailing = _zip_trailing_bytes(path)
        if not trailing:
            return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        raise ValueError(f"{path}: not a valid .npz file (corrupt or truncated zip archive: {error})") from None
    raise ValueError(
        f"{path}: not a valid .npz file: {trailing} bytes of trailing data follow the end of the zip archive "
        "(the file was altered, or is not what numpy.savez writes)"
    )


def _zip_trailing_bytes(path: Path) -> int:
    """How many bytes follow the archive's end record and its comment (0 when none, or when no end record is near the end).

    An archive without an end record in its last ~1 MiB is left to ``zipfile`` to refuse.
    """
    with open(path, "rb") as stream:
        size = stream.seek(0, os.SEEK_END)
        start = max(0, size - ZIP_END_SIZE - 0xFFFF - READ_CHUNK)
        stream.seek(start)
        tail = stream.read()
    ends = []  # where the archive ends, for every candidate end record
    position = tail.rfind(ZIP_END_SIGNATURE)
    while position >= 0:
        if position + ZIP_END_SIZE <= len(tail):
            comment_length = struct.unpack("<H", tail[position + 20 : position + 22])[0]
            ends.append(start + position + ZIP_END_SIZE + comment_length)
        position = tail.rfind(ZIP_END_SIGNATURE, 0, position)
    short = [end for end in ends if end < size]
    return 0 if size in ends or not short else size - max(short)


def _check_members(infos: list[zipfile.ZipInfo], path: Path) -> None:
    """Refuse encrypted or unusually compressed members, and members inflating past the limit together."""
    for info in infos:
        if info.flag_bits & 0x1:
            raise ValueError(f"{path}: member {info.filename} is encrypted; .npz files written by NumPy never are")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(
                f"{path}: member {info.filename} uses zip compression method {info.compress_type}; only stored or "
                "deflated members (what numpy.savez and numpy.savez_compressed write) are accepted"
            )
    declared = sum(info.file_size for info in infos)
    limit = inflation_limit()
    if declared > limit:
        raise _inflation_error(path, f"its arrays inflate to {declared} bytes,", limit)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    """The bytes of one archive member, CRC-checked, inflated in chunks never past its declared size."""
    chunks = []
    try:
        with archive.open(info) as member:
            while chunk := member.read(READ_CHUNK):
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, struct.error) as error:
        raise ValueError(f"{path}: not a valid .npz file (member {info.filename} is corrupt or truncated: {error})") from None
    raw = b"".join(chunks)
    if len(raw) != info.file_size:
        raise ValueError(f"{path}: not a valid .npz file (member {info.filename} holds {len(raw)} bytes, "
                         f"its header says {info.file_size})")
    return raw


def _read_npy(raw: bytes, path: Path, member: str) -> np.ndarray:
    """Decode one .npy member: header, then raw numbers or a restricted unpickle."""
    stream = io.BytesIO(raw)
    shape, fortran_order, dtype = _npy_header(stream, path, member)
    if dtype.hasobject:
        return _object_array(stream, shape, path, member)
    body = memoryview(raw)[stream.tell() :]
    return _numeric_array(body, shape, fortran_order, dtype, f"{path}: member {member}")


def _npy_header(stream, path: Path, member: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from a .npy header; ValueError for a bad or negative-shaped one."""
    try:
        version = npy_format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"unsupported .npy format version {version}")
        reader = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, fortran_order, dtype = reader(stream)
    except Exception as error:  # a damaged header text fails in ast / tokenize in many ways; none of it runs file code
        raise ValueError(f"{path}: member {member} is not a valid .npy array ({type(error).__name__}: {error})") from None
    if any(size < 0 for size in shape):
        raise ValueError(f"{path}: member {member} declares the negative shape {tuple(shape)}: the file is corrupt "
                         "(every dimension of an array is 0 or more)")
    return tuple(shape), fortran_order, dtype


def _numeric_array(raw, shape, fortran_order: bool, dtype: np.dtype, where: str) -> np.ndarray:
    """A plain numeric array from exactly its bytes (no pickle involved)."""
    count = math.prod(shape)
    expected = count * dtype.itemsize
    if len(raw) < expected:
        raise ValueError(f"{where} is truncated: {len(raw)} bytes for {count} values of {dtype}")
    if len(raw) > expected:
        raise ValueError(f"{where} has {len(raw) - expected} bytes of trailing data after its {count} values of {dtype}; "
                         "a .npy member holds exactly its array")
    array = np.frombuffer(raw, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran_order else "C").copy()


def _object_array(stream: io.BytesIO, shape: tuple[int, ...], path: Path, member: str) -> np.ndarray:
    """An object array unpickled safely, checked against its header and its member's size."""
    size = len(stream.getbuffer())
    count = math.prod(shape)
    if count * MIN_PICKLED_DRAWING_BYTES > size:
        raise ValueError(f"{path}: member {member} declares {count} drawings in only {size} bytes: the file is corrupt")
    array = _unpickle_array(stream, path, member)
    if array.shape != shape:
        raise ValueError(f"{path}: member {member} has shape {array.shape}, its header says {shape}")
    trailing = size - stream.tell()
    if trailing:
        raise ValueError(f"{path}: member {member} has {trailing} bytes of trailing data after its pickled array; "
                         "a .npy member holds exactly its array")
    held = sum(item.nbytes for item in array.ravel() if isinstance(item, np.ndarray))
    if held > size:
        raise ValueError(f"{path}: member {member} unpacks to {held} bytes of drawings from {size} bytes: it repeats "
                         "drawings by reference (a decompression bomb), which numpy.save never writes")
    return array


def _unpickle_array(stream, path: Path, member: str) -> np.ndarray:
    """Unpickle an object array with :class:`_NumpyOnlyUnpickler`."""
    try:
        array = _NumpyOnlyUnpickler(stream, path).load()
    except UnsafePickleError:
        raise
    except Exception as error:  # a corrupt pickle can raise almost anything; none of it runs file code
        raise ValueError(f"{path}: member {member} is corrupt: its pickled data does not load ({type(error).__name__}: {error})") from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{path}: member {member} holds a {type(array).__name__}, not a NumPy array")
    return array


def _npz_layout(members: list[str], path: Path) -> tuple[str, ...]:
    """Which arrays hold the drawings: the official train/valid/test, or a single ``sketches``."""
    if all(name in members for name in SPLIT_NAMES):
        return SPLIT_NAMES
    if "sketches" in members:
        return ("sketches",)
    raise ValueError(
        f"{path}: unrecognised .npz layout: it has arrays {members or 'none'}; expected 'train', 'valid' and "
        "'test' (the official Sketch-RNN layout) or a single 'sketches' array"
    )


def _npz_drawings(array: np.ndarray, where: str) -> list[np.ndarray]:
    """The stroke-3 drawings of one .npz array (object array of [N, 3], or numeric [D, N, 3])."""
    if array.dtype != object and not (array.ndim == 3 and array.shape[2] == 3 and array.dtype.kind in "iuf"):
        raise ValueError(f"{where} is a {array.dtype} array of shape {array.shape}; expected stroke-3 drawings [N, 3] "
                         "of numbers (integers or floats)")
    drawings = list(array.ravel()) if array.dtype == object else list(array)
    for index, drawing in enumerate(drawings):
        if not (isinstance(drawing, np.ndarray) and drawing.ndim == 2 and drawing.shape[1] == 3 and drawing.dtype.kind in "iuf"):
            description = f"{drawing.dtype} array of shape {drawing.shape}" if isinstance(drawing, np.ndarray) else type(drawing).__name__
            raise ValueError(f"{where}[{index}] is a {description}, not a stroke-3 drawing [N, 3] of numbers")
    return drawings


def _read_npz_source(path: Path, category: str) -> _Batch:
    """All drawings of a Sketch-RNN .npz file as one batch (official split kept if present)."""
    layout = _npz_layout(npz_member_names(path), path)
    arrays = load_npz_safely(path, layout)
    drawings, locations, given = [], [], []
    for split_index, member in enumerate(layout):
        for index, drawing in enumerate(_npz_drawings(arrays[member], f"{path}: {member}")):
            if len(drawing):
                drawings.append(drawing)
                locations.append(f"{member}[{index}]")
                given.append(split_index)
    lengths = np.fromiter((len(d) for d in drawings), dtype=np.int64, count=len(drawings))
    rows = np.concatenate(drawings) if drawings else np.zeros((0, 3))
    _check_coordinates(rows, lengths, locations, path)
    stroke3 = rows.astype(np.float64)
    stroke3[:, 2] = stroke3[:, 2] > 0.5
    locations = np.array(locations, dtype=object)
    file_name = path.name
    keys = np.array([f"{file_name}:{location}" for location in locations], dtype=object)
    return _Batch(
        path=str(path), stroke3=stroke3, lengths=lengths, categories=np.full(len(drawings), category, dtype=object),
        keys=keys, locations=locations, keyed=False,
        given_splits=np.asarray(given, dtype=np.int8) if layout == SPLIT_NAMES else None,
    )


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


# ----------------------------------------------------------------------------------------------
# ndjson reading


@dataclass
class _ParsedNdjson:
    """Every drawing of an ndjson file flattened into coordinate lists while parsing."""

    xs: list = field(default_factory=list)
    ys: list = field(default_factory=list)
    stroke_lengths: list = field(default_factory=list)  # points per non-empty stroke
    strokes_per_drawing: list = field(default_factory=list)
    categories: list = field(default_factory=list)
    keys: list = field(default_factory=list)
    locations: list = field(default_factory=list)
    all_keyed: bool = True
    max_rows: int = 0  # most rows of any stroke: 2 for [x, y], 3+ for raw / dense files

    def add(self, drawing, category: str, key_id, location: str, path: Path) -> None:
        """Append one record's strokes; records whose strokes have no points are skipped."""
        if not isinstance(drawing, list):
            raise ValueError(f"{path}: {location}: 'drawing' must be a list of strokes [[x...], [y...]], got {type(drawing).__name__}")
        stroke_count = 0
        for stroke in drawing:
            if not (isinstance(stroke, list) and len(stroke) >= 2 and isinstance(stroke[0], list)
                    and isinstance(stroke[1], list) and len(stroke[0]) == len(stroke[1])):
                raise ValueError(f"{path}: {location}: each stroke must be [[x...], [y...]] with as many x as y values")
            if stroke[0]:
                self.xs.extend(stroke[0])
                self.ys.extend(stroke[1])
                self.stroke_lengths.append(len(stroke[0]))
                self.max_rows = max(self.max_rows, len(stroke))
                stroke_count += 1
        if stroke_count:
            self.strokes_per_drawing.append(stroke_count)
            self.categories.append(category)
            self.all_keyed &= key_id is not None
            self.keys.append(f"{path.name}:{location}" if key_id is None else str(key_id))
            self.locations.append(location)


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
    parsed = _ParsedNdjson()
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
                parsed.add(record["drawing"], category, record.get("key_id"), f"line {line_number}", path)
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


def _parsed_points(parsed: _ParsedNdjson, path: Path) -> np.ndarray:
    """The flattened coordinates as a float64 ``[P, 2]`` array, or a ValueError naming the line."""
    if set(map(type, parsed.xs)) | set(map(type, parsed.ys)) <= {int, float}:
        try:
            return np.column_stack([np.array(parsed.xs, dtype=np.float64), np.array(parsed.ys, dtype=np.float64)])
        except OverflowError:
            pass  # an integer beyond float range: found and named below
    bad, axis, problem = next((index, axis, problem) for index, pair in enumerate(zip(parsed.xs, parsed.ys))
                              for axis, value in zip("xy", pair) if (problem := _coordinate_problem(value)))
    points_per_drawing = np.add.reduceat(parsed.stroke_lengths, _starts(parsed.strokes_per_drawing))
    drawing = int(np.searchsorted(np.cumsum(points_per_drawing), bad, side="right"))
    raise ValueError(
        f"{path}: {parsed.locations[drawing]}: coordinate {axis} {problem}; "
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
    points = _parsed_points(parsed, path)
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


def _starts(lengths) -> np.ndarray:
    """Start index of each run given the run lengths."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.cumsum(lengths) - lengths


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


# ----------------------------------------------------------------------------------------------
# Cleaning, de-duplication, splits


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


def _left_out_text(left_out: dict[str, int], max_length) -> str:
    """``"3 without extent (all points in one place), 12 longer than max_length=250 points"`` (zero counts omitted)."""
    texts = {"without extent": "without extent (all points in one place)",
             "longer than max_length": f"longer than max_length={max_length} points"}
    return ", ".join(f"{count} {texts[reason]}" for reason, count in left_out.items() if count)


# ----------------------------------------------------------------------------------------------
# Reports


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


# ----------------------------------------------------------------------------------------------
# Download and cache


class DownloadError(ValueError, ConnectionError):
    """A download failed; the message says what happened and where to put the file by hand."""


def default_cache_dir() -> Path:
    """Where downloads are cached: ``$SKETCHRNN_DATA_DIR``, else the repository's ``data/``, else ``~/.cache/sketchrnn``.

    The repository's ``data/`` is used when the package sits in a checkout (``pyproject.toml``
    beside the package directory) and that directory exists and is writable.
    """
    configured = os.environ.get("SKETCHRNN_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    repository = Path(__file__).resolve().parent.parent
    repository_data = repository / "data"
    if (repository / "pyproject.toml").is_file() and repository_data.is_dir() and os.access(repository_data, os.W_OK):
        return repository_data
    return Path.home() / ".cache" / "sketchrnn"


def _check_kind(kind: str) -> tuple[str, str]:
    """(URL directory, file suffix) of a download kind."""
    if kind not in DOWNLOAD_KINDS:
        raise ValueError(f"unknown download format {kind!r}; expected one of {', '.join(DOWNLOAD_KINDS)}")
    return DOWNLOAD_KINDS[kind]


def cache_path(category: str, kind: str = "npz", cache_dir=None) -> Path:
    """Where a category's file lives in the cache: ``<cache>/sketchrnn/<category>.npz`` or
    ``<cache>/simplified/<category>.ndjson`` (spaces in the name become underscores)."""
    _, suffix = _check_kind(kind)
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    subdirectory = "sketchrnn" if kind == "npz" else kind
    return directory / subdirectory / f"{validate_category(category).replace(' ', '_')}{suffix}"


def category_url(category: str, kind: str = "npz", base_url: str | None = None) -> str:
    """The official URL of a category's file (base overridable by argument or ``$SKETCHRNN_DOWNLOAD_URL``)."""
    url_directory, suffix = _check_kind(kind)
    base = base_url or os.environ.get("SKETCHRNN_DOWNLOAD_URL") or DEFAULT_BASE_URL
    return f"{base.rstrip('/')}/{url_directory}/{urllib.parse.quote(validate_category(category))}{suffix}"


def download_category(category: str, *, kind: str = "npz", cache_dir=None, base_url: str | None = None,
                      progress: ProgressCallback | None = None, timeout: float = 60.0) -> Path:
    """Fetch a category's official file into the cache once; a cache hit makes no request.

    ``kind`` is ``"npz"`` (Sketch-RNN ``.npz``) or ``"simplified"`` (simplified ``.ndjson``). The file
    is streamed to a temporary file beside its final path, its length checked against
    Content-Length and its contents checked, then moved into place; a failed or cut download
    leaves nothing behind and raises :class:`DownloadError` (a ValueError and ConnectionError).
    """
    target = cache_path(category, kind, cache_dir)
    max_bytes = inflation_limit() + READ_CHUNK if kind == "npz" else None  # a larger .npz could not be loaded anyway
    return download_to_cache(category_url(category, kind, base_url), target, lambda path: _verify_kind(path, kind),
                             progress=progress, timeout=timeout, max_bytes=max_bytes)


def download_to_cache(url: str, target: Path, verify: Callable[[Path], None], *, progress: ProgressCallback | None = None,
                      timeout: float = 60.0, max_bytes: int | None = None) -> Path:
    """Fetch ``url`` to the cache file ``target`` once (a cache hit makes no request); returns ``target``.

    The body is streamed to a temporary file beside ``target``, its length checked against
    Content-Length and its contents by ``verify(path)`` (which raises ValueError for a bad file),
    then renamed into place: a failed or cut download leaves nothing behind and raises
    :class:`DownloadError` naming the URL and where to put the file by hand. A body longer than
    ``max_bytes`` (if given) is refused as soon as it passes that size.
    """
    target = Path(target)
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create the cache directory {target.parent}: {error}; set SKETCHRNN_DATA_DIR or --cache-dir") from None
    files.check_file_target(target)  # never rename a download over a folder, link, FIFO or device
    _fetch(url, target, verify, progress, timeout, max_bytes)
    return target


def _fetch(url: str, target: Path, verify, progress, timeout: float, max_bytes: int | None = None) -> None:
    """Stream ``url`` to a temporary file, check it with ``verify``, and move it to ``target``."""
    try:
        descriptor, temporary_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as error:
        raise ValueError(f"cannot write to the cache directory {target.parent}: {error}; set SKETCHRNN_DATA_DIR or --cache-dir") from None
    temporary = Path(temporary_name)
    try:
        try:
            with os.fdopen(descriptor, "wb") as output:
                received, expected = _stream(url, output, target.name, progress, timeout, max_bytes)
        except urllib.error.HTTPError as error:
            raise DownloadError(_download_failure(url, target, f"the server answered HTTP {error.code} {error.reason}")) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            raise DownloadError(_download_failure(url, target, _network_reason(error))) from None
        except _TooLarge as error:
            raise DownloadError(_download_failure(url, target, str(error))) from None
        if expected is not None and received != expected:
            raise DownloadError(_download_failure(url, target, f"the download was cut off after {received} of {expected} bytes"))
        try:
            verify(temporary)
        except ValueError as error:
            raise DownloadError(_download_failure(url, target, f"the downloaded file is not valid ({error})")) from None
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


class _TooLarge(Exception):
    """A download passed its size limit."""


def _stream(url: str, output, name: str, progress, timeout: float, max_bytes: int | None = None) -> tuple[int, int | None]:
    """Copy the response body to ``output``; return (bytes received, Content-Length or None)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        length_header = response.headers.get("Content-Length")
        expected = int(length_header) if length_header and length_header.isdigit() else None
        received = 0
        while chunk := response.read(DOWNLOAD_CHUNK):
            output.write(chunk)
            received += len(chunk)
            if max_bytes is not None and max(received, expected or 0) > max_bytes:
                raise _TooLarge(f"the file is larger than {max_bytes} bytes, more than a dataset file this loader accepts "
                                f"(raise the limit with {INFLATED_LIMIT_VARIABLE}=<MiB> if it is genuine)")
            if progress:
                progress(name, received, expected, False)
        if progress:
            progress(name, received, expected, True)
    return received, expected


def _network_reason(error: Exception) -> str:
    """A short reason for a network failure."""
    reason = getattr(error, "reason", None) or error
    return f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason


def _download_failure(url: str, target: Path, reason: str) -> str:
    """The message of a failed download: what happened and how to put the file in place by hand."""
    return (
        f"could not download {url}: {reason}. Nothing was saved. Retry, or without network access fetch that URL "
        f"elsewhere and put the file at {target}"
    )


def _verify_kind(path: Path, kind: str) -> None:
    """Check a downloaded dataset file opens as what it should be before it enters the cache."""
    if kind == "npz":
        load_npz_safely(path, _npz_layout(npz_member_names(path), path))
    else:
        _check_ndjson_ends(path)


def _check_ndjson_ends(path: Path) -> None:
    """The first and last lines of an ndjson file must be records with a drawing (catches truncation)."""
    with open(path, "rb") as stream:
        first = stream.readline(MAX_LINE_BYTES)
        stream.seek(max(0, path.stat().st_size - (1 << 20)))
        last = stream.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    for where, line in (("first line", first), ("last line", last)):
        _parse_record(line.decode("utf-8", errors="replace"), f"{path}: {where}")


def stderr_progress(name: str, received: int, total: int | None, done: bool) -> None:
    """A one-line download progress display on stderr."""
    megabytes = f"{received / 1e6:.1f}" + (f" / {total / 1e6:.1f} MB ({100 * received / total:.0f}%)" if total else " MB")
    print(f"\rdownloading {name}: {megabytes}", end="\n" if done else "", file=sys.stderr, flush=True)
