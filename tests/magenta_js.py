"""Running exported models in magenta.js (Node) and comparing them with the project's (tests and benchmarks).

The Node side is ``tests/js/step_model.js``: the real ``@magenta/sketch`` (pinned in :mod:`sketchrnn.web`, installed
with npm into the download cache) steps along a drawing's rows and reports its mixture parameters and pen
probabilities. The project's side is its compiled scorer's head outputs, read as magenta.js reads them.

Tolerance of the int16 rounding: a stored weight is the nearest multiple of ``STEP = 10 / 32767``, so it moves by
at most ``STEP / 2``. A raw head output (a mixture or pen logit, a mean, a log sigma, a correlation before tanh)
sums ``H`` products of a hidden unit (``|h| < 1``) and a weight, plus a bias: one step's rounding moves it by at
most ``STEP / 2 * (H + 1)`` (0.078 for H = 512), and the LSTM's gates likewise. That worst case (every error of
the same sign) is the tolerance on means, correlations (tanh moves them no more) and log sigmas; a softmax's log
probabilities move by at most twice a logit's change. Measured along held-out drawings, the rounding moves them
by at most 6% of that (``benchmarks/export_js_check.py``, every bundled category); an error of the exporter (the forget bias left in, another
category's embedding) moves them by more than the tolerance (``test_export_js.py`` checks that it is caught).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import tensorflow as tf

from sketchrnn import magenta, strokes
from sketchrnn.data import category_from_filename, load_dataset
from sketchrnn.model import mixture_params

STEP_SCRIPT = Path(__file__).resolve().parent / "js" / "step_model.js"
STEP = magenta.WEIGHT_SCALE  # 10 / 32767, one int16 step
FLOAT32_RTOL, FLOAT32_ATOL = 1e-3, 1e-4  # two float32 runtimes along a drawing (measured: <= 4e-4 rel, 1.3e-5 abs)
SMALLEST_PROBABILITY = 1e-30  # probabilities are compared as logs, floored here (float32 underflows below ~1e-38)
KEYS = ("pi", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho", "pen")


# ----------------------------------------------------------------------------------------------
# A NumPy reference of magenta's decoder, written from the documented maths of its files
# (../shared/data/README.md, "Magenta's pretrained models"), not from the project's code


def reference_weights(path):
    """The five weight arrays of a .gen.json, decoded here independently: int16 * 10 / 32767."""
    info, dims, encoded = json.loads(path.read_text())
    arrays = [np.frombuffer(base64.b64decode(text), "<i2").astype(np.float64).reshape(shape) * 10.0 / 32767.0
              for text, shape in zip(encoded, dims)]
    return info, arrays


def reference_outputs(arrays, stroke5):
    """magenta's decoder along stroke-5 rows ``[T, 5]``: mixture parameters and pen probabilities per step."""
    output_kernel, output_bias, input_kernel, recurrent_kernel, bias = arrays
    sigmoid = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    units = recurrent_kernel.shape[0]
    hidden, cell, outputs = np.zeros(units), np.zeros(units), []
    for row in stroke5:
        z = row @ input_kernel + hidden @ recurrent_kernel + bias
        i, j, f, o = (z[k * units:(k + 1) * units] for k in range(4))
        cell = cell * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
        hidden = np.tanh(cell) * sigmoid(o)
        outputs.append(hidden @ output_kernel + output_bias)
    return split_outputs(np.array(outputs))


def split_outputs(outputs):
    """Row of 6M + 3 -> pen probabilities, mixture weights, means, sigmas, correlations (magenta's meaning)."""
    pen_logits, rest = outputs[:, :3], outputs[:, 3:]
    pi_logits, mu_x, mu_y, log_sigma_x, log_sigma_y, rho = np.split(rest, 6, axis=1)
    softmax = lambda v: np.exp(v - v.max(1, keepdims=True)) / np.exp(v - v.max(1, keepdims=True)).sum(1, keepdims=True)  # noqa: E731
    return {"pen": softmax(pen_logits), "pi": softmax(pi_logits), "mu_x": mu_x, "mu_y": mu_y,
            "sigma_x": np.exp(log_sigma_x), "sigma_y": np.exp(log_sigma_y), "rho": np.tanh(rho)}


# ----------------------------------------------------------------------------------------------
# Tolerances and comparisons


def rounding_tolerance(hidden_size: int) -> float:
    """The most one step of int16 rounding moves a raw head output: ``STEP / 2 * (H + 1)``."""
    return STEP / 2 * (hidden_size + 1)


