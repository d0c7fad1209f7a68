"""Training with backpropagation through time: the loop, checkpoints, resume, validation, evaluation.

``train(settings)`` runs (or resumes) a run directory: it loads the data, builds the model under a
``tf.distribute`` strategy, and steps through seeded, length-bucketed batches. It saves a checkpoint
every ``checkpoint_every`` steps, at the end, on Ctrl-C and when the time budget runs out; it keeps the
model with the best validation L_R in ``best/``; it stops cleanly on a NaN or infinite loss, leaving
the last good checkpoint as it was.

Several machines (``--strategy multi-worker``, ``TF_CONFIG``) follow MultiWorkerMirroredStrategy's
conventions: every worker runs the same steps in lock-step, but only the chief (task type ``chief``, or
worker 0 when the cluster has no chief) writes the run directory. The other workers write their
checkpoints, ``best/`` and logs into a private temporary folder that they delete when they stop (saving
here is plain NumPy, not a collective op, so they could skip it; writing it keeps one code path). Every
worker resumes from the run directory's latest checkpoint, so all of them must see the chief's ``--out``
(a shared file system); they check that they start from the same step.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import gc
import io
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sketchrnn import checkpoint as ckpt
from sketchrnn import files
from sketchrnn.model import TrainedModel, build_network, fold_embedding, reconstruction_loss
from sketchrnn.model.vae import kl_annealing, kl_divergence, kl_term
from sketchrnn.pipeline import Augmentation, BatchSource, evaluation_batches, normalized_split, tf_dataset
from sketchrnn.settings import TrainSettings
from sketchrnn.strokes import normalize

class MagentaDecay(keras.optimizers.schedules.LearningRateSchedule):
    """magenta's schedule: ``lr = (lr0 - lr_min) * decay_rate ** step + lr_min``."""

    def __init__(self, initial: float, minimum: float, decay_rate: float):
        self.initial, self.minimum, self.decay_rate = initial, minimum, decay_rate

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        return (self.initial - self.minimum) * tf.pow(self.decay_rate, step) + self.minimum

    def get_config(self):
        return {"initial": self.initial, "minimum": self.minimum, "decay_rate": self.decay_rate}


def clip_gradients(gradients, kind: str, threshold: float):
    """Clip gradients: each element (``value``), each tensor's norm, the global norm, or not at all."""

    if kind == "value":
        return [tf.clip_by_value(g, -threshold, threshold) for g in gradients]
    if kind == "norm":
        return [tf.clip_by_norm(g, threshold) for g in gradients]
    if kind == "global_norm":
        return tf.clip_by_global_norm(gradients, threshold)[0]
    return list(gradients)


def worker_task(strategy_name: str) -> tuple[str, int] | None:
    """This process's ``(task type, index)`` in a multi-worker cluster (from ``$TF_CONFIG``), or None when alone."""
    if strategy_name != "multi-worker" or not os.environ.get("TF_CONFIG"):
        return None
    try:
        task = json.loads(os.environ["TF_CONFIG"]).get("task") or {}
        return (str(task["type"]), int(task.get("index", 0))) if task else None
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"$TF_CONFIG is not valid cluster JSON ({error}); expected e.g. "
                         '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}') from None


def is_chief(strategy_name: str) -> bool:
    """True for the process that writes the run: no cluster, task type ``chief``, or worker 0 without a chief."""
    task = worker_task(strategy_name)
    if task is None or task[0] == "chief":
        return True
    cluster = json.loads(os.environ["TF_CONFIG"]).get("cluster") or {}
    return task == ("worker", 0) and "chief" not in cluster


def make_strategy(name: str):
    """The tf.distribute strategy for a name; ``multi-worker`` reads the cluster from TF_CONFIG."""

    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        # no GPU: mirror over the logical CPU devices (one, unless the process configured several)
        return tf.distribute.MirroredStrategy([device.name for device in tf.config.list_logical_devices("CPU")])
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


