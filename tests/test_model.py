"""The network, its loss, and saving / loading model directories."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from sketchrnn import checkpoint, strokes
from sketchrnn.model import (
    ModelConfig,
    TrainedModel,
    build_network,
    layer_norm_lstm_sequence,
    lstm_sequence,
    reconstruction_loss,
)
from sketchrnn.model import lstm
from sketchrnn.model.lstm import MIN_CHAIN_BATCH, _chain_sizes
from sketchrnn.strokes import DataStats


def numpy_reconstruction_loss(outputs, targets, m):
    """An independent, loop-by-loop computation of L_R (Ha & Eck eqs. 9-11) for one drawing."""
    total_offset, total_pen = 0.0, 0.0
    for out, target in zip(outputs, targets):
        pen_logits = out[:3]
        pi_logits, mu_x, mu_y, log_sx, log_sy, rho_raw = (out[3 + i * m : 3 + (i + 1) * m] for i in range(6))
        pi = np.exp(pi_logits) / np.exp(pi_logits).sum()
        sx, sy, rho = np.exp(log_sx), np.exp(log_sy), np.tanh(rho_raw)
        density = 0.0
        for j in range(m):
            zx, zy = (target[0] - mu_x[j]) / sx[j], (target[1] - mu_y[j]) / sy[j]
            z = zx**2 + zy**2 - 2 * rho[j] * zx * zy
            density += pi[j] * math.exp(-z / (2 * (1 - rho[j] ** 2))) / (2 * math.pi * sx[j] * sy[j] * math.sqrt(1 - rho[j] ** 2))
        if target[4] == 0:
            total_offset -= math.log(density)
        q = np.exp(pen_logits) / np.exp(pen_logits).sum()
        total_pen -= float(np.sum(target[2:] * np.log(q)))
    return total_offset / len(targets), total_pen / len(targets)


def test_loss_matches_independent_numpy_computation():
    m = 2
    rng = np.random.default_rng(3)
    outputs = rng.normal(scale=0.5, size=(1, 4, 6 * m + 3)).astype(np.float32)
    targets = np.array([[[0.5, -0.2, 1, 0, 0], [1.0, 0.3, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1]]], np.float32)
    offset, pen = reconstruction_loss(tf.constant(outputs), tf.constant(targets), m)
    expected_offset, expected_pen = numpy_reconstruction_loss(outputs[0], targets[0], m)
    assert float(offset[0]) == pytest.approx(expected_offset, rel=1e-5)
    assert float(pen[0]) == pytest.approx(expected_pen, rel=1e-5)
    # N_max as an argument divides the same sums by a longer padded length
    offset_250, _ = reconstruction_loss(tf.constant(outputs), tf.constant(targets), m, n_max=250)
    assert float(offset_250[0]) == pytest.approx(expected_offset * 4 / 250, rel=1e-5)


def test_loss_stays_finite_for_extreme_outputs():
    m = 20
    outputs = np.zeros((2, 3, 6 * m + 3), np.float32)
    outputs[0] = 80.0  # huge sigma logits, rho near 1
    outputs[1] = -80.0  # tiny sigma
    targets = np.tile(np.array([1e3, -1e3, 1, 0, 0], np.float32), (2, 3, 1))
    offset, pen = reconstruction_loss(tf.constant(outputs), tf.constant(targets), m)
    assert np.all(np.isfinite(offset.numpy())) and np.all(np.isfinite(pen.numpy()))


def reference_lstm(inputs, weights, hidden, cell, mask):
    """The LSTM written out step by step in plain TensorFlow ops, for autodiff to differentiate."""
    hiddens = []
    for row in tf.unstack(inputs):
        operand = tf.concat([hidden * mask, row, tf.ones_like(row[:, :1])], axis=1)
        i, f, g, o = tf.split(tf.matmul(operand, weights), 4, axis=1)
        cell = tf.sigmoid(f) * cell + tf.sigmoid(i) * tf.tanh(g)
        hidden = tf.sigmoid(o) * tf.tanh(cell)
        hiddens.append(hidden)
    return tf.stack(hiddens), cell


@pytest.mark.parametrize(
    "batch, compiled",
    [(3, False), (1, True), (3, True), (17, False), (17, True)],  # 17: two chains of 8 and 9; compiled: unknown batch
)
def test_hand_written_lstm_gradient_matches_autodiff(batch, compiled):
    rng = np.random.default_rng(0)
    steps, units, width = 7, 8, 5
    inputs = tf.constant(rng.normal(size=(steps, batch, width)).astype(np.float32))
    weights = tf.constant(rng.normal(scale=0.3, size=(units + width + 1, 4 * units)).astype(np.float32))
    hidden0 = tf.constant(rng.normal(size=(batch, units)).astype(np.float32))
    cell0 = tf.constant(rng.normal(size=(batch, units)).astype(np.float32))
    mask = tf.constant((rng.random((batch, units)) > 0.3).astype(np.float32) / 0.7)
    loss_weights = tf.constant(rng.normal(size=(steps, batch, units)).astype(np.float32))

    def gradients(function, inputs, hidden0, cell0, mask, loss_weights):
        with tf.GradientTape() as tape:
            tape.watch([inputs, weights, hidden0, cell0])
            hiddens, last_cell = function(inputs, weights, hidden0, cell0, mask)
            loss = tf.reduce_sum(tf.sin(hiddens) * loss_weights) + tf.reduce_sum(last_cell**2)
        return [hiddens, last_cell, *tape.gradient(loss, [inputs, weights, hidden0, cell0])]

    arguments = (inputs, hidden0, cell0, mask, loss_weights)
    if compiled:  # in a graph with unknown batch and length, as the trainer traces it
        unknown = [tf.TensorSpec([None, None, width]), *[tf.TensorSpec([None, units])] * 3, tf.TensorSpec([None, None, units])]
        ours = tf.function(lambda *args: gradients(lstm_sequence, *args), input_signature=unknown)(*arguments)
    else:
        ours = gradients(lstm_sequence, *arguments)
    for value, expected in zip(ours, gradients(reference_lstm, *arguments)):
        np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("norm", [False, True])
def test_lstm_gradient_at_lengths_around_the_padding_buckets(monkeypatch, norm):
    """A sequence is padded to a multiple of LENGTH_BUCKET steps and the loops run only its real ones: lengths
    below, at and just past a multiple, all through one graph traced for unknown lengths, as the trainer's."""
    monkeypatch.setattr(lstm, "LENGTH_BUCKET", 4)
    rng = np.random.default_rng(3)
    batch, units, width = 17, 8, 5
    weights = tf.constant(rng.normal(scale=0.3, size=(units + width + 1, 4 * units)).astype(np.float32))
    norm_weights = tf.constant(np.concatenate([1.0 + rng.normal(scale=0.2, size=4 * units), rng.normal(size=4 * units),
                                               1.0 + rng.normal(scale=0.2, size=units), rng.normal(size=units)]),
                               tf.float32)
    mask = tf.constant((rng.random((batch, units)) > 0.3).astype(np.float32) / 0.7)
    state = tf.constant(rng.normal(size=(batch, units)).astype(np.float32))
    ours_function = layer_norm_lstm_sequence if norm else lstm_sequence
    reference = reference_layer_norm_lstm if norm else reference_lstm

    def gradients(function, inputs):
        with tf.GradientTape() as tape:
            tape.watch([inputs, weights, norm_weights])
            extra = [norm_weights] if norm else []
            hiddens, last_cell = function(inputs, weights, *extra, state, state, mask)
            loss = tf.reduce_sum(tf.sin(hiddens) * tf.range(1.0, 1.0 + units)) + tf.reduce_sum(last_cell**2)
        return [hiddens, last_cell, *tape.gradient(loss, [inputs, weights, *extra])]

    ours = tf.function(lambda inputs: gradients(ours_function, inputs), input_signature=[tf.TensorSpec([None, batch, width])])
    for steps in (1, 3, 4, 5, 8):
        inputs = tf.constant(rng.normal(size=(steps, batch, width)).astype(np.float32))
        for value, expected in zip(ours(inputs), gradients(reference, inputs)):
            np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=1e-4, atol=2e-5, err_msg=f"{steps} steps")


