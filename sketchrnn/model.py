"""The decoder-only Sketch-RNN: stroke-5 in, a mixture density for the next pen movement out.

Ha & Eck, "A Neural Representation of Sketch Drawings" (arXiv 1704.03477), section 3 with the
encoder removed (the "unconditional" model of section 4): an LSTM reads stroke-5 rows and after
each row predicts the next one as a mixture of ``M`` bivariate Gaussians for ``(dx, dy)`` and a
3-way categorical for the pen state. Optionally a category id is embedded and fed at every step,
so one model can draw several categories.

This module only builds the network and computes the loss: no files, prints or flags.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import keras
import tensorflow as tf

LOG_SIGMA_RANGE = (-7.0, 5.0)  # default clip of log sigma: sigma stays in [~1e-3, ~150] normalised units
RHO_LIMIT = 1.0 - 1e-6  # |rho| is clipped below 1, so 1 - rho^2 never reaches 0 (clipped, not scaled:
# tanh(rho_hat) is used exactly as magenta does wherever |rho| < RHO_LIMIT)


@dataclass
class ModelConfig:
    """Hyperparameters of the network; saved as JSON beside the weights and rebuilt with ``ModelConfig(**saved)``."""

    hidden_size: int = 512  # LSTM units; the paper uses 512 (2048 with the encoder), 256 is a good size on CPU
    num_mixtures: int = 20  # M, Gaussians in the offset mixture (paper: 20)
    num_categories: int = 1  # categories the model draws; >1 adds a learned category embedding at every step
    category_embedding_size: int = 32  # width of that embedding (unused when num_categories == 1)
    recurrent_dropout: float = 0.1  # dropout on the recurrent state during training (magenta: keep 0.9)
    max_length: int = 250  # longest drawing in points the model was trained on (Sketch-RNN: 250)
    # log sigma is clipped below this (-7: sigma >= ~1e-3, keeps spikes on exact integer offsets out of
    # training); imported magenta models use -20, i.e. unclipped as magenta runs them
    min_log_sigma: float = LOG_SIGMA_RANGE[0]
    layer_norm: bool = False  # layer-normalised LSTM (Ha & Eck's decoder, magenta's LayerNormLSTMCell); off: plain LSTM

    @property
    def output_size(self) -> int:
        """6 M + 3 outputs per step: (pi, mu_x, mu_y, sigma_x, sigma_y, rho) per Gaussian, 3 pen logits."""
        return 6 * self.num_mixtures + 3

    def to_dict(self) -> dict:
        """The config as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        """Rebuild a config from :meth:`to_dict` output, refusing unknown or missing-typed fields."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown model config fields {unknown}; known fields are {sorted(known)}")
        return cls(**values)

    def validate(self) -> None:
        """Raise ValueError for settings the network cannot be built with."""
        if self.hidden_size < 1 or self.num_mixtures < 1 or self.num_categories < 1:
            raise ValueError("hidden_size, num_mixtures and num_categories must all be at least 1")
        if not 0.0 <= self.recurrent_dropout < 1.0:
            raise ValueError(f"recurrent_dropout must be in [0, 1), got {self.recurrent_dropout}")


# ----------------------------------------------------------------------------------------------
# The LSTM. Same maths and weight layout as keras.layers.LSTM (gates i, f, c, o; kernel [I, 4H],
# recurrent_kernel [H, 4H], bias [4H] with unit forget bias), but with a hand-written gradient and
# each time step one XLA-compiled function: the matmul and the gate maths of a step are one fused
# kernel instead of ~15 TensorFlow ops (which cost as much as the matmul itself at B = 100). The
# input projection and the bias ride in the step's matmul, ``[h * mask, x_t, 1] @ weights`` with
# ``weights = [recurrent_kernel; kernel; bias]`` of shape ``[H + I + 1, 4H]``, and a step's shapes
# do not depend on T, so the step compiles once per (B, H, I). A batch runs as two independent chains
# (halves), whose steps overlap on the CPU's cores. Backpropagation through time runs one fused step per
# time step and chain, then computes every weight's gradient in one large matmul per chain.


MIN_CHAIN_BATCH = 8  # a batch runs as two independent chains of at least this many sequences each (see _chain_sizes)
LAYER_NORM_EPSILON = 1e-3  # added to the variance in layer norm (magenta's layer_norm_all / layer_norm)


def stacked_weights(kernel, recurrent_kernel, bias):
    """``[recurrent_kernel; kernel; bias]``: the ``[H + I + 1, 4H]`` matrix one LSTM step multiplies by."""
    return tf.concat([recurrent_kernel, kernel, bias[None, :]], axis=0)


@tf.function(jit_compile=True, reduce_retracing=True)
def _forward_step(hidden, cell, row, weights, dropout_mask):
    """One step; returns the new hidden and cell ``(B, H)``, the matmul operand ``(B, H + I + 1)``,
    the activated gates ``(B, 4H)`` and ``tanh(new cell)``: what the backward step needs."""
    operand = tf.concat([hidden * dropout_mask, row, tf.ones_like(row[:, :1])], axis=1)  # (B, H + I + 1)
    input_gate, forget_gate, candidate, output_gate = tf.split(tf.matmul(operand, weights), 4, axis=1)
    input_gate, forget_gate, output_gate = tf.sigmoid(input_gate), tf.sigmoid(forget_gate), tf.sigmoid(output_gate)
    candidate = tf.tanh(candidate)
    cell = forget_gate * cell + input_gate * candidate
    tanh_cell = tf.tanh(cell)
    gates = tf.concat([input_gate, forget_gate, candidate, output_gate], axis=1)  # (B, 4H)
    return output_gate * tanh_cell, cell, operand, gates, tanh_cell


def _gate_activation_gradient(d_hidden, d_cell, input_gate, forget_gate, candidate, output_gate, previous_cell,
                              tanh_cell):
    """Gradient at the four gates' pre-activations ``(B, 4H)`` (order i, f, c, o), through their sigmoid /
    tanh, given the gradients of this step's hidden and cell; shared by the plain and layer-norm steps."""
    return tf.concat(
        [
            d_cell * candidate * input_gate * (1.0 - input_gate),
            d_cell * previous_cell * forget_gate * (1.0 - forget_gate),
            d_cell * input_gate * (1.0 - tf.square(candidate)),
            d_hidden * tanh_cell * output_gate * (1.0 - output_gate),
        ],
        axis=1,
    )