class Trainer:
    """Holds the model, optimizer and compiled steps of one run."""

    def __init__(self, settings: TrainSettings, model: TrainedModel, strategy):

        self.settings = settings
        self.model = model
        self.strategy = strategy
        self.n_max = model.config.max_length + 1  # the paper's N_max: longest drawing + its end row
        with strategy.scope():
            schedule = MagentaDecay(settings.learning_rate, settings.min_learning_rate, settings.decay_rate)
            self.optimizer = keras.optimizers.Adam(learning_rate=schedule)
            self.optimizer.build(model.network.trainable_variables)
        self._train_step = tf.function(self._distributed_step, reduce_retracing=True, autograph=False)
        self._eval_step = tf.function(self._losses, reduce_retracing=True, autograph=False)

    def _losses(self, inputs, targets, training=False):
        """Per-drawing (offset, pen, KL) losses of a batch, ``[B]`` each (KL is 0 for a decoder-only model)."""
        stroke5, category_ids = inputs
        config = self.model.config
        category_ids = category_ids if config.num_categories > 1 else None
        if config.kind == "vae":  # the encoder reads the drawing: the rows after the start token, the targets
            outputs, mu, sigma_hat = self.model.network((stroke5, targets, category_ids), training=training)
            kl = kl_divergence(mu, sigma_hat)
        else:
            outputs, _ = self.model.network(stroke5 if category_ids is None else (stroke5, category_ids), training=training)
            kl = tf.zeros(tf.shape(stroke5)[:1])
        offset_loss, pen_loss = reconstruction_loss(outputs, targets, config.num_mixtures, n_max=self.n_max,
                                                    min_log_sigma=config.min_log_sigma)
        return offset_loss, pen_loss, kl

    def kl_weight(self, step=None):
        """The KL term's weight ``w_KL * eta_step`` at ``step`` (default: the optimizer's); 0 for a decoder-only model."""
        if self.model.config.kind != "vae":
            return tf.constant(0.0)
        settings = self.settings
        step = self.optimizer.iterations if step is None else step
        return settings.kl_weight * kl_annealing(step, settings.kl_weight_start, settings.kl_decay_rate)

    def _replica_step(self, inputs, targets):

        network = self.model.network
        global_batch = tf.cast(self.settings.batch_size, tf.float32)
        replicas = tf.cast(self.strategy.num_replicas_in_sync, tf.float32)
        with tf.GradientTape() as tape:
            offset_loss, pen_loss, kl = self._losses(inputs, targets, training=True)
            # the KL term of each replica's share of the batch, clipped below at KL_min (magenta: per batch)
            kl_part = kl_term(kl, self.kl_weight(), self.settings.kl_min) / replicas
            loss = tf.reduce_sum(offset_loss + pen_loss) / global_batch + kl_part
        gradients = tape.gradient(loss, network.trainable_variables)
        gradients = clip_gradients(gradients, self.settings.clip_kind, self.settings.clip)
        # a non-finite gradient is zeroed; the loop then stops without saving, so checkpoints stay good
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in gradients])
        gradients = [tf.where(finite, g, tf.zeros_like(g)) for g in gradients]
        self.optimizer.apply_gradients(zip(gradients, network.trainable_variables))
        # an update can overflow the weights (or Adam's moments) even after a finite loss: such a step reports
        # NaN losses, so the loop stops before a checkpoint holds what it broke
        updated = network.trainable_variables + self.optimizer.variables
        finite = [tf.reduce_all(tf.math.is_finite(v)) for v in updated if keras.backend.is_float_dtype(v.dtype)]
        broken = tf.where(tf.reduce_all(finite), 0.0, float("nan"))
        return (loss + broken, tf.reduce_sum(offset_loss) / global_batch + broken,
                tf.reduce_sum(pen_loss) / global_batch + broken, tf.reduce_sum(kl) / global_batch + broken)

    def _distributed_step(self, inputs, targets):

        per_replica = self.strategy.run(self._replica_step, args=(inputs, targets))
        return [self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None) for value in per_replica]

    def train_step(self, inputs, targets):
        """One optimisation step; returns floats ``(loss, L_s, L_p, L_KL)`` of the batch (NaN if it left non-finite
        weights); the loss is L_R, plus the weighted KL term for a VAE."""
        return [float(value) for value in self._train_step(inputs, targets)]

    def evaluate(self, drawings, category_ids, batch_size: int = 100) -> dict[str, float]:
        """Exact L_R (and its offset and pen parts) over drawings padded to N_max, averaged per drawing.

        A VAE's drawings are decoded from z = mu (no sampling, so the figure is repeatable); it also reports
        L_KL and ``objective`` = L_R + w_KL max(L_KL, KL_min), the fully annealed loss that picks its best model.
        """
        totals = np.zeros(3)
        for inputs, targets, ids in evaluation_batches(drawings, category_ids, batch_size, rows=self.n_max + 1):
            losses = self._eval_step((inputs, ids), targets)
            totals += [float(np.sum(part)) for part in losses]
        offset, pen, kl = totals / max(len(drawings), 1)
        result = {"loss": offset + pen, "offset_loss": offset, "pen_loss": pen}
        if self.model.config.kind == "vae":
            result.update(kl_loss=kl, objective=offset + pen + self.settings.kl_weight * max(kl, self.settings.kl_min))
        return result


# ----------------------------------------------------------------------------------------------
# Setting up a run


