"""Training-step variants against today's step, alternating in one run (issue 13: what did not help).

Each variant trains this project's decoder (``train_throughput.py``'s trainer, batch 100, bucketed real pig
lengths) in its own subprocess, because XLA reads ``XLA_FLAGS`` once, when TensorFlow starts. The parent
asks each subprocess in turn for a few timed steps, reversing the order every round, and prints each
variant's median rate and its ratio to ``default`` measured in the same run.

Variants:

* XLA CPU flags: 512-bit vectors, Eigen's matmul on one thread, XNNPACK, oneDNN, fast math, the legacy
  (non-thunk) runtime;
* ``sigmoid-as-tanh``: the gates' sigmoid written as ``0.5 tanh(x / 2) + 0.5``;
* ``chains-3``, ``chains-4``: the batch as 3 or 4 independent chains instead of 2 (``lstm.CHAINS``);
* ``gates-one-pass``: the forward step's four activations as one elementwise pass over the gates viewed as
  ``(B, 4, H)`` (each gate ``a tanh(a x) + b``, with per-gate constants), instead of four slices joined by a
  concatenation (XLA keeps that concatenation as a copy of its own);
* ``backward-one-pass``: the backward step's gate gradients ``(B, 4H)`` as one elementwise pass over
  ``(B, 4, H)`` (per-gate selects) instead of four fusions and a concatenation;
* ``norm-by-reduction`` (with ``--layer-norm``): the layer norm's means over each gate's H units as XLA
  reductions, as before, instead of a matmul with a 0/1 block matrix (``lstm._block_means``).

``--layer-norm`` runs every variant on the layer-normalised LSTM (``sketchrnn train --layer-norm``).

    python benchmarks/step_variants.py [--hidden-size 512] [--rounds 4] [--steps 4] [--layer-norm] [VARIANT ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

XLA_VARIANTS = {
    "default": "",
    "vector-512": "--xla_cpu_prefer_vector_width=512",
    "eigen-one-thread": "--xla_cpu_multi_thread_eigen=false",
    "xnnpack": "--xla_cpu_use_xnnpack=true",
    "onednn": "--xla_cpu_use_onednn=true",
    "fast-math": "--xla_cpu_enable_fast_math=true",
    "legacy-runtime": "--xla_cpu_use_thunk_runtime=false",
}
CODE_VARIANTS = ("sigmoid-as-tanh", "chains-3", "chains-4", "gates-one-pass", "backward-one-pass",
                 "norm-by-reduction")


def apply_code_variant(name: str) -> None:
    """Change the LSTM as the variant says (before anything is traced)."""
    import tensorflow as tf

    from sketchrnn.model import lstm

    if name == "sigmoid-as-tanh":
        def activated_gates(preactivations):
            input_gate, forget_gate, candidate, output_gate = tf.split(preactivations, 4, axis=1)
            return (0.5 * tf.tanh(0.5 * input_gate) + 0.5, 0.5 * tf.tanh(0.5 * forget_gate) + 0.5,
                    tf.tanh(candidate), 0.5 * tf.tanh(0.5 * output_gate) + 0.5)
        lstm._activated_gates = activated_gates
    elif name.startswith("chains-"):
        lstm.CHAINS = int(name.split("-")[1])
    elif name == "gates-one-pass":
        lstm.lstm_update = _lstm_update_one_pass
    elif name == "backward-one-pass":
        lstm._backward_step = tf.function(_backward_step_one_pass, jit_compile=True, reduce_retracing=True)
    elif name == "norm-by-reduction":
        def block_means(values, blocks):
            return tf.reduce_mean(tf.reshape(values, tf.stack([tf.shape(values)[0], blocks, -1])), axis=2)
        lstm._block_means = block_means


def _gate_blocks(values, units):
    """``values (B, 4H)`` viewed as ``(B, 4, H)``: one row per gate i, f, c, o."""
    import tensorflow as tf

    return tf.reshape(values, tf.stack([tf.shape(values)[0], 4, units]))


def _lstm_update_one_pass(preactivations, cell):
    """``lstm.lstm_update`` with the activations in one pass: sigmoid(x) = 0.5 tanh(0.5 x) + 0.5, tanh as is."""
    import tensorflow as tf

    scale = tf.constant([0.5, 0.5, 1.0, 0.5], preactivations.dtype)[None, :, None]
    shift = tf.constant([0.5, 0.5, 0.0, 0.5], preactivations.dtype)[None, :, None]
    blocks = scale * tf.tanh(scale * _gate_blocks(preactivations, tf.shape(cell)[1])) + shift  # (B, 4, H)
    input_gate, forget_gate, candidate, output_gate = tf.unstack(blocks, 4, axis=1)
    cell = forget_gate * cell + input_gate * candidate
    tanh_cell = tf.tanh(cell)
    return output_gate * tanh_cell, cell, tf.reshape(blocks, tf.shape(preactivations)), tanh_cell


def _backward_step_one_pass(d_hidden, d_cell, d_output, gates, previous_cell, tanh_cell, transposed_recurrent_kernel,
                            dropout_mask):
    """``lstm._backward_step`` with the gate gradients in one pass over ``(B, 4, H)``."""
    import tensorflow as tf

    blocks = _gate_blocks(gates, tf.shape(d_cell)[1])
    input_gate, forget_gate, candidate, output_gate = tf.unstack(blocks, 4, axis=1)
    d_hidden = d_hidden + d_output
    d_cell = d_cell + d_hidden * output_gate * (1.0 - tf.square(tanh_cell))
    gate = tf.range(4)[None, :, None]
    upstream = tf.where(gate == 3, d_hidden[:, None], d_cell[:, None])  # d of each gate's product, per gate
    partner = tf.where(gate == 0, candidate[:, None], tf.where(
        gate == 1, previous_cell[:, None], tf.where(gate == 2, input_gate[:, None], tanh_cell[:, None])))
    is_tanh = tf.cast(gate == 2, gates.dtype)  # sigmoid' = g (1 - g), tanh' = (1 - g)(1 + g)
    d_gates = tf.reshape(upstream * partner * (1.0 - blocks) * (is_tanh + blocks), tf.shape(gates))
    d_previous_hidden = tf.matmul(d_gates, transposed_recurrent_kernel) * dropout_mask
    return d_gates, d_previous_hidden, d_cell * forget_gate


def serve(name: str, hidden_size: int, layer_norm: bool) -> None:
    """Subprocess: build the trainer (warmed up), then answer each line ``count`` with that many step timings."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if name in CODE_VARIANTS:
        apply_code_variant(name)
    import train_throughput

    run = train_throughput.tensorflow_runner(str(train_throughput.DEFAULT_DATA), hidden_size, layer_norm=layer_norm)
    for line in sys.stdin:
        print(json.dumps(run(int(line))), flush=True)


