"""A plain PyTorch Sketch-RNN decoder trainer: the baseline that ``train_throughput.py`` compares against.

What a user would write in PyTorch from the model's maths in twenty lines: ``nn.LSTM(5, H)`` (its default
time-major layout, measured faster here than ``batch_first=True``: 50k against 37k timestep-samples/s at H=256) and
``nn.Linear(H, 6M + 3)`` (M = 20), the paper's reconstruction loss L_R (the same maths as
``sketchrnn.model.reconstruction_loss``: the offsets' 20-Gaussian mixture NLL over real points plus the
pen-state cross-entropy, divided by N_max = 251), Adam 1e-3, each gradient element clipped at 1.0,
batch 100, length-bucketed batches of real QuickDraw pigs (the project's own batches, loaded with
``sketchrnn.data.load_dataset``), 2 threads. No recurrent dropout: ``nn.LSTM`` has none.

torch is not a dependency of the package or its tests; it is the optional ``bench`` extra:

    pip install -e '.[bench]'          # torch==2.13.0 (CPU)
    python benchmarks/torch_baseline.py [--hidden 256 512] [--steps 8]

``--serve`` runs it as the subprocess ``train_throughput.py`` talks to: each stdin line ``HIDDEN STEPS``
is answered by one stdout JSON line, the ``[seconds, timestep_samples]`` of each timed step.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

from machine import add_isa_option, apply_isa_cap, cpu_line, isa_from_argv

apply_isa_cap(isa_from_argv())  # before torch loads: ATEN_CPU_CAPABILITY is read at import

try:
    import torch
    from torch import nn
except ImportError:  # torch is the optional bench extra, not a dependency
    sys.exit("torch is not installed: it is the optional extra of the benchmarks, pip install -e '.[bench]'")

from sketchrnn.data import load_dataset
from sketchrnn.pipeline import Augmentation, BatchSource, normalized_split

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "quickdraw_sketchrnn_pig_2200.npz"
NUM_MIXTURES = 20  # M, Gaussians in the offset mixture
N_MAX = 251  # the paper's N_max: longest drawing (250) + its end row
THREADS = 2


class Decoder(nn.Module):
    """time-major stroke-5 ``[T, B, 5]`` -> LSTM -> ``[T, B, 6M + 3]`` raw mixture parameters."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.lstm = nn.LSTM(5, hidden_size)
        self.head = nn.Linear(hidden_size, 6 * NUM_MIXTURES + 3)

    def forward(self, stroke5):
        hiddens, _ = self.lstm(stroke5)  # (T, B, H)
        return self.head(hiddens)  # (T, B, 6M + 3)


def reconstruction_loss(outputs, targets):
    """L_R per drawing (Ha & Eck eqs. 9-11), as ``sketchrnn.model.reconstruction_loss``, time-major: ``[B]``."""
    pen_logits = outputs[..., :3]
    pi_logits, mu_x, mu_y, log_sigma_x, log_sigma_y, rho_raw = torch.chunk(outputs[..., 3:], 6, dim=-1)
    log_sigma_x, log_sigma_y = log_sigma_x.clamp(-7.0, 5.0), log_sigma_y.clamp(-7.0, 5.0)
    rho = torch.tanh(rho_raw).clamp(-1 + 1e-6, 1 - 1e-6)
    dx, dy = targets[..., 0:1], targets[..., 1:2]  # (T, B, 1) broadcast over M
    z_x = (dx - mu_x) / log_sigma_x.exp()
    z_y = (dy - mu_y) / log_sigma_y.exp()
    one_minus_rho2 = 1 - rho**2
    z = z_x**2 + z_y**2 - 2 * rho * z_x * z_y
    log_density = -z / (2 * one_minus_rho2) - (math.log(2 * math.pi) + log_sigma_x + log_sigma_y
                                                + 0.5 * torch.log(one_minus_rho2))  # (T, B, M)
    point_log_likelihood = torch.logsumexp(torch.log_softmax(pi_logits, -1) + log_density, dim=-1)  # (T, B)
    offset_loss = -(point_log_likelihood * (1 - targets[..., 4])).sum(0) / N_MAX
    pen_loss = -(targets[..., 2:] * torch.log_softmax(pen_logits, -1)).sum(-1).sum(0) / N_MAX
    return offset_loss + pen_loss


class TorchTrainer:
    """The decoder, Adam and the project's own bucketed pig batches at one hidden size."""

    def __init__(self, data: str, hidden_size: int, seed: int = 0):
        torch.manual_seed(seed)
        dataset = load_dataset([data], seed=seed)
        drawings, ids = normalized_split(dataset.splits["train"], dataset.stats().scale_factor)
        self.batches = BatchSource(drawings, ids, 100, seed, Augmentation()).batches()
        self.model = Decoder(hidden_size)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def step(self, inputs, targets) -> float:
        """One optimisation step on time-major ``inputs``, ``targets [T, B, 5]``; returns the batch's mean L_R."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = reconstruction_loss(self.model(inputs), targets).mean()
        loss.backward()
        nn.utils.clip_grad_value_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return loss.item()

    def timed_steps(self, count: int) -> list[tuple[float, int]]:
        """(seconds, timestep-samples) of each of ``count`` steps on the next batches."""
        results = []
        for _ in range(count):
            _, _, (inputs, targets, _) = next(self.batches)
            inputs, targets = (torch.from_numpy(array).transpose(0, 1).contiguous() for array in (inputs, targets))
            start = time.perf_counter()
            self.step(inputs, targets)
            results.append((time.perf_counter() - start, targets.shape[0] * targets.shape[1]))  # T * B
        return results


def framework_line() -> str:
    """PyTorch's version, threads and the CPU capability its kernels dispatch to (AVX2, AVX512...)."""
    return (f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, kernels for "
            f"{torch.backends.cpu.get_cpu_capability()}")


def serve(data: str) -> None:
    """Answer ``HIDDEN STEPS`` lines on stdin with JSON step timings on stdout (warm-up on first use);
    ``info`` with :func:`framework_line`."""
    trainers = {}
    for line in sys.stdin:
        if line.strip() == "info":
            print(json.dumps(framework_line()), flush=True)
            continue
        hidden_size, steps = map(int, line.split())
        if hidden_size not in trainers:
            trainers[hidden_size] = TorchTrainer(data, hidden_size)
            trainers[hidden_size].timed_steps(3)
        print(json.dumps(trainers[hidden_size].timed_steps(steps)), flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="a QuickDraw file (default: the pig .npz)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 512], help="hidden sizes (default 256 512)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per hidden size (default 8)")
    parser.add_argument("--serve", action="store_true", help="run as train_throughput.py's subprocess")
    add_isa_option(parser)
    arguments = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    if arguments.serve:
        return serve(arguments.data)
    print(cpu_line())
    print(f"{framework_line()}, data {Path(arguments.data).name}")
    for hidden_size in arguments.hidden:
        trainer = TorchTrainer(arguments.data, hidden_size)
        trainer.timed_steps(3)
        rate = statistics.median(samples / seconds for seconds, samples in trainer.timed_steps(arguments.steps))
        print(f"hidden {hidden_size:4d}: {rate:8.0f} timestep-samples/s (median of {arguments.steps} bucketed batches)")


if __name__ == "__main__":
    main()
