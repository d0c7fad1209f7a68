"""Drawing with a trained model: new drawings, completions of a person's strokes, and scoring.

Sampling runs one small LSTM step up to 250 times, so per-step overhead decides its speed. The fast
path, :class:`GraphSampler`, runs priming and the whole sampling loop (mixture, pen state, random
draws) inside one XLA-compiled ``tf.while_loop``; a Keras call per step in eager mode is ~50-100x
slower and a NumPy step ~3x slower on this CPU (``benchmarks/sample_latency.py``). Randomness
comes from stateless ops keyed by ``(seed, step)``, so the same seed gives the same drawing, always.
Scoring ("what are you drawing?") runs the same compiled step over the drawing's rows. :class:`NumpyDecoder`
(NumPy on the same weights) is the slow reference path; the Keras network is the ground truth:
``tests/test_sample.py`` checks that all three give the same mixture parameters.

Everything here is a pure function of the model, the inputs and an explicit seed.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from sketchrnn import model as network_module
from sketchrnn.model import lstm
from sketchrnn import strokes

MAX_ENDINGS = 16
SCORING_THREADS = 2  # models scored at once by guess (one per CPU core here)
MAX_INPUT_POINTS = 20000  # more raw points than this is not a drawing we can take
MAX_COORDINATE = 1e6
CANVAS_FILL = 0.8  # a drawing filling this fraction of the canvas gets the model's typical size
MIN_ENDING_STEPS = 50  # an ending may always run this many steps, however long the person's drawing
MAX_RDP_PASSES = 10  # RDP passes at most when fitting a drawing to the model: bounds the work per drawing
RDP_PIECE_POINTS = 256  # RDP runs on pieces of at most this many points: a pass costs O(points x 256) at worst


@dataclass
class Completion:
    """A person's strokes and the model's endings, all in the person's (canvas) coordinates."""

    prime: list[np.ndarray]  # the person's strokes, (k, 2) arrays
    endings: list[list[np.ndarray]]  # n endings, each a list of (k, 2) strokes continuing the prime
    left_out: int = 0  # the person's shortest strokes the model could not take (more strokes than it reads)


class NumpyDecoder:
    """The trained LSTM and mixture head as NumPy arrays: a fast step for sampling and scoring."""

    def __init__(self, model):
        weights = model.numpy_weights()
        find = lambda suffix: next(v for k, v in weights.items() if k.endswith(suffix))  # noqa: E731
        self.kernel = find("lstm/kernel").astype(np.float32)  # (5 + E, 4H)
        self.recurrent_kernel = find("lstm/recurrent_kernel").astype(np.float32)  # (H, 4H)
        self.bias = find("lstm/bias").astype(np.float32)  # (4H,)
        self.head_kernel = find("mixture_head/kernel").astype(np.float32)  # (H, 6M + 3)
        self.head_bias = find("mixture_head/bias").astype(np.float32)
        self.embedding = find("category_embedding/embeddings") if model.config.num_categories > 1 else None
        self.units = self.recurrent_kernel.shape[0]
        # layer norm (ModelConfig.layer_norm): gate gain, gate shift (4H each), cell gain, cell shift (H each)
        self.norm_weights = None
        if getattr(model.config, "layer_norm", False):
            norm = find("lstm/layer_norm").astype(np.float32)
            self.norm_weights = np.split(norm, np.cumsum([4, 4, 1]) * self.units)
        self.num_mixtures = model.config.num_mixtures
        self.min_log_sigma = model.config.min_log_sigma

    def step_bias(self, category_ids) -> np.ndarray:
        """Per-row LSTM bias with the category embedding's constant contribution folded in, ``[B, 4H]``."""
        category_ids = np.asarray(category_ids)
        if self.embedding is None:
            return np.broadcast_to(self.bias, (len(category_ids), self.bias.size)).copy()
        return self.bias + self.embedding[category_ids] @ self.kernel[5:]

    def initial_state(self, batch: int):
        """Zero LSTM state ``(h, c)``, each ``[B, H]``."""
        return np.zeros((batch, self.units), np.float32), np.zeros((batch, self.units), np.float32)

    def step(self, stroke5_row, state, bias):
        """One LSTM step on ``[B, 5]`` rows; returns head outputs ``[B, 6M + 3]`` and the new state."""
        hidden, cell = state
        z = stroke5_row @ self.kernel[:5] + hidden @ self.recurrent_kernel + bias  # (B, 4H)
        units = self.units
        if self.norm_weights is not None:
            z = _layer_norm(z, 4) * self.norm_weights[0] + self.norm_weights[1]
        input_gate = _sigmoid(z[:, :units])
        forget_gate = _sigmoid(z[:, units : 2 * units])
        candidate = np.tanh(z[:, 2 * units : 3 * units])
        output_gate = _sigmoid(z[:, 3 * units :])
        cell = forget_gate * cell + input_gate * candidate
        if self.norm_weights is None:
            hidden = output_gate * np.tanh(cell)
        else:
            hidden = output_gate * np.tanh(_layer_norm(cell, 1) * self.norm_weights[2] + self.norm_weights[3])
        return hidden @ self.head_kernel + self.head_bias, (hidden, cell)

    def run(self, stroke5, bias, state=None):
        """Feed ``[B, T, 5]`` rows; returns outputs ``[B, T, 6M + 3]`` and the final state."""
        state = self.initial_state(stroke5.shape[0]) if state is None else state
        outputs = []
        for t in range(stroke5.shape[1]):
            output, state = self.step(stroke5[:, t], state, bias)
            outputs.append(output)
        return np.stack(outputs, axis=1), state


