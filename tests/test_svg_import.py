"""`sketchrnn data import` (issue 35): SVG line art and the CLI's JSON drawings become a Sketch-RNN .npz.

Every SVG here is written by the test. Geometry is checked in the file's own units (``svg_polylines``),
the preprocessing on its own (``preprocess``), then whole imports, hostile files and the command line.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
import tracemalloc
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import defusedxml
import defusedxml.ElementTree
import numpy as np
import pytest

from sketchrnn import cli, data, strokes, svg
from sketchrnn.data import svg_import
from sketchrnn.data.svg_import import Skip, preprocess, svg_polylines

MIB = 1 << 20


def svg_text(body: str, root: str = 'viewBox="0 0 100 100"') -> str:
    """An SVG document whose shapes are stroked black unless they say otherwise (as an icon set's root does)."""
    return f'<svg xmlns="http://www.w3.org/2000/svg" {root} fill="none" stroke="black" stroke-width="2">{body}</svg>'


def lines_of(body: str, root: str = 'viewBox="0 0 100 100"') -> list[np.ndarray]:
    return svg_polylines(svg_text(body, root).encode())


def skip_reason(content: str | bytes) -> str:
    with pytest.raises(Skip) as refused:
        svg_polylines(content.encode() if isinstance(content, str) else content)
    assert "\n" not in refused.value.detail
    return refused.value.reason


def close_points(first, second, tolerance: float = 1e-6) -> bool:
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    return first.shape == second.shape and np.allclose(first, second, atol=tolerance)


def squares(folder: Path, count: int, first: int = 0) -> list[Path]:
    """``count`` small distinct SVG drawings (rectangles with a diagonal, 20 high, from 20 + ``first`` wide)."""
    paths = []
    for index in range(first, first + count):
        size = 20 + index
        path = folder / f"square{index:03d}.svg"
        path.write_text(svg_text(f'<rect x="5" y="5" width="{size}" height="20"/><line x1="5" y1="5" x2="{5 + size}" '
                                 f'y2="25"/>', 'viewBox="0 0 200 100"'))
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------------------------
# Paths: every command, absolute and relative


def test_lines_absolute_and_relative_are_the_same_polyline():
    absolute = lines_of('<path d="M10 10 H50 V50 L10 50 Z"/>')
    relative = lines_of('<path d="m10 10 h40 v40 l-40 0 z"/>')
    expected = [[10, 10], [50, 10], [50, 50], [10, 50], [10, 10]]
    assert len(absolute) == len(relative) == 1
    assert close_points(absolute[0], expected) and close_points(relative[0], expected)


def test_each_move_starts_a_stroke_and_a_drawing_after_close_goes_on_from_the_start():
    moves = lines_of('<path d="M0 0 L10 0 M0 10 L10 10 m0 10 l-10 0"/>')
    assert [line.tolist() for line in moves] == [[[0, 0], [10, 0]], [[0, 10], [10, 10]], [[10, 20], [0, 20]]]
    after_close = lines_of('<path d="M0 0 L10 10 Z l 5 0"/>')
    assert [line.tolist() for line in after_close] == [[[0, 0], [10, 10], [0, 0], [5, 0]]]


@pytest.mark.parametrize("absolute, relative", [
    ("M0 0 C0 50 50 50 50 0", "M0 0 c0 50 50 50 50 0"),
    ("M0 0 Q50 100 100 0", "M0 0 q50 100 100 0"),
    ("M0 0 C0 50 50 50 50 0 S100 -50 100 0", "M0 0 c0 50 50 50 50 0 s50 -50 50 0"),
    ("M0 0 Q25 50 50 0 T100 0", "M0 0 q25 50 50 0 t50 0"),
])
def test_curves_absolute_and_relative_agree(absolute, relative):
    assert close_points(lines_of(f'<path d="{absolute}"/>')[0], lines_of(f'<path d="{relative}"/>')[0])


def test_smooth_curves_reflect_the_previous_control_point():
    smooth = lines_of('<path d="M0 0 C0 50 50 50 50 0 S100 -50 100 0"/>')[0]
    explicit = lines_of('<path d="M0 0 C0 50 50 50 50 0 C50 -50 100 -50 100 0"/>')[0]
    assert close_points(smooth, explicit)
    smooth_quadratic = lines_of('<path d="M0 0 Q25 50 50 0 T100 0"/>')[0]
    explicit_quadratic = lines_of('<path d="M0 0 Q25 50 50 0 Q75 -50 100 0"/>')[0]
    assert close_points(smooth_quadratic, explicit_quadratic)


def test_curves_are_flattened_onto_the_curve():
    quadratic = lines_of('<path d="M0 0 Q50 100 100 0"/>')[0]
    t = np.linspace(0, 1, 201)
    exact = np.column_stack([2 * (1 - t) * t * 50 + t**2 * 100, 2 * (1 - t) * t * 100])
    distances = np.min(np.hypot(*(quadratic[:, None, :] - exact[None, :, :]).transpose(2, 0, 1)), axis=1)
    assert distances.max() < 0.5 and quadratic.max(axis=0)[1] == pytest.approx(50, abs=0.1)
    assert close_points(quadratic[[0, -1]], [[0, 0], [100, 0]])


@pytest.mark.parametrize("command", ["A50 50 0 0 1 100 50", "a50 50 0 0 1 100 0"])
def test_arcs_lie_on_their_circle_and_follow_the_sweep_flag(command):
    over = lines_of(f'<path d="M0 50 {command}"/>')[0]
    assert np.allclose(np.hypot(over[:, 0] - 50, over[:, 1] - 50), 50, atol=1e-6)
    assert over[:, 1].min() == pytest.approx(0, abs=0.1)  # sweep 1 (clockwise on screen): over the top
    under = lines_of(f'<path d="M0 50 {command.replace("0 0 1", "0 0 0")}"/>')[0]
    assert under[:, 1].max() == pytest.approx(100, abs=0.1)
    assert close_points(over[[0, -1]], [[0, 50], [100, 50]])


def test_large_arc_flag_takes_the_long_way_round():
    short = lines_of('<path d="M50 0 A50 50 0 0 1 100 50"/>')[0]
    long = lines_of('<path d="M50 0 A50 50 0 1 0 100 50"/>')[0]
    length = [np.hypot(*np.diff(line, axis=0).T).sum() for line in (short, long)]
    assert length[0] == pytest.approx(np.pi * 25, rel=1e-3) and length[1] == pytest.approx(np.pi * 75, rel=1e-3)


# ----------------------------------------------------------------------------------------------
# Shapes


def test_line_polyline_and_polygon():
    line, polyline, polygon = lines_of('<line x1="1" y1="2" x2="30" y2="40"/><polyline points="0,0 10,0 10,10"/>'
                                       '<polygon points="0 0 10 0 10 10"/>')
    assert close_points(line, [[1, 2], [30, 40]])
    assert close_points(polyline, [[0, 0], [10, 0], [10, 10]])
    assert close_points(polygon, [[0, 0], [10, 0], [10, 10], [0, 0]])  # a polygon closes


def test_rect_plain_and_rounded():
    (plain,) = lines_of('<rect x="10" y="20" width="30" height="40"/>')
    corners = {tuple(point) for point in plain.round(6).tolist()}
    assert corners == {(10, 20), (40, 20), (40, 60), (10, 60)} and close_points(plain[0], plain[-1])
    (rounded,) = lines_of('<rect x="10" y="20" width="30" height="40" rx="5" ry="8"/>')
    assert close_points(rounded.min(axis=0), [10, 20]) and close_points(rounded.max(axis=0), [40, 60])
    assert not any(tuple(point) in corners for point in rounded.round(6).tolist())  # the corners are cut round
    top_left = rounded[(rounded[:, 0] < 15) & (rounded[:, 1] < 28)]
    assert np.allclose(((top_left[:, 0] - 15) / 5) ** 2 + ((top_left[:, 1] - 28) / 8) ** 2, 1, atol=1e-6)


def test_circle_and_ellipse():
    circle, ellipse = lines_of('<circle cx="50" cy="40" r="30"/><ellipse cx="20" cy="30" rx="15" ry="5"/>')
    assert np.allclose(np.hypot(circle[:, 0] - 50, circle[:, 1] - 40), 30, atol=1e-6)
    assert np.allclose(((ellipse[:, 0] - 20) / 15) ** 2 + ((ellipse[:, 1] - 30) / 5) ** 2, 1, atol=1e-6)
    assert close_points(circle[0], circle[-1]) and len(circle) > 40  # closed, and round enough


# ----------------------------------------------------------------------------------------------
# Transforms, groups, viewBox, styles


@pytest.mark.parametrize("transform, expected", [
    ("translate(10,20)", [[10, 20], [20, 20]]),
    ("scale(2 3)", [[0, 0], [20, 0]]),
    ("rotate(90)", [[0, 0], [0, 10]]),
    ("rotate(90 5 5)", [[10, 0], [10, 10]]),
    ("skewY(45)", [[0, 0], [10, 10]]),
    ("matrix(1 0 0 1 5 7)", [[5, 7], [15, 7]]),
])
def test_transforms_on_a_shape(transform, expected):
    (line,) = lines_of(f'<line x1="0" y1="0" x2="10" y2="0" transform="{transform}"/>')
    assert close_points(line, expected)


def test_skew_x_and_nested_groups_compose():
    (skewed,) = lines_of('<line x1="0" y1="0" x2="0" y2="10" transform="skewX(45)"/>')
    assert close_points(skewed, [[0, 0], [10, 10]])
    (nested,) = lines_of('<g transform="translate(10,20)"><g transform="scale(2)"><line x1="0" y1="0" x2="10" y2="0" '
                         'transform="translate(1,0)"/></g></g>')
    assert close_points(nested, [[12, 20], [32, 20]])


def test_view_box_maps_to_the_viewport():
    (line,) = lines_of('<line x1="10" y1="10" x2="20" y2="10"/>', 'viewBox="10 10 10 10" width="100" height="100"')
    assert close_points(line, [[0, 0], [100, 0]])


def test_preprocessing_ignores_placement_and_scale():
    plain = preprocess(lines_of('<path d="M0 0 C30 60 60 60 90 0 M10 40 L80 40"/>'))
    moved = preprocess(lines_of('<g transform="translate(500 -40) scale(3)"><path d="M0 0 C30 60 60 60 90 0 M10 40 L80 40"/>'
                                '</g>', 'viewBox="0 0 10 10" width="400"'))
    assert np.array_equal(plain, moved)


def test_only_visible_strokes_are_drawn():
    hidden = ('<g stroke="none"><path d="M0 0 L90 90"/></g><path d="M0 0 L90 0" stroke-width="0"/>'
              '<path d="M0 0 L0 90" visibility="hidden"/><path d="M0 0 L50 90" display="none"/>'
              '<path d="M0 0 L90 50" stroke-opacity="0"/><path d="M0 0 L90 90" fill="black" stroke="none"/>')
    assert skip_reason(svg_text(hidden)) == "no strokes"
    (shown,) = lines_of(hidden + '<path d="M0 0 L3 3"/>')
    assert close_points(shown, [[0, 0], [3, 3]])
    (styled,) = lines_of('<style>.off { stroke: none } .on { stroke: red }</style><path class="off" d="M0 0 L90 90"/>'
                         '<path class="on" d="M0 0 L4 4" stroke="none"/>')  # CSS wins over the attribute
    assert close_points(styled, [[0, 0], [4, 4]])


def test_a_filled_icon_has_no_strokes_but_an_outline_icon_does():
    filled = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="currentColor"><path d="M0 0h24v24H0z"/></svg>'
    assert skip_reason(filled) == "no strokes"


# ----------------------------------------------------------------------------------------------
# Quick, Draw!'s preprocessing


def test_preprocess_aligns_scales_resamples_and_simplifies():
    drawing = preprocess([np.array([[10.0, 10.0], [30.0, 10.0], [30.0, 20.0]]), np.array([[12.0, 12.0], [12.0, 18.0]])])
    assert drawing.dtype == np.int16 and drawing.shape[1] == 3
    points = np.cumsum(drawing[:, :2], axis=0)
    assert np.array_equal(points.min(axis=0), [0, 0]) and points.max() == 255  # top-left, larger side 255
    assert [len(line) for line in strokes.stroke3_to_polylines(drawing)] == [3, 2]  # straight runs: their ends
    assert np.array_equal(drawing[0], [0, 0, 0])  # as the ndjson reader: the first point is the origin


def test_resampling_spaces_points_one_pixel_apart_and_rdp_keeps_curves_within_epsilon():
    (resampled,) = svg_import.resample_polylines([np.array([[0.0, 0.0], [10.5, 0.0], [10.5, 3.0]])])
    arc_length = np.where(resampled[:, 1] == 0, resampled[:, 0], 10.5 + resampled[:, 1])  # along the two legs
    assert np.allclose(np.diff(arc_length)[:-1], 1.0) and 0 < np.diff(arc_length)[-1] <= 1.0  # 1 px along the stroke
    assert len(resampled) == 15 and close_points(resampled[[0, -1]], [[0, 0], [10.5, 3.0]])
    assert np.all((resampled[:, 1] == 0) | (resampled[:, 0] == 10.5))  # every point on the stroke
    circle = lines_of('<circle cx="50" cy="50" r="50"/>')
    drawing = preprocess(circle)
    (points,) = strokes.stroke3_to_polylines(drawing)
    points = points - points.min(axis=0)  # stroke-3 starts at the origin; the frame is the bounding box
    assert 12 <= len(points) <= 40  # a circle of radius 127.5 px simplified at epsilon 2
    assert np.abs(np.hypot(*(points - 127.5).T) - 127.5).max() < 2.0 + 1.0  # epsilon plus rounding


def test_a_dot_is_kept_and_a_drawing_without_extent_is_refused():
    drawing = preprocess([np.array([[0.0, 0.0], [100.0, 0.0]]), np.array([[50.0, 20.0]])])
    assert len(strokes.stroke3_to_polylines(drawing)) == 2
    with pytest.raises(Skip, match="one place"):
        preprocess([np.array([[3.0, 3.0], [3.0, 3.0]])])


# ----------------------------------------------------------------------------------------------
# Round trip: the project's own SVG exports come back as the same strokes


def hausdorff(first: np.ndarray, second: np.ndarray) -> float:
    """The largest distance from a point of either polyline to the other polyline (its segments)."""

    def one_way(points, line):
        if len(line) == 1:
            return float(np.hypot(*(points - line[0]).T).max())
        start, end = line[:-1], line[1:]
        direction = end - start
        length = np.maximum((direction**2).sum(axis=1), 1e-12)
        t = np.clip(((points[:, None, :] - start[None]) * direction[None]).sum(axis=2) / length, 0, 1)
        nearest = start[None] + t[..., None] * direction[None]
        return float(np.hypot(*(points[:, None, :] - nearest).transpose(2, 0, 1)).min(axis=1).max())

    return max(one_way(first, second), one_way(second, first))


def test_round_trip_through_the_project_svg_export(shared_data):
    drawings = data.load_npz_safely(shared_data / "quickdraw_sketchrnn_pig_2200.npz", ["sketches"])["sketches"][:25]
    worst = 0.0
    for index, stroke3 in enumerate(drawings):
        polylines = strokes.stroke3_to_polylines(stroke3)
        exports = [svg.drawing_svg(polylines), svg.drawing_svg(polylines, animate=True),
                   svg.completion_svg(polylines[:1], polylines[1:])]
        direct = strokes.stroke3_to_polylines(preprocess(polylines))
        for exported in exports:
            imported = strokes.stroke3_to_polylines(preprocess(svg_polylines(exported.encode())))
            assert len(imported) == len(direct), f"drawing {index}"
            worst = max(worst, *(hausdorff(a.astype(float), b.astype(float)) for a, b in zip(imported, direct)))
    assert worst <= 1.0


# ----------------------------------------------------------------------------------------------
# Whole imports: files, folders, archives, JSON drawings; the split; the card


def test_import_folder_writes_a_dataset_training_reads(tmp_path):
    folder = tmp_path / "art"
    (folder / "sub").mkdir(parents=True)
    squares(folder, 30)
    squares(folder / "sub", 10, first=30)
    (folder / "notes.txt").write_text("not a drawing")
    result = svg_import.import_drawings([folder], tmp_path / "boxes.npz", seed=3)
    assert result.imported == 40 and not result.skipped and result.sources[0].ignored == 1
    dataset = data.load_dataset([str(tmp_path / "boxes.npz")])
    assert dataset.categories == ["boxes"]
    assert {name: len(split) for name, split in dataset.splits.items()} == {"train": 36, "valid": 2, "test": 2}
    card = (tmp_path / "boxes.card.md").read_text()
    assert "40 drawings" in card and "Nothing was skipped" in card and "| train | 36 |" in card
    assert sorted(path.name for path in tmp_path.iterdir()) == ["art", "boxes.card.md", "boxes.npz"]  # no temporary left


def test_split_is_seeded_and_does_not_depend_on_the_order_of_sources(tmp_path):
    paths = squares(tmp_path, 40)
    first = svg_import.import_drawings(paths, tmp_path / "a.npz", seed=1)
    again = svg_import.import_drawings(list(reversed(paths)), tmp_path / "a.npz", seed=1)
    other = svg_import.import_drawings(paths, tmp_path / "a.npz", seed=2)

    def test_split(result):
        return sorted(drawing.tobytes() for drawing in result.splits["test"])

    assert test_split(first) == test_split(again) != test_split(other)


def test_archives_json_and_ndjson_drawings(tmp_path):
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w:gz") as archive:
        for path in squares(tmp_path, 4):
            archive.add(path, arcname=f"package/icons/{path.name}")
        readme = tarfile.TarInfo("package/README.md")
        readme.size = 5
        archive.addfile(readme, io.BytesIO(b"hello"))
    (tmp_path / "icons.tgz").write_bytes(stream.getvalue())
    (tmp_path / "canvas.json").write_text(json.dumps([[[10, 10], [200, 40], [300, 300]], [[50, 60]]]))
    record = {"word": "cat", "drawing": [[[0, 100, 100], [0, 0, 100]]]}
    lines = [json.dumps(record), "", json.dumps([[[0, 0], [5, 9]]]), '{"drawing": "nope"}', "[[[NaN, 1], [2, 2]]]"]
    (tmp_path / "saved.ndjson").write_text("\n".join(lines))
    result = svg_import.import_drawings([tmp_path / "icons.tgz", tmp_path / "canvas.json", tmp_path / "saved.ndjson"],
                                        tmp_path / "mixed.npz")
    assert [(count.imported, count.skipped, count.ignored) for count in result.sources] == [(4, 0, 1), (1, 0, 0), (2, 2, 0)]
    assert {item.name.rsplit(":", 1)[-1]: item.reason for item in result.skipped} == {
        "line 4": "not a drawing", "line 5": "not a drawing"}
    dataset = data.load_dataset([str(tmp_path / "mixed.npz")])
    assert sum(len(split) for split in dataset.splits.values()) == 7


def test_worker_processes_give_the_same_dataset_and_card(tmp_path, monkeypatch):
    monkeypatch.setattr(svg_import, "WORKERS_AFTER", 8)  # the files after the 8th go to the workers
    paths = squares(tmp_path, 40)
    (tmp_path / "text.svg").write_text(svg_text("<text>hi</text>"))
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    alone = svg_import.import_drawings([*paths, tmp_path / "text.svg"], tmp_path / "one" / "boxes.npz", jobs=1)
    workers = svg_import.import_drawings([*paths, tmp_path / "text.svg"], tmp_path / "two" / "boxes.npz", jobs=2)
    assert (tmp_path / "one" / "boxes.card.md").read_text().replace("/one/", "/") == \
        (tmp_path / "two" / "boxes.card.md").read_text().replace("/two/", "/")
    for name in ("train", "valid", "test"):
        assert [d.tolist() for d in alone.splits[name]] == [d.tolist() for d in workers.splits[name]]
    assert [item.reason for item in workers.skipped] == ["refused element"]


def test_duplicates_are_imported_once_and_listed(tmp_path):
    paths = squares(tmp_path, 5)
    (tmp_path / "copy.svg").write_bytes(paths[0].read_bytes())
    result = svg_import.import_drawings([*paths, tmp_path / "copy.svg"], tmp_path / "d.npz")
    assert result.imported == 5 and [(item.reason, item.detail.endswith("square000.svg")) for item in result.skipped] == [
        ("duplicate", True)]


def test_too_long_drawings_are_left_out_after_the_split(tmp_path):
    paths = squares(tmp_path, 40)
    zigzag = " ".join(f"L{x} {(x % 2) * 50}" for x in range(0, 300, 3))
    (tmp_path / "zigzag.svg").write_text(svg_text(f'<path d="M0 0 {zigzag}"/>', 'viewBox="0 0 300 50"'))
    result = svg_import.import_drawings([*paths, tmp_path / "zigzag.svg"], tmp_path / "z.npz", max_length=50)
    assert [item.reason for item in result.skipped] == ["too long"] and result.imported == 40
    assert "### too long: 1" in result.card_path.read_text()


def test_bad_options_are_refused_before_anything_is_written(tmp_path):
    paths = squares(tmp_path, 3)
    with pytest.raises(ValueError, match="name the output cat.npz"):
        svg_import.import_drawings(paths, tmp_path / "icons.npz", category="cat")
    with pytest.raises(ValueError, match="CATEGORY.npz"):
        svg_import.import_drawings(paths, tmp_path / "icons.ndjson")
    with pytest.raises(ValueError, match="no such file"):
        svg_import.import_drawings([tmp_path / "missing.svg"], tmp_path / "icons.npz")
    with pytest.raises(ValueError, match="at least 3"):
        svg_import.import_drawings(paths[:2], tmp_path / "icons.npz")
    assert not list(tmp_path.glob("icons*"))
    assert svg_import.import_drawings(paths, tmp_path / "icons.npz", category="icons").category == "icons"


# ----------------------------------------------------------------------------------------------
# Hostile SVG: refused with a one-line reason, never followed, in bounded memory

def entity_bomb(levels: int) -> str:
    """"Billion laughs": each entity is ten of the one before; ``levels`` 9 expands to 10**9 "lol"s."""
    entities = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">'
                                                 for level in range(1, levels + 1))
    return (f'<?xml version="1.0"?><!DOCTYPE svg [{entities}]>'
            f'<svg xmlns="http://www.w3.org/2000/svg"><desc>&lol{levels};</desc></svg>')


