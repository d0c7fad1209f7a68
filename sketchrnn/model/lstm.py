"""The LSTM layer both kinds of model run on, with a hand-written, XLA-compiled backward pass."""

from __future__ import annotations

import functools

import keras
import tensorflow as tf

# ----------------------------------------------------------------------------------------------
# The LSTM. Same maths and weight layout as keras.layers.LSTM (gates i, f, c, o; kernel [I, 4H],
# recurrent_kernel [H, 4H], bias [4H] with unit forget bias), but with a hand-written gradient. A batch runs
# as ``CHAINS`` (two) independent chains, and each chain's whole loop over time is one XLA computation
# (a while loop over the steps, the matmul and the gate maths of a step fused): the chains' computations
# run side by side on the CPU's cores. The input projection and the bias ride in the step's matmul,
# ``[h * mask, x_t, 1] @ weights`` with ``weights = [recurrent_kernel; kernel; bias]`` of shape ``[H + I + 1, 4H]``.
# A sequence is padded to a multiple of ``LENGTH_BUCKET`` steps and the loop runs only its real steps, so a
# loop compiles once per (B, H, I, length bucket). Backpropagation through time is the same kind of loop,
# backwards, then every weight's gradient is one large matmul per chain.


CHAINS = 2  # a batch runs as this many independent chains (see _chain_sizes; 3 and 4 measured slower on 2 cores)
MIN_CHAIN_BATCH = 8  # ... of at least this many sequences each; a smaller batch runs as one chain
LENGTH_BUCKET = 32  # sequences are padded to a multiple of this many steps: one compilation per bucket
LAYER_NORM_EPSILON = 1e-3  # added to the variance in layer norm (magenta's layer_norm_all / layer_norm)


def stacked_weights(kernel, recurrent_kernel, bias):
    """``[recurrent_kernel; kernel; bias]``: the ``[H + I + 1, 4H]`` matrix one LSTM step multiplies by."""
    return tf.concat([recurrent_kernel, kernel, bias[None, :]], axis=0)


def _activated_gates(preactivations):
    """The gates i, f, c, o ``(B, H)`` each from their pre-activations ``(B, 4H)``: sigmoid, sigmoid, tanh, sigmoid."""
    input_gate, forget_gate, candidate, output_gate = tf.split(preactivations, 4, axis=1)
    return tf.sigmoid(input_gate), tf.sigmoid(forget_gate), tf.tanh(candidate), tf.sigmoid(output_gate)


def lstm_update(preactivations, cell):
    """The LSTM's gate maths, for training and for drawing: from a step's pre-activations ``(B, 4H)`` and
    the incoming cell ``(B, H)``, the new hidden and cell ``(B, H)``, the activated gates ``(B, 4H)`` and
    ``tanh(new cell)`` (what the backward step needs). A plain function: inlined into each compiled caller."""
    input_gate, forget_gate, candidate, output_gate = _activated_gates(preactivations)
    cell = forget_gate * cell + input_gate * candidate
    tanh_cell = tf.tanh(cell)
    gates = tf.concat([input_gate, forget_gate, candidate, output_gate], axis=1)  # (B, 4H)
    return output_gate * tanh_cell, cell, gates, tanh_cell


def _forward_step(hidden, cell, row, weights, dropout_mask):
    """One step; returns the new hidden and cell ``(B, H)``, the matmul operand ``(B, H + I + 1)``,
    the activated gates ``(B, 4H)`` and ``tanh(new cell)``: what the backward step needs."""
    operand = tf.concat([hidden * dropout_mask, row, tf.ones_like(row[:, :1])], axis=1)  # (B, H + I + 1)
    hidden, cell, gates, tanh_cell = lstm_update(tf.matmul(operand, weights), cell)
    return hidden, cell, operand, gates, tanh_cell


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
    """Batch sizes of the independent chains a sequence runs as: ``CHAINS`` equal parts (the last takes the
    remainder), or one chain for small batches.

    The chains are independent, so TensorFlow runs their loops side by side: an XLA loop runs its gate maths
    on one core, and the other chain's loop keeps the other core busy.
    """
    batch = hidden.shape[0]
    if batch is not None and batch < CHAINS * MIN_CHAIN_BATCH:
        return [batch]
    part = tf.shape(hidden)[0] // CHAINS
    return [part] * (CHAINS - 1) + [tf.shape(hidden)[0] - (CHAINS - 1) * part]


def _split_batch(tensor, sizes, axis=0):
    """``tensor`` cut along its batch ``axis`` into chains of ``sizes``."""
    return [tensor] if len(sizes) == 1 else tf.split(tensor, sizes, axis=axis)


def _join_batch(tensors, axis=0):
    """The chains' tensors joined along the batch ``axis``."""
    return tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=axis)