@tf.function(jit_compile=True, reduce_retracing=True)
def _backward_step(d_hidden, d_cell, d_output, gates, previous_cell, tanh_cell, transposed_recurrent_kernel,
                   dropout_mask):
    """One BPTT step: the gradients of the step's pre-activations ``(B, 4H)`` and of the previous hidden
    and cell ``(B, H)``; ``transposed_recurrent_kernel`` is ``[4H, H]``."""
    input_gate, forget_gate, candidate, output_gate = tf.split(gates, 4, axis=1)
    d_hidden = d_hidden + d_output  # from the next step and from this step's output
    d_cell = d_cell + d_hidden * output_gate * (1.0 - tf.square(tanh_cell))
    d_gates = _gate_activation_gradient(d_hidden, d_cell, input_gate, forget_gate, candidate, output_gate,
                                        previous_cell, tanh_cell)  # (B, 4H)
    # pre-transposed: XLA's dot with a transposed operand was slower here
    d_previous_hidden = tf.matmul(d_gates, transposed_recurrent_kernel) * dropout_mask  # (B, H)
    return d_gates, d_previous_hidden, d_cell * forget_gate


def _chain_sizes(hidden):
    """Batch sizes of the independent chains a sequence runs as: two halves, or one chain for small batches.

    Two chains' steps are independent, so TensorFlow runs one chain's step while the other's is still
    busy: the gate maths of a step (one core) overlaps the other chain's matmul instead of leaving a core idle.
    """
    batch = hidden.shape[0]
    if batch is not None and batch < 2 * MIN_CHAIN_BATCH:
        return [batch]
    half = tf.shape(hidden)[0] // 2
    return [half, tf.shape(hidden)[0] - half]


def _split_batch(tensor, sizes, axis=0):
    """``tensor`` cut along its batch ``axis`` into chains of ``sizes``."""
    return [tensor] if len(sizes) == 1 else tf.split(tensor, sizes, axis=axis)


def _join_batch(tensors, axis=0):
    """The chains' tensors joined along the batch ``axis``."""
    return tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=axis)