def compare(names: list[str], hidden_size: int, rounds: int, steps: int, layer_norm: bool) -> None:
    """Alternate the variants' subprocesses and print each one's median rate and ratio to ``default``."""
    processes = {}
    for name in names:
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", XLA_FLAGS=XLA_VARIANTS.get(name, ""))
        processes[name] = subprocess.Popen(
            [sys.executable, __file__, "--serve", name, "--hidden-size", str(hidden_size),
             *(["--layer-norm"] if layer_norm else [])],
            env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else names[::-1]:
            process = processes[name]
            process.stdin.write(f"{steps}\n")
            process.stdin.flush()
            rates[name] += [samples / seconds for seconds, samples in json.loads(process.stdout.readline())]
    for process in processes.values():
        process.stdin.close()
        process.wait()
    base = statistics.median(rates["default"])
    kind = "layer-normalised LSTM, " if layer_norm else ""
    print(f"{kind}hidden {hidden_size}, batch 100, medians of {rounds} x {steps} steps per variant, alternating:")
    for name in names:
        median = statistics.median(rates[name])
        print(f"  {name:18s} {median:9.0f} timestep-samples/s  {median / base:.3f}x default"
              f"  (range {min(rates[name]):.0f}-{max(rates[name]):.0f})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", metavar="VARIANT",
                        help=f"which to run besides default (default: all of {', '.join([*XLA_VARIANTS, *CODE_VARIANTS][1:])})")
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds (default 4)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per variant and round (default 4)")
    parser.add_argument("--layer-norm", action="store_true", help="run every variant on the layer-normalised LSTM")
    parser.add_argument("--serve", metavar="VARIANT", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.serve:
        serve(arguments.serve, arguments.hidden_size, arguments.layer_norm)
        return
    known = [*XLA_VARIANTS, *CODE_VARIANTS]
    unknown = [name for name in arguments.variants if name not in known]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    wanted = arguments.variants or known[1:]
    compare(["default", *[name for name in wanted if name != "default"]], arguments.hidden_size, arguments.rounds,
            arguments.steps, arguments.layer_norm)


if __name__ == "__main__":
    main()
