"""A trained model: the network with everything needed to use it (config, data statistics, categories, sampler)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sketchrnn.drawing_settings import NO_SETTINGS, ModelDrawingSettings
from sketchrnn.model.inference import Sampler
from sketchrnn.sample import cut, shown
from sketchrnn.strokes import DataStats


@dataclass
class TrainedModel:
    """A built Keras model with everything needed to use it: config, data statistics, categories."""

    network: object  # sketchrnn.model.SketchRNN
    config: object  # sketchrnn.model.ModelConfig
    stats: DataStats
    categories: list[str]
    step: int = 0
    name: str = ""
    path: Path | None = None
    metadata: dict = field(default_factory=dict)  # free-form facts (data sources, losses) from config.json
    drawing: ModelDrawingSettings = NO_SETTINGS  # how it draws when not told (config.json "drawing"; see drawing_settings)

    def category_id(self, category: str | None) -> int:
        """Index of a category name; ``None`` means the first (or only) category."""
        if category is None:
            return 0
        if category not in self.categories:
            raise ValueError(f"unknown category {shown(category)}; this model draws: "
                             f"{cut(', '.join(self.categories), 300)} ({len(self.categories)} in all)")
        return self.categories.index(category)

    @functools.cached_property
    def sampler(self) -> Sampler:
        """The compiled sampler and scorer (:class:`~sketchrnn.model.inference.Sampler`), built on first use
        from the weights as they are then, and kept with the model."""
        return Sampler(self.network)

    def numpy_weights(self) -> dict[str, np.ndarray]:
        """The weights as NumPy arrays keyed by weight path (what a checkpoint saves)."""
        return {weight_key(weight): np.asarray(weight.numpy()) for weight in self.network.weights}


def weight_key(weight) -> str:
    """A weight's path without the model's (auto-numbered) name: ``lstm/kernel``, ``mixture_head/bias``."""
    return weight.path.split("/", 1)[-1]