def _layer_norm(values, blocks: int, epsilon: float = 1e-3):
    """``values [B, blocks * H]`` normalised over each block's H units (sketchrnn.model._layer_norm)."""
    shaped = values.reshape(len(values), blocks, -1)
    centred = shaped - shaped.mean(axis=2, keepdims=True)
    return (centred / np.sqrt(np.square(centred).mean(axis=2, keepdims=True) + epsilon)).reshape(values.shape)


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # numerically safe for large |x|


def mixture_params(outputs, num_mixtures: int, temperature: float = 1.0, min_log_sigma: float | None = None) -> dict:
    """NumPy twin of :func:`sketchrnn.model.mixture_params` (same clipping, same temperature rule)."""
    from sketchrnn.model import LOG_SIGMA_RANGE, RHO_LIMIT

    m = num_mixtures
    low = LOG_SIGMA_RANGE[0] if min_log_sigma is None else min_log_sigma
    pi_logits, mu_x, mu_y, log_sigma_x, log_sigma_y, rho_raw = (outputs[..., 3 + i * m : 3 + (i + 1) * m] for i in range(6))
    sqrt_tau = np.sqrt(temperature)
    return {
        "log_pi": _log_softmax(pi_logits / temperature),
        "mu_x": mu_x,
        "mu_y": mu_y,
        "sigma_x": np.exp(np.clip(log_sigma_x, low, LOG_SIGMA_RANGE[1])) * sqrt_tau,
        "sigma_y": np.exp(np.clip(log_sigma_y, low, LOG_SIGMA_RANGE[1])) * sqrt_tau,
        "rho": np.clip(np.tanh(rho_raw), -RHO_LIMIT, RHO_LIMIT),
        "pen_logits": outputs[..., :3] / temperature,
    }


def _log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _categorical(log_probabilities, rng: np.random.Generator) -> np.ndarray:
    """One sample per row from ``[B, K]`` log-probabilities (inverse CDF)."""
    cumulative = np.cumsum(np.exp(log_probabilities), axis=-1)
    draws = rng.random(len(cumulative))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative < draws).sum(axis=-1), cumulative.shape[-1] - 1)


def next_rows(outputs, num_mixtures: int, temperature: float, rng: np.random.Generator, greedy: bool = False,
              min_log_sigma: float | None = None):
    """Sample the next stroke-5 row for each of ``B`` head outputs (paper section 3.3)."""
    params = mixture_params(outputs, num_mixtures, temperature, min_log_sigma)
    rows = np.arange(len(outputs))
    if greedy:
        component = params["log_pi"].argmax(axis=-1)
        pen = params["pen_logits"].argmax(axis=-1)
        noise = np.zeros((2, len(outputs)))
    else:
        component = _categorical(params["log_pi"], rng)
        pen = _categorical(_log_softmax(params["pen_logits"]), rng)
        noise = rng.standard_normal((2, len(outputs)))
    pick = {key: params[key][rows, component] for key in ("mu_x", "mu_y", "sigma_x", "sigma_y", "rho")}
    dx = pick["mu_x"] + pick["sigma_x"] * noise[0]
    dy = pick["mu_y"] + pick["sigma_y"] * (pick["rho"] * noise[0] + np.sqrt(1.0 - pick["rho"] ** 2) * noise[1])
    stroke5 = np.zeros((len(outputs), 5), np.float32)
    stroke5[:, 0], stroke5[:, 1] = dx, dy
    stroke5[rows, 2 + pen] = 1.0
    return stroke5


