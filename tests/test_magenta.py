"""Magenta's pretrained models: exact conversion (against an independent NumPy decoder), bad files, CLI.

The reference decoder (``tests/magenta_js.py``) is written from the documented maths of magenta's files
(``../shared/data/README.md``, "Magenta's pretrained models"), not from the project's code: it reads
the base64 int16 weights itself and runs magenta's LSTM cell (gates i, j, f, o; forget bias 1.0 at
run time). The project's compiled sampler and its scorer must agree with it along a real drawing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from magenta_js import reference_outputs, reference_weights
from sketchrnn import checkpoint, cli, magenta, sample, strokes
from sketchrnn.data import load_dataset
from sketchrnn.drawing_settings import MAGENTA_JS, MAGENTA_JS_NOTE
from sketchrnn.model import mixture_params
from test_download import server  # noqa: F401 (the local HTTP server fixture)


def project_params(outputs, num_mixtures):
    """The project's own reading of head outputs (its mixture_params), in the same terms."""
    params = {key: value.numpy() for key, value in mixture_params(
        tf.constant(outputs, tf.float64), num_mixtures, min_log_sigma=magenta.UNCLIPPED_LOG_SIGMA).items()}
    pen = tf.nn.softmax(params["pen_logits"]).numpy()
    return {"pen": pen, "pi": np.exp(params["log_pi"]), **{k: params[k] for k in ("mu_x", "mu_y", "sigma_x", "sigma_y", "rho")}}


def assert_params_close(got, expected, where):
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=2e-4, atol=2e-5, err_msg=f"{where}: {key}")


@pytest.fixture(scope="module")
def pig_file(shared_data):
    return shared_data / "magenta" / "pig.gen.json"


@pytest.fixture(scope="module")
def pig_drawing(shared_data):
    """A real held-out pig, at the model's size, as normalised stroke-3."""
    dataset = load_dataset([shared_data / "quickdraw_sketchrnn_pig_2200.npz"], max_length=168, rescale_to=800.0)
    return strokes.normalize(dataset.splits["test"].drawings[3], 70.0921)


def converted_model(path, measure_size=False, mutate=None):
    """The project's model from a magenta file (size measurement skipped: not needed for exactness)."""
    decoded = magenta.read_gen_json(path)
    if mutate:
        mutate(decoded)
    return magenta.to_trained_model(decoded, measure_size=measure_size)


def test_conversion_is_exact_in_the_compiled_sampler_and_the_scorer(pig_file, pig_drawing):
    _, arrays = reference_weights(pig_file)
    stroke5 = strokes.stroke3_to_stroke5(pig_drawing)[:-1]  # start row + points, (T, 5)
    expected = reference_outputs(arrays, stroke5)
    model = converted_model(pig_file)
    compiled = model.sampler.score_outputs(stroke5, [0])[0]
    assert_params_close(project_params(compiled, 20), expected, "compiled sampler")
    # and the scorer's log-likelihood is the reference's, point by point
    targets = stroke5[1:]
    ref = {k: v[:-1] for k, v in expected.items()}
    z_x = (targets[:, :1] - ref["mu_x"]) / ref["sigma_x"]
    z_y = (targets[:, 1:2] - ref["mu_y"]) / ref["sigma_y"]
    density = ref["pi"] * np.exp(-(z_x**2 + z_y**2 - 2 * ref["rho"] * z_x * z_y) / (2 * (1 - ref["rho"] ** 2))) / (
        2 * np.pi * ref["sigma_x"] * ref["sigma_y"] * np.sqrt(1 - ref["rho"] ** 2))
    reference_log_likelihood = np.mean(np.log(density.sum(1)) + np.log((ref["pen"] * targets[:, 2:]).sum(1)))
    got = sample.log_likelihood(model, pig_drawing, np.array([0]))[0]
    assert got == pytest.approx(reference_log_likelihood, rel=1e-4, abs=1e-4)