def load_training_data(settings: TrainSettings, base: TrainedModel | None = None):
    """The dataset of a run and its statistics; with ``base`` (``--init-from``), in the base model's units."""
    from sketchrnn.data import load_dataset

    dataset = load_dataset(
        settings.data,
        max_length=settings.max_length,
        seed=settings.seed,
        rescale_to=settings.rescale_to,
        download=settings.download,
        categories=settings.categories,
    )
    stats = dataset.stats()
    if base is not None:  # the base's weights read offsets divided by its scale factor: keep it
        stats = dataclasses.replace(stats, scale_factor=base.stats.scale_factor,
                                    typical_extent=stats.typical_extent * stats.scale_factor / base.stats.scale_factor)
    return dataset, stats


ARCHITECTURE = ("hidden_size", "num_mixtures", "layer_norm", "category_embedding_size")  # what --init-from fixes


def architecture_of(model: TrainedModel) -> dict:
    """The settings a run started from ``model`` must share with it (the embedding width only if it has one)."""
    names = ARCHITECTURE if model.config.num_categories > 1 else ARCHITECTURE[:-1]
    return {name: getattr(model.config, name) for name in names}


def init_from_model(settings: TrainSettings) -> TrainedModel | None:
    """The trained decoder ``--init-from`` names, checked against the run's settings (None without it)."""
    if not settings.init_from:
        return None
    base = ckpt.load_model(settings.init_from)
    if base.config.kind != "decoder":
        raise ValueError(f"--init-from {settings.init_from} is a {base.config.kind}; start from a decoder "
                         "(e.g. data/models/quickdraw6)")
    differ = {name: value for name, value in architecture_of(base).items() if getattr(settings, name) != value}
    if differ:
        wanted = ", ".join(f"{name} {value}" for name, value in differ.items())
        raise ValueError(f"--init-from {settings.init_from} has {wanted}; the run must have the same (the command "
                         "line takes them from the model unless you pass others)")
    return base


def warm_start(model: TrainedModel, base: TrainedModel) -> None:
    """Set a new decoder's weights from a trained one's, so that it starts drawing each of its categories as
    ``base`` did: a category ``base`` knows keeps its embedding, a new one starts from the mean of them
    (or, when ``base`` has no embedding, the embedding starts with no effect). A model without an embedding
    (one category, or ``--no-category-conditioning``) gets the mean of its categories' embeddings folded into
    the LSTM bias, which is where the sampler folds an embedding too."""
    new, old = model.network, base.network
    kernel, bias = old.lstm.kernel.numpy(), old.lstm.bias.numpy()  # (5 [+ E], 4H), (4H,)
    rows = None  # the base's embedding of each of the new model's categories, (C, E)
    if old.category_embedding is not None:
        table = old.category_embedding.embeddings.numpy()
        rows = np.stack([table[base.categories.index(c)] if c in base.categories else table.mean(axis=0)
                         for c in model.categories])
    if new.category_embedding is None:
        kernel, bias = fold_embedding(kernel, bias, rows.mean(axis=0)) if rows is not None else (kernel[:5], bias)
    elif rows is not None:
        new.category_embedding.embeddings.assign(rows)
    else:
        kernel = np.concatenate([kernel, np.zeros((new.category_embedding.output_dim, kernel.shape[1]), kernel.dtype)])
    new.lstm.kernel.assign(kernel)
    new.lstm.bias.assign(bias)
    new.lstm.recurrent_kernel.assign(old.lstm.recurrent_kernel.numpy())
    if new.lstm.layer_norm:
        new.lstm.norm_weights.assign(old.lstm.norm_weights.numpy())
    new.head.kernel.assign(old.head.kernel.numpy())
    new.head.bias.assign(old.head.bias.numpy())


def new_model(settings: TrainSettings, dataset, stats, base: TrainedModel | None = None) -> TrainedModel:
    """A model for a run's settings and data: randomly initialised, or started from ``base`` (``--init-from``)."""
    from sketchrnn.model import ModelConfig

    keras.utils.set_random_seed(settings.seed)
    config = ModelConfig(
        hidden_size=settings.hidden_size,
        num_mixtures=settings.num_mixtures,
        num_categories=len(dataset.categories) if settings.conditioned else 1,
        category_embedding_size=settings.category_embedding_size,
        recurrent_dropout=settings.recurrent_dropout,
        layer_norm=settings.layer_norm,
        max_length=settings.max_length,
        kind=settings.model,
        encoder_size=settings.encoder_size,
        latent_size=settings.latent_size,
    )
    metadata = {
        "data": list(dataset.sources),
        "drawings": {k: len(v.drawings) for k, v in dataset.splits.items()},
        "train_settings": {k: v for k, v in dataclasses.asdict(settings).items() if k != "out"},
    }
    model = TrainedModel(
        network=build_network(config), config=config, stats=stats,
        categories=list(dataset.categories), name=Path(settings.out).name, metadata=metadata,
    )
    if base is not None:
        warm_start(model, base)
        metadata["init_from"] = {"model": str(settings.init_from), "name": base.name, "step": base.step}
    return model