def padded_length(steps):
    """The length a sequence of ``steps`` is padded to: the next multiple of ``LENGTH_BUCKET`` (an int or a tensor)."""
    return (steps + LENGTH_BUCKET - 1) // LENGTH_BUCKET * LENGTH_BUCKET


def _padded(tensor, length):
    """Time-major ``tensor`` padded with zeros to ``length`` steps."""
    return tf.pad(tensor, [[0, length - tf.shape(tensor)[0]]] + [[0, 0]] * (tensor.shape.rank - 1))


@functools.cache
def _forward_loop(layer_norm: bool):
    """A chain's forward loop, one XLA computation: from ``inputs [L, b, I]`` padded to a bucket's length ``L``,
    the real length ``steps`` and the initial state, the last hidden and cell and, stacked ``[L, b, ...]`` (zero
    after ``steps``), each step's hidden and what backpropagation keeps: matmul operand, incoming cell, gates and
    ``tanh(new cell)`` (with layer norm, the packed values of :func:`layer_norm_lstm_update`)."""

    def run(inputs, steps, hidden, cell, weights, dropout_mask, norm_weights):
        arrays = [tf.TensorArray(inputs.dtype, size=tf.shape(inputs)[0]) for _ in range(5)]

        def step(t, hidden, cell, arrays):
            if layer_norm:
                new_hidden, new_cell, *kept = _layer_norm_forward_step(
                    hidden, cell, inputs[t], weights, dropout_mask, norm_weights)
            else:
                new_hidden, new_cell, *kept = _forward_step(hidden, cell, inputs[t], weights, dropout_mask)
            values = (new_hidden, kept[0], cell, *kept[1:])  # hidden, operand, incoming cell, gates, tanh(cell)
            return t + 1, new_hidden, new_cell, [array.write(t, value) for array, value in zip(arrays, values)]

        _, hidden, cell, arrays = tf.while_loop(lambda t, *_: t < steps, step, (0, hidden, cell, arrays))
        return hidden, cell, [array.stack() for array in arrays]

    return tf.function(run, jit_compile=True, reduce_retracing=True)


@functools.cache
def _backward_loop(layer_norm: bool):
    """A chain's BPTT loop, one XLA computation, last step first: from the outputs' gradients ``[L, b, H]``, the
    real length, the BPTT state (``d_hidden, d_cell`` and with layer norm ``d_norm_weights``) and what the forward
    loop kept, the pre-activations' gradients ``[L, b, 4H]`` (zero after ``steps``) and the final state."""

    def run(d_outputs, steps, state, previous_cells, gates, cell_values, transposed_recurrent_kernel, dropout_mask,
            norm_weights):
        all_d_gates = tf.TensorArray(d_outputs.dtype, size=tf.shape(d_outputs)[0])

        def step(t, state, all_d_gates):
            if layer_norm:
                d_gates, *state = _layer_norm_backward_step(
                    *state, d_outputs[t], previous_cells[t], gates[t], cell_values[t], transposed_recurrent_kernel,
                    dropout_mask, norm_weights)
            else:
                d_gates, *state = _backward_step(*state, d_outputs[t], gates[t], previous_cells[t], cell_values[t],
                                                 transposed_recurrent_kernel, dropout_mask)
            return t - 1, tuple(state), all_d_gates.write(t, d_gates)

        # t counts down from steps - 1 as a loop variable: an index computed from ``steps`` inside the loop
        # made XLA treat ``steps`` as a compile-time constant and compile once per length, not per bucket
        _, state, all_d_gates = tf.while_loop(lambda t, *_: t >= 0, step, (steps - 1, state, all_d_gates))
        return all_d_gates.stack(), state

    return tf.function(run, jit_compile=True, reduce_retracing=True)


def _lstm_scan(inputs, weights, hidden, cell, dropout_mask, norm_weights=None):
    """Run the LSTM over time-major ``inputs [T, B, I]``, as independent chains of the batch (:func:`_chain_sizes`),
    each one XLA loop (:func:`_forward_loop`).

    ``norm_weights`` (see :func:`layer_norm_lstm_sequence`) turns on layer norm. Returns hiddens ``[T, B, H]``,
    the last cell ``(B, H)``, the layout ``(T, padded length, chain sizes)``, and per chain what backpropagation
    needs, ``[padded length, b, ...]``: matmul operands, incoming cells, gates, ``tanh`` of the new cells (with layer
    norm the gates packed with the normalised pre-activations, and the tanh with the normalised cell and the 1/std's).
    """
    steps, sizes = tf.shape(inputs)[0], _chain_sizes(hidden)
    length = padded_length(steps)
    forward = _forward_loop(norm_weights is not None)
    constant = tf.stop_gradient  # run eagerly under a tape, the loop would otherwise be differentiated too
    norm_weights = None if norm_weights is None else constant(norm_weights)
    chains = [
        forward(chain_inputs, steps, chain_hidden, chain_cell, constant(weights), mask, norm_weights)
        for chain_inputs, chain_hidden, chain_cell, mask in zip(
            _split_batch(constant(_padded(inputs, length)), sizes, axis=1), _split_batch(constant(hidden), sizes),
            _split_batch(constant(cell), sizes), _split_batch(dropout_mask, sizes))
    ]
    hiddens = _join_batch([saved[0] for _, _, saved in chains], axis=1)[:steps]  # (T, B, H)
    hiddens.set_shape([inputs.shape[0], inputs.shape[1], hidden.shape[1]])
    last_cell = _join_batch([chain_cell for _, chain_cell, _ in chains])
    return hiddens, last_cell, (steps, length, sizes), [saved[1:] for _, _, saved in chains]