def reference_layer_norm(values, gain, shift, blocks, epsilon=1e-3):
    """magenta's layer_norm_all / layer_norm: normalise each of ``blocks`` blocks, then gain and shift."""
    shaped = tf.reshape(values, [tf.shape(values)[0], blocks, -1])
    mean, variance = tf.nn.moments(shaped, axes=[2], keepdims=True)
    return tf.reshape((shaped - mean) / tf.sqrt(variance + epsilon), tf.shape(values)) * gain + shift


def reference_layer_norm_lstm(inputs, weights, norm_weights, hidden, cell, mask):
    """magenta's LayerNormLSTMCell (Gal-style dropout on h, as ours) in plain TensorFlow ops, for autodiff."""
    units = hidden.shape[1]
    gate_gain, gate_shift, cell_gain, cell_shift = tf.split(norm_weights, [4 * units, 4 * units, units, units])
    hiddens = []
    for row in tf.unstack(inputs):
        operand = tf.concat([hidden * mask, row, tf.ones_like(row[:, :1])], axis=1)
        z = reference_layer_norm(tf.matmul(operand, weights), gate_gain, gate_shift, 4)
        i, f, g, o = tf.split(z, 4, axis=1)
        cell = tf.sigmoid(f) * cell + tf.sigmoid(i) * tf.tanh(g)
        hidden = tf.sigmoid(o) * tf.tanh(reference_layer_norm(cell, cell_gain, cell_shift, 1))
        hiddens.append(hidden)
    return tf.stack(hiddens), cell


