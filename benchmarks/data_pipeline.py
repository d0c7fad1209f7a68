"""Throughput of the data pipeline on the real QuickDraw files in ../shared/data.

Each kind of source is loaded with ``sketchrnn.data.load_dataset`` (safe read, RDP where the format
needs it, clean, split, length cap); then every drawing of every split is normalised by the train
split's scale factor and converted to stroke-5 with ``strokes.stroke3_to_stroke5``. Prints drawings
per second per source kind, the median of ``--repeats`` runs, next to its target.

    .venv/bin/python benchmarks/data_pipeline.py [--data-dir ../shared/data] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from sketchrnn import data, strokes

REPOSITORY = Path(__file__).resolve().parents[1]
TARGETS = {"npz": 20_000, "spg dense + RDP": 5_000}  # drawings per second on the 2-core development machine


def source_kinds(data_dir: Path) -> dict[str, list[Path]]:
    """The QuickDraw files of the shared data, grouped by kind of source."""
    kinds = {
        "npz": sorted(data_dir.glob("quickdraw_sketchrnn_*.npz")),
        "simplified ndjson": [*data_dir.glob("quickdraw_simplified_eye_*.ndjson"), *data_dir.glob("quickdraw_simplified_mouth_*.ndjson")],
        "344-category ndjson": [data_dir / "quickdraw_simplified_344cats_25each.ndjson"],
        "spg dense + RDP": sorted((data_dir / "spg").glob("*.ndjson.gz")),
    }
    for name, paths in kinds.items():
        if not paths or not all(path.is_file() for path in paths):
            raise SystemExit(f"{name}: files missing under {data_dir}")
    return kinds


def normalised_stroke5(drawings: list[np.ndarray], scale_factor: float) -> list[np.ndarray]:
    """Every drawing divided by the scale factor (one vectorised pass), then as stroke-5 ``[N + 2, 5]``."""
    lengths = np.fromiter((len(d) for d in drawings), dtype=np.int64, count=len(drawings))
    rows = np.concatenate(drawings)  # (P, 3)
    rows[:, :2] /= scale_factor
    ends = np.cumsum(lengths).tolist()
    return [strokes.stroke3_to_stroke5(rows[start:end]) for start, end in zip([0] + ends[:-1], ends)]


def run_once(paths: list[Path]) -> tuple[int, float]:
    """Load and convert once; returns (drawings converted, seconds)."""
    start = time.perf_counter()
    dataset = data.load_dataset(paths)
    scale_factor = strokes.scale_factor(dataset.splits["train"].drawings)
    converted = sum(len(normalised_stroke5(split.drawings, scale_factor)) for split in dataset.splits.values())
    return converted, time.perf_counter() - start


def main(argv=None) -> int:
    """Time every source kind and print a table; exit status 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPOSITORY.parent / "shared" / "data")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args(argv)
    print(f"{'source kind':<22} {'files':>5} {'drawings':>9} {'median s':>9} {'drawings/s':>11} {'target':>8}")
    missed = False
    for name, paths in source_kinds(arguments.data_dir).items():
        runs = [run_once(paths) for _ in range(arguments.repeats)]
        seconds = statistics.median(elapsed for _, elapsed in runs)
        rate = runs[0][0] / seconds
        target = TARGETS.get(name)
        verdict = "" if target is None else f"{target:>8,} {'ok' if rate >= target else 'MISSED'}"
        missed |= target is not None and rate < target
        print(f"{name:<22} {len(paths):>5} {runs[0][0]:>9,} {seconds:>9.3f} {rate:>11,.0f} {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