def _is_expected_retracing(record) -> bool:
    """False for TensorFlow's "triggered tf.function retracing" warning about a GraphSampler.

    Each loaded model has its own GraphSampler whose compiled functions share one Python method, which
    TensorFlow counts as retracing one function; one program per model and batch size is by design.
    """
    message = record.getMessage()
    return not ("triggered tf.function retracing" in message and "GraphSampler." in message)


class GraphSampler:
    """Priming and sampling for one model in a single XLA-compiled loop (the fast path).

    Batches are padded to a power of two (1, 2, 4, 8, 16) and primes to the model's length
    cap, so at most five programs are ever compiled per model; :meth:`warm_up` compiles them early.
    """

    def __init__(self, model):
        weights = {k: tf.constant(v) for k, v in model.numpy_weights().items()}
        self.kernel, self.recurrent_kernel = weights["lstm/kernel"], weights["lstm/recurrent_kernel"]
        self.bias = weights["lstm/bias"]
        self.head_kernel, self.head_bias = weights["mixture_head/kernel"], weights["mixture_head/bias"]
        self.embedding = weights.get("category_embedding/embeddings")
        self.norm_weights = weights.get("lstm/layer_norm") if getattr(model.config, "layer_norm", False) else None
        self.num_mixtures = model.config.num_mixtures
        self.min_log_sigma = model.config.min_log_sigma
        self.max_rows = model.config.max_length + 1
        logging.getLogger("tensorflow").addFilter(_is_expected_retracing)  # once: the same filter is added only once
        self._sample = tf.function(self._sample_loop, jit_compile=True, reduce_retracing=True, autograph=False)
        self.teacher_forced = tf.function(self._teacher_forced, jit_compile=True, reduce_retracing=True, autograph=False)

    def step(self, row, hidden, cell, bias):
        """One LSTM + head step: ``row [B, 5]`` -> outputs ``[B, 6M + 3]`` and the new state."""
        z = tf.matmul(row, self.kernel[:5]) + tf.matmul(hidden, self.recurrent_kernel) + bias  # (B, 4H)
        if self.norm_weights is not None:  # layer norm: gate gain, gate shift (4H each), cell gain, shift (H each)
            units = tf.shape(hidden)[1]
            norm = tf.split(self.norm_weights, tf.stack([4 * units, 4 * units, units, units]))
            z = lstm._layer_norm(z, 4)[0] * norm[0] + norm[1]
        input_gate, forget_gate, candidate, output_gate = tf.split(z, 4, axis=1)
        cell = tf.sigmoid(forget_gate) * cell + tf.sigmoid(input_gate) * tf.tanh(candidate)
        cell_out = cell if self.norm_weights is None else lstm._layer_norm(cell, 1)[0] * norm[2] + norm[3]
        hidden = tf.sigmoid(output_gate) * tf.tanh(cell_out)
        return tf.matmul(hidden, self.head_kernel) + self.head_bias, hidden, cell

    def step_bias(self, category_ids):
        """Per-row LSTM bias with the category embedding folded in, ``[B, 4H]``."""
        category_ids = tf.constant(np.asarray(category_ids, dtype=np.int32))
        if self.embedding is None:
            return tf.tile(self.bias[None], [tf.shape(category_ids)[0], 1])
        return self.bias + tf.matmul(tf.gather(self.embedding, category_ids), self.kernel[5:])

    def _teacher_forced(self, rows, bias):
        """Head outputs after each of ``rows [B, T, 5]`` (the reference check and scoring)."""
        batch, units = tf.shape(rows)[0], tf.shape(self.recurrent_kernel)[0]
        state = (tf.zeros([batch, units]), tf.zeros([batch, units]))
        outputs = tf.TensorArray(tf.float32, size=tf.shape(rows)[1])

        def body(t, hidden, cell, outputs):
            output, hidden, cell = self.step(rows[:, t], hidden, cell, bias)
            return t + 1, hidden, cell, outputs.write(t, output)

        _, _, _, outputs = tf.while_loop(lambda t, *_: t < tf.shape(rows)[1], body, (0, *state, outputs))
        return tf.transpose(outputs.stack(), [1, 0, 2])

    def score_outputs(self, stroke5, category_ids) -> np.ndarray:
        """Head outputs after each of one drawing's rows ``[T, 5]``, for each category id: ``[B, T, 6M + 3]``.

        Rows are padded to a power of two (at least 16; padding only follows, so it changes nothing
        before it), so a model compiles one program per length bucket, not per drawing length.
        """
        steps = len(stroke5)
        rows = np.zeros((len(category_ids), max(16, 1 << (steps - 1).bit_length()), 5), np.float32)
        rows[:, :steps] = stroke5
        return self.teacher_forced(tf.constant(rows), self.step_bias(category_ids)).numpy()[:, :steps]

    def _next_row(self, output, key, temperature, pen_temperature, greedy):
        """Sample the next stroke-5 row from head outputs with stateless randomness keyed by ``key``."""
        params = network_module.mixture_params(output, self.num_mixtures, temperature, self.min_log_sigma)
        params["pen_logits"] = output[:, :3] / pen_temperature
        drawn = tf.random.stateless_categorical(params["log_pi"], 1, key)[:, 0]
        component = tf.where(greedy, tf.argmax(params["log_pi"], axis=-1), drawn)
        drawn_pen = tf.random.stateless_categorical(params["pen_logits"], 1, key + [0, 1 << 20])[:, 0]
        pen = tf.where(greedy, tf.argmax(params["pen_logits"], axis=-1), drawn_pen)
        noise = tf.random.stateless_normal([2, tf.shape(output)[0]], key + [0, 2 << 20])
        noise = noise * (1.0 - tf.cast(greedy, tf.float32))
        pick = {k: tf.gather(params[k], component, batch_dims=1) for k in ("mu_x", "mu_y", "sigma_x", "sigma_y", "rho")}
        dx = pick["mu_x"] + pick["sigma_x"] * noise[0]
        dy = pick["mu_y"] + pick["sigma_y"] * (pick["rho"] * noise[0] + tf.sqrt(1.0 - pick["rho"] ** 2) * noise[1])
        return tf.concat([tf.stack([dx, dy], axis=1), tf.one_hot(pen, 3)], axis=1)

    def _sample_loop(self, prime, prime_length, bias, seed, temperature, pen_temperature, greedy, max_steps):
        """Feed ``prime [B, R, 5]`` rows ``0..prime_length-2``, then sample from its last row."""
        batch, units = tf.shape(prime)[0], tf.shape(self.recurrent_kernel)[0]
        hidden, cell = tf.zeros([batch, units]), tf.zeros([batch, units])
        hidden, cell = tf.while_loop(
            lambda t, *_: t < prime_length - 1,
            lambda t, hidden, cell: (t + 1, *self.step(tf.gather(prime, t, axis=1), hidden, cell, bias)[1:]),
            (0, hidden, cell),
        )[1:]
        rows = tf.TensorArray(tf.float32, size=self.max_rows)
        ended = tf.zeros([batch], tf.bool)

        def body(t, row, hidden, cell, ended, rows):
            output, hidden, cell = self.step(row, hidden, cell, bias)
            row = self._next_row(output, tf.stack([seed, t]), temperature, pen_temperature, greedy)
            return t + 1, row, hidden, cell, ended | (row[:, 4] > 0.5), rows.write(t, row)

        keep_going = lambda t, row, hidden, cell, ended, rows: (t < max_steps) & ~tf.reduce_all(ended)  # noqa: E731
        # tf.gather, not prime[:, i]: a slice would make XLA compile one program per prime length
        last_row = tf.gather(prime, prime_length - 1, axis=1)
        steps, _, _, _, _, rows = tf.while_loop(keep_going, body, (0, last_row, hidden, cell, ended, rows))
        return tf.transpose(rows.stack(), [1, 0, 2]), steps

    def generate(self, stroke3, category_ids, max_steps: int, temperature: float, seed: int, greedy=False,
                 pen_temperature: float | None = None):
        """Prime with a normalised stroke-3 drawing (may be empty) and sample; returns stroke-3 endings."""
        count = len(category_ids)
        padded = 1 << (count - 1).bit_length()  # 1, 2, 4, 8, 16
        ids = np.concatenate([category_ids, np.repeat(category_ids[-1:], padded - count)])
        prime = strokes.stroke3_to_stroke5(stroke3)[:-1]  # start token + points
        buffer = np.zeros((padded, self.max_rows, 5), np.float32)
        buffer[:, : len(prime)] = prime
        rows, steps = self._sample(
            tf.constant(buffer), tf.constant(len(prime), tf.int32), self.step_bias(ids),
            tf.constant(int(seed) % 2**31, tf.int32), tf.constant(temperature, tf.float32),
            tf.constant(pen_temperature or temperature, tf.float32), tf.constant(bool(greedy)),
            tf.constant(min(max_steps, self.max_rows), tf.int32),
        )
        rows = rows.numpy()[:count, : int(steps)]
        return [strokes.stroke5_to_stroke3(r, has_start_token=False) for r in rows]

    def warm_up(self, sizes=(1, 2, 4, 8)) -> None:
        """Compile the sampling program for these batch sizes now, so no request waits for it."""
        for size in sizes:
            self.generate(np.zeros((0, 3), np.float32), np.zeros(size, np.int64), 2, 1.0, 0)


