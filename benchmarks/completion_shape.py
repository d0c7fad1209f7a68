"""What completions draw, next to what people drew: why ours are recognised less often than magenta's.

For each category that one of our models and one of magenta's both serve, every model completes the same
held-out test drawings cut to their first 40% of points (4 endings each, at the demo's settings, exactly as
``benchmarks/recognisability.py`` does, with its cached recogniser). Per model it prints

  * how often the recogniser names the category for the whole (prime + ending), and what else it names most;
  * how much the ending draws: its ink (summed line length) over the cut's ink, and its strokes and points;
  * where it draws: the whole drawing's extent (longer side of its bounding box) over the cut's;
  * how often an ending runs to the model's point cap (scribbling on, never ending);

and the same for the people's own endings (the remaining 60% of each drawing). Medians, with the quartiles
of the ink ratio. Temperatures, tries, guidance and the prime's point density can be changed to probe the sampling;
the recogniser only measures, nothing in the package uses it.

    python benchmarks/completion_shape.py [--categories pig "alarm clock"] [--per-category 60]
    python benchmarks/completion_shape.py --pen-temperature 0.7 --out /tmp/shape_pen07.md
    python benchmarks/completion_shape.py --tries 1 --guidance 0 --out /tmp/shape_first_drawn.md
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import shlex
import sys
import time
from pathlib import Path

import numpy as np

import recognisability as yardstick  # benchmarks/ is on the path when this file runs
from sketchrnn import checkpoint, demo, sample

DOC_PATH = yardstick.ROOT / "docs" / "quality" / "completion_shape.md"
PER_CATEGORY = 60
COMMAND = "TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/completion_shape.py"


def ink(polylines) -> float:
    """Summed length of the lines, in canvas pixels."""
    return float(sum(np.linalg.norm(np.diff(p, axis=0), axis=1).sum() for p in polylines if len(p) > 1))


def extent(polylines) -> float:
    """The longer side of the bounding box, in canvas pixels."""
    points = np.concatenate([np.asarray(p, np.float64).reshape(-1, 2) for p in polylines])
    return float(np.ptp(points, axis=0).max())


@dataclasses.dataclass
class Row:
    """One model (or the people) on one category's cuts."""

    name: str
    recognised: float  # top-1 of the whole drawings (the people's: their complete drawings)
    ink_ratio: np.ndarray  # ending ink / cut ink, one per ending
    strokes: np.ndarray  # strokes per ending
    points: np.ndarray  # points per ending, at the model's own point density (the people's: their data's)
    extent_ratio: np.ndarray  # whole extent / cut extent, one per ending
    at_cap: float  # share of endings that ran to the point cap
    named: list  # [(category, share)] the recogniser's commonest top-1 names for the wholes


def people_row(drawings: list, people: list, cuts: list, recogniser, category: str) -> Row:
    """The people's own endings: the points of each drawing after its cut (their strokes: pen lifts after it)."""
    rest = [np.asarray(d)[yardstick.cut_length(d):] for d in drawings]
    cut_inks = np.array([ink(c) for c in cuts])
    ink_ratio = (np.array([ink(p) for p in people]) - cut_inks) / np.maximum(cut_inks, 1e-6)
    return Row("people", recogniser.rates(people, category)["top1"], ink_ratio,
               np.array([int(r[:, 2].sum()) for r in rest]), np.array([len(r) for r in rest]),
               np.array([extent(p) / max(extent(c), 1e-6) for p, c in zip(people, cuts)]), 0.0, [])


