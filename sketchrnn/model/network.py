"""The decoder-only Sketch-RNN network (the VAE in :mod:`sketchrnn.model.vae` extends it; :mod:`sketchrnn.model.build`
makes either from a config)."""

from __future__ import annotations

import keras
import tensorflow as tf

from sketchrnn.model.config import ModelConfig
from sketchrnn.model.lstm import StrokeLSTM


def beside_every_row(rows, vector):
    """``rows [B, T, F]`` with one vector per drawing ``[B, V]`` concatenated to each of its rows: ``[B, T, F + V]``.

    Broadcast, not tiled: tile's gradient transposes an int32 shape, which oneDNN logs an error line about.
    """
    vector = tf.cast(vector, rows.dtype)
    shape = tf.stack([tf.shape(vector)[0], tf.shape(rows)[1], tf.shape(vector)[1]])
    return tf.concat([rows, tf.broadcast_to(vector[:, None, :], shape)], axis=-1)


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

    def lstm_input_size(self) -> int:
        """Width of the LSTM's input rows: stroke-5 and the category embedding (if any)."""
        return 5 + (self.config.category_embedding_size if self.category_embedding is not None else 0)

    def build_weights(self) -> None:
        """Create every weight from the config alone, without a forward pass (which would trace and compile the
        LSTM's training loops: seconds that loading a model for drawing does not need). The weights are named
        as a forward pass names them (``<model>/lstm/kernel``), within the network's name scope."""
        with keras.name_scope(self.name, caller=self):
            self.build_layers()
        self.built = True

    def build_layers(self) -> None:
        """Build each layer for the input shape it will see."""
        if self.category_embedding is not None:
            self.category_embedding.build((None,))
        self.lstm.build((None, None, self.lstm_input_size()))
        self.head.build((None, None, self.config.hidden_size))

    def lstm_inputs(self, stroke5, category_ids=None):
        """Concatenate the category embedding (if any) to every stroke-5 row: ``[B, T, 5 (+E)]``."""
        if self.category_embedding is None:
            return stroke5
        if category_ids is None:
            raise ValueError("this model draws several categories: pass category_ids")
        return beside_every_row(stroke5, self.category_embedding(category_ids))

    def call(self, inputs, training=False, initial_state=None):
        """``inputs`` = stroke-5 ``[B, T, 5]`` or ``(stroke5, category_ids [B])``.

        Returns ``(outputs [B, T, 6M + 3], [h (B, H), c (B, H)])``.
        """
        stroke5, category_ids = inputs if isinstance(inputs, (tuple, list)) else (inputs, None)
        sequence, state = self.lstm(self.lstm_inputs(stroke5, category_ids), initial_state=initial_state, training=training)
        return self.head(sequence), state  # (B, T, 6M + 3), [(B, H), (B, H)]

    def decoder_start(self, category_ids, z=None):
        """Where each sequence's decoder starts, for step-by-step drawing and scoring.

        Returns ``(bias [B, 4H], hidden [B, H], cell [B, H])``: the LSTM bias with every per-sequence
        input folded in (here the category embedding: its rows of the kernel times the embedding), and
        the initial state (zeros here; the VAE's comes from z). A step then needs only the stroke-5 row:
        ``row @ kernel[:5] + hidden @ recurrent_kernel + bias``. ``z`` is for the VAE and must be None here.
        """
        if z is not None:
            raise ValueError("a decoder-only model has no latent vector z")
        category_ids = tf.convert_to_tensor(category_ids, tf.int32)
        batch = tf.shape(category_ids)[0]
        bias = tf.tile(self.lstm.bias[None], tf.stack([batch, 1]))
        if self.category_embedding is not None:
            bias += tf.matmul(self.category_embedding(category_ids), self.lstm.kernel[5:])
        zeros = tf.zeros(tf.stack([batch, self.config.hidden_size]))
        return bias, zeros, zeros


def fold_embedding(kernel, bias, embedding):
    """An LSTM's input weights for one fixed embedding: ``(kernel[:5] (5, 4H), bias + embedding @ kernel[5:] (4H,))``.

    ``kernel (5 + E, 4H)`` reads a stroke-5 row and an embedding ``(E,)`` fed beside every row; a fixed embedding
    contributes the same to every step, so it moves into the bias (the sum :meth:`SketchRNN.decoder_start` makes
    per sequence). NumPy arrays in and out.
    """
    return kernel[:5], bias + embedding @ kernel[5:]

