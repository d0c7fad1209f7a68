"""The demo's event functions called directly, then the launched app driven over HTTP with gradio_client.

They run on the bundled models (data/models/), or on the model(s) in $SKETCHRNN_DEMO_MODEL_DIR; Redraw and
Morph run on a tiny VAE trained for the session (the `tiny_vae` fixture), whether or not one is bundled.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import dataclasses
import json
import math
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from sketchrnn import checkpoint, cli, demo, sample
from sketchrnn.canvas import DEFAULT_SIZE, StrokeCanvas, parse_strokes
from sketchrnn.sample import CANVAS_FILL, MAX_GUIDANCE, MAX_TRIES, MIN_ENDING_STEPS
from sketchrnn.drawing_settings import resolved
from sketchrnn.svg import DEFAULT_COLOR, DEFAULT_ENDING_COLOR, completion_svg

SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
SQUIGGLE = [[[100, 100], [140, 160], [180, 100], [220, 160]], [[120, 220], [200, 220]]]


def page_catalog(model_dir=None) -> dict:
    """The menu `demo.load_catalog` builds, without its warm-up: each program is compiled when a test first needs
    it. (The page compiles every model's batches and guesses at start, most in a background thread, which in a test
    process would take a core from the tests for a minute; the server tests run `app.py` with it.)"""
    return demo.build_catalog(demo.load_models(model_dir), demo.page_ranking(model_dir))


@pytest.fixture(scope="module")
def catalog():
    """Every bundled model, loaded once, as the demo's menu.

    The models are committed with the code: a loader that fails on them is a regression, so it fails
    the tests (it used to skip them, which hid exactly that).
    """
    return page_catalog(os.environ.get("SKETCHRNN_DEMO_MODEL_DIR"))


@pytest.fixture(scope="module")
def output_root(tmp_path_factory):
    return tmp_path_factory.mktemp("demo-output")


def first_label(catalog) -> str:
    return next(iter(catalog))


def complete(catalog, output_root, strokes=SQUIGGLE, temperature=0.4, endings=4, seed=0, label=None):
    """`demo.complete_drawing` with the defaults a person gets, not animated."""
    label = first_label(catalog) if label is None else label
    return demo.complete_drawing(
        strokes, label, temperature, endings, seed, False, catalog=catalog, output_root=output_root
    )


def inline_svgs(page_html: str) -> list[ElementTree.Element]:
    """Parse each inline <svg> of the endings HTML."""
    return [ElementTree.fromstring(text) for text in re.findall(r"<svg.*?</svg>", page_html, flags=re.S)]


def paths_by_color(svg_root: ElementTree.Element) -> dict[str, int]:
    """Number of <path> elements in each coloured group."""
    return {
        group.get("stroke"): len(group.findall(f"{SVG_NAMESPACE}path"))
        for group in svg_root.iter(f"{SVG_NAMESPACE}g")
        if group.get("stroke")
    }


def assert_endings(page_html: str, count: int, prime_strokes: int) -> None:
    """`count` SVGs, each with the person's strokes in one colour and the model's in another."""
    svgs = inline_svgs(page_html)
    assert len(svgs) == count
    for svg_root in svgs:
        paths = paths_by_color(svg_root)
        assert paths[DEFAULT_COLOR] == prime_strokes
        assert paths[DEFAULT_ENDING_COLOR] >= 1


# ----------------------------------------------------------------------------------------------
# The canvas value


def test_canvas_api_schema_is_an_array_of_strokes():
    canvas = StrokeCanvas(render=False)
    schema = canvas.api_info()
    assert schema["type"] == "array" and schema["items"]["items"]["type"] == "array"
    assert parse_strokes(canvas.example_payload()) == canvas.example_payload()
    assert canvas.preprocess(None) == []
    assert canvas.postprocess([np.array([[1, 2], [3, 4]])]) == [[[1.0, 2.0], [3.0, 4.0]]]


@pytest.mark.parametrize(
    "payload, message",
    [
        ("draw me a sheep", "list of strokes"),
        ({"strokes": []}, "list of strokes"),
        ([[[1, 2], "x"]], "pair of numbers"),
        ([[["1", 2], [3, 4]]], "must be numbers"),
        ([[[True, 2], [3, 4]]], "must be numbers"),
        ([[[math.nan, 2], [3, 4]]], "finite"),
        ([[[math.inf, 2], [3, 4]]], "finite"),
        ([[[[1, 2]], [[3, 4]]]], "pair of numbers"),
        ([[[1, 2, 3]]], "pair of numbers"),
        ([[[1.0, 2.0]] * 30_000], "too many points"),
        ([[[1.0, 2.0]]] * 2_001, r"too many strokes \(more than 2000\)"),
        ([[[1.0, None]]], r"missing coordinate \(null\)"),
        ([[[10**400, 2.0]]], "far too large"),
        ([[[-1e7, 2.0]]], "far too large"),
    ],
)
def test_parse_strokes_refuses_junk(payload, message):
    with pytest.raises(ValueError, match=message):
        parse_strokes(payload)


# ----------------------------------------------------------------------------------------------
# Event functions, called directly


def test_complete_gives_the_chosen_number_of_endings_and_files(catalog, output_root):
    page_html, files, status = complete(catalog, output_root, endings=3, seed=7)
    assert_endings(page_html, count=3, prime_strokes=len(SQUIGGLE))
    assert len(files) == 4 and files[-1].endswith("-all.svg")
    for path in files:
        assert ElementTree.parse(path).getroot().tag == f"{SVG_NAMESPACE}svg"
    assert "3 endings" in status


def labels_by_choosing(catalog) -> tuple[list[str], list[str]]:
    """Labels whose model chooses among tries (several categories), and labels whose model does not."""
    choosing = [label for label, choice in catalog.items() if demo.chooses(choice.model)]
    return choosing, [label for label in catalog if label not in choosing]


def test_a_model_of_several_categories_shows_the_endings_it_finds_most_like_the_category(catalog, output_root):
    """Complete and Draw something draw `tries` times as many and show those the model's own guess finds most
    like the category (which ones: tests/test_sample.py); the status says so. With one try (the default:
    `DEFAULT_TRIES`), or a one-category model, the first drawn are shown."""
    choosing, single = labels_by_choosing(catalog)
    if not choosing:
        pytest.skip("no model of several categories in the catalog")
    label = choosing[0]
    category = catalog[label].category
    chosen_page, _, status = demo.complete_drawing(SQUIGGLE, label, 0.4, 2, 5, False, 3, catalog=catalog,
                                                   output_root=output_root)
    assert f"Chosen from 6: those the model itself finds most like a {category}." in status
    _, _, status = demo.complete_drawing(SQUIGGLE, label, 0.4, 2, 5, False, catalog=catalog, output_root=output_root)
    assert ("Chosen from" in status) == (demo.DEFAULT_TRIES > 1)
    first_page, _, status = demo.complete_drawing(SQUIGGLE, label, 0.4, 2, 5, False, 1, catalog=catalog,
                                                  output_root=output_root)
    assert "Chosen from" not in status and len(inline_svgs(first_page)) == len(inline_svgs(chosen_page)) == 2
    assert first_page != chosen_page
    _, _, status = demo.draw_something(label, 0.4, 2, 5, False, 2, catalog=catalog, output_root=output_root)
    assert f"Chosen from 4: those the model itself finds most like a {category}." in status
    if single:
        _, _, status = demo.complete_drawing(SQUIGGLE, single[0], 0.4, 2, 5, False, 3, catalog=catalog,
                                             output_root=output_root)
        assert "Chosen from" not in status
    for tries in (0, 5, "many"):
        with pytest.raises(gr.Error, match="tries per drawing"):
            demo.complete_drawing(SQUIGGLE, label, 0.4, 2, 5, False, tries, catalog=catalog, output_root=output_root)


def test_a_model_of_several_categories_guides_its_endings(catalog, output_root):
    """Complete and Draw something guide each step (what guidance does: tests/test_sample.py): 0 draws without it,
    a one-category model is the same either way, and a guidance outside the slider's range gets a message."""
    choosing, single = labels_by_choosing(catalog)
    if not choosing:
        pytest.skip("no model of several categories in the catalog")
    assert demo.DEFAULT_GUIDANCE > 0
    label = choosing[0]
    for function, arguments in ((demo.complete_drawing, (SQUIGGLE, label)), (demo.draw_something, (label,))):
        guided = function(*arguments, 0.4, 2, 5, False, 1, demo.DEFAULT_GUIDANCE, catalog=catalog,
                          output_root=output_root)[0]
        plain = function(*arguments, 0.4, 2, 5, False, 1, 0, catalog=catalog, output_root=output_root)[0]
        assert len(inline_svgs(guided)) == len(inline_svgs(plain)) == 2 and guided != plain
    if single:
        pages = [demo.complete_drawing(SQUIGGLE, single[0], 0.4, 2, 5, False, 1, guidance, catalog=catalog,
                                       output_root=output_root)[0] for guidance in (0, demo.DEFAULT_GUIDANCE)]
        assert pages[0] == pages[1]
    for guidance in (-1, MAX_GUIDANCE + 1, "strong"):
        with pytest.raises(gr.Error, match="guidance"):
            demo.complete_drawing(SQUIGGLE, label, 0.4, 2, 5, False, 1, guidance, catalog=catalog,
                                  output_root=output_root)


