"""Sketch-RNN ``.npz`` files, read safely: no code from the file runs, and a decompression bomb cannot exhaust memory.

Either the official layout (arrays ``train``, ``valid``, ``test``; the file's own split is kept) or
a single array ``sketches`` (split later; ``pix_count`` and any other member is ignored). Each array
holds int16 stroke-3 drawings ``[N, 3]`` as a NumPy object array, which is read by
:func:`load_npz_safely` without ``allow_pickle`` (no code from the file runs).

What is corrupt is refused with a ValueError naming the file: a negative shape in an ``.npy``
header, boolean or non-numeric coordinates, an encrypted or oddly compressed zip member, and
trailing bytes after a zip archive or after a ``.npy`` member's array.

``MAX_INFLATED_BYTES`` (512 MiB) is the most a compressed source may inflate to: the ``.npz``
members read, or the whole gzip stream of a ``.gz`` file. An official per-category ``.npz`` (about
75,000 drawings) inflates to roughly 40-120 MB. Members and gzip streams are read in 1 MiB chunks.
Raise the limit for a genuine larger file with the environment variable
``SKETCHRNN_MAX_INFLATED_MB`` (a whole number of MiB, e.g. ``SKETCHRNN_MAX_INFLATED_MB=2048``). What the arrays
hold is bounded too (:mod:`sketchrnn.limits`): the drawings a file declares are counted from the ``.npy``
headers before anything is unpickled, and the points of each drawing and of the file before they are joined.
An ``.npz`` download stops once it passes the limit (plus 1 MiB), and an object array that
unpacks to more drawing bytes than its member holds (one drawing referenced many times) is refused.
"""

from __future__ import annotations

import functools
import io
import math
import os
import pickle
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from sketchrnn import limits
from sketchrnn.data.clean import SPLIT_NAMES, _Batch, _check_coordinates

READ_CHUNK = 1 << 20  # compressed sources are inflated this many bytes at a time
MAX_INFLATED_BYTES = limits.INFLATED_BYTES.default * limits.MIB  # the most a compressed source may inflate to
INFLATED_LIMIT_VARIABLE = limits.INFLATED_BYTES.variable  # environment variable raising MAX_INFLATED_BYTES, in MiB
MIN_PICKLED_DRAWING_BYTES = 16  # a pickled object array needs at least this many bytes per element
ZIP_END_SIGNATURE = b"PK\x05\x06"  # the end-of-central-directory record; 22 bytes, then the archive comment
ZIP_END_SIZE = 22


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
        arrays, drawings = {}, 0
        for key, info in chosen.items():
            start_check = functools.partial(_check_declared_drawings, path=path, member=info.filename, before=drawings)
            arrays[key] = _read_npy(_read_member(archive, info, path, start_check), path, info.filename, drawings)
            drawings += _drawing_count(arrays[key].shape, arrays[key].dtype)
        return arrays


def inflation_limit() -> int:
    """Bytes a compressed source may inflate to: ``$SKETCHRNN_MAX_INFLATED_MB`` MiB if set, else ``MAX_INFLATED_BYTES``."""
    return limits.INFLATED_BYTES.value()


def _inflation_error(path: Path, what: str, limit: int | None = None) -> ValueError:
    """The error for a source that inflates past the limit: what and how much, and how to raise the limit."""
    return limits.INFLATED_BYTES.error(str(path), what, "a decompression bomb, or a far larger file than an official one")


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


def _check_declared_drawings(start: bytes, path: Path, member: str, before: int) -> None:
    """Refuse a member whose ``.npy`` header (in ``start``, its first bytes) declares more drawings than the limit
    allows, before the rest is inflated; a header that does not parse here is left to the full read to report."""
    try:
        shape, _, dtype = _npy_header(io.BytesIO(start), path, member)
    except ValueError:
        return
    limits.DRAWINGS.check(before + _drawing_count(shape, dtype), str(path),
                          f"its arrays hold {before + _drawing_count(shape, dtype):,} drawings,")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, check_start=None) -> bytes:
    """The bytes of one archive member, CRC-checked, inflated in chunks never past its declared size;
    ``check_start(first_chunk)`` may refuse it before the rest is inflated."""
    chunks = []
    try:
        with archive.open(info) as member:
            while chunk := member.read(READ_CHUNK):
                if check_start is not None and not chunks:
                    check_start(chunk)
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, struct.error) as error:
        raise ValueError(f"{path}: not a valid .npz file (member {info.filename} is corrupt or truncated: {error})") from None
    raw = b"".join(chunks)
    if len(raw) != info.file_size:
        raise ValueError(f"{path}: not a valid .npz file (member {info.filename} holds {len(raw)} bytes, "
                         f"its header says {info.file_size})")
    return raw


def _drawing_count(shape: tuple[int, ...], dtype: np.dtype) -> int:
    """How many drawings an array of this shape holds: each element of an object array, each row of ``[D, N, 3]``."""
    return math.prod(shape) if dtype.hasobject else (shape[0] if shape else 1)


def _read_npy(raw: bytes, path: Path, member: str, drawings_before: int = 0) -> np.ndarray:
    """Decode one .npy member: header, then raw numbers or a restricted unpickle.

    Its drawings, with ``drawings_before`` (the file's members read so far), are checked against the drawings
    limit (:data:`sketchrnn.limits.DRAWINGS`) before any is built.
    """
    stream = io.BytesIO(raw)
    shape, fortran_order, dtype = _npy_header(stream, path, member)
    limits.DRAWINGS.check(drawings_before + _drawing_count(shape, dtype), str(path),
                          f"its arrays hold {drawings_before + _drawing_count(shape, dtype):,} drawings,")
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
    most_points = limits.DRAWING_POINTS.value()
    for index, drawing in enumerate(drawings):
        if not (isinstance(drawing, np.ndarray) and drawing.ndim == 2 and drawing.shape[1] == 3 and drawing.dtype.kind in "iuf"):
            description = f"{drawing.dtype} array of shape {drawing.shape}" if isinstance(drawing, np.ndarray) else type(drawing).__name__
            raise ValueError(f"{where}[{index}] is a {description}, not a stroke-3 drawing [N, 3] of numbers")
        if len(drawing) > most_points:
            raise limits.DRAWING_POINTS.error(f"{where}[{index}]", f"the drawing has {len(drawing):,} points,")
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
    limits.POINTS.check(int(lengths.sum()), str(path), f"its drawings hold {int(lengths.sum()):,} points,")
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