@tf.custom_gradient
def lstm_sequence(inputs, weights, hidden, cell, dropout_mask):
    """LSTM over time-major ``inputs [T, B, I]`` with a hand-written BPTT gradient.

    ``weights`` is :func:`stacked_weights`; ``dropout_mask (B, H)`` multiplies the recurrent state.
    Returns hiddens ``[T, B, H]`` and the last cell ``(B, H)``.
    """
    hiddens, last_cell, layout, saved = _lstm_scan(inputs, weights, hidden, cell, dropout_mask)

    def gradient(d_hiddens, d_last_cell):
        states, d_inputs, d_weights = _sequence_gradient(
            inputs, weights, cell, dropout_mask, layout, saved, d_hiddens, d_last_cell)
        d_hidden = _join_batch([state[0] for state in states])
        return d_inputs, d_weights, d_hidden, _join_batch([state[1] for state in states]), tf.zeros_like(dropout_mask)

    return (hiddens, last_cell), gradient


def _sequence_gradient(inputs, weights, cell, dropout_mask, layout, saved, d_hiddens, d_last_cell, norm_weights=None):
    """Backpropagation through a whole sequence: per chain the final BPTT state (:func:`_backward_loop`: ``d_hidden,
    d_cell`` and with layer norm the ``norm_weights`` gradient ``(10 H,)``), the inputs' gradient ``[T, B, I]`` and
    the stacked weights' gradient ``[H + I + 1, 4H]``."""
    (steps, length, sizes), backward = layout, _backward_loop(norm_weights is not None)
    d_last_cell = tf.zeros_like(cell) if d_last_cell is None else d_last_cell
    units, (width, gates_width) = tf.shape(cell)[1], tf.unstack(tf.shape(weights))
    transposed_recurrent_kernel = tf.transpose(weights[:units])  # (4H, H)
    input_kernel = weights[units:-1]  # (I, 4H)
    states, d_inputs, d_weights = [], [], []
    for (operands, *kept), d_outputs, chain_d_cell, mask in zip(
            saved, _split_batch(_padded(d_hiddens, length), sizes, axis=1), _split_batch(d_last_cell, sizes),
            _split_batch(dropout_mask, sizes)):
        state = (tf.zeros_like(chain_d_cell), chain_d_cell)
        if norm_weights is not None:  # and the norm_weights gradient summed so far (10 H,)
            state += (tf.zeros_like(norm_weights),)
        d_gates, state = backward(d_outputs, steps, state, *kept, transposed_recurrent_kernel, mask, norm_weights)
        d_gates = tf.reshape(d_gates[:steps], [-1, gates_width])  # (T*b, 4H)
        states.append(state)
        # one (H + I + 1, T*b) @ (T*b, 4H) matmul: every step's recurrent, input and bias gradient
        d_weights.append(tf.matmul(tf.reshape(operands[:steps], [-1, width]), d_gates, transpose_a=True))
        d_inputs.append(tf.reshape(tf.matmul(d_gates, input_kernel, transpose_b=True), [steps, -1, tf.shape(inputs)[2]]))
    return states, _join_batch(d_inputs, axis=1), tf.add_n(d_weights)


# ----------------------------------------------------------------------------------------------
# The layer-normalised LSTM (Ba et al. 2016; Ha & Eck's decoder; magenta's LayerNormLSTMCell): the step's
# pre-activations are normalised per gate block (mean 0, variance 1 over the H units of each of i, f, c, o),
# then scaled and shifted by learned gains and biases [4H]; the new cell is normalised the same way (gain and
# bias [H]) before its tanh. The stored cell stays unnormalised, as in magenta. The forget gate's unit bias
# lives in the post-norm shift (the pre-norm bias of the matmul is normalised away within a block).
# ``norm_weights`` = [gate gain (4H), gate shift (4H), cell gain (H), cell shift (H)], one vector of 10 H.


