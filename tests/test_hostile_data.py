"""Hostile and careless data sources (issue 12): decompression bombs, trailing data, corrupt or degenerate
files and special files are refused with a ValueError naming the file, quickly and in bounded memory."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import os
import pickle
import signal
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sketchrnn import cli, data, limits
from sketchrnn.data import ndjson, npz

MIB = 1 << 20
GIB = 1 << 30


# ----------------------------------------------------------------------------------------------
# Building bombs cheaply: a deflate block of 1 MiB is compressed once and repeated


def deflate_repeated(prefix: bytes, block: bytes, repeats: int) -> tuple[bytes, int, int]:
    """A raw deflate stream of ``prefix`` then ``block`` ``repeats`` times: (stream, CRC-32, inflated size).

    After a full flush the compressor starts afresh, so every repetition of ``block`` compresses to the
    same bytes: the stream is built by repeating them, never by compressing ``repeats`` blocks.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    return head + body * repeats + compressor.flush(), crc, len(prefix) + len(block) * repeats


def gzip_bomb(path: Path, block: bytes, repeats: int) -> Path:
    """A gzip file of ``block`` repeated: about 1 kB per MiB of zeros."""
    stream, crc, size = deflate_repeated(b"", block, repeats)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    path.write_bytes(header + stream + struct.pack("<II", crc, size & 0xFFFFFFFF))
    return path


def zip_with_member(name: str, compressed: bytes, crc: int, size: int, *, method: int = 8, flags: int = 0) -> bytes:
    """A one-member zip archive written by hand (so the member's bytes and header fields are ours to choose)."""
    encoded = name.encode()
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, flags, method, 0, 0x21, crc, len(compressed), size, len(encoded), 0)
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, flags, method, 0, 0x21, crc, len(compressed), size,
                          len(encoded), 0, 0, 0, 0, 0, 0)
    local += encoded
    central += encoded
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(compressed), 0)
    return local + compressed + central + end


def npy_header(descr: str, shape) -> bytes:
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": descr, "fortran_order": False, "shape": shape})
    return stream.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    stream = io.BytesIO()
    np.save(stream, array, allow_pickle=True)
    return stream.getvalue()


def object_array(drawings) -> np.ndarray:
    array = np.empty(len(drawings), dtype=object)
    for index, drawing in enumerate(drawings):
        array[index] = drawing
    return array


def good_drawings(count: int = 12) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    drawings = []
    for _ in range(count):
        drawing = rng.integers(-20, 21, size=(10, 3)).astype(np.int16)
        drawing[:, 2] = 0
        drawing[-1, 2] = 1
        drawings.append(drawing)
    return drawings


def good_npz_bytes() -> bytes:
    stream = io.BytesIO()
    np.savez(stream, sketches=object_array(good_drawings()))
    return stream.getvalue()


def good_line(index: int) -> str:
    return json.dumps({"word": "pig", "key_id": str(index), "drawing": [[[0, 10, 20 + index], [0, 15, 5]]]})


def ndjson_with_line(line: str) -> str:
    """Ten good records, then ``line`` as line 11."""
    return "".join(good_line(index) + "\n" for index in range(10)) + line + "\n"


def record_line(drawing_json: str) -> str:
    return '{"word": "pig", "key_id": "bad", "drawing": %s}' % drawing_json