RESUMABLE_CHANGES = {"steps", "max_minutes", "validate_every", "checkpoint_every", "log_every", "download"}


def run_has_progress(run_dir) -> bool:
    """True when a run directory holds a checkpoint or a best model: work a new run must not overwrite."""
    run_dir = Path(run_dir)
    return ckpt.latest_checkpoint(run_dir) is not None or ckpt.is_model_dir(run_dir / "best")


def check_run_folder(settings: TrainSettings) -> None:
    """Before any work: the settings can train, and ``out`` is new, empty, a run without progress, or the same run.

    A run with a checkpoint or a best model and other settings is refused (resume it instead); so is a
    folder holding files that are not a run's. A run folder with no progress yet (e.g. a first attempt
    that failed on a typo in ``--data``) is not protected: its settings are replaced.
    """
    settings.validate()
    run_dir = Path(settings.out)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--out {run_dir} is {files.describe_mode(run_dir.stat().st_mode)}, not a folder")
    if (run_dir / "train.json").exists():
        if run_has_progress(run_dir):
            check_same_run(settings, read_settings(run_dir))
    elif run_dir.is_dir() and any(entry.name != RUN_LOCK_FILE for entry in run_dir.iterdir()):
        raise ValueError(f"{run_dir} is a folder with other files in it, not a training run (it has no train.json); "
                         f"pass a new or empty folder as --out")


def check_same_run(settings: TrainSettings, saved: TrainSettings) -> None:
    """Refuse to continue a run with settings that change what it trains."""
    different = [k for k, v in dataclasses.asdict(settings).items()  # a moved run is still the run: "out" may differ
                 if k not in RESUMABLE_CHANGES and k != "out" and getattr(saved, k) != v]
    if different:
        raise ValueError(
            f"{settings.out} already holds a run with other settings ({', '.join(different)}); "
            f"continue it with `sketchrnn train --resume {settings.out}` or pass a new --out"
        )


def write_settings(settings: TrainSettings) -> None:
    """Record a run's settings as ``out/train.json`` (for --resume and export)."""
    files.make_folder(settings.out)
    ckpt.atomic_write_text(Path(settings.out) / "train.json", json.dumps(dataclasses.asdict(settings), indent=2) + "\n")


def check_enough_drawings(count: int, batch_size: int) -> None:
    """Refuse training data smaller than one batch (every batch is full; the last partial one is dropped)."""
    if count < batch_size:
        advice = f"pass --batch-size {count} or less, or give more data" if count else "give more data"
        raise ValueError(f"the training split has {count} drawing{'s' * (count != 1)}, fewer than one batch of "
                         f"{batch_size}: {advice}")


def read_settings(run_dir) -> TrainSettings:
    """The settings saved in a run directory's train.json, with ``out`` the directory they were read from: a run
    moved or copied elsewhere is the run in its new folder, not in the one it was started in."""
    path = Path(run_dir) / "train.json"
    if not path.is_file():
        raise ValueError(f"{run_dir} is not a training run: {path.name} is missing")
    try:
        return TrainSettings(**{**files.read_json(path), "out": str(run_dir)})
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path} is corrupt ({error})") from None


def restore_run(settings: TrainSettings, trainer: Trainer) -> dict:
    """Load the latest checkpoint of a run into the trainer; returns its state (or a fresh one)."""
    fresh = {"step": 0, "epoch": 0, "batch": 0, "elapsed_seconds": 0.0, "best_valid_loss": None}
    checkpoint = ckpt.latest_checkpoint(settings.out)
    if checkpoint is None:
        return fresh
    ckpt.restore_weights(trainer.model.network, checkpoint)
    ckpt.restore_optimizer(trainer.optimizer, checkpoint, trainer.model.network.trainable_variables)
    state = {**fresh, **ckpt.read_state(checkpoint)}
    trainer.model.step = state["step"]
    return state


# ----------------------------------------------------------------------------------------------
# The loop


def _step_of(row: dict) -> float:
    """A metrics row's step; rows without a readable one (a torn last line after a kill) count as past any step."""
    try:
        return float(row.get("step") or "inf")
    except ValueError:
        return math.inf


