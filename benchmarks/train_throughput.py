"""Training throughput against the machine's own matmul rate and a plain PyTorch trainer, in one run.

The machine is shared and noisy, so one run measures everything alternately, in rounds, and reports
medians and same-run ratios:
  * the dense float32 matmul rate of TensorFlow (2048 x 2048), the practical ceiling;
  * this project's training (``Trainer.train_step``) on real, length-bucketed QuickDraw batches
    (batch 100) at hidden 256 and 512, in timestep-samples per second and effective GFLOP/s;
  * the plain PyTorch decoder of ``torch_baseline.py`` on the same batches, in a subprocess. torch is
    only the optional ``bench`` extra (``pip install -e '.[bench]'``, torch==2.13.0); without it the
    baseline is skipped and said so.
``--layer-norm`` adds the layer-normalised LSTM (``sketchrnn train --layer-norm``) and ``--vae`` the VAE
(``sketchrnn train --model vae``: encoder 256, N_z 128) at each hidden size, on the same batches, alternating with
the plain decoder, and print each one's same-run ratio to it (the VAE's timestep-samples are the decoder's: the
encoder's work is extra).
``--epochs`` adds the time of one epoch with bucketed batches against every batch padded to 250 points;
``--profile H`` prints where one training step's time goes, per TensorFlow op, and exits.

What is counted: the LSTM's multiply-adds only. Forward = 8 * H * (H + I) FLOPs per timestep-sample
(4 gates, (H + I) x H weights, 2 FLOPs per multiply-add; I = 5 stroke-5 inputs); training = 3x
forward (forward, and backward for inputs and weights). The mixture head and the elementwise gate
maths are real work but are not counted, so the figure is a lower bound of what the CPU does.

``--isa avx2`` measures both frameworks capped at AVX2 (``machine.py``), as on an AVX2-only CPU; the first lines
name the CPU, the cap and what oneDNN and XLA really compile for, and each framework's threads.

    python benchmarks/train_throughput.py [--rounds 5] [--steps 4] [--data PATH] [--layer-norm] [--vae] [--epochs] [--profile H] [--isa avx2]
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from machine import add_isa_option, apply_isa_cap, cpu_line, isa_check, isa_from_argv, matmul_gflops  # noqa: E402

apply_isa_cap(isa_from_argv())  # before TensorFlow loads; the PyTorch subprocess inherits it

import tensorflow as tf  # noqa: E402

from sketchrnn.model import lstm  # noqa: E402
from sketchrnn.pipeline import Augmentation, BatchSource, normalized_split  # noqa: E402
from sketchrnn.settings import TrainSettings  # noqa: E402
from sketchrnn.train import Trainer, load_training_data, new_model  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "quickdraw_sketchrnn_pig_2200.npz"
INPUTS = 5


def tensorflow_threads() -> str:
    """TensorFlow's thread pools as configured (0 means one thread per core)."""
    intra = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    inter = tf.config.threading.get_inter_op_parallelism_threads() or os.cpu_count()
    return f"{intra} intra-op / {inter} inter-op threads"


VARIANTS = {"layer norm": {"layer_norm": True}, "vae": {"model": "vae"}}  # --layer-norm, --vae: TrainSettings changes


def make_trainer(data: str, hidden_size: int, **changes):
    """A Trainer and the normalised train split, as `sketchrnn train` builds them (``changes``: TrainSettings fields)."""
    settings = TrainSettings(data=[data], out="", hidden_size=hidden_size, batch_size=100, **changes)
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


def warm_up(trainer, batches, steps: int = 3, draws: int = 300) -> None:
    """Untimed: ``steps`` training steps (tracing), then one on a batch of each LSTM length bucket not met yet
    among the next ``draws`` batches (the LSTM's loops compile once per padded length: ``lstm.padded_length``)."""
    met = set()
    for index in range(draws):
        _, _, (inputs, targets, ids) = next(batches)
        bucket = lstm.padded_length(inputs.shape[1])
        if index < steps or bucket not in met:
            trainer.train_step((inputs, ids), targets)
            met.add(bucket)


def gflops_of(rate: float, hidden_size: int) -> float:
    """Effective GFLOP/s of a training rate in timestep-samples/s (the LSTM's matmuls, forward + backward)."""
    return rate * 3 * 8 * hidden_size * (hidden_size + INPUTS) / 1e9


