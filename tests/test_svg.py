"""SVG rendering: structure, fitting, round trips, animation, validation and atomic saving."""

from __future__ import annotations

import math
import os
import re
import stat
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sketchrnn import svg
from sketchrnn.strokes import polylines_to_stroke3, stroke3_to_polylines
from sketchrnn.svg import completion_svg, drawing_svg, grid_svg, save_svg, stroke3_svg

SVG_NS = "{http://www.w3.org/2000/svg}"
POINT = re.compile(r"[ML](-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")

HOUSE = [
    np.array([[10.0, 100.0], [10.0, 40.0], [60.0, 5.0], [110.0, 40.0], [110.0, 100.0], [10.0, 100.0]]),
    np.array([[45.0, 100.0], [45.0, 70.0], [75.0, 70.0], [75.0, 100.0]]),
    np.array([[90.5, 20.25]]),  # a dot
]


# ----------------------------------------------------------------------------------------------
# Helpers that read the SVG back


def parse(svg_text: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg_text)


def paths(element: ElementTree.Element) -> list[ElementTree.Element]:
    return list(element.iter(f"{SVG_NS}path"))


def path_points(path: ElementTree.Element) -> np.ndarray:
    data = path.get("d")
    assert "e" not in data.lower(), "coordinates must be fixed-point"
    points = np.array([[float(x), float(y)] for x, y in POINT.findall(data)])
    assert len(points) == data.count("M") + data.count("L")
    return points


def view_box(element: ElementTree.Element) -> np.ndarray:
    return np.array([float(value) for value in element.get("viewBox").split()])


def groups_by_color(element: ElementTree.Element) -> dict[str, list[ElementTree.Element]]:
    return {group.get("stroke"): paths(group) for group in element.iter(f"{SVG_NS}g")}


def tolerance(element: ElementTree.Element, size: float) -> float:
    """Coordinates are rounded to at most 0.01 output pixel."""
    return 0.01 * max(view_box(element)[2:]) / size + 1e-9


def assert_inside(points: np.ndarray, box: np.ndarray) -> None:
    x, y, width, height = box
    assert width > 0 and height > 0
    assert np.all(points[:, 0] >= x) and np.all(points[:, 0] <= x + width)
    assert np.all(points[:, 1] >= y) and np.all(points[:, 1] <= y + height)


def assert_round_trip(svg_text: str, polylines, size: float = 256) -> None:
    root = parse(svg_text)
    drawn = paths(root)
    assert len(drawn) == len(polylines)
    for path, stroke in zip(drawn, polylines):
        expected = np.asarray(stroke, dtype=np.float64)
        if len(expected) == 1:  # a dot is a zero-length segment
            expected = np.repeat(expected, 2, axis=0)
        np.testing.assert_allclose(path_points(path), expected, rtol=0, atol=tolerance(root, size))


# ----------------------------------------------------------------------------------------------
# drawing_svg


def test_drawing_parses_with_one_styled_path_per_stroke():
    root = parse(drawing_svg(HOUSE, color="#123456"))
    assert root.tag == f"{SVG_NS}svg"
    (group,) = root.iter(f"{SVG_NS}g")
    assert len(paths(group)) == len(HOUSE)
    assert group.get("fill") == "none"
    assert group.get("stroke") == "#123456"
    assert group.get("stroke-linecap") == "round" and group.get("stroke-linejoin") == "round"
    assert all("id" not in element.attrib for element in root.iter())  # several SVGs can share a page


def test_round_trip_of_coordinates_at_several_scales():
    assert_round_trip(drawing_svg(HOUSE), HOUSE)
    small = [stroke / 37.3 - 1.234 for stroke in HOUSE]  # normalised-sized drawing: more decimals
    assert_round_trip(drawing_svg(small), small)
    far = [stroke * 3.0 + 12345.678 for stroke in HOUSE]
    assert_round_trip(drawing_svg(far, size=512), far, size=512)


def test_dot_is_a_zero_length_path():
    (path,) = paths(parse(drawing_svg([[[3.25, -4.5]]])))
    assert path.get("d") == "M3.25,-4.5 L3.25,-4.5"