class MetricsLog:
    """metrics.csv (one row per logged step) and TensorBoard scalars, truncated on resume."""

    COLUMNS = ["step", "epoch", "loss", "offset_loss", "pen_loss", "kl_loss", "kl_weight", "learning_rate",
               "valid_loss", "valid_offset_loss", "valid_pen_loss", "valid_kl_loss", "elapsed_seconds"]

    MAX_BYTES = 1 << 30  # a metrics.csv larger than this is not one this project wrote

    def __init__(self, run_dir: Path, resume_step: int):
        self.path = files.check_file_target(run_dir / "metrics.csv")  # never a FIFO, link or device (they would block)
        rows = []
        if self.path.exists():
            text = files.read_regular_file(self.path, self.MAX_BYTES).decode("utf-8", errors="replace")
            rows = [row for row in csv.DictReader(io.StringIO(text)) if _step_of(row) <= resume_step]
        kept = io.StringIO()
        writer = csv.DictWriter(kept, self.COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        files.atomic_write_text(self.path, kept.getvalue())
        self.writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))

    def write(self, row: dict) -> None:
        """Append one row and mirror its numbers to TensorBoard."""
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, self.COLUMNS).writerow({k: row.get(k, "") for k in self.COLUMNS})
        with self.writer.as_default(step=row["step"]):
            for key, value in row.items():
                if key not in ("step", "epoch") and isinstance(value, float):
                    tf.summary.scalar(key, value)


class LineProgress:
    """Progress for output that is not a terminal (a log file, CI, nohup): one plain line every ``every`` steps.

    The same interface as ``keras.utils.Progbar.update``; keras' bar would write a carriage-return frame
    (with colour codes) every 50 ms, thousands of them in a file.
    """

    def __init__(self, target: int, every: int, stream=None):
        self.target, self.every, self.stream = target, every, stream or sys.stdout
        self.started, self.first_step = time.monotonic(), None

    def update(self, step: int, values) -> None:
        """Write ``step N/TARGET - loss ... - lr ... [- valid ...] - S s/step`` when a line is due."""
        self.first_step = step - 1 if self.first_step is None else self.first_step
        values = dict(values)
        if step % self.every and step < self.target and "valid" not in values:
            return
        per_step = (time.monotonic() - self.started) / max(step - self.first_step, 1)
        numbers = " - ".join(f"{name} {value:.4g}" for name, value in values.items())
        print(f"step {step}/{self.target} - {numbers} - {per_step:.3g} s/step", file=self.stream, flush=True)


def progress_display(settings: TrainSettings, stream=None):
    """keras' progress bar on a terminal; plain lines every ``settings.log_every`` steps anywhere else."""
    stream = stream or sys.stdout
    if getattr(stream, "isatty", lambda: False)():
        return keras.utils.Progbar(settings.steps, stateful_metrics=["loss", "valid", "lr"])
    return LineProgress(settings.steps, settings.log_every, stream)


class TrainingStopped(Exception):
    """Raised inside the loop to end training early (time budget or a signal)."""


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def train(settings: TrainSettings, log=None) -> dict:
    """Train (or resume) the run in ``settings.out``; returns a summary dict.

    The summary's ``status`` is ``finished``, ``budget`` (time ran out), ``interrupted``,
    ``diverged`` (a NaN / infinite loss: nothing after the last good checkpoint is saved),
    ``unwritable`` (the run folder could not be written: the last good checkpoint stays) or
    ``worker_lost`` (another worker of a multi-worker cluster stopped: restart them all to resume).
    Raises ValueError before any work for bad settings, a run folder that is not this run's or that another
    run is writing (the chief holds the folder's lock, :func:`run_lock`, for the whole run), or training data
    smaller than one batch.
    """
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    chief = is_chief(settings.strategy)
    check_run_folder(settings) if chief else check_shared_run(settings)
    with contextlib.ExitStack() as held:  # the chief holds the run folder's lock from here to the end
        locked = chief and Path(settings.out).is_dir() and held.enter_context(claim_run(settings))
        base = init_from_model(settings)
        dataset, stats = load_training_data(settings, base)
        check_enough_drawings(len(dataset.splits["train"].drawings), settings.batch_size)
        if chief:  # only now: a run that failed to load its data leaves no folder or settings behind
            if not locked:
                files.make_folder(settings.out)
                held.enter_context(claim_run(settings))
            write_settings(settings)
        return _train_loaded(settings, dataset, stats, base, chief, log)