@pytest.fixture
def within_seconds():
    """Fail (instead of hanging the suite) if the test takes more than 20 s."""

    def expire(signum, frame):
        raise TimeoutError("the loader took more than 20 s (it would hang)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def peak_traced_bytes(function) -> tuple[int, BaseException | None]:
    """(peak bytes allocated while ``function`` ran, the exception it raised)."""
    tracemalloc.start()
    raised = None
    try:
        function()
    except BaseException as error:  # noqa: BLE001 (returned to the test to assert on)
        raised = error
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, raised


# ----------------------------------------------------------------------------------------------
# Decompression bombs: refused quickly, in bounded memory, naming the limit and how to raise it


def test_npz_member_inflating_to_a_gibibyte_is_refused_before_reading(tmp_path, within_seconds):
    header = npy_header("<i2", (GIB // 2,))
    stream, crc, size = deflate_repeated(header, bytes(MIB), 1024)
    path = tmp_path / "pig.npz"
    path.write_bytes(zip_with_member("sketches.npy", stream, crc, size))
    assert path.stat().st_size < 2 * MIB
    peak, error = peak_traced_bytes(lambda: data.load_dataset([path]))
    assert isinstance(error, ValueError)
    message = str(error)
    assert str(path) in message and "512 MiB" in message and "SKETCHRNN_MAX_INFLATED_MB=" in message
    assert peak < 16 * MIB


def test_npz_member_lying_about_its_size_is_never_inflated_past_it(tmp_path, within_seconds):
    header = npy_header("<i2", (1, 3))
    stream, _, _ = deflate_repeated(header, bytes(MIB), 1024)  # really 1 GiB; the headers say 134 bytes
    path = tmp_path / "pig.npz"
    path.write_bytes(zip_with_member("sketches.npy", stream, zlib.crc32(header + bytes(6)) ^ 1, len(header) + 6))
    peak, error = peak_traced_bytes(lambda: data.load_dataset([path]))
    assert isinstance(error, ValueError) and "pig.npz: not a valid .npz file" in str(error)
    assert peak < 16 * MIB


def test_npz_member_with_trailing_data_inflating_past_the_limit(tmp_path, monkeypatch, within_seconds):
    header = npy_header("<i2", (1, 3))  # a tiny array followed by 64 MiB of "trailing" zeros
    stream, crc, size = deflate_repeated(header, bytes(MIB), 64)
    path = tmp_path / "pig.npz"
    path.write_bytes(zip_with_member("sketches.npy", stream, crc, size))
    monkeypatch.setenv("SKETCHRNN_MAX_INFLATED_MB", "16")
    limit_message = r"pig\.npz: its arrays inflate to \d+ bytes, more than 16 MiB.*SKETCHRNN_MAX_INFLATED_MB=1024"
    with pytest.raises(ValueError, match=limit_message):
        data.load_dataset([path])
    monkeypatch.setenv("SKETCHRNN_MAX_INFLATED_MB", "100")  # admitted by the limit: then the trailing data is refused
    with pytest.raises(ValueError, match=rf"pig\.npz: member sketches\.npy has {64 * MIB - 6} bytes of trailing data"):
        data.load_dataset([path])


def test_gzip_bomb_of_valid_records_is_refused_before_parsing(tmp_path, within_seconds):
    line = (good_line(0) + "\n").encode()
    block = line * (MIB // len(line))
    path = gzip_bomb(tmp_path / "pig.ndjson.gz", block, 1100)  # about 1.1 GiB of records in ~4 MB
    assert path.stat().st_size < 5 * MIB
    peak, error = peak_traced_bytes(lambda: data.load_dataset([path]))
    assert isinstance(error, ValueError)
    assert "pig.ndjson.gz: its gzip stream inflates to more than 512 MiB" in str(error)
    assert "SKETCHRNN_MAX_INFLATED_MB=" in str(error)
    assert peak < 16 * MIB


def test_cli_data_info_refuses_a_gzip_bomb_with_exit_status_2(tmp_path, capsys, monkeypatch, within_seconds):
    monkeypatch.setenv("SKETCHRNN_MAX_INFLATED_MB", "8")
    path = gzip_bomb(tmp_path / "pig.ndjson.gz", (good_line(0) + "\n").encode() * 20000, 20)
    assert cli.main(["data", "info", str(path)]) == 2
    captured = capsys.readouterr()
    assert "more than 8 MiB" in captured.err and "Traceback" not in captured.err


def test_the_inflation_limit_can_be_raised_for_a_genuine_file(tmp_path, monkeypatch):
    lines = "".join(good_line(index) + "\n" for index in range(40000)).encode()  # ~2.6 MB of records
    path = tmp_path / "pig.ndjson.gz"
    path.write_bytes(gzip.compress(lines))
    monkeypatch.setenv("SKETCHRNN_MAX_INFLATED_MB", "1")
    with pytest.raises(ValueError, match="more than 1 MiB"):
        data.load_dataset([path])
    monkeypatch.setenv("SKETCHRNN_MAX_INFLATED_MB", "4")
    assert sum(len(split) for split in data.load_dataset([path]).splits.values()) == 40000


@pytest.mark.parametrize("value", ["0", "-5", "lots", "1.5"])
def test_a_bad_inflation_limit_setting_is_refused(tmp_path, monkeypatch, value):
    monkeypatch.setenv("SKETCHRNN_MAX_INFLATED_MB", value)
    path = tmp_path / "pig.ndjson.gz"
    path.write_bytes(gzip.compress(ndjson_with_line(good_line(10)).encode()))
    with pytest.raises(ValueError, match="SKETCHRNN_MAX_INFLATED_MB must be a positive whole number of MiB"):
        data.load_dataset([path])


def test_the_default_limit_admits_an_official_sized_file():
    official_inflated = 75_000 * 800  # 70,000 + 2 x 2,500 drawings at ~560-790 bytes each (measured on real files)
    assert data.MAX_INFLATED_BYTES >= 4 * official_inflated
    assert data.MAX_INFLATED_BYTES < GIB  # while a 1 GiB bomb is refused


def test_concatenated_gzip_members_are_still_read(tmp_path):
    first = "".join(good_line(index) + "\n" for index in range(10))
    second = "".join(good_line(index) + "\n" for index in range(10, 20))
    path = tmp_path / "pig.ndjson.gz"
    path.write_bytes(gzip.compress(first.encode()) + gzip.compress(second.encode()))
    assert sum(len(split) for split in data.load_dataset([path]).splits.values()) == 20


# ----------------------------------------------------------------------------------------------
# The fuzz table: a bad source -> the ValueError message that names what is wrong


def write(name: str, content: bytes | str):
    def build(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return build


def special(make):
    def build(tmp_path: Path) -> Path:
        return make(tmp_path)

    return build


def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pig.ndjson"
    os.mkfifo(path)
    return path


def symlink_loop(tmp_path: Path) -> Path:
    (tmp_path / "a.npz").symlink_to(tmp_path / "b.npz")
    (tmp_path / "b.npz").symlink_to(tmp_path / "a.npz")
    return tmp_path / "a.npz"


def broken_symlink(tmp_path: Path) -> Path:
    (tmp_path / "pig.npz").symlink_to(tmp_path / "gone.npz")
    return tmp_path / "pig.npz"


def directory(tmp_path: Path) -> Path:
    (tmp_path / "pig.npz").mkdir()
    return tmp_path / "pig.npz"


def encrypted_npz() -> bytes:
    content = npy_bytes(object_array(good_drawings()))
    return zip_with_member("sketches.npy", content, zlib.crc32(content), len(content), method=0, flags=0x1)


def bzip2_npz() -> bytes:
    content = npy_bytes(object_array(good_drawings()))
    return zip_with_member("sketches.npy", bz2.compress(content), zlib.crc32(content), len(content), method=12)


def npz_of(compression: int = zipfile.ZIP_STORED, **members: bytes) -> bytes:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(f"{name}.npy", content)
    return stream.getvalue()


def shared_reference_npy() -> bytes:
    """An object array whose 100 entries are one 60 kB drawing: pickle stores it once, unpacking makes 6 MB."""
    drawing = np.ones((10000, 3), dtype=np.int16)
    array = np.empty(100, dtype=object)
    for index in range(100):
        array[index] = drawing
    return npy_bytes(array)


def degenerate_npz() -> bytes:
    drawings = [np.zeros((5, 3), dtype=np.int16) for _ in range(4)] + [np.array([[7, 3, 1]], dtype=np.int16)]
    stream = io.BytesIO()
    np.savez(stream, sketches=object_array(drawings))
    return stream.getvalue()


class HostileArrayState:
    """Pickles as NumPy does (``_reconstruct`` then BUILD) but with a state of the attacker's choosing."""

    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        try:
            from numpy._core.multiarray import _reconstruct
        except ImportError:  # NumPy 1.x
            from numpy.core.multiarray import _reconstruct
        return (_reconstruct, (np.ndarray, (0,), b"b"), self.state)


def hostile_state_npz(state) -> bytes:
    return npz_of(sketches=npy_header("|O", (1,)) + pickle.dumps(HostileArrayState(state), protocol=4))


SINGLE_POINTS = "".join(json.dumps({"key_id": str(i), "drawing": [[[i], [i]], [[i, i], [i, i]]]}) + "\n" for i in range(6))

HOSTILE_SOURCES = [
    # ndjson: numbers and nesting Python cannot hold
    ("huge x", write("pig.ndjson", ndjson_with_line(record_line("[[[1, %d], [3, 4]]]" % 10**400))),
     r"pig\.ndjson: line 11: coordinate x is too large: an integer of 401 digits; coordinates must be numbers"),
    ("huge negative y", write("pig.ndjson", ndjson_with_line(record_line("[[[1, 2], [3, -%d]]]" % 10**400))),
     r"pig\.ndjson: line 11: coordinate y is too large: an integer of 401 digits"),
    ("more digits than Python converts", write("pig.ndjson", ndjson_with_line(record_line("[[[1, %s], [3, 4]]]" % ("9" * 5000)))),
     r"pig\.ndjson: line 11: unreadable JSON \(.*digits"),
    ("nested 100,000 deep", write("pig.ndjson", ndjson_with_line("[" * 100_000 + "]" * 100_000)),
     r"pig\.ndjson: line 11: JSON nested too deeply"),
    ("nested drawing", write("pig.ndjson", ndjson_with_line(record_line("[[[" + "[" * 50 + "1" + "]" * 50 + "], [2]]]"))),
     r"pig\.ndjson: line 11: coordinate x is a list \(\[\[\[.*\.\.\.\), not a number"),
    # ndjson: values that are not coordinates
    ("null x", write("pig.ndjson", ndjson_with_line(record_line("[[[1, null], [3, 4]]]"))),
     r"pig\.ndjson: line 11: coordinate x is missing \(null\); coordinates must be numbers"),
    ("null y", write("pig.ndjson", ndjson_with_line(record_line("[[[1, 2], [null, 4]]]"))),
     r"line 11: coordinate y is missing \(null\)"),
    ("boolean x", write("pig.ndjson", ndjson_with_line(record_line("[[[true, 2], [3, 4]]]"))),
     r"line 11: coordinate x is a boolean \(true\), not a number"),
    ("boolean y", write("pig.ndjson", ndjson_with_line(record_line("[[[1, 2], [3, false]]]"))),
     r"line 11: coordinate y is a boolean \(false\), not a number"),
    ("object", write("pig.ndjson", ndjson_with_line(record_line('[[[1, {"a": 1}], [3, 4]]]'))),
     r'line 11: coordinate x is an object \(\{"a": 1\}\), not a number'),
    ("not UTF-8", write("pig.ndjson", ndjson_with_line(record_line("[[[1, 2], [3, 4]]]")).encode() + b"\xff\xfe\n"),
     r"pig\.ndjson: line 12: not UTF-8 text"),
    ("endless line", special(lambda tmp_path: gzip_bomb(tmp_path / "pig.ndjson.gz", bytes(MIB), 20)),
     r"pig\.ndjson\.gz: line 1 is longer than 16 MiB"),
    # gzip and zip framing
    ("gzip trailing garbage", write("pig.ndjson.gz", gzip.compress(ndjson_with_line(good_line(10)).encode()) + b"garbage" * 10),
     r"pig\.ndjson\.gz: not a valid gzip file: 70 bytes of trailing data follow the end of the gzip stream"),
    ("gzip trailing zeros", write("pig.ndjson.gz", gzip.compress(ndjson_with_line(good_line(10)).encode()) + bytes(100)),
     r"pig\.ndjson\.gz: not a valid gzip file: 100 bytes of trailing data"),
    ("gzip cut off", write("pig.ndjson.gz", gzip.compress(ndjson_with_line(good_line(10)).encode())[:-12]),
     r"pig\.ndjson\.gz: cannot read the file \(corrupt or truncated\?"),
    ("zip trailing data", write("pig.npz", good_npz_bytes() + b"x" * 100),
     r"pig\.npz: not a valid \.npz file: 100 bytes of trailing data follow the end of the zip archive"),
    ("zip trailing data past zipfile's search", write("pig.npz", good_npz_bytes() + bytes(300_000)),
     r"pig\.npz: not a valid \.npz file: 300000 bytes of trailing data"),
    ("encrypted member", write("pig.npz", encrypted_npz()), r"pig\.npz: member sketches\.npy is encrypted"),
    ("bzip2 member", write("pig.npz", bzip2_npz()),
     r"pig\.npz: member sketches\.npy uses zip compression method 12; only stored or deflated members"),
    # .npy members
    ("negative shape", write("pig.npz", npz_of(sketches=npy_header("<i2", (-5, 3)))),
     r"pig\.npz: member sketches\.npy declares the negative shape \(-5, 3\): the file is corrupt"),
    ("negative shape of objects", write("pig.npz", npz_of(sketches=npy_header("|O", (-1,)) + pickle.dumps([], protocol=2))),
     r"pig\.npz: member sketches\.npy declares the negative shape \(-1,\)"),
    ("absurd shape", write("pig.npz", npz_of(sketches=npy_header("<f8", (2, 2**40, 3)))),
     r"pig\.npz: member sketches\.npy is truncated"),
    ("absurd drawing count", write("pig.npz", npz_of(sketches=npy_header("<f8", (2**40, 2**40, 3)))),
     r"pig\.npz: its arrays hold 1,099,511,627,776 drawings, more than 500,000 drawings"),
    ("numeric trailing data", write("pig.npz", npz_of(sketches=npy_bytes(np.ones((4, 5, 3), dtype=np.int16)) + b"extra")),
     r"pig\.npz: member sketches\.npy has 5 bytes of trailing data after its 60 values of int16"),
    ("pickle trailing data", write("pig.npz", npz_of(sketches=npy_bytes(object_array(good_drawings())) + b"extra")),
     r"pig\.npz: member sketches\.npy has 5 bytes of trailing data after its pickled array"),
    ("more objects declared than bytes", write("pig.npz", npz_of(sketches=npy_header("|O", (10**5,)) + pickle.dumps([], protocol=2))),
     r"pig\.npz: member sketches\.npy declares 100000 drawings in only \d+ bytes"),
    ("one drawing referenced 100 times", write("pig.npz", npz_of(sketches=shared_reference_npy())),
     r"pig\.npz: member sketches\.npy unpacks to 6000000 bytes of drawings from \d+ bytes: it repeats drawings"),
    ("object list shorter than its shape", write("pig.npz", hostile_state_npz((1, (1000,), np.dtype(object), False, [np.ones((3, 3))]))),
     r"pig\.npz: member sketches\.npy is corrupt: .*the data of an array of dtype object and shape \(1000,\) does not fit"),
    ("huge shape, no data", write("pig.npz", hostile_state_npz((1, (10**12,), np.dtype("i2"), False, b""))),
     r"pig\.npz: member sketches\.npy is corrupt: .*dtype int16 and shape \(1000000000000,\) does not fit"),
    ("structured dtype", write("pig.npz", hostile_state_npz((1, (1,), np.dtype([("a", "<i2")]), False, b"\0\0"))),
     r"pig\.npz: member sketches\.npy is corrupt: .*unsupported dtype 'V2'"),
    ("sub-array dtype state", write("pig.npz", hostile_state_npz((1, (1,), np.dtype(("<i2", (3,))), False, bytes(6)))),
     r"pig\.npz: member sketches\.npy is corrupt: .*unsupported dtype"),
    ("state of a non-array", write("pig.npz", npz_of(sketches=npy_header("|O", (1,)) + pickle.dumps(np.dtype("i2"), protocol=2)[:-1]
                                                      + b"}b.")),
     r"pig\.npz: member sketches\.npy is corrupt: .*(cannot set the state|dtype state)"),
    ("boolean numeric array", write("pig.npz", npz_of(sketches=npy_bytes(np.ones((4, 5, 3), dtype=bool)))),
     r"pig\.npz: sketches is a bool array of shape \(4, 5, 3\); expected stroke-3 drawings \[N, 3\] of numbers"),
    ("boolean drawing", write("pig.npz", npz_of(sketches=npy_bytes(object_array([np.ones((5, 3), dtype=bool)])))),
     r"pig\.npz: sketches\[0\] is a bool array of shape \(5, 3\), not a stroke-3 drawing \[N, 3\] of numbers"),
    # degenerate drawings: nothing to learn from
    ("all-zero and single-point drawings", write("pig.npz", degenerate_npz()),
     r"pig\.npz: none of its 5 drawings has any extent \(each keeps all its points in one place"),
    ("single points in ndjson", write("pig.ndjson", SINGLE_POINTS), r"pig\.ndjson: none of its 6 drawings has any extent"),
    # not regular files: never opened
    ("a device", special(lambda tmp_path: Path("/dev/zero")), r"^/dev/zero: is a character device, not a regular file"),
    ("a device with a data suffix", special(lambda tmp_path: Path("/dev/null/../zero.npz")), r"zero\.npz: (no such file|cannot be read)"),
    ("a named pipe", special(fifo), r"pig\.ndjson: is a named pipe \(FIFO\), not a regular file"),
    ("a symbolic link loop", special(symlink_loop), r"a\.npz: is a symbolic link loop"),
    ("a broken symbolic link", special(broken_symlink), r"pig\.npz: is a broken symbolic link"),
    ("a directory", special(directory), r"pig\.npz: is a directory, not a regular file"),
    ("a NUL character", special(lambda tmp_path: "pig\x00.npz"), r"not a file name or category name \(it contains a NUL character\)"),
]


@pytest.mark.parametrize(("build", "message"), [case[1:] for case in HOSTILE_SOURCES], ids=[case[0] for case in HOSTILE_SOURCES])
def test_hostile_source_is_refused_with_a_message(tmp_path, within_seconds, build, message):
    source = build(tmp_path)
    with pytest.raises(ValueError, match=message):
        data.load_dataset([source])


def test_a_huge_pickle_memo_index_costs_no_memory(tmp_path):
    # LONG_BINPUT 2**26: the C unpickler would grow its memo to 2**27 slots (1 GiB) before storing one value
    valid = pickle.dumps(object_array(good_drawings()), protocol=3)
    payload = valid[:2] + b"Nr" + struct.pack("<I", 2**26) + b"0" + valid[2:]
    path = tmp_path / "pig.npz"
    path.write_bytes(npz_of(sketches=npy_header("|O", (12,)) + payload))
    peak, error = peak_traced_bytes(lambda: data.load_dataset([path]))
    assert error is None
    assert peak < 16 * MIB


def test_cli_data_info_on_a_device_or_fifo_exits_2_without_hanging(tmp_path, capsys, within_seconds):
    assert cli.main(["data", "info", "/dev/zero"]) == 2
    assert "/dev/zero: is a character device, not a regular file" in capsys.readouterr().err
    assert cli.main(["data", "info", str(fifo(tmp_path))]) == 2
    assert "is a named pipe (FIFO)" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# What a file turns into is bounded, not only its bytes (issue 34): drawings, points, points per drawing

TINY_RECORD = b'{"drawing":[[[0,1],[0,1]]]}\n'  # 28 bytes: one drawing of two points


def test_a_gzip_of_many_tiny_records_is_refused_by_its_drawing_count(tmp_path, monkeypatch, within_seconds):
    """Issue 34: a 1.4 MB .ndjson.gz holding 480 MiB of tiny records (under the inflation limit) passed 4.6 GB in
    `data info`. Scaled down (the limit set to 20,000 drawings): refused at the limit, in memory the limit bounds."""
    path = gzip_bomb(tmp_path / "tiny.ndjson.gz", TINY_RECORD * (MIB // len(TINY_RECORD)), 8)  # 300,000 records
    monkeypatch.setenv("SKETCHRNN_MAX_DRAWINGS", "20000")
    peak, raised = peak_traced_bytes(lambda: data.load_dataset([path]))
    assert isinstance(raised, ValueError), raised
    assert str(raised) == (f"{path}: it holds more than 20,000 drawings, the limit on drawings in one data file (a file "
                           "of many tiny records). If it is genuine, raise the limit with the environment variable "
                           "SKETCHRNN_MAX_DRAWINGS, e.g. SKETCHRNN_MAX_DRAWINGS=40000")
    assert peak < 64 * MIB, f"{peak / MIB:.0f} MiB"


def test_an_npz_of_many_tiny_arrays_is_refused_before_unpickling(tmp_path, monkeypatch, within_seconds):
    """Issue 34: a 275 KB .npz of 2 million tiny object arrays took 2.4 GB and 81 s. Its .npy header says how many
    drawings it holds: checked before the member is inflated further or anything is unpickled."""
    body = npy_header("|O", (2_000_000,)) + b"\x80\x02" + b"\x00" * (3 * MIB)  # what follows is never read
    path = write_file(tmp_path / "tiny.npz", zip_with_member("sketches.npy", zlib.compress(body)[2:-4], zlib.crc32(body),
                                                              len(body)))
    with monkeypatch.context() as patch, pytest.raises(
            ValueError, match=r"tiny.npz: its arrays hold 2,000,000 drawings, more than 500,000 drawings, the limit on "
                              r"drawings in one data file\. .* SKETCHRNN_MAX_DRAWINGS=1000000"):
        patch.setattr(npz._NumpyOnlyUnpickler, "load", lambda self: pytest.fail("the file was unpickled"))
        patch.setattr(npz, "_read_npy", lambda *args: pytest.fail("the whole member was inflated"))
        data.load_dataset([path])
    official = io.BytesIO()  # the official layout: the three members' drawings count together
    np.savez(official, **{name: object_array(good_drawings(12)) for name in ("train", "valid", "test")})
    monkeypatch.setenv("SKETCHRNN_MAX_DRAWINGS", "30")
    with pytest.raises(ValueError, match="its arrays hold 36 drawings, more than 30 drawings"):
        data.load_dataset([write_file(tmp_path / "pig.npz", official.getvalue())])


def write_file(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def long_record(points: int) -> str:
    return record_line(json.dumps([[list(range(points)), [index % 7 for index in range(points)]]]))


def test_a_file_past_the_points_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHRNN_MAX_POINTS", "100")
    path = tmp_path / "pig.ndjson"
    path.write_text(ndjson_with_line(long_record(60)) + long_record(20) + "\n")  # 30, then 90, then 110 points
    with pytest.raises(ValueError, match=r"pig.ndjson: its drawings hold more than 100 points, the limit on points in "
                                         r"one data file\. .*SKETCHRNN_MAX_POINTS=200"):
        data.load_dataset([path])
    npz_path = write_file(tmp_path / "pig.npz", good_npz_bytes())  # 12 drawings of 10 points
    with pytest.raises(ValueError, match="pig.npz: its drawings hold 120 points, more than 100 points"):
        data.load_dataset([npz_path])
    monkeypatch.setenv("SKETCHRNN_MAX_POINTS", "120")
    assert sum(len(split) for split in data.load_dataset([npz_path]).splits.values()) == 12


def test_a_drawing_past_the_points_per_drawing_limit_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHRNN_MAX_DRAWING_POINTS", "50")
    path = tmp_path / "pig.ndjson"
    path.write_text(ndjson_with_line(long_record(60)))
    with pytest.raises(ValueError, match=r"pig.ndjson: line 11: the drawing has 60 points, more than 50 points, the limit "
                                         r"on points in one drawing\. .*SKETCHRNN_MAX_DRAWING_POINTS=100"):
        data.load_dataset([path])
    drawings = good_drawings()
    drawings[3] = np.tile(drawings[3], (6, 1))
    stream = io.BytesIO()
    np.savez(stream, sketches=object_array(drawings))
    with pytest.raises(ValueError, match=r"pig.npz: sketches\[3\]: the drawing has 60 points, more than 50 points"):
        data.load_dataset([write_file(tmp_path / "pig.npz", stream.getvalue())])


@pytest.mark.parametrize("variable", [limit.variable for limit in limits.ALL])
def test_a_bad_limit_setting_names_its_variable(tmp_path, monkeypatch, variable):
    monkeypatch.setenv(variable, "lots")
    path = write_file(tmp_path / "pig.ndjson.gz", gzip.compress(ndjson_with_line(good_line(10)).encode()))
    if variable == "SKETCHRNN_MAX_MODEL_MB":  # read by the model loader, not by data sources
        with pytest.raises(ValueError, match=f"{variable} must be a positive whole number of MiB"):
            limits.MODEL_MEMORY.value()
        return
    with pytest.raises(ValueError, match=f"{variable} must be a positive whole number"):
        data.load_dataset([path])


def test_the_default_limits_admit_official_files_with_room():
    assert limits.DRAWINGS.value() >= 4 * 75_000 and limits.DRAWINGS.value() > 340_000  # official .npz; largest ndjson
    assert limits.POINTS.value() >= 2 * 75_000 * 60  # an official .npz: ~75,000 drawings of ~60 points
    assert limits.DRAWING_POINTS.value() >= 10_000  # dense raw drawings run to a few thousand points


def test_coordinates_moved_into_chunks_load_exactly_as_before(shared_data, tmp_path, monkeypatch):
    """The parser moves coordinates into float64 chunks every FLUSH_POINTS points (a Python number costs 32 bytes,
    a float64 8); chunked or not, the drawings are the same, and a bad coordinate after a chunk is still named."""
    sources = [shared_data / "spg" / "pig.ndjson.gz", shared_data / "quickdraw_simplified_mouth_4526.ndjson"]
    whole = data.load_dataset(sources)
    monkeypatch.setattr(ndjson, "FLUSH_POINTS", 997)
    chunked = data.load_dataset(sources)
    for name, split in whole.splits.items():
        assert len(split.drawings) == len(chunked.splits[name].drawings) > 0
        assert all(np.array_equal(a, b) for a, b in zip(split.drawings, chunked.splits[name].drawings))
    monkeypatch.setattr(ndjson, "FLUSH_POINTS", 5)
    path = tmp_path / "pig.ndjson"
    path.write_text(ndjson_with_line(record_line('[[[0, 1, 2, 3, "x"], [0, 1, 2, 3, 4]]]')))
    with pytest.raises(ValueError, match=r"line 11: coordinate x is a string \(\"x\"\), not a number"):
        data.load_dataset([path])


# ----------------------------------------------------------------------------------------------
# Property-based fuzzing: any input gives a dataset or a ValueError, never another exception

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(10**500), max_value=10**500)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=4))
JSON_VALUES = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=3),
                           max_leaves=20)
STROKE_LISTS = st.lists(st.lists(st.lists(SCALARS | JSON_VALUES, max_size=4), min_size=1, max_size=3), max_size=3)


def loads_or_value_error(path: Path) -> None:
    """Loading ``path`` gives a dataset with drawings, or raises a ValueError with a message naming it."""
    try:
        dataset = data.load_dataset([path])
    except ValueError as error:
        assert str(error)
        return
    assert len(dataset.splits["train"]) > 0


@FUZZ
@given(drawing=STROKE_LISTS | JSON_VALUES, word=JSON_VALUES)
def test_fuzzed_ndjson_record_gives_a_dataset_or_a_value_error(tmp_path, drawing, word):
    record = json.dumps({"word": word, "key_id": "fuzz", "drawing": drawing})
    path = tmp_path / "pig.ndjson"
    path.write_text(ndjson_with_line(record))
    loads_or_value_error(path)


@FUZZ
@given(line=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_fuzzed_ndjson_line_gives_a_dataset_or_a_value_error(tmp_path, line):
    path = tmp_path / "pig.ndjson"
    path.write_bytes(ndjson_with_line("").encode() + line)
    loads_or_value_error(path)


def mutate(content: bytes, edits, cut) -> bytes:
    """``content`` with bytes overwritten at ``edits`` (positions taken modulo its length), then cut at ``cut``."""
    mutated = bytearray(content)
    for position, value in edits:
        mutated[position % len(mutated)] = value
    return bytes(mutated[: None if cut is None else cut % (len(mutated) + 1)])


EDITS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4)
CUTS = st.none() | st.integers(0, 10**6)
GOOD_NPZ = good_npz_bytes()
GOOD_COMPRESSED_NPZ = npz_of(zipfile.ZIP_DEFLATED, sketches=npy_bytes(object_array(good_drawings())))
GOOD_GZIP = gzip.compress(ndjson_with_line(good_line(10)).encode())


@FUZZ
@given(edits=EDITS, cut=CUTS, compressed=st.booleans())
def test_mutated_npz_gives_a_dataset_or_a_value_error(tmp_path, edits, cut, compressed):
    path = tmp_path / "pig.npz"
    path.write_bytes(mutate(GOOD_COMPRESSED_NPZ if compressed else GOOD_NPZ, edits, cut))
    loads_or_value_error(path)


@FUZZ
@given(edits=EDITS, cut=CUTS, tail=st.binary(max_size=20))
def test_mutated_gzip_gives_a_dataset_or_a_value_error(tmp_path, edits, cut, tail):
    path = tmp_path / "pig.ndjson.gz"
    path.write_bytes(mutate(GOOD_GZIP, edits, cut) + tail)
    loads_or_value_error(path)


GOOD_NPY = npy_bytes(object_array(good_drawings()))


@FUZZ
@given(edits=EDITS, cut=CUTS)
def test_mutated_npy_member_with_a_valid_zip_gives_a_dataset_or_a_value_error(tmp_path, edits, cut):
    path = tmp_path / "pig.npz"  # the zip's CRC matches the mutated member: the .npy header and pickle are fuzzed
    path.write_bytes(npz_of(sketches=mutate(GOOD_NPY, edits, cut)))
    loads_or_value_error(path)