def test_empty_strokes_are_skipped_and_empty_drawing_is_valid():
    root = parse(drawing_svg([np.zeros((0, 2)), HOUSE[0], []]))
    assert len(paths(root)) == 1
    empty = parse(drawing_svg([]))
    assert paths(empty) == [] and np.all(view_box(empty)[2:] > 0)


@pytest.mark.parametrize(
    "polylines",
    [
        [[[5.0, 5.0]]],  # a single point
        [[[0.0, 7.0], [100.0, 7.0]]],  # horizontal line
        [[[3.0, -50.0], [3.0, 50.0]]],  # vertical line
        [[[1.0, 1.0], [1.0, 1.0]], [[1.0, 1.0]]],  # every point in one place
        HOUSE,
    ],
)
def test_view_box_contains_every_point_with_positive_size(polylines):
    root = parse(drawing_svg(polylines))
    points = np.concatenate([np.asarray(stroke, dtype=float) for stroke in polylines])
    assert_inside(points, view_box(root))
    for path in paths(root):
        assert_inside(path_points(path), view_box(root))


def test_size_sets_the_larger_side_and_keeps_the_aspect_ratio():
    root = parse(drawing_svg([[[0, 0], [200, 0], [200, 50]]], size=300))
    width, height = float(root.get("width")), float(root.get("height"))
    box = view_box(root)
    assert width == 300
    assert height == pytest.approx(300 * box[3] / box[2], abs=0.01)


def test_stroke_width_is_in_output_pixels_and_margin_pads_the_box():
    polylines = [[[0, 0], [100, 100]]]
    root = parse(drawing_svg(polylines, stroke_width=4, margin=0.1, size=200))
    (group,) = root.iter(f"{SVG_NS}g")
    pixels_per_unit = float(root.get("width")) / view_box(root)[2]
    assert float(group.get("stroke-width")) * pixels_per_unit == pytest.approx(4, rel=1e-3)
    # side = 100 * (1 + 2 * 0.1) + 4 px of stroke
    assert view_box(root)[2] == pytest.approx(120 / (1 - 4 / 200), abs=0.01)


def test_same_input_gives_byte_identical_output():
    as_lists = [stroke.tolist() for stroke in HOUSE]
    first = drawing_svg(HOUSE, animate=True)
    assert first == drawing_svg(HOUSE, animate=True)
    assert first == drawing_svg(as_lists, animate=True)
    assert drawing_svg([[[0, 0], [10, 5]]]) == drawing_svg([np.array([[0.0, 0.0], [10.0, 5.0]], np.float32)])


def test_background_and_colour_options():
    with_background = parse(drawing_svg(HOUSE, background="#ABC"))
    (rect,) = with_background.iter(f"{SVG_NS}rect")
    assert rect.get("fill") == "#abc"
    assert np.allclose([float(rect.get(key)) for key in ("x", "y", "width", "height")], view_box(with_background))
    assert list(parse(drawing_svg(HOUSE, background=None)).iter(f"{SVG_NS}rect")) == []
    assert groups_by_color(parse(drawing_svg(HOUSE, color="Navy"))).keys() == {"navy"}


def test_stroke3_svg_matches_drawing_svg_of_its_polylines():
    stroke3 = polylines_to_stroke3(HOUSE)
    assert stroke3_svg(stroke3, size=128) == drawing_svg(stroke3_to_polylines(stroke3), size=128)
    assert_round_trip(stroke3_svg(stroke3), HOUSE)


# ----------------------------------------------------------------------------------------------
# Animation


def animation_of(path):
    (animate,) = path.iter(f"{SVG_NS}animate")
    return animate


def seconds(text: str) -> float:
    assert text.endswith("s")
    return float(text[:-1])


