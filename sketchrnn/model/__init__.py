"""Sketch-RNN models: the networks, their loss, and a trained model with everything needed to use it.

Ha & Eck, "A Neural Representation of Sketch Drawings" (arXiv 1704.03477). An LSTM reads stroke-5
rows and after each row predicts the next one as a mixture of ``M`` bivariate Gaussians for
``(dx, dy)`` and a 3-way categorical for the pen state. Optionally a category id is embedded and fed
at every step, so one model can draw several categories.

* :mod:`~sketchrnn.model.config`: :class:`ModelConfig`, the hyperparameters;
* :mod:`~sketchrnn.model.lstm`: the LSTM layer with its hand-written, compiled backward pass;
* :mod:`~sketchrnn.model.network`: the decoder-only network;
* :mod:`~sketchrnn.model.vae`: the VAE (encoder to z, decoder from z) and its KL term;
* :mod:`~sketchrnn.model.build`: :func:`build_network`, the network of either kind from its config;
* :mod:`~sketchrnn.model.mixture`: mixture parameters and the reconstruction loss L_R;
* :mod:`~sketchrnn.model.inference`: :class:`Sampler`, drawing and scoring in XLA-compiled loops;
* :mod:`~sketchrnn.model.trained`: :class:`TrainedModel`, a network with everything needed to use it.

These modules build networks and compute losses: no files, prints or flags.
"""

from sketchrnn.model.build import build_network
from sketchrnn.model.config import ModelConfig
from sketchrnn.model.inference import Sampler
from sketchrnn.model.lstm import StrokeLSTM, layer_norm_lstm_sequence, lstm_sequence
from sketchrnn.model.mixture import (
    LOG_SIGMA_RANGE,
    RHO_LIMIT,
    bivariate_normal_log_pdf,
    magenta_reconstruction_loss,
    mixture_params,
    reconstruction_loss,
)
from sketchrnn.model.network import SketchRNN, fold_embedding
from sketchrnn.model.trained import TrainedModel, weight_key
from sketchrnn.model.vae import SketchVAE, kl_annealing, kl_divergence, kl_term

__all__ = [
    "LOG_SIGMA_RANGE",
    "RHO_LIMIT",
    "ModelConfig",
    "Sampler",
    "SketchRNN",
    "SketchVAE",
    "StrokeLSTM",
    "TrainedModel",
    "bivariate_normal_log_pdf",
    "build_network",
    "fold_embedding",
    "kl_annealing",
    "kl_divergence",
    "kl_term",
    "layer_norm_lstm_sequence",
    "lstm_sequence",
    "magenta_reconstruction_loss",
    "mixture_params",
    "reconstruction_loss",
    "weight_key",
]
