"""Choosing each bundled model's drawing settings on validation cuts, and which model draws each category best.

For every bundled decoder (and, measured but never written, every magenta ``.gen.json`` in ../shared/data/magenta
that is not bundled), each category's first ``--per-category`` **validation** drawings are cut to their first 40% of
points and completed 4 ways at every setting of a small grid (temperature x guidance x pen temperature for a model
of several categories, which guidance steers; temperature x pen temperature, magenta.js's and 1.0, for a model of
one category; tries 1); the recognisability yardstick
(``recognisability.py``: its cached recogniser, trained on training splits only, its cuts and ``completed()``) names
each whole drawing, and the share named rightly is the setting's figure. Test splits are never read. An imported
model completes the validation drawings of the first own model that has its category (as recognisability.py does
with test drawings), so models of the same category are compared on the same cuts.

Per model it chooses the setting with the best mean over its categories, and a category's own setting where that
is at least ``--category-margin`` better for it; writes them into the model directory's config.json ("drawing") and
its MODEL_CARD.md (this script is the verb that writes them; ``sketchrnn models import`` writes magenta.js's
settings, see sketchrnn/drawing_settings.py). A model with no validation drawings here (magenta-cat) gets the
setting best on average over the imported one-category models that have some, and its card says so. Then it ranks,
per category, the models that draw it by their figure at their chosen settings on the shared cuts, and writes
data/models/drawing_ranking.json, which the demo reads to put the best first (a run over some ``--models`` merges
into it: the others keep their places, measured on the same cuts). ``--dry-run`` prints only.

    nice -n 10 python benchmarks/choose_drawing_settings.py [--per-category 40] [--models quickdraw6 magenta-pig ...]
        [--temperature 0.25 0.4 0.6] [--guidance 0 8] [--pen-temperature 1.0] [--one-category-pen-temperature 0.625 1]
        [--dry-run] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import recognisability  # noqa: E402  (benchmarks/ is on the path when this script runs)
from sketchrnn import checkpoint, drawing_settings, export, files  # noqa: E402
from sketchrnn.drawing_settings import DrawingSettings, ModelDrawingSettings  # noqa: E402

PER_CATEGORY = 40  # validation drawings per category (4 endings each): a cheap run on 2 shared cores
TEMPERATURES = (0.25, 0.4, 0.6)
GUIDANCES = (0.0, 8.0)  # for a model of several categories; one of one category draws without it (0)
PEN_TEMPERATURES = (1.0,)  # for a model of several categories (each pen temperature doubles its cost)
# for a model of one category (cheap): also magenta.js's pen temperature, which `models import` writes
ONE_CATEGORY_PEN_TEMPERATURES = (drawing_settings.MAGENTA_JS.pen_temperature, 1.0)
# A category gets its own setting only when that beats the model's by this much: with 40 cuts x 4 endings a share
# moves by about 0.04 from noise alone, and the best of six noisy shares sits above its true value.
CATEGORY_MARGIN = 0.08
RANKING_PATH = recognisability.ROOT / "data" / "models" / drawing_settings.RANKING_FILE


def grid(model, arguments) -> list[DrawingSettings]:
    """The settings tried for ``model``: guidance only where it steers (a model of several categories)."""
    several = len(model.categories) > 1
    guidances = arguments.guidance if several else [0.0]
    pens = arguments.pen_temperature if several else arguments.one_category_pen_temperature
    return [DrawingSettings(temperature=t, pen_temperature=p, guidance=g, tries=1)
            for t, g, p in itertools.product(arguments.temperature, guidances, pens)]


def cuts_for(entry, category: str, valid_sets: dict, per_category: int) -> tuple[str, list] | None:
    """(where the drawings come from, the cuts) an entry completes for a category; None without validation drawings."""
    held_out = recognisability.test_set_for(entry, category, valid_sets)
    if held_out is None:
        return None
    return held_out.source, [recognisability.cut_on_canvas(d) for d in held_out.drawings[:per_category]]


def recognised(model, category: str, cuts: list, settings: DrawingSettings, recogniser) -> float:
    """The share of the whole drawings (cut + ending, 4 endings a cut) the yardstick names ``category``."""
    completions = recognisability.completed(model, category, cuts, settings.tries, settings.guidance,
                                            settings.temperature, settings.pen_temperature)
    return recogniser.rates(recognisability.wholes(completions), category)["top1"]


def measure_entry(entry, valid_sets: dict, recogniser, arguments) -> dict:
    """``{category: {"source": ..., "count": n, "rates": {DrawingSettings: share}}}`` over the grid."""
    results = {}
    for category in entry.model.categories:
        found = cuts_for(entry, category, valid_sets, arguments.per_category)
        if found is None or category not in recogniser.categories:
            recognisability.log(f"{entry.name} / {category}: no validation drawings here, not measured")
            continue
        source, cuts = found
        rates = {}
        for settings in grid(entry.model, arguments):
            started = time.perf_counter()
            rates[settings] = recognised(entry.model, category, cuts, settings, recogniser)
            recognisability.log(f"{entry.name} / {category} ({source} validation, {len(cuts)} cuts): "
                                f"{settings.describe()}: {rates[settings]:.1%} ({time.perf_counter() - started:.0f} s)")
        results[category] = {"source": source, "count": len(cuts), "rates": rates}
    return results


def best(rates: dict) -> DrawingSettings:
    """The setting with the highest share; ties go to the earliest in the grid (lowest temperature, no guidance)."""
    return max(rates, key=lambda settings: (rates[settings], -list(rates).index(settings)))


def choose(results: dict, margin: float, note: str) -> ModelDrawingSettings:
    """One setting for the model (best mean over its categories), a category's own where it is ``margin`` better."""
    settings_tried = list(next(iter(results.values()))["rates"])
    mean = {s: float(np.mean([r["rates"][s] for r in results.values()])) for s in settings_tried}
    default = best(mean)
    own = {}
    for category, row in results.items():
        top = best(row["rates"])
        if row["rates"][top] >= row["rates"][default] + margin:
            own[category] = top
    shares = {c: row["rates"][own.get(c, default)] for c, row in results.items()}
    return ModelDrawingSettings(default, own, note, shares)


