"""The drawing defaults on TEST cuts: the page's settings before each model had its own, against the defaults now.

For pig, face, alarm clock, radio, eye and mouth (issue 33's six), the first ``--per-category`` test drawings of the
first own model that has the category (the cuts recognisability.py's imported models complete, so every model
completes the same cuts) are cut to 40% and completed 4 ways, and the recognisability yardstick names each whole
drawing. Before: every decoder bundled before issue 33 at the page's settings then (temperature 0.4, pen
temperature 1.0, guidance 8, tries 1); the best of them is "today's best". Now: every bundled decoder at its own
settings for the category (``sample.complete`` with none given: config.json's "drawing"), and the model the demo's
menu puts first (data/models/drawing_ranking.json, chosen on validation). Nothing here chooses anything: the
settings and the ranking were chosen on validation cuts by benchmarks/choose_drawing_settings.py.

    nice -n 10 python benchmarks/defaults_on_test.py [--per-category 100] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import recognisability  # (benchmarks/ is on the path when this script runs)
from sketchrnn import checkpoint
from sketchrnn.drawing_settings import DrawingSettings, resolved

CATEGORIES = ("pig", "face", "alarm clock", "radio", "eye", "mouth")
PAGE_BEFORE = DrawingSettings(temperature=0.4, pen_temperature=1.0, guidance=8.0, tries=1)
BUNDLED_BEFORE = ("magenta-alarm_clock", "magenta-cat", "magenta-pig", "quickdraw6", "spg20")  # decoders, before #33


def share(model, category: str, cuts: list, settings: DrawingSettings | None, recogniser) -> float:
    """Share of the whole drawings named ``category``; ``settings`` None: the model's own (none given)."""
    given = (None, None, None, None) if settings is None else (
        settings.tries, settings.guidance, settings.temperature, settings.pen_temperature)
    completions = recognisability.completed(model, category, cuts, *given)
    return recogniser.rates(recognisability.wholes(completions), category)["top1"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-category", type=int, default=recognisability.PER_CATEGORY, metavar="N")
    parser.add_argument("--out", type=Path, help="also write the table here as markdown")
    arguments = parser.parse_args(argv)
    bundled = {d.name: checkpoint.load_model(d) for d in checkpoint.bundled_model_dirs()}
    decoders = {name: model for name, model in bundled.items() if model.config.kind == "decoder"}
    datasets = recognisability.own_decoder_data(decoders)
    recogniser = recognisability.cached_recogniser(datasets)
    tests, ranking = recognisability.test_sets(datasets), checkpoint.drawing_ranking()
    lines = ["| category | test cuts | before: each model at the page's settings (T 0.4, pen 1, guidance 8) | now: each "
             "model at its own settings | the menu's first now |", "|---|---|---|---|---|"]
    before_best, now_first = [], []
    for category in CATEGORIES:
        held_out = tests[category][0]
        cuts = [recognisability.cut_on_canvas(d) for d in held_out.drawings[:arguments.per_category]]
        drawing = {name: model for name, model in decoders.items() if category in model.categories}
        before = {name: share(drawing[name], category, cuts, PAGE_BEFORE, recogniser)
                  for name in BUNDLED_BEFORE if name in drawing}
        now = {name: (before[name] if resolved(model, category) == PAGE_BEFORE and name in before
                      else share(model, category, cuts, None, recogniser)) for name, model in drawing.items()}
        first = ranking[category][0][0]
        before_best.append(max(before.values()))
        now_first.append(now[first])
        recognisability.log(f"{category}: before {before}, now {now}")
        lines.append(f"| {category} | {held_out.source}, {len(cuts)} | "
                     + ", ".join(f"{n} {s:.1%}" for n, s in sorted(before.items(), key=lambda i: -i[1])) + " | "
                     + ", ".join(f"{n} {s:.1%}" for n, s in sorted(now.items(), key=lambda i: -i[1]))
                     + f" | {first} {now[first]:.1%} |")
    lines.append(f"| **mean** | | best {np.mean(before_best):.1%} | | **{np.mean(now_first):.1%}** |")
    print("\n".join(lines))
    if arguments.out:
        arguments.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