@pytest.mark.parametrize("batch, compiled", [(3, False), (1, True), (17, False), (17, True)])
def test_layer_norm_lstm_gradient_matches_autodiff(batch, compiled):
    rng = np.random.default_rng(2)
    steps, units, width = 6, 8, 5
    normal = lambda *shape, scale=1.0: tf.constant(rng.normal(scale=scale, size=shape).astype(np.float32))  # noqa: E731
    inputs, weights = normal(steps, batch, width), normal(units + width + 1, 4 * units, scale=0.3)
    norm_weights = tf.concat([1.0 + normal(4 * units, scale=0.2), normal(4 * units, scale=0.3),
                              1.0 + normal(units, scale=0.2), normal(units, scale=0.3)], axis=0)
    hidden0, cell0, loss_weights = normal(batch, units), normal(batch, units), normal(steps, batch, units)
    mask = tf.constant((rng.random((batch, units)) > 0.3).astype(np.float32) / 0.7)

    def gradients(function, inputs, hidden0, cell0, mask, loss_weights):
        with tf.GradientTape() as tape:
            tape.watch([inputs, weights, norm_weights, hidden0, cell0])
            hiddens, last_cell = function(inputs, weights, norm_weights, hidden0, cell0, mask)
            loss = tf.reduce_sum(tf.sin(hiddens) * loss_weights) + tf.reduce_sum(last_cell**2)
        return [hiddens, last_cell, *tape.gradient(loss, [inputs, weights, norm_weights, hidden0, cell0])]

    arguments = (inputs, hidden0, cell0, mask, loss_weights)
    if compiled:  # in a graph with unknown batch and length, as the trainer traces it
        unknown = [tf.TensorSpec([None, None, width]), *[tf.TensorSpec([None, units])] * 3, tf.TensorSpec([None, None, units])]
        ours = tf.function(lambda *args: gradients(layer_norm_lstm_sequence, *args), input_signature=unknown)(*arguments)
    else:
        ours = gradients(layer_norm_lstm_sequence, *arguments)
    names = ["hiddens", "last cell", "d inputs", "d weights", "d norm weights", "d hidden", "d cell"]
    for name, value, expected in zip(names, ours, gradients(reference_layer_norm_lstm, *arguments)):
        np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=1e-4, atol=2e-5, err_msg=name)


def test_layer_norm_model_trains_and_old_configs_load():
    """The option builds a layer-normalised network whose loss falls; a config.json without the field loads plain."""
    config = ModelConfig(hidden_size=16, num_mixtures=3, layer_norm=True)
    network = build_network(config)
    assert any(weight.path.endswith("lstm/layer_norm") for weight in network.weights)
    rng = np.random.default_rng(0)
    stroke5 = np.zeros((4, 9, 5), np.float32)
    stroke5[..., :2], stroke5[..., 2] = rng.normal(size=(4, 9, 2)), 1.0
    optimizer = keras.optimizers.Adam(1e-2)
    losses = []
    for _ in range(5):
        with tf.GradientTape() as tape:
            outputs, _ = network(tf.constant(stroke5[:, :-1]), training=True)
            loss = tf.reduce_mean(tf.add_n(reconstruction_loss(outputs, tf.constant(stroke5[:, 1:]), 3)))
        optimizer.apply_gradients(zip(tape.gradient(loss, network.trainable_weights), network.trainable_weights))
        losses.append(float(loss))
    assert losses[-1] < losses[0]
    old = {k: v for k, v in ModelConfig().to_dict().items() if k != "layer_norm"}
    assert ModelConfig.from_dict(old).layer_norm is False


def test_lstm_batch_runs_as_two_chains_only_when_large():
    assert len(_chain_sizes(tf.zeros([2 * MIN_CHAIN_BATCH - 1, 4]))) == 1
    assert [int(size) for size in _chain_sizes(tf.zeros([2 * MIN_CHAIN_BATCH + 1, 4]))] == [MIN_CHAIN_BATCH, MIN_CHAIN_BATCH + 1]


def test_lstm_gradient_without_a_last_cell_gradient():
    """Training uses only the hidden sequence: the last cell's gradient arrives as None."""
    rng = np.random.default_rng(1)
    inputs = tf.constant(rng.normal(size=(4, 2, 5)).astype(np.float32))
    weights = tf.constant(rng.normal(scale=0.3, size=(6 + 5 + 1, 24)).astype(np.float32))
    state, mask = tf.zeros([2, 6]), tf.ones([2, 6])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([inputs, weights])
        ours = tf.reduce_sum(lstm_sequence(inputs, weights, state, state, mask)[0])
        expected = tf.reduce_sum(reference_lstm(inputs, weights, state, state, mask)[0])
    for ours_gradient, expected_gradient in zip(tape.gradient(ours, [inputs, weights]), tape.gradient(expected, [inputs, weights])):
        np.testing.assert_allclose(ours_gradient.numpy(), expected_gradient.numpy(), rtol=1e-4, atol=1e-5)


