"""`sketchrnn models export-js`: magenta's .gen.json written exactly, checked by magenta.js itself, and a web page.

* Round trips: magenta's published files, imported and exported again, come back byte for byte; a model trained here,
  exported and imported again, predicts what it predicted, within the int16 rounding (tolerance stated in
  ``tests/magenta_js.py``), and the tolerance catches exporter errors.
* The real runtime: ``@magenta/sketch`` (pinned in ``sketchrnn.web``, installed with npm into the download cache once)
  steps along a held-out drawing in Node and must predict what the project's model predicts. Skips when node or npm is
  missing, unless SKETCHRNN_REQUIRE_NODE=1 (CI), where it fails.
* Refusals: what magenta.js cannot run is refused with a clear message and nothing is written.
* The page: a browser (marker ``browser``) opens an exported page from a local server and sees the model draw.
"""

from __future__ import annotations

import copy
import functools
import http.server
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from magenta_js import (
    STEP,
    assert_float32_close,
    assert_within_rounding,
    held_out_rows,
    node_missing_reason,
    reference_outputs,
    reference_weights,
    run_in_node,
    scored_params,
)
from sketchrnn import checkpoint, cli, magenta, web
from sketchrnn.data import DownloadError
from sketchrnn.model import ModelConfig, TrainedModel, build_network
from sketchrnn.strokes import DataStats

BUNDLED = Path(__file__).resolve().parent.parent / "data" / "models"
HELD_OUT_POINTS = 60  # the held-out drawings stepped along have at most this many points (Node: ~10-20 ms a step)
# Every bundled decoder: ours (one category each here; benchmarks/export_js_check.py runs every category) and magenta's
NODE_CASES = {"quickdraw6": "pig", "spg20": "alarm clock", "magenta-pig": None, "magenta-cat": None,
              "magenta-alarm_clock": None}


@functools.cache
def bundled(name: str):
    return checkpoint.load_model(BUNDLED / name)


@pytest.fixture(scope="module")
def as_trained(shared_data):
    """``(name, category) -> (model, category, rows, params)``: a bundled model, a held-out drawing of the category
    as normalised stroke-5 rows, and what the project's scorer predicts along it (computed once per module)."""

    @functools.cache
    def params(name: str, category: str | None = None):
        model = bundled(name)
        category = category or model.categories[0]
        rows = held_out_rows(model, category, shared_data, HELD_OUT_POINTS)
        return model, category, rows, scored_params(model, rows, model.category_id(category))

    return params


def reimported(path):
    """A written .gen.json imported as the project's model (as `models import`, its size not measured: not needed)."""
    return magenta.to_trained_model(magenta.read_gen_json(path), measure_size=False)


def file_params(path, rows):
    """What the .gen.json at ``path`` predicts along ``rows``, by the NumPy reference of magenta's decoder."""
    return reference_outputs(reference_weights(path)[1], rows)


def export(arguments) -> int:
    """``sketchrnn models export-js ARGUMENTS``: the exit status."""
    return cli.main(["models", "export-js", *map(str, arguments)])


# ----------------------------------------------------------------------------------------------
# Round trips


def test_magenta_files_come_back_byte_for_byte(shared_data, tmp_path):
    """import -> export-js gives magenta's published file again: the same info, dims and int16 weights."""
    for name in ("pig", "cat", "alarm_clock"):  # the bundled imports, through the command
        out = tmp_path / f"{name}.gen.json"
        assert export([BUNDLED / f"magenta-{name}", out]) == 0
        assert out.read_bytes() == (shared_data / "magenta" / f"{name}.gen.json").read_bytes(), name
    for name in ("butterfly", "crab", "eye", "face", "radio"):  # the other shared files, imported here
        published = shared_data / "magenta" / f"{name}.gen.json"
        text = magenta.gen_json_text(magenta.from_trained_model(reimported(published)))
        assert text.encode() == published.read_bytes(), name


