"""Drawing and scoring with a trained network, one compiled path for both kinds of model.

Sampling runs one small LSTM step up to 250 times, so per-step overhead decides its speed. :class:`Sampler`
runs priming and the whole sampling loop (mixture, pen state, random draws) inside one XLA-compiled
``tf.while_loop``; a Keras call per step in eager mode is ~50-100x slower (``benchmarks/sample_latency.py``).
Randomness comes from stateless ops keyed by ``(seed, step)``, so the same seed gives the same drawing,
always. Scoring ("what are you drawing?") runs the same compiled step over a drawing's rows.

Each loop starts where the network's ``decoder_start`` says: the LSTM bias with every per-sequence input
folded in (the category embedding; the VAE's latent vector z) and the initial hidden and cell state (zeros;
the VAE's come from z). A step then needs only the stroke-5 row; its gate maths is the training LSTM's
(:func:`~sketchrnn.model.lstm.lstm_update`).

Guided sampling (``guidance`` > 0, a model of several categories) runs one LSTM stream per category for each
drawing, all fed the same rows, and at each step keeps one of several candidate rows drawn for the chosen
category, favouring rows that category explains better than the others do (:meth:`Sampler.generate`).

The compiled loops (:class:`SamplingLoops`) take the step's weights as arguments and are shared by every sampler
of one shape (hidden size, mixtures, length cap, layer norm): a model loaded again, or another model of the same
size, reuses the programs already traced and compiled in the process instead of compiling its own.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import tensorflow as tf

from sketchrnn import strokes
from sketchrnn.model.lstm import layer_norm_lstm_update, lstm_update
from sketchrnn.model.mixture import bivariate_normal_log_pdf, mixture_params

MIN_SCORED_ROWS = 16  # scoring pads a drawing's rows to a power of two, at least this many
GUIDANCE_CANDIDATES = 8  # rows drawn per step and ending when guided, of which one is kept (see Sampler.generate)


def padded_batch(count: int) -> int:
    """The batch the sampler runs to draw ``count`` drawings (or the rows it scores): the next power of two, so a
    model compiles one program per size bucket, not per size."""
    return 1 << (count - 1).bit_length()


def _is_expected_retracing(record) -> bool:
    """False for TensorFlow's "triggered tf.function retracing" warning about the sampling loops.

    Models of different shapes have their own :class:`SamplingLoops` (and each model its own start function)
    whose compiled functions share one Python method, which TensorFlow counts as retracing one function; one
    program per shape and batch size is by design.
    """
    message = record.getMessage()
    return not ("triggered tf.function retracing" in message
                and any(f"{owner.__qualname__}." in message for owner in (Sampler, SamplingLoops)))


class SamplingLoops:
    """The compiled loops of one shape of network, shared by every :class:`Sampler` of that shape (see the module doc).

    Each loop takes the step's weights (:attr:`Sampler.weights`) as its first argument; what the trace depends on
    besides the arguments' shapes (mixtures, the smallest log sigma, the length cap, guidance candidates) is fixed
    per instance. Get one with :func:`sampling_loops`.
    """

    def __init__(self, num_mixtures: int, min_log_sigma: float, max_rows: int, guidance_candidates: int):
        self.num_mixtures = num_mixtures
        self.min_log_sigma = min_log_sigma
        self.max_rows = max_rows
        self.guidance_candidates = guidance_candidates
        self.compiled_sample = tf.function(self.sample_loop, jit_compile=True, reduce_retracing=True, autograph=False)
        self.compiled_teacher_forced = tf.function(self.teacher_forced, jit_compile=True, reduce_retracing=True,
                                                   autograph=False)
        self.compiled_guided = tf.function(self.guided_loop, jit_compile=True, reduce_retracing=True, autograph=False)

    def step(self, weights, row, hidden, cell, bias):
        """One LSTM + head step with ``weights`` (:attr:`Sampler.weights`): ``row [B, 5]`` -> outputs ``[B, 6M + 3]``
        and the new hidden and cell ``[B, H]``."""
        row_kernel, recurrent_kernel, head_kernel, head_bias, *norm_weights = weights
        preactivations = tf.matmul(row, row_kernel) + tf.matmul(hidden, recurrent_kernel) + bias  # (B, 4H)
        if not norm_weights:
            hidden, cell = lstm_update(preactivations, cell)[:2]
        else:
            hidden, cell = layer_norm_lstm_update(preactivations, cell, norm_weights[0])[:2]
        return tf.matmul(hidden, head_kernel) + head_bias, hidden, cell

    def teacher_forced(self, weights, rows, bias, hidden, cell):
        """Head outputs after each of ``rows [B, T, 5]`` ``[B, T, 6M + 3]``, and the log-likelihood of each row
        after the first under the outputs before it ``[B, T - 1]`` (:meth:`log_likelihoods`)."""
        outputs = tf.TensorArray(tf.float32, size=tf.shape(rows)[1])

        def body(t, hidden, cell, outputs):
            output, hidden, cell = self.step(weights, rows[:, t], hidden, cell, bias)
            return t + 1, hidden, cell, outputs.write(t, output)

        _, _, _, outputs = tf.while_loop(lambda t, *_: t < tf.shape(rows)[1], body, (0, hidden, cell, outputs))
        outputs = tf.transpose(outputs.stack(), [1, 0, 2])
        return outputs, self.log_likelihoods(outputs[:, :-1], rows[:, 1:])

    def log_likelihoods(self, outputs, targets):
        """log p(target row) per step ``[B, T]`` under head outputs ``[B, T, 6M + 3]``: the log of the offset
        mixture density plus the log of the pen state's probability (the terms of the paper's L_s and L_p)."""
        offset, pen = self.log_likelihood_parts(outputs, targets)
        return offset + pen

    def log_likelihood_parts(self, outputs, targets):
        """The two terms of :meth:`log_likelihoods` apart, ``(offset, pen)``; outputs and targets broadcast
        against each other (all but their last axis)."""
        params = mixture_params(outputs, self.num_mixtures, min_log_sigma=self.min_log_sigma)
        log_density = bivariate_normal_log_pdf(
            targets[..., 0:1], targets[..., 1:2], params["mu_x"], params["mu_y"], params["sigma_x"], params["sigma_y"],
            params["rho"],
        )  # (..., M)
        offset = tf.reduce_logsumexp(params["log_pi"] + log_density, axis=-1)
        return offset, tf.reduce_sum(tf.nn.log_softmax(params["pen_logits"]) * targets[..., 2:], axis=-1)

    def next_row(self, output, key, temperature, pen_temperature, greedy):
        """Sample the next stroke-5 row ``[B, 5]`` from head outputs ``[B, 6M + 3]`` (paper section 3.3),
        with stateless randomness keyed by ``key [2]``; ``greedy`` takes the likeliest component and pen state."""
        params = mixture_params(output, self.num_mixtures, temperature, self.min_log_sigma)
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

    def _primed(self, weights, prime, prime_length, bias, hidden, cell):
        """The state after feeding ``prime [B, R, 5]`` rows ``0..prime_length-2`` from ``(bias, hidden, cell)``."""
        return tf.while_loop(
            lambda t, *_: t < prime_length - 1,
            lambda t, hidden, cell: (t + 1, *self.step(weights, tf.gather(prime, t, axis=1), hidden, cell, bias)[1:]),
            (0, hidden, cell),
        )[1:]

    def sample_loop(self, weights, prime, prime_length, bias, hidden, cell, seed, temperature, pen_temperature, greedy,
                    max_steps):
        """From ``(bias, hidden, cell)``, feed ``prime [B, R, 5]`` rows ``0..prime_length-2``, then sample from
        its last row."""
        hidden, cell = self._primed(weights, prime, prime_length, bias, hidden, cell)
        rows = tf.TensorArray(tf.float32, size=self.max_rows)
        ended = tf.zeros([tf.shape(prime)[0]], tf.bool)

        def body(t, row, hidden, cell, ended, rows):
            output, hidden, cell = self.step(weights, row, hidden, cell, bias)
            row = self.next_row(output, tf.stack([seed, t]), temperature, pen_temperature, greedy)
            return t + 1, row, hidden, cell, ended | (row[:, 4] > 0.5), rows.write(t, row)

        keep_going = lambda t, row, hidden, cell, ended, rows: (t < max_steps) & ~tf.reduce_all(ended)  # noqa: E731
        # tf.gather, not prime[:, i]: a slice would make XLA compile one program per prime length
        last_row = tf.gather(prime, prime_length - 1, axis=1)
        steps, _, _, _, _, rows = tf.while_loop(keep_going, body, (0, last_row, hidden, cell, ended, rows))
        return tf.transpose(rows.stack(), [1, 0, 2]), steps

    def guided_loop(self, weights, prime, prime_length, bias, hidden, cell, seed, temperature, pen_temperature,
                    targets, guidance, max_steps):
        """:meth:`sample_loop`, guided (see :meth:`Sampler.generate`): ``prime`` and the start have one row per stream
        (``[N * C, ...]``, ending i's streams at rows i*C .. i*C + C - 1), ``targets [N]`` the endings' categories."""
        drawings = tf.shape(targets)[0]  # dynamic: a retraced function has no static batch
        categories = tf.shape(prime)[0] // drawings
        hidden, cell = self._primed(weights, prime, prime_length, bias, hidden, cell)
        rows = tf.TensorArray(tf.float32, size=self.max_rows)
        ended = tf.zeros([drawings], tf.bool)

        def body(t, row, hidden, cell, ended, rows):
            output, hidden, cell = self.step(weights, row, hidden, cell, bias)
            chosen = self.guided_row(tf.reshape(output, [drawings, categories, -1]), targets, tf.stack([seed, t]),
                                     temperature, pen_temperature, guidance)
            row = tf.ensure_shape(tf.reshape(tf.repeat(chosen[:, None], categories, axis=1), tf.shape(row)), row.shape)
            ended = tf.ensure_shape(ended | (chosen[:, 4] > 0.5), ended.shape)
            return t + 1, row, hidden, cell, ended, rows.write(t, chosen)

        keep_going = lambda t, row, hidden, cell, ended, rows: (t < max_steps) & ~tf.reduce_all(ended)  # noqa: E731
        last_row = tf.gather(prime, prime_length - 1, axis=1)
        steps, _, _, _, _, rows = tf.while_loop(keep_going, body, (0, last_row, hidden, cell, ended, rows))
        return tf.transpose(rows.stack(), [1, 0, 2]), steps

    def guided_row(self, outputs, targets, key, temperature, pen_temperature, guidance):
        """The next row ``[N, 5]`` of N guided endings from every category's head outputs ``[N, C, 6M + 3]``:
        ``guidance_candidates`` rows (``GUIDANCE_CANDIDATES``) drawn from each ending's category ``targets [N]``
        (:meth:`next_row`), one of those with the first one's pen state kept by the weights :meth:`Sampler.generate`
        describes."""
        drawings, categories = tf.shape(outputs)[0], tf.shape(outputs)[1]
        own = tf.gather(outputs, targets, axis=1, batch_dims=1)  # (N, D)
        candidates = self.guidance_candidates
        drawn = self.next_row(tf.repeat(own, candidates, axis=0), key, temperature, pen_temperature, False)
        drawn = tf.reshape(drawn, [drawings, candidates, 5])
        # every candidate under every category's untempered density: (N, K, 1) rows against (N, 1, C) heads
        offset, pen = self.log_likelihood_parts(outputs[:, None], drawn[:, :, None])  # (N, K, C) each
        log_likelihood = tf.where(drawn[:, :, None, 4] > 0.5, pen, offset + pen)  # an end row has no offset
        own_log_likelihood = tf.gather(log_likelihood, targets, axis=2, batch_dims=1)  # (N, K)
        mean_log_likelihood = tf.reduce_logsumexp(log_likelihood, axis=2) - tf.math.log(tf.cast(categories, tf.float32))
        # the pen as the first candidate, a plain draw, has it: only candidates with that pen state take part
        plain_pen = tf.reduce_all(tf.equal(drawn[:, :, 2:], drawn[:, :1, 2:]), axis=2)  # (N, K)
        weights = tf.where(plain_pen, guidance * (own_log_likelihood - mean_log_likelihood), -np.inf)
        pick = tf.random.stateless_categorical(weights, 1, key + [0, 3 << 20])[:, 0]
        return tf.gather(drawn, pick, batch_dims=1)


_LOOPS: dict[tuple, SamplingLoops] = {}
_LOOPS_LOCK = threading.Lock()


def sampling_loops(hidden_size: int, num_mixtures: int, min_log_sigma: float, max_rows: int, layer_norm: bool,
                   guidance_candidates: int = GUIDANCE_CANDIDATES) -> SamplingLoops:
    """The process's one :class:`SamplingLoops` for this shape of network (made on first use)."""
    key = (hidden_size, num_mixtures, float(min_log_sigma), max_rows, bool(layer_norm), guidance_candidates)
    with _LOOPS_LOCK:
        if key not in _LOOPS:
            _LOOPS[key] = SamplingLoops(num_mixtures, min_log_sigma, max_rows, guidance_candidates)
        return _LOOPS[key]


class Sampler:
    """Priming, sampling and scoring for one trained network in XLA-compiled loops (the fast path).

    The step's weights are copied when the sampler is built; the start (:meth:`start`) reads the network's
    weights at each call. Batches are padded to a power of two (1, 2, 4, 8, 16) and primes to the model's
    length cap, so at most five sampling programs are ever compiled per shape of network (:class:`SamplingLoops`,
    shared by the models of that shape); :meth:`warm_up` compiles them early.
    """

    def __init__(self, network):
        self.network = network  # SketchRNN or a subclass: its decoder_start gives each loop's start
        lstm = network.lstm
        self.row_kernel = tf.constant(lstm.kernel.numpy()[:5])  # (5, 4H): the stroke-5 row's part of the kernel
        self.recurrent_kernel = tf.constant(lstm.recurrent_kernel.numpy())  # (H, 4H)
        self.head_kernel = tf.constant(network.head.kernel.numpy())  # (H, 6M + 3)
        self.head_bias = tf.constant(network.head.bias.numpy())
        self.norm_weights = tf.constant(lstm.norm_weights.numpy()) if lstm.layer_norm else None  # (10 H,)
        self.num_mixtures = network.config.num_mixtures
        self.min_log_sigma = network.config.min_log_sigma
        self.max_rows = network.config.max_length + 1
        self.guidance_candidates = GUIDANCE_CANDIDATES  # read when the loops are looked up (see :attr:`loops`)
        logging.getLogger("tensorflow").addFilter(_is_expected_retracing)  # once: the same filter is added only once
        # the start as a graph function, not XLA: the same kernels as eager (bit for bit), without the ~0.5 ms
        # a Keras layer call costs in eager mode; traced on first use (twice at most: shapes are then relaxed)
        self._compiled_start = tf.function(self._network_start, reduce_retracing=True, autograph=False)

    @property
    def weights(self) -> tuple:
        """The step's weights, as the loops take them: row kernel, recurrent kernel, head kernel and bias (and the
        layer norm's weights)."""
        kernels = (self.row_kernel, self.recurrent_kernel, self.head_kernel, self.head_bias)
        return kernels if self.norm_weights is None else (*kernels, self.norm_weights)

    @property
    def loops(self) -> SamplingLoops:
        """The compiled loops this network's shape shares with every other of that shape."""
        return sampling_loops(self.recurrent_kernel.shape[0], self.num_mixtures, self.min_log_sigma, self.max_rows,
                              self.norm_weights is not None, self.guidance_candidates)

    def next_row(self, output, key, temperature, pen_temperature, greedy):
        """:meth:`SamplingLoops.next_row`: the next stroke-5 row ``[B, 5]`` from head outputs ``[B, 6M + 3]``."""
        return self.loops.next_row(output, key, temperature, pen_temperature, greedy)

    def guided_row(self, outputs, targets, key, temperature, pen_temperature, guidance):
        """:meth:`SamplingLoops.guided_row`: the next row ``[N, 5]`` of N guided endings."""
        return self.loops.guided_row(outputs, targets, key, temperature, pen_temperature, guidance)

    def start(self, category_ids, z=None):
        """``(bias [B, 4H], hidden [B, H], cell [B, H])`` a loop starts from: the network's ``decoder_start``.

        ``category_ids [B]``; ``z [B, N_z]`` the VAE's latent vectors, or None.
        """
        z = None if z is None else tf.constant(np.asarray(z, np.float32))
        return self._compiled_start(tf.constant(np.asarray(category_ids, np.int32)), z)

    def _network_start(self, category_ids, z):
        """The network's ``decoder_start`` (a method of the sampler, so its retracing is the expected kind)."""
        return self.network.decoder_start(category_ids, z)

    def _score(self, stroke5, category_ids, z=None):
        """:meth:`SamplingLoops.teacher_forced` on one drawing's rows ``[T, 5]`` for each category id (and z), cut
        back to ``T``.

        Rows are padded to a power of two (at least 16; padding only follows, so it changes nothing
        before it), so one program is compiled per length bucket (and shape of network), not per drawing length.
        """
        steps = len(stroke5)
        rows = np.zeros((len(category_ids), max(MIN_SCORED_ROWS, padded_batch(steps)), 5), np.float32)
        rows[:, :steps] = stroke5
        outputs, log_likelihoods = self.loops.compiled_teacher_forced(self.weights, tf.constant(rows),
                                                                       *self.start(category_ids, z))
        return outputs.numpy()[:, :steps], log_likelihoods.numpy()[:, : steps - 1]

    def score_outputs(self, stroke5, category_ids, z=None) -> np.ndarray:
        """Head outputs after each of one drawing's rows ``[T, 5]``, for each category id (and z): ``[B, T, 6M + 3]``."""
        return self._score(stroke5, category_ids, z)[0]

    def log_likelihoods(self, stroke5, category_ids, z=None) -> np.ndarray:
        """Log-likelihood of each of one drawing's rows ``[T, 5]`` after the first, given the rows before it, for
        each category id (and z): ``[B, T - 1]``. Scoring ("what are you drawing?") in the compiled loop."""
        return self._score(stroke5, category_ids, z)[1]

    def generate(self, stroke3, category_ids, max_steps: int, temperature: float, seed: int, greedy=False,
                 pen_temperature: float | None = None, z=None, guidance: float = 0.0, categories: int = 1):
        """Prime with a normalised stroke-3 drawing (may be empty) and sample; returns stroke-3 endings.

        One ending per category id ``[B]`` (and per row of ``z [B, N_z]``, the VAE's latent vectors).

        ``guidance`` > 0 (a decoder of ``categories`` > 1, not greedy) draws each ending guided: one stream per
        category reads the ending's rows, and at each step ``GUIDANCE_CANDIDATES`` rows are drawn from the ending's
        category as usual (same temperatures). The pen does what the first of them, a plain draw, does (go on,
        lift, end); of the candidates with that pen state, one is kept with probability proportional to
        ``exp(guidance * (log p_c(row) - log mean_k p_k(row)))``, the untempered densities of that category
        against the mean over all ``categories``. A row the other categories would draw as readily (the circle
        that starts a face, a pig or a clock) gains nothing; one only this category draws is preferred. The pen
        is left to plain sampling because guiding it, too, kept the pen down on what only this category draws
        (an eye's pupil, a pineapple's criss-cross) and scribbled on to the point cap (18% of quickdraw6's eye
        endings of test cuts, ``benchmarks/completion_shape.py``). At 0 (the default) this is plain sampling.
        The cost is a batch ``categories`` times as large.
        """
        count = len(category_ids)
        padded = padded_batch(count)  # 1, 2, 4, 8, 16: the padding rows repeat the last
        category_ids = np.concatenate([category_ids, np.repeat(category_ids[-1:], padded - count)])
        prime = strokes.stroke3_to_stroke5(stroke3)[:-1]  # start token + points
        if guidance > 0 and categories > 1 and not greedy and z is None:
            streams = np.tile(np.arange(categories), padded)  # ending i's streams are rows i*C .. i*C + C - 1
            rows, steps = self._run_guided(prime, self.start(streams), category_ids, max_steps, temperature, seed,
                                           pen_temperature, guidance)
        else:
            if z is not None:
                z = np.concatenate([z, np.repeat(np.asarray(z)[-1:], padded - count, axis=0)])
            rows, steps = self._run(prime, self.start(category_ids, z), max_steps, temperature, seed, greedy,
                                    pen_temperature)
        return [strokes.stroke5_to_stroke3(r, has_start_token=False) for r in rows[:count, : int(steps)]]

    def _run(self, prime, start, max_steps: int, temperature: float, seed: int, greedy=False,
             pen_temperature: float | None = None):
        """The compiled sampling loop from ``start = (bias, hidden, cell)``; returns rows ``[B, R, 5]`` and the
        step count."""
        return self._call_loop(self.loops.compiled_sample, prime, start, max_steps, temperature, seed, pen_temperature,
                               tf.constant(bool(greedy)))

    def _run_guided(self, prime, start, targets, max_steps: int, temperature: float, seed: int,
                    pen_temperature: float | None, guidance: float):
        """The compiled guided loop from ``start`` (one row per stream); rows ``[N, R, 5]`` and the step count."""
        return self._call_loop(self.loops.compiled_guided, prime, start, max_steps, temperature, seed, pen_temperature,
                               tf.constant(np.asarray(targets, np.int32)), tf.constant(float(guidance), tf.float32))

    def _call_loop(self, loop, prime, start, max_steps: int, temperature: float, seed: int,
                   pen_temperature: float | None, *options):
        """Call a compiled loop with ``prime`` in a buffer of the model's length cap (one row per row of the start),
        the loop's own ``options`` between the temperatures and the step cap; rows as NumPy and the step count."""
        buffer = np.zeros((len(start[0]), self.max_rows, 5), np.float32)
        buffer[:, : len(prime)] = prime
        rows, steps = loop(
            self.weights, tf.constant(buffer), tf.constant(len(prime), tf.int32), *start,
            tf.constant(int(seed) % 2**31, tf.int32), tf.constant(temperature, tf.float32),
            tf.constant(pen_temperature or temperature, tf.float32), *options,
            tf.constant(min(max_steps, self.max_rows), tf.int32),
        )
        return rows.numpy(), steps

    def warm_up(self, sizes=(1, 2, 4, 8), guided_categories: int = 0) -> None:
        """Compile the sampling program for these batch sizes now, so no request waits for it; with
        ``guided_categories`` > 1, the guided program for that many categories too (:meth:`generate`).

        The program does not depend on where the loop starts, so a zero start compiles it for either kind of model.
        """
        units = self.recurrent_kernel.shape[0]
        empty = strokes.stroke3_to_stroke5(np.zeros((0, 3), np.float32))[:-1]

        def zero_start(rows):
            return tf.zeros([rows, 4 * units]), tf.zeros([rows, units]), tf.zeros([rows, units])

        for size in sizes:
            self._run(empty, zero_start(size), 2, 1.0, 0)
            if guided_categories > 1:
                self._run_guided(empty, zero_start(size * guided_categories), np.zeros(size, np.int32), 2, 1.0, 0,
                                 None, 1.0)