def _lstm_scan(inputs, weights, hidden, cell, dropout_mask, norm_weights=None):
    """Run the LSTM over time-major ``inputs [T, B, I]``, as independent chains of the batch (:func:`_chain_sizes`).

    ``norm_weights`` (see :func:`layer_norm_lstm_sequence`) turns on layer norm. Returns hiddens ``[T, B, H]``,
    the last cell ``(B, H)``, the chain sizes, and per chain TensorArrays (one entry per step) of what
    backpropagation needs: matmul operands, incoming cells, gates, ``tanh`` of the new cells (with layer norm
    the gates packed with the normalised pre-activations, and the tanh with the normalised cell and the 1/std's).
    """
    steps, sizes = tf.shape(inputs)[0], _chain_sizes(hidden)
    rows = [tf.TensorArray(inputs.dtype, size=steps).unstack(part) for part in _split_batch(inputs, sizes, axis=1)]
    masks = _split_batch(dropout_mask, sizes)
    states = list(zip(_split_batch(hidden, sizes), _split_batch(cell, sizes)))
    saved = [[tf.TensorArray(inputs.dtype, size=steps) for _ in range(5)] for _ in sizes]

    def step(t, states, saved):
        new_states, new_saved = [], []
        for (hidden, cell), arrays, chain_rows, mask in zip(states, saved, rows, masks):
            if norm_weights is None:
                new_hidden, new_cell, *kept = _forward_step(hidden, cell, chain_rows.read(t), weights, mask)
            else:
                new_hidden, new_cell, *kept = _layer_norm_forward_step(
                    hidden, cell, chain_rows.read(t), weights, mask, norm_weights)
            new_states.append((new_hidden, new_cell))
            values = (new_hidden, kept[0], cell, *kept[1:])  # hidden, operand, incoming cell, gates, tanh(cell)
            new_saved.append([array.write(t, value) for array, value in zip(arrays, values)])
        return t + 1, new_states, new_saved

    _, states, saved = tf.while_loop(lambda t, *_: t < steps, step, (0, states, saved))
    hiddens = _join_batch([arrays[0].stack() for arrays in saved], axis=1)  # (T, B, H)
    return hiddens, _join_batch([cell for _, cell in states]), sizes, [arrays[1:] for arrays in saved]


def _backward_chains(d_hiddens, d_cell, sizes, saved, transposed_recurrent_kernel, dropout_mask, norm_weights=None):
    """BPTT over each chain; returns per chain the final ``(d_hidden, d_cell)`` (with layer norm also the
    ``norm_weights`` gradient ``(10 H,)``) and a TensorArray of d_gates, the pre-activations' gradients."""
    steps = tf.shape(d_hiddens)[0]
    d_outputs = [tf.TensorArray(d_hiddens.dtype, size=steps).unstack(part)
                 for part in _split_batch(d_hiddens, sizes, axis=1)]
    masks = _split_batch(dropout_mask, sizes)
    states = [(tf.zeros_like(chain_d_cell), chain_d_cell) for chain_d_cell in _split_batch(d_cell, sizes)]
    if norm_weights is not None:  # and the norm_weights gradient summed so far (10 H,)
        states = [(*state, tf.zeros_like(norm_weights)) for state in states]
    results = [tf.TensorArray(d_hiddens.dtype, size=steps) for _ in sizes]

    def step(k, states, results):
        t, new_states, new_results = steps - 1 - k, [], []
        for state, all_d_gates, outputs, arrays, mask in zip(states, results, d_outputs, saved, masks):
            previous_cell, gates, tanh_cell = (array.read(t) for array in arrays[1:])
            if norm_weights is None:
                d_gates, *state = _backward_step(
                    *state, outputs.read(t), gates, previous_cell, tanh_cell, transposed_recurrent_kernel, mask)
            else:
                d_gates, *state = _layer_norm_backward_step(
                    *state, outputs.read(t), previous_cell, gates, tanh_cell, transposed_recurrent_kernel, mask,
                    norm_weights)
            new_states.append(tuple(state))
            new_results.append(all_d_gates.write(t, d_gates))
        return k + 1, new_states, new_results

    _, states, results = tf.while_loop(lambda k, *_: k < steps, step, (0, states, results))
    return states, results


