"""The model's hyperparameters: one dataclass, saved as JSON beside the weights."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sketchrnn.model.mixture import LOG_SIGMA_RANGE

MODEL_KINDS = ("decoder", "vae")


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
    kind: str = "decoder"  # "decoder": decoder only (draws and completes); "vae": encoder + decoder (also redraws, morphs)
    encoder_size: int = 256  # units of each direction of the VAE's bidirectional encoder (paper 256)
    latent_size: int = 128  # N_z, the VAE's latent vector (paper 128)

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
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"model kind {self.kind!r} is not one of {', '.join(MODEL_KINDS)}")
        if self.kind == "vae" and (self.encoder_size < 1 or self.latent_size < 1):
            raise ValueError("a VAE's encoder size and latent size must be at least 1")
        if not 0.0 <= self.recurrent_dropout < 1.0:
            raise ValueError(f"recurrent_dropout must be in [0, 1), got {self.recurrent_dropout}")