def borrowed(single: list[dict], note: str) -> ModelDrawingSettings | None:
    """For a one-category model with no validation drawings: the setting best on average over ``single``, the
    results of the one-category models measured here (None when there are none)."""
    rows = [row for results in single for row in results.values()]
    if not rows:
        return None
    settings_tried = [s for s in rows[0]["rates"] if all(s in row["rates"] for row in rows)]
    return ModelDrawingSettings(best({s: float(np.mean([row["rates"][s] for row in rows])) for s in settings_tried}),
                                {}, note)


def chosen_note(arguments, today: str) -> str:
    """What the model's card and config.json say about how its settings were chosen."""
    return (f"benchmarks/choose_drawing_settings.py on {today}: the first {arguments.per_category} validation drawings "
            f"of each category cut to 40% and completed 4 ways (never the test split), named by the recognisability "
            f"yardstick; grid temperature {'/'.join(f'{t:g}' for t in arguments.temperature)} x guidance "
            f"{'/'.join(f'{g:g}' for g in arguments.guidance)} x pen temperature "
            f"{'/'.join(f'{p:g}' for p in arguments.pen_temperature)} for models of several categories, "
            f"temperature x pen temperature {'/'.join(f'{p:g}' for p in arguments.one_category_pen_temperature)} for "
            f"one, tries 1; best mean over the categories, a "
            f"category's own setting where it was at least {arguments.category_margin * 100:g} points better")


def write_settings(model, chosen: ModelDrawingSettings) -> None:
    """The chosen settings into the model directory: config.json, then the card's "Drawing settings" section."""
    checkpoint.write_drawing_settings(model.path, chosen)
    card_path = model.path / export.CARD_FILE
    card = card_path.read_text() if card_path.is_file() else f"# {model.name}\n"
    checkpoint.atomic_write_text(card_path, drawing_settings.with_card_section(card, chosen.card_lines(model.categories)))


