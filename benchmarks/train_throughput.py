"""Training throughput against the machine's own matmul rate, and what length bucketing saves.

Prints, in one run:
  * the dense float32 matmul rate of TensorFlow (2048 x 2048), the practical ceiling;
  * training throughput on real, length-bucketed QuickDraw batches (batch 100) at hidden 256 and 512,
    in timestep-samples per second and effective GFLOP/s, and its ratio to the matmul rate;
  * the time of one epoch with bucketed batches against every batch padded to 250 points.

What is counted: the LSTM's multiply-adds only. Forward = 8 * H * (H + I) FLOPs per timestep-sample
(4 gates, (H + I) x H weights, 2 FLOPs per multiply-add; I = 5 stroke-5 inputs); training = 3x
forward (forward, and backward for inputs and weights). The mixture head and the elementwise gate
maths are real work but are not counted, so the figure is a lower bound of what the CPU does.

    python benchmarks/train_throughput.py [--steps 8] [--data PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from sketchrnn.pipeline import Augmentation, BatchSource, normalized_split  # noqa: E402
from sketchrnn.settings import TrainSettings  # noqa: E402
from sketchrnn.train import Trainer, load_training_data, new_model  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "quickdraw_sketchrnn_pig_2200.npz"
INPUTS = 5


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Median GFLOP/s of a dense float32 size x size matmul in a TensorFlow graph."""
    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    multiply = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    multiply()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        multiply().numpy()
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def make_trainer(data: str, hidden_size: int):
    """A Trainer and the normalised train split, as `sketchrnn train` builds them."""
    settings = TrainSettings(data=[data], out="", hidden_size=hidden_size, batch_size=100)
    dataset, stats = load_training_data(settings)
    trainer = Trainer(settings, new_model(settings, dataset, stats), tf.distribute.get_strategy())
    return trainer, normalized_split(dataset.splits["train"], stats.scale_factor)


def timed_steps(trainer, batches, count: int):
    """(seconds, timestep-samples) of each of ``count`` training steps."""
    results = []
    for _ in range(count):
        _, _, (inputs, targets, ids) = next(batches)
        start = time.perf_counter()
        trainer.train_step((inputs, ids), targets)
        results.append((time.perf_counter() - start, targets.shape[0] * targets.shape[1]))
    return results


def throughput(data: str, hidden_size: int, steps: int, matmul: float) -> None:
    """Print the training throughput at one hidden size."""
    trainer, (drawings, ids) = make_trainer(data, hidden_size)
    batches = BatchSource(drawings, ids, 100, 0, Augmentation()).batches()
    timed_steps(trainer, batches, 3)  # warm-up: tracing for a few batch lengths
    results = timed_steps(trainer, batches, steps)
    rates = [samples / seconds for seconds, samples in results]
    rate = statistics.median(rates)
    gflops = rate * 3 * 8 * hidden_size * (hidden_size + INPUTS) / 1e9
    mean_steps = statistics.mean(samples / 100 for _, samples in results)
    print(f"hidden {hidden_size:4d}: {rate:8.0f} timestep-samples/s (median of {steps} bucketed batches, "
          f"mean T {mean_steps:.0f}), {gflops:5.1f} GFLOP/s effective = {gflops / matmul:5.1%} of matmul")


def epoch_time(data: str, hidden_size: int, bucket: bool) -> float:
    """Seconds of one full epoch of training steps, bucketed or padded to 250 points."""
    trainer, (drawings, ids) = make_trainer(data, hidden_size)
    source = BatchSource(drawings, ids, 100, 0, Augmentation(), bucket=bucket, pad_rows=252)
    batches = source.batches()
    timed_steps(trainer, source.batches(start_epoch=1), 2)  # warm-up on another epoch's batches
    return sum(seconds for seconds, _ in timed_steps(trainer, batches, source.batches_per_epoch()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="a QuickDraw file (default: the pig .npz)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per hidden size (default 8)")
    parser.add_argument("--epoch-hidden-size", type=int, default=256, help="hidden size of the epoch comparison")
    arguments = parser.parse_args(argv)
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, data {Path(arguments.data).name}")
    matmul = matmul_gflops()
    print(f"dense float32 matmul 2048x2048 (TensorFlow): {matmul:.1f} GFLOP/s")
    for hidden_size in (256, 512):
        throughput(arguments.data, hidden_size, arguments.steps, matmul)
    print(f"matmul again (drift check): {matmul_gflops():.1f} GFLOP/s")
    bucketed = epoch_time(arguments.data, arguments.epoch_hidden_size, bucket=True)
    padded = epoch_time(arguments.data, arguments.epoch_hidden_size, bucket=False)
    print(f"one epoch at hidden {arguments.epoch_hidden_size}: bucketed {bucketed:.1f} s, padded to 250 {padded:.1f} s, "
          f"bucketing {padded / bucketed:.2f}x faster")


if __name__ == "__main__":
    main()