@tf.custom_gradient
def lstm_sequence(inputs, weights, hidden, cell, dropout_mask):
    """LSTM over time-major ``inputs [T, B, I]`` with a hand-written BPTT gradient.

    ``weights`` is :func:`stacked_weights`; ``dropout_mask (B, H)`` multiplies the recurrent state.
    Returns hiddens ``[T, B, H]`` and the last cell ``(B, H)``.
    """
    hiddens, last_cell, sizes, saved = _lstm_scan(inputs, weights, hidden, cell, dropout_mask)

    def gradient(d_hiddens, d_last_cell):
        states, d_inputs, d_weights = _sequence_gradient(
            inputs, weights, cell, dropout_mask, sizes, saved, d_hiddens, d_last_cell)
        d_hidden = _join_batch([state[0] for state in states])
        return d_inputs, d_weights, d_hidden, _join_batch([state[1] for state in states]), tf.zeros_like(dropout_mask)

    return (hiddens, last_cell), gradient


def _sequence_gradient(inputs, weights, cell, dropout_mask, sizes, saved, d_hiddens, d_last_cell, norm_weights=None):
    """Backpropagation through a whole sequence: per chain the final BPTT state (:func:`_backward_chains`),
    the inputs' gradient ``[T, B, I]`` and the stacked weights' gradient ``[H + I + 1, 4H]``."""
    d_last_cell = tf.zeros_like(cell) if d_last_cell is None else d_last_cell
    units, (width, gates_width) = tf.shape(cell)[1], tf.unstack(tf.shape(weights))
    transposed_recurrent_kernel = tf.transpose(weights[:units])  # (4H, H)
    states, results = _backward_chains(
        d_hiddens, d_last_cell, sizes, saved, transposed_recurrent_kernel, dropout_mask, norm_weights
    )
    all_d_gates = [tf.reshape(d_gates.stack(), [-1, gates_width]) for d_gates in results]  # per chain (T*b, 4H)
    d_weights = tf.add_n([
        tf.matmul(tf.reshape(arrays[0].stack(), [-1, width]), d_gates, transpose_a=True)
        for arrays, d_gates in zip(saved, all_d_gates)
    ])  # per chain one (H + I + 1, T*b) @ (T*b, 4H) matmul: every step's recurrent, input and bias gradient
    steps, input_kernel = tf.shape(inputs)[0], weights[units:-1]  # (I, 4H)
    d_inputs = _join_batch([
        tf.reshape(tf.matmul(d_gates, input_kernel, transpose_b=True), [steps, -1, tf.shape(inputs)[2]])
        for d_gates in all_d_gates
    ], axis=1)  # (T, B, I)
    return states, d_inputs, d_weights


# ----------------------------------------------------------------------------------------------
# The layer-normalised LSTM (Ba et al. 2016; Ha & Eck's decoder; magenta's LayerNormLSTMCell): the step's
# pre-activations are normalised per gate block (mean 0, variance 1 over the H units of each of i, f, c, o),
# then scaled and shifted by learned gains and biases [4H]; the new cell is normalised the same way (gain and
# bias [H]) before its tanh. The stored cell stays unnormalised, as in magenta. The forget gate's unit bias
# lives in the post-norm shift (the pre-norm bias of the matmul is normalised away within a block).
# ``norm_weights`` = [gate gain (4H), gate shift (4H), cell gain (H), cell shift (H)], one vector of 10 H.


def _layer_norm(values, blocks):
    """Normalise ``values (B, blocks * H)`` over each block's H units; returns them and ``1/std (B, blocks, 1)``."""
    shaped = tf.reshape(values, tf.stack([tf.shape(values)[0], blocks, -1]))  # (B, blocks, H)
    mean = tf.reduce_mean(shaped, axis=2, keepdims=True)  # one pass for both moments (XLA fuses the two sums)
    variance = tf.maximum(tf.reduce_mean(tf.square(shaped), axis=2, keepdims=True) - tf.square(mean), 0.0)
    inverse_std = tf.math.rsqrt(variance + LAYER_NORM_EPSILON)
    return tf.reshape((shaped - mean) * inverse_std, tf.shape(values)), inverse_std


def _layer_norm_gradient(d_normalised, normalised, inverse_std, blocks):
    """Gradient through :func:`_layer_norm`: ``(d_xhat - mean(d_xhat) - xhat mean(d_xhat xhat)) / std`` per block."""
    shape = tf.stack([tf.shape(normalised)[0], blocks, -1])
    d_shaped, shaped = tf.reshape(d_normalised, shape), tf.reshape(normalised, shape)
    d_values = inverse_std * (d_shaped - tf.reduce_mean(d_shaped, axis=2, keepdims=True)
                              - shaped * tf.reduce_mean(d_shaped * shaped, axis=2, keepdims=True))
    return tf.reshape(d_values, tf.shape(normalised))


