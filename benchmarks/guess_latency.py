"""How fast "what are you drawing?" answers over many single-category models (target: 20 models <= 300 ms).

Loads magenta's pretrained models from ../shared/data/magenta (8 files, hidden 512; each converted in
memory by ``sketchrnn.magenta``, its size measurement skipped) and repeats them to ``--models`` (default
20: magenta's demos offer ~113, a person imports a handful). Each test drawing (the shared pig file's
test split, drawn into a 400-pixel canvas as the demo receives it) is guessed ``--repeats`` times after
one warm-up call (which compiles each model's scoring program for that length bucket). Prints the median
and the 90th percentile per drawing length, and the overall median.

    python benchmarks/guess_latency.py [--models 20] [--drawings 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from sketchrnn import magenta, sample, strokes  # noqa: E402
from sketchrnn.data import load_dataset  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CANVAS = 400.0


def load_models(count: int) -> list:
    """``count`` hidden-512 single-category models (magenta's files, repeated), each a separate model."""
    paths = sorted((SHARED / "magenta").glob("*.gen.json"))
    models = []
    for index in range(count):
        model = magenta.to_trained_model(magenta.read_gen_json(paths[index % len(paths)]), measure_size=False)
        model.stats = strokes.DataStats(model.stats.scale_factor, 12.0, 100.0)  # a typical imported size
        models.append(model)
    return models


def canvas_drawings(count: int) -> list:
    """Test pigs as canvas strokes: max side 0.8 of a 400-pixel canvas, y down, as the page sends them."""
    drawings = load_dataset([SHARED / "quickdraw_sketchrnn_pig_2200.npz"], rescale_to=CANVAS * 0.8).splits["test"].drawings
    return [[(p + CANVAS * 0.1).tolist() for p in strokes.stroke3_to_polylines(d)] for d in drawings[:count]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=20, help="single-category models to rank across (default 20)")
    parser.add_argument("--drawings", type=int, default=8, help="test drawings (default 8)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per drawing (default 5)")
    arguments = parser.parse_args(argv)
    models = load_models(arguments.models)
    timings = []
    print(f"guess over {len(models)} hidden-512 single-category models ({sample.SCORING_THREADS} scoring threads)")
    for drawing in canvas_drawings(arguments.drawings):
        sample.guess(models, drawing, canvas_size=(CANVAS, CANVAS))  # warm-up: compiles this length bucket
        times = []
        for _ in range(arguments.repeats):
            started = time.perf_counter()
            sample.guess(models, drawing, canvas_size=(CANVAS, CANVAS))
            times.append(1000 * (time.perf_counter() - started))
        points = sum(len(stroke) for stroke in drawing)
        print(f"  {points:4d} points: median {np.median(times):6.1f} ms, p90 {np.percentile(times, 90):6.1f} ms")
        timings += times
    median = float(np.median(timings))
    print(f"overall median {median:.1f} ms over {len(timings)} calls; target <= 300 ms: {'met' if median <= 300 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