def model_row(name: str, model, category: str, cuts: list, recogniser, arguments) -> Row:
    """A model's endings of every cut, at the given temperatures (the demo's by default)."""
    wholes, ratios, counts, points, extents, capped = [], [], [], [], [], 0
    completions = yardstick.completed(model, category, cuts, arguments.tries, arguments.guidance,
                                      arguments.temperature, arguments.pen_temperature)
    for cut, completion in zip(cuts, completions):
        prime_rows = len(sample.canvas_to_model(cut, model, demo.CANVAS_SIZE)[0])
        cap = max(model.config.max_length - prime_rows, sample.MIN_ENDING_STEPS)
        for ending in completion.endings:
            whole = list(completion.prime) + list(ending)
            wholes.append(whole)
            ratios.append(ink(ending) / max(ink(cut), 1e-6))
            counts.append(len(ending))
            points.append(sum(len(s) for s in ending))
            extents.append(extent(whole) / max(extent(cut), 1e-6))
            capped += points[-1] >= cap
    top = recogniser.top_k(wholes, 1)[:, 0]
    named = collections.Counter(recogniser.categories[i] for i in top).most_common(4)
    return Row(name, float(np.mean([recogniser.categories[i] == category for i in top])), np.array(ratios),
               np.array(counts), np.array(points), np.array(extents), capped / len(wholes),
               [(c, n / len(wholes)) for c, n in named])