def _split_norm_weights(norm_weights, units):
    """``norm_weights [10 H]`` -> gate gain, gate shift ``[4H]``, cell gain, cell shift ``[H]``."""
    return tf.split(norm_weights, tf.stack([4 * units, 4 * units, units, units]))


@tf.function(jit_compile=True, reduce_retracing=True)
def _layer_norm_forward_step(hidden, cell, row, weights, dropout_mask, norm_weights):
    """One layer-normalised step; returns the new hidden and cell, the matmul operand, the activated gates packed
    with the normalised pre-activations ``(B, 8H)``, and ``tanh`` of the normalised new cell packed with the
    normalised cell and the 1/std of the cell and of the 4 gate blocks ``(B, 2H + 5)``: packed, so a step saves
    as many tensors as the plain LSTM's (each TensorArray read or write is an op of its own in the loop)."""
    gate_gain, gate_shift, cell_gain, cell_shift = _split_norm_weights(norm_weights, tf.shape(cell)[1])
    operand = tf.concat([hidden * dropout_mask, row, tf.ones_like(row[:, :1])], axis=1)  # (B, H + I + 1)
    gates_normalised, gates_inverse_std = _layer_norm(tf.matmul(operand, weights), 4)  # (B, 4H), (B, 4, 1)
    input_gate, forget_gate, candidate, output_gate = tf.split(gates_normalised * gate_gain + gate_shift, 4, axis=1)
    input_gate, forget_gate, output_gate = tf.sigmoid(input_gate), tf.sigmoid(forget_gate), tf.sigmoid(output_gate)
    candidate = tf.tanh(candidate)
    cell = forget_gate * cell + input_gate * candidate
    cell_normalised, cell_inverse_std = _layer_norm(cell, 1)  # (B, H), (B, 1, 1)
    tanh_cell = tf.tanh(cell_normalised * cell_gain + cell_shift)
    gates = tf.concat([input_gate, forget_gate, candidate, output_gate, gates_normalised], axis=1)  # (B, 8H)
    cell_values = tf.concat([tanh_cell, cell_normalised, cell_inverse_std[:, :, 0], gates_inverse_std[:, :, 0]], axis=1)
    return output_gate * tanh_cell, cell, operand, gates, cell_values


@tf.function(jit_compile=True, reduce_retracing=True)
def _layer_norm_backward_step(d_hidden, d_cell, d_norm_weights, d_output, previous_cell, gates, cell_values,
                              transposed_recurrent_kernel, dropout_mask, norm_weights):
    """One BPTT step of the layer-normalised LSTM, on the packed ``gates`` and ``cell_values`` the forward step
    saved. Returns the pre-activation gradients ``(B, 4H)``, the previous hidden's and cell's ``(B, H)``, and
    ``d_norm_weights (10 H,)`` plus this step's share (summed over the batch in the step: a small loop state)."""
    units = tf.shape(d_cell)[1]
    gate_gain, _, cell_gain, _ = _split_norm_weights(norm_weights, units)
    input_gate, forget_gate, candidate, output_gate, gates_normalised = tf.split(
        gates, tf.stack([units, units, units, units, 4 * units]), axis=1)
    tanh_cell, cell_normalised, cell_inverse_std, gates_inverse_std = tf.split(
        cell_values, tf.stack([units, units, 1, 4]), axis=1)
    cell_inverse_std, gates_inverse_std = cell_inverse_std[:, :, None], gates_inverse_std[:, :, None]
    d_hidden = d_hidden + d_output  # from the next step and from this step's output
    d_cell_affine = d_hidden * output_gate * (1.0 - tf.square(tanh_cell))  # (B, H) at cell_normalised * gain + shift
    d_cell = d_cell + _layer_norm_gradient(d_cell_affine * cell_gain, cell_normalised, cell_inverse_std, 1)
    d_activations = _gate_activation_gradient(d_hidden, d_cell, input_gate, forget_gate, candidate, output_gate,
                                              previous_cell, tanh_cell)  # (B, 4H) at gates_normalised * gain + shift
    d_gates = _layer_norm_gradient(d_activations * gate_gain, gates_normalised, gates_inverse_std, 4)  # (B, 4H)
    d_previous_hidden = tf.matmul(d_gates, transposed_recurrent_kernel) * dropout_mask  # (B, H)
    d_norm_weights += tf.reduce_sum(tf.concat([d_activations * gates_normalised, d_activations,
                                               d_cell_affine * cell_normalised, d_cell_affine], axis=1), axis=0)
    return d_gates, d_previous_hidden, d_cell * forget_gate, d_norm_weights