def slider_values(page: gr.Blocks) -> dict:
    """The values the built page's temperature, tries and guidance sliders start at."""
    return {block.elem_id: block.value for block in page.blocks.values()
            if getattr(block, "elem_id", None) in ("temperature", "tries", "guidance")}


def test_untouched_sliders_the_api_and_the_command_line_give_the_same_endings(catalog, output_root, tmp_path):
    """The page with untouched sliders, `sample.complete(model, strokes)` with no settings and `sketchrnn complete
    MODEL --input F` draw the same endings for the same drawing, canvas and seed: all three use the model's
    settings (for the menu's first choice, and for each label the menu moves the sliders to)."""
    first = demo.default_label(catalog)
    page = demo.build_demo(catalog, output_root)
    assert slider_values(page) == dict(zip(("temperature", "tries", "guidance"), demo.model_settings(first, catalog=catalog)))
    moves = [fn for fn in page.fns.values() if fn.api_name == "model_settings"]  # the menu's change moves the sliders
    assert [(fn.targets[0][1], [block.elem_id for block in fn.inputs], [block.elem_id for block in fn.outputs])
            for fn in moves] == [("change", ["category"], ["temperature", "tries", "guidance"])]
    several = next(label for label, choice in catalog.items() if demo.chooses(choice.model))
    for label in (first, several):
        choice = catalog[label]
        temperature, tries, guidance = demo.model_settings(label, catalog=catalog)  # what the sliders show
        assert (temperature, tries, guidance) == tuple(getattr(resolved(choice.model, choice.category), name)
                                                       for name in ("temperature", "tries", "guidance"))
        page_html, _, _ = demo.complete_drawing(SQUIGGLE, label, temperature, 4, 7, False, tries, guidance,
                                                catalog=catalog, output_root=output_root)
        completion = sample.complete(choice.model, SQUIGGLE, seed=7, category=choice.category,
                                     canvas_size=demo.CANVAS_SIZE)
        assert [ElementTree.tostring(svg) for svg in inline_svgs(page_html)] == [
            ElementTree.tostring(ElementTree.fromstring(completion_svg(completion.prime, ending, size=demo.SVG_SIZE)))
            for ending in completion.endings], label
    drawing = tmp_path / "drawing.json"
    drawing.write_text(json.dumps(SQUIGGLE))
    assert cli.main(["complete", str(choice.model.path), "--input", str(drawing), "--category", choice.category,
                     "--seed", "7", "--canvas-size", *map(str, demo.CANVAS_SIZE), "--out-dir", str(tmp_path / "cli")]) == 0
    written = [path.read_text() for path in sorted((tmp_path / "cli").iterdir())]
    assert written == [completion_svg(completion.prime, ending) for ending in completion.endings]