def test_animate_draws_strokes_in_order_within_the_duration():
    root = parse(drawing_svg(HOUSE, animate=True, duration=3.0))
    drawn = paths(root)
    lines, dot = drawn[:2], drawn[2]
    end = 0.0
    for path in lines:
        animate = animation_of(path)
        assert animate.get("attributeName") == "stroke-dashoffset" and animate.get("fill") == "freeze"
        assert seconds(animate.get("begin")) == pytest.approx(end)  # chained: starts when the last ended
        dash = float(path.get("stroke-dasharray").split()[0])
        points = path_points(path)
        assert dash >= np.hypot(*np.diff(points, axis=0).T).sum()
        assert float(animate.get("from")) == dash and float(animate.get("to")) == 0
        end = seconds(animate.get("begin")) + seconds(animate.get("dur"))
    # a dot has no length to draw: it stays hidden until its turn, then appears
    assert list(dot.iter(f"{SVG_NS}animate")) == []
    (hide,) = dot.iter(f"{SVG_NS}set")
    assert hide.get("to") == "hidden" and seconds(hide.get("dur")) == pytest.approx(end)
    assert end < 3.0


def test_animation_time_is_proportional_to_length():
    root = parse(drawing_svg([[[0, 0], [100, 0]], [[0, 10], [300, 10]]], animate=True, duration=2.0))
    short, long = (seconds(animation_of(path).get("dur")) for path in paths(root))
    assert short + long == pytest.approx(2.0, abs=0.002)
    assert long / short == pytest.approx((300 + 8) / (100 + 8), rel=0.01)  # + the 2% share of 400


def test_first_stroke_is_visible_at_once_and_later_ones_hidden_until_their_turn():
    first, second = paths(parse(drawing_svg(HOUSE[:2], animate=True)))
    assert list(first.iter(f"{SVG_NS}set")) == []
    (hide,) = second.iter(f"{SVG_NS}set")
    assert seconds(hide.get("dur")) == seconds(animation_of(second).get("begin")) > 0


# ----------------------------------------------------------------------------------------------
# completion_svg


PRIME = [np.array([[0.0, 0.0], [50.0, 10.0]]), np.array([[10.0, 20.0]])]
ENDING = [
    np.array([[50.0, 10.0], [80.0, 90.0], [20.0, 95.0]]),
    np.array([[-30.0, 5.0], [0.0, 0.0]]),
    np.array([[5.0, 5.0]]),  # a dot
]


def test_completion_counts_paths_per_colour_and_fits_both():
    root = parse(completion_svg(PRIME, ENDING, prime_color="#000", ending_color="red"))
    by_color = groups_by_color(root)
    assert len(by_color["#000"]) == len(PRIME) and len(by_color["red"]) == len(ENDING)
    assert_inside(np.concatenate(PRIME + ENDING), view_box(root))
    for path, stroke in zip(by_color["red"], ENDING):
        expected = stroke if len(stroke) > 1 else np.repeat(stroke, 2, axis=0)
        np.testing.assert_allclose(path_points(path), expected, atol=tolerance(root, 256))


def test_completion_animates_only_the_ending_by_default():
    root = parse(completion_svg(PRIME, ENDING, animate=True))
    by_color = groups_by_color(root)
    prime_paths, ending_paths = by_color[svg.DEFAULT_COLOR], by_color[svg.DEFAULT_ENDING_COLOR]
    assert all(len(list(path)) == 0 for path in prime_paths)  # shown at once
    assert seconds(animation_of(ending_paths[0]).get("begin")) == 0
    assert len(list(root.iter(f"{SVG_NS}animate"))) == 2  # the ending's two lines (the dot has a <set>)


def test_completion_with_animate_prime_draws_prime_then_ending():
    root = parse(completion_svg(PRIME, ENDING, animate=True, animate_prime=True))
    by_color = groups_by_color(root)
    prime_end = seconds(animation_of(by_color[svg.DEFAULT_COLOR][0]).get("dur"))
    # the prime's dot comes next, then the ending starts
    assert seconds(animation_of(by_color[svg.DEFAULT_ENDING_COLOR][0]).get("begin")) > prime_end


def test_completion_with_empty_prime_is_the_ending_alone():
    root = parse(completion_svg([], ENDING))
    assert len(paths(root)) == len(ENDING)


# ----------------------------------------------------------------------------------------------
# grid_svg


