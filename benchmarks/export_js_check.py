"""Every bundled decoder, every category, exported for magenta.js: checked in magenta.js itself, and sampled again.

For each bundled decoder-only model (data/models) and each of its categories, ``sketchrnn models export-js``'s
file is written to a temporary folder and

  * **Node**: the real ``@magenta/sketch`` (tests/js/step_model.js; npm-installed into the download cache once)
    steps along the first held-out test drawing of the category (full length) and reports its mixture parameters and
    pen probabilities. Printed: the largest difference to what the file's int16 weights give (a NumPy reference:
    float32 arithmetic only), and the largest difference to the project's model as trained, as a fraction of the
    int16 rounding tolerance of tests/magenta_js.py (<= 1 passes; 1 is one step's worst case of the rounding).
  * **clip**: how many of the original's log sigmas along the drawing lie below its clip (-7 for models trained
    here), where the project's sampler clips and magenta.js does not.
  * **samples**: the exported file imported again (as ``models import``) samples with the same seeds as the
    original: ``--count`` drawings at each temperature. Two drawings make *the same choices* when they have the same
    pen states point for point and no offset (dx, dy) differs by 1 unit of the model's data frame or more (255 for
    ours: a different mixture component or pen state shows so); printed: how many do, the largest distance between
    their points (the rounding's drift, accumulated along the drawing), and for the others the median point where
    they part.

    python benchmarks/export_js_check.py [--models quickdraw6 spg20 magenta-pig] [--count 32] [--no-samples]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import numpy as np  # noqa: E402

from magenta_js import (  # noqa: E402
    as_raw,
    held_out_rows,
    reference_outputs,
    reference_weights,
    rounding_tolerance,
    run_in_node,
    scored_params,
)
from sketchrnn import checkpoint, files, magenta, sample, web  # noqa: E402
from sketchrnn.model.mixture import LOG_SIGMA_RANGE  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
TEMPERATURES = (0.4, 1.0)
MOVED = 1.0  # a point moved by this much (model's data units) or more makes two drawings differ


def decoders(names) -> list[Path]:
    """The bundled decoder-only model directories (or the named ones)."""
    found = [path for path in checkpoint.bundled_model_dirs()
             if files.read_json(path / checkpoint.CONFIG_FILE)["model"].get("kind", "decoder") == "decoder"]
    return [path for path in found if not names or path.name in names]


def rounding_fraction(got: dict, expected: dict, hidden_size: int) -> float:
    """The largest difference as a fraction of the rounding tolerance (log probabilities: of twice it)."""
    tolerance = rounding_tolerance(hidden_size)
    raw_got, raw_expected = as_raw(got), as_raw(expected)
    return max(float(np.max(np.abs(raw_got[key] - raw_expected[key]))) / ((2 if key.startswith("log_p") else 1) * tolerance)
               for key in raw_got)


def largest_difference(got: dict, expected: dict) -> float:
    return max(float(np.max(np.abs(got[key] - expected[key]))) for key in expected)


def as_rows(drawing) -> tuple[np.ndarray, np.ndarray]:
    """A drawing (polylines) as absolute points ``[N, 2]`` and pen lifts ``[N]`` (True after a stroke's last point)."""
    if not drawing:
        return np.zeros((0, 2)), np.zeros(0, bool)
    lifts = np.zeros(sum(len(stroke) for stroke in drawing), bool)
    lifts[np.cumsum([len(stroke) for stroke in drawing]) - 1] = True
    return np.concatenate(drawing), lifts


def parting_point(first, second) -> int | None:
    """None when two drawings make the same choices (see the module's docstring), else the point where they part."""
    (points_a, lifts_a), (points_b, lifts_b) = as_rows(first), as_rows(second)
    shared = min(len(points_a), len(points_b))
    offsets = [np.diff(points, axis=0, prepend=np.zeros((1, 2)))[:shared] for points in (points_a, points_b)]
    moved = np.flatnonzero(np.max(np.abs(offsets[0] - offsets[1]), axis=1) >= MOVED)
    lifted = np.flatnonzero(lifts_a[:shared] != lifts_b[:shared])
    candidates = [*moved[:1], *lifted[:1]] + ([shared] if len(points_a) != len(points_b) else [])
    return min(candidates) if candidates else None


def drift(first, second) -> float:
    """The largest distance between corresponding points of two drawings of the same length."""
    (points_a, _), (points_b, _) = as_rows(first), as_rows(second)
    return float(np.max(np.abs(points_a - points_b))) if len(points_a) else 0.0


def compare_samples(original, exported, category: str, count: int) -> list[str]:
    """Seeded samples of the original and the re-imported export, per temperature: one line each."""
    lines = []
    for temperature in TEMPERATURES:
        partings, drifts = [], []
        for seed in range(count // sample.MAX_ENDINGS):
            before = sample.sample(original, sample.MAX_ENDINGS, temperature=temperature, seed=seed, category=category)
            after = sample.sample(exported, sample.MAX_ENDINGS, temperature=temperature, seed=seed)
            for a, b in zip(before, after):
                partings.append(parting_point(a, b))
                drifts += [drift(a, b)] if partings[-1] is None else []
        differ = [p for p in partings if p is not None]
        lines.append(f"    temperature {temperature}: {len(drifts)} of {len(partings)} make the same choices"
                     + (f" (drift at most {max(drifts):.2f})" if drifts else "")
                     + (f"; the others part at point {np.median(differ):.0f} (median)" if differ else ""))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=None, help="bundled model names (default: every decoder)")
    parser.add_argument("--count", type=int, default=32, help="seeded samples per category and temperature "
                                                               "(a multiple of 16)")
    parser.add_argument("--no-samples", action="store_true", help="skip the seeded-sample comparison")
    arguments = parser.parse_args()
    modules = web.install_runtime(log=print)
    folder = Path(tempfile.mkdtemp(prefix="export-js-check-"))
    cases, started = [], time.time()
    for directory in decoders(arguments.models):
        model = checkpoint.load_model(directory)
        for category in model.categories:
            path = folder / f"{directory.name}-{category.replace(' ', '_')}.gen.json"
            path.write_text(magenta.gen_json_text(magenta.from_trained_model(model, category)))
            rows = held_out_rows(model, category, SHARED_DATA)
            cases.append((model, directory.name, category, path, rows))
    print(f"exported {len(cases)} categories of {len({c[1] for c in cases})} models in {time.time() - started:.0f} s; "
          f"stepping them in Node ({sum(len(c[4]) for c in cases)} rows)", flush=True)
    started = time.time()
    node = run_in_node([(path, rows) for _, _, _, path, rows in cases], modules)
    print(f"Node: {time.time() - started:.0f} s\n")
    worst_float, worst_fraction = 0.0, 0.0
    for (model, name, category, path, rows), predicted in zip(cases, node):
        float_difference = largest_difference(predicted, reference_outputs(reference_weights(path)[1], rows))
        trained = scored_params(model, rows, model.category_id(category))
        fraction = rounding_fraction(predicted, trained, model.config.hidden_size)
        worst_float, worst_fraction = max(worst_float, float_difference), max(worst_fraction, fraction)
        log_sigmas = np.log(np.concatenate([trained["sigma_x"], trained["sigma_y"]], axis=1))
        clipped = int(np.sum(log_sigmas < model.config.min_log_sigma))
        print(f"{name:<20} {category:<12} {len(rows):>4} rows  Node vs file {float_difference:.1e}  "
              f"vs as trained {fraction:.3f} of the tolerance  log sigma below the clip "
              f"{clipped} of {log_sigmas.size}" + (f" (min {log_sigmas.min():.2f})" if clipped else ""), flush=True)
        if not arguments.no_samples:
            print("\n".join(compare_samples(model, magenta.to_trained_model(magenta.read_gen_json(path), measure_size=False),
                                            category, arguments.count)), flush=True)
    print(f"\nworst: Node vs file {worst_float:.1e}; Node vs as trained {worst_fraction:.3f} of the rounding tolerance "
          f"({rounding_tolerance(512):.3f} on raw outputs for H = 512); default clip of log sigma {LOG_SIGMA_RANGE[0]}")


if __name__ == "__main__":
    main()
