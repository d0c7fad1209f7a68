"""Choosing the demo's guidance on validation drawings only: how often completions are recognised, per setting.

Guided sampling (``sketchrnn.model.Sampler.generate``, ``sample.complete(..., guidance=)``) keeps, at each
step, one of several candidate rows drawn from the chosen category, favouring what that category explains
better than the model's other categories do. This script picks its strength the way the issue asks for
tuning: each bundled model of several categories completes the first ``--per-category`` drawings of each
category of its **validation** split, cut to their first 40% of points, 4 endings each, at the demo's other
settings, for every combination of the settings given (guidance and tries; to probe, the candidates a guided
step draws and the temperature); the recognisability yardstick (``recognisability.py``'s
cached recogniser, trained on training splits only) says how many of the whole drawings it names rightly.
Test splits are never read. Prints a table per model (mean over categories, then each category) with the
mean ink of an ending (points) and the time taken; ``--out`` also writes it as markdown.

    python benchmarks/guidance.py [--models quickdraw6 spg20] [--guidance 0 4 8 16] [--tries 1 3] [--per-category 100]
    python benchmarks/guidance.py --guidance 8 --tries 1 --candidates 8 16 32 --temperature 0.25 0.4
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import recognisability  # noqa: E402  (benchmarks/ is on the path when this script runs)
from sketchrnn import checkpoint, demo  # noqa: E402
from sketchrnn.model.inference import GUIDANCE_CANDIDATES  # noqa: E402


class Setting(NamedTuple):
    guidance: float
    tries: int
    candidates: int
    temperature: float


def measure(model, groups: dict, recogniser, setting: Setting, per_category: int) -> dict:
    """Top-1 per category, the mean ending's points and the seconds taken, for one setting."""
    started, rates, points = time.perf_counter(), {}, []
    for category, drawings in groups.items():
        cuts = [recognisability.cut_on_canvas(d) for d in drawings[:per_category]]
        completions = recognisability.completed(model, category, cuts, setting.tries, setting.guidance,
                                                setting.temperature)
        rates[category] = recogniser.rates(recognisability.wholes(completions), category)["top1"]
        points += [sum(len(stroke) for stroke in ending) for c in completions for ending in c.endings]
    return {"rates": rates, "points": float(np.mean(points)), "seconds": time.perf_counter() - started}


def table(name: str, groups: dict, results: dict, per_category: int) -> list[str]:
    counts = {category: min(per_category, len(drawings)) for category, drawings in groups.items()}
    lines = [f"### {name} (validation cuts: {', '.join(f'{c} {n}' for c, n in counts.items())}; 4 endings each)", "",
             "| guidance | tries | candidates | temperature | mean | " + " | ".join(groups)
             + " | points per ending | seconds |",
             "|---" * (len(groups) + 7) + "|"]
    for setting, row in results.items():
        rates = row["rates"]
        lines.append(f"| {setting.guidance:g} | {setting.tries} | {setting.candidates} | {setting.temperature:g} | "
                     f"**{np.mean(list(rates.values())):.1%}** | " + " | ".join(f"{rates[c]:.0%}" for c in groups)
                     + f" | {row['points']:.1f} | {row['seconds']:.0f} |")
    return lines + [""]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["quickdraw6", "spg20"], metavar="NAME",
                        help="bundled models of several categories (default: quickdraw6 spg20)")
    parser.add_argument("--guidance", nargs="+", type=float, default=[0.0, 4.0, 8.0, 16.0], metavar="G")
    parser.add_argument("--tries", nargs="+", type=int, default=[1, 3], metavar="N")
    parser.add_argument("--candidates", nargs="+", type=int, default=[GUIDANCE_CANDIDATES], metavar="K",
                        help=f"rows drawn per guided step, one kept (default: the sampler's, {GUIDANCE_CANDIDATES})")
    parser.add_argument("--temperature", nargs="+", type=float, default=[demo.DEFAULT_TEMPERATURE], metavar="T",
                        help=f"offset temperature (default: the demo's, {demo.DEFAULT_TEMPERATURE})")
    parser.add_argument("--per-category", type=int, default=100, metavar="N",
                        help="validation drawings per category, at most (default 100)")
    parser.add_argument("--out", type=Path, help="also write the tables here as markdown")
    arguments = parser.parse_args(argv)
    directories = {d.name: d for d in checkpoint.bundled_model_dirs()}
    bundled = {name: checkpoint.load_model(d) for name, d in directories.items()}
    unknown = [name for name in arguments.models if name not in bundled or "train_settings" not in bundled[name].metadata]
    if unknown:
        print(f"guidance: {', '.join(unknown)} is not a bundled model trained here", file=sys.stderr)
        return 2
    datasets = recognisability.own_decoder_data(bundled)
    recogniser = recognisability.cached_recogniser(datasets)
    lines = ["# Guidance, chosen on validation cuts", "",
             f"Written by `benchmarks/guidance.py` on {datetime.date.today().isoformat()} "
             f"(`python benchmarks/guidance.py {' '.join(sys.argv[1:] if argv is None else argv)}`); "
             f"{recognisability.machine()}. Top-1 of the recognisability yardstick on whole drawings (cut + ending); "
             f"demo settings otherwise (pen temperature {demo.PEN_TEMPERATURE}).",
             ""]
    for name in arguments.models:
        groups, results = recognisability.split_by_category(datasets[name], "valid"), {}
        for candidates in arguments.candidates:
            model = checkpoint.load_model(directories[name])  # a fresh sampler: the count is read when it compiles
            model.sampler.guidance_candidates = candidates
            for setting in itertools.starmap(Setting, itertools.product(arguments.guidance, arguments.tries,
                                                                        [candidates], arguments.temperature)):
                row = measure(model, groups, recogniser, setting, arguments.per_category)
                results[setting] = row
                print(f"{name} guidance {setting.guidance:g} tries {setting.tries} candidates {setting.candidates} "
                      f"temperature {setting.temperature:g}: mean {np.mean(list(row['rates'].values())):.1%} "
                      + " ".join(f"{c}={r:.0%}" for c, r in row["rates"].items())
                      + f" ({row['points']:.1f} points per ending, {row['seconds']:.0f} s)", flush=True)
        lines += table(name, groups, results, arguments.per_category)
    if arguments.out:
        arguments.out.write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