def test_complete_is_reproducible_from_the_seed(catalog, output_root):
    assert complete(catalog, output_root, seed=11)[0] == complete(catalog, output_root, seed=11)[0]
    assert complete(catalog, output_root, seed=11)[0] != complete(catalog, output_root, seed=12)[0]


def test_complete_animates_the_model_strokes_when_asked(catalog, output_root):
    label = first_label(catalog)
    page_html, _, _ = demo.complete_drawing(SQUIGGLE, label, 0.4, 1, 0, True, catalog=catalog, output_root=output_root)
    assert "<animate" in page_html


def test_many_points_are_handled(catalog, output_root):
    """A long scribble of 4,000 points (under the 20,000-point limit) is simplified and completed; an ending
    the model stops at once (it takes so long a drawing as finished) is named in the status, not left blank."""
    angles = np.linspace(0, 40 * np.pi, 4000)
    spiral = np.column_stack([200 + angles * np.cos(angles), 200 + angles * np.sin(angles)]).tolist()
    page_html, files, status = complete(catalog, output_root, strokes=[spiral], endings=4)
    svgs = inline_svgs(page_html)
    assert len(svgs) == 4 and len(files) == 5 and status.startswith("4 endings of")
    ending_paths = [paths_by_color(svg).get(DEFAULT_ENDING_COLOR, 0) for svg in svgs]
    assert all(paths_by_color(svg)[DEFAULT_COLOR] == 1 for svg in svgs)
    empty = ending_paths.count(0)
    if empty:
        assert f"{empty} of 4 endings added nothing: it takes your" in status
    else:
        assert "added nothing" not in status


def test_more_strokes_than_the_model_reads_are_completed_with_a_note(catalog, output_root):
    """101 two-point strokes used to hang the server (RDP cannot shrink a two-point stroke)."""
    bars = [[[20 + i * 3, 100], [20 + i * 3, 105]] for i in range(101)]
    page_html, _, status = complete(catalog, output_root, strokes=bars, endings=1)
    assert_endings(page_html, count=1, prime_strokes=101)
    readable_points = catalog[first_label(catalog)].model.config.max_length - MIN_ENDING_STEPS
    assert f"left out the {101 - readable_points // 2} shortest" in status  # 1 of 101 for a 250-point model