def test_lstm_forward_matches_keras_lstm():
    config = ModelConfig(hidden_size=16, num_mixtures=3, recurrent_dropout=0.0)
    network = build_network(config)
    reference = keras.layers.LSTM(16, return_sequences=True)
    reference.build((None, None, 5))
    reference.set_weights([network.lstm.kernel.numpy(), network.lstm.recurrent_kernel.numpy(), network.lstm.bias.numpy()])
    for batch in (2, 21):  # one chain, and two chains of 10 and 11
        inputs = np.random.default_rng(1).normal(size=(batch, 9, 5)).astype(np.float32)
        ours, (last_hidden, last_cell) = network.lstm(tf.constant(inputs))
        np.testing.assert_allclose(ours.numpy(), reference(inputs).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(last_hidden.numpy(), ours.numpy()[:, -1], rtol=1e-6)


def test_config_round_trip_and_unknown_field():
    config = ModelConfig(hidden_size=64, num_categories=3, recurrent_dropout=0.2)
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="unknown model config fields"):
        ModelConfig.from_dict({**config.to_dict(), "hiden_size": 3})
    with pytest.raises(ValueError, match="recurrent_dropout"):
        ModelConfig(recurrent_dropout=1.5).validate()


def small_model(categories=("pig",)):
    config = ModelConfig(hidden_size=16, num_mixtures=3, num_categories=len(categories))
    return TrainedModel(build_network(config), config, DataStats(12.5, 9.0, 40.0), list(categories))


def test_model_directory_round_trip(tmp_path):
    model = small_model(("pig", "face"))
    model.step = 42
    checkpoint.save_model(model, tmp_path / "m")
    loaded = checkpoint.load_model(tmp_path / "m")
    assert loaded.categories == ["pig", "face"] and loaded.step == 42
    assert loaded.config == model.config and loaded.stats == model.stats
    for a, b in zip(model.network.weights, loaded.network.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir()), "no temporary directory is left behind"
    # a model saved before simplify_epsilon existed loads with QuickDraw's tolerance
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    del config["stats"]["simplify_epsilon"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    assert checkpoint.load_model(tmp_path / "m").stats.simplify_epsilon == strokes.RDP_EPSILON


def test_corrupt_model_directories_give_clear_errors(tmp_path):
    model = small_model()
    good = checkpoint.save_model(model, tmp_path / "good")
    with pytest.raises(ValueError, match="does not exist"):
        checkpoint.load_model(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no model"):
        checkpoint.load_model(empty)

    def broken(name, damage):
        directory = tmp_path / name
        checkpoint.save_model(model, directory)
        damage(directory)
        return directory

    cases = {
        "no_weights": (lambda d: (d / "weights.npz").unlink(), "weights.npz .* missing"),
        "truncated": (lambda d: (d / "weights.npz").write_bytes((good / "weights.npz").read_bytes()[:200]), "corrupt"),
        "bad_json": (lambda d: (d / "config.json").write_text("{not json"), "corrupt or incomplete"),
        "bad_simplify_epsilon": (
            lambda d: (d / "config.json").write_text(
                (good / "config.json").read_text().replace('"simplify_epsilon": 2.0', '"simplify_epsilon": -1')
            ),
            "simplify_epsilon must be a number",
        ),
        "wrong_size": (
            lambda d: (d / "config.json").write_text(
                (good / "config.json").read_text().replace('"hidden_size": 16', '"hidden_size": 32')
            ),
            "shape",
        ),
    }
    for name, (damage, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            checkpoint.load_model(broken(name, damage))


def test_checkpoint_latest_pointer_survives_a_stale_pointer(tmp_path):
    model = small_model()
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.network.trainable_variables)
    for step in (10, 20, 30):
        model.step = step
        checkpoint.save_checkpoint(tmp_path, model, optimizer, {"step": step})
    names = sorted(p.name for p in (tmp_path / "checkpoints").glob("ckpt-*"))
    assert names == ["ckpt-00000020", "ckpt-00000030"]
    assert checkpoint.latest_checkpoint(tmp_path).name == "ckpt-00000030"
    (tmp_path / "checkpoints" / "latest").write_text("ckpt-00000099\n")  # points at nothing
    assert checkpoint.latest_checkpoint(tmp_path).name == "ckpt-00000030"
    assert checkpoint.load_model(tmp_path).step == 30