@tf.custom_gradient
def layer_norm_lstm_sequence(inputs, weights, norm_weights, hidden, cell, dropout_mask):
    """The layer-normalised LSTM over time-major ``inputs [T, B, I]`` with a hand-written BPTT gradient.

    As :func:`lstm_sequence`, plus ``norm_weights [10 H]`` = gate gain, gate shift (each 4H), cell gain,
    cell shift (each H). Returns hiddens ``[T, B, H]`` and the last cell ``(B, H)``.
    """
    hiddens, last_cell, sizes, saved = _lstm_scan(inputs, weights, hidden, cell, dropout_mask, norm_weights)

    def gradient(d_hiddens, d_last_cell):
        states, d_inputs, d_weights = _sequence_gradient(
            inputs, weights, cell, dropout_mask, sizes, saved, d_hiddens, d_last_cell, norm_weights)
        d_norm_weights = tf.add_n([state[2] for state in states])  # (10 H,)
        d_hidden = _join_batch([state[0] for state in states])
        return (d_inputs, d_weights, d_norm_weights, d_hidden, _join_batch([state[1] for state in states]),
                tf.zeros_like(dropout_mask))

    return (hiddens, last_cell), gradient


def _unit_forget_bias(shape, dtype=None):
    """LSTM bias initialiser: 1 for the forget gate, 0 elsewhere (Jozefowicz et al. 2015)."""
    units = shape[0] // 4
    return tf.concat([tf.zeros([units]), tf.ones([units]), tf.zeros([2 * units])], axis=0)


def _layer_norm_initial(shape, dtype=None):
    """Initial ``norm_weights [10 H]``: gains 1, shifts 0 except the forget gate's unit bias (magenta's forget_bias)."""
    units = shape[0] // 10
    return tf.concat([tf.ones([4 * units]), _unit_forget_bias([4 * units]), tf.ones([units]), tf.zeros([units])], axis=0)


class StrokeLSTM(keras.layers.Layer):
    """A single LSTM layer over ``[B, T, I]`` with Gal-style recurrent dropout (one mask per sequence),
    optionally layer-normalised (``layer_norm``: see :func:`layer_norm_lstm_sequence`)."""

    def __init__(self, units: int, recurrent_dropout: float = 0.0, seed: int | None = None, layer_norm: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.recurrent_dropout = recurrent_dropout
        self.layer_norm = layer_norm
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        units = self.units
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], 4 * units), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(units, 4 * units), initializer="orthogonal"
        )
        self.bias = self.add_weight(name="bias", shape=(4 * units,),
                                    initializer="zeros" if self.layer_norm else _unit_forget_bias)
        if self.layer_norm:  # gate gain, gate shift (4H each), cell gain, cell shift (H each): see _split_norm_weights
            self.norm_weights = self.add_weight(name="layer_norm", shape=(10 * units,), initializer=_layer_norm_initial)

    def call(self, inputs, initial_state=None, training=False):
        """Returns ``(hidden sequence [B, T, H], [last hidden (B, H), last cell (B, H)])``."""
        batch = tf.shape(inputs)[0]
        if initial_state is None:
            initial_state = [tf.zeros([batch, self.units], inputs.dtype)] * 2
        dropout_mask = tf.ones([batch, self.units], inputs.dtype)
        if training and self.recurrent_dropout > 0:
            keep = 1.0 - self.recurrent_dropout
            uniform = keras.random.uniform([batch, self.units], seed=self.seed_generator)
            dropout_mask = tf.cast(uniform < keep, inputs.dtype) / keep
        weights = stacked_weights(self.kernel, self.recurrent_kernel, self.bias)  # (H + I + 1, 4H)
        time_major = tf.transpose(inputs, [1, 0, 2])  # (T, B, I)
        if self.layer_norm:
            hiddens, cell = layer_norm_lstm_sequence(
                time_major, weights, tf.identity(self.norm_weights), initial_state[0], initial_state[1], dropout_mask)
        else:
            hiddens, cell = lstm_sequence(time_major, weights, initial_state[0], initial_state[1], dropout_mask)
        return tf.transpose(hiddens, [1, 0, 2]), [hiddens[-1], cell]


