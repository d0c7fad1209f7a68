"""A NumPy reference of the decoder, to check the compiled sampler against independent maths (tests only).

Written from the equations, not from the product's code: the LSTM in Keras's gate order (i, f, c, o), the
layer-normalised variant as magenta's ``LayerNormLSTMCell`` (Ba et al. 2016), one step at a time in NumPy,
with the category embedding concatenated to every row as the Keras network does (the sampler folds it into
the bias instead). Greedy sampling needs no randomness: the likeliest component's mean and pen state.
"""

from __future__ import annotations

import numpy as np

from sketchrnn import strokes

LAYER_NORM_EPSILON = 1e-3  # magenta's layer_norm epsilon


def sigmoid(values):
    return 0.5 * (np.tanh(0.5 * values) + 1.0)  # numerically safe for large |values|


def layer_norm(values, blocks: int):
    """``values [B, blocks * H]`` normalised to mean 0, variance 1 over each block's H units."""
    shaped = values.reshape(len(values), blocks, -1)
    centred = shaped - shaped.mean(axis=2, keepdims=True)
    return (centred / np.sqrt(np.square(centred).mean(axis=2, keepdims=True) + LAYER_NORM_EPSILON)).reshape(values.shape)


class NumpyDecoder:
    """A decoder-only model's LSTM and mixture head as NumPy arrays, stepped one row at a time."""

    def __init__(self, model):
        network = model.network
        self.kernel = network.lstm.kernel.numpy()  # (5 + E, 4H)
        self.recurrent_kernel = network.lstm.recurrent_kernel.numpy()  # (H, 4H)
        self.bias = network.lstm.bias.numpy()  # (4H,)
        self.head_kernel, self.head_bias = network.head.kernel.numpy(), network.head.bias.numpy()  # (H, 6M + 3)
        embedding = network.category_embedding
        self.embedding = None if embedding is None else embedding.embeddings.numpy()  # (categories, E)
        self.units = self.recurrent_kernel.shape[0]
        self.norm_weights = None  # gate gain, gate shift (4H each), cell gain, cell shift (H each)
        if model.config.layer_norm:
            self.norm_weights = np.split(network.lstm.norm_weights.numpy(), np.cumsum([4, 4, 1]) * self.units)
        self.num_mixtures = model.config.num_mixtures

    def step(self, inputs, state):
        """One step on ``inputs [B, 5 + E]``; returns head outputs ``[B, 6M + 3]`` and the new ``(hidden, cell)``."""
        hidden, cell = state
        preactivations = inputs @ self.kernel + hidden @ self.recurrent_kernel + self.bias  # (B, 4H)
        if self.norm_weights is not None:
            preactivations = layer_norm(preactivations, 4) * self.norm_weights[0] + self.norm_weights[1]
        input_gate, forget_gate, candidate, output_gate = np.split(preactivations, 4, axis=1)
        cell = sigmoid(forget_gate) * cell + sigmoid(input_gate) * np.tanh(candidate)
        cell_out = cell if self.norm_weights is None else layer_norm(cell, 1) * self.norm_weights[2] + self.norm_weights[3]
        hidden = sigmoid(output_gate) * np.tanh(cell_out)
        return hidden @ self.head_kernel + self.head_bias, (hidden, cell)

    def inputs(self, stroke5_rows, category_ids):
        """``[B, 5]`` rows with each sequence's category embedding concatenated: ``[B, 5 + E]``."""
        if self.embedding is None:
            return stroke5_rows
        return np.concatenate([stroke5_rows, self.embedding[np.asarray(category_ids)]], axis=1)

    def run(self, stroke5, category_ids, state=None):
        """Feed ``stroke5 [B, T, 5]`` from ``state`` (default zeros); returns outputs ``[B, T, 6M + 3]`` and the state."""
        zeros = np.zeros((len(stroke5), self.units), np.float32)
        state = (zeros, zeros) if state is None else state
        outputs = []
        for t in range(stroke5.shape[1]):
            output, state = self.step(self.inputs(stroke5[:, t], category_ids), state)
            outputs.append(output)
        return np.stack(outputs, axis=1), state

    def greedy_row(self, outputs):
        """The greedy next stroke-5 row ``[B, 5]``: the likeliest component's mean offset, the likeliest pen state."""
        m, rows = self.num_mixtures, np.arange(len(outputs))
        component = outputs[:, 3 : 3 + m].argmax(axis=1)
        row = np.zeros((len(outputs), 5), np.float32)
        row[:, 0] = outputs[rows, 3 + m + component]  # mu_x
        row[:, 1] = outputs[rows, 3 + 2 * m + component]  # mu_y
        row[rows, 2 + outputs[:, :3].argmax(axis=1)] = 1.0
        return row

    def greedy_drawing(self, stroke3, category_id: int, steps: int) -> np.ndarray:
        """Prime with a normalised stroke-3 drawing, then draw greedily up to ``steps`` rows or the end row: stroke-3."""
        prime = strokes.stroke3_to_stroke5(stroke3)[None, :-1]  # start token + points, without the end row
        _, state = self.run(prime[:, :-1], [category_id])
        row, drawn = prime[:, -1], []
        for _ in range(steps):
            output, state = self.step(self.inputs(row, [category_id]), state)
            row = self.greedy_row(output)
            if row[0, 4] == 1.0:
                break
            drawn.append(row[0])
        return strokes.stroke5_to_stroke3(np.array(drawn, np.float32).reshape(-1, 5), has_start_token=False)