def ranking(entries: list, measured: dict, chosen: dict, valid_sets: dict, recogniser, arguments) -> dict:
    """``{category: [(model, share or None), ...]}``, best first, on each category's shared cuts (the first own model's
    validation drawings, which imported models complete); a model whose own cuts were others is measured again there
    at its chosen setting. Candidates (not bundled) are ranked too; the page's file leaves them out."""
    ranked: dict[str, list] = {}
    for entry in (e for e in entries if e.name in chosen):
        for category in entry.model.categories:
            row, share = measured.get(entry.name, {}).get(category), None
            shared = valid_sets[category][0] if row is not None else None
            if row is not None and row["source"] == shared.source:
                share = row["rates"][chosen[entry.name].for_category(category)]
            elif row is not None:
                cuts = [recognisability.cut_on_canvas(d) for d in shared.drawings[:arguments.per_category]]
                share = recognised(entry.model, category, cuts, chosen[entry.name].for_category(category), recogniser)
                recognisability.log(f"{entry.name} / {category} on {shared.source}'s cuts: {share:.1%}")
            ranked.setdefault(category, []).append((entry.name, share))
    return {category: sorted(models, key=lambda item: (item[1] is None, -(item[1] or 0.0), item[0]))
            for category, models in sorted(ranked.items())}


def merged(previous: dict, ranked: dict, measured: set) -> dict:
    """A run over some models (``--models``) merged into the previous ranking: the models measured now replace their
    own entries; the others keep theirs (from an earlier run with the same cuts: keep ``--per-category`` the same)."""
    combined = {category: [(n, s) for n, s in models if n not in measured] for category, models in previous.items()}
    for category, models in ranked.items():
        combined.setdefault(category, []).extend(models)
    return {category: sorted(models, key=lambda item: (item[1] is None, -(item[1] or 0.0), item[0]))
            for category, models in sorted(combined.items())}


def ranking_json(ranked: dict, candidates: set, note: str) -> str:
    """data/models/drawing_ranking.json: per category, the bundled models that draw it, best first."""
    return json.dumps({"chosen_by": note, "categories": {
        category: [{"model": name, "recognised": None if share is None else round(share, 4)}
                   for name, share in models if name not in candidates]
        for category, models in ranked.items()}}, indent=1) + "\n"