def test_large_drawings_take_turns_and_normal_ones_never_wait_for_them(catalog, output_root):
    """While a large drawing is worked on, a normal one completes at once and another large one waits."""
    large = [[[10 + i % 190 * 2, 10 + i // 190 * 8]] for i in range(demo.LARGE_DRAWING_STROKES + 1)]
    assert demo.drawing_lane(large) is demo.LARGE_DRAWING_LANE
    assert demo.drawing_lane(SQUIGGLE) is not demo.LARGE_DRAWING_LANE
    assert demo.drawing_lane(SQUIGGLE, demo.LARGE_SCORING_PAIRS + 1) is demo.LARGE_DRAWING_LANE  # many tries to score
    widest = max((choice.model for choice in catalog.values()), key=lambda model: len(model.categories))
    if demo.chooses(widest):
        assert demo.scored_pairs(widest, demo.DEFAULT_ENDINGS, demo.DEFAULT_TRIES) <= demo.LARGE_SCORING_PAIRS, \
            "the page's defaults never take turns"
        assert demo.scored_pairs(widest, demo.MAX_ENDINGS, MAX_TRIES) > demo.LARGE_SCORING_PAIRS
        defaults = (widest, demo.DEFAULT_ENDINGS, demo.DEFAULT_TRIES, demo.DEFAULT_GUIDANCE)
        assert demo.guided_streams(*defaults) <= demo.LARGE_GUIDED_STREAMS, "the page's defaults never take turns"
        assert demo.guided_streams(widest, demo.MAX_ENDINGS, MAX_TRIES, 1.0) > demo.LARGE_GUIDED_STREAMS
        assert demo.guided_streams(widest, demo.MAX_ENDINGS, MAX_TRIES, 0.0) == 0
    assert demo.drawing_lane(SQUIGGLE, 0, demo.LARGE_GUIDED_STREAMS + 1) is demo.LARGE_DRAWING_LANE  # much to sample
    results = []
    with demo.LARGE_DRAWING_LANE:  # as if another large drawing were being worked on
        assert len(inline_svgs(complete(catalog, output_root, endings=1)[0])) == 1
        waiting = threading.Thread(target=lambda: results.append(complete(catalog, output_root, large, endings=1)))
        waiting.start()
        waiting.join(1.0)
        assert waiting.is_alive() and not results, "a second large drawing waits its turn"
    waiting.join(60)
    assert len(results) == 1 and "left out" in results[0][2]


@pytest.mark.parametrize(
    "strokes, message",
    [
        ([], "empty"),
        ([[]], "empty"),
        ([[[50, 50]]], "single dot"),
        ("junk", "list of strokes"),
        ([[[math.nan, 1], [2, 3]]], "finite"),
        ([[["a", "b"], [2, 3]]], "numbers"),
        ([[[[[1]]]]], "pair of numbers"),
        ([[[1.5, 2.5]] * 600_000], "too many points"),  # about 10 MB of JSON
        ([[[10**400, 1], [2, 3]]], "far too large"),  # a JSON integer no float holds: was OverflowError
        ([[[1e300, 1], [2, 3]]], "far too large"),
        ([[[None, 1], [2, 3]]], r"missing coordinate \(null\)"),
    ],
)
def test_complete_explains_bad_drawings(catalog, output_root, strokes, message):
    with pytest.raises(gr.Error, match=message):
        complete(catalog, output_root, strokes=strokes)


@pytest.mark.parametrize(
    "strokes, message",
    [
        ("junk", "list of strokes"),
        ([[[10**400, 1], [2, 3]]], "far too large"),
        ([[[1, None], [2, 3]]], "missing coordinate"),
        ([[["a", "b"], [2, 3]]], "numbers"),
    ],
)
def test_guess_explains_hand_made_payloads(catalog, strokes, message):
    with pytest.raises(gr.Error, match=message):
        demo.guess_drawing(strokes, catalog=catalog)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": math.nan}, "temperature"),
        ({"temperature": 0}, "temperature"),
        ({"temperature": 9}, "temperature"),
        ({"temperature": [0.4]}, "temperature"),
        ({"endings": 0}, "endings"),
        ({"endings": 9}, "endings"),
        ({"endings": None}, "endings"),
        ({"seed": -1}, "seed"),
        ({"seed": {"seed": 1}}, "seed"),
        ({"seed": 10**400}, "seed must be from 0 to 2147483647; got a number far larger"),  # was OverflowError
        ({"seed": -(10**400)}, "seed"),
        ({"seed": "1e999"}, "seed"),
        ({"temperature": 10**400}, "temperature"),
        ({"label": "unicorn"}, "Pick what you are drawing"),
        ({"label": ["cat"]}, "Pick what you are drawing"),
    ],
)
def test_complete_explains_bad_settings(catalog, output_root, settings, message):
    with pytest.raises(gr.Error, match=message):
        complete(catalog, output_root, **settings)


def test_draw_something_starts_from_nothing(catalog, output_root):
    label = first_label(catalog)
    page_html, files, status = demo.draw_something(label, 0.4, 2, 3, False, catalog=catalog, output_root=output_root)
    svgs = inline_svgs(page_html)
    assert len(svgs) == 2 and len(files) == 3
    assert all(paths_by_color(svg_root)[DEFAULT_ENDING_COLOR] >= 1 for svg_root in svgs)
    with pytest.raises(gr.Error, match="temperature"):
        demo.draw_something(label, "x", 2, 3, False, catalog=catalog, output_root=output_root)


def test_guess_ranks_categories(catalog):
    guesses = demo.guess_drawing(SQUIGGLE, catalog=catalog)
    assert 1 <= len(guesses) <= 3
    assert set(guesses) <= {choice.category for choice in catalog.values()}
    assert all(0.0 <= probability <= 1.0 for probability in guesses.values())
    assert demo.guess_drawing([], catalog=catalog) == {}
    assert demo.guess_drawing(None, catalog=catalog) == {}
    assert demo.guess_drawing([[[5, 5]]], catalog=catalog) == {}, "a single dot: nothing to guess yet"


def test_new_seed_is_in_range():
    assert all(0 <= demo.new_seed() <= demo.MAX_SEED for _ in range(20))


def test_catalog_names_shared_categories_by_model():
    """Stand-in records (only .name and .categories are read) for two models that share a category."""
    first = SimpleNamespace(name="pig-model", categories=["pig"])
    second = SimpleNamespace(name="farm", categories=["pig", "cow"])
    assert list(demo.build_catalog([first, second])) == ["cow", "pig (farm)", "pig (pig-model)"]


def test_the_menu_puts_the_model_that_draws_a_category_best_first_and_says_how_well():
    """With the ranking benchmarks/choose_drawing_settings.py writes: best first within a category, its share in
    the label, and the menu starts on the best pig; a model the ranking does not name comes last."""
    first = SimpleNamespace(name="pig-model", categories=["pig"])
    second = SimpleNamespace(name="farm", categories=["pig", "cow"])
    third = SimpleNamespace(name="imported", categories=["pig"])
    ranking = {"pig": [("pig-model", 0.7), ("farm", 0.5)], "cow": [("farm", 0.9)], "cat": [("cats", None)]}
    catalog = demo.build_catalog([first, second, third], ranking)
    assert list(catalog) == ["cow (farm, 90% recognisable)", "pig (pig-model, 70% recognisable)",
                             "pig (farm, 50% recognisable)", "pig (imported)"]
    assert demo.default_label(catalog) == "pig (pig-model, 70% recognisable)"


def test_command_line_defaults_bind_to_this_machine_only(tmp_path):
    args = demo.parse_args([])
    assert (args.host, args.port, args.share, args.model_dir) == ("127.0.0.1", 7860, False, None)
    assert demo.main(["--model-dir", str(tmp_path)]) == 2


def test_old_download_folders_are_pruned(tmp_path):
    old, new = tmp_path / "request-old", tmp_path / "request-new"
    old.mkdir(), new.mkdir()
    os.utime(old, (0, 0))
    demo.prune_outputs(tmp_path)
    assert not old.exists() and new.exists()


# ----------------------------------------------------------------------------------------------
# The launched app, over HTTP


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(catalog, output_root, **page):
    """Serve the demo on 127.0.0.1 at a free port and yield a gradio_client connected to it (`page`: the
    other arguments of `demo.build_demo`)."""
    from gradio_client import Client

    with demo.private_server_folder():  # Gradio's cache too, not the shared /tmp/gradio
        blocks = demo.build_demo(catalog, output_root, **page)
        port = free_port()
        demo.launch_demo(blocks, port=port, block=False)
        try:
            yield Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False,
                         httpx_kwargs={"timeout": 120})  # generous: the machine may be busy
        finally:
            blocks.close()