def table(category: str, source: str, rows: list[Row], floor: float) -> list[str]:
    lines = [f"### {category} ({len(rows[0].ink_ratio)} of {source}'s test drawings, cut to 40%; the cuts alone are "
             f"recognised {floor:.0%})", "",
             "| who ends it | recognised | ending ink / cut ink | strokes | points (own density) "
             "| whole extent / cut's | at the cap | the recogniser names |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        q1, median, q3 = np.quantile(row.ink_ratio, [0.25, 0.5, 0.75])
        named = ", ".join(f"{c} {share:.0%}" for c, share in row.named)
        lines.append(f"| {row.name} | {row.recognised:.0%} | {median:.2f} ({q1:.2f}–{q3:.2f}) | "
                     f"{np.median(row.strokes):.0f} | {np.median(row.points):.0f} | "
                     f"{np.median(row.extent_ratio):.2f} | {row.at_cap:.0%} | {named} |")
    return lines + [""]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--categories", nargs="+", metavar="NAME",
                        help="categories to measure (default: every one that an own model and a magenta model serve)")
    parser.add_argument("--per-category", type=int, default=PER_CATEGORY,
                        help=f"test drawings cut and completed per category (default {PER_CATEGORY})")
    parser.add_argument("--temperature", type=float, default=demo.DEFAULT_TEMPERATURE,
                        help=f"offset temperature (default: the demo's, {demo.DEFAULT_TEMPERATURE})")
    parser.add_argument("--pen-temperature", type=float, default=demo.PEN_TEMPERATURE,
                        help=f"pen-state temperature (default: the demo's, {demo.PEN_TEMPERATURE})")
    parser.add_argument("--tries", type=int, default=demo.DEFAULT_TRIES,
                        help=f"endings drawn per ending kept by a model of several categories (default: the demo's, "
                             f"{demo.DEFAULT_TRIES}; 1: the first drawn)")
    parser.add_argument("--guidance", type=float, default=demo.DEFAULT_GUIDANCE,
                        help=f"guidance of a model of several categories (default: the demo's, {demo.DEFAULT_GUIDANCE:g}; "
                             "0: plain sampling)")
    parser.add_argument("--simplify-epsilon", type=float,
                        help="read the prime at this RDP epsilon (0-255 units) instead of each model's own")
    parser.add_argument("--out", type=Path, help=f"markdown report (default {DOC_PATH.relative_to(yardstick.ROOT)}, "
                                                 "only at the demo's settings)")
    arguments = parser.parse_args(argv)
    if arguments.per_category < 1:
        parser.error("--per-category must be at least 1")
    probing = (arguments.temperature, arguments.pen_temperature, arguments.tries, arguments.guidance) != (
        demo.DEFAULT_TEMPERATURE, demo.PEN_TEMPERATURE, demo.DEFAULT_TRIES, demo.DEFAULT_GUIDANCE
    ) or arguments.simplify_epsilon is not None
    if probing and arguments.out is None:
        parser.error(f"settings other than the demo's need --out: {DOC_PATH.relative_to(yardstick.ROOT)} "
                     "describes the demo")
    arguments.out = arguments.out or DOC_PATH
    return arguments


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    arguments = parse_args(argv)
    started = time.perf_counter()
    bundled = {d.name: checkpoint.load_model(d) for d in checkpoint.bundled_model_dirs()}
    entries = yardstick.model_entries(bundled)
    for entry in entries:
        entry.model = entry.load()  # once: an imported file not bundled is converted at each load
    entries = [e for e in entries if e.model.config.kind == "decoder"]
    datasets = {e.name: yardstick.load_model_data(e.model) for e in entries if e.own}
    network, categories, _ = yardstick.load_or_train_recogniser(datasets, retrain=False)
    recogniser, tests = yardstick.Recogniser(network, categories), yardstick.test_sets(datasets)
    served = {c: [e for e in entries if c in e.model.categories] for c in categories}
    both = [c for c, found in served.items() if any(e.own for e in found) and any(not e.own for e in found)]
    wanted = arguments.categories or both
    unknown = [c for c in wanted if c not in tests]
    if unknown:
        print(f"completion_shape: no test drawings of {', '.join(unknown)}; choose from {', '.join(sorted(tests))}",
              file=sys.stderr)
        return 2
    lines = ["# What completions draw, next to people's endings", "",
             "Written by `benchmarks/completion_shape.py`. Each model completes the same test drawings cut to their "
             "first 40% of points (the first own model's test split of the category; our other models are left out "
             "where their training split holds any of those drawings). Medians over the endings; ink is summed line "
             "length; \"at the cap\": endings that ran to the model's point cap instead of ending.", "",
             f"- Command: `{f'{COMMAND} {shlex.join(argv)}' if argv else COMMAND}`",
             f"- Date: {datetime.date.today().isoformat()}; code: {yardstick.code_version()}",
             f"- Settings: temperature {arguments.temperature}, pen temperature {arguments.pen_temperature}, "
             f"{demo.DEFAULT_ENDINGS} endings a cut (a model of several categories: "
             + (f"chosen from {arguments.tries} tries each by its own guess" if arguments.tries > 1 else "the first drawn")
             + (f", each step guided, guidance {arguments.guidance:g}" if arguments.guidance > 0 else ", unguided")
             + f"), canvas {demo.CANVAS_SIZE[0]}x{demo.CANVAS_SIZE[1]}, prime read at "
             + ("each model's own point density" if arguments.simplify_epsilon is None
                else f"RDP epsilon {arguments.simplify_epsilon} (0-255 units)"), "",
             "## Reading", "", yardstick.READING_START,
             yardstick.kept_reading(arguments.out) or "(to be written after reading the tables)",
             yardstick.READING_END, ""]
    for category in wanted:
        test = tests[category][0]
        chosen = test.drawings[:arguments.per_category]
        people = [yardstick.on_canvas(d)[0] for d in chosen]
        cuts = [yardstick.cut_on_canvas(d) for d in chosen]
        rows = [people_row(chosen, people, cuts, recogniser, category)]
        for entry in served[category]:
            model = entry.model
            if entry.own and entry.name != test.source and yardstick.leaked_test_drawings(
                    model, {category: [test]}, datasets[entry.name]):
                yardstick.log(f"{entry.name} / {category}: left out, it trained on some of {test.source}'s "
                              "test drawings")
                continue
            if arguments.simplify_epsilon is not None:
                model.stats = dataclasses.replace(model.stats, simplify_epsilon=arguments.simplify_epsilon)
            rows.append(model_row(entry.name, model, category, cuts, recogniser, arguments))
            yardstick.log(f"{entry.name} / {category}: recognised {rows[-1].recognised:.0%}")
        lines += table(category, test.source, rows, recogniser.rates(cuts, category)["top1"])
    lines.append(f"Run time {(time.perf_counter() - started) / 60:.1f} min.")
    yardstick.write_report(arguments.out, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
