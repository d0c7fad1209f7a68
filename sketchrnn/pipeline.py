"""The training input pipeline: normalised, augmented, length-bucketed stroke-5 batches as ``tf.data``.

A batch is ``(inputs [B, T, 5], targets [B, T, 5], category_ids [B])`` where ``inputs`` are the
stroke-5 rows ``0..T-1`` and ``targets`` the rows ``1..T`` (the next row to predict), ``T`` the
batch's own longest drawing + 1. Batches are built by sorting a shuffled pool of drawings by length,
so little of a batch is padding. Everything depends only on ``(seed, epoch, batch index)``: a
resumed run gets exactly the batches it would have had.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketchrnn import strokes

POOL_BATCHES = 20  # batches per sorting pool: larger pools pad less, smaller pools mix lengths more


@dataclass(frozen=True)
class Augmentation:
    """Training-time augmentation, as Sketch-RNN's ``random_scale_factor`` / ``augment_stroke_prob``."""

    scale: float = 0.15  # x and y each scaled by an independent factor in [1 - scale, 1 + scale]
    drop_points: float = 0.0  # probability of dropping an interior point of a stroke (magenta: 0.10)


def epoch_batches(lengths, batch_size: int, seed: int, epoch: int, bucket: bool = True) -> list[np.ndarray]:
    """Index arrays of one epoch's batches, shuffled, bucketed by length within pools.

    The last partial batch is dropped, so every batch has ``batch_size`` drawings.
    """
    lengths = np.asarray(lengths)
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    usable = len(order) - len(order) % batch_size
    if usable == 0:
        raise ValueError(f"only {len(lengths)} drawings, fewer than one batch of {batch_size}: lower --batch-size")
    order = order[:usable]
    if bucket:
        pool = batch_size * POOL_BATCHES
        for start in range(0, usable, pool):
            chunk = order[start : start + pool]
            order[start : start + pool] = chunk[np.argsort(lengths[chunk], kind="stable")]
    batches = order.reshape(-1, batch_size)
    return [batches[i] for i in rng.permutation(len(batches))]


def drop_points(stroke3: np.ndarray, probability: float, rng: np.random.Generator) -> np.ndarray:
    """Randomly drop interior points of strokes, moving the next point's offset to keep the shape."""
    pen = stroke3[:, 2] > 0.5
    interior = np.zeros(len(stroke3), dtype=bool)
    interior[1:-1] = ~pen[1:-1] & ~pen[:-2]  # pen stays down before and after the point
    drop = interior & (rng.random(len(stroke3)) < probability)
    if not drop.any():
        return stroke3
    points = np.cumsum(stroke3[:, :2], axis=0)[~drop]
    kept = stroke3[~drop].copy()
    kept[:, :2] = np.diff(points, axis=0, prepend=np.zeros((1, 2)))
    return kept


def augment(stroke3: np.ndarray, augmentation: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """Scale x and y independently by random factors and optionally drop points."""
    if augmentation.drop_points > 0:
        stroke3 = drop_points(stroke3, augmentation.drop_points, rng)
    if augmentation.scale > 0:
        factors = 1.0 + rng.uniform(-augmentation.scale, augmentation.scale, size=2)
        stroke3 = stroke3.copy()
        stroke3[:, :2] *= factors.astype(np.float32)
    return stroke3


def pad_batch(drawings, rows: int | None = None) -> np.ndarray:
    """Stack normalised stroke-3 drawings into stroke-5 ``[B, rows, 5]`` (default: longest + 2 rows)."""
    rows = max(len(d) for d in drawings) + 2 if rows is None else rows
    return np.stack([strokes.stroke3_to_stroke5(d, rows) for d in drawings])


def make_batch(drawings, category_ids, indices, augmentation=None, rng=None, rows=None):
    """One batch ``(inputs [B, T, 5], targets [B, T, 5], category_ids [B])`` from normalised drawings."""
    selected = [drawings[i] for i in indices]
    if augmentation is not None:
        selected = [augment(d, augmentation, rng) for d in selected]
    stroke5 = pad_batch(selected, rows)  # (B, T + 1, 5)
    return stroke5[:, :-1], stroke5[:, 1:], np.asarray(category_ids, dtype=np.int32)[indices]


@dataclass
class BatchSource:
    """Normalised drawings of one split and how to cut them into batches."""

    drawings: list  # normalised stroke-3 arrays
    category_ids: np.ndarray  # int [N]
    batch_size: int = 100
    seed: int = 0
    augmentation: Augmentation | None = None
    bucket: bool = True  # False pads every batch to pad_rows (for measuring what bucketing saves)
    pad_rows: int | None = None  # fixed stroke-5 rows per batch when not bucketing (max_length + 2)

    def batches(self, start_epoch: int = 0, start_batch: int = 0):
        """Yield ``(epoch, batch_index, batch)`` forever, starting at a saved data position."""
        lengths = [len(d) for d in self.drawings]
        epoch = start_epoch
        while True:
            plan = epoch_batches(lengths, self.batch_size, self.seed, epoch, bucket=self.bucket)
            for batch_index in range(start_batch if epoch == start_epoch else 0, len(plan)):
                rng = np.random.default_rng([self.seed, epoch, batch_index, 1])
                rows = None if self.bucket else self.pad_rows
                yield epoch, batch_index, make_batch(
                    self.drawings, self.category_ids, plan[batch_index], self.augmentation, rng, rows
                )
            epoch += 1

    def batches_per_epoch(self) -> int:
        """Full batches in one epoch."""
        return len(self.drawings) // self.batch_size


def normalized_split(split, scale_factor: float):
    """A data split's drawings divided by the scale factor, with their category ids."""
    return [strokes.normalize(d, scale_factor) for d in split.drawings], np.asarray(split.category_ids)


def tf_dataset(source: BatchSource, start_epoch: int = 0, start_batch: int = 0):
    """The batches as a prefetched ``tf.data.Dataset`` of ``((inputs, category_ids), targets, position [B, 2])``.

    ``position`` is the batch's (epoch, batch index) in every row: where a resumed run starts.
    Raises ValueError at once (not a tf.data error on the first batch) when the drawings fill no batch.
    """
    import tensorflow as tf

    if source.batches_per_epoch() == 0:
        raise ValueError(f"only {len(source.drawings)} drawings, fewer than one batch of {source.batch_size}: "
                         f"lower --batch-size or give more data")

    def generate():
        for epoch, batch_index, (inputs, targets, category_ids) in source.batches(start_epoch, start_batch):
            # the position is repeated per drawing so that a distributed dataset can split it like the batch
            position = np.tile(np.array([epoch, batch_index], dtype=np.int64), (len(inputs), 1))
            yield (inputs, category_ids), targets, position

    signature = (
        (tf.TensorSpec([None, None, 5], tf.float32), tf.TensorSpec([None], tf.int32)),
        tf.TensorSpec([None, None, 5], tf.float32),
        tf.TensorSpec([None, 2], tf.int64),
    )
    return tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(tf.data.AUTOTUNE)


def evaluation_batches(drawings, category_ids, batch_size: int, rows: int):
    """Fixed-size, unshuffled, unaugmented batches padded to ``rows`` (``N_max + 1``), for exact L_R."""
    for start in range(0, len(drawings), batch_size):
        indices = np.arange(start, min(start + batch_size, len(drawings)))
        yield make_batch(drawings, category_ids, indices, rows=rows)
