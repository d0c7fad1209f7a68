"""The paper's full model: a bidirectional LSTM encoder to a latent vector z, and the decoder conditioned on z.

Ha & Eck 2017, section 3. The encoder reads a drawing's stroke-5 rows forwards and backwards; the
two last hidden states give the mean ``mu`` and ``sigma_hat`` of a diagonal Gaussian over z, with
``sigma = exp(sigma_hat / 2)``. In training ``z = mu + sigma * N(0, I)``; elsewhere (evaluation,
encoding a drawing to redraw it) ``z = mu`` unless a sample is asked for. z sets the decoder's initial
state through a tanh layer and is fed, with the stroke-5 row, at every step. The loss is
``L_R + w_KL * eta_step * max(L_KL, KL_min)`` with the paper's annealing ``eta_step = 1 - (1 - eta_min) R^step``.

A drawing's padding never reaches z: the forward LSTM's state is read at the drawing's last point and
the backward LSTM reads the drawing reversed within its own length, so a padded batch encodes each
drawing exactly as it would alone.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sketchrnn.model.lstm import StrokeLSTM
from sketchrnn.model.network import SketchRNN, beside_every_row


class SketchVAE(SketchRNN):
    """Encoder + decoder: the decoder of :class:`SketchRNN` (same ``lstm`` and ``mixture_head``) started from z."""

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        dropout = config.recurrent_dropout
        self.encoder_forward = StrokeLSTM(config.encoder_size, recurrent_dropout=dropout, name="encoder_forward")
        self.encoder_backward = StrokeLSTM(config.encoder_size, recurrent_dropout=dropout, name="encoder_backward")
        self.latent_mean = keras.layers.Dense(config.latent_size, name="latent_mean")
        self.latent_sigma_hat = keras.layers.Dense(config.latent_size, name="latent_sigma_hat")
        self.initial_state_layer = keras.layers.Dense(2 * config.hidden_size, activation="tanh", name="initial_state")
        self.noise_seed = keras.random.SeedGenerator(None)

    def lstm_input_size(self) -> int:
        """Width of the decoder's input rows: stroke-5, z and the category embedding (if any)."""
        return super().lstm_input_size() + self.config.latent_size

    def build_layers(self) -> None:
        """As :meth:`SketchRNN.build_layers`, with the encoder, the latent layers and the initial-state layer."""
        super().build_layers()
        for encoder in (self.encoder_forward, self.encoder_backward):
            encoder.build((None, None, 5))
        for latent in (self.latent_mean, self.latent_sigma_hat):
            latent.build((None, 2 * self.config.encoder_size))
        self.initial_state_layer.build((None, self.config.latent_size))

    def encode(self, drawing, training=False):
        """``drawing [B, T, 5]`` (points, then end rows as padding) -> ``(mu, sigma_hat)``, each ``[B, N_z]``."""
        lengths = tf.cast(tf.reduce_sum(1.0 - drawing[..., 4], axis=1), tf.int32)  # real points per drawing
        last = tf.maximum(lengths - 1, 0)
        forward, _ = self.encoder_forward(drawing, training=training)
        backward, _ = self.encoder_backward(
            tf.reverse_sequence(drawing, lengths, seq_axis=1, batch_axis=0), training=training)
        summary = tf.concat([tf.gather(forward, last, batch_dims=1), tf.gather(backward, last, batch_dims=1)], axis=-1)
        return self.latent_mean(summary), self.latent_sigma_hat(summary)

    def sample_latent(self, mu, sigma_hat, seed=None):
        """``z = mu + exp(sigma_hat / 2) * eps``, eps ~ N(0, I) (from the network's own seed unless one is given)."""
        noise = keras.random.normal(tf.shape(mu), seed=self.noise_seed if seed is None else seed)
        return mu + tf.exp(sigma_hat / 2.0) * noise

    def initial_state(self, z):
        """The decoder's initial ``[hidden, cell]`` from z: one tanh layer, split in two ``[B, H]``."""
        hidden, cell = tf.split(self.initial_state_layer(z), 2, axis=-1)
        return [hidden, cell]

    def lstm_inputs(self, stroke5, category_ids=None, z=None):
        """Every stroke-5 row with z (and the category embedding, if any) beside it: ``[B, T, 5 + N_z (+E)]``."""
        return super().lstm_inputs(beside_every_row(stroke5, z), category_ids)

    def call(self, inputs, training=False):
        """``inputs = (stroke5 [B, T, 5], drawing [B, T, 5], category_ids [B] or None)``; ``drawing`` is what the
        encoder reads (the rows after the start token: the targets).

        Returns ``(outputs [B, T, 6M + 3], mu [B, N_z], sigma_hat [B, N_z])``; z is sampled in training, mu otherwise.
        """
        stroke5, drawing, category_ids = inputs
        mu, sigma_hat = self.encode(drawing, training=training)
        z = self.sample_latent(mu, sigma_hat) if training else mu
        sequence, _ = self.lstm(self.lstm_inputs(stroke5, category_ids, z), initial_state=self.initial_state(z),
                                training=training)
        return self.head(sequence), mu, sigma_hat

    def decoder_start(self, category_ids, z=None):
        """As :meth:`SketchRNN.decoder_start`, with z's rows of the kernel times z folded into the bias and the
        initial state computed from z (``z [B, N_z]`` is required)."""
        if z is None:
            raise ValueError("a VAE draws from a latent vector z: encode a drawing first (or sample z ~ N(0, I))")
        z = tf.convert_to_tensor(z, tf.float32)
        category_ids = tf.convert_to_tensor(category_ids, tf.int32)
        kernel = self.lstm.kernel
        latent = self.config.latent_size
        bias = self.lstm.bias[None] + tf.matmul(z, kernel[5 : 5 + latent])
        if self.category_embedding is not None:
            bias += tf.matmul(self.category_embedding(category_ids), kernel[5 + latent :])
        hidden, cell = self.initial_state(z)
        return bias, hidden, cell


def kl_divergence(mu, sigma_hat):
    """L_KL per drawing ``[B]``: KL(N(mu, sigma) || N(0, I)) / N_z, the paper's eq. 12 (sigma = exp(sigma_hat / 2))."""
    return -0.5 * tf.reduce_mean(1.0 + sigma_hat - tf.square(mu) - tf.exp(sigma_hat), axis=-1)


def kl_annealing(step, eta_min: float, decay: float):
    """``eta_step = 1 - (1 - eta_min) R^step``: the KL term's weight grows from eta_min towards 1 (paper eq. 13)."""
    step = tf.cast(step, tf.float64)  # in float32, R = 0.99995 itself is off by 3e-8, R^10000 by 3e-4
    return tf.cast(1.0 - (1.0 - eta_min) * tf.pow(tf.constant(decay, tf.float64), step), tf.float32)


def kl_term(kl, weight, kl_min: float):
    """``weight * max(mean L_KL, KL_min)`` over a batch's ``kl [B]`` (weight: ``w_KL * eta_step``); below KL_min
    the term gives no gradient."""
    return weight * tf.maximum(tf.reduce_mean(kl), kl_min)