def _gates_in_keras_order_twice(decoded):
    """A converter bug: the gate blocks left in magenta's order (the reorder applied twice undoes it)."""
    for name in ("input_kernel", "recurrent_kernel", "lstm_bias"):
        setattr(decoded, name, magenta.keras_gate_order(getattr(decoded, name)))


def _no_forget_bias(decoded):
    """A converter bug: the run-time forget bias forgotten (cancelled before conversion adds it)."""
    units = decoded.hidden_size
    decoded.lstm_bias = decoded.lstm_bias.copy()
    decoded.lstm_bias[2 * units:3 * units] -= magenta.FORGET_BIAS


@pytest.mark.parametrize("mutate", [_gates_in_keras_order_twice, _no_forget_bias])
def test_a_wrong_gate_order_or_a_missing_forget_bias_is_caught(pig_file, pig_drawing, mutate):
    """The exactness check above is sensitive: each converter bug makes it fail."""
    _, arrays = reference_weights(pig_file)
    stroke5 = strokes.stroke3_to_stroke5(pig_drawing)[:-1]
    model = converted_model(pig_file, mutate=mutate)
    scored = model.sampler.score_outputs(stroke5, [0])[0]
    with pytest.raises(AssertionError):
        assert_params_close(project_params(scored, 20), reference_outputs(arrays, stroke5), "mutated")


def test_import_writes_a_model_every_command_loads(pig_file, tmp_path, capsys):
    out = tmp_path / "magenta-pig"
    assert cli.main(["models", "import", str(pig_file), str(out)]) == 0
    model = checkpoint.load_model(out)
    assert model.categories == ["pig"] and model.config.hidden_size == 512 and model.config.max_length == 168
    assert model.stats.scale_factor == pytest.approx(70.0921)
    assert 5 < model.stats.typical_extent < 30  # measured on its own samples (about 12 for the pig)
    card = (out / "MODEL_CARD.md").read_text()
    assert "Apache-2.0" in card and "Magenta" in card and "CC BY 4.0" in card
    # it draws as magenta.js's demos do, unless told otherwise: written into config.json and shown in the card
    assert model.drawing.default == MAGENTA_JS and model.drawing.chosen_by == MAGENTA_JS_NOTE
    assert json.loads((out / "config.json").read_text())["drawing"]["temperature"] == MAGENTA_JS.temperature
    assert "## Drawing settings" in card and "magenta.js" in card
    squiggle = tmp_path / "squiggle.json"
    squiggle.write_text(json.dumps([[[100, 100], [140, 160], [180, 100]], [[120, 220], [200, 220]]]))
    assert cli.main(["sample", str(out), "--n", "2", "--out", str(tmp_path / "s.svg")]) == 0
    assert cli.main(["complete", str(out), "--input", str(squiggle), "--n", "2", "--out", str(tmp_path / "c.svg")]) == 0
    assert all("<path" in (tmp_path / name).read_text() for name in ("s.svg", "c.svg"))


def test_held_out_loss_both_ways_goes_into_the_card(pig_file, shared_data, tmp_path):
    out = magenta.import_model(pig_file, tmp_path / "pig", evaluate_on=[shared_data / "quickdraw_sketchrnn_pig_2200.npz"])
    card = (out / "MODEL_CARD.md").read_text()
    result = checkpoint.load_model(out).metadata["test_loss"]
    assert result["drawings"] == 110
    for definition in ("ours", "magenta"):
        loss = result[definition]
        assert np.isfinite(loss["loss"]) and loss["loss"] == pytest.approx(loss["offset_loss"] + loss["pen_loss"])
        assert f"{loss['loss']:.4f}" in card
    # magenta divides by max_seq_len and masks end rows: its pen part differs from ours by exactly that
    assert result["magenta"]["pen_loss"] < result["ours"]["pen_loss"]


def _valid_content(path):
    return json.loads(path.read_text())


