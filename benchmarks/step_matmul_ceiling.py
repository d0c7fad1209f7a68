"""How fast can the training step's matmuls alone run here? The ceiling behind issue 13's "75% of matmul".

``train_throughput.py`` compares training with a dense 2048 x 2048 matmul. A training step at hidden H
and batch B does three kinds of matmul per time step, all with B = 100 rows or summed over time:

  * forward: ``[h * mask, x_t, 1] (B, H + 6) @ W (H + 6, 4H)``, each step waiting for the previous one;
  * backward: ``d_gates (B, 4H) @ W_h^T (4H, H)``, also a chain through time;
  * weight gradient: one ``(H + 6, T*B) @ (T*B, 4H)`` per sequence (not a chain).

This script times those shapes with nothing else in the loop (no gate maths, no mixture head), in one
run with the 2048^2 reference, alternating, and prints each one's rate and the step's ceiling: the rate
a training step would reach if its three matmul kinds ran at these speeds and everything else were free
(equal FLOPs in each kind, so the harmonic mean of the three rates). The chains are timed as a
``tf.while_loop`` in one XLA-compiled function and as a plain TensorFlow graph loop (oneDNN matmuls);
the better one counts.

    python benchmarks/step_matmul_ceiling.py [--hidden 512] [--batch 100] [--steps 115] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402


def timed(function, repeats: int = 5) -> float:
    """Median seconds of ``function()`` (after one warm-up call)."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def chain(rows: int, width: int, out: int, steps: int, keep: int, jit: bool):
    """A dependent chain of ``steps`` ``(rows, width) @ (width, out)`` matmuls; returns (function, FLOPs)."""
    weights = tf.Variable(tf.random.normal([width, out], stddev=0.01))
    start = tf.random.normal([rows, width])
    tail = start[:, keep:]

    def run():
        def body(t, state):
            product = tf.matmul(state, weights)  # (rows, out)
            return t + 1, tf.concat([product[:, :keep], tail], axis=1)  # the next step needs this one

        return tf.while_loop(lambda t, _: t < steps, body, (tf.constant(0), start))[1]

    function = tf.function(run, jit_compile=jit)
    return (lambda: function().numpy()), 2.0 * rows * width * out * steps


def single(rows: int, inner: int, out: int, transpose_a: bool):
    """One ``(rows, inner) @ (inner, out)`` matmul (the weight gradient's shape); returns (function, FLOPs)."""
    a = tf.random.normal([inner, rows] if transpose_a else [rows, inner])
    b = tf.random.normal([inner, out])
    function = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b, transpose_a=transpose_a)))
    return (lambda: function().numpy()), 2.0 * rows * inner * out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--steps", type=int, default=115, help="time steps (a typical bucketed pig batch)")
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args(argv)
    hidden, batch, steps = arguments.hidden, arguments.batch, arguments.steps
    width = hidden + 6  # [h, x_t (5), 1]
    cases = {
        "dense 2048x2048 (reference)": single(2048, 2048, 2048, transpose_a=False),
        "forward chain, XLA loop": chain(batch, width, 4 * hidden, steps, hidden, jit=True),
        "forward chain, graph loop": chain(batch, width, 4 * hidden, steps, hidden, jit=False),
        "backward chain, XLA loop": chain(batch, 4 * hidden, hidden, steps, hidden, jit=True),
        "backward chain, graph loop": chain(batch, 4 * hidden, hidden, steps, hidden, jit=False),
        "weight gradient": single(width, steps * batch, 4 * hidden, transpose_a=True),
    }
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(arguments.rounds):  # alternating: every case sees the same machine load
        for name, (function, flops) in cases.items():
            rates[name].append(flops / timed(function) / 1e9)
    median = {name: statistics.median(values) for name, values in rates.items()}
    reference = median["dense 2048x2048 (reference)"]
    print(f"hidden {hidden}, batch {batch}, {steps} steps; TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores; "
          f"medians of {arguments.rounds} alternating rounds")
    for name, rate in median.items():
        print(f"  {name:30s} {rate:7.1f} GFLOP/s = {rate / reference:6.1%} of the 2048^2 matmul")
    kinds = [max(median["forward chain, XLA loop"], median["forward chain, graph loop"]),
             max(median["backward chain, XLA loop"], median["backward chain, graph loop"]),
             median["weight gradient"]]
    ceiling = len(kinds) / sum(1.0 / rate for rate in kinds)
    print(f"ceiling of a training step made only of these matmuls: {ceiling:.1f} GFLOP/s = {ceiling / reference:.1%} "
          f"of the 2048^2 matmul (issue 13's target: 75%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