def numpy_decoder(model) -> NumpyDecoder:
    """The model's NumPy decoder, built once and kept with the model."""
    if "numpy_decoder" not in model.cache:
        model.cache["numpy_decoder"] = NumpyDecoder(model)
    return model.cache["numpy_decoder"]


def graph_sampler(model) -> GraphSampler:
    """The model's compiled sampler, built once and kept with the model."""
    if "graph_sampler" not in model.cache:
        model.cache["graph_sampler"] = GraphSampler(model)
    return model.cache["graph_sampler"]


def numpy_generate(decoder: NumpyDecoder, state, last_row, bias, steps: int, temperature: float, rng, greedy=False):
    """Sample up to ``steps`` rows for each batch row from a primed state; returns stroke-3 arrays.

    ``last_row [B, 5]`` is the row fed next (the start token, or the person's last point). A
    drawing stops at its first end row (p3); the loop stops when every drawing has ended.
    """
    batch = len(last_row)
    rows = np.zeros((steps, batch, 5), np.float32)
    ended = np.zeros(batch, dtype=bool)
    length = np.full(batch, steps)
    for t in range(steps):
        output, state = decoder.step(last_row, state, bias)
        last_row = next_rows(output, decoder.num_mixtures, temperature, rng, greedy, decoder.min_log_sigma)
        rows[t] = last_row
        newly_ended = (last_row[:, 4] == 1.0) & ~ended
        length[newly_ended] = t
        ended |= newly_ended
        if ended.all():
            break
    return [strokes.stroke5_to_stroke3(rows[: length[b], b], has_start_token=False) for b in range(batch)]


