"""Redrawing and morphing with the VAE: a person's drawing -> latent vector z -> new drawings.

Ha & Eck 2017, sections 3 and 4: the encoder reads a drawing into a Gaussian over z (its mean ``mu`` and
``sigma_hat``); decoding z from an empty start redraws the drawing in the style the model learned
(*reconstruction*); decoding the points of a path between two drawings' z morphs one into the other
(*latent space interpolation*, spherical as the paper's figures).

A person's drawing arrives as canvas polylines, checked and fitted to the model exactly as a completion's
(:func:`sketchrnn.sample.check_canvas_strokes`, :func:`sketchrnn.sample.canvas_to_model`: same errors,
same point budget). Drawings come back in the person's canvas coordinates: scaled back by the same
factor and centred where the person's drawing was. Decoding runs the model's compiled sampler
(``model.sampler``) with z; the same seed gives the same drawings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from sketchrnn import strokes
from sketchrnn.sample import (
    MAX_ENDINGS,
    canvas_to_model,
    check_canvas_size,
    check_canvas_strokes,
    check_sampling_options,
    check_seed,
    is_number,
    shown,
)

MIN_STEPS, MAX_STEPS = 2, MAX_ENDINGS  # drawings in an interpolation, both ends included
PARALLEL_TOLERANCE = 1e-6  # sin(angle) below this: the two vectors are (anti)parallel and slerp is linear
BUNDLED_VAE = "data/models/vae6"  # the VAE shipped with the project, named in messages


@dataclass
class Encoding:
    """A person's drawing encoded: its latent vector and where it sat on the canvas."""

    z: np.ndarray  # (N_z,) the latent vector: mu, or a sample of the posterior
    mu: np.ndarray  # (N_z,) the posterior's mean
    sigma_hat: np.ndarray  # (N_z,) log variance of the posterior (sigma = exp(sigma_hat / 2))
    strokes: list[np.ndarray]  # the person's strokes, (k, 2) canvas arrays
    centre: np.ndarray  # (2,) centre of the drawing's bounding box, canvas units
    pixel_factor: float  # model units per canvas unit
    left_out: int = 0  # the person's shortest strokes the model could not take


@dataclass
class Redrawing:
    """A person's drawing and the model's redrawings of it, all in the person's canvas coordinates."""

    drawing: list[np.ndarray]  # the person's strokes
    redrawings: list[list[np.ndarray]]  # n drawings decoded from the drawing's z, centred where it was
    z: np.ndarray  # (n, N_z) the latent vector each redrawing was decoded from
    left_out: int = 0


@dataclass
class Interpolation:
    """Drawings morphing from one person's drawing to another's, in canvas coordinates."""

    start: list[np.ndarray]  # the first drawing's strokes
    end: list[np.ndarray]  # the second drawing's strokes
    drawings: list[list[np.ndarray]]  # one per step, from start to end
    fractions: np.ndarray  # (steps,) t of each step, 0 (start) to 1 (end)
    z: np.ndarray  # (steps, N_z) the latent vector each drawing was decoded from: slerp(z_start, z_end, t)
    left_out: int = 0  # strokes left out of the two drawings, together


def check_vae(model) -> None:
    """ValueError unless ``model`` is a VAE (only a VAE has an encoder to read a drawing with)."""
    if model.config.kind != "vae":
        raise ValueError(
            f"{model.name or 'this model'} is a decoder-only model: it cannot redraw or morph a drawing; train one "
            f"with `sketchrnn train --model vae ...` or use {BUNDLED_VAE}"
        )


def encode(model, strokes_in, *, canvas_size=None, sample: bool = False, seed: int = 0) -> Encoding:
    """Encode a person's drawing (canvas polylines) into z: the posterior mean, or with ``sample`` a draw
    ``z = mu + sigma * eps`` seeded by ``seed`` (paper eq. 2)."""
    check_vae(model)
    check_seed(seed)
    check_canvas_size(canvas_size)
    polylines = check_canvas_strokes(strokes_in)
    stroke3, pixel_factor = canvas_to_model(polylines, model, canvas_size)
    rows = strokes.stroke3_to_stroke5(stroke3)[1:]  # (L + 1, 5): the points and one end row, no start token
    mu, sigma_hat = (np.asarray(value)[0] for value in model.network.encode(tf.constant(rows[None])))
    points = np.concatenate(polylines)
    return Encoding(
        z=posterior_samples(model, mu, sigma_hat, 1, seed)[0] if sample else mu, mu=mu, sigma_hat=sigma_hat,
        strokes=polylines, centre=(points.min(axis=0) + points.max(axis=0)) / 2, pixel_factor=float(pixel_factor),
        left_out=len(polylines) - int(stroke3[:, 2].sum()),  # each stroke the model read ends with a pen lift
    )


def posterior_samples(model, mu, sigma_hat, n: int, seed: int) -> np.ndarray:
    """``n`` draws ``z = mu + exp(sigma_hat / 2) * eps`` of one posterior ``(mu, sigma_hat)`` (each ``(N_z,)``):
    ``[n, N_z]``, the same for the same seed."""
    tiled = [np.tile(np.asarray(value, np.float32), (n, 1)) for value in (mu, sigma_hat)]
    return np.asarray(model.network.sample_latent(*tiled, seed=int(seed)))