def test_export_then_import_predicts_what_the_model_did_within_the_int16_rounding(as_trained, tmp_path, capsys):
    model, _, rows, trained = as_trained("quickdraw6", "pig")
    out = tmp_path / "pig.gen.json"
    assert export([BUNDLED / "quickdraw6", "--category", "pig", out]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    back = reimported(out)
    assert back.categories == ["pig"] and back.config.max_length == 250
    assert back.stats.scale_factor == pytest.approx(model.stats.scale_factor, rel=1e-12)
    # every weight within half an int16 step of the original's (pig's embedding folded into the bias)
    weights = model.numpy_weights()
    kernel, bias = weights["lstm/kernel"], weights["lstm/bias"]
    expected = {"lstm/kernel": kernel[:5], "lstm/bias": bias + weights["category_embedding/embeddings"][0] @ kernel[5:],
                "lstm/recurrent_kernel": weights["lstm/recurrent_kernel"],
                "mixture_head/kernel": weights["mixture_head/kernel"], "mixture_head/bias": weights["mixture_head/bias"]}
    for key, value in back.numpy_weights().items():
        assert np.max(np.abs(value - expected[key])) <= STEP / 2 + 1e-6, key
    imported = scored_params(back, rows, 0)
    assert_within_rounding(imported, trained, model.config.hidden_size, "quickdraw6 pig exported and imported")
    assert_float32_close(file_params(out, rows), imported, "the NumPy reference of the file")


def _forget_bias_left_in(exported, model):
    exported.lstm_bias = exported.lstm_bias.copy()
    exported.lstm_bias[2 * 512:3 * 512] += magenta.FORGET_BIAS  # magenta's forget block is the third


def _another_categorys_embedding(exported, model):
    other = magenta.from_trained_model(model, "face")
    exported.input_kernel, exported.lstm_bias = other.input_kernel, other.lstm_bias


def _gates_left_in_keras_order(exported, model):
    for name in ("input_kernel", "recurrent_kernel", "lstm_bias"):
        setattr(exported, name, magenta.keras_gate_order(getattr(exported, name)))


@pytest.mark.parametrize("mistake", [_forget_bias_left_in, _another_categorys_embedding, _gates_left_in_keras_order])
def test_the_rounding_tolerance_catches_an_exporter_mistake(as_trained, tmp_path, mistake):
    model, _, rows, trained = as_trained("quickdraw6", "pig")
    exported = copy.deepcopy(magenta.from_trained_model(model, "pig"))
    mistake(exported, model)
    out = tmp_path / "wrong.gen.json"
    out.write_text(magenta.gen_json_text(exported))
    with pytest.raises(AssertionError, match="beyond the int16 rounding tolerance"):
        assert_within_rounding(file_params(out, rows), trained, 512, "a mistaken export")


# ----------------------------------------------------------------------------------------------
# Refusals: a clear message, nothing written


def tiny_model_dir(folder: Path, **config) -> Path:
    """A small decoder saved as a model directory (random weights: only its kind matters here)."""
    model_config = ModelConfig(**{"hidden_size": 8, "num_mixtures": 20, "recurrent_dropout": 0.0, **config})
    model = TrainedModel(network=build_network(model_config), config=model_config, stats=DataStats(20.0, 8.0, 50.0),
                         categories=["pig"], name=folder.name)
    return checkpoint.save_model(model, folder)


def test_a_too_large_weight_is_refused(tmp_path):
    directory = tiny_model_dir(tmp_path / "large")
    model = checkpoint.load_model(directory)
    model.network.head.bias.assign(np.full(123, 10.01, np.float32))
    with pytest.raises(ValueError, match=r"output bias has a weight of magnitude 10.01; magenta's format stores .*\+-10"):
        magenta.gen_json_text(magenta.from_trained_model(model))


@pytest.mark.parametrize("case, expected", [
    ("vae", "is a VAE: magenta.js runs decoder-only models .*export a decoder such as data/models/quickdraw6"),
    ("layer_norm", "uses a layer-normalised LSTM .*which magenta.js cannot run"),
    ("mixtures", "has 5 Gaussians; magenta.js reads exactly 20"),
    ("several", "draws 6 categories and magenta's format holds one: choose it with --category"),
    ("unknown", "unknown category 'zebra'; this model draws: pig, face"),
])
def test_what_magenta_js_cannot_run_is_refused_and_nothing_is_written(tmp_path, capsys, case, expected):
    model_dir = {
        "vae": lambda: tiny_model_dir(tmp_path / "vae", kind="vae", encoder_size=4, latent_size=2),
        "layer_norm": lambda: tiny_model_dir(tmp_path / "norm", layer_norm=True),
        "mixtures": lambda: tiny_model_dir(tmp_path / "five", num_mixtures=5),
        "several": lambda: BUNDLED / "quickdraw6",
        "unknown": lambda: BUNDLED / "quickdraw6",
    }[case]()
    out = tmp_path / "old.gen.json"
    out.write_text("an earlier export\n")
    options = ["--category", "zebra"] if case == "unknown" else []
    assert export([model_dir, *options, out]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and len(error.strip().splitlines()) == 1
    assert re.search(expected, error), error
    assert out.read_text() == "an earlier export\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".json" or p.name.startswith(".")) == ["old.gen.json"]
    if case in ("vae", "layer_norm"):  # the same refusal for a page: no folder appears
        page = tmp_path / "page"
        assert export([model_dir, *options, "--page", page]) == 2
        assert not page.exists()


def test_bad_destinations_are_refused_before_the_model_loads(tmp_path, capsys):
    (tmp_path / "folder").mkdir()
    assert export([BUNDLED / "magenta-pig", tmp_path / "folder"]) == 2
    assert "is a folder, not a regular file" in capsys.readouterr().err
    assert export([BUNDLED / "magenta-pig", tmp_path / "missing" / "pig.gen.json"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    assert export([BUNDLED / "magenta-pig", "--page", tmp_path / "notes"]) == 2
    assert "not a page written by export-js --page" in capsys.readouterr().err
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_a_page_without_npm_says_how_to_get_the_runtime_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # no npm on it
    page = tmp_path / "page"
    assert export([BUNDLED / "magenta-pig", "--page", page, "--cache-dir", tmp_path / "cache"]) == 2
    error = capsys.readouterr().err
    assert "npm (Node.js) is not installed" in error and "dist/magentasketch.js at" in error
    assert not page.exists() and not (tmp_path / "cache" / "npm" / "magenta-sketch-0.2.0").exists()


# ----------------------------------------------------------------------------------------------
# The real runtime: @magenta/sketch in Node


@pytest.fixture(scope="session")
def magenta_js_modules():
    """``node_modules`` holding the pinned @magenta/sketch (npm-installed into the download cache once).

    Skips when node or npm is missing or npm cannot install it; fails instead when SKETCHRNN_REQUIRE_NODE=1.
    """
    reason = node_missing_reason()
    if reason is None:
        try:
            return web.install_runtime(log=print)
        except DownloadError as error:
            reason = str(error)
    message = f"magenta.js cannot run here: {reason}"
    if os.environ.get("SKETCHRNN_REQUIRE_NODE") == "1":
        pytest.fail(f"{message} (and SKETCHRNN_REQUIRE_NODE=1)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def node_results(magenta_js_modules, as_trained, tmp_path_factory):
    """Each NODE_CASES model exported, and magenta.js's predictions along a held-out drawing (one Node run)."""
    folder = tmp_path_factory.mktemp("magenta-js")
    cases = {}
    for name, category in NODE_CASES.items():
        model, category, rows, trained = as_trained(name, category)
        path = folder / f"{name}.gen.json"
        path.write_text(magenta.gen_json_text(magenta.from_trained_model(model, category)))
        cases[name] = (model, category, path, rows, trained)
    results = run_in_node([(path, rows) for _, _, path, rows, _ in cases.values()], magenta_js_modules)
    return {name: (*case, result) for (name, case), result in zip(cases.items(), results)}


@pytest.mark.parametrize("name", list(NODE_CASES))
def test_magenta_js_predicts_what_the_project_predicts(node_results, name):
    """Along a real held-out drawing: to float32 precision what the exported file's weights give (NumPy reference),
    and within the int16 rounding's tolerance what the project's model as trained gives."""
    model, category, path, rows, trained, node = node_results[name]
    assert node["pi"].shape == (len(rows), 20) and node["pen"].shape == (len(rows), 3)
    assert_float32_close(node, file_params(path, rows), f"{name} {category}, as exported")
    assert_within_rounding(node, trained, model.config.hidden_size, f"{name} {category}, as trained")
    if name.startswith("magenta-"):  # its weights are int16 steps already: nothing was rounded
        assert_float32_close(node, trained, f"{name}, as imported")


# ----------------------------------------------------------------------------------------------
# The web page


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *arguments):
        pass


@pytest.fixture
def page_server(tmp_path, magenta_js_modules):
    """export-js --page of quickdraw6's pig, served from a local HTTP server: the page's URL."""
    page = tmp_path / "page"
    assert export([BUNDLED / "quickdraw6", "--category", "pig", "--page", page]) == 0
    assert sorted(p.name for p in page.iterdir()) == ["index.html", "magentasketch.js", "model.gen.json"]
    assert (page / "index.html").read_bytes() == web.PAGE_TEMPLATE.read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(page)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.browser
def test_the_page_draws_with_the_exported_model_from_local_files_only(page_server, browser_context):
    page = browser_context.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(page_server)
    page.wait_for_function("window.sketchPage && (window.sketchPage.drawings >= 1 || window.sketchPage.error)")
    state = page.evaluate("window.sketchPage")
    assert state["error"] is None and state["drawings"] == 1
    assert len(state["modelStrokes"]) >= 2 and sum(len(s) for s in state["modelStrokes"]) >= 10
    assert page.text_content("#category") == "pig"
    ink = page.evaluate("""() => { const c = document.getElementById('canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++; return n; }""")
    assert ink > 500  # dark pixels: strokes on the white canvas
    # a person starts a drawing: the model finishes it from where the pen left the canvas
    box = page.locator("#canvas").bounding_box()
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.5 * box["height"])
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + (0.3 + 0.04 * step) * box["width"], box["y"] + (0.5 - 0.02 * step) * box["height"])
    page.mouse.up()
    page.wait_for_function("window.sketchPage.drawings >= 2 || window.sketchPage.error")
    state = page.evaluate("window.sketchPage")
    assert state["error"] is None and len(state["modelStrokes"]) >= 1
    assert all(url.startswith(page_server) for url in requested), requested  # no CDN, nothing remote
    page.close()