def _train_loaded(settings: TrainSettings, dataset, stats, base, chief: bool, log) -> dict:
    """:func:`train` once the data is loaded (and, on the chief, the run folder locked): build, restore, loop."""
    run_dir = Path(settings.out)
    strategy = make_strategy(settings.strategy)
    with strategy.scope():
        trainer = Trainer(settings, new_model(settings, dataset, stats, base), strategy)
    state = restore_run(settings, trainer)
    check_same_start(strategy, state["step"], run_dir)
    if state["step"]:
        log(f"resuming {run_dir} from step {state['step']} (epoch {state['epoch']}, batch {state['batch']})")
    train_drawings, train_ids = normalized_split(dataset.splits["train"], stats.scale_factor)
    valid_drawings, valid_ids = normalized_split(dataset.splits["valid"], stats.scale_factor)
    source = BatchSource(
        train_drawings, train_ids, settings.batch_size, settings.seed,
        Augmentation(settings.augment_scale, settings.drop_points),
    )
    log(f"training on {len(train_drawings)} drawings ({len(dataset.categories)} categories), "
        f"validating on {len(valid_drawings)}; {source.batches_per_epoch()} batches per epoch")
    write_dir = run_dir if chief else worker_folder(settings)
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        summary = _loop(settings, trainer, state, source, (valid_drawings, valid_ids), write_dir, log)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        if not chief:
            shutil.rmtree(write_dir, ignore_errors=True)
    if summary["status"] in ("finished", "budget"):
        check_same_start(strategy, state["step"], run_dir)  # workers leave together: none outlives the chief's service
    if summary["status"] not in ("diverged", "unwritable", "worker_lost"):
        log(f"\n{summary['status']} at step {state['step']}; " + (
            f"checkpoint saved in {run_dir}/checkpoints" if chief else f"the chief saves the run in {run_dir}")
            + (f"; resume with `sketchrnn train --resume {run_dir}`" if summary["status"] != "finished" else ""))
    return summary


RUN_LOCK_FILE = ".sketchrnn-lock"  # in a run folder: locked (flock) by the `train` or `export` writing it


def run_lock(run_dir):
    """Hold the run folder's lock (:func:`sketchrnn.files.folder_lock`) while the block runs; ValueError at once
    while another process holds it. A killed holder's lock is dropped by the kernel, so it never sticks."""
    return files.folder_lock(run_dir, RUN_LOCK_FILE, (
        f"{run_dir} is in use: another `sketchrnn train` (or an export into it) is writing to it now. Wait for it "
        f"to end or stop it, or pass another folder"))


def run_lock_of(folder):
    """:func:`run_lock` of ``folder`` when it is a run folder (it has train.json or a lock file), else nothing."""
    folder = Path(folder)
    if (folder / "train.json").is_file() or (folder / RUN_LOCK_FILE).is_file():
        return run_lock(folder)
    return contextlib.nullcontext()


@contextlib.contextmanager
def claim_run(settings: TrainSettings):
    """Lock the run folder (ValueError while another run holds it), then check it again: what the first check saw
    may have changed before the lock was taken."""
    with run_lock(settings.out):
        check_run_folder(settings)
        yield True


WORKER_FOLDER_OWNER = "worker.json"  # in a worker's private folder: the run it belongs to and the process writing it


def worker_folder(settings: TrainSettings) -> Path:
    """A private temporary folder for a worker that is not the chief (deleted when it stops).

    Folders that a killed worker of the same task and run left behind are deleted first.
    """
    prefix = "sketchrnn-" + "-".join(map(str, worker_task(settings.strategy))) + "-"
    out = str(Path(settings.out).resolve())
    for old in Path(tempfile.gettempdir()).glob(prefix + "*"):
        try:
            owner = json.loads((old / WORKER_FOLDER_OWNER).read_text())
            mine = old.lstat().st_uid == os.getuid() and not old.is_symlink()
        except (OSError, ValueError):
            continue
        if mine and owner.get("out") == out and not _process_alive(owner.get("pid")):
            shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    (folder / WORKER_FOLDER_OWNER).write_text(json.dumps({"out": out, "pid": os.getpid()}) + "\n")
    return folder


def _process_alive(pid) -> bool:
    """True when a process with this id exists (on this machine)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (OSError, TypeError, ValueError):
        return True  # someone else's process, or unknown: leave its folder alone
    return True


def check_shared_run(settings: TrainSettings) -> None:
    """A worker that is not the chief only reads the run folder: the settings can train, and a run there is this one."""
    settings.validate()
    if run_has_progress(settings.out):
        check_same_run(settings, read_settings(settings.out))


def check_same_start(strategy, step: int, run_dir) -> None:
    """Refuse to train when the workers of a cluster restored different checkpoints (their --out is not shared)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    gather = tf.function(lambda: strategy.gather(strategy.run(lambda: tf.constant([step], tf.int64)), axis=0),
                         autograph=False)
    steps = gather().numpy()  # [workers * local replicas]; in a tf.function, as MWMS's collectives want
    if len(set(steps.tolist())) > 1:
        raise ValueError(f"the workers found different checkpoints in {run_dir} (steps {sorted(set(steps.tolist()))}): "
                         f"give every worker the same --out on a file system they all share")


