"""Completion latency: the compiled fast path against a plain eager Keras loop.

Completes a 30-point drawing with 4 endings of 250 steps at hidden size 512 and prints the median
time of each path and their ratio, measured in the same run: the XLA-compiled loop that
`sketchrnn.sample.complete` uses (`model.sampler`), and the Keras network called once per step in
eager mode (each next row drawn by the sampler's own row sampler, also eager). The model has random
weights with the end-of-drawing logit pushed down, so every ending runs the full 250 steps (the worst
case; a trained model usually stops earlier). With a bundled model present, its real completion time
is printed too (for a model of several categories also chosen and guided as the demo can: 4 endings chosen
from 3 x 4 by the model's own guess, `sample.most_like`, and each step guided, `guidance`), and for a bundled
VAE the demo's Redraw (4 redrawings of the same drawing) and Morph (8 drawings from it to a second one) at the
demo's defaults.

It also prints the sampler's floor: the LSTM's multiply-adds alone at the same run's dense matmul rate. ``--isa avx2``
measures as on an AVX2-only CPU (``machine.py``).

    python benchmarks/sample_latency.py [--repeats 7] [--hidden-size 512] [--isa avx2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from machine import add_isa_option, apply_isa_cap, cpu_line, isa_check, isa_from_argv, matmul_gflops  # noqa: E402

apply_isa_cap(isa_from_argv())  # before TensorFlow loads

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from sketchrnn import calibration, checkpoint, morph, sample, strokes  # noqa: E402
from sketchrnn.demo import DEFAULT_GUIDANCE, DEFAULT_TRIES  # noqa: E402
from sketchrnn.model import ModelConfig, TrainedModel, build_network  # noqa: E402
from sketchrnn.strokes import DataStats  # noqa: E402

ENDINGS, STEPS = 4, 250
# plain sampling at the paper's single temperature, as this benchmark has always timed it (not the models' settings)
PLAIN = {"temperature": 0.4, "pen_temperature": 0.4, "guidance": 0.0, "tries": 1}


def thirty_point_drawing():
    """Two strokes, 30 points in all, in canvas pixels."""
    t = np.linspace(0, np.pi, 18)
    arc = np.column_stack([128 + 80 * np.cos(t), 128 - 80 * np.sin(t)])
    line = np.column_stack([np.linspace(60, 200, 12), np.full(12, 160.0)])
    return [arc.tolist(), line.tolist()]


def endless_model(hidden_size: int):
    """Random weights, end-of-drawing never sampled: every ending is 250 steps long."""
    tf.keras.utils.set_random_seed(0)
    config = ModelConfig(hidden_size=hidden_size, max_length=STEPS + 30)
    model = TrainedModel(build_network(config), config, DataStats(20.0, 8.0, 60.0), ["test"])
    bias = model.network.head.bias.numpy()
    bias[2] = -1e4  # the p3 (end) logit
    model.network.head.bias.assign(bias)
    return model


def eager_keras_completion(model, drawing, seed):
    """The slow reference: prime with the network, then call it once per step in eager mode."""
    stroke3, _ = sample.canvas_to_model(drawing, model, (256, 256))
    stroke5 = strokes.stroke3_to_stroke5(stroke3)[:-1]
    prime = np.tile(stroke5[None, :-1], (ENDINGS, 1, 1))
    _, state = model.network(tf.constant(prime))
    row = tf.constant(np.tile(stroke5[-1], (ENDINGS, 1)))
    rows = []
    for step in range(STEPS):
        output, state = model.network(row[:, None, :], initial_state=state)
        row = model.sampler.next_row(output[:, 0], tf.constant([seed, step]), 0.4, 0.4, False)
        rows.append(row)
    return rows


def median_ms(function, repeats: int) -> float:
    function()  # warm-up (traces, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def lstm_limit_ms(hidden_size: int, gflops: float) -> float:
    """Milliseconds the sampler's LSTM steps would take at ``gflops``: ENDINGS x STEPS steps of
    8 * H * (H + 5) FLOPs (4 gates, a multiply-add is 2 FLOPs); the mixture head and the rest count as free."""
    return ENDINGS * STEPS * 8 * hidden_size * (hidden_size + 5) / (gflops * 1e9) * 1e3


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--hidden-size", type=int, default=512)
    add_isa_option(parser)
    arguments = parser.parse_args(argv)
    print(cpu_line())
    print(isa_check())
    print(f"TensorFlow {tf.__version__}, {tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()} "
          f"intra-op threads")
    drawing = thirty_point_drawing()
    model = endless_model(arguments.hidden_size)
    complete = lambda: sample.complete(model, drawing, ENDINGS, seed=0, canvas_size=(256, 256), max_steps=STEPS,  # noqa: E731
                                       **PLAIN)
    steps = [sum(len(s) for s in ending) for ending in complete().endings]
    fast = median_ms(complete, arguments.repeats)
    eager = median_ms(lambda: eager_keras_completion(model, drawing, 0), max(3, arguments.repeats // 2))
    print(f"completion of a 30-point drawing, {ENDINGS} endings x {STEPS} steps, hidden size {arguments.hidden_size}")
    print(f"  points per ending (fast path): {steps}")
    print(f"  fast path (XLA-compiled loop):  median {fast:8.1f} ms")
    print(f"  eager Keras step-by-step loop:  median {eager:8.1f} ms")
    print(f"  speed-up of the fast path over eager Keras: {eager / fast:.1f}x   (targets: fast <= 60 ms, >= 10x)")
    rate = matmul_gflops()
    limit = lstm_limit_ms(arguments.hidden_size, rate)
    print(f"  the LSTM's multiply-adds alone at this run's dense matmul rate ({rate:.0f} GFLOP/s): {limit:.1f} ms; "
          f"fast path = {fast / limit:.2f}x that (target <= 2x)")
    fitted = calibration.load_default()  # read once, as the demo does: not inside the timed calls
    for directory in checkpoint.bundled_model_dirs():
        bundled = checkpoint.load_model(directory)
        if bundled.config.kind == "vae":
            other = [[[x, 128 + 60 * np.sin(x / 20)] for x in range(40, 220, 10)]]  # a wave, 18 points
            redraw = median_ms(lambda: morph.reconstruct(bundled, drawing, 4, canvas_size=(256, 256)), arguments.repeats)
            interpolate = median_ms(lambda: morph.interpolate(bundled, drawing, other, 8, canvas_size=(256, 256)),
                                    arguments.repeats)
            print(f"  bundled VAE {directory.name} (hidden {bundled.config.hidden_size}): redraw x4 median {redraw:.1f} ms, "
                  f"8-step morph median {interpolate:.1f} ms")
            continue
        time_ms = median_ms(lambda: sample.complete(bundled, drawing, ENDINGS, seed=0, canvas_size=(256, 256), **PLAIN),
                            arguments.repeats)
        line = f"  bundled model {directory.name} (hidden {bundled.config.hidden_size}, real endings): median {time_ms:.1f} ms"
        if sample.compares_categories(bundled):  # the demo guides each step, and may draw more to choose from
            def timed(tries, guidance):
                return median_ms(lambda: sample.complete(bundled, drawing, ENDINGS, seed=0, canvas_size=(256, 256),
                                                         **{**PLAIN, "tries": tries, "guidance": guidance},
                                                         calibration=fitted),
                                 arguments.repeats)

            settings = {(3, 0.0), (1, DEFAULT_GUIDANCE), (3, DEFAULT_GUIDANCE), (DEFAULT_TRIES, DEFAULT_GUIDANCE)}
            for tries, guidance in sorted(settings):
                demo_note = " (the demo's defaults)" if (tries, guidance) == (DEFAULT_TRIES, DEFAULT_GUIDANCE) else ""
                line += (f"\n    {ENDINGS} chosen from {ENDINGS * tries}, guidance {guidance:g}{demo_note}: "
                         f"median {timed(tries, guidance):.1f} ms")
        print(line)


if __name__ == "__main__":
    main()
