"""Why a VAE's redrawings lose the drawing: how much its latent z carries, and whether its decoder listens.

On a VAE's own validation drawings (loaded as its training loaded them; never the test split):

  * **KL per dimension** of the posterior N(mu, sigma) against N(0, I), averaged over drawings: the total in nats,
    against the floor the training let it sit at (``kl_min`` x N_z: below it the KL term gives no gradient), and
    how many of the N_z dimensions are active (mean KL > 0.01 nats);
  * **how far apart encodings are**: the distance between two *different* drawings' means, against the distance
    between two samples of the *same* drawing's posterior. If the two are alike, z cannot tell drawings apart;
  * **whether the decoder uses z**: each drawing's log-likelihood per point under the decoder given its own z
    (the mean) and given other drawings' z (K shuffled), teacher-forced. If the gap is near 0, the decoder draws
    the same whatever z says; "own z best" is how often its own z explains the drawing best among K + 1
    (chance 1 / (K + 1)), overall and against drawings of the same category only.

    python benchmarks/vae_diagnosis.py [--model data/models/vae6] [--drawings 300] [--shuffled 7] [--seed 0]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from machine import cpu_line  # noqa: E402
from recognisability import load_model_data  # noqa: E402

from sketchrnn import checkpoint, strokes  # noqa: E402


def validation_drawings(model, count: int, seed: int):
    """Up to ``count`` validation drawings (stroke-3, normalised) in a seeded order, with each one's category
    (an index into the data's categories) and the id the decoder takes for it (0 when it is not conditioned)."""
    dataset = load_model_data(model)
    split = dataset.splits["valid"]
    order = np.random.default_rng(seed).permutation(len(split.drawings))[:count]
    drawings = [strokes.normalize(split.drawings[i], model.stats.scale_factor) for i in order]
    categories = split.category_ids[order]
    conditioned = model.config.num_categories > 1
    decoder_ids = np.array([model.category_id(dataset.categories[c]) if conditioned else 0 for c in categories])
    return drawings, categories, decoder_ids


def encode_all(model, drawings):
    """``(mu, sigma_hat)``, each ``[N, N_z]``: every drawing encoded alone (no padding reaches z)."""
    pairs = [model.network.encode(tf.constant(strokes.stroke3_to_stroke5(d)[1:][None])) for d in drawings]
    return (np.concatenate([np.asarray(pair[i]) for pair in pairs]) for i in (0, 1))


def kl_per_dimension(mu, sigma_hat) -> np.ndarray:
    """Mean KL(N(mu, sigma) || N(0, 1)) of each dimension over drawings, in nats: ``[N_z]``."""
    return (0.5 * (np.square(mu) + np.exp(sigma_hat) - 1.0 - sigma_hat)).mean(axis=0)


def distances(mu, sigma_hat, rng) -> tuple[float, float]:
    """Median distance between two different drawings' means, and between two posterior samples of one drawing."""
    count = len(mu)
    other = (np.arange(count) + rng.integers(1, count, count)) % count
    between = np.linalg.norm(mu - mu[other], axis=1)
    sigma = np.exp(sigma_hat / 2)
    first, second = (mu + sigma * rng.standard_normal(mu.shape) for _ in range(2))
    within = np.linalg.norm(first - second, axis=1)
    return float(np.median(between)), float(np.median(within))


def likelihoods_under(model, drawing, category_id: int, zs) -> np.ndarray:
    """Mean log-likelihood per point of one drawing, teacher-forced, under each z of ``zs [K, N_z]``: ``[K]``."""
    stroke5 = strokes.stroke3_to_stroke5(drawing)[:-1]  # start token and points, no end row
    ids = np.full(len(zs), category_id)
    return model.sampler.log_likelihoods(stroke5, ids, z=np.asarray(zs, np.float32)).mean(axis=-1)


def decoder_use_of_z(model, drawings, categories, decoder_ids, mu, shuffled: int, rng):
    """Per drawing: its log-likelihood gap (own z minus the mean of ``shuffled`` others') and whether its own z is
    the best of the K + 1, against any drawings and against drawings of its own category."""
    gaps, best_any, best_same = [], [], []
    for index, drawing in enumerate(drawings):
        same = np.flatnonzero(categories == categories[index])
        for pool, results in ((np.arange(len(drawings)), best_any), (same, best_same)):
            others = rng.choice(pool[pool != index], size=min(shuffled, len(pool) - 1), replace=False)
            zs = np.concatenate([mu[index:index + 1], mu[others]])
            scores = likelihoods_under(model, drawing, int(decoder_ids[index]), zs)
            results.append(scores[0] > scores[1:].max())
            if results is best_any:
                gaps.append(scores[0] - scores[1:].mean())
    return np.array(gaps), np.mean(best_any), np.mean(best_same)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="data/models/vae6", help="a VAE's model directory")
    parser.add_argument("--drawings", type=int, default=300, help="validation drawings (default 300)")
    parser.add_argument("--shuffled", type=int, default=7, help="other drawings' z to compare each with (default 7)")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    print(cpu_line())
    model = checkpoint.load_model(arguments.model)
    rng = np.random.default_rng(arguments.seed)
    drawings, categories, decoder_ids = validation_drawings(model, arguments.drawings, arguments.seed)
    mu, sigma_hat = encode_all(model, drawings)
    kl = kl_per_dimension(mu, sigma_hat)
    settings = model.metadata.get("train_settings", {})
    floor = settings.get("kl_min", float("nan")) * len(kl)
    print(f"{arguments.model}: {len(drawings)} validation drawings, N_z {len(kl)}, "
          f"category-conditioned decoder: {model.config.num_categories > 1}")
    print(f"KL: {kl.sum():.1f} nats in all ({kl.mean():.4f} per dimension) against the floor kl_min x N_z = "
          f"{floor:.1f}; active dimensions (mean KL > 0.01): {int((kl > 0.01).sum())} of {len(kl)}; "
          f"largest {np.sort(kl)[-5:][::-1].round(3).tolist()}")
    between, within = distances(mu, sigma_hat, rng)
    print(f"distance between two drawings' means: median {between:.3f}; between two samples of one drawing's "
          f"posterior: median {within:.3f}; ratio {between / within:.2f}")
    gaps, best_any, best_same = decoder_use_of_z(model, drawings, categories, decoder_ids, mu, arguments.shuffled, rng)
    chance = 1 / (arguments.shuffled + 1)
    print(f"decoder given its own z vs {arguments.shuffled} other drawings' z: log-likelihood per point higher by "
          f"median {np.median(gaps):.4f} (mean {gaps.mean():.4f}); own z best {best_any:.1%} against any drawings, "
          f"{best_same:.1%} against its own category's (chance {chance:.1%})")


if __name__ == "__main__":
    main()