BILLION_LAUGHS = entity_bomb(9)


def external_entity(target: Path) -> str:
    return (f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY secret SYSTEM "file://{target}">]>'
            f'<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0 L10 10 &secret;" stroke="black"/></svg>')


def test_defusedxml_really_refuses_bombs_entities_and_dtds(tmp_path):
    assert len("".join(ElementTree.fromstring(entity_bomb(3)).itertext())) == 3000  # the stdlib parser expands them
    with pytest.raises(defusedxml.EntitiesForbidden):
        defusedxml.ElementTree.fromstring(BILLION_LAUGHS)  # defusedxml's defaults already refuse it
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    for document in (BILLION_LAUGHS, external_entity(secret), '<!DOCTYPE svg SYSTEM "http://example.invalid/x.dtd"><svg/>'):
        with pytest.raises(defusedxml.DTDForbidden):
            defusedxml.ElementTree.fromstring(document, forbid_dtd=True)  # as the importer parses
    with pytest.raises((defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden)):
        defusedxml.ElementTree.fromstring(external_entity(secret))


HOSTILE_SVG = {
    "not_xml.svg": ("hello, I am not XML", "not XML"),
    "truncated.svg": ('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0', "not XML"),
    "html.svg": ("<html><body>hi</body></html>", "not SVG"),
    "laughs.svg": (BILLION_LAUGHS, "DTD or entities"),
    "dtd.svg": ('<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'
                + svg_text('<path d="M0 0 L10 10"/>'), "DTD or entities"),
    "nan.svg": (svg_text('<path d="M0 0 L nan 5 L 10 10"/>'), "bad coordinates"),
    "inf.svg": (svg_text('<line x1="0" y1="0" x2="Infinity" y2="10"/>'), "bad coordinates"),
    "huge.svg": (svg_text('<path d="M0 0 L1e308 1e308"/>'), "bad coordinates"),
    "overflow.svg": (svg_text('<path d="M0 0 L10 10" transform="scale(1e308) scale(1e308)"/>'), "bad coordinates"),
    "zero_viewbox.svg": (svg_text('<path d="M0 0 L10 10"/>', 'viewBox="0 0 0 0"'), "zero-size viewBox"),
    "zero_width.svg": (svg_text('<path d="M0 0 L10 10"/>', 'width="0" height="10"'), "zero-size viewBox"),
    "image.svg": (svg_text('<image href="file:///etc/passwd" width="10" height="10"/><path d="M0 0 L9 9"/>'), "refused element"),
    "script.svg": (svg_text('<script>alert(1)</script><path d="M0 0 L9 9"/>'), "refused element"),
    "text.svg": (svg_text('<text x="0" y="10">hi</text><path d="M0 0 L9 9"/>'), "refused element"),
    "use.svg": (svg_text('<path id="p" d="M0 0 L9 9"/><use href="#p"/><use href="other.svg#x"/>'), "refused element"),
    "foreign.svg": (svg_text('<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'),
                    "refused element"),
    "deep.svg": (svg_text("<g>" * 100 + '<path d="M0 0 L9 9"/>' + "</g>" * 100), "too complex"),
    "empty.svg": (svg_text(""), "no strokes"),
    "dot.svg": (svg_text('<path d="M5 5 L5 5"/>'), "no extent"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_SVG))
