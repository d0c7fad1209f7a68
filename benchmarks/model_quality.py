"""Measured quality of trained models: test L_R, sample grids, completions, and "what are you drawing?".

For each model directory given (default: every bundled model under data/models/), on the test split
of the model's own training data (the same deterministic split; never used for training or model
selection):

  * L_R per category (Ha & Eck eqs. 9-11, padded to N_max);
  * a grid of unconditional samples per category at two temperatures -> docs/quality/<model>/samples_<cat>_t<T>.svg;
  * completions of 8 test drawings per category: the first 40% of points as the prime, 4 endings
    each -> docs/quality/<model>/completions_<cat>.svg (rows: drawings; columns: endings);
  * "what are you drawing?": top-1 / top-3 accuracy of the likelihood ranking on test drawings cut to
    their first 50% of points, across all categories of all given models, against chance.

Writes docs/quality/<name>.md with the numbers (and prints them).

    python benchmarks/model_quality.py [MODEL_DIR ...] [--out docs/quality] [--guess-per-category 50]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


from sketchrnn import checkpoint, sample, strokes, svg  # noqa: E402
from sketchrnn.data import load_dataset  # noqa: E402
from sketchrnn.train import evaluate, training_data_options  # noqa: E402

TEMPERATURES = (0.2, 0.6)
PEN_TEMPERATURE = 1.0  # as the demo and the CLI default (see docs/design.md, "Sampling")
COMPLETION_DRAWINGS, ENDINGS, PRIME_FRACTION, GUESS_FRACTION = 8, 4, 0.4, 0.5


def prefix(drawing, fraction: float):
    """The first ``fraction`` of a stroke-3 drawing's points (at least 2), as absolute polylines."""
    count = max(2, int(round(len(drawing) * fraction)))
    return strokes.stroke3_to_polylines(drawing[:count])


def data_canvas(model) -> tuple[float, float]:
    """The canvas size that maps data-unit drawings onto exactly the model's normalisation."""
    side = model.stats.typical_extent * model.stats.scale_factor / sample.CANVAS_FILL
    return side, side


def write_samples(model, out: Path) -> list[str]:
    """Sample grids per category and temperature; returns markdown lines."""
    lines = []
    for category in model.categories:
        cells = []
        for temperature in TEMPERATURES:
            drawings = sample.sample(model, 16, temperature=temperature, seed=1, category=category,
                                     pen_temperature=PEN_TEMPERATURE, guidance=0.0, tries=1)
            name = f"samples_{category.replace(' ', '_')}_t{temperature}.svg"
            svg.save_svg(svg.grid_svg(drawings, columns=8, cell_size=96), out / name)
            cells.append(f"![{category} at temperature {temperature}]({out.name}/{name})")
        lines.append(f"| {category} | {' | '.join(cells)} |")
    return ["| category | " + " | ".join(f"temperature {t}" for t in TEMPERATURES) + " |",
            "|---|" + "---|" * len(TEMPERATURES), *lines]


def drawings_of(test, names, category, count):
    """The first ``count`` test drawings of a category."""
    return [d for d, c in zip(test.drawings, test.category_ids) if names[c] == category][:count]


def write_completions(model, test, names, out: Path) -> list[str]:
    """Completion grids of held-out drawings per category; returns markdown lines."""
    lines = []
    for category in model.categories:
        chosen = drawings_of(test, names, category, COMPLETION_DRAWINGS)
        items = []
        for index, drawing in enumerate(chosen):
            completion = sample.complete(model, prefix(drawing, PRIME_FRACTION), ENDINGS, temperature=0.3,
                                         seed=index, category=category, canvas_size=data_canvas(model),
                                         pen_temperature=PEN_TEMPERATURE, guidance=0.0, tries=1)
            items += [(completion.prime, ending) for ending in completion.endings]
        name = f"completions_{category.replace(' ', '_')}.svg"
        svg.save_svg(svg.grid_svg(items, columns=ENDINGS, cell_size=110), out / name)
        lines.append(f"**{category}**: ![completions of {category}]({out.name}/{name})")
    return lines