def _is_number(value) -> bool:
    """A real number (not a bool); may be NaN, infinite or an int too large for a float."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))


def _shown(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages (an int of 400 digits stays readable)."""
    if isinstance(value, int) and abs(value) >= 10**limit:  # str() refuses ints over 4,300 digits
        return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_sampling_options(n: int, temperature: float, pen_temperature: float | None = None) -> None:
    if not _is_number(n) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_ENDINGS:
        raise ValueError(f"number of drawings must be a whole number from 1 to {MAX_ENDINGS}, got {_shown(n)}")
    for name, value in (("temperature", temperature), ("pen temperature", pen_temperature)):
        if (value is not None or name == "temperature") and not (_is_number(value) and 0.0 < value <= 2.0):
            raise ValueError(f"{name} must be a number in (0, 2], got {_shown(value)}; 0.2-0.6 gives tidy drawings")


def _check_max_steps(max_steps) -> None:
    if max_steps is not None and not (_is_number(max_steps) and isinstance(max_steps, (int, np.integer))
                                      and max_steps >= 1):
        raise ValueError(f"max_steps must be a whole number of at least 1, got {_shown(max_steps)}")


def _check_canvas_size(canvas_size) -> None:
    if canvas_size is None:
        return
    if (not isinstance(canvas_size, (list, tuple, np.ndarray)) or len(canvas_size) != 2
            or not all(_is_number(side) and 1 <= side <= MAX_COORDINATE for side in canvas_size)):
        raise ValueError(f"canvas size must be two numbers (width, height) from 1 to {MAX_COORDINATE:.0f} "
                         f"pixels, got {_shown(canvas_size)}")


def sample(model, n: int = 1, *, temperature: float = 0.4, seed: int = 0, category=None,
           max_steps: int | None = None, greedy: bool = False, pen_temperature: float | None = None):
    """Draw ``n`` new drawings; each is a list of polylines in the data's units (e.g. 0-255-like).

    ``temperature`` tau divides the mixture and pen logits and scales sigma by sqrt(tau), as the
    paper; ``pen_temperature`` (default: tau) sets the pen state's separately.
    """
    _check_sampling_options(n, temperature, pen_temperature)
    _check_seed(seed)
    _check_max_steps(max_steps)
    ids = np.full(n, model.category_id(category))
    drawings = graph_sampler(model).generate(
        np.zeros((0, 3), np.float32), ids, max_steps or model.config.max_length, float(temperature), seed, greedy,
        pen_temperature,
    )
    return [strokes.stroke3_to_polylines(strokes.denormalize(d, model.stats.scale_factor)) for d in drawings]


