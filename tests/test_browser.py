"""A real browser (Debian's chromium, driven by Playwright) draws on the canvas and uses the demo.

Skips only when /usr/bin/chromium is missing and SKETCHRNN_REQUIRE_BROWSER is not "1"; CI sets it,
so a missing browser fails there instead of skipping. The demo runs on the bundled models
(data/models/), or on the model(s) in $SKETCHRNN_DEMO_MODEL_DIR.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import socket
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import gradio as gr
import pytest

from sketchrnn.canvas import StrokeCanvas

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = REPO_ROOT / "docs" / "demo.png"  # rewritten only with SKETCHRNN_UPDATE_SCREENSHOT=1
TIMEOUT_MS = 60_000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(blocks: gr.Blocks) -> str:
    """Launch `blocks` on 127.0.0.1 in the background and return its URL."""
    port = free_port()
    blocks.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    """A fresh headless chromium profile, or a skip (a failure in CI) when chromium is missing."""
    if not CHROMIUM.exists():
        if os.environ.get("SKETCHRNN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and SKETCHRNN_REQUIRE_BROWSER=1 (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            accept_downloads=True,
            viewport={"width": 1280, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


def draw_stroke(page, canvas, points) -> None:
    """Drag the mouse through `points` (fractions of the canvas box) with the button held down."""
    box = canvas.bounding_box()
    positions = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*positions[0])
    page.mouse.down()
    for position in positions[1:]:
        page.mouse.move(*position, steps=8)
    page.mouse.up()


def draw_finger_stroke(context, page, canvas) -> None:
    """A touch drag from the canvas centre towards its top-right corner, sent as real touch input."""
    box = canvas.bounding_box()
    session = context.new_cdp_session(page)
    for step in range(11):
        x = box["x"] + (0.5 + 0.03 * step) * box["width"]
        y = box["y"] + (0.5 - 0.03 * step) * box["height"]
        kind = "touchStart" if step == 0 else "touchMove"
        session.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


def draw_two_strokes(page, canvas) -> None:
    """A 'V' and a bar, as a person would scribble them."""
    draw_stroke(page, canvas, [(0.3, 0.3), (0.45, 0.6), (0.6, 0.3)])
    draw_stroke(page, canvas, [(0.3, 0.7), (0.6, 0.7)])


def count_strokes(strokes) -> str:
    """What the canvas test's button shows: strokes and points the server received (and a call stamp)."""
    first = strokes[0][0] if strokes else [-1, -1]
    points = sum(len(stroke) for stroke in strokes)
    return f"{len(strokes)} strokes, {points} points, first {first[0]:.0f} {first[1]:.0f} at {time.monotonic_ns()}"


def canvas_blocks() -> gr.Blocks:
    """A page with only the canvas, a button and a textbox: the component's own end-to-end test."""
    with gr.Blocks() as blocks:
        canvas = StrokeCanvas(elem_id="canvas")
        button = gr.Button("Count", elem_id="count-button")
        result = gr.Textbox(elem_id="count")
        button.click(count_strokes, inputs=canvas, outputs=result)
    return blocks


def read_count(page) -> tuple[int, int, tuple[int, int]]:
    """Press Count and wait for the server's answer; returns (strokes, points, first point)."""
    output = page.locator("#count textarea")
    previous = output.input_value()
    page.click("#count-button")
    page.wait_for_function(
        "previous => document.querySelector('#count textarea').value !== previous", arg=previous
    )
    words = output.input_value().split()
    return int(words[0]), int(words[2]), (int(words[5]), int(words[6]))


def test_canvas_records_strokes_and_undo_clear_work(browser_context):
    """Two mouse strokes reach Python as two polylines; Undo removes one, Clear removes all."""
    blocks = canvas_blocks()
    url = launch(blocks)
    try:
        page = browser_context.new_page()
        page.goto(url)
        canvas = page.locator("#canvas canvas")
        canvas.wait_for()
        assert canvas.evaluate("surface => getComputedStyle(surface).touchAction") == "none"
        draw_two_strokes(page, canvas)
        strokes, points, first = read_count(page)
        assert strokes == 2 and points >= 6
        assert abs(first[0] - 120) <= 2 and abs(first[1] - 120) <= 2  # 0.3 of a 400-pixel canvas
        page.click("#canvas .stroke-canvas-undo")
        strokes_after_undo, points_after_undo, _ = read_count(page)
        assert strokes_after_undo == 1 and 3 <= points_after_undo < points
        page.click("#canvas .stroke-canvas-clear")
        assert read_count(page)[:2] == (0, 0)
        draw_finger_stroke(browser_context, page, canvas)
        strokes, points, first = read_count(page)
        assert strokes == 1 and points >= 3
        assert abs(first[0] - 200) <= 2 and abs(first[1] - 200) <= 2
        page.close()
    finally:
        blocks.close()


@pytest.fixture(scope="module")
def demo_url(browser_context):
    """The real demo, on the bundled models, served on a free port with its own private folder.

    The models are committed: a loader failure fails the test instead of skipping it.
    """
    from sketchrnn import demo

    with demo.private_server_folder() as output_root:
        catalog = demo.load_catalog(os.environ.get("SKETCHRNN_DEMO_MODEL_DIR"))
        blocks = demo.build_demo(catalog, output_root)
        port = free_port()
        demo.launch_demo(blocks, port=port, block=False)
        yield f"http://127.0.0.1:{port}/"
        blocks.close()


def ending_paths(page) -> list[dict[str, int]]:
    """Per ending on the page: how many paths are in the person's colour and in the model's."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#endings svg')].map(svg => ({
            person: svg.querySelectorAll('g[stroke="#1f1f1f"] path').length,
            model: svg.querySelectorAll('g[stroke="#d62728"] path').length,
        }))"""
    )


def test_demo_completes_a_drawing_in_the_browser(browser_context, demo_url, tmp_path):
    """Draw two strokes, press Complete: four endings with both strokes and new ones; one downloads as SVG."""
    page = browser_context.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(demo_url)
    canvas = page.locator("#canvas canvas")
    canvas.wait_for()
    draw_two_strokes(page, canvas)
    page.wait_for_timeout(300)  # let the pen-up reach the page state before the click reads it
    started = time.perf_counter()
    page.click("#complete")
    page.wait_for_function("() => document.querySelectorAll('#endings svg').length === 4")
    elapsed = time.perf_counter() - started
    print(f"\nbrowser: click on Complete -> 4 endings shown in {elapsed:.3f} s")
    endings = ending_paths(page)
    assert len(endings) == 4
    assert all(ending["person"] == 2 and ending["model"] >= 1 for ending in endings)

    link = page.locator("#downloads a[download]").first
    link.wait_for()
    with page.expect_download() as download_info:
        link.click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    assert saved.suffix == ".svg"
    assert ElementTree.parse(saved).getroot().tag == "{http://www.w3.org/2000/svg}svg"

    seed_box = page.locator("#seed input")
    page.click("#new-seed")
    page.wait_for_function("() => document.querySelector('#seed input').value !== '0'")
    assert 0 < int(seed_box.input_value()) < 2**31

    outside = [url for url in requested if not url.startswith((demo_url, "data:", "blob:"))]
    assert not outside, f"the page contacted other machines: {outside}"
    page.wait_for_timeout(2500)  # let the animated endings finish drawing
    screenshot = SCREENSHOT if os.environ.get("SKETCHRNN_UPDATE_SCREENSHOT") == "1" else tmp_path / "demo.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    page.close()
