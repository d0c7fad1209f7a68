"""The settings of a training run: one dataclass, saved as ``train.json`` in the run directory.

Kept apart from :mod:`sketchrnn.train` so the command line can show defaults without importing TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CLIP_KINDS = ("value", "norm", "global_norm", "none")
STRATEGIES = ("default", "mirrored", "multi-worker")
MODEL_KINDS = ("decoder", "vae")  # sketchrnn.model.config.MODEL_KINDS (kept here: no TensorFlow import)


@dataclass
class TrainSettings:
    """Everything a training run depends on; saved as ``train.json`` in the run directory for --resume."""

    data: list[str]  # data sources (paths or category names), see sketchrnn.data.load_dataset
    out: str  # run directory
    categories: list[str] | None = None  # restrict to these categories (None: all in the data)
    hidden_size: int = 512  # LSTM units (paper 512; 256 trains ~3x faster on CPU)
    num_mixtures: int = 20  # Gaussians in the offset mixture (paper 20)
    recurrent_dropout: float = 0.1  # dropout on the LSTM state (magenta: keep probability 0.9)
    layer_norm: bool = False  # layer-normalised LSTM (the paper's decoder, magenta's LayerNormLSTMCell); off: plain
    category_embedding_size: int = 32  # category embedding width, for multi-category models
    model: str = "decoder"  # decoder (decoder only) or vae (the paper's encoder + decoder, with the KL term)
    encoder_size: int = 256  # VAE: units of each direction of the bidirectional encoder (paper 256)
    latent_size: int = 128  # VAE: N_z (paper 128)
    kl_weight: float = 0.5  # VAE: w_KL, the KL term's final weight (magenta 0.5)
    kl_min: float = 0.2  # VAE: KL_min, below which the KL term gives no gradient (magenta kl_tolerance 0.2)
    kl_weight_start: float = 0.01  # VAE: eta_min, where the annealing of the KL weight starts (paper 0.01)
    kl_decay_rate: float = 0.99995  # VAE: R in eta_step = 1 - (1 - eta_min) R^step (paper / magenta 0.99995)
    # feed a learned category embedding at every step when the data has several categories; None: yes for a decoder,
    # no for a VAE (its z says what the drawing is, so it redraws and morphs drawings of any category it learned)
    category_conditioning: bool | None = None

    @property
    def conditioned(self) -> bool:
        """Whether the model gets the category embedding (when the data has several categories)."""
        return self.model == "decoder" if self.category_conditioning is None else self.category_conditioning
    batch_size: int = 100  # drawings per batch (paper 100)
    steps: int = 10000  # optimisation steps to train for in total
    max_minutes: float | None = None  # wall-clock budget for this invocation; stops with a checkpoint
    learning_rate: float = 1e-3  # Adam's initial learning rate (paper 1e-3)
    min_learning_rate: float = 1e-5  # the decay's floor (magenta 1e-5)
    decay_rate: float = 0.9999  # lr = (lr0 - min) * decay_rate**step + min (magenta 0.9999)
    clip_kind: str = "value"  # gradient clipping: value (each element, magenta), norm, global_norm, none
    clip: float = 1.0  # the clipping threshold (magenta: 1.0)
    augment_scale: float = 0.15  # random x/y scale +-15% (magenta random_scale_factor)
    drop_points: float = 0.0  # probability to drop interior points (magenta augment_stroke_prob 0.10)
    max_length: int = 250  # drawings longer than this many points are left out (Sketch-RNN 250)
    rescale_to: float | None = None  # scale every drawing to this max side first (None: keep source units)
    seed: int = 0  # seeds the split, batch order, augmentation, dropout and initial weights
    validate_every: int = 250  # steps between validation runs (and best-model updates)
    checkpoint_every: int = 100  # steps between checkpoints
    log_every: int = 100  # steps between progress lines when the output is not a terminal (a log file, CI)
    strategy: str = "default"  # tf.distribute strategy: default (one device), mirrored, multi-worker
    download: bool = False  # allow downloading official category files into the cache
    # start from this trained decoder's weights (a model, run or checkpoint directory) instead of random ones
    init_from: str | None = None

    def validate(self) -> None:
        """Raise ValueError for settings that cannot train."""
        if self.clip_kind not in CLIP_KINDS:
            raise ValueError(f"clip kind {self.clip_kind!r} is not one of {', '.join(CLIP_KINDS)}")
        if self.model not in MODEL_KINDS:
            raise ValueError(f"model {self.model!r} is not one of {', '.join(MODEL_KINDS)}")
        if self.init_from and self.model != "decoder":
            raise ValueError("--init-from starts a decoder (--model decoder) from a trained decoder; a VAE starts "
                             "from random weights")
        if self.model == "vae" and (self.encoder_size < 1 or self.latent_size < 1):
            raise ValueError("--encoder-size and --latent-size must be at least 1")
        if not (self.kl_weight >= 0 and self.kl_min >= 0 and 0 <= self.kl_weight_start <= 1 and 0 < self.kl_decay_rate <= 1):
            raise ValueError("--kl-weight and --kl-min must be >= 0, --kl-weight-start in [0, 1] and --kl-decay-rate in (0, 1]")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r} is not one of {', '.join(STRATEGIES)}")
        if self.batch_size < 1 or self.steps < 0 or self.hidden_size < 1:
            raise ValueError("batch size and hidden size must be positive and steps non-negative")
        if not (self.learning_rate > 0 and self.min_learning_rate >= 0 and 0 < self.decay_rate <= 1):
            raise ValueError("learning rate must be > 0, min learning rate >= 0 and decay rate in (0, 1]")
        if not 0 <= self.augment_scale < 1 or not 0 <= self.drop_points < 1:
            raise ValueError("augment scale and drop-points probability must be in [0, 1)")
        self._validate_run_length()

    def _validate_run_length(self) -> None:
        """Raise ValueError for step intervals, time budget, clipping or dropout that cannot work."""
        if min(self.validate_every, self.checkpoint_every, self.log_every, self.num_mixtures) < 1:
            raise ValueError("--validate-every, --checkpoint-every, --log-every and --num-mixtures must be at least 1")
        if self.max_minutes is not None and not (math.isfinite(self.max_minutes) and self.max_minutes > 0):
            raise ValueError(f"--max-minutes must be a finite number of minutes > 0, got {self.max_minutes}")
        if self.clip_kind != "none" and not (math.isfinite(self.clip) and self.clip > 0):
            raise ValueError(f"--clip must be a finite number > 0 (or --clip-kind none), got {self.clip}")
        if not 0 <= self.recurrent_dropout < 1:
            raise ValueError(f"--recurrent-dropout must be in [0, 1), got {self.recurrent_dropout}")