def _check_seed(seed) -> None:
    if not _is_number(seed) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be a whole number from 0 to 2147483647, got {_shown(seed)}")


def check_canvas_strokes(strokes_in) -> list[np.ndarray]:
    """Validate a person's drawing (a list of strokes, each a list of ``[x, y]``); returns float arrays.

    Raises ValueError saying what is wrong (and where) for anything else: no strokes, more than
    ``MAX_INPUT_POINTS`` points, a point that is not two numbers, a missing (null), non-finite or
    absurdly large coordinate, fewer than two points in all. Empty strokes are dropped.
    """
    if not isinstance(strokes_in, (list, tuple)) or len(strokes_in) == 0:
        raise ValueError("the drawing is empty: draw at least one stroke first")
    if len(strokes_in) > MAX_INPUT_POINTS:
        raise ValueError(f"the drawing has more than {MAX_INPUT_POINTS} strokes; draw something simpler")
    for index, stroke in enumerate(strokes_in):
        if not isinstance(stroke, (list, tuple, np.ndarray)):
            raise ValueError(f"stroke {index + 1} is not a list of [x, y] points")
    if sum(len(stroke) for stroke in strokes_in) > MAX_INPUT_POINTS:
        raise ValueError(f"the drawing has more than {MAX_INPUT_POINTS} points; draw something simpler")
    checked = [_stroke_points(stroke, f"stroke {index + 1}") for index, stroke in enumerate(strokes_in)]
    checked = [points for points in checked if len(points)]
    if sum(len(points) for points in checked) < 2:
        raise ValueError("the drawing is a single dot: draw a line of at least two points")
    return checked


def _stroke_points(stroke, where: str) -> np.ndarray:
    """One stroke as a ``(k, 2)`` float array, or a ValueError naming the stroke and what is wrong."""
    if isinstance(stroke, np.ndarray) and stroke.dtype.kind in "iuf" and stroke.ndim == 2 and stroke.shape[1] == 2:
        points = stroke.astype(np.float64)
    else:
        points = np.array([_point(point, where) for point in stroke], dtype=np.float64).reshape(-1, 2)
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{where} has a coordinate that is NaN or infinite; coordinates must be finite numbers")
    if len(points) and np.abs(points).max() > MAX_COORDINATE:
        raise ValueError(f"{where} has absurdly large coordinates (beyond {MAX_COORDINATE:.0f} pixels)")
    return points


def _point(point, where: str) -> tuple[float, float]:
    """One ``[x, y]`` point as two floats, or a ValueError saying what is wrong with it."""
    if not isinstance(point, (list, tuple, np.ndarray)) or len(point) != 2:
        raise ValueError(f"{where} has a point that is not a pair of numbers: it must be a list of [x, y] points")
    for coordinate in point:
        if coordinate is None:
            raise ValueError(f"{where} has a point with a missing coordinate (null); each point must be [x, y] numbers")
        if not _is_number(coordinate):
            raise ValueError(f"{where} holds something other than numbers ({_shown(coordinate, 30)}); "
                             "each point must be [x, y]")
        if isinstance(coordinate, int) and abs(coordinate) > MAX_COORDINATE:  # may be too large for a float
            raise ValueError(f"{where} has absurdly large coordinates (beyond {MAX_COORDINATE:.0f} pixels)")
    return point[0], point[1]


def canvas_to_model(polylines, model, canvas_size=None):
    """A person's canvas strokes as normalised stroke-3 for the model, and the pixel -> model factor.

    The canvas (``canvas_size = (width, height)``; default: the drawing's own bounding box) is
    mapped so that a drawing filling ``CANVAS_FILL`` of it gets the model's typical extent; the
    drawing's size relative to the canvas is kept. Strokes are simplified with RDP (epsilon 2 in
    0-255 units, as the training data); a drawing still longer than the model can take is
    simplified further until it fits (see :func:`fit_point_budget`), never cut.
    """
    polylines = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polylines]
    polylines = [p for p in polylines if len(p)]
    if not polylines:
        raise ValueError("the drawing is empty: draw at least one stroke first")
    points = np.concatenate(polylines)
    extent = float(max(canvas_size)) if canvas_size else float(np.ptp(points, axis=0).max() / CANVAS_FILL)
    extent = max(extent, 1e-6)
    to_255 = 255.0 / extent
    limit = max(model.config.max_length - MIN_ENDING_STEPS, 2)
    simplified = fit_point_budget([p * to_255 for p in polylines], limit)
    factor = model.stats.typical_extent / (CANVAS_FILL * 255.0)  # normalised units per 0-255 unit
    stroke3 = strokes.polylines_to_stroke3([s * factor for s in simplified], origin=None)
    return stroke3.astype(np.float32), to_255 * factor


