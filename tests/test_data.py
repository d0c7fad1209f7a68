"""Dataset loading (sketchrnn.data): every format, safe npz reading, splits, bad input, the CLI's `data info`."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchrnn import cli, data, strokes
from sketchrnn.data import npz

SETTINGS = settings(max_examples=100, deadline=None)


# ----------------------------------------------------------------------------------------------
# Helpers that write small files in the real formats


def object_array(drawings) -> np.ndarray:
    """A NumPy object array of int16 stroke-3 arrays, as the Sketch-RNN files hold."""
    array = np.empty(len(drawings), dtype=object)
    for index, drawing in enumerate(drawings):
        array[index] = np.asarray(drawing, dtype=np.int16)
    return array


def random_drawing(rng: np.random.Generator, length: int, spread: int = 30) -> np.ndarray:
    """A random stroke-3 drawing with integer offsets and a pen lift at the end."""
    drawing = np.zeros((length, 3), dtype=np.int16)
    drawing[:, :2] = rng.integers(-spread, spread + 1, size=(length, 2))
    drawing[:, 2] = rng.random(length) < 0.2
    drawing[-1, 2] = 1
    return drawing


def random_drawings(count: int, seed: int = 0, lengths=(5, 40)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [random_drawing(rng, int(rng.integers(*lengths))) for _ in range(count)]


def write_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def simplified_record(index: int, word: str = "pig", points: int = 6) -> dict:
    """An official-simplified style record: 2 strokes of [[x...], [y...]] in 0-255."""
    rng = np.random.default_rng(index)
    strokes_ = [[rng.integers(0, 256, points).tolist(), rng.integers(0, 256, points).tolist()] for _ in range(2)]
    return {"word": word, "countrycode": "US", "recognized": True, "key_id": f"{5000000000000000 + index}", "drawing": strokes_}


def write_ndjson(path: Path, records, compress: bool = False) -> Path:
    text = "".join(json.dumps(record) + "\n" for record in records)
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def polylines_of(record) -> list[np.ndarray]:
    return [np.column_stack([stroke[0], stroke[1]]).astype(np.float64) for stroke in record["drawing"]]


def expected_stroke3(polylines) -> np.ndarray:
    """What the loader should give for absolute polylines: polylines_to_stroke3(origin=None), cleaned."""
    return strokes.clean_stroke3(strokes.polylines_to_stroke3(polylines, origin=None))


def by_key(dataset: data.Dataset) -> dict[str, np.ndarray]:
    return {key: drawing for split in dataset.splits.values() for key, drawing in zip(split.keys, split.drawings)}


def split_of_keys(dataset: data.Dataset) -> dict[str, str]:
    return {key: name for name, split in dataset.splits.items() for key in split.keys}


# ----------------------------------------------------------------------------------------------
# Sketch-RNN .npz


def test_npz_single_array_layout_is_split_here(tmp_path):
    drawings = random_drawings(40)
    path = write_npz(tmp_path / "quickdraw_sketchrnn_cat_40.npz", sketches=object_array(drawings), pix_count=np.arange(40.0))
    dataset = data.load_dataset([path])
    assert dataset.categories == ["cat"]
    assert [len(dataset.splits[name]) for name in data.SPLIT_NAMES] == [36, 2, 2]
    loaded = by_key(dataset)
    for index, drawing in enumerate(drawings):
        result = loaded[f"{path.name}:sketches[{index}]"]
        assert result.dtype == np.float32
        np.testing.assert_array_equal(result, strokes.clean_stroke3(drawing))
    for split in dataset.splits.values():
        assert split.category_ids.dtype == np.int64 and (split.category_ids == 0).all()


def test_npz_official_layout_keeps_its_splits(tmp_path):
    parts = {"train": random_drawings(12, 1), "valid": random_drawings(3, 2), "test": random_drawings(4, 3)}
    path = write_npz(tmp_path / "owl.npz", **{name: object_array(d) for name, d in parts.items()})
    dataset = data.load_dataset([path], seed=123)
    for name, drawings in parts.items():
        split = dataset.splits[name]
        assert split.keys == [f"owl.npz:{name}[{i}]" for i in range(len(drawings))]
        for loaded, original in zip(split.drawings, drawings):
            np.testing.assert_array_equal(loaded, strokes.clean_stroke3(original))


def test_npz_numeric_three_dimensional_sketches_are_accepted(tmp_path):
    sketches = np.stack(random_drawings(10, lengths=(8, 9))).astype(np.int16)  # equal lengths: a plain array
    dataset = data.load_dataset([write_npz(tmp_path / "cat.npz", sketches=sketches)])
    assert sum(len(split) for split in dataset.splits.values()) == 10


def test_npz_offsets_are_clamped_not_refused(tmp_path):
    drawing = np.array([[0, 0, 0], [1400, -1400, 0], [5, 5, 1]], dtype=np.int16)
    dataset = data.load_dataset([write_npz(tmp_path / "cat.npz", train=object_array([drawing]), valid=object_array([drawing]),
                                           test=object_array([drawing]))])
    np.testing.assert_array_equal(dataset.splits["train"].drawings[0][1], [1000, -1000, 0])


def test_load_npz_safely_reads_numeric_members_without_pickle(tmp_path, monkeypatch):
    arrays = {"floats": np.linspace(0, 1, 12).reshape(3, 4), "ints": np.arange(10, dtype=np.int16),
              "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3))}
    path = write_npz(tmp_path / "numbers.npz", **arrays)

    def no_pickle(*args, **kwargs):
        raise AssertionError("numeric members must not be unpickled")

    monkeypatch.setattr(npz, "_NumpyOnlyUnpickler", no_pickle)
    loaded = data.load_npz_safely(path)
    assert sorted(loaded) == sorted(arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].dtype == array.dtype


def test_load_npz_safely_reads_object_arrays(tmp_path):
    drawings = random_drawings(5)
    loaded = data.load_npz_safely(write_npz(tmp_path / "a.npz", sketches=object_array(drawings)))["sketches"]
    assert loaded.dtype == object and len(loaded) == 5
    for result, original in zip(loaded, drawings):
        np.testing.assert_array_equal(result, original)
        assert result.dtype == np.int16


# ----------------------------------------------------------------------------------------------
# Safe loading: a malicious pickle is refused and never runs


class WritesAFileWithOsSystem:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class WritesAFileWithOpen:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def npy_bytes_with_payload(payload: bytes, shape=(1,)) -> bytes:
    """A .npy member whose header says object array and whose body is ``payload``."""
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": "|O", "fortran_order": False, "shape": shape})
    return stream.getvalue() + payload


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


@pytest.mark.parametrize(("exploit", "refused_global"), [(WritesAFileWithOsSystem, "system"), (WritesAFileWithOpen, "open")])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, exploit, refused_global):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(exploit(marker), protocol=2)
    path = write_zip(tmp_path / "pig.npz", {f"{name}.npy": npy_bytes_with_payload(payload) for name in data.SPLIT_NAMES})
    with pytest.raises(ValueError, match=f"refused to load.*{refused_global}") as caught:
        data.load_dataset([path])
    assert str(path) in str(caught.value)
    assert not marker.exists()


def test_malicious_object_inside_a_numpy_object_array_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    array = np.empty(2, dtype=object)
    array[0] = np.zeros((3, 3), dtype=np.int16)
    array[1] = WritesAFileWithOsSystem(marker)
    stream = io.BytesIO()
    np.save(stream, array, allow_pickle=True)  # written by numpy itself, as an attacker would
    path = write_zip(tmp_path / "evil.npz", {"sketches.npy": stream.getvalue()})
    with pytest.raises(ValueError, match=r"evil\.npz.*refused to load.*(posix|os)\.system"):
        data.load_dataset([path])
    assert not marker.exists()


def test_non_array_pickle_is_refused(tmp_path):
    path = write_zip(tmp_path / "cat.npz", {"sketches.npy": npy_bytes_with_payload(pickle.dumps({"a": 1}, protocol=2))})
    with pytest.raises(ValueError, match="holds a dict, not a NumPy array"):
        data.load_dataset([path])


# ----------------------------------------------------------------------------------------------
# ndjson: simplified, dense, raw


def test_simplified_ndjson_converts_polylines(tmp_path):
    records = [simplified_record(i) for i in range(30)]
    path = write_ndjson(tmp_path / "quickdraw_simplified_pig_30.ndjson", records)
    dataset = data.load_dataset([path])
    assert dataset.categories == ["pig"]
    loaded = by_key(dataset)
    assert sorted(loaded) == sorted(record["key_id"] for record in records)
    for record in records:
        np.testing.assert_array_equal(loaded[record["key_id"]], expected_stroke3(polylines_of(record)))


@pytest.mark.parametrize("name", ["pig.ndjson.gz", "pig.json", "pig.json.gz"])
def test_gzip_and_json_suffixes_read_like_plain_ndjson(tmp_path, name):
    records = [simplified_record(i) for i in range(20)]
    plain = data.load_dataset([write_ndjson(tmp_path / "pig.ndjson", records)])
    other = data.load_dataset([write_ndjson(tmp_path / name, records, compress=name.endswith(".gz"))])
    assert split_of_keys(plain) == split_of_keys(other)
    for key, drawing in by_key(plain).items():
        np.testing.assert_array_equal(by_key(other)[key], drawing)


def test_ndjson_is_deduplicated_on_key_id(tmp_path):
    records = [simplified_record(i) for i in range(10)]
    first_copy = dict(records[3], drawing=[[[1, 2, 3], [4, 5, 6]]])
    path = write_ndjson(tmp_path / "pig.ndjson", records[:5] + [first_copy] + records[5:])
    dataset = data.load_dataset([path])
    assert sum(len(split) for split in dataset.splits.values()) == 10
    np.testing.assert_array_equal(by_key(dataset)[records[3]["key_id"]], expected_stroke3(polylines_of(records[3])))


def test_duplicates_across_sources_are_dropped(tmp_path):
    records = [simplified_record(i) for i in range(12)]
    first = write_ndjson(tmp_path / "a.ndjson", records[:8])
    second = write_ndjson(tmp_path / "b.ndjson", records[4:])
    dataset = data.load_dataset([first, second])
    keys = [key for split in dataset.splits.values() for key in split.keys]
    assert sorted(keys) == sorted(record["key_id"] for record in records)


def dense_line_record(index: int, label_row: bool = True) -> dict:
    """A dense stroke along a straight line plus a dense right angle, with SPG-style label rows."""
    xs = list(range(10, 110))
    line = [xs, [40 + x // 2 for x in xs]]
    corner = [[150] * 50 + list(range(150, 200)), list(range(100, 150)) + [150] * 50]
    if label_row:
        line.append([1] * len(xs))
        corner.append([2] * 100)
    return {"i": index, "key_id": str(9000 + index), "drawing": [line, corner]}


def test_dense_ndjson_is_simplified_with_rdp(tmp_path):
    records = [dense_line_record(i) for i in range(5)]
    dataset = data.load_dataset([write_ndjson(tmp_path / "duck.ndjson.gz", records, compress=True)],
                                split_fractions=(1.0, 0.0, 0.0))
    assert dataset.categories == ["duck"]
    for record in records:
        simplified = strokes.rdp_polylines(polylines_of(record), strokes.RDP_EPSILON)
        drawing = by_key(dataset)[record["key_id"]]
        np.testing.assert_array_equal(drawing, expected_stroke3(simplified))
        assert len(drawing) < 10  # 200 dense points -> a handful


def test_raw_ndjson_is_fitted_to_the_frame_then_simplified(tmp_path):
    rng = np.random.default_rng(0)
    records = []
    for index in range(6):
        stroke_x = np.cumsum(rng.integers(-3, 8, 80)) + 400
        stroke_y = np.cumsum(rng.integers(-5, 6, 80)) + 700
        times = np.arange(80) * 16
        records.append({"word": "cat", "key_id": str(index), "drawing": [[stroke_x.tolist(), stroke_y.tolist(), times.tolist()]]})
    dataset = data.load_dataset([write_ndjson(tmp_path / "full_raw_cat.ndjson", records)], split_fractions=(1.0, 0.0, 0.0))
    for record in records:
        points = polylines_of(record)[0]
        fitted = (points - points.min(axis=0)) * (255.0 / (points.max(axis=0) - points.min(axis=0)).max())
        expected = expected_stroke3(strokes.rdp_polylines([fitted]))
        drawing = by_key(dataset)[record["key_id"]]
        np.testing.assert_allclose(drawing, expected, atol=1e-4)
        assert 200 < strokes.drawing_extent(drawing) <= 255.0 + 1e-3  # RDP may drop an extreme point


def test_auto_format_reads_slightly_out_of_frame_dense_points_as_dense(tmp_path):
    record = dense_line_record(0)
    record["drawing"][0][0] = [x + 170 for x in record["drawing"][0][0]]  # up to 279, as SPG files stray
    path = write_ndjson(tmp_path / "duck.ndjson", [record])
    auto = data.load_dataset([path], split_fractions=(1.0, 0.0, 0.0)).splits["train"].drawings[0]
    dense = data.load_dataset([path], split_fractions=(1.0, 0.0, 0.0), ndjson_format="dense").splits["train"].drawings[0]
    raw = data.load_dataset([path], split_fractions=(1.0, 0.0, 0.0), ndjson_format="raw").splits["train"].drawings[0]
    np.testing.assert_array_equal(auto, dense)
    assert strokes.drawing_extent(raw) == pytest.approx(255.0, abs=1e-3)
    assert strokes.drawing_extent(dense) != pytest.approx(255.0, abs=1.0)


def test_simplified_format_does_not_apply_rdp(tmp_path):
    path = write_ndjson(tmp_path / "duck.ndjson", [dense_line_record(0, label_row=False)])
    drawing = data.load_dataset([path], split_fractions=(1.0, 0.0, 0.0)).splits["train"].drawings[0]
    assert len(drawing) == 200  # [x, y] strokes are taken as already simplified


def test_drawings_without_points_are_skipped(tmp_path):
    records = [simplified_record(i) for i in range(4)] + [{"word": "pig", "key_id": "empty", "drawing": [[[], []]]}]
    dataset = data.load_dataset([write_ndjson(tmp_path / "pig.ndjson", records)], split_fractions=(1.0, 0.0, 0.0))
    assert "empty" not in by_key(dataset) and len(dataset.splits["train"]) == 4


# ----------------------------------------------------------------------------------------------
# Options: rescale, length cap, categories, combining sources


def test_rescale_to_makes_every_drawing_span_the_frame(tmp_path):
    path = write_npz(tmp_path / "cat.npz", sketches=object_array(random_drawings(30)))
    dataset = data.load_dataset([path], rescale_to=255)
    for split in dataset.splits.values():
        for drawing in split.drawings:
            assert strokes.drawing_extent(drawing) == pytest.approx(255.0, abs=1e-3)
    assert dataset.options["rescale_to"] == 255


def test_rescale_keeps_the_shape(tmp_path):
    drawing = np.array([[3, 4, 0], [10, 0, 0], [0, 20, 1], [-5, -5, 1]], dtype=np.int16)
    path = write_npz(tmp_path / "cat.npz", train=object_array([drawing]), valid=object_array([drawing]), test=object_array([drawing]))
    rescaled = data.load_dataset([path], rescale_to=100).splits["train"].drawings[0]
    np.testing.assert_allclose(rescaled[:, :2], drawing[:, :2] * (100 / 20), rtol=1e-6)
    np.testing.assert_array_equal(rescaled[:, 2], drawing[:, 2])


def test_max_length_drops_long_drawings(tmp_path):
    drawings = random_drawings(200, lengths=(5, 60))
    path = write_npz(tmp_path / "cat.npz", sketches=object_array(drawings))
    capped = data.load_dataset([path], max_length=30)
    full = data.load_dataset([path], max_length=250)
    for name in data.SPLIT_NAMES:
        assert all(len(d) <= 30 for d in capped.splits[name].drawings)
        expected = [key for key, d in zip(full.splits[name].keys, full.splits[name].drawings) if len(d) <= 30]
        assert capped.splits[name].keys == expected  # the cap does not move drawings between splits


def test_drawings_without_extent_are_left_out_and_counted(tmp_path, capsys):
    rng = np.random.default_rng(3)
    good = random_drawings(60, lengths=(5, 40))
    long_ones = [random_drawing(rng, 80) for _ in range(4)]
    all_zero = [np.zeros((6, 3), dtype=np.int16) for _ in range(5)]
    single_points = [np.array([[9, -4, 1]], dtype=np.int16) for _ in range(3)]
    path = write_npz(tmp_path / "cat.npz", sketches=object_array(good + long_ones + all_zero + single_points))
    dataset = data.load_dataset([path], max_length=50)
    assert dataset.left_out == {"without extent": 8, "longer than max_length": 4}
    assert sum(len(split) for split in dataset.splits.values()) == 60
    for split in dataset.splits.values():
        assert all(strokes.drawing_extent(drawing) > 0 for drawing in split.drawings)
    assert "left out: 8 without extent (all points in one place), 4 longer than max_length=50 points" in data.describe(dataset)
    assert cli.main(["data", "info", str(path), "--max-length", "50"]) == 0
    output = capsys.readouterr().out
    assert "left out: 8 without extent" in output and "scale factor: 1 " not in output


def test_drawings_without_extent_do_not_move_others_between_splits(tmp_path):
    records = [simplified_record(i) for i in range(40)]
    junk = [{"key_id": f"junk{i}", "drawing": [[[5, 5], [9, 9]]]} for i in range(5)]  # two points in one place
    clean = data.load_dataset([write_ndjson(tmp_path / "a.ndjson", records)])
    with_junk = data.load_dataset([write_ndjson(tmp_path / "b.ndjson", junk[:2] + records + junk[2:])])
    assert with_junk.left_out["without extent"] == 5
    assert split_of_keys(clean) == split_of_keys(with_junk)


def test_describe_has_no_left_out_line_when_nothing_was_left_out(tmp_path):
    dataset = data.load_dataset([write_npz(tmp_path / "cat.npz", sketches=object_array(random_drawings(20)))])
    assert dataset.left_out == {"without extent": 0, "longer than max_length": 0}
    assert "left out" not in data.describe(dataset)


def test_several_sources_combine_and_merge_categories(tmp_path):
    pig_npz = write_npz(tmp_path / "quickdraw_sketchrnn_pig_20.npz", sketches=object_array(random_drawings(20)))
    pig_records = [simplified_record(i, "pig") for i in range(20)]
    pig_ndjson = write_ndjson(tmp_path / "pigs.ndjson", pig_records)
    clock_records = [simplified_record(100 + i, "alarm clock") for i in range(20)]
    clocks = write_ndjson(tmp_path / "mixed.ndjson", clock_records)
    clock_npz = write_npz(tmp_path / "alarm_clock.npz", sketches=object_array(random_drawings(20, seed=5)))
    dataset = data.load_dataset([pig_npz, clocks, pig_ndjson, clock_npz])
    assert dataset.categories == ["pig", "alarm clock"]
    assert dataset.sources == [str(p) for p in (pig_npz, clocks, pig_ndjson, clock_npz)]
    expected = {f"{pig_npz.name}:sketches[{i}]": "pig" for i in range(20)}
    expected |= {f"{clock_npz.name}:sketches[{i}]": "alarm clock" for i in range(20)}
    expected |= {record["key_id"]: record["word"] for record in pig_records + clock_records}
    actual = {key: dataset.categories[category_id] for split in dataset.splits.values()
              for key, category_id in zip(split.keys, split.category_ids)}
    assert actual == expected


def test_categories_restrict_a_multi_category_file(tmp_path):
    records = [simplified_record(i, word) for i, word in enumerate(["pig", "alarm clock", "The Eiffel Tower", "t-shirt"] * 10)]
    path = write_ndjson(tmp_path / "many.ndjson", records)
    dataset = data.load_dataset([path], categories=["alarm_clock", "t-shirt"])
    assert sorted(dataset.categories) == ["alarm clock", "t-shirt"]
    assert sum(len(s) for s in dataset.splits.values()) == 20


def test_unknown_category_lists_the_available_ones(tmp_path):
    records = [simplified_record(i, word) for i, word in enumerate(["pig", "alarm clock"] * 5)]
    path = write_ndjson(tmp_path / "many.ndjson", records)
    with pytest.raises(ValueError, match=r"unknown category 'horse'; the sources have: alarm clock, pig"):
        data.load_dataset([path], categories=["pig", "horse"])


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("quickdraw_sketchrnn_pig_2200.npz", "pig"),
        ("spg/pig.ndjson.gz", "pig"),
        ("quickdraw_simplified_eye_4488.ndjson", "eye"),
        ("pig.npz", "pig"),
        ("quickdraw_sketchrnn_alarm_clock_2200.npz", "alarm clock"),
        ("full_simplified_The Eiffel Tower.ndjson", "The Eiffel Tower"),
        ("data/sketchrnn/alarm_clock.npz", "alarm clock"),
    ],
)
def test_category_from_filename(name, category):
    assert data.category_from_filename(name) == category


# ----------------------------------------------------------------------------------------------
# Splits


def test_split_counts():
    assert data.split_counts(2200, (0.9, 0.05, 0.05)) == (1980, 110, 110)
    assert data.split_counts(25, (0.9, 0.05, 0.05)) == (23, 1, 1)
    assert data.split_counts(3, (0.9, 0.05, 0.05)) == (1, 1, 1)
    assert data.split_counts(2, (0.9, 0.05, 0.05)) == (2, 0, 0)
    assert data.split_counts(100, (1.0, 0.0, 0.0)) == (100, 0, 0)
    assert data.split_counts(100, (0.8, 0.1, 0.1)) == (80, 10, 10)


def test_split_is_deterministic_and_depends_on_the_seed(tmp_path):
    path = write_ndjson(tmp_path / "pig.ndjson", [simplified_record(i) for i in range(200)])
    first, again = data.load_dataset([path], seed=7), data.load_dataset([path], seed=7)
    other_seed = data.load_dataset([path], seed=8)
    for name in data.SPLIT_NAMES:
        assert first.splits[name].keys == again.splits[name].keys
    assert split_of_keys(first) != split_of_keys(other_seed)


def test_split_does_not_depend_on_file_order(tmp_path):
    records = [simplified_record(i) for i in range(200)]
    forward = data.load_dataset([write_ndjson(tmp_path / "a_pig.ndjson", records)])
    backward = data.load_dataset([write_ndjson(tmp_path / "b_pig.ndjson", records[::-1])])
    assert split_of_keys(forward) == split_of_keys(backward)


def test_split_of_a_category_is_stable_when_sources_combine(tmp_path):
    pig = write_ndjson(tmp_path / "pig.ndjson", [simplified_record(i) for i in range(100)])
    pig_npz = write_npz(tmp_path / "pig.npz", sketches=object_array(random_drawings(50)))
    cows = write_ndjson(tmp_path / "cow.ndjson", [simplified_record(1000 + i, "cow") for i in range(100)])
    alone = split_of_keys(data.load_dataset([pig, pig_npz]))
    combined = split_of_keys(data.load_dataset([cows, pig, pig_npz]))
    assert {key: combined[key] for key in alone} == alone


def test_split_keys_are_disjoint_and_complete(tmp_path):
    path = write_npz(tmp_path / "cat.npz", sketches=object_array(random_drawings(100)))
    dataset = data.load_dataset([path])
    keys = [key for split in dataset.splits.values() for key in split.keys]
    assert len(keys) == len(set(keys)) == 100


# ----------------------------------------------------------------------------------------------
# The vectorised helpers equal their per-drawing definitions in strokes.py


drawings_strategy = st.lists(
    st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3), st.integers(0, 1)), min_size=1, max_size=15), min_size=1, max_size=8
)


@SETTINGS
@given(drawings_strategy, st.sampled_from([2.0, 1000.0]))
def test_clean_stroke3_flat_equals_clean_stroke3(drawings, limit):
    arrays = [np.asarray(d, dtype=np.float32) for d in drawings]
    cleaned, lengths = data.clean_stroke3_flat(np.concatenate(arrays), [len(a) for a in arrays], limit)
    expected = [strokes.clean_stroke3(a, limit) for a in arrays]
    assert lengths.tolist() == [len(e) for e in expected]
    np.testing.assert_array_equal(cleaned, np.concatenate(expected))


def test_rdp_on_real_dense_strokes_matches_recursive_reference(shared_data):
    from test_strokes import reference_rdp

    with gzip.open(shared_data / "spg" / "ant.ndjson.gz", "rt") as lines:
        records = [json.loads(line) for _, line in zip(range(60), lines)]
    polylines = [np.column_stack(stroke[:2]).astype(np.float64) for record in records for stroke in record["drawing"]]
    points, ends = np.concatenate(polylines), np.cumsum([len(p) for p in polylines])
    expected = np.zeros(len(points), dtype=bool)
    for start, stroke in zip(ends - [len(p) for p in polylines], polylines):
        expected[start + np.asarray(reference_rdp(stroke, 2.0), dtype=np.int64)] = True
    np.testing.assert_array_equal(strokes.rdp_keep_mask(points, ends), expected)


# ----------------------------------------------------------------------------------------------
# The real files in ../shared/data


def check_dataset(dataset: data.Dataset) -> None:
    """Invariants every loaded dataset has."""
    for split in dataset.splits.values():
        assert len(split.drawings) == len(split.category_ids) == len(split.keys) > 0
        for drawing in split.drawings[:50]:
            assert drawing.dtype == np.float32 and drawing.ndim == 2 and drawing.shape[1] == 3
            assert np.isin(drawing[:, 2], (0.0, 1.0)).all() and np.abs(drawing[:, :2]).max() <= strokes.OFFSET_LIMIT
        assert max(len(d) for d in split.drawings) <= dataset.options["max_length"]
    stats = dataset.stats()
    assert stats.scale_factor > 0 and stats.typical_extent > 0


def test_real_sketchrnn_npz_single_array(shared_data):
    dataset = data.load_dataset([shared_data / "quickdraw_sketchrnn_pig_2200.npz"])
    check_dataset(dataset)
    assert dataset.categories == ["pig"]
    assert [len(dataset.splits[name]) for name in data.SPLIT_NAMES] == [1980, 110, 110]
    extents = [strokes.drawing_extent(d) for d in dataset.splits["train"].drawings]
    assert 250 < np.median(extents) < 600  # the Sketch-RNN frame is larger than 0-255


def test_real_official_layout_aaron_sheep(shared_data):
    dataset = data.load_dataset([shared_data / "aaron_sheep.npz"])  # written by Python 2 era NumPy
    check_dataset(dataset)
    assert [len(dataset.splits[name]) for name in data.SPLIT_NAMES] == [7400, 300, 300]


def test_real_simplified_ndjson(shared_data):
    dataset = data.load_dataset([shared_data / "quickdraw_simplified_eye_4488.ndjson"])
    check_dataset(dataset)
    assert dataset.categories == ["eye"]
    assert sum(len(s) for s in dataset.splits.values()) == 4484  # 4 of the 4488 drawings have more than 250 points
    uncapped = data.load_dataset([shared_data / "quickdraw_simplified_eye_4488.ndjson"], max_length=1000)
    assert [len(uncapped.splits[name]) for name in data.SPLIT_NAMES] == [4040, 224, 224]


def test_real_dense_spg_file(shared_data):
    dataset = data.load_dataset([shared_data / "spg" / "pig.ndjson.gz"])
    check_dataset(dataset)
    assert dataset.categories == ["pig"]
    assert [len(dataset.splits[name]) for name in data.SPLIT_NAMES] == [720, 40, 40]
    assert np.median([len(d) for d in dataset.splits["train"].drawings]) < 120  # ~235 dense points before RDP


def test_real_344_category_file_with_categories(shared_data):
    path = shared_data / "quickdraw_simplified_344cats_25each.ndjson"
    dataset = data.load_dataset([path], categories=["pig", "alarm_clock", "The Eiffel Tower"])
    check_dataset(dataset)
    assert sorted(dataset.categories) == ["The Eiffel Tower", "alarm clock", "pig"]
    assert [len(dataset.splits[name]) for name in data.SPLIT_NAMES] == [69, 3, 3]
    with pytest.raises(ValueError, match="unknown category 'unicorn'.*aircraft carrier.*zebra"):
        data.load_dataset([path], categories=["unicorn"])


def test_real_files_combine(shared_data):
    sources = [shared_data / "quickdraw_sketchrnn_pig_2200.npz", shared_data / "spg" / "pig.ndjson.gz",
               shared_data / "quickdraw_simplified_eye_4488.ndjson"]
    dataset = data.load_dataset(sources, rescale_to=255)
    check_dataset(dataset)
    assert dataset.categories == ["pig", "eye"]
    counts = np.bincount(np.concatenate([s.category_ids for s in dataset.splits.values()]))
    assert counts.tolist() == [3000, 4484]


# ----------------------------------------------------------------------------------------------
# Bad input: a ValueError naming the file and what is wrong


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"nothere\.npz: no such file"):
        data.load_dataset([tmp_path / "nothere.npz"])


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "drawings.csv"
    path.write_text("1,2,3\n")
    with pytest.raises(ValueError, match=r"drawings\.csv: unsupported file type"):
        data.load_dataset([path])


@pytest.mark.parametrize("content", [b"", b"this is not a zip file at all", b"PK\x03\x04garbage"])
def test_corrupt_npz(tmp_path, content):
    path = tmp_path / "cat.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"cat\.npz: not a valid \.npz file"):
        data.load_dataset([path])


def test_truncated_npz(tmp_path):
    whole = write_npz(tmp_path / "whole.npz", sketches=object_array(random_drawings(50))).read_bytes()
    path = tmp_path / "cat.npz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"cat\.npz: not a valid \.npz file"):
        data.load_dataset([path])


def test_npz_with_a_damaged_member(tmp_path):
    content = bytearray(write_npz(tmp_path / "whole.npz", sketches=object_array(random_drawings(50))).read_bytes())
    content[len(content) // 2] ^= 0xFF  # flip a byte inside the stored member: the CRC check fails
    path = tmp_path / "cat.npz"
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match=r"cat\.npz: .*(corrupt|not a valid)"):
        data.load_dataset([path])


def test_wrong_npz_layout(tmp_path):
    path = write_npz(tmp_path / "cat.npz", drawings=object_array(random_drawings(5)), train=object_array(random_drawings(5)))
    with pytest.raises(ValueError, match=r"cat\.npz: unrecognised \.npz layout.*'train', 'valid' and 'test'.*'sketches'"):
        data.load_dataset([path])


def test_npz_with_wrong_drawing_shapes(tmp_path):
    array = object_array([np.zeros((4, 3)), np.zeros((4, 2))])
    with pytest.raises(ValueError, match=r"cat\.npz: sketches\[1\] is a int16 array of shape \(4, 2\)"):
        data.load_dataset([write_npz(tmp_path / "cat.npz", sketches=array)])
    with pytest.raises(ValueError, match=r"sketches is a float64 array of shape \(5,\)"):
        data.load_dataset([write_npz(tmp_path / "dog.npz", sketches=np.zeros(5))])


def test_empty_dataset(tmp_path):
    with pytest.raises(ValueError, match="no drawings found.*empty"):
        data.load_dataset([write_ndjson(tmp_path / "pig.ndjson", [])])
    with pytest.raises(ValueError, match="no drawings found.*empty"):
        data.load_dataset([write_npz(tmp_path / "cat.npz", sketches=object_array([]))])


def test_split_that_ends_up_empty(tmp_path):
    too_few = write_ndjson(tmp_path / "pig.ndjson", [simplified_record(i) for i in range(2)])
    with pytest.raises(ValueError, match="the valid split of .*pig.ndjson is empty: too few drawings"):
        data.load_dataset([too_few])
    long_ones = write_npz(tmp_path / "cat.npz", sketches=object_array(random_drawings(30, lengths=(50, 60))))
    with pytest.raises(ValueError, match="the train split .* is empty: all 2[0-9] of its drawings are longer than max_length=10"):
        data.load_dataset([long_ones], max_length=10)


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinite_coordinates_in_ndjson(tmp_path, bad):
    line = '{"word": "pig", "key_id": "1", "drawing": [[[1, 2, %s], [3, 4, 5]]]}\n' % bad
    path = tmp_path / "pig.ndjson"
    path.write_text(json.dumps(simplified_record(0)) + "\n" + line)
    with pytest.raises(ValueError, match=r"pig\.ndjson: line 2: the drawing has NaN or infinite coordinates"):
        data.load_dataset([path])


def test_nan_coordinates_in_npz(tmp_path):
    drawings = [np.ones((4, 3)), np.array([[0.0, 1.0, 0.0], [np.nan, 2.0, 1.0]])]
    array = np.empty(2, dtype=object)
    array[0], array[1] = drawings
    with pytest.raises(ValueError, match=r"cat\.npz: sketches\[1\]: the drawing has NaN or infinite coordinates"):
        data.load_dataset([write_npz(tmp_path / "cat.npz", sketches=array)])


def test_absurd_coordinates(tmp_path):
    record = simplified_record(0)
    record["drawing"][0][0][1] = 3e7
    with pytest.raises(ValueError, match=r"pig\.ndjson: line 1: the drawing has absurd .*coordinates"):
        data.load_dataset([write_ndjson(tmp_path / "pig.ndjson", [record])])
    array = object_array([np.zeros((3, 3))]).astype(object)
    array[0] = np.array([[0.0, 0.0, 0.0], [2e6, 0.0, 1.0]])
    with pytest.raises(ValueError, match=r"cat\.npz: sketches\[0\]: the drawing has absurd"):
        data.load_dataset([write_npz(tmp_path / "cat.npz", sketches=array)])


def test_record_without_drawing(tmp_path):
    path = write_ndjson(tmp_path / "pig.ndjson", [simplified_record(0), {"word": "pig", "key_id": "2"}])
    with pytest.raises(ValueError, match=r"pig\.ndjson: line 2: the record has no 'drawing' field"):
        data.load_dataset([path])


def test_malformed_json_line_names_the_line(tmp_path):
    path = tmp_path / "pig.ndjson"
    path.write_text(json.dumps(simplified_record(0)) + "\n\n" + json.dumps(simplified_record(1))[:-5] + "\n")
    with pytest.raises(ValueError, match=r"pig\.ndjson: line 3: malformed JSON"):
        data.load_dataset([path])


@pytest.mark.parametrize(
    ("drawing", "message"),
    [
        ([[[1, 2], [3]]], "as many x as y"),
        ([[[1, 2]]], r"\[\[x\.\.\.\], \[y\.\.\.\]\]"),
        ("strokes", "must be a list of strokes"),
        ([[[1, "a"], [3, 4]]], r'coordinate x is a string \("a"\), not a number; coordinates must be numbers'),
        ([[[1, [2]], [3, 4]]], r"coordinate x is a list \(\[2\]\), not a number"),
    ],
)
def test_malformed_strokes(tmp_path, drawing, message):
    path = write_ndjson(tmp_path / "pig.ndjson", [simplified_record(0), {"key_id": "x", "drawing": drawing}])
    with pytest.raises(ValueError, match=r"pig\.ndjson: line 2: .*" + message):
        data.load_dataset([path])


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "pig.ndjson.gz"
    path.write_bytes(gzip.compress(b'{"drawing": [[[1, 2], [3, 4]]]}\n' * 100)[:40])
    with pytest.raises(ValueError, match=r"pig\.ndjson\.gz: cannot read the file"):
        data.load_dataset([path])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_length": 0}, "max_length must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"rescale_to": 0}, "rescale_to must be a positive number"),
        ({"split_fractions": (0.5, 0.2, 0.2)}, "split_fractions must be three non-negative numbers"),
        ({"ndjson_format": "fancy"}, "ndjson_format must be one of"),
    ],
)
def test_bad_options(tmp_path, options, message):
    path = write_ndjson(tmp_path / "pig.ndjson", [simplified_record(i) for i in range(10)])
    with pytest.raises(ValueError, match=message):
        data.load_dataset([path], **options)


def test_no_sources():
    with pytest.raises(ValueError, match="no sources given"):
        data.load_dataset([])


def test_bare_category_not_in_the_cache_says_what_to_do(tmp_path):
    with pytest.raises(ValueError) as caught:
        data.load_dataset(["alarm clock"], cache_dir=tmp_path)
    message = str(caught.value)
    assert "https://storage.googleapis.com/quickdraw_dataset/sketchrnn/alarm%20clock.npz" in message
    assert str(tmp_path / "sketchrnn" / "alarm_clock.npz") in message
    assert "sketchrnn data download alarm_clock" in message


def test_bare_category_found_in_the_cache(tmp_path):
    target = data.cache_path("pig", cache_dir=tmp_path)
    target.parent.mkdir(parents=True)
    write_npz(target, sketches=object_array(random_drawings(20)))
    dataset = data.load_dataset(["pig"], cache_dir=tmp_path)
    assert dataset.categories == ["pig"] and sum(len(s) for s in dataset.splits.values()) == 20


@pytest.mark.parametrize("name", ["../etc/passwd", "pig;rm", "pig?x=1", "", "  "])
def test_invalid_category_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="(invalid category name|no such file)"):
        data.load_dataset([name], cache_dir=tmp_path)


# ----------------------------------------------------------------------------------------------
# The command line: sketchrnn data info


def test_cli_data_info(shared_data, capsys):
    status = cli.main(["data", "info", str(shared_data / "spg" / "pig.ndjson.gz"), "--max-length", "200", "--rescale-to", "255"])
    output = capsys.readouterr().out
    assert status == 0
    assert "categories (1): pig" in output
    for line_start in ("train        720", "valid         40", "test          40", "scale factor:", "typical extent:"):
        assert line_start in output
    assert "p50" in output and "p99" in output


def test_cli_data_info_bad_input_exits_2_without_traceback(tmp_path, capsys):
    status = cli.main(["data", "info", str(tmp_path / "missing.ndjson")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.startswith("error: ") and "missing.ndjson: no such file" in captured.err
    assert "Traceback" not in captured.err


def test_cli_categories_option(tmp_path, capsys):
    records = [simplified_record(i, word) for i, word in enumerate(["pig", "alarm clock", "cow"] * 10)]
    path = write_ndjson(tmp_path / "many.ndjson", records)
    assert cli.main(["data", "info", str(path), "--categories", "pig, alarm clock"]) == 0
    assert "categories (2): pig, alarm clock" in capsys.readouterr().out


def test_cli_help_and_usage_errors(capsys):
    assert cli.main(["data", "info", "--help"]) == 0
    assert "length percentiles" in capsys.readouterr().out
    assert cli.main(["data"]) == 2
    assert cli.main(["data", "info", "x.npz", "--max-length", "many"]) == 2