def guess_accuracy(models, tests, per_category: int) -> tuple[float, float, int, int]:
    """Top-1 and top-3 accuracy of :func:`sample.guess` on half drawings; (top1, top3, drawings, categories)."""
    top1 = top3 = total = 0
    categories = sorted({c for m in models for c in m.categories})
    for model, (test, names) in zip(models, tests):
        for category in model.categories:
            for drawing in drawings_of(test, names, category, per_category):
                ranked = [name for name, _ in sample.guess(models, prefix(drawing, GUESS_FRACTION), top=3,
                                                           canvas_size=data_canvas(model))]
                top1 += ranked[0] == category
                top3 += category in ranked
                total += 1
    return top1 / total, top3 / total, total, len(categories)


def report(model_dir: Path, out_root: Path) -> tuple:
    """Measure one model, write its files; returns (model, (test split, names), markdown lines)."""
    model = checkpoint.load_model(model_dir)
    sources = model.metadata["data"]
    options = training_data_options(model)
    losses = evaluate(model_dir, sources, **options)
    dataset = load_dataset(sources, max_length=model.config.max_length, **options)
    test, names = dataset.splits["test"], list(dataset.categories)
    out = out_root / model.name
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"## {model.name}", "", f"Hidden size {model.config.hidden_size}, step {model.step}; "
             f"data: {', '.join(Path(s).name for s in sources)}.", "",
             "| category | test drawings | L_R | L_s | L_p |", "|---|---|---|---|---|"]
    for name, part in [*losses["per_category"].items(), ("all", losses)]:
        lines.append(f"| {name} | {part['drawings']} | {part['loss']:.4f} | {part['offset_loss']:.4f} | {part['pen_loss']:.4f} |")
    lines += ["", f"### Samples (16 per grid, seed 1, pen temperature {PEN_TEMPERATURE})", "",
              *write_samples(model, out), "",
              f"### Completions: first {PRIME_FRACTION:.0%} of {COMPLETION_DRAWINGS} test drawings (black), "
              f"{ENDINGS} endings each (red), temperature 0.3, pen temperature {PEN_TEMPERATURE}", "",
              *write_completions(model, test, names, out), ""]
    return model, (test, names), lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", type=Path, help="model directories (default: the bundled models)")
    parser.add_argument("--out", type=Path, default=Path("docs/quality"), help="where to write (default docs/quality)")
    parser.add_argument("--guess-per-category", type=int, default=50, help="test drawings per category for guessing")
    parser.add_argument("--name", default="README", help="markdown file name under --out (default README)")
    arguments = parser.parse_args(argv)
    directories = arguments.models or checkpoint.bundled_model_dirs()
    results = [report(directory, arguments.out) for directory in directories]
    models, tests = [r[0] for r in results], [r[1] for r in results]
    top1, top3, total, categories = guess_accuracy(models, tests, arguments.guess_per_category)
    guess_lines = ["## What are you drawing?", "",
                   f"Likelihood ranking over {categories} categories ({', '.join(sorted({c for m in models for c in m.categories}))}) "
                   f"of {total} test drawings cut to their first {GUESS_FRACTION:.0%} of points: "
                   f"top-1 accuracy **{top1:.1%}**, top-3 **{top3:.1%}**; chance is {1 / categories:.1%} / "
                   f"{min(3, categories) / categories:.1%}.", ""]
    text = "\n".join(["# Measured quality", "", "Reproduce: `python benchmarks/model_quality.py "
                      + " ".join(str(d) for d in arguments.models) + "`", "",
                      *[line for r in results for line in r[2]], *guess_lines])
    arguments.out.mkdir(parents=True, exist_ok=True)
    (arguments.out / f"{arguments.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