def decode(model, z, *, temperature: float = 0.4, seed: int = 0, category=None, max_steps: int | None = None,
           greedy: bool = False, pen_temperature: float | None = None) -> list[np.ndarray]:
    """Draw one drawing per row of ``z [B, N_z]`` from an empty start; returns normalised stroke-3 arrays."""
    z = np.asarray(z, np.float32).reshape(-1, model.config.latent_size)
    ids = np.full(len(z), model.category_id(category))
    return model.sampler.generate(np.zeros((0, 3), np.float32), ids, max_steps or model.config.max_length,
                                  float(temperature), seed, greedy, pen_temperature, z=z)


def to_canvas(stroke3, centre, pixel_factor: float) -> list[np.ndarray]:
    """A decoded (normalised stroke-3) drawing as canvas polylines: scaled by ``1 / pixel_factor`` and
    centred on ``centre``. An empty drawing stays empty."""
    polylines = [p / pixel_factor for p in strokes.stroke3_to_polylines(stroke3)]
    if not polylines:
        return []
    points = np.concatenate(polylines)
    shift = np.asarray(centre) - (points.min(axis=0) + points.max(axis=0)) / 2
    return [p + shift for p in polylines]


def reconstruct(model, strokes_in, n: int = 4, *, temperature: float = 0.4, seed: int = 0, category=None,
                canvas_size=None, sample: bool = False, max_steps: int | None = None, greedy: bool = False,
                pen_temperature: float | None = None) -> Redrawing:
    """Redraw a person's drawing ``n`` ways: encode it, decode its z ``n`` times (paper section 4.1).

    With ``sample`` each redrawing has its own z drawn from the posterior (seeded by ``seed``); otherwise all
    decode the mean. Temperatures as in :func:`sketchrnn.sample.sample`; ``category`` only
    matters for a VAE trained with category conditioning.
    """
    check_vae(model)
    check_sampling_options(n, temperature, pen_temperature)
    check_seed(seed)
    encoding = encode(model, strokes_in, canvas_size=canvas_size)
    z = posterior_samples(model, encoding.mu, encoding.sigma_hat, n, seed) if sample else np.tile(encoding.mu, (n, 1))
    drawings = decode(model, z, temperature=temperature, seed=seed, category=category, max_steps=max_steps,
                      greedy=greedy, pen_temperature=pen_temperature)
    return Redrawing(
        drawing=encoding.strokes, z=z, left_out=encoding.left_out,
        redrawings=[to_canvas(d, encoding.centre, encoding.pixel_factor) for d in drawings],
    )


def slerp(z0, z1, t):
    """Spherical interpolation from ``z0`` (t = 0) to ``z1`` (t = 1) along the great circle between them.

    ``sin((1 - t) omega) / sin(omega) z0 + sin(t omega) / sin(omega) z1`` with omega the angle between the
    two (Shoemake 1985; the paper's interpolations, magenta's ``slerp``). Two unit vectors give unit
    vectors all the way. When the two are (anti)parallel or one is zero the great circle is undefined,
    and it is linear: ``(1 - t) z0 + t z1``. ``t``: a number, or a 1-D array giving one row per value.
    """
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    one_t = np.ndim(t) == 0
    t = np.atleast_1d(np.asarray(t, np.float64))[:, None]  # (S, 1): one row per t
    norms = np.linalg.norm(z0) * np.linalg.norm(z1)
    omega = np.arccos(np.clip(np.dot(z0, z1) / norms, -1.0, 1.0)) if norms > 0 else 0.0
    if np.sin(omega) < PARALLEL_TOLERANCE:
        mixed = (1.0 - t) * z0 + t * z1
    else:
        mixed = (np.sin((1.0 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)
    return mixed[0] if one_t else mixed  # (N_z,) or (S, N_z)


def _check_steps(steps) -> None:
    if not is_number(steps) or not isinstance(steps, (int, np.integer)) or not MIN_STEPS <= steps <= MAX_STEPS:
        raise ValueError(f"number of steps must be a whole number from {MIN_STEPS} to {MAX_STEPS}, got {shown(steps)}")


def interpolate(model, start, end, steps: int = 8, *, temperature: float = 0.4, seed: int = 0, category=None,
                canvas_size=None, max_steps: int | None = None, greedy: bool = False,
                pen_temperature: float | None = None) -> Interpolation:
    """Morph one person's drawing into another in ``steps`` drawings (paper section 4.2).

    Both are encoded to their posterior means; step k decodes ``slerp(z_start, z_end, k / (steps - 1))``, so
    the first and last drawings are the two drawings' reconstructions. Every step is decoded with the same
    seed, so the drawings change only as z does. Each is scaled and placed between where the two drawings
    were (the scale interpolated geometrically, the centre linearly).
    """
    check_vae(model)
    _check_steps(steps)
    check_sampling_options(1, temperature, pen_temperature)
    check_seed(seed)
    first = encode(model, start, canvas_size=canvas_size)
    last = encode(model, end, canvas_size=canvas_size)
    fractions = np.linspace(0.0, 1.0, steps)
    z = slerp(first.z, last.z, fractions).astype(np.float32)  # rows 0 and -1 are exactly the two encodings
    drawings = []
    for t, row in zip(fractions, z):
        (stroke3,) = decode(model, row[None], temperature=temperature, seed=seed, category=category,
                            max_steps=max_steps, greedy=greedy, pen_temperature=pen_temperature)
        centre = (1.0 - t) * first.centre + t * last.centre
        pixel_factor = float(np.exp((1.0 - t) * np.log(first.pixel_factor) + t * np.log(last.pixel_factor)))
        drawings.append(to_canvas(stroke3, centre, pixel_factor))
    return Interpolation(start=first.strokes, end=last.strokes, drawings=drawings, fractions=fractions, z=z,
                         left_out=first.left_out + last.left_out)