def fit_point_budget(polylines, limit: int) -> list[np.ndarray]:
    """Simplify strokes (0-255 units) to at most ``limit`` points, in at most ``MAX_RDP_PASSES`` RDP passes.

    Each pass simplifies the previous pass's strokes with a larger epsilon (1.5x, up to 4x when far
    over). Strokes cannot shrink below their two end points, so when two points per stroke are too
    many, the shortest strokes are left out first (never the last one, which the endings continue);
    if the passes end over the limit, each stroke keeps only its end points. Always terminates.
    """
    polylines = _drop_shortest_strokes(polylines, limit)
    epsilon = strokes.RDP_EPSILON
    for _ in range(MAX_RDP_PASSES):
        polylines = _rdp_in_pieces(polylines, epsilon)
        count = sum(len(p) for p in polylines)
        if count <= limit:
            return polylines
        epsilon *= min(max(count / limit, 1.5), 4.0)
    return [p[[0, -1]] if len(p) > 1 else p for p in polylines]


def _drop_shortest_strokes(polylines, limit: int) -> list[np.ndarray]:
    """Leave out the fewest, shortest strokes (never the last) so that two points per stroke fit ``limit``."""
    floor = np.minimum([len(p) for p in polylines], 2)  # what RDP can shrink each stroke to
    excess = int(floor.sum()) - limit
    if excess <= 0:
        return polylines
    sizes = np.array([len(p) for p in polylines])
    points = np.concatenate(polylines)
    steps = np.append(np.hypot(*np.diff(points, axis=0).T), 0.0)  # (N,) ink from each point to the next
    steps[np.cumsum(sizes) - 1] = 0.0  # the jump to the next stroke is not ink
    ink = np.add.reduceat(steps, np.cumsum(sizes) - sizes)  # (S,) each stroke's length
    order = np.argsort(ink[:-1], kind="stable")  # shortest first; the last stroke stays
    dropped = order[: int(np.searchsorted(np.cumsum(floor[order]), excess)) + 1]
    keep = np.ones(len(polylines), dtype=bool)
    keep[dropped] = False
    return [p for p, kept in zip(polylines, keep) if kept]


def _rdp_in_pieces(polylines, epsilon: float) -> list[np.ndarray]:
    """RDP on every stroke, long strokes cut into pieces of ``RDP_PIECE_POINTS`` that share end points.

    RDP can take one round per point (a zigzag); pieces bound a pass to ~points x RDP_PIECE_POINTS work.
    """
    pieces, owners = [], []
    for index, stroke in enumerate(polylines):
        starts = range(0, max(len(stroke) - 1, 1), RDP_PIECE_POINTS - 1)
        pieces += [stroke[start : start + RDP_PIECE_POINTS] for start in starts]
        owners += [index] * len(starts)
    joined: list[list[np.ndarray]] = [[] for _ in polylines]
    for owner, piece in zip(owners, strokes.rdp_polylines(pieces, epsilon)):
        joined[owner].append(piece[1:] if joined[owner] else piece)  # a piece starts where the last ended
    return [np.concatenate(parts) for parts in joined]


def prime_state(decoder: NumpyDecoder, stroke3, bias):
    """Feed the start token and a drawing's rows; returns the state and the last fed row ``[B, 5]``."""
    batch = len(bias)
    stroke5 = strokes.stroke3_to_stroke5(stroke3)[:-1]  # start token + points, without the end row
    _, state = decoder.run(np.tile(stroke5[None, :-1], (batch, 1, 1)), bias)
    return state, np.tile(stroke5[-1], (batch, 1))


def complete(model, strokes_in, n: int = 4, *, temperature: float = 0.4, seed: int = 0, category=None,
             max_steps: int | None = None, greedy: bool = False, canvas_size=None,
             pen_temperature: float | None = None) -> Completion:
    """Complete a person's drawing ``n`` ways; the endings continue from their last point (canvas units).

    ``max_steps`` caps each ending's points (default: what the model's length cap leaves after the
    person's drawing, at least ``MIN_ENDING_STEPS``). Temperatures as in :func:`sample`.
    """
    _check_sampling_options(n, temperature, pen_temperature)
    _check_seed(seed)
    _check_max_steps(max_steps)
    _check_canvas_size(canvas_size)
    polylines = check_canvas_strokes(strokes_in)
    ids = np.full(n, model.category_id(category))
    stroke3, pixel_factor = canvas_to_model(polylines, model, canvas_size)
    steps = max_steps or max(model.config.max_length - len(stroke3), MIN_ENDING_STEPS)
    endings = graph_sampler(model).generate(stroke3, ids, steps, float(temperature), seed, greedy, pen_temperature)
    last_point = polylines[-1][-1]
    return Completion(
        prime=polylines,
        endings=[[p / pixel_factor + last_point for p in strokes.stroke3_to_polylines(e)] for e in endings],
        left_out=len(polylines) - int(stroke3[:, 2].sum()),  # each stroke the model read ends with a pen lift
    )