def report(measured: dict, chosen: dict, candidates: dict, ranked: dict, arguments, header: str) -> list[str]:
    """The figures, as markdown: per model the grid, the choice; per category the ranking; candidates beside."""
    lines = ["# Drawing settings chosen on validation cuts", "", header, ""]
    for name, results in measured.items():
        if not results:
            continue
        settings_tried = list(next(iter(results.values()))["rates"])
        lines += [f"## {name}" + (" (not bundled: measured only)" if name in candidates else ""), "",
                  "| temperature | guidance | pen | mean | " + " | ".join(results) + " |",
                  "|---" * (len(results) + 4) + "|"]
        for settings in settings_tried:
            shares = [row["rates"][settings] for row in results.values()]
            lines.append(f"| {settings.temperature:g} | {settings.guidance:g} | {settings.pen_temperature:g} | "
                         f"{np.mean(shares):.1%} | " + " | ".join(f"{s:.0%}" for s in shares) + " |")
        if name in chosen:
            picked = chosen[name]
            own = "; ".join(f"{c}: {s.describe()}" for c, s in picked.categories.items()) or "none"
            lines += ["", f"Chosen: {picked.default.describe()}; categories with their own: {own}; recognised at the "
                          f"chosen settings: mean {np.mean(list(picked.recognised.values())):.1%}."]
        lines.append("")
    lines += ["## Which model draws each category best (validation, chosen settings)", "",
              "| category | models, best first |", "|---|---|"]
    for category, models in ranked.items():
        cells = ", ".join(f"{n}{' (not bundled)' if n in candidates else ''} "
                          f"{'not measured' if s is None else f'{s:.1%}'}" for n, s in models)
        lines.append(f"| {category} | {cells} |")
    return lines + [""]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=None, metavar="NAME",
                        help="only these (bundled names, or magenta-NAME for an unbundled .gen.json); default: all")
    parser.add_argument("--per-category", type=int, default=PER_CATEGORY, metavar="N")
    parser.add_argument("--temperature", nargs="+", type=float, default=list(TEMPERATURES), metavar="T")
    parser.add_argument("--guidance", nargs="+", type=float, default=list(GUIDANCES), metavar="G")
    parser.add_argument("--pen-temperature", nargs="+", type=float, default=list(PEN_TEMPERATURES), metavar="P",
                        help="pen temperatures tried for models of several categories")
    parser.add_argument("--one-category-pen-temperature", nargs="+", type=float,
                        default=list(ONE_CATEGORY_PEN_TEMPERATURES), metavar="P",
                        help="pen temperatures tried for models of one category")
    parser.add_argument("--category-margin", type=float, default=CATEGORY_MARGIN, metavar="SHARE")
    parser.add_argument("--dry-run", action="store_true", help="print the figures; write nothing into data/models")
    parser.add_argument("--out", type=Path, help="also write the figures here as markdown")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    arguments = parse_args(argv)
    started, today = time.perf_counter(), datetime.date.today().isoformat()
    bundled = {d.name: checkpoint.load_model(d) for d in checkpoint.bundled_model_dirs()}
    try:
        entries = recognisability.select_entries(recognisability.model_entries(bundled), arguments.models)
    except ValueError as error:
        print(f"choose_drawing_settings: {error}", file=sys.stderr)
        return 2
    datasets = recognisability.own_decoder_data(bundled)
    recogniser = recognisability.cached_recogniser(datasets)
    valid_sets = recognisability.test_sets(datasets, split="valid")
    measured, candidates, entry_models = {}, set(), {}
    for entry in entries:
        entry.model = entry.load()
        if entry.model.config.kind != "decoder":
            continue
        entry_models[entry.name] = entry.model
        if entry.name not in bundled:
            entry.candidate = True
            candidates.add(entry.name)
        measured[entry.name] = measure_entry(entry, valid_sets, recogniser, arguments)
    note = chosen_note(arguments, today)
    chosen = {name: choose(results, arguments.category_margin, note) for name, results in measured.items() if results}
    single = [results for name, results in measured.items() if len(entry_models[name].categories) == 1 and results]
    fallback = borrowed(single, note + "; no validation drawings of this category here: the setting best on average "
                                       "over the one-category models measured in the same run")
    for name in (n for n, r in measured.items() if not r and n not in candidates and fallback is not None):
        chosen[name] = fallback
    ranked = ranking(entries, measured, chosen, valid_sets, recogniser, arguments)
    header = (f"Written by `benchmarks/choose_drawing_settings.py {' '.join(argv)}` on {today} "
              f"({(time.perf_counter() - started) / 60:.0f} min; {recognisability.machine()}). Top-1 of the "
              f"recognisability yardstick on whole drawings (cut + ending), {arguments.per_category} validation cuts "
              "per category, 4 endings each, seeds 0.., the demo's 400x400 canvas.")
    lines = report(measured, chosen, candidates, ranked, arguments, header)
    print("\n".join(lines))
    if arguments.out:
        arguments.out.write_text("\n".join(lines))
    if not arguments.dry_run:
        for name, picked in chosen.items():
            if name not in candidates:
                write_settings(bundled[name], picked)
                print(f"wrote {bundled[name].path / checkpoint.CONFIG_FILE}", file=sys.stderr)
        if arguments.models is not None:  # the other models keep their places (measured on the same cuts)
            ranked = merged(checkpoint.drawing_ranking(RANKING_PATH.parent), ranked, set(measured))
        files.atomic_write_text(RANKING_PATH, ranking_json(ranked, candidates, note))
        print(f"wrote {RANKING_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
