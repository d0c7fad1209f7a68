"""Make the network a config describes: the one place that knows both kinds (decoder and VAE)."""

from __future__ import annotations

from sketchrnn.model.config import ModelConfig
from sketchrnn.model.network import SketchRNN
from sketchrnn.model.vae import SketchVAE


def build_network(config: ModelConfig) -> SketchRNN:
    """Create the network of ``config.kind`` (:class:`SketchRNN` or :class:`SketchVAE`) with all its weights."""
    network = SketchVAE(config) if config.kind == "vae" else SketchRNN(config)
    network.build_weights()
    return network