class SketchRNN(keras.Model):
    """LSTM decoder over stroke-5 with a mixture-density head (6M + 3 outputs per step)."""

    def __init__(self, config: ModelConfig, **kwargs):
        super().__init__(**kwargs)
        config.validate()
        self.config = config
        self.category_embedding = None
        if config.num_categories > 1:
            self.category_embedding = keras.layers.Embedding(
                config.num_categories, config.category_embedding_size, name="category_embedding"
            )
        self.lstm = StrokeLSTM(config.hidden_size, recurrent_dropout=config.recurrent_dropout,
                               layer_norm=config.layer_norm, name="lstm")
        self.head = keras.layers.Dense(config.output_size, name="mixture_head")

    def lstm_inputs(self, stroke5, category_ids=None):
        """Concatenate the category embedding (if any) to every stroke-5 row: ``[B, T, 5 (+E)]``."""
        if self.category_embedding is None:
            return stroke5
        if category_ids is None:
            raise ValueError("this model draws several categories: pass category_ids")
        embedded = self.category_embedding(category_ids)  # (B, E)
        steps = tf.shape(stroke5)[1]
        embedded = tf.tile(embedded[:, None, :], tf.stack([1, steps, 1]))  # (B, T, E)
        return tf.concat([stroke5, tf.cast(embedded, stroke5.dtype)], axis=-1)

    def call(self, inputs, training=False, initial_state=None):
        """``inputs`` = stroke-5 ``[B, T, 5]`` or ``(stroke5, category_ids [B])``.

        Returns ``(outputs [B, T, 6M + 3], [h (B, H), c (B, H)])``.
        """
        stroke5, category_ids = inputs if isinstance(inputs, (tuple, list)) else (inputs, None)
        sequence, state = self.lstm(self.lstm_inputs(stroke5, category_ids), initial_state=initial_state, training=training)
        return self.head(sequence), state  # (B, T, 6M + 3), [(B, H), (B, H)]


def mixture_params(outputs, num_mixtures: int, temperature: float = 1.0, min_log_sigma: float = LOG_SIGMA_RANGE[0]):
    """Split raw head outputs ``[..., 6M + 3]`` into mixture parameters (paper eq. 3-4, 6).

    Returns a dict of ``log_pi, mu_x, mu_y, sigma_x, sigma_y, rho`` (each ``[..., M]``) and
    ``pen_logits [..., 3]``. ``temperature`` tau divides the mixture and pen logits and scales
    sigma by sqrt(tau), as in the paper's sampling (section 3.3); 1.0 is the training density.
    """
    pen_logits = outputs[..., :3]
    pi_logits, mu_x, mu_y, log_sigma_x, log_sigma_y, rho_raw = tf.split(outputs[..., 3:], 6, axis=-1)
    log_sigma_x = tf.clip_by_value(log_sigma_x, min_log_sigma, LOG_SIGMA_RANGE[1])
    log_sigma_y = tf.clip_by_value(log_sigma_y, min_log_sigma, LOG_SIGMA_RANGE[1])
    sqrt_tau = tf.sqrt(tf.cast(temperature, outputs.dtype))
    return {
        "log_pi": tf.nn.log_softmax(pi_logits / temperature, axis=-1),
        "mu_x": mu_x,
        "mu_y": mu_y,
        "sigma_x": tf.exp(log_sigma_x) * sqrt_tau,
        "sigma_y": tf.exp(log_sigma_y) * sqrt_tau,
        "rho": tf.clip_by_value(tf.tanh(rho_raw), -RHO_LIMIT, RHO_LIMIT),
        "pen_logits": pen_logits / temperature,
    }