def log_likelihood(model, stroke3, category_ids) -> np.ndarray:
    """Mean log-likelihood per point of a (partial) normalised drawing, for each category id ``[B]``.

    Per point: log of the offset mixture density plus log of the pen state's probability
    (the paper's L_s and L_p terms, without the end-of-drawing row, since the drawing may go on).
    The LSTM runs in the compiled loop (:meth:`GraphSampler.score_outputs`).
    """
    stroke5 = strokes.stroke3_to_stroke5(stroke3)[:-1]  # (L + 1, 5)
    outputs = graph_sampler(model).score_outputs(stroke5[:-1], category_ids)  # (B, L, 6M + 3)
    targets = stroke5[1:]
    params = mixture_params(outputs, model.config.num_mixtures, min_log_sigma=model.config.min_log_sigma)
    z_x = (targets[:, 0:1] - params["mu_x"]) / params["sigma_x"]
    z_y = (targets[:, 1:2] - params["mu_y"]) / params["sigma_y"]
    one_minus_rho2 = 1.0 - params["rho"] ** 2
    log_density = (-(z_x**2 + z_y**2 - 2 * params["rho"] * z_x * z_y) / (2 * one_minus_rho2)
                   - np.log(2 * np.pi * params["sigma_x"] * params["sigma_y"] * np.sqrt(one_minus_rho2)))
    offset = np.logaddexp.reduce(params["log_pi"] + log_density, axis=-1)  # (B, L)
    pen = (_log_softmax(params["pen_logits"]) * targets[:, 2:]).sum(axis=-1)  # (B, L)
    return (offset + pen).mean(axis=-1)


def canvas_score(model, polylines, canvas_size=None) -> np.ndarray:
    """Per-point log-likelihood of a canvas drawing under each category of ``model``, in canvas-pixel units.

    The drawing is mapped into the model's units; the change of variables back to canvas pixels adds
    2 log(pixel factor) per point, which makes scores of models with different units comparable.
    """
    stroke3, pixel_factor = canvas_to_model(polylines, model, canvas_size)
    return log_likelihood(model, stroke3, np.arange(len(model.categories))) + 2.0 * np.log(pixel_factor)


def guess(models, strokes_in, *, top: int = 3, canvas_size=None, calibration=None) -> list[tuple[str, float]]:
    """Rank categories for a (partial) drawing by likelihood: ``[(category, probability)]``, best first.

    Each model scores the drawing mapped into its own units (:func:`canvas_score`: mean log-likelihood
    per point, in canvas pixels). With a ``calibration`` (:class:`sketchrnn.calibration.GuessCalibration`,
    fitted on validation drawings) the scores become calibrated logits; without one, the raw scores are
    the logits. A category drawn by several models gets one vote, its best model's; a softmax over the
    categories gives the probabilities.
    """
    if not _is_number(top) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be a whole number of at least 1, got {_shown(top)}")
    _check_canvas_size(canvas_size)
    polylines = check_canvas_strokes(strokes_in)
    names, scores = [], []
    with ThreadPoolExecutor(SCORING_THREADS) as pool:  # the compiled loops release the GIL: two models at once
        for model, per_point in zip(models, pool.map(lambda model: canvas_score(model, polylines, canvas_size), models)):
            names += list(model.categories)
            scores += list(per_point if calibration is None else calibration.logits(model.name, model.categories, per_point))
    if not names:
        raise ValueError("no models to guess with")
    best: dict[str, float] = {}  # one vote per category: a category two models draw counts once, by its best model
    for name, score in zip(names, scores):
        best[name] = max(best.get(name, -np.inf), float(score))
    categories, scores = list(best), np.asarray(list(best.values()))
    probabilities = np.exp(scores - np.logaddexp.reduce(scores))
    return sorted(zip(categories, probabilities.tolist()), key=lambda item: -item[1])[:top]
