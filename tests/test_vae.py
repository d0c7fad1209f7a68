"""The VAE (Ha & Eck section 3): encoder shapes and masking, the KL term, its annealing, training and evaluation."""

import math
import shutil

import numpy as np
import pytest
import tensorflow as tf

from sketchrnn import checkpoint, strokes
from sketchrnn.model import ModelConfig, build_network, kl_annealing, kl_divergence, kl_term
from sketchrnn.train import Trainer, evaluate, load_training_data, new_model, read_settings, train

RNG = np.random.default_rng(7)


def vae_config(**changes):
    values = dict(hidden_size=24, num_mixtures=3, kind="vae", encoder_size=12, latent_size=6, recurrent_dropout=0.0)
    return ModelConfig(**{**values, **changes})


def drawing_rows(points: int, rng=RNG) -> np.ndarray:
    """The stroke-5 rows of a random drawing of ``points`` points, without the start token and end row."""
    stroke3 = np.column_stack([rng.normal(size=(points, 2)), np.zeros(points)]).astype(np.float32)
    stroke3[points // 2, 2] = stroke3[-1, 2] = 1
    return strokes.stroke3_to_stroke5(stroke3)[1:-1]


def padded(rows: np.ndarray, length: int) -> np.ndarray:
    """Rows followed by end rows (0, 0, 0, 0, 1) up to ``length``, as batches pad them."""
    out = np.zeros((length, 5), np.float32)
    out[:, 4] = 1
    out[: len(rows)] = rows
    return out


def test_encoder_gives_one_mean_and_sigma_hat_per_drawing():
    network = build_network(vae_config())
    batch = np.stack([padded(drawing_rows(n), 30) for n in (5, 17, 30)])
    mu, sigma_hat = network.encode(tf.constant(batch))
    assert mu.shape == sigma_hat.shape == (3, 6)
    outputs, mu_again, _ = network((tf.zeros([3, 30, 5]), tf.constant(batch), None))  # not training: z = mu
    assert outputs.shape == (3, 30, 6 * 3 + 3)
    np.testing.assert_allclose(mu_again, mu, atol=1e-6)


def test_a_padded_batch_encodes_each_drawing_as_it_would_alone():
    network = build_network(vae_config())
    drawings = [drawing_rows(n) for n in (4, 11, 23)]
    batch = np.stack([padded(d, 40) for d in drawings])
    mu, sigma_hat = (t.numpy() for t in network.encode(tf.constant(batch)))
    for i, rows in enumerate(drawings):
        alone_mu, alone_sigma_hat = network.encode(tf.constant(rows[None]))
        np.testing.assert_allclose(mu[i], alone_mu[0], atol=1e-5)
        np.testing.assert_allclose(sigma_hat[i], alone_sigma_hat[0], atol=1e-5)


def test_the_encoder_reads_both_directions_and_every_point():
    """Changing the first or the last point of a drawing changes z: the backward LSTM sees the start last."""
    network = build_network(vae_config())
    rows = drawing_rows(12)
    base = network.encode(tf.constant(rows[None]))[0].numpy()
    for index in (0, len(rows) - 1):
        changed = rows.copy()
        changed[index, :2] += 3.0
        assert np.abs(network.encode(tf.constant(changed[None]))[0].numpy() - base).max() > 1e-4


def test_kl_term_matches_the_closed_form_of_two_gaussians():
    mu = RNG.normal(size=(4, 6)).astype(np.float32)
    sigma_hat = RNG.normal(size=(4, 6)).astype(np.float32)
    sigma2 = np.exp(sigma_hat)
    # KL(N(mu, sigma^2) || N(0, 1)) = log(1 / sigma) + (sigma^2 + mu^2) / 2 - 1/2, per dimension, averaged over N_z
    closed = (-0.5 * np.log(sigma2) + (sigma2 + mu**2) / 2 - 0.5).mean(axis=1)
    np.testing.assert_allclose(kl_divergence(mu, sigma_hat), closed, rtol=1e-5)
    assert float(kl_divergence(np.zeros((1, 6), np.float32), np.zeros((1, 6), np.float32))[0]) == 0.0
    # below KL_min the term is constant: no gradient pushes z towards the prior
    low = tf.Variable(np.full((2, 6), 0.05, np.float32))
    with tf.GradientTape() as tape:
        term = kl_term(kl_divergence(low, tf.zeros_like(low)), 0.5, kl_min=0.2)
    gradient = tape.gradient(term, low)
    assert float(term) == pytest.approx(0.1) and (gradient is None or not np.any(gradient))


def test_kl_annealing_follows_the_paper():
    assert float(kl_annealing(0, 0.01, 0.99995)) == pytest.approx(0.01)
    assert float(kl_annealing(10_000, 0.01, 0.99995)) == pytest.approx(1 - 0.99 * 0.99995**10_000, rel=1e-5)
    assert float(kl_annealing(10**7, 0.01, 0.99995)) == pytest.approx(1.0)
    values = [float(kl_annealing(step, 0.01, 0.9998)) for step in (0, 100, 1000, 5000)]
    assert values == sorted(values)


def test_decoder_start_folds_z_into_the_bias_exactly():
    """One decoder step from decoder_start (bias with z folded in) equals the network's step with z fed as input."""
    network = build_network(vae_config(num_categories=3))
    z = RNG.normal(size=(2, 6)).astype(np.float32)
    ids = np.array([2, 0])
    rows = RNG.normal(size=(2, 1, 5)).astype(np.float32)
    sequence, _ = network.lstm(network.lstm_inputs(tf.constant(rows), tf.constant(ids), tf.constant(z)),
                               initial_state=network.initial_state(tf.constant(z)))
    bias, hidden, cell = network.decoder_start(ids, z)
    gates = rows[:, 0] @ network.lstm.kernel.numpy()[:5] + hidden.numpy() @ network.lstm.recurrent_kernel.numpy() + bias
    i, f, g, o = np.split(gates, 4, axis=1)
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    expected = sigmoid(o) * np.tanh(sigmoid(f) * cell.numpy() + sigmoid(i) * np.tanh(g))
    np.testing.assert_allclose(sequence.numpy()[:, 0], expected, atol=1e-5)
    with pytest.raises(ValueError, match="latent vector z"):
        network.decoder_start(ids)


def test_a_decoder_only_model_has_no_latent():
    network = build_network(ModelConfig(hidden_size=8, num_mixtures=2))
    with pytest.raises(ValueError, match="no latent"):
        network.decoder_start([0], np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match="kind"):
        ModelConfig(kind="gan").validate()


def pig(shared_data):
    return [str(shared_data / "quickdraw_sketchrnn_pig_2200.npz")]


def test_a_vae_learns_saves_resumes_and_reports_kl(shared_data, tiny_vae, tmp_path):
    # the run the tiny_vae fixture trained (30 steps, checkpoints every 15), copied: this test resumes its copy
    shutil.copytree(tiny_vae.parent, tmp_path / "run")
    settings = read_settings(tmp_path / "run")  # its out: the copy
    assert (settings.model, settings.latent_size, settings.kl_decay_rate, settings.steps) == ("vae", 8, 0.99, 30)
    dataset, stats = load_training_data(settings)
    trainer = Trainer(settings, new_model(settings, dataset, stats), tf.distribute.get_strategy())
    assert trainer.model.config.kind == "vae" and trainer.model.config.num_categories == 1
    assert float(trainer.kl_weight(0)) == pytest.approx(0.5 * 0.01)
    assert float(trainer.kl_weight(1000)) == pytest.approx(0.5 * (1 - 0.99 * 0.99**1000))

    assert checkpoint.read_state(checkpoint.latest_checkpoint(tmp_path / "run"))["step"] == 30
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    first, last = (dict(zip(header, row.split(","))) for row in (rows[1], rows[-1]))
    assert len(rows) == 31 and last["step"] == "30"
    assert float(first["kl_weight"]) < float(last["kl_weight"]) <= 0.5
    assert float(last["kl_loss"]) >= 0 and float(last["valid_kl_loss"]) >= 0
    assert float(last["valid_loss"]) < 3.0  # L_R of an untrained decoder is ~4-5 on pigs

    model = checkpoint.load_model(tmp_path / "run" / "best")
    assert model.config.kind == "vae" and model.config.latent_size == 8
    result = evaluate(tmp_path / "run" / "best", pig(shared_data))
    assert math.isfinite(result["loss"]) and result["kl_loss"] >= 0
    assert set(result["per_category"]["pig"]) >= {"loss", "offset_loss", "pen_loss", "kl_loss"}

    settings.steps = 40
    assert train(settings, log=lambda *_: None)["step"] == 40  # resumed from step 30's checkpoint
    assert tiny_vae.parent.joinpath("metrics.csv").read_text().count("\n") == 31, "the fixture's own run is untouched"
