"""How long a one-off command takes from the shell, beside TensorFlow's own import.

Times, alternately and from fresh processes each time (the machine is noisy: medians, same run):
  * ``python -c "import tensorflow"``, the floor every TensorFlow command pays;
  * ``sketchrnn complete MODEL --input drawing.json --n 4`` with the XLA program cache warm (the usual case
    after a first run: ``sketchrnn.compile_cache``), and with it off (``SKETCHRNN_XLA_CACHE=0``: every
    run compiles the sampler, as the first run on a machine does);
  * ``sketchrnn sample MODEL --n 4`` with the cache warm.
and prints each median and its difference to the import: what the command itself costs.

    python benchmarks/cli_latency.py [--repeats 5] [--model data/models/magenta-pig]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_line

REPO = Path(__file__).resolve().parents[1]
SKETCHRNN = [sys.executable, "-m", "sketchrnn"]


def a_drawing(folder: Path) -> Path:
    """A two-stroke face outline, 12 points, in canvas pixels."""
    path = folder / "drawing.json"
    path.write_text(json.dumps([[[60, 80], [90, 60], [130, 60], [160, 80], [170, 120], [150, 160], [110, 170],
                                 [70, 160], [50, 120], [60, 80]], [[90, 100], [95, 105]]]))
    return path


def wall_seconds(command: list[str], env: dict) -> float:
    """Seconds from starting ``command`` to its exit; fails loudly if it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument("--model", default="data/models/magenta-pig", help="model directory (default magenta-pig)")
    arguments = parser.parse_args(argv)
    print(cpu_line())
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        drawing, out = a_drawing(folder), folder / "out.svg"
        base = {**os.environ, "SKETCHRNN_DATA_DIR": str(folder / "cache")}  # a cache of this run's own
        cold = {**base, "SKETCHRNN_XLA_CACHE": "0"}
        complete = [*SKETCHRNN, "complete", arguments.model, "--input", str(drawing), "--n", "4", "--out", str(out)]
        sample = [*SKETCHRNN, "sample", arguments.model, "--n", "4", "--out", str(out)]
        commands = {
            "import tensorflow": ([sys.executable, "-c", "import tensorflow"], base),
            "complete, XLA cache warm": (complete, base),
            "complete, no XLA cache": (complete, cold),
            "sample, XLA cache warm": (sample, base),
        }
        for command, env in commands.values():  # untimed: fills the cache, warms the file system
            wall_seconds(command, env)
        times = {name: [] for name in commands}
        for _ in range(arguments.repeats):
            for name, (command, env) in commands.items():
                times[name].append(wall_seconds(command, env))
    floor = statistics.median(times["import tensorflow"])
    for name, runs in times.items():
        median = statistics.median(runs)
        extra = "" if name == "import tensorflow" else f"   after the import: {median - floor:5.2f} s"
        print(f"{name:<28} median {median:5.2f} s (range {min(runs):.2f}-{max(runs):.2f}){extra}")
    print(f"(medians of {arguments.repeats} fresh processes each, alternating; model {arguments.model}; "
          f"target: complete after the import <= 1.5 s)")


if __name__ == "__main__":
    main()
