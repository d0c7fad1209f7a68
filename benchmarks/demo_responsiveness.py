"""Does the demo stay responsive while other users send the worst drawing it allows? (target: < 2 s)

Starts the demo (``python app.py``) on 127.0.0.1 at a free port, then, per repetition:

* two "hostile" clients (gradio_client) each send the worst drawing the checks let through, over and
  over, one request in flight each: ``MAX_PAYLOAD_POINTS`` points in ``MAX_PAYLOAD_STROKES`` strokes
  (single dots, which cannot be simplified, plus one long zigzag, RDP's worst case), 8 endings
  (the most), temperature 1.5 (the wildest, longest endings), animated, to the model of the most categories
  with the most tries (each ending chosen from 4 by scoring every one under each of its categories), guided
  (one LSTM stream per category for each of the 32 endings drawn);
* a third client, once both have a request running, times a normal completion (a two-stroke
  squiggle, 4 endings, the page's defaults, on the page's default category and on the worst model's);
* then the same with the hostile clients sending that squiggle at the worst settings instead (a small
  drawing that still scores 8 x 4 endings under every category).

Prints the medians over the repetitions: the normal completion alone (before any load), the worst
request's own time, and the normal completion under load, and whether that meets the target.

    python benchmarks/demo_responsiveness.py [--repeats 5] [--model-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import httpx  # noqa: E402
from gradio_client import Client  # noqa: E402

from sketchrnn import demo  # noqa: E402
from sketchrnn.demo.catalog import page_ranking  # noqa: E402
from sketchrnn.canvas import MAX_PAYLOAD_POINTS, MAX_PAYLOAD_STROKES  # noqa: E402
from sketchrnn.sample import MAX_GUIDANCE, MAX_TRIES  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 2.0
START_TIMEOUT_S = 300
SQUIGGLE = [[[100, 100], [140, 160], [180, 100], [220, 160]], [[120, 220], [200, 220]]]


def worst_drawing() -> list:
    """The most strokes and points the demo accepts: single dots, then one zigzag with the rest of the points."""
    dots = [[[10 + index % 190 * 2, 10 + index // 190 * 8]] for index in range(MAX_PAYLOAD_STROKES - 1)]
    zigzag_points = MAX_PAYLOAD_POINTS - len(dots)
    zigzag = [[10 + index * 380 / zigzag_points, 200 + index % 2 * 190] for index in range(zigzag_points)]
    return [*dots, zigzag]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_demo(port: int, model_dir: str | None) -> subprocess.Popen:
    """The demo as a separate process, as a person would run it."""
    command = [sys.executable, "app.py", "--port", str(port)] + (["--model-dir", model_dir] if model_dir else [])
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = tempfile.TemporaryFile("w+")  # the demo's messages, shown if it fails to start; gone on exit
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=log)
    process.log = log
    return process


def log_tail(process: subprocess.Popen) -> str:
    process.log.seek(0)
    return process.log.read()[-3000:]


def wait_until_serving(process: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the demo exited with status {process.returncode}:\n{log_tail(process)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the demo did not answer within {START_TIMEOUT_S} s")


def connect(url: str) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, download_files=False, httpx_kwargs={"timeout": 300})


def complete(client: Client, label: str, strokes, endings: int = 4, temperature: float = 0.4, animate=False,
             tries=None, guidance=None):
    """One completion (``tries=None``, ``guidance=None``: the page's defaults); returns its wall-clock seconds."""
    started = time.perf_counter()
    extra = () if tries is None else (tries,) if guidance is None else (tries, guidance)
    client.predict(strokes, label, temperature, endings, 0, animate, *extra, api_name="/complete")
    return time.perf_counter() - started


def guess(client: Client, strokes) -> float:
    """One "what are you drawing?" call; returns its wall-clock seconds."""
    started = time.perf_counter()
    client.predict(strokes, api_name="/guess")
    return time.perf_counter() - started


class Hostile(threading.Thread):
    """A client that sends the worst drawing again and again until stopped, timing each request."""

    def __init__(self, url: str, label: str, drawing):
        super().__init__(daemon=True)
        self.client, self.label, self.drawing = connect(url), label, drawing
        self.times: list[float] = []
        self.in_flight = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.in_flight.set()
            self.times.append(worst_request(self.client, self.label, self.drawing))


def worst_request(client: Client, label: str, drawing) -> float:
    """The costliest request the page takes: the worst drawing, 8 endings, temperature 1.5, animated, most tries,
    guided (guided sampling costs the same at any guidance above 0)."""
    return complete(client, label, drawing, endings=8, temperature=1.5, animate=True, tries=MAX_TRIES,
                    guidance=MAX_GUIDANCE)


def worst_label(model_dir) -> str:
    """The menu label of the first category of the decoder with the most categories (each ending is scored
    under every one of them when it chooses among tries), from the menu the page builds of the same models."""
    catalog = demo.build_catalog(demo.load_models(model_dir), page_ranking(model_dir))  # the page's own labels
    widest = max((choice.model for choice in catalog.values()), key=lambda model: len(model.categories))
    return next(label for label, choice in catalog.items()
                if choice.model is widest and choice.category == widest.categories[0])


def one_repetition(url: str, label: str, worst: str, drawing) -> tuple[float, float, list[float]]:
    """Two hostile clients running; returns the third client's completion times (the default label's, the
    worst label's) and the hostile times."""
    hostile = [Hostile(url, worst, drawing) for _ in range(2)]
    third = connect(url)
    for client in hostile:
        client.start()
    for client in hostile:
        client.in_flight.wait()
    time.sleep(1.0)  # both worst requests have arrived and are being worked on (or wait their turn)
    elapsed = complete(third, label, SQUIGGLE)
    elapsed_worst_model = complete(third, worst, SQUIGGLE)
    for client in hostile:
        client.stop.set()
    for client in hostile:
        client.join()
    return elapsed, elapsed_worst_model, [t for client in hostile for t in client.times]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model-dir", default=None, help="models to serve (default: the bundled ones)")
    args = parser.parse_args(argv)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    process = start_demo(port, args.model_dir)
    try:
        wait_until_serving(process, url)
        return measure(url, args.repeats, worst_label(args.model_dir))
    finally:
        process.terminate()
        process.wait(timeout=60)


def measure(url: str, repeats: int, worst: str) -> int:
    probe = connect(url)
    label = probe.view_api(return_format="dict", print_info=False)["named_endpoints"]["/complete"]
    label = label["parameters"][1]["parameter_default"]
    drawing = worst_drawing()
    points = sum(len(stroke) for stroke in drawing)
    print(f"worst allowed drawing: {len(drawing)} strokes, {points} points, {MAX_TRIES} tries, to {worst!r}; "
          f"the page's default category {label!r}")
    for endings in (1, 2, 4, 8):  # the first request of each batch size may still be compiling
        for tries in (1, 2, 3, 4):
            complete(probe, worst, SQUIGGLE, endings=endings, tries=tries)
        complete(probe, label, SQUIGGLE, endings=endings)
    worst_request(probe, worst, drawing)
    alone = [complete(probe, label, SQUIGGLE) for _ in range(repeats)]
    alone_worst_model = [complete(probe, worst, SQUIGGLE) for _ in range(repeats)]
    worst_alone = [worst_request(probe, worst, drawing) for _ in range(3)]
    costly_alone = [worst_request(probe, worst, SQUIGGLE) for _ in range(3)]
    guess_alone = [guess(probe, drawing) for _ in range(3)]
    print(f"normal completion, no load:            median {statistics.median(alone):.3f} s ({label!r}), "
          f"{statistics.median(alone_worst_model):.3f} s ({worst!r}, the default tries)")
    print(f"worst request alone:                   median {statistics.median(worst_alone):.3f} s "
          f"(its /guess: {statistics.median(guess_alone):.3f} s); the squiggle at its settings "
          f"{statistics.median(costly_alone):.3f} s")
    medians = []
    for name, hostile_drawing in (("worst drawing", drawing), ("squiggle at the worst settings", SQUIGGLE)):
        under_load, under_load_worst_model, hostile_times = [], [], []
        for _ in range(repeats):
            elapsed, elapsed_worst_model, times = one_repetition(url, label, worst, hostile_drawing)
            under_load.append(elapsed)
            under_load_worst_model.append(elapsed_worst_model)
            hostile_times += times
        medians += [statistics.median(under_load), statistics.median(under_load_worst_model)]
        print(f"two clients sending the {name}: their requests median {statistics.median(hostile_times):.3f} s "
              f"({len(hostile_times)} requests)")
        print(f"  normal completion beside them: median {statistics.median(under_load):.3f} s, max "
              f"{max(under_load):.3f} s ({label!r}); median {statistics.median(under_load_worst_model):.3f} s, max "
              f"{max(under_load_worst_model):.3f} s ({worst!r}) over {repeats} repetitions")
    verdict = "meets" if max(medians) < TARGET_S else "MISSES"
    print(f"target: the third client answered in under {TARGET_S:.0f} s (median, every case) -> {verdict} the target")
    return 0 if max(medians) < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
