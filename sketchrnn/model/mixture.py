"""The mixture-density output: its parameters, and the reconstruction loss L_R."""

from __future__ import annotations

import math

import tensorflow as tf

LOG_SIGMA_RANGE = (-7.0, 5.0)  # default clip of log sigma: sigma stays in [~1e-3, ~150] normalised units
RHO_LIMIT = 1.0 - 1e-6  # |rho| is clipped below 1, so 1 - rho^2 never reaches 0 (clipped, not scaled:
# tanh(rho_hat) is used exactly as magenta does wherever |rho| < RHO_LIMIT)


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