def test_grid_has_a_fitted_cell_per_drawing():
    tiny = [np.array([[0.0, 0.0], [1.0, 1.0]])]
    drawings = [HOUSE, (PRIME, ENDING), tiny, [stroke * 100 for stroke in tiny]]
    root = parse(grid_svg(drawings, columns=3, cell_size=100, gap=10))
    assert float(root.get("width")) == 3 * 100 + 4 * 10 and float(root.get("height")) == 2 * 100 + 3 * 10
    cells = [element for element in root if element.tag == f"{SVG_NS}svg"]
    assert len(cells) == len(drawings)
    assert len(paths(root)) == len(HOUSE) + len(PRIME) + len(ENDING) + 2
    for cell, drawing in zip(cells, [HOUSE, PRIME + ENDING, tiny, [stroke * 100 for stroke in tiny]]):
        assert_inside(np.concatenate(drawing), view_box(cell))
    assert view_box(cells[3])[2] == pytest.approx(100 * view_box(cells[2])[2], rel=1e-3)  # fitted separately
    assert float(cells[1].get("x")) == 120 and float(cells[3].get("y")) == 120


def test_grid_tells_completion_pairs_from_two_stroke_drawings_and_applies_colors():
    two_strokes = (HOUSE[0], HOUSE[1])  # a tuple of two strokes is a drawing
    root = parse(grid_svg([two_strokes, (PRIME, ENDING)], colors=["blue", "#0f0"]))
    first, second = (element for element in root if element.tag == f"{SVG_NS}svg")
    assert {color: len(found) for color, found in groups_by_color(first).items()} == {"blue": 2}
    assert {color: len(found) for color, found in groups_by_color(second).items()} == {
        svg.DEFAULT_COLOR: len(PRIME),
        "#0f0": len(ENDING),
    }


def test_grid_animates_every_cell_from_zero_and_is_deterministic():
    text = grid_svg([HOUSE, (PRIME, ENDING)], animate=True)
    assert text == grid_svg([HOUSE, (PRIME, ENDING)], animate=True)
    root = parse(text)
    first, second = (element for element in root if element.tag == f"{SVG_NS}svg")
    assert seconds(animation_of(paths(first)[0]).get("begin")) == 0
    assert seconds(animation_of(groups_by_color(second)[svg.DEFAULT_ENDING_COLOR][0]).get("begin")) == 0


# ----------------------------------------------------------------------------------------------
# Redrawings, interpolation strips and animated morphs


def cells_of(root: ElementTree.Element) -> list[ElementTree.Element]:
    return [element for element in root if element.tag == f"{SVG_NS}svg"]


def test_redrawings_and_interpolations_are_rows_with_the_person_dark_and_the_model_red():
    row = parse(svg.redrawings_svg(HOUSE, [PRIME, ENDING]))
    assert len(cells_of(row)) == 3 and float(row.get("height")) == 160 + 2 * 8
    assert [list(groups_by_color(cell)) for cell in cells_of(row)] == [
        [svg.DEFAULT_COLOR], [svg.DEFAULT_ENDING_COLOR], [svg.DEFAULT_ENDING_COLOR]]
    strip = parse(svg.interpolation_svg(HOUSE, [PRIME, [], ENDING], PRIME, cell_size=100))
    assert len(cells_of(strip)) == 5 and float(strip.get("width")) == 5 * 100 + 6 * 8
    colors = [list(groups_by_color(cell)) for cell in cells_of(strip)]
    assert colors[0] == colors[-1] == [svg.DEFAULT_COLOR] and colors[1] == [svg.DEFAULT_ENDING_COLOR]


def frame_groups(root: ElementTree.Element) -> list[ElementTree.Element]:
    return [element for element in root if element.tag == f"{SVG_NS}g"]


def visible_at(group: ElementTree.Element, fraction: float) -> bool:
    """Whether a morph frame shows at ``fraction`` of the cycle, read from its discrete <animate>."""
    (animation,) = group.iter(f"{SVG_NS}animate")
    key_times = [float(value) for value in animation.get("keyTimes").split(";")]
    values = animation.get("values").split(";")
    return values[max(index for index, time in enumerate(key_times) if time <= fraction)] == "visible"