# a run folder that cannot be written: Python's errors, and TensorFlow's own for the summary writer
WRITE_ERRORS = (OSError, tf.errors.PermissionDeniedError, tf.errors.ResourceExhaustedError)
# what a collective op raises when another worker of the cluster stops (killed, preempted, its machine lost)
CLUSTER_ERRORS = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError,
                  tf.errors.CancelledError)


def _loop(settings, trainer, state, source, valid, run_dir, log) -> dict:
    """Run the steps, then save a final checkpoint (not after a divergence); returns the summary."""
    try:
        status = _steps(settings, trainer, state, source, valid, run_dir, log)
        if status in ("diverged", "worker_lost"):  # nothing after the last checkpoint is saved
            return {"status": status, **state}
        ckpt.save_checkpoint(run_dir, trainer.model, trainer.optimizer, state)
        if status == "finished" and state.get("best_valid_loss") is None:
            _validate(settings, trainer, state, valid, run_dir)
    except WRITE_ERRORS as error:
        log(_write_failure(error, run_dir, state))
        return {"status": "unwritable", **state}
    return {"status": status, "replicas": trainer.strategy.num_replicas_in_sync, **state}


def _steps(settings, trainer, state, source, valid, run_dir, log) -> str:
    """Train until the step count, the time budget, an interrupt or a non-finite loss; returns which."""
    metrics = MetricsLog(run_dir, state["step"])
    dataset = tf_dataset(source, state["epoch"], state["batch"])
    if trainer.strategy.num_replicas_in_sync > 1:
        dataset = trainer.strategy.experimental_distribute_dataset(dataset)
    progress = progress_display(settings)
    started = time.monotonic() - state["elapsed_seconds"]
    budget_end = time.monotonic() + settings.max_minutes * 60 if settings.max_minutes else math.inf
    try:
        for inputs, targets, position in dataset:
            if state["step"] >= settings.steps:
                return "finished"
            if out_of_time(trainer.strategy, time.monotonic() >= budget_end, settings.max_minutes):
                return "budget"
            losses = trainer.train_step(inputs, targets)
            if not all(math.isfinite(value) for value in losses):
                log(f"\nthe loss or the weights became non-finite (loss {losses[0]}) at step {state['step'] + 1}: "
                    f"training stopped. The last good "
                    f"checkpoint (step {ckpt_step(run_dir)}) is intact; lower --learning-rate or --clip and resume.")
                return "diverged"
            epoch, batch = _position(trainer.strategy, position)
            state.update(step=state["step"] + 1, epoch=epoch, batch=batch + 1,
                         elapsed_seconds=time.monotonic() - started)
            trainer.model.step = state["step"]
            row = _after_step(settings, trainer, state, losses, valid, run_dir, log)
            metrics.write(row)
            progress.update(state["step"], [("loss", losses[0]), ("lr", row["learning_rate"])]
                            + ([("valid", row["valid_loss"])] if "valid_loss" in row else []))
    except KeyboardInterrupt:
        return "interrupted"
    except CLUSTER_ERRORS as error:
        if not isinstance(trainer.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise
        log(f"\nanother worker of the cluster stopped ({type(error).__name__}: {error.message.splitlines()[0][-200:]})."
            f"\nTraining stopped at step {state['step']}; the last checkpoint (step {ckpt_step(settings.out)}) is intact. "
            f"Start every worker again with the same command to resume from it.")
    else:
        return "finished"
    # TensorFlow's eager all-reduce leaves its thread pool open when a collective fails; collected now, while
    # the process is whole, its finaliser cannot fail at interpreter exit ("Bad file descriptor")
    gc.collect()
    return "worker_lost"


def out_of_time(strategy, local: bool, max_minutes) -> bool:
    """Whether the time budget ends the run now: on several workers, as soon as any one's has run out.

    Each worker has its own clock; stopping alone would leave the others waiting in the next step's
    collective, so with a budget they agree before every step (one scalar all-reduce).
    """
    if not (max_minutes and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)):
        return local
    return float(_any_worker(strategy, tf.constant(float(local)))) > 0


@tf.function(autograph=False)
def _any_worker(strategy, flag):
    """Sum over every replica of the cluster of each worker's ``flag``."""
    return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(tf.identity, args=(flag,)), axis=None)


def _write_failure(error, run_dir, state) -> str:
    """The message for a run folder that could not be written (read-only, full disk)."""
    reason = getattr(error, "strerror", None) or getattr(error, "message", None) or str(error)
    where = f" ({error.filename})" if getattr(error, "filename", None) else ""
    try:
        kept = f"step {ckpt_step(run_dir)}"
    except (OSError, ValueError):
        kept = "if any"
    return (f"\ncannot write to {run_dir}: {reason}{where}. Training stopped at step {state['step']}; the last good "
            f"checkpoint ({kept}) is intact. Make {run_dir} writable (or free some space) and resume with "
            f"`sketchrnn train --resume {run_dir}`.")