class TorchBaseline:
    """``torch_baseline.py --serve`` in a subprocess: its step timings on request (None without torch)."""

    def __init__(self, data: str):
        self.process = None
        if importlib.util.find_spec("torch") is None:
            return
        script = Path(__file__).with_name("torch_baseline.py")
        self.process = subprocess.Popen([sys.executable, str(script), "--serve", "--data", data],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def framework_line(self) -> str:
        """The subprocess's PyTorch version, threads and kernel ISA."""
        self.process.stdin.write("info\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def timed_steps(self, hidden_size: int, count: int):
        """(seconds, timestep-samples) of ``count`` PyTorch steps at one hidden size."""
        self.process.stdin.write(f"{hidden_size} {count}\n")
        self.process.stdin.flush()
        return [tuple(step) for step in json.loads(self.process.stdout.readline())]

    def close(self) -> None:
        """End the subprocess (it exits at the end of its stdin)."""
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait()


def tensorflow_runner(data: str, hidden_size: int, **changes):
    """A function ``count -> [(seconds, timestep-samples)]`` training this project's model, warmed up."""
    trainer, (drawings, ids) = make_trainer(data, hidden_size, **changes)
    batches = BatchSource(drawings, ids, 100, 0, Augmentation()).batches()
    warm_up(trainer, batches)
    return lambda count: timed_steps(trainer, batches, count)


def rates_of(results) -> list[float]:
    """Timestep-samples per second of each timed step."""
    return [samples / seconds for seconds, samples in results]


def compare(data: str, rounds: int, steps: int, hidden_sizes=(256, 512), variants=()) -> None:
    """Alternate matmul, ours (and each of ``variants``, names in VARIANTS) and PyTorch at each hidden size for
    ``rounds`` rounds; print medians and ratios."""
    baseline = TorchBaseline(data)
    if baseline.process is None:
        print("PyTorch baseline skipped: torch is not installed (it is the optional extra: pip install -e '.[bench]')")
    else:
        print(baseline.framework_line())
    runners = {hidden_size: tensorflow_runner(data, hidden_size) for hidden_size in hidden_sizes}
    variant_runners = {(name, hidden_size): tensorflow_runner(data, hidden_size, **VARIANTS[name])
                       for name in variants for hidden_size in hidden_sizes}
    matmul, ours, theirs = [], collections.defaultdict(list), collections.defaultdict(list)
    varied = {name: collections.defaultdict(list) for name in variants}
    try:
        for _ in range(rounds):
            matmul.append(matmul_gflops(repeats=5))
            for hidden_size, runner in runners.items():
                ours[hidden_size].append(rates_of(runner(steps)))
                for name in variants:
                    varied[name][hidden_size].append(rates_of(variant_runners[name, hidden_size](steps)))
                if baseline.process is not None:
                    theirs[hidden_size].append(rates_of(baseline.timed_steps(hidden_size, steps)))
    finally:
        baseline.close()
    report(matmul, ours, theirs, rounds, steps)
    for name, per_size in varied.items():
        report_variant(name, ours, per_size, rounds, steps)


def report_variant(name: str, ours, varied, rounds: int, steps: int) -> None:
    """Print a variant's rate (layer norm, VAE) and its same-run ratio to the plain decoder, per hidden size."""
    for hidden_size, per_round in varied.items():
        median, plain = (statistics.median(rate for rates in runs for rate in rates) for runs in (per_round, ours[hidden_size]))
        in_rounds = [statistics.median(a) / statistics.median(b) for a, b in zip(per_round, ours[hidden_size])]
        print(f"hidden {hidden_size:4d}: {name} {median:8.0f} timestep-samples/s; {name} / plain decoder = "
              f"{median / plain:.2f}x (per round {min(in_rounds):.2f}-{max(in_rounds):.2f}x)  (medians of {rounds} x {steps} steps)")


def report(matmul, ours, theirs, rounds: int, steps: int) -> None:
    """Print the medians of one run and the ratios between them (``ours``, ``theirs``: per hidden size, per round)."""
    rate = statistics.median(matmul)
    print(f"dense float32 matmul 2048x2048 (TensorFlow): median {rate:.1f} GFLOP/s "
          f"(range {min(matmul):.0f}-{max(matmul):.0f} over {rounds} rounds)")
    for hidden_size, per_round in ours.items():
        median = statistics.median(rate for rates in per_round for rate in rates)
        line = (f"hidden {hidden_size:4d}: ours {median:8.0f} timestep-samples/s, {gflops_of(median, hidden_size):5.1f} "
                f"GFLOP/s = {gflops_of(median, hidden_size) / rate:5.1%} of matmul")
        if theirs[hidden_size]:
            torch_median = statistics.median(rate for rates in theirs[hidden_size] for rate in rates)
            in_rounds = [statistics.median(a) / statistics.median(b) for a, b in zip(per_round, theirs[hidden_size])]
            line += (f"; PyTorch {torch_median:8.0f}; ours / PyTorch = {median / torch_median:.2f}x "
                     f"(per round {min(in_rounds):.2f}-{max(in_rounds):.2f}x)")
        print(line + f"  (medians of {rounds} x {steps} steps)")


def epoch_time(data: str, hidden_size: int, bucket: bool) -> float:
    """Seconds of one full epoch of training steps, bucketed or padded to 250 points."""
    trainer, (drawings, ids) = make_trainer(data, hidden_size)
    source = BatchSource(drawings, ids, 100, 0, Augmentation(), bucket=bucket, pad_rows=252)
    batches = source.batches()
    warm_up(trainer, source.batches(start_epoch=1), 2)  # on another epoch's batches
    return sum(seconds for seconds, _ in timed_steps(trainer, batches, source.batches_per_epoch()))


def profile_step(data: str, hidden_size: int, steps: int = 2) -> None:
    """Print the time per TensorFlow op type of ``steps`` training steps on one ~115-point batch (tf.profiler)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    trainer, (drawings, ids) = make_trainer(data, hidden_size)
    batches = BatchSource(drawings, ids, 100, 0, Augmentation()).batches()
    inputs, targets, category_ids = next(batch for _, _, batch in batches if 100 <= batch[0].shape[1] <= 130)
    for _ in range(3):
        trainer.train_step((inputs, category_ids), targets)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step((inputs, category_ids), targets)
        seconds = (time.perf_counter() - start) / steps
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        space.ParseFromString(next(Path(logdir).rglob("*.xplane.pb")).read_bytes())
    totals, counts = collections.Counter(), collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events if line.name.startswith("tf_Compute") else ():
                name = plane.event_metadata[event.metadata_id].name
                if ":" in name and not name.startswith("ExecutorState"):
                    op_name, op_type = name.rsplit(":", 1)
                    key = ("in loops" if "while" in op_name else "outside", op_type)
                elif name[0].islower() or name.startswith(("MatMul", "Execute")):  # XLA kernels of the LSTM steps
                    key = ("XLA", name)
                else:
                    continue
                totals[key] += event.duration_ps / 1e9 / steps
                counts[key] += 1 / steps
    print(f"one step, hidden {hidden_size}, batch {tuple(inputs.shape)}: {seconds * 1e3:.0f} ms wall (profiled); "
          f"op time summed over threads, per step:")
    for (where, op_type), milliseconds in totals.most_common(25):
        print(f"  {milliseconds:8.1f} ms  {counts[where, op_type]:6.0f} x  {where:10s} {op_type}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="a QuickDraw file (default: the pig .npz)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per hidden size and round (default 4)")
    parser.add_argument("--layer-norm", action="store_true", help="also the layer-normalised LSTM, with its ratio to the plain one")
    parser.add_argument("--vae", action="store_true", help="also the VAE (encoder 256, N_z 128), with its ratio to the decoder")
    parser.add_argument("--epochs", action="store_true", help="also time one epoch bucketed against padded")
    parser.add_argument("--epoch-hidden-size", type=int, default=256, help="hidden size of the epoch comparison")
    parser.add_argument("--profile", type=int, metavar="H", help="print one step's time per op at hidden H, and exit")
    add_isa_option(parser)
    arguments = parser.parse_args(argv)
    print(cpu_line())
    print(isa_check())
    print(f"TensorFlow {tf.__version__}, {tensorflow_threads()}, data {Path(arguments.data).name}")
    if arguments.profile:
        return profile_step(arguments.data, arguments.profile)
    variants = [name for name, wanted in (("layer norm", arguments.layer_norm), ("vae", arguments.vae)) if wanted]
    compare(arguments.data, arguments.rounds, arguments.steps, variants=variants)
    if arguments.epochs:
        bucketed = epoch_time(arguments.data, arguments.epoch_hidden_size, bucket=True)
        padded = epoch_time(arguments.data, arguments.epoch_hidden_size, bucket=False)
        print(f"one epoch at hidden {arguments.epoch_hidden_size}: bucketed {bucketed:.1f} s, padded to 250 "
              f"{padded:.1f} s, bucketing {padded / bucketed:.2f}x faster")


if __name__ == "__main__":
    main()