def test_morph_shows_one_frame_at_a_time_forwards_then_back_for_ever():
    frames = [[stroke + shift for stroke in HOUSE] for shift in (0.0, 5.0, 10.0, 15.0)]
    root = parse(svg.morph_svg(frames, frame_seconds=0.5, hold_seconds=1.0))
    groups = frame_groups(root)
    assert len(groups) == 4 and not list(root.iter(f"{SVG_NS}script"))
    animations = [next(group.iter(f"{SVG_NS}animate")) for group in groups]
    assert {a.get("dur") for a in animations} == {"4s"}  # hold 1, 0.5, 0.5, hold 1, then 0.5, 0.5 back
    assert all(a.get("attributeName") == "visibility" and a.get("calcMode") == "discrete"
               and a.get("repeatCount") == "indefinite" for a in animations)
    shown = []
    for tenth in range(40):  # every 0.1 s of the cycle: exactly one frame shows
        showing = [index for index, group in enumerate(groups) if visible_at(group, (tenth + 0.5) / 40)]
        assert len(showing) == 1
        if not shown or shown[-1] != showing[0]:
            shown.append(showing[0])
    assert shown == [0, 1, 2, 3, 2, 1]


def test_morph_frames_share_one_frame_and_without_smil_the_first_shows():
    frames = [HOUSE, [stroke * 3 for stroke in HOUSE]]
    text = svg.morph_svg(frames)
    assert text == svg.morph_svg(frames)
    root = parse(text)
    assert_inside(np.concatenate(frames[1]), view_box(root))
    first, second = frame_groups(root)
    assert first.get("visibility") is None and second.get("visibility") == "hidden"
    assert len(paths(first)) == len(paths(second)) == len(HOUSE)
    (alone,) = frame_groups(parse(svg.morph_svg([HOUSE])))
    assert list(alone.iter(f"{SVG_NS}animate")) == []


# ----------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    "polylines",
    [
        [[[0.0, 0.0], [np.nan, 1.0]]],
        [[[0.0, 0.0], [np.inf, 1.0]]],
        [np.zeros((3, 3))],  # wrong shape
        [np.zeros(4)],  # 1-D stroke
        np.zeros((5, 2)),  # one stroke instead of a list of strokes
        [[[0, 0], [1]]],  # ragged
        [[["a", "b"]]],  # text
        [[[0, None]]],
        [np.array([[True, False]])],
        "M0,0 L1,1",
        5,
        [[[0.0, 2e9]]],  # beyond MAX_COORDINATE
    ],
)
def test_bad_polylines_raise_value_error(polylines):
    with pytest.raises(ValueError, match="drawing|stroke"):
        drawing_svg(polylines)


@pytest.mark.parametrize("color", ["#12", "#1234567", "rebeccapurple", "red; fill:url(#x)", '"/><script>', 123, None])
def test_bad_colours_raise_value_error(color):
    with pytest.raises(ValueError, match="color"):
        drawing_svg(HOUSE, color=color)
    with pytest.raises(ValueError, match="ending_color"):
        completion_svg(PRIME, ENDING, ending_color=color)


@pytest.mark.parametrize(
    "options",
    [
        {"stroke_width": 0},
        {"stroke_width": -1},
        {"stroke_width": float("nan")},
        {"stroke_width": float("inf")},
        {"stroke_width": True},
        {"stroke_width": "2"},
        {"stroke_width": 100, "size": 256},  # more than a quarter of the picture
        {"size": 0},
        {"margin": -0.1},
        {"margin": 0.5},
        {"duration": 0},
        {"background": "url(#x)"},
    ],
)
def test_bad_options_raise_value_error(options):
    with pytest.raises(ValueError):
        drawing_svg(HOUSE, **options)