def ckpt_step(run_dir) -> int:
    """Step of a run's latest checkpoint (0 if none)."""
    latest = ckpt.latest_checkpoint(run_dir)
    return ckpt.read_state(latest)["step"] if latest else 0


def _position(strategy, position):
    """(epoch, batch index) of the batch just trained, from the (possibly per-replica) position tensor."""
    local = strategy.experimental_local_results(position)[0] if strategy.num_replicas_in_sync > 1 else position
    epoch, batch = np.asarray(local).reshape(-1, 2)[0]
    return int(epoch), int(batch)


def _validate(settings, trainer, state, valid, run_dir) -> dict:
    """Validation L_R; saves ``best/`` when it improves."""
    result = trainer.evaluate(*valid, batch_size=settings.batch_size)
    best, loss = state.get("best_valid_loss"), result.get("objective", result["loss"])
    if best is None or loss < best:
        state["best_valid_loss"] = loss
        trainer.model.metadata.update(valid_loss=result, best_step=state["step"], elapsed_seconds=state["elapsed_seconds"])
        ckpt.save_model(trainer.model, run_dir / "best")
    return result


def _after_step(settings, trainer, state, losses, valid, run_dir, log) -> dict:
    """Metrics row for a step; validation and checkpoints when due."""
    step = state["step"]
    row = {"step": step, "epoch": state["epoch"], "loss": losses[0], "offset_loss": losses[1], "pen_loss": losses[2],
           "learning_rate": float(trainer.optimizer.learning_rate), "elapsed_seconds": state["elapsed_seconds"]}
    if trainer.model.config.kind == "vae":
        row.update(kl_loss=losses[3], kl_weight=float(trainer.kl_weight(step)))
    if step % settings.validate_every == 0:
        result = _validate(settings, trainer, state, valid, run_dir)
        row.update(valid_loss=result["loss"], valid_offset_loss=result["offset_loss"], valid_pen_loss=result["pen_loss"])
        if "kl_loss" in result:
            row.update(valid_kl_loss=result["kl_loss"])
    if step % settings.checkpoint_every == 0:
        ckpt.save_checkpoint(run_dir, trainer.model, trainer.optimizer, state)
    return row


def training_data_options(model) -> dict:
    """How a model's training data was loaded (split seed, rescaling, categories), from its metadata."""
    trained_with = model.metadata.get("train_settings", {})
    # an imported model was not trained here: its drawings are mapped to its own typical size
    return {"seed": trained_with.get("seed", 0), "rescale_to": trained_with.get("rescale_to", model.metadata.get("rescale_to")),
            "categories": trained_with.get("categories")}


def evaluate(model_path, sources, split: str = "test", batch_size: int = 100, **data_options) -> dict:
    """L_R of a trained model on a split of the given data (the paper's reported figure).

    The data is loaded as the model was trained (split seed, rescaling: from its metadata) unless
    ``data_options`` say otherwise.

    Returns ``{"drawings", "loss", "offset_loss", "pen_loss", "per_category": {name: {...}}}``, and ``kl_loss``
    (L_KL) for a VAE.
    """
    from sketchrnn.data import load_dataset

    model = ckpt.load_model(model_path)
    options = {k: v for k, v in training_data_options(model).items() if k != "categories"}
    options.update({k: v for k, v in data_options.items() if v is not None})
    dataset = load_dataset(sources, max_length=model.config.max_length, **options)
    if split not in dataset.splits:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(dataset.splits)}")
    part = dataset.splits[split]
    missing = sorted(set(dataset.categories) - set(model.categories))
    if missing:
        raise ValueError(f"the model does not draw {', '.join(missing)}; it draws {', '.join(model.categories)}")
    names = np.array([dataset.categories[i] for i in part.category_ids])
    ids = np.array([model.categories.index(name) for name in names], dtype=np.int32)
    drawings = [normalize(d, model.stats.scale_factor) for d in part.drawings]
    settings = TrainSettings(data=list(sources), out="", batch_size=batch_size)
    trainer = Trainer(settings, model, tf.distribute.get_strategy())
    per_category = {}
    for name in dataset.categories:
        chosen = np.flatnonzero(names == name)
        per_category[name] = {"drawings": len(chosen),
                              **trainer.evaluate([drawings[i] for i in chosen], ids[chosen], batch_size)}
    overall = {k: float(np.average([r[k] for r in per_category.values()],
                                   weights=[r["drawings"] for r in per_category.values()]))
               for k in ("loss", "offset_loss", "pen_loss", "kl_loss") if k in per_category[dataset.categories[0]]}
    return {"drawings": len(drawings), **overall, "per_category": per_category}
