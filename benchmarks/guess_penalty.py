"""Choosing the guess calibration's L2 penalty (and weighting) by cross-validation on validation drawings only.

``sketchrnn.calibration`` fits a temperature per model and an offset and a length slope per (model,
category) with a small L2 penalty on the offsets and slopes. This script picks that penalty the way the
calibration is meant to be tuned: on the *validation* drawings (and the stand-ins of categories that
have none), split by drawing into ``--folds`` folds; each fold is guessed by a calibration fitted on the
others. It prints, per penalty, the held-out cross-entropy (all, complete, cut), top-1 (all examples,
and the cut ones), the mean over categories and the weakest category with real drawings when cut;
``--balanced`` also fits with every category weighed alike instead of every drawing, ``--with-exponents``
also with a length exponent per model (``calibrate-guess --length-exponents``). Test splits are never read.

    python benchmarks/guess_penalty.py [--per-category 250] [--folds 5] [--penalties 0 1e-5 1e-4 1e-3 1e-2] [--balanced]
    python benchmarks/guess_penalty.py --penalties 0 1e-5 1e-4 --balanced --with-exponents  # what length exponents change
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from sketchrnn import calibration, demo  # noqa: E402


def category_logits(fitted: calibration.Fitted, keys, scores, points, categories) -> np.ndarray:
    """``[E, C]`` calibrated logits, one vote per category (its best key), as ``sample.guess`` ranks them."""
    table = fitted.calibration()
    logits = np.full((len(scores), len(categories)), -np.inf)
    for k, key in enumerate(keys):
        model_name, category = key.split("/", 1)
        column = table.logits(model_name, [category], scores[:, k], points[:, k])
        index = categories.index(category)
        logits[:, index] = np.maximum(logits[:, index], column)
    return logits


def cross_validate(keys, scores, points, labels, penalty: float, folds: int, balanced: bool = False,
                   stand_in_categories=(), seed: int = 0, length_exponents: bool = calibration.LENGTH_EXPONENTS) -> dict:
    """Held-out cross-entropy, top-1 (all, cut), the mean over categories and the weakest category's top-1
    when cut (of the categories with real drawings), over ``folds`` folds; a drawing's two examples stay together."""
    labels = np.asarray(labels)
    categories = sorted(set(labels))
    drawing = np.arange(len(labels)) // 2  # canvas_examples gives each drawing complete, then cut
    fold = np.random.default_rng(seed).integers(0, folds, drawing.max() + 1)[drawing]
    is_cut = np.arange(len(labels)) % 2 == 1
    losses, hits = np.zeros(len(labels)), np.zeros(len(labels), bool)
    for k in range(folds):
        train, held = fold != k, fold == k
        fitted = calibration.fit(keys, scores[train], points[train], list(labels[train]), penalty=penalty, balanced=balanced,
                                 length_exponents=length_exponents)
        logits = category_logits(fitted, keys, scores[held], points[held], categories)
        target = np.array([categories.index(c) for c in labels[held]])
        log_probabilities = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        losses[held] = -log_probabilities[np.arange(len(target)), target]
        hits[held] = logits.argmax(axis=1) == target
    cut_by_category = {c: hits[is_cut & (labels == c)].mean() for c in categories if c not in stand_in_categories}
    weakest = min(cut_by_category, key=cut_by_category.get)
    return {"cross_entropy": losses.mean(), "cut_cross_entropy": losses[is_cut].mean(),
            "complete_cross_entropy": losses[~is_cut].mean(), "top1": hits.mean(), "cut_top1": hits[is_cut].mean(),
            "mean_of_categories": np.mean([hits[labels == c].mean() for c in categories]),
            "weakest_cut": f"{weakest} {cut_by_category[weakest]:.0%}"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-category", type=int, default=250, help="validation drawings per category, at most (default 250)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument("--penalties", type=float, nargs="+", default=[0.0, 1e-5, 1e-4, 1e-3, 1e-2])
    parser.add_argument("--balanced", action="store_true", help="also fit with every category weighed alike")
    parser.add_argument("--with-exponents", action="store_true",
                        help="also fit a length exponent per model (calibrate-guess --length-exponents), to compare")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    models = demo.load_models()
    drawings, stand_ins = calibration.examples_to_fit(models, arguments.per_category)
    examples, labels = calibration.canvas_examples(drawings)
    print(f"models: {', '.join(m.name for m in models)}; {len(examples)} examples of {len(drawings)} categories "
          f"(stand-ins: {stand_ins or 'none'}); shipped penalty {calibration.PENALTY:g}", flush=True)
    keys, scores, points = calibration.score_table(
        models, examples, progress=lambda done, total: print(f"scored {done}/{total}", file=sys.stderr, flush=True))
    print("| penalty | weighting | length exponents | held-out cross-entropy (complete; cut) | top-1 | top-1 cut to 40% "
          "| mean of categories | weakest real cut |")
    print("|---|---|---|---|---|---|---|---|")
    for exponents in (False, True) if arguments.with_exponents else (calibration.LENGTH_EXPONENTS,):
        for balanced in (False, True) if arguments.balanced else (False,):
            for penalty in arguments.penalties:
                result = cross_validate(keys, scores, points, labels, penalty, arguments.folds, balanced,
                                        {key.split("/", 1)[1] for key in stand_ins}, length_exponents=exponents)
                print(f"| {penalty:g} | {'categories alike' if balanced else 'drawings alike'} | {'fitted' if exponents else '0'} | "
                      f"{result['cross_entropy']:.4f} ({result['complete_cross_entropy']:.4f}; {result['cut_cross_entropy']:.4f}) | "
                      f"{result['top1']:.1%} | {result['cut_top1']:.1%} | {result['mean_of_categories']:.1%} | "
                      f"{result['weakest_cut']} |", flush=True)
    print(f"{arguments.folds}-fold, by drawing; {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
