"""Compare training runs on validation L_R: at equal steps, and at equal training time.

Reads each run directory's ``metrics.csv`` and ``train.json`` (written by ``sketchrnn train``). The first run
is the reference; for each other run it prints the settings that differ from the reference's, its speed
relative to the reference, and its validation L_R next to the reference's:

  * at equal steps (the same number of optimisation steps, so the same data seen);
  * at equal training time: the run's step count scaled by its speed relative to the reference, measured as
    the median seconds per step over the second half of each run, so runs that shared the machine (started
    together, as a tuning screen does) are compared in the same conditions.

Only validation figures are used: a tuning screen that read test L_R would be fitting the test split.

    python benchmarks/compare_runs.py runs/base runs/layer_norm runs/no_dropout [--every 1000] [--speed layer_norm=0.87]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

# Settings that differ between runs without changing what is trained.
IGNORED_SETTINGS = {"out", "max_minutes", "checkpoint_every", "log_every", "download"}


def read_run(directory: Path) -> dict:
    """The run's settings, its validation curve {step: L_R} and its seconds per step."""
    metrics, settings = directory / "metrics.csv", directory / "train.json"
    if not metrics.is_file() or not settings.is_file():
        raise SystemExit(f"{directory}: not a training run (no metrics.csv or train.json); "
                         "give the --out folders of `sketchrnn train`")
    with open(metrics, newline="") as handle:
        rows = list(csv.DictReader(handle))
    valid = {int(row["step"]): float(row["valid_loss"]) for row in rows if row["valid_loss"]}
    timed = [(int(row["step"]), float(row["elapsed_seconds"])) for row in rows if row["elapsed_seconds"]]
    if not valid or len(timed) < 4:
        raise SystemExit(f"{directory}: too few logged steps to compare yet")
    second_half = timed[len(timed) // 2:]
    per_step = [(t1 - t0) / (s1 - s0) for (s0, t0), (s1, t1) in zip(second_half, second_half[1:]) if s1 > s0 and t1 > t0]
    return {"name": directory.name, "settings": json.loads(settings.read_text()), "valid": valid,
            "seconds_per_step": statistics.median(per_step)}


def loss_at(curve: dict, step: float):
    """Validation L_R at ``step``, linearly interpolated between validations; None outside the curve."""
    steps = sorted(curve)
    if not steps or step < steps[0] or step > steps[-1]:
        return None
    for low, high in zip(steps, steps[1:]):
        if low <= step <= high:
            return curve[low] + (curve[high] - curve[low]) * (step - low) / (high - low)
    return curve[steps[-1]]


def changed_settings(reference: dict, run: dict) -> str:
    keys = sorted(k for k in set(reference) | set(run) if k not in IGNORED_SETTINGS and reference.get(k) != run.get(k))
    return ", ".join(f"{k} {reference.get(k)} -> {run.get(k)}" for k in keys) or "no change"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories; the first is the reference")
    parser.add_argument("--every", type=int, default=1000, help="print every this many steps (default 1000)")
    parser.add_argument("--speed", action="append", default=[], metavar="RUN=RATIO",
                        help="use RATIO (e.g. a quiet train_throughput.py figure) as the run named RUN's speed "
                             "relative to the reference, instead of the one measured in the runs: more than one "
                             "run per two cores shares the CPU by the scheduler's rules, not by each step's cost")
    arguments = parser.parse_args(argv)
    runs = [read_run(directory) for directory in arguments.runs]
    given = {}
    for item in arguments.speed:
        name, _, ratio = item.partition("=")
        try:
            given[name] = float(ratio)
        except ValueError:
            parser.error(f"--speed {item!r}: expected RUN=RATIO, e.g. layer_norm=0.87")
    unknown = set(given) - {run["name"] for run in runs[1:]}
    if unknown:
        parser.error(f"--speed names runs that are not compared: {', '.join(sorted(unknown))}")
    reference = runs[0]
    print(f"reference {reference['name']}: {reference['seconds_per_step']:.3f} s/step (median, second half), "
          f"last validation at step {max(reference['valid'])}")
    for run in runs[1:]:
        speed = given.get(run["name"], reference["seconds_per_step"] / run["seconds_per_step"])
        print(f"\n{run['name']}: {changed_settings(reference['settings'], run['settings'])}")
        print(f"  speed {run['seconds_per_step']:.3f} s/step in the run; used for equal time: {speed:.2f}x the "
              f"reference's{' (given)' if run['name'] in given else ''}")
        print(f"  {'step':>6} {'reference':>10} {run['name'][:12]:>12} {'diff':>8}   "
              f"| equal time: {'ref step':>8} {'reference':>10} {'diff':>8}")
        last = max(run["valid"])
        for step in range(arguments.every, last + 1, arguments.every):
            ours, theirs = loss_at(run["valid"], step), loss_at(reference["valid"], step)
            same_steps = f"{theirs:10.4f} {ours:12.4f} {ours - theirs:+8.4f}" if theirs is not None else \
                f"{'-':>10} {ours:12.4f} {'':>8}"
            equal = step / speed  # the reference's steps in the time this run took for `step`
            theirs_then = loss_at(reference["valid"], equal)
            same_time = f"{equal:8.0f} {theirs_then:10.4f} {ours - theirs_then:+8.4f}" if theirs_then is not None else ""
            print(f"  {step:6d} {same_steps}   | {same_time}")
        best = min(run["valid"], key=run["valid"].get)
        reference_by_then = {step: loss for step, loss in reference["valid"].items() if step <= last}
        reference_best = min(reference_by_then, key=reference_by_then.get)
        print(f"  best validation L_R up to step {last} (what the run keeps in best/): {run['valid'][best]:.4f} "
              f"at step {best}; the reference's {reference_by_then[reference_best]:.4f} at step {reference_best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