@pytest.fixture(scope="module")
def client(catalog, output_root):
    """The demo served on 127.0.0.1 at a free port, and a gradio_client connected to it."""
    yield from serve(catalog, output_root)


def remote_complete(client, catalog, strokes=SQUIGGLE, seed=0, endings=4, temperature=0.4):
    """/complete with the first label's model's tries and guidance (what the menu moves the sliders to; left out,
    gradio_client would send the sliders' first values, those of the menu's first choice)."""
    _, tries, guidance = demo.model_settings(first_label(catalog), catalog=catalog)
    return client.predict(
        strokes, first_label(catalog), temperature, endings, seed, False, tries, guidance, api_name="/complete"
    )


def test_app_completes_over_http(client, catalog):
    page_html, files, status = remote_complete(client, catalog, endings=4)
    assert_endings(page_html, count=4, prime_strokes=len(SQUIGGLE))
    assert len(files) == 5
    for file in files:
        assert ElementTree.parse(file if isinstance(file, str) else file["path"]).getroot().tag.endswith("svg")
    assert "4 endings" in status


def test_app_serves_concurrent_requests_each_their_own(client, catalog, output_root):
    """10 completions at once, each of a different drawing and seed, match the same calls made one by one."""
    drawings = [[[[20 + 10 * i, 40], [60 + 10 * i, 90 + 5 * i], [100, 40 + 3 * i]]] for i in range(10)]

    def call(index):
        return remote_complete(client, catalog, drawings[index], seed=index, endings=2)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(call, range(10)))
    for index, (page_html, _, _) in enumerate(results):
        expected_html, _, _ = complete(catalog, output_root, strokes=drawings[index], seed=index, endings=2)
        assert page_html == expected_html


@pytest.mark.parametrize(
    "strokes, settings, message",
    [
        ([], {}, "empty"),
        ([[[5, 5]]], {}, "single dot"),
        ("hello", {}, "list of strokes"),
        ([[["x", {"y": 1}]]], {}, "numbers"),
        ([[[1.5, 2.5]] * 600_000], {}, "too many points"),  # about 10 MB of JSON
        ([[[10**400, 1], [2, 3]]], {}, "far too large"),  # the browser used to see an empty error
        ([[[None, 1], [2, 3]]], {}, "missing coordinate"),
        (SQUIGGLE, {"seed": 10**400}, "seed"),
        (SQUIGGLE, {"temperature": "hot"}, "temperature"),
        (SQUIGGLE, {"endings": 99}, "endings"),
    ],
)
def test_app_answers_tampered_calls_with_a_message_and_keeps_serving(client, catalog, strokes, settings, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message) as raised:
        remote_complete(client, catalog, strokes, **settings)
    assert "Traceback" not in str(raised.value)
    assert len(inline_svgs(remote_complete(client, catalog, endings=1)[0])) == 1


def test_app_guess_answers_a_huge_coordinate_with_a_message(client, catalog):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="far too large"):
        client.predict([[[10**400, 1], [2, 3]]], api_name="/guess")
    assert client.predict(SQUIGGLE, api_name="/guess")["label"]


