"""Does a VAE's Redraw keep the drawing? Recognised as its category, and closer to its own input than to others.

On the test split of the VAE's own data (loaded as its training loaded it: nothing here was trained on), per
category, ``--per-category`` people's drawings, each redrawn ``--redrawings`` times as the page's Redraw does it
(decoded from the encoding's mean, temperature 0.4, pen temperature 1.0, on the page's 400 x 400 canvas; a VAE
conditioned on the category is told the drawing's category, as the page tells it the category chosen in the menu):

  * **recognised**: how often the recogniser (``recognisability.py``: a CNN trained on the bundled decoders'
    training splits only, a yardstick that takes no part in drawing) names the drawing's category for a redrawing;
    beside it, the same for the people's drawings themselves (the ceiling);
  * **resemblance**: the drawings of a category in groups of 20; a redrawing is compared with the 20 inputs of its
    group by the recogniser's penultimate features (its 128-unit hidden layer, cosine similarity), and it is a hit
    when the closest input is its own. Chance is 1 in 20 = 5%. These features come from a network that learned
    the categories, not this VAE, and they see the whole drawing as a picture (where the head is, how wide the
    body, how many legs) without any of the VAE's own units: a redrawing that keeps the person's drawing lands
    nearer it than the 19 others of the same category. For scale, the same measure for the inputs themselves,
    slightly rotated and stretched (the recogniser's own augmentation), is printed beside it: what a redrawing
    that kept every line would score.

    python benchmarks/vae_resemblance.py [--models data/models/vae6 runs/vae6d/best] [--per-category 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import recognisability  # noqa: E402
from machine import cpu_line  # noqa: E402

from sketchrnn import checkpoint, demo, morph  # noqa: E402

GROUP = 20  # drawings a redrawing is told apart from (chance 1 / GROUP)
SEED = 0


def features_model(recogniser):
    """The recogniser up to its hidden dense layer (before dropout and the logits): 128 features a drawing."""
    import keras

    network = recogniser.network
    hidden = next(layer for layer in network.layers if isinstance(layer, keras.layers.Dense))
    return keras.Model(network.inputs, hidden.output)


def features(extractor, drawings) -> np.ndarray:
    """Unit-length features ``[N, 128]`` of drawings given as polylines."""
    values = extractor.predict(recognisability.raster_batch(drawings), batch_size=256, verbose=0)
    return values / np.maximum(np.linalg.norm(values, axis=1, keepdims=True), 1e-9)


def closest_is_own(redrawn: np.ndarray, inputs: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """For each redrawing's features, whether the nearest of its group's inputs (cosine) is its own input.
    ``owner[i]`` is the index of the input row i came from; the group is the GROUP inputs around it."""
    hits = []
    for row, own in zip(redrawn, owner):
        start = own // GROUP * GROUP
        group = inputs[start:start + GROUP]
        hits.append(start + int(np.argmax(group @ row)) == own)
    return np.asarray(hits)


def redrawings(model, people, category, count: int) -> list:
    """``count`` redrawings of each drawing as the page makes them, in drawing order."""
    redrawn = []
    for index, drawing in enumerate(people):
        redrawn += morph.reconstruct(model, recognisability.as_payload(drawing), n=count,
                                     temperature=demo.DEFAULT_TEMPERATURE, seed=SEED + index,
                                     category=demo.vae_category(model, category), canvas_size=demo.CANVAS_SIZE,
                                     pen_temperature=demo.PEN_TEMPERATURE).redrawings
    return redrawn


def measure(model, tests, recogniser, extractor, per_category: int, count: int) -> dict:
    """Per category: recognised (people's, redrawings), resemblance (augmented inputs, redrawings), seconds."""
    rng = np.random.default_rng(SEED)
    rows = {}
    for category in model.categories:
        test = tests[category]
        people = [recognisability.on_canvas(d)[0] for d in test[:per_category - per_category % GROUP]]
        started = time.perf_counter()
        redrawn = redrawings(model, people, category, count)
        seconds = time.perf_counter() - started
        inputs = features(extractor, people)
        owner = np.repeat(np.arange(len(people)), count)
        augmented = [recognisability.augmented(d, rng) for d in people]
        rows[category] = {
            "drawings": len(people),
            "people": recogniser.rates(people, category)["top1"],
            "recognised": recogniser.rates(redrawn, category)["top1"],
            "resemblance": float(closest_is_own(features(extractor, redrawn), inputs, owner).mean()),
            "augmented": float(closest_is_own(features(extractor, augmented), inputs, np.arange(len(people))).mean()),
            "seconds": seconds,
        }
        row = rows[category]
        print(f"  {category}: recognised {row['recognised']:.1%} (people {row['people']:.1%}), resemblance "
              f"{row['resemblance']:.1%} (augmented inputs {row['augmented']:.1%}), {seconds:.0f} s", flush=True)
    return rows


def table(results: dict) -> str:
    names = list(results)
    lines = ["| category | people's drawings recognised | " + " | ".join(
        f"{name}: recognised / resemblance" for name in names) + " |", "|---" * (2 + len(names)) + "|"]
    categories = list(next(iter(results.values())))
    for category in categories:
        first = results[names[0]][category]
        lines.append(f"| {category} | {first['people']:.1%} | " + " | ".join(
            f"{results[n][category]['recognised']:.1%} / {results[n][category]['resemblance']:.1%}" for n in names)
            + " |")
    means = {n: (np.mean([r["recognised"] for r in results[n].values()]),
                 np.mean([r["resemblance"] for r in results[n].values()])) for n in names}
    people = np.mean([r["people"] for r in results[names[0]].values()])
    lines.append(f"| **mean** | {people:.1%} | " + " | ".join(
        f"**{means[n][0]:.1%} / {means[n][1]:.1%}**" for n in names) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", type=Path, default=[recognisability.ROOT / "data" / "models" / "vae6"],
                        help="VAE model folders (default: the bundled vae6)")
    parser.add_argument("--per-category", type=int, default=60, metavar="N",
                        help="test drawings a category, rounded down to groups of 20 (default 60)")
    parser.add_argument("--redrawings", type=int, default=2, metavar="K", help="redrawings a drawing (default 2)")
    parser.add_argument("--out", type=Path, help="also write the table here as markdown")
    arguments = parser.parse_args(argv)
    print(cpu_line(), flush=True)
    bundled = {d.name: checkpoint.load_model(d) for d in checkpoint.bundled_model_dirs()}
    decoders = {name: model for name, model in bundled.items() if model.config.kind == "decoder"}
    recogniser = recognisability.cached_recogniser(recognisability.own_decoder_data(decoders))
    extractor = features_model(recogniser)
    results = {}
    for path in arguments.models:
        model = checkpoint.load_model(path)
        if model.config.kind != "vae":
            sys.exit(f"{path} is a {model.config.kind}, not a VAE")
        tests = recognisability.split_by_category(recognisability.load_model_data(model), "test")
        print(f"{model.name} ({path}, step {model.step}):", flush=True)
        results[f"{model.name} step {model.step}"] = measure(model, tests, recogniser, extractor,
                                                             arguments.per_category, arguments.redrawings)
    text = table(results) + f"\n\nChance resemblance: {1 / GROUP:.0%}. {cpu_line()}\n"
    print(text)
    if arguments.out:
        arguments.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
