"""Round-trip and property tests of the stroke formats and their operations (sketchrnn.strokes)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchrnn import strokes

coordinate = st.integers(min_value=-300, max_value=300)
point = st.tuples(coordinate, coordinate)
polylines_strategy = st.lists(st.lists(point, min_size=1, max_size=12), min_size=1, max_size=6)
# a small grid makes collinear points, repeated points and distance ties common
grid_point = st.tuples(st.integers(0, 12), st.integers(0, 12))
rdp_strokes_strategy = st.lists(st.lists(grid_point, min_size=1, max_size=30), min_size=1, max_size=5)
SETTINGS = settings(max_examples=100, deadline=None)


def as_arrays(polylines):
    return [np.asarray(stroke, dtype=np.float64).reshape(-1, 2) for stroke in polylines]


def assert_same_polylines(actual, expected):
    assert len(actual) == len(expected)
    for actual_stroke, expected_stroke in zip(actual, expected):
        np.testing.assert_array_equal(actual_stroke, expected_stroke)


def reference_rdp(points: np.ndarray, epsilon: float) -> list[int]:
    """Textbook recursive Ramer-Douglas-Peucker on one stroke: indices of the kept points."""

    def recurse(first: int, last: int) -> list[int]:
        if last - first < 2:
            return []
        chord = points[last] - points[first]
        relative = points[first + 1 : last] - points[first]
        length = np.hypot(chord[0], chord[1])
        if length > 0:
            distance = np.abs(chord[0] * relative[:, 1] - chord[1] * relative[:, 0]) / length
        else:
            distance = np.hypot(relative[:, 0], relative[:, 1])
        farthest = int(np.argmax(distance))
        if distance[farthest] <= epsilon:
            return []
        middle = first + 1 + farthest
        return recurse(first, middle) + [middle] + recurse(middle, last)

    count = len(points)
    return [0] + recurse(0, count - 1) + ([count - 1] if count > 1 else [])


# ----------------------------------------------------------------------------------------------
# Conversions


@SETTINGS
@given(polylines_strategy)
def test_polylines_stroke3_round_trip_is_exact(polylines):
    polylines = as_arrays(polylines)
    stroke3 = strokes.polylines_to_stroke3(polylines)
    assert stroke3.dtype == np.float32 and stroke3.shape == (sum(len(s) for s in polylines), 3)
    assert_same_polylines(strokes.stroke3_to_polylines(stroke3), polylines)


@SETTINGS
@given(polylines_strategy)
def test_origin_none_starts_at_the_first_point(polylines):
    polylines = as_arrays(polylines)
    stroke3 = strokes.polylines_to_stroke3(polylines, origin=None)
    np.testing.assert_array_equal(stroke3[0, :2], [0.0, 0.0])
    assert_same_polylines(strokes.stroke3_to_polylines(stroke3, origin=polylines[0][0]), polylines)


@SETTINGS
@given(polylines_strategy)
def test_pen_lifts_after_the_last_point_of_every_stroke(polylines):
    polylines = as_arrays(polylines)
    stroke3 = strokes.polylines_to_stroke3(polylines)
    expected_lifts = np.cumsum([len(stroke) for stroke in polylines]) - 1
    np.testing.assert_array_equal(np.flatnonzero(stroke3[:, 2]), expected_lifts)


@SETTINGS
@given(polylines_strategy, st.integers(0, 20))
def test_stroke3_stroke5_round_trip_is_exact(polylines, padding):
    stroke3 = strokes.polylines_to_stroke3(as_arrays(polylines))
    for rows in (None, len(stroke3) + 2 + padding):
        stroke5 = strokes.stroke3_to_stroke5(stroke3, rows)
        np.testing.assert_array_equal(strokes.stroke5_to_stroke3(stroke5), stroke3)
        if not np.array_equal(stroke5[1], strokes.START_TOKEN):  # a first point (0, 0, pen down) looks like the token
            np.testing.assert_array_equal(strokes.stroke5_to_stroke3(stroke5[1:]), stroke3)  # without the start token


@SETTINGS
@given(polylines_strategy, st.integers(0, 20))
def test_stroke5_is_one_hot_with_start_token_and_end_rows(polylines, padding):
    stroke3 = strokes.polylines_to_stroke3(as_arrays(polylines))
    length, rows = len(stroke3), len(stroke3) + 2 + padding
    stroke5 = strokes.stroke3_to_stroke5(stroke3, rows)
    assert stroke5.shape == (rows, 5)
    np.testing.assert_array_equal(stroke5[0], strokes.START_TOKEN)
    np.testing.assert_array_equal(stroke5[:, 2:].sum(axis=1), np.ones(rows))
    np.testing.assert_array_equal(stroke5[1 : length + 1, 3], stroke3[:, 2])  # each point keeps its pen state
    np.testing.assert_array_equal(stroke5[length + 1 :], np.tile([0.0, 0.0, 0.0, 0.0, 1.0], (rows - length - 1, 1)))
    assert strokes.stroke3_to_stroke5(stroke3).shape == (length + 2, 5)  # one end row by default


def test_stroke5_refuses_too_few_rows():
    with pytest.raises(ValueError, match="at least 7 rows"):
        strokes.stroke3_to_stroke5(np.zeros((5, 3)), rows=6)


def test_empty_drawing_converts_to_the_start_token_and_an_end_row():
    stroke5 = strokes.stroke3_to_stroke5(np.zeros((0, 3)))
    np.testing.assert_array_equal(stroke5, [strokes.START_TOKEN, [0.0, 0.0, 0.0, 0.0, 1.0]])
    assert strokes.stroke5_to_stroke3(stroke5).shape == (0, 3)
    assert strokes.stroke3_to_polylines(np.zeros((0, 3))) == []
    assert strokes.polylines_to_stroke3([]).shape == (0, 3)


# ----------------------------------------------------------------------------------------------
# Ramer-Douglas-Peucker


@SETTINGS
@given(rdp_strokes_strategy, st.sampled_from([0.5, 1.0, 2.0, 3.5]))
def test_rdp_keep_mask_matches_recursive_reference(stroke_points, epsilon):
    polylines = as_arrays(stroke_points)
    points = np.concatenate(polylines)
    ends = np.cumsum([len(stroke) for stroke in polylines])
    expected = np.zeros(len(points), dtype=bool)
    for start, stroke in zip(ends - [len(s) for s in polylines], polylines):
        expected[start + np.asarray(reference_rdp(stroke, epsilon), dtype=np.int64)] = True
    np.testing.assert_array_equal(strokes.rdp_keep_mask(points, ends, epsilon), expected)


@SETTINGS
@given(rdp_strokes_strategy)
def test_rdp_polylines_matches_recursive_reference(stroke_points):
    polylines = as_arrays(stroke_points)
    simplified = strokes.rdp_polylines(polylines)
    assert_same_polylines(simplified, [stroke[reference_rdp(stroke, strokes.RDP_EPSILON)] for stroke in polylines])


def test_rdp_straightens_a_dense_line_and_keeps_a_corner():
    line = np.column_stack([np.arange(50.0), np.arange(50.0) * 0.5])
    corner = np.array([[0.0, 0.0], [5.0, 0.0], [10.0, 0.0], [10.0, 5.0], [10.0, 10.0]])
    simplified = strokes.rdp_polylines([line, corner])
    np.testing.assert_array_equal(simplified[0], line[[0, -1]])
    np.testing.assert_array_equal(simplified[1], corner[[0, 2, 4]])


def test_rdp_keep_mask_of_nothing_is_empty():
    assert strokes.rdp_keep_mask(np.zeros((0, 2)), np.zeros(0, dtype=np.int64)).shape == (0,)
    assert strokes.rdp_polylines([]) == []


# ----------------------------------------------------------------------------------------------
# Cleaning


def without_repeated_points(polylines):
    """Each stroke with every point equal to the one before it removed."""
    result = []
    for stroke in polylines:
        repeated = np.concatenate([[False], np.all(stroke[1:] == stroke[:-1], axis=1)])
        result.append(stroke[~repeated])
    return result


repeating_polylines = st.lists(
    st.lists(st.tuples(point, st.integers(1, 3)), min_size=1, max_size=8).map(
        lambda pairs: [p for p, repeat in pairs for _ in range(repeat)]
    ),
    min_size=1, max_size=5,
)


@SETTINGS
@given(repeating_polylines)
def test_clean_keeps_the_drawing_minus_repeated_points(polylines):
    polylines = as_arrays(polylines)
    cleaned = strokes.clean_stroke3(strokes.polylines_to_stroke3(polylines))
    assert_same_polylines(strokes.stroke3_to_polylines(cleaned), without_repeated_points(polylines))
    inside = np.concatenate([[False], cleaned[:-1, 2] < 0.5])
    assert not np.any(inside & (cleaned[:, 0] == 0) & (cleaned[:, 1] == 0))


def test_clean_clamps_offsets():
    stroke3 = np.array([[5000.0, -3000.0, 0.0], [10.0, 20.0, 1.0]])
    cleaned = strokes.clean_stroke3(stroke3)
    np.testing.assert_array_equal(cleaned, [[1000.0, -1000.0, 0.0], [10.0, 20.0, 1.0]])


def test_clean_passes_the_pen_lift_of_a_dropped_point_back():
    stroke3 = np.array([[1.0, 1.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [3.0, 3.0, 1.0]])
    cleaned = strokes.clean_stroke3(stroke3)
    # the repeated point ending stroke 1 goes; the zero move starting stroke 2 stays
    np.testing.assert_array_equal(cleaned, [[1.0, 1.0, 0.0], [2.0, 0.0, 1.0], [0.0, 0.0, 0.0], [3.0, 3.0, 1.0]])


def test_check_finite_refuses_nan_and_inf():
    strokes.check_finite(np.ones((3, 3)))
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="NaN or infinite"):
            strokes.check_finite(np.array([[0.0, bad, 1.0]]))


# ----------------------------------------------------------------------------------------------
# Statistics, normalisation, length cap


def test_compute_stats_on_a_known_dataset():
    square = strokes.polylines_to_stroke3([[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]], origin=None)
    line = strokes.polylines_to_stroke3([[[0, 0], [30, 0]]], origin=None)
    drawings = [square, line, square]
    offsets = np.concatenate([d[:, :2].ravel() for d in drawings])
    stats = strokes.compute_stats(drawings)
    assert stats.scale_factor == pytest.approx(np.std(offsets))
    assert stats.typical_extent == pytest.approx(10.0 / np.std(offsets))  # median of 10, 30, 10
    assert stats.median_length == 5.0


def wavy_drawings(count=40, points=400, seed=0):
    """Dense smooth strokes (a point every half unit or so) in a 0-255 frame, as stroke-3."""
    rng = np.random.default_rng(seed)
    drawings = []
    for _ in range(count):
        t = np.linspace(0, 2 * np.pi, points)
        x = 127 + 120 * np.cos(t) + 6 * np.sin(rng.integers(3, 9) * t)
        y = 127 + 100 * np.sin(t) + 6 * np.cos(rng.integers(3, 9) * t)
        drawings.append(np.column_stack([x, y]))
    return drawings


@pytest.mark.parametrize("epsilon", [0.75, 1.25, 2.0])
def test_simplification_epsilon_recovers_the_tolerance_a_dataset_was_simplified_with(epsilon):
    simplified = [strokes.polylines_to_stroke3(strokes.rdp_polylines([d], epsilon)) for d in wavy_drawings()]
    assert strokes.simplification_epsilon(simplified) == epsilon
    assert strokes.compute_stats(simplified).simplify_epsilon == epsilon
    # the frame is each drawing's own extent: the same drawings at another scale measure the same
    scaled = [np.column_stack([d[:, :2] * 3.7, d[:, 2:]]) for d in simplified]
    assert strokes.simplification_epsilon(scaled) == epsilon
    assert strokes.simplification_epsilon([]) == strokes.RDP_EPSILON


def test_scale_factor_edge_cases():
    with pytest.raises(ValueError, match="empty"):
        strokes.scale_factor([])
    assert strokes.scale_factor([np.zeros((4, 3))]) == 1.0  # no movement: no scaling


@SETTINGS
@given(polylines_strategy, st.floats(0.1, 100.0))
def test_normalize_denormalize_round_trip(polylines, factor):
    stroke3 = strokes.polylines_to_stroke3(as_arrays(polylines))
    normalised = strokes.normalize(stroke3, factor)
    np.testing.assert_array_equal(normalised[:, 2], stroke3[:, 2])
    np.testing.assert_allclose(strokes.denormalize(normalised, factor), stroke3, rtol=1e-5, atol=1e-4)


def test_cap_length_drops_long_drawings():
    drawings = [np.zeros((length, 3)) for length in (3, 10, 5, 11)]
    kept, indices = strokes.cap_length(drawings, max_length=10)
    assert [len(d) for d in kept] == [3, 10, 5]
    np.testing.assert_array_equal(indices, [0, 1, 2])