def test_app_answers_nan_sent_over_raw_http(client, catalog):
    """JSON's non-standard NaN (gradio_client refuses to send it) gets a message too."""
    import httpx

    url = client.src.rstrip("/") + "/gradio_api/call/complete"
    label = json.dumps(first_label(catalog))
    for body in (f'{{"data": [[[[NaN, 1], [2, 3]]], {label}, 0.4, 2, 0, false, 3, 8]}}',
                 f'{{"data": [{json.dumps(SQUIGGLE)}, {label}, NaN, 2, 0, false, 3, 8]}}',
                 f'{{"data": [{json.dumps(SQUIGGLE)}, {label}, 0.4, 2, 0, false, NaN, 8]}}',
                 f'{{"data": [{json.dumps(SQUIGGLE)}, {label}, 0.4, 2, 0, false, 3, NaN]}}'):
        posted = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=30)
        event_id = posted.json()["event_id"]
        answer = httpx.get(f"{url}/{event_id}", timeout=60).text
        assert "event: error" in answer and any(word in answer for word in ("finite", "temperature", "tries", "guidance"))


# ----------------------------------------------------------------------------------------------
# The server process: its own private folder and cache, removed on exit


REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_START_S = 240  # importing TensorFlow and Gradio and compiling the sampler, on a busy machine


def test_a_server_that_cannot_start_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = os.environ.get("GRADIO_TEMP_DIR")
    assert demo.main(["--model-dir", str(tmp_path / "no-models")]) == 2
    assert not list(tmp_path.glob("sketchrnn-demo-*"))
    assert os.environ.get("GRADIO_TEMP_DIR") == before


