"""The model's hyperparameters: one dataclass, saved as JSON beside the weights."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sketchrnn import limits
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
    def from_dict(cls, values) -> "ModelConfig":
        """Rebuild a config from :meth:`to_dict` output (untrusted: a file's), checking every field's type and range.

        Missing fields take their defaults (older model directories lack the newer ones); an unknown field, a
        wrong type (a float, a string or a boolean for a whole number, a string for a boolean, ...) or a value
        out of range is a ValueError naming the field.
        """
        if not isinstance(values, dict):
            raise ValueError(f"the model settings must be a JSON object of fields, got {type(values).__name__}")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown model config fields {unknown}; known fields are {sorted(known)}")
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ValueError, naming the field, for a type or value the network cannot be built with (``FIELD_RANGES``)."""
        for field in dataclasses.fields(self):
            check_field(field.name, getattr(self, field.name))
        if self.kind == "vae" and (self.encoder_size < 1 or self.latent_size < 1):
            raise ValueError("a VAE's encoder size and latent size must be at least 1")

    def parameter_count(self) -> int:
        """How many numbers the network's weights hold (the decoder, the category embedding, a VAE's encoder)."""
        hidden, gates = self.hidden_size, 4 * self.hidden_size
        embedding = self.category_embedding_size if self.num_categories > 1 else 0
        inputs = 5 + embedding + (self.latent_size if self.kind == "vae" else 0)
        count = (inputs + hidden + 1) * gates + (hidden + 1) * self.output_size  # LSTM, mixture head
        count += 10 * hidden if self.layer_norm else 0
        count += self.num_categories * embedding
        if self.kind == "vae":
            encoder, latent = self.encoder_size, self.latent_size
            count += 2 * (5 + encoder + 1) * 4 * encoder  # forward and backward LSTMs
            count += 2 * (2 * encoder + 1) * latent + (latent + 1) * 2 * hidden  # mu, sigma_hat, initial state
        return count

    def memory_estimate(self) -> int:
        """Bytes the model takes to build, load and sample at its largest: its weights (``WEIGHT_COST`` times their
        size) and the sampler's buffers, which grow with ``max_length`` and the batch (``SAMPLER_STREAMS`` per category)."""
        streams = SAMPLER_STREAMS * self.num_categories  # guided drawing and scoring run one stream per category
        rows = self.max_length + 1
        per_row = 5 * 5 + 2 * self.output_size  # floats a row takes: stroke-5 buffers, head outputs when scoring
        return 4 * (WEIGHT_COST * self.parameter_count() + streams * rows * per_row)

    def check_memory(self, where: str = "") -> None:
        """Raise ValueError when :meth:`memory_estimate` is past the model memory limit (``SKETCHRNN_MAX_MODEL_MB``),
        naming the setting that costs most; ``where`` names the model for the message."""
        estimate = self.memory_estimate()
        costliest = max(MEMORY_FIELDS, key=lambda name: _memory_without(self, name))
        limits.MODEL_MEMORY.check(estimate, where, f"the model would take about {estimate / limits.MIB:,.0f} MiB,",
                                  f"mostly for its {costliest} {getattr(self, costliest)}")


FIELD_RANGES = {  # field -> (lowest, highest) a config may hold; whole numbers unless the default is a float
    "hidden_size": (1, 8192),
    "num_mixtures": (1, 256),
    "num_categories": (1, 100_000),
    "category_embedding_size": (1, 4096),
    "recurrent_dropout": (0.0, 0.99),
    "max_length": (1, 10_000),
    "min_log_sigma": (-100.0, LOG_SIGMA_RANGE[1]),
    "encoder_size": (1, 8192),
    "latent_size": (1, 4096),
}
MEMORY_FIELDS = ("hidden_size", "max_length", "num_categories", "num_mixtures", "category_embedding_size", "encoder_size",
                 "latent_size")  # the settings the memory estimate grows with
SAMPLER_STREAMS = 64  # the most rows the sampler runs per category: 16 drawings x 4 tries (sample.MAX_ENDINGS, MAX_TRIES)
# bytes a model takes per byte of its weights: the Keras variables, the sampler's copies, the NumPy arrays while
# loading, and building's orthogonal initialiser (a QR of the recurrent kernel): measured with /usr/bin/time -f %M,
# building cost 3.4x the weights' size at hidden_size 1500, 5.4x at 3000, 6x at 4500
WEIGHT_COST = 8


def check_field(name: str, value) -> None:
    """Raise ValueError naming ``name`` unless ``value`` has the field's type (from the dataclass) and range."""
    default = next(field.default for field in dataclasses.fields(ModelConfig) if field.name == name)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"model setting {name} must be true or false, got {_shown(value)}")
        return
    if isinstance(default, str):
        if value not in MODEL_KINDS:
            raise ValueError(f"model setting {name} must be one of {', '.join(MODEL_KINDS)}, got {_shown(value)}")
        return
    whole = isinstance(default, int)
    number = isinstance(value, int) if whole else isinstance(value, (int, float))
    if isinstance(value, bool) or not number:
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"model setting {name} must be {kind}, got {_shown(value)}")
    low, high = FIELD_RANGES[name]
    if not low <= value <= high:  # NaN fails both comparisons; a huge integer is compared exactly, never converted
        raise ValueError(f"model setting {name} must be from {low:g} to {high:g}, got {_shown(value)}")


def _shown(value) -> str:
    """A value for a message: JSON-like, cut short."""
    text = repr(value) if not isinstance(value, str) else f"the string {value[:40]!r}"
    return text if len(text) <= 60 else text[:57] + "..."


def _memory_without(config: ModelConfig, name: str) -> int:
    """How much of the estimate goes away with the field ``name`` at its default: which setting costs most."""
    return config.memory_estimate() - dataclasses.replace(config, **{name: getattr(ModelConfig, name)}).memory_estimate()