@pytest.mark.parametrize(
    "call",
    [
        lambda: grid_svg([]),
        lambda: grid_svg([HOUSE], columns=0),
        lambda: grid_svg([HOUSE], columns=1.5),
        lambda: grid_svg([HOUSE, HOUSE], colors=["red"]),
        lambda: grid_svg([HOUSE], colors=["nope"]),
        lambda: grid_svg([HOUSE, ([[[0, np.nan]]], ENDING)]),
        lambda: grid_svg([HOUSE], gap=-1),
        lambda: completion_svg(PRIME, [[[0, 0, 0]]]),
        lambda: stroke3_svg(np.zeros((4, 5))),
        lambda: stroke3_svg([[0, 0, 0], [np.nan, 1, 1]]),
        lambda: save_svg(b"<svg/>", "x.svg"),
        lambda: svg.morph_svg([]),
        lambda: svg.morph_svg([HOUSE, [[[0, np.nan]]]]),
        lambda: svg.morph_svg([HOUSE], frame_seconds=0),
        lambda: svg.morph_svg([HOUSE], hold_seconds=math.inf),
    ],
)
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


# ----------------------------------------------------------------------------------------------
# save_svg


def test_save_svg_writes_atomically(tmp_path):
    text = drawing_svg(HOUSE)
    target = tmp_path / "house.svg"
    target.write_text("old contents")
    assert save_svg(text, str(target)) == target
    assert target.read_text(encoding="utf-8") == text
    assert sorted(path.name for path in tmp_path.iterdir()) == ["house.svg"]


def test_save_svg_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "house.svg"
    target.write_text("old contents")

    def failing_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        save_svg(drawing_svg(HOUSE), target)
    assert target.read_text() == "old contents"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["house.svg"]


def make_fifo(folder):
    os.mkfifo(folder / "pipe")
    return folder / "pipe"


def make_link(folder):
    (folder / "real.svg").write_text("real contents")
    (folder / "link.svg").symlink_to(folder / "real.svg")
    return folder / "link.svg"


def make_device(folder):
    """A character device like /dev/null, made in ``folder`` (never the real /dev: a bug must not break the machine)."""
    try:
        os.mknod(folder / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root (CAP_MKNOD)")
    return folder / "null"


def make_folder(folder):
    (folder / "folder.svg").mkdir()
    return folder / "folder.svg"


@pytest.mark.parametrize("make_target, message", [
    (make_fifo, "is a FIFO (named pipe), not a regular file"),
    (make_link, "is a symbolic link, not a regular file"),
    (make_folder, "is a folder, not a regular file"),
    (make_device, "is a character device, not a regular file"),
    (lambda folder: folder / "missing" / "x.svg", "does not exist"),
    (lambda folder: folder / "real.svg" / "x.svg", "not a folder"),
])
def test_save_svg_never_replaces_what_is_not_a_regular_file(tmp_path, make_target, message):
    (tmp_path / "real.svg").write_text("real contents")
    target = make_target(tmp_path)
    kind_before = os.lstat(target).st_mode if os.path.lexists(target) else None
    with pytest.raises(ValueError, match=re.escape(message)):
        save_svg(drawing_svg(HOUSE), target)
    assert (os.lstat(target).st_mode if os.path.lexists(target) else None) == kind_before
    assert (tmp_path / "real.svg").read_text() == "real contents"
    assert not [path for path in tmp_path.iterdir() if path.name.endswith(".tmp")]


def test_svg_module_does_not_import_tensorflow():
    code = "import sys, sketchrnn.svg; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ----------------------------------------------------------------------------------------------
# Property: any valid drawing renders, round-trips and is contained


coordinate = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
stroke_strategy = st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=8).map(np.array)
scale = st.sampled_from([1e-3, 0.1, 1.0, 50.0])


@settings(max_examples=60, deadline=None)
@given(st.lists(stroke_strategy, min_size=1, max_size=5), scale, st.booleans())
@example([np.array([(0.0, 0.0), (0.0, 2.814619654303167e-303)])], 1e-3, False)  # a subnormal span (was OverflowError)
@example([np.array([(1.0, 0.0), (1.0, 2.225073858507e-311)])], 1e-3, False)  # x on a rounding step: was 0 wide
def test_property_any_drawing_round_trips_inside_its_view_box(polylines, factor, animate):
    polylines = [stroke * factor for stroke in polylines]
    text = drawing_svg(polylines, animate=animate)
    assert text == drawing_svg(polylines, animate=animate)
    root = parse(text)
    assert_round_trip(text, polylines)
    for stroke in polylines:
        assert_inside(stroke, view_box(root))