def bivariate_normal_log_pdf(dx, dy, mu_x, mu_y, sigma_x, sigma_y, rho):
    """log N(dx, dy | mu, sigma, rho) of a bivariate normal (paper eq. 24-25 of Graves 2013)."""
    z_x = (dx - mu_x) / sigma_x
    z_y = (dy - mu_y) / sigma_y
    one_minus_rho2 = 1.0 - tf.square(rho)
    z = tf.square(z_x) + tf.square(z_y) - 2.0 * rho * z_x * z_y
    log_norm = math.log(2.0 * math.pi) + tf.math.log(sigma_x) + tf.math.log(sigma_y) + 0.5 * tf.math.log(one_minus_rho2)
    return -z / (2.0 * one_minus_rho2) - log_norm


def reconstruction_loss(outputs, targets, num_mixtures: int, n_max=None, min_log_sigma: float = LOG_SIGMA_RANGE[0]):
    """The paper's reconstruction loss L_R per drawing (Ha & Eck eqs. 9-11), ``[B]`` each part.

    ``outputs [B, T, 6M + 3]`` are the head outputs after each input row; ``targets [B, T, 5]``
    the next stroke-5 rows (end rows past each drawing's end). ``n_max`` is the paper's padded length
    N_max (default: ``T``; pass the model's ``max_length + 1`` for a figure that compares across
    batches whatever their padding):

    * L_s = -(1/N_max) sum over real points (target p3 = 0) of log sum_j pi_j N(dx, dy | ...)
    * L_p = -(1/N_max) sum over all T steps of sum_k p_k log q_k   (end rows included, as the paper)

    Returns ``(offset_loss, pen_loss)``; L_R = their sum. Log-sum-exp keeps it finite.
    """
    params = mixture_params(outputs, num_mixtures, min_log_sigma=min_log_sigma)
    dx, dy = targets[..., 0:1], targets[..., 1:2]  # (B, T, 1) broadcast over M
    log_density = bivariate_normal_log_pdf(
        dx, dy, params["mu_x"], params["mu_y"], params["sigma_x"], params["sigma_y"], params["rho"]
    )  # (B, T, M)
    point_log_likelihood = tf.reduce_logsumexp(params["log_pi"] + log_density, axis=-1)  # (B, T)
    is_point = 1.0 - targets[..., 4]  # (B, T) 1 on real points
    steps = tf.cast(tf.shape(targets)[1] if n_max is None else n_max, outputs.dtype)
    offset_loss = -tf.reduce_sum(point_log_likelihood * is_point, axis=1) / steps
    pen_cross_entropy = tf.nn.softmax_cross_entropy_with_logits(labels=targets[..., 2:], logits=params["pen_logits"])
    pen_loss = tf.reduce_sum(pen_cross_entropy, axis=1) / steps
    return offset_loss, pen_loss


def magenta_reconstruction_loss(outputs, targets, num_mixtures: int, min_log_sigma: float = LOG_SIGMA_RANGE[0]):
    """L_R as magenta's ``sketch_rnn`` evaluates it, per drawing ``[B]`` (offset part, pen part).

    magenta's evaluation graph (``model.py``, ``is_training=False``) masks every step whose target is an
    end row (p3 = 1) in *both* terms, takes ``-log(sum_j pi_j N_j + 1e-6)`` for the offsets, and
    averages over batch x ``max_seq_len``: so ``T`` here must be the model's ``max_seq_len``.
    """
    params = mixture_params(outputs, num_mixtures, min_log_sigma=min_log_sigma)
    dx, dy = targets[..., 0:1], targets[..., 1:2]
    log_density = bivariate_normal_log_pdf(
        dx, dy, params["mu_x"], params["mu_y"], params["sigma_x"], params["sigma_y"], params["rho"]
    )  # (B, T, M)
    mixture_log_density = tf.reduce_logsumexp(params["log_pi"] + log_density, axis=-1)  # (B, T)
    epsilon = tf.cast(math.log(1e-6), outputs.dtype)
    offset_nll = -tf.math.reduce_logsumexp(tf.stack([mixture_log_density, tf.fill(tf.shape(mixture_log_density), epsilon)]), axis=0)
    is_point = 1.0 - targets[..., 4]  # (B, T)
    pen_cross_entropy = tf.nn.softmax_cross_entropy_with_logits(labels=targets[..., 2:], logits=params["pen_logits"])
    steps = tf.cast(tf.shape(targets)[1], outputs.dtype)
    return tf.reduce_sum(offset_nll * is_point, axis=1) / steps, tf.reduce_sum(pen_cross_entropy * is_point, axis=1) / steps