def test_each_hostile_svg_gets_its_reason(name):
    content, reason = HOSTILE_SVG[name]
    assert skip_reason(content) == reason


def test_external_entities_are_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("M 50 50 L 90 90")  # path data: if it were read, it would be drawn
    assert skip_reason(external_entity(secret)) == "DTD or entities"


def test_a_million_path_commands_are_refused_quickly():
    million = svg_text('<path d="M0 0' + " l1 1" * 1_000_000 + '"/>')
    started = time.perf_counter()
    assert skip_reason(million) == "too complex"
    assert time.perf_counter() - started < 20  # a counting pass, not a million svgelements segments


def test_curves_that_would_flatten_to_too_many_points_are_refused(monkeypatch):
    monkeypatch.setattr(svg_import, "MAX_POINTS", 50_000)  # the real limit is 1,000,000: the same refusal, 20 times sooner
    coil = svg_text('<path d="M0 0 ' + "A50 50 0 1 1 0 1 A50 50 0 1 1 0 0 " * 300 + '"/>')  # 600 turns, 100 points each
    assert skip_reason(coil) == "too complex"
    assert len(svg_polylines(svg_text('<path d="M0 0 ' + "A50 50 0 1 1 0 1 A50 50 0 1 1 0 0 " * 200 + '"/>').encode())[0]) \
        == 40_001  # 400 turns are fine