def start_server(tmp_path: Path, port: int) -> subprocess.Popen:
    """`python app.py` on one small model of pigs (what is served does not depend on the model), with its temporary
    files under `tmp_path`."""
    from test_sample import untrained_model

    model_dir = tmp_path / "models" / "pig"
    checkpoint.save_model(untrained_model(("pig",), hidden_size=16), model_dir)
    environment = {**os.environ, "TMPDIR": str(tmp_path), "GRADIO_ANALYTICS_ENABLED": "False",
                   "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment.pop("GRADIO_TEMP_DIR", None)
    return subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--model-dir", str(model_dir)], cwd=REPO_ROOT, env=environment,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def wait_until_serving(process: subprocess.Popen, port: int) -> None:
    import httpx

    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the demo exited with {process.returncode}: {process.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the demo did not answer within {SERVER_START_S} s")


def private(path: Path) -> bool:
    """Only the owner may read, write or enter `path`."""
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_server_keeps_its_files_private_and_removes_them_on_sigterm(tmp_path):
    from gradio_client import Client

    port = free_port()
    process = start_server(tmp_path, port)
    try:
        wait_until_serving(process, port)
        (folder,) = tmp_path.glob("sketchrnn-demo-*")
        cache = folder / "gradio-cache"
        assert private(folder) and private(cache)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False,
                        httpx_kwargs={"timeout": 120}, download_files=False)
        _, files, _ = client.predict(SQUIGGLE, "pig", 0.4, 2, 0, False, api_name="/complete")
        served = [Path(file["path"]) for file in files]
        assert served and all(cache in path.parents for path in served), "files are served from the private cache"
        assert not (tmp_path / "gradio").exists(), "nothing goes to the shared /tmp/gradio"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
        assert not folder.exists(), "the server's folder (downloads and Gradio's cache) is removed on SIGTERM"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_menu_offers_the_bundled_magenta_models_and_starts_on_the_best_pig(catalog):
    if os.environ.get("SKETCHRNN_DEMO_MODEL_DIR"):
        pytest.skip("runs on the bundled models only")
    names = {choice.model.name for choice in catalog.values()}
    assert {"magenta-pig", "magenta-cat", "magenta-alarm_clock", "quickdraw6", "spg20"} <= names
    assert catalog["cat"].model.name == "magenta-cat"
    ranking = checkpoint.drawing_ranking()
    assert ranking, "data/models/drawing_ranking.json: benchmarks/choose_drawing_settings.py writes it"
    best_pig = catalog[demo.default_label(catalog)]
    assert (best_pig.category, best_pig.model.name) == ("pig", ranking["pig"][0][0])
    pigs = [label for label, choice in catalog.items() if choice.category == "pig"]
    assert [catalog[label].model.name for label in pigs] == [name for name, _ in ranking["pig"]]
    assert all(f"{share:.0%} recognisable" in label for label, (_, share) in zip(pigs, ranking["pig"]))


def test_guess_counts_each_category_once_across_models(catalog):
    """pig is drawn by three bundled models: it still gets one probability, and they sum to at most 1."""
    guesses = demo.guess_drawing(SQUIGGLE, catalog=catalog)
    assert len(guesses) == len(set(guesses)) and sum(guesses.values()) <= 1.0 + 1e-9


def test_every_bundled_magenta_model_completes_and_draws(catalog, output_root):
    labels = [label for label, choice in catalog.items() if choice.model.name.startswith("magenta-")]
    if not labels:
        pytest.skip("no magenta model among the demo's models")
    for label in labels:
        page, files, status = complete(catalog, output_root, label=label, endings=2)
        assert len(inline_svgs(page)) == 2 and len(files) == 3, label
        page, files, status = demo.draw_something(label, 0.4, 2, 0, False, catalog=catalog, output_root=output_root)
        assert len(inline_svgs(page)) == 2 and catalog[label].category in status, label


# ----------------------------------------------------------------------------------------------
# Redraw and Morph: a VAE


@pytest.fixture(scope="module")
def redrawers(tiny_vae):
    from sketchrnn.checkpoint import load_model

    model = load_model(tiny_vae)
    return {model.name: model}


@pytest.fixture(scope="module")
def test_drawings(redrawers):
    return demo.load_test_drawings(redrawers["tinyvae"])


BOX = [[[60, 60], [300, 60], [300, 300], [60, 300], [60, 60]]]


def redraw(catalog, redrawers, output_root, strokes=SQUIGGLE, endings=3, seed=0, label=None):
    label = first_label(catalog) if label is None else label
    return demo.redraw_drawing(strokes, label, 0.4, endings, seed, False, catalog=catalog, redrawers=redrawers,
                               output_root=output_root)


def morph(catalog, redrawers, output_root, first=SQUIGGLE, second=BOX, name="tinyvae", steps=5, temperature=0.1,
          seed=0):
    return demo.morph_drawings(first, second, name, steps, temperature, seed, catalog=catalog, redrawers=redrawers,
                               output_root=output_root)


def assert_strip(strip_html: str, steps: int) -> None:
    """The strip: one <svg> of steps + 2 cells, the two drawings dark at its ends, the model's red between."""
    strip = ElementTree.fromstring(re.search(r"<svg.*</svg>", strip_html, flags=re.S).group(0))  # cells nest
    cells = strip.findall(f"{SVG_NAMESPACE}svg")
    assert len(cells) == steps + 2
    assert set(paths_by_color(cells[0])) == set(paths_by_color(cells[-1])) == {DEFAULT_COLOR}
    assert all(set(paths_by_color(cell)) <= {DEFAULT_ENDING_COLOR} for cell in cells[1:-1])


def test_redraw_gives_the_chosen_number_of_redrawings_and_files(catalog, redrawers, output_root):
    page_html, files, status = redraw(catalog, redrawers, output_root, endings=3, seed=4)
    svgs = inline_svgs(page_html)
    assert len(svgs) == 3 and all(set(paths_by_color(svg_root)) <= {DEFAULT_ENDING_COLOR} for svg_root in svgs)
    assert len(files) == 4 and files[-1].endswith("tinyvae-redrawing-all.svg")
    assert len(ElementTree.parse(files[-1]).getroot().findall(f"{SVG_NAMESPACE}svg")) == 4  # yours + 3
    assert "3 redrawings of your drawing by tinyvae" in status
    assert redraw(catalog, redrawers, output_root, seed=4)[0] == page_html


def test_morph_gives_a_strip_an_animation_and_two_files(catalog, redrawers, output_root):
    strip_html, animation_html, files, status = morph(catalog, redrawers, output_root, steps=5, seed=3)
    assert_strip(strip_html, 5)
    (animation,) = inline_svgs(animation_html)
    frames = animation.findall(f"{SVG_NAMESPACE}g")
    assert len(frames) == 5
    assert all(frame.find(f"{SVG_NAMESPACE}animate").get("attributeName") == "visibility" for frame in frames)
    assert [Path(path).name for path in files] == ["morph-strip.svg", "morph-animated.svg"]
    assert ElementTree.parse(files[1]).getroot().tag == f"{SVG_NAMESPACE}svg"
    assert "5 drawings from A to B by tinyvae" in status
    assert morph(catalog, redrawers, output_root, steps=5, seed=3)[:2] == (strip_html, animation_html)


def test_without_a_vae_redraw_and_morph_say_so(catalog, output_root):
    page_html, files, status = redraw(catalog, {}, output_root)
    assert (page_html, files) == ("", None) and "need a VAE" in status
    strip_html, animation_html, files, status = morph(catalog, {}, output_root)
    assert (strip_html, animation_html, files) == ("", "", None) and "need a VAE" in status


@pytest.mark.parametrize(
    "strokes, message",
    [
        ([], "empty"),
        ([[[50, 50]]], "single dot"),
        ("junk", "list of strokes"),
        ([[[math.nan, 1], [2, 3]]], "finite"),
        ([[[1.5, 2.5]] * 600_000], "too many points"),
        ([[[10**400, 1], [2, 3]]], "far too large"),
        ([[[None, 1], [2, 3]]], r"missing coordinate \(null\)"),
    ],
)
def test_redraw_and_morph_explain_bad_drawings(catalog, redrawers, output_root, strokes, message):
    with pytest.raises(gr.Error, match=message):
        redraw(catalog, redrawers, output_root, strokes=strokes)
    with pytest.raises(gr.Error, match=message):
        morph(catalog, redrawers, output_root, first=strokes)
    with pytest.raises(gr.Error, match=message):
        morph(catalog, redrawers, output_root, second=strokes)


def test_morph_names_the_empty_drawing(catalog, redrawers, output_root):
    with pytest.raises(gr.Error, match="Drawing A is empty"):
        morph(catalog, redrawers, output_root, first=[])
    with pytest.raises(gr.Error, match="Drawing B is empty"):
        morph(catalog, redrawers, output_root, second=None)


def test_morph_explains_bad_settings_and_models_that_cannot_redraw(catalog, redrawers, output_root):
    decoder_name = catalog[first_label(catalog)].model.name
    cases = [
        ({"name": decoder_name}, f"{decoder_name} is a decoder-only model: it cannot redraw"),
        ({"name": "unicorn"}, "Pick a model that redraws from the list: tinyvae"),
        ({"name": ["tinyvae"]}, "Pick a model"),
        ({"steps": 1}, "number of steps"),
        ({"steps": 99}, "number of steps"),
        ({"steps": "many"}, "number of steps"),
        ({"temperature": math.nan}, "temperature"),
        ({"seed": -1}, "seed"),
        ({"seed": 10**400}, "seed"),
    ]
    for settings, message in cases:
        with pytest.raises(gr.Error, match=message):
            morph(catalog, redrawers, output_root, **settings)


def test_test_drawings_are_the_models_own_test_split_fitted_to_the_canvas(redrawers, test_drawings, shared_data):
    from sketchrnn import data
    from sketchrnn.strokes import stroke3_to_polylines

    assert list(test_drawings) == [f"pig {index}" for index in range(1, demo.TEST_DRAWINGS_PER_CATEGORY + 1)]
    test_split = data.load_dataset([str(shared_data / "quickdraw_sketchrnn_pig_2200.npz")]).splits["test"]
    assert test_drawings["pig 1"] == demo.canvas_strokes(stroke3_to_polylines(test_split.drawings[0]))
    for strokes in test_drawings.values():
        points = np.concatenate([np.asarray(stroke) for stroke in strokes])
        extent = points.max(axis=0) - points.min(axis=0)
        assert extent.max() == pytest.approx(CANVAS_FILL * DEFAULT_SIZE, abs=0.2)
        assert np.all(points >= 0) and np.all(points <= DEFAULT_SIZE)
    elsewhere = dataclasses.replace(redrawers["tinyvae"], metadata={"data": ["../no/such/data.npz"]})
    assert demo.load_test_drawings(elsewhere) == {}


def test_picking_a_test_drawing_puts_it_on_the_canvas(test_drawings):
    assert demo.pick_test_drawing("pig 2", test_drawings=test_drawings) == test_drawings["pig 2"]
    assert isinstance(demo.pick_test_drawing(None, test_drawings=test_drawings), type(gr.skip()))
    with pytest.raises(gr.Error, match="Pick a drawing from the list"):
        demo.pick_test_drawing("unicorn 1", test_drawings=test_drawings)


def test_a_vae_among_the_models_redraws_but_never_completes_or_guesses(tiny_vae, tmp_path, monkeypatch):
    from sketchrnn.checkpoint import save_model
    from test_sample import untrained_model

    shutil.copytree(tiny_vae, tmp_path / "tinyvae")
    save_model(untrained_model(("pig", "face")), tmp_path / "decoder")
    warmed = []
    monkeypatch.setattr("sketchrnn.demo.catalog.start_warm_up", warmed.extend)  # no background thread outliving the test
    catalog, redrawers = demo.load_page_models(tmp_path)
    assert list(catalog) == ["face", "pig"] and list(redrawers) == ["tinyvae"]
    assert sorted(model.name for model in warmed) == ["decoder", "tinyvae"]
    assert [model.name for model in demo.load_models(tmp_path)] == ["decoder"]
    assert list(demo.load_catalog(tmp_path)) == ["face", "pig"]
    assert set(demo.guess_drawing(SQUIGGLE, catalog=catalog)) <= {"face", "pig"}


@pytest.fixture(scope="module")
def vae_client(catalog, redrawers, test_drawings, output_root):
    """The demo with the tiny VAE too, served on a free port, and a gradio_client connected to it."""
    yield from serve(catalog, output_root, redrawers=redrawers, test_drawings=test_drawings)


def test_app_redraws_and_morphs_over_http(vae_client, catalog, test_drawings):
    page_html, files, status = vae_client.predict(SQUIGGLE, first_label(catalog), 0.4, 2, 0, False,
                                                  api_name="/redraw")
    assert len(inline_svgs(page_html)) == 2 and len(files) == 3 and "2 redrawings" in status
    picked = vae_client.predict("pig 3", api_name="/pick_a")
    assert picked == test_drawings["pig 3"]
    strip_html, animation_html, files, status = vae_client.predict(picked, BOX, "tinyvae", 4, 0.1, 1,
                                                                   api_name="/morph")
    assert_strip(strip_html, 4)
    assert len(inline_svgs(animation_html)) == 1 and len(files) == 2 and "4 drawings from A to B" in status


@pytest.mark.parametrize(
    "arguments, message",
    [
        (([], BOX, "tinyvae", 4, 0.1, 0), "Drawing A is empty"),
        ((SQUIGGLE, [[[10**400, 1], [2, 3]]], "tinyvae", 4, 0.1, 0), "far too large"),
        ((SQUIGGLE, BOX, "unicorn", 4, 0.1, 0), "Pick a model"),
        ((SQUIGGLE, BOX, "tinyvae", 40, 0.1, 0), "number of steps"),
    ],
)
def test_app_answers_bad_morph_calls_with_a_message_and_keeps_serving(vae_client, arguments, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message) as raised:
        vae_client.predict(*arguments, api_name="/morph")
    assert "Traceback" not in str(raised.value)
    assert "2 drawings" in vae_client.predict(SQUIGGLE, BOX, "tinyvae", 2, 0.1, 0, api_name="/morph")[3]