def _truncate_weight(content):
    content[2][3] = content[2][3][: len(content[2][3]) // 2]


def _set(index, key, value):
    def change(content):
        content[index][key] = value
    return change


BAD_FILES = [
    ("not json {", None, "not readable JSON"),
    (None, lambda c: c.pop(), "expected a JSON array"),
    (None, _set(1, 2, [6, 2048]), "not those of a decoder-only"),
    (None, _set(1, 0, "x"), "dims must be five shapes"),
    (None, _truncate_weight, "truncated or damaged"),
    (None, _set(2, 0, "@@@not base64"), "not valid base64"),
    (None, _set(0, "scale_factor", float("nan")), "scale_factor must be a positive finite"),
    (None, _set(0, "max_seq_len", -3), "max_seq_len must be"),
    (None, _set(0, "name", None), "info.name"),
]


@pytest.mark.parametrize("text, change, message", BAD_FILES)
def test_a_bad_model_file_gets_a_clear_error_and_writes_nothing(pig_file, tmp_path, capsys, text, change, message):
    bad = tmp_path / "bad.gen.json"
    if text is not None:
        bad.write_text(text)
    else:
        content = _valid_content(pig_file)
        change(content)
        bad.write_text(json.dumps(content))
    out = tmp_path / "out"
    assert cli.main(["models", "import", str(bad), str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["bad.gen.json"]


def test_import_refuses_to_overwrite_a_folder_that_is_not_a_model(pig_file, tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert cli.main(["models", "import", str(pig_file), str(tmp_path / "mine")]) == 2
    assert "not a model directory" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_download_fetches_once_imports_and_lists(shared_data, tmp_path, capsys, monkeypatch, server):
    face_file = shared_data / "magenta" / "face.gen.json"  # a model that is not bundled
    server.routes["/models/face.gen.json"] = (face_file.read_bytes(), "ok")
    monkeypatch.setenv("SKETCHRNN_MODELS_URL", server.url + "/models")
    cache = tmp_path / "cache"
    assert cli.main(["models", "download", "face", "--cache-dir", str(cache)]) == 0
    assert (cache / "magenta" / "face.gen.json").read_bytes() == face_file.read_bytes()
    assert checkpoint.load_model(cache / "imported" / "magenta-face").categories == ["face"]
    requests = len(server.requests)
    assert cli.main(["models", "download", "face", "--cache-dir", str(cache)]) == 0
    assert len(server.requests) == requests  # a cache hit makes no request
    capsys.readouterr()
    assert cli.main(["models", "list", "--cache-dir", str(cache)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert any(line.startswith("imported") and "magenta-face" in line and "face" in line for line in listed)
    assert any(line.startswith("bundled") and "quickdraw6" in line for line in listed)


def test_a_cached_file_not_yet_imported_is_listed_then_imported_for_use(shared_data, tmp_path, capsys):
    cache = tmp_path / "cache"  # crab: a magenta model that is not bundled (a bundled one is listed as bundled)
    (cache / "magenta").mkdir(parents=True)
    (cache / "magenta" / "crab.gen.json").write_bytes((shared_data / "magenta" / "crab.gen.json").read_bytes())
    (cache / "magenta" / "broken.gen.json").write_text("[1, 2")
    assert cli.main(["models", "list", "--cache-dir", str(cache)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert any(line.startswith("cached") and "crab" in line and "not imported" in line for line in listed)
    skipped = []
    directories = magenta.usable_model_dirs(cache, log=skipped.append)
    assert cache / "imported" / "magenta-crab" in directories and len(skipped) == 1 and "broken" in skipped[0]
    assert checkpoint.load_model(cache / "imported" / "magenta-crab").categories == ["crab"]


def test_download_offline_names_the_url_and_where_to_put_the_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SKETCHRNN_MODELS_URL", "http://127.0.0.1:9/models")  # nothing listens on port 9
    assert cli.main(["models", "download", "cat", "--cache-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "http://127.0.0.1:9/models/cat.gen.json" in error
    assert str(tmp_path / "magenta" / "cat.gen.json") in error
    assert not (tmp_path / "magenta" / "cat.gen.json").exists()