def special_files(folder: Path) -> None:
    """A 1 GB (sparse) SVG, a link to /dev/zero, a FIFO, a broken link and a link loop, all named .svg."""
    with open(folder / "gigabyte.svg", "wb") as handle:
        handle.truncate(1 << 30)
    os.symlink("/dev/zero", folder / "zero.svg")
    os.mkfifo(folder / "fifo.svg")
    os.symlink(folder / "nowhere.svg", folder / "broken.svg")
    os.symlink(folder / "loop_b.svg", folder / "loop_a.svg")
    os.symlink(folder / "loop_a.svg", folder / "loop_b.svg")


def hostile_archive(path: Path) -> None:
    """A .tgz with a link member, a member larger than the limit (zeros, compressing to ~9 kB) and a good icon."""
    with tarfile.open(path, "w:gz") as archive:
        link = tarfile.TarInfo("package/link.svg")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
        big = tarfile.TarInfo("package/big.svg")
        big.size = svg_import.MAX_FILE_BYTES + 1
        archive.addfile(big, io.BytesIO(bytes(big.size)))
        good = svg_text('<path d="M0 0 C30 60 60 60 90 0"/>').encode()
        icon = tarfile.TarInfo("package/good.svg")
        icon.size = len(good)
        archive.addfile(icon, io.BytesIO(good))