def _block_means(values, blocks):
    """Mean over each block's H units of ``values (B, blocks * H)``: ``(B, blocks)``. A matmul with a 0/1 block
    matrix: in the compiled step it ran ~10% faster than XLA's reductions (benchmarks/step_variants.py)."""
    units = tf.shape(values)[1] // blocks
    block_matrix = tf.repeat(tf.eye(blocks, dtype=values.dtype) / tf.cast(units, values.dtype), units, axis=0)
    return tf.matmul(values, block_matrix)  # (B, blocks)


def _layer_norm(values, blocks):
    """Normalise ``values (B, blocks * H)`` over each block's H units; returns them and ``1/std (B, blocks, 1)``."""
    shaped = tf.reshape(values, tf.stack([tf.shape(values)[0], blocks, -1]))  # (B, blocks, H)
    mean = _block_means(values, blocks)[:, :, None]
    variance = tf.maximum(_block_means(tf.square(values), blocks)[:, :, None] - tf.square(mean), 0.0)
    inverse_std = tf.math.rsqrt(variance + LAYER_NORM_EPSILON)
    return tf.reshape((shaped - mean) * inverse_std, tf.shape(values)), inverse_std


def _layer_norm_gradient(d_normalised, normalised, inverse_std, blocks):
    """Gradient through :func:`_layer_norm`: ``(d_xhat - mean(d_xhat) - xhat mean(d_xhat xhat)) / std`` per block."""
    shape = tf.stack([tf.shape(normalised)[0], blocks, -1])
    d_shaped, shaped = tf.reshape(d_normalised, shape), tf.reshape(normalised, shape)
    d_values = inverse_std * (d_shaped - _block_means(d_normalised, blocks)[:, :, None]
                              - shaped * _block_means(d_normalised * normalised, blocks)[:, :, None])
    return tf.reshape(d_values, tf.shape(normalised))


def _split_norm_weights(norm_weights, units):
    """``norm_weights [10 H]`` -> gate gain, gate shift ``[4H]``, cell gain, cell shift ``[H]``."""
    return tf.split(norm_weights, tf.stack([4 * units, 4 * units, units, units]))


def layer_norm_lstm_update(preactivations, cell, norm_weights):
    """:func:`lstm_update` with layer norm, for training and for drawing. Returns the new hidden and cell
    ``(B, H)``, the activated gates packed with the normalised pre-activations ``(B, 8H)``, and ``tanh`` of the
    normalised new cell packed with the normalised cell and the 1/std of the cell and of the 4 gate blocks
    ``(B, 2H + 5)``: packed, so a training step saves as many tensors as the plain LSTM's and both run the same
    loops (:func:`_forward_loop`). A sampler uses only the first two; XLA drops the rest."""
    gate_gain, gate_shift, cell_gain, cell_shift = _split_norm_weights(norm_weights, tf.shape(cell)[1])
    gates_normalised, gates_inverse_std = _layer_norm(preactivations, 4)  # (B, 4H), (B, 4, 1)
    input_gate, forget_gate, candidate, output_gate = _activated_gates(gates_normalised * gate_gain + gate_shift)
    cell = forget_gate * cell + input_gate * candidate
    cell_normalised, cell_inverse_std = _layer_norm(cell, 1)  # (B, H), (B, 1, 1)
    tanh_cell = tf.tanh(cell_normalised * cell_gain + cell_shift)
    gates = tf.concat([input_gate, forget_gate, candidate, output_gate, gates_normalised], axis=1)  # (B, 8H)
    cell_values = tf.concat([tanh_cell, cell_normalised, cell_inverse_std[:, :, 0], gates_inverse_std[:, :, 0]], axis=1)
    return output_gate * tanh_cell, cell, gates, cell_values


def _layer_norm_forward_step(hidden, cell, row, weights, dropout_mask, norm_weights):
    """One layer-normalised step; returns the new hidden and cell, the matmul operand, and the packed gates and
    cell values of :func:`layer_norm_lstm_update`: what the backward step needs."""
    operand = tf.concat([hidden * dropout_mask, row, tf.ones_like(row[:, :1])], axis=1)  # (B, H + I + 1)
    hidden, cell, gates, cell_values = layer_norm_lstm_update(tf.matmul(operand, weights), cell, norm_weights)
    return hidden, cell, operand, gates, cell_values


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
    hiddens, last_cell, layout, saved = _lstm_scan(inputs, weights, hidden, cell, dropout_mask, norm_weights)

    def gradient(d_hiddens, d_last_cell):
        states, d_inputs, d_weights = _sequence_gradient(
            inputs, weights, cell, dropout_mask, layout, saved, d_hiddens, d_last_cell, norm_weights)
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
