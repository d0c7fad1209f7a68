"""Make the network a config describes: the one place that knows both kinds (decoder and VAE)."""

from __future__ import annotations

import tensorflow as tf

from sketchrnn.model.config import ModelConfig
from sketchrnn.model.network import SketchRNN
from sketchrnn.model.vae import SketchVAE


def build_network(config: ModelConfig) -> SketchRNN:
    """Create the network of ``config.kind`` (:class:`SketchRNN` or :class:`SketchVAE`) and build its weights
    with one dummy step."""
    dummy = tf.zeros([1, 2, 5])
    ids = tf.zeros([1], tf.int32) if config.num_categories > 1 else None
    if config.kind == "vae":
        network = SketchVAE(config)
        network((dummy, dummy, ids))
        return network
    network = SketchRNN(config)
    network(dummy if ids is None else (dummy, ids))
    return network