def test_hostile_folder_and_archive_are_skipped_and_counted_in_bounded_memory(tmp_path, capsys):
    folder = tmp_path / "hostile"
    folder.mkdir()
    for name, (content, _) in HOSTILE_SVG.items():
        (folder / name).write_text(content)
    special_files(folder)
    squares(folder, 5)
    hostile_archive(tmp_path / "hostile.tgz")
    out = tmp_path / "out" / "icons.npz"
    out.parent.mkdir()
    tracemalloc.start()
    try:
        status = cli.main(["data", "import", str(folder), str(tmp_path / "hostile.tgz"), "--out", str(out), "--jobs", "1"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    printed = capsys.readouterr()
    assert status == 0 and "Traceback" not in printed.err and "6 drawings" in printed.out
    assert peak < 200 * MIB  # the 1 GB file and /dev/zero are never read past the 8 MiB limit
    card = (out.parent / "icons.card.md").read_text()
    for name, (_, reason) in HOSTILE_SVG.items():
        assert f"`{folder / name}`" in card.split(f"### {reason}:")[1].split("###")[0], name
    unreadable = card.split("### unreadable:")[1].split("###")[0]
    for name in ("gigabyte.svg", "zero.svg", "fifo.svg", "broken.svg", "loop_a.svg", "package/link.svg", "package/big.svg"):
        assert name in unreadable, name
    assert "larger than 8,388,608 bytes" in unreadable and "character device" in unreadable
    assert sorted(path.name for path in out.parent.iterdir()) == ["icons.card.md", "icons.npz"]


def test_a_damaged_archive_keeps_what_was_read_before_the_damage(tmp_path):
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w:gz") as archive:
        for path in squares(tmp_path, 40):
            archive.add(path, arcname=path.name)
    (tmp_path / "cut.tgz").write_bytes(stream.getvalue()[: len(stream.getvalue()) * 3 // 4])
    result = svg_import.import_drawings([tmp_path / "cut.tgz"], tmp_path / "cut.npz")
    assert 10 <= result.imported < 40 and [item.reason for item in result.skipped] == ["unreadable"]
    assert "damaged or truncated archive" in result.skipped[0].detail


# ----------------------------------------------------------------------------------------------
# The command line


def test_cli_import_then_data_info(tmp_path, capsys):
    squares(tmp_path, 20)
    (tmp_path / "text.svg").write_text(svg_text('<text>hello</text>'))
    assert cli.main(["data", "import", str(tmp_path), "--out", str(tmp_path / "boxes.npz"), "--seed", "2"]) == 0
    printed = capsys.readouterr()
    assert "20 drawings" in printed.out and "skipped 1: 1 refused element" in printed.out
    assert "text.svg: refused: it contains a <text>" in printed.err
    assert cli.main(["data", "info", str(tmp_path / "boxes.npz")]) == 0
    assert "categories (1): boxes" in capsys.readouterr().out
    assert cli.main(["data", "import", str(tmp_path / "nothing_here"), "--out", str(tmp_path / "x.npz")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_a_model_card_credits_imported_line_art(tmp_path):
    from sketchrnn import export

    svg_import.import_drawings(squares(tmp_path, 5), tmp_path / "boxes.npz")
    imported = export.imported_sources([str(tmp_path / "boxes.npz"), "../shared/data/quickdraw_sketchrnn_pig_2200.npz"])
    assert imported == {"boxes.npz": [str(tmp_path / f"square{index:03d}.svg") for index in range(5)]}
    credit = export.data_credit({"data": [str(tmp_path / "boxes.npz")], "imported_from": imported})
    assert "imported with `sketchrnn data import` from `square000.svg`" in credit and "Quick, Draw!" not in credit
    both = export.data_credit({"data": [str(tmp_path / "boxes.npz"), "pig.npz"], "imported_from": imported})
    assert both.startswith("Quick, Draw! drawings (Google, CC BY 4.0) and line art imported")
    assert export.data_credit({"data": ["pig.npz"]}) == "Quick, Draw! drawings (Google, CC BY 4.0)"


def test_the_model_trained_on_imported_icons_samples_and_completes_on_the_command_line(tmp_path):
    """data/examples/icons, trained on the two icon sets as imported here, draws from nothing and finishes a
    drawing like any other model (the browser test draws on it in the demo)."""
    icons = Path(__file__).resolve().parents[1] / "data" / "examples" / "icons"
    frame = tmp_path / "frame.json"
    frame.write_text(json.dumps([[[100, 100], [300, 100], [300, 300]], [[150, 200], [250, 200]]]))
    assert cli.main(["sample", str(icons), "--n", "2", "--seed", "1", "--out", str(tmp_path / "sampled.svg")]) == 0
    assert cli.main(["complete", str(icons), "--input", str(frame), "--n", "2", "--seed", "1",
                     "--out", str(tmp_path / "completed.svg")]) == 0
    for name in ("sampled.svg", "completed.svg"):
        nested = ElementTree.parse(tmp_path / name).getroot().findall("{http://www.w3.org/2000/svg}svg")
        assert len(nested) == 2 and all(drawing.findall(".//{http://www.w3.org/2000/svg}path") for drawing in nested)