def node_missing_reason() -> str | None:
    """Why magenta.js cannot run here (no node or npm), or None."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not installed (Debian: apt-get install nodejs npm)" if missing else None


def run_in_node(jobs: list[tuple[Path, np.ndarray]], modules: Path) -> list[dict[str, np.ndarray]]:
    """magenta.js's parameters after each row, per job ``(gen.json path, normalised stroke-5 rows [T, 5])``."""
    payload = [{"model": str(path), "rows": np.asarray(rows, np.float64).tolist()} for path, rows in jobs]
    jobs_file = Path(jobs[0][0]).with_name("node_jobs.json")
    jobs_file.write_text(json.dumps(payload))
    result = subprocess.run(["node", str(STEP_SCRIPT), str(jobs_file)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NODE_PATH": str(modules)})
    if result.returncode != 0:
        raise RuntimeError(f"node {STEP_SCRIPT.name} failed: {result.stderr.strip()[-2000:]}")
    return [{key: np.array(values[key], np.float64) for key in KEYS} for values in json.loads(result.stdout)]


def scored_params(model, rows: np.ndarray, category_id: int) -> dict[str, np.ndarray]:
    """The project's model along ``rows [T, 5]``, read as magenta.js reads its outputs (log sigma unclipped)."""
    outputs = model.sampler.score_outputs(rows, [category_id])[0]  # (T, 6M + 3)
    params = mixture_params(tf.constant(outputs, tf.float64), model.config.num_mixtures,
                            min_log_sigma=magenta.UNCLIPPED_LOG_SIGMA)
    params = {key: value.numpy() for key, value in params.items()}
    return {"pi": np.exp(params["log_pi"]), "pen": tf.nn.softmax(params["pen_logits"]).numpy(),
            **{key: params[key] for key in ("mu_x", "mu_y", "sigma_x", "sigma_y", "rho")}}


def as_raw(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Parameters in the terms the rounding tolerance speaks of: log probabilities, means, log sigmas, rho."""
    log = lambda values: np.log(np.maximum(values, SMALLEST_PROBABILITY))  # noqa: E731
    return {"log_pi": log(params["pi"]), "log_pen": log(params["pen"]), "mu_x": params["mu_x"],
            "mu_y": params["mu_y"], "log_sigma_x": log(params["sigma_x"]), "log_sigma_y": log(params["sigma_y"]),
            "rho": params["rho"]}


def rounding_excess(got: dict, expected: dict, hidden_size: int) -> dict[str, float]:
    """Per parameter, the largest difference over what int16 rounding (plus float32) allows; <= 0 is within it."""
    tolerance = rounding_tolerance(hidden_size)
    excess = {}
    for key, values in as_raw(got).items():
        allowed = (2 if key.startswith("log_p") else 1) * tolerance + FLOAT32_ATOL
        excess[key] = float(np.max(np.abs(values - as_raw(expected)[key])) - allowed)
    return excess


def assert_within_rounding(got: dict, expected: dict, hidden_size: int, where: str) -> None:
    """Every parameter within :func:`rounding_tolerance` of the expected one (log probabilities: twice it)."""
    over = {key: value for key, value in rounding_excess(got, expected, hidden_size).items() if value > 0}
    assert not over, f"{where}: beyond the int16 rounding tolerance by {over}"


def assert_float32_close(got: dict, expected: dict, where: str) -> None:
    """The same parameters up to float32 arithmetic (two runtimes, the same int16 weights)."""
    for key in KEYS:
        np.testing.assert_allclose(got[key], expected[key], rtol=FLOAT32_RTOL, atol=FLOAT32_ATOL, err_msg=f"{where}: {key}")


def held_out_rows(model, category: str, shared_data: Path, max_points: int | None = None) -> np.ndarray:
    """Normalised stroke-5 rows ``[T, 5]`` (start row + points) of a real drawing of ``category`` the model never
    trained on: the first of its test split (its own data for a model trained here; for magenta's, the shared
    files' drawings, none of which it saw) with at most ``max_points`` points, at the model's drawing size."""
    sources, categories = _category_source(model, category, shared_data)
    rescale_to = model.metadata.get("train_settings", {}).get("rescale_to") or model.metadata.get("rescale_to")
    dataset = load_dataset(sources, max_length=model.config.max_length, rescale_to=rescale_to, categories=categories)
    drawings = dataset.splits["test"].drawings
    drawing = next((d for d in drawings if max_points is None or len(d) <= max_points), drawings[0])
    return strokes.stroke3_to_stroke5(strokes.normalize(drawing, model.stats.scale_factor))[:-1]


def _category_source(model, category: str, shared_data: Path) -> tuple[list[Path], list[str] | None]:
    """The shared file holding ``category``'s drawings: the model's own training file, else a QuickDraw file."""
    for source in model.metadata.get("data", []):
        if category_from_filename(source) == category:
            return [shared_data / Path(source).relative_to("../shared/data")], None
    official = shared_data / f"quickdraw_sketchrnn_{category.replace(' ', '_')}_2200.npz"
    if official.is_file():
        return [official], None
    return [shared_data / "quickdraw_simplified_344cats_25each.ndjson"], [category]
