"""Hostile and careless model files and folders (issue 34), each written as the reproduction that failed.

- A model's config.json and a magenta ``.gen.json`` are untrusted input: every field is checked (type, range, a
  memory estimate against a limit) before anything is built, and refused with a message naming the field.
- Writers of model folders (export, ``models import``, ``models download``, train's ``best/``) replace only a folder
  this project wrote, never follow a name from inside a file out of its folder, remove the temporaries a killed
  writer left, and make folders with the modes the umask gives.
- Hypothesis throws arbitrary model configs and ``.gen.json`` files at the loaders: a model or a ValueError, nothing else.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import base64
import json
import logging
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sketchrnn import checkpoint, files, limits, magenta
from sketchrnn.model import ModelConfig, build_network
from test_sample import untrained_model

REPO = Path(__file__).resolve().parents[1]
UMASK_ZERO = 0o777


@pytest.fixture(scope="module")
def model():
    return untrained_model(("pig",), hidden_size=16)


@pytest.fixture(scope="module")
def model_dir(model, tmp_path_factory):
    return checkpoint.save_model(model, tmp_path_factory.mktemp("models") / "pig")


def edited_copy(model_dir: Path, folder: Path, edit) -> Path:
    """A copy of ``model_dir`` in ``folder`` whose config.json went through ``edit(config)``."""
    copy = folder / "edited"
    shutil.copytree(model_dir, copy)
    config = json.loads((copy / "config.json").read_text())
    edit(config)
    (copy / "config.json").write_text(json.dumps(config))
    return copy


def set_model(**values):
    return lambda config: config["model"].update(values)


def set_stats(**values):
    return lambda config: config["stats"].update(values)


def set_top(**values):
    return lambda config: config.update(values)


# ----------------------------------------------------------------------------------------------
# config.json: checked before anything is built, a message naming the field


CONFIG_CASES = [  # (id, edit, what the message says)
    ("max_length-1e9", set_model(max_length=1_000_000_000), "max_length must be from 1 to 10000, got 1000000000"),
    ("max_length-negative", set_model(max_length=-5), "max_length must be from 1 to 10000, got -5"),
    ("hidden_size-1e6", set_model(hidden_size=1_000_000), "hidden_size must be from 1 to 8192"),
    ("hidden_size-float", set_model(hidden_size=512.5), "hidden_size must be a whole number, got 512.5"),
    ("hidden_size-whole-float", set_model(hidden_size=16.0), "hidden_size must be a whole number, got 16.0"),
    ("hidden_size-string", set_model(hidden_size="512"), "hidden_size must be a whole number, got the string '512'"),
    ("hidden_size-bool", set_model(hidden_size=True), "hidden_size must be a whole number, got True"),
    ("dropout-one", set_model(recurrent_dropout=1.0), "recurrent_dropout must be from 0 to 0.99"),
    ("min_log_sigma-nan", set_model(min_log_sigma=float("nan")), "min_log_sigma must be from -100 to 5"),
    ("layer_norm-string", set_model(layer_norm="yes"), "layer_norm must be true or false"),
    ("kind-unknown", set_model(kind="gan"), "kind must be one of decoder, vae"),
    ("model-list", set_top(model=[1, 2]), "the model settings must be a JSON object"),
    ("unknown-field", set_model(dropout=0.5), "unknown model config fields ['dropout']"),
    ("categories-string", set_top(categories="pig"), "categories must be a list of names"),
    ("categories-empty", set_top(categories=[]), "categories must be a list of names"),
    ("categories-number", set_top(categories=[3]), "categories must be a list of names"),
    ("categories-control", set_top(categories=["pig\n<b>"]), "categories must be a list of names"),
    ("categories-repeated", lambda c: (c["model"].update(num_categories=2), c.update(categories=["pig", "pig"])),
     "categories must not repeat a name"),
    ("categories-count", lambda c: (c["model"].update(num_categories=3), c.update(categories=["pig", "cow"])),
     "categories names 2, but the model has num_categories 3"),
    ("typical_extent-negative", set_stats(typical_extent=-1), "stats typical_extent must be a positive finite number"),
    ("scale_factor-string", set_stats(scale_factor="20"), "stats scale_factor must be a positive finite number"),
    ("simplify_epsilon-large", set_stats(simplify_epsilon=300), "simplify_epsilon must be a number in (0, 255]"),
    ("stats-unknown", set_stats(pickle="os.system"), "stats must be an object with the fields"),
    ("step-list", set_top(step=[1]), "step must be a whole number >= 0"),
    ("name-object", set_top(name={"a": 1}), "name must be a string"),
    ("metadata-list", set_top(metadata=[1]), "metadata an object"),
    ("format_version", set_top(format_version="1"), "has format_version '1', expected 1"),
    ("weights-of-another-model", set_model(hidden_size=32),
     "weight lstm/recurrent_kernel has shape (16, 64), but config.json describes (32, 128)"),
]


@pytest.mark.parametrize(("edit", "message"), [case[1:] for case in CONFIG_CASES], ids=[case[0] for case in CONFIG_CASES])
def test_a_hostile_config_is_refused_naming_the_field(model_dir, tmp_path, monkeypatch, edit, message):
    built = []
    monkeypatch.setattr(checkpoint, "build_network", lambda config: built.append(config))
    with pytest.raises(ValueError) as raised:
        checkpoint.load_model(edited_copy(model_dir, tmp_path, edit))
    assert message in str(raised.value) and "config.json" in str(raised.value), str(raised.value)
    assert "\n" not in str(raised.value) and "\x1b" not in str(raised.value)
    assert not built, "nothing is built from a refused config"


def test_a_model_past_the_memory_limit_is_refused_before_it_is_built(model_dir, tmp_path, monkeypatch):
    """hidden_size 6000 is in range, but its 144M weights take 4.6 GB to build and load: the estimate refuses it."""
    directory = edited_copy(model_dir, tmp_path, set_model(hidden_size=6000))
    with pytest.raises(ValueError, match=r"config.json: the model would take about 4,40\d MiB, more than 1024 MiB, the limit "
                                         r"on a model's memory .*mostly for its hidden_size 6000.*SKETCHRNN_MAX_MODEL_MB="):
        checkpoint.load_model(directory)
    config = dict(json.loads((directory / "config.json").read_text())["model"], hidden_size=16, max_length=6000)
    monkeypatch.setenv("SKETCHRNN_MAX_MODEL_MB", "1")
    with pytest.raises(ValueError, match="mostly for its max_length 6000"):
        ModelConfig.from_dict(config).check_memory()
    monkeypatch.setenv("SKETCHRNN_MAX_MODEL_MB", "2")
    ModelConfig.from_dict(dict(config, max_length=60)).check_memory()  # the override is what the limit reads


def test_the_memory_estimate_counts_every_weight_and_admits_the_bundled_models():
    for config in (ModelConfig(hidden_size=8, num_mixtures=2, max_length=20),
                   ModelConfig(hidden_size=8, num_mixtures=2, num_categories=3, category_embedding_size=4, layer_norm=True),
                   ModelConfig(hidden_size=8, num_mixtures=2, num_categories=3, kind="vae", encoder_size=6, latent_size=5)):
        assert config.parameter_count() == sum(int(np.prod(w.shape)) for w in build_network(config).weights), config
    for directory in checkpoint.bundled_model_dirs():
        config = ModelConfig.from_dict(json.loads((directory / "config.json").read_text())["model"])
        assert config.memory_estimate() < limits.MODEL_MEMORY.value() / 2, directory.name


@pytest.mark.parametrize("value", ["0", "-1", "lots", "1.5"])
def test_a_bad_limit_setting_is_refused(model_dir, monkeypatch, value):
    monkeypatch.setenv("SKETCHRNN_MAX_MODEL_MB", value)
    with pytest.raises(ValueError, match="SKETCHRNN_MAX_MODEL_MB must be a positive whole number of MiB"):
        checkpoint.load_model(model_dir)


# ----------------------------------------------------------------------------------------------
# magenta .gen.json: the same checks, and names from the file never lead out of imported/


def gen_json(path: Path, name: str = "pig", hidden: int = 8, mixtures: int = 2, max_seq_len: int = 30) -> Path:
    """A small, valid magenta model file (random int16 weights) with the given info.name."""
    outputs = 6 * mixtures + 3
    shapes = [[hidden, outputs], [outputs], [5, 4 * hidden], [hidden, 4 * hidden], [4 * hidden]]
    rng = np.random.default_rng(0)
    arrays = [rng.integers(-3000, 3000, size=shape).astype("<i2") for shape in shapes]
    arrays[1][2] = -32000  # the output bias of "drawing ended": its drawings have strokes, and an extent
    weights = [base64.b64encode(array.tobytes()).decode() for array in arrays]
    info = {"name": name, "max_seq_len": max_seq_len, "scale_factor": 50.0, "mode": 2, "version": 6}
    path.write_text(json.dumps([info, shapes, weights]))
    return path


@pytest.mark.parametrize("dim", ["1e999", "512.7", '"512"', "true", "-8", "0", str(10**30), "8.0"])
def test_a_gen_json_with_bad_dims_is_refused(tmp_path, dim):
    path = gen_json(tmp_path / "pig.gen.json")
    content = path.read_text()
    path.write_text(content.replace("[[8, 15]", f"[[{dim}, 15]", 1))
    with pytest.raises(ValueError, match=r"dims must be five shapes of whole numbers from 1 to 65536"):
        magenta.read_gen_json(path)


def test_a_gen_json_past_the_model_limits_is_refused_before_it_is_built(tmp_path, monkeypatch):
    decoded = magenta.read_gen_json(gen_json(tmp_path / "pig.gen.json", hidden=8))
    monkeypatch.setenv("SKETCHRNN_MAX_MODEL_MB", "1")
    decoded.max_seq_len = 10_000
    with pytest.raises(ValueError, match="pig: the model would take about .* SKETCHRNN_MAX_MODEL_MB"):
        magenta.to_trained_model(decoded, measure_size=False)


@pytest.mark.parametrize("name", ["", "x" * 101, "pig\nface", 3, None])
def test_a_gen_json_name_that_is_not_a_category_is_refused(tmp_path, name):
    path = gen_json(tmp_path / "pig.gen.json")
    content = json.loads(path.read_text())
    content[0]["name"] = name
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match="info.name must be the category name"):
        magenta.read_gen_json(path)


@pytest.mark.parametrize(("name", "folder"), [
    ("x/../../models/quickdraw6", "magenta-x_models_quickdraw6"),
    ("<svg onload=alert(1)>", "magenta-_svg_onload_alert_1"),  # made nested folders of that name
])
def test_models_import_never_follows_the_name_in_the_file(tmp_path, monkeypatch, name, folder):
    """Issue 34's first reproduction: info.name `x/../../models/quickdraw6`, imported without OUT_DIR, replaced
    data/models/quickdraw6 and deleted the NOTES.txt in it. Now the name is a safe folder name under imported/."""
    monkeypatch.setenv("SKETCHRNN_DATA_DIR", str(tmp_path / "data"))
    sibling = tmp_path / "data" / "models" / "quickdraw6"
    sibling.mkdir(parents=True)
    (sibling / "NOTES.txt").write_text("mine")
    destination = magenta.import_model(gen_json(tmp_path / "evil.gen.json", name=name))
    assert destination == tmp_path / "data" / "imported" / folder
    assert sorted(os.listdir(tmp_path / "data" / "imported")) == [folder]
    assert sorted(os.listdir(sibling)) == ["NOTES.txt"] and (sibling / "NOTES.txt").read_text() == "mine"
    loaded = checkpoint.load_model(destination)
    assert loaded.categories == [" ".join(name.replace("_", " ").split())]  # the category keeps the name as written


def test_safe_name_keeps_a_fixed_character_set_and_length():
    assert files.safe_name("x/../../models/quickdraw6") == "x_models_quickdraw6"
    assert files.safe_name("..") == files.safe_name("") == files.safe_name("///") == "model"
    assert files.safe_name("-rf /") == "rf"
    assert files.safe_name("magenta-" + "../" * 20 + "etc") == "magenta-_etc"
    assert files.safe_name("magenta-alarm_clock") == "magenta-alarm_clock"  # published names are kept as they were
    assert len(files.safe_name("a" * 500)) == 64
    assert files.safe_name("Ünïcode ☃ name") == "n_code_name"


# ----------------------------------------------------------------------------------------------
# Which folders a model writer may replace


def make_folder_case(folder: Path, case: str, model_dir: Path) -> None:
    """A folder at ``folder`` for each case of :func:`test_model_writers_replace_only_folders_this_project_wrote`."""
    if case == "bundled-copy":  # a folder written before the marker existed: exactly the project's files
        shutil.copytree(checkpoint.bundled_model_dirs()[0], folder)
        return
    if case in ("ours", "ours-with-notes"):
        shutil.copytree(model_dir, folder)
        if case == "ours-with-notes":
            (folder / "notes.txt").write_text("mine")
        return
    folder.mkdir()
    if case == "config-and-notes":  # issue 34's second reproduction
        (folder / "config.json").write_text("{}")
        (folder / "notes.txt").write_text("mine")
        (folder / "sub").mkdir()
    elif case == "config-symlink":
        (folder.parent / "elsewhere.json").write_text("{}")
        os.symlink(folder.parent / "elsewhere.json", folder / "config.json")
        (folder / "weights.npz").write_bytes((model_dir / "weights.npz").read_bytes())
    elif case == "config-only":
        (folder / "config.json").write_text("{}")
    elif case == "model-in-subfolder":
        shutil.copytree(model_dir, folder / "inner")


@pytest.mark.parametrize(("case", "replaced"), [
    ("ours", True), ("bundled-copy", True),
    ("ours-with-notes", False), ("config-and-notes", False), ("config-symlink", False), ("config-only", False),
    ("model-in-subfolder", False),
])
def test_model_writers_replace_only_folders_this_project_wrote(model, model_dir, tmp_path, case, replaced):
    target = tmp_path / "target"
    make_folder_case(target, case, model_dir)
    before = sorted(os.listdir(target))
    if replaced:
        checkpoint.save_model(model, target)
        assert sorted(os.listdir(target)) == [".sketchrnn-model", "config.json", "weights.npz"]
    else:
        with pytest.raises(ValueError, match="not a model directory this project wrote: refusing to replace it"):
            checkpoint.save_model(model, target)
        assert sorted(os.listdir(target)) == before
    assert sorted(os.listdir(tmp_path)) == sorted({"target", *(["elsewhere.json"] if case == "config-symlink" else [])})


# ----------------------------------------------------------------------------------------------
# Temporaries a killed writer left, and folder modes

KILLED_WRITER = """
import sys, time
from sketchrnn import files
def write(folder):
    (folder / "config.json").write_text("{}")
    print("writing", flush=True)
    time.sleep(60)
files.atomic_directory(sys.argv[1], write)
"""


def test_a_killed_writers_temporary_is_removed_by_the_next_writer(model, tmp_path, monkeypatch):
    """A SIGKILL late in `export` left an empty `.DEST.tmp-XXXX` beside DEST forever; now the next writer of DEST
    removes it, once no live writer holds it."""
    destination = tmp_path / "exported"
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(destination)], stdout=subprocess.PIPE, text=True,
                              cwd=REPO)
    assert writer.stdout.readline().strip() == "writing"
    (left,) = [name for name in os.listdir(tmp_path) if name.startswith(".exported.tmp-")]
    monkeypatch.setattr(files, "STALE_AFTER_S", 0.0)
    assert files.clean_stale_temporaries(tmp_path, "exported") == [], "a live writer's temporary is kept"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert os.listdir(tmp_path / left) == ["config.json"]
    checkpoint.save_model(model, destination)
    assert sorted(os.listdir(tmp_path)) == ["exported"]


def test_stale_temporaries_are_recognised_by_name_owner_lock_and_age(tmp_path):
    old = time.time() - 3600
    for name in (".pig.tmp-0123abcd", ".pig.old-0123abcd", ".pig.npz.ab_de12f.part", ".pig.tmp-fresh123",
                 ".cow.tmp-0123abcd", ".pig.tmp-toolongname", "pig.tmp-0123abcd"):
        (tmp_path / name).mkdir()
        if name != ".pig.tmp-fresh123":
            os.utime(tmp_path / name, (old, old))
    os.symlink(tmp_path / ".cow.tmp-0123abcd", tmp_path / ".pig.tmp-1111aaaa")  # a link is never followed or removed
    (tmp_path / ".pig.old-0123abcd" / "config.json").write_text("{}")
    removed = files.clean_stale_temporaries(tmp_path, "pig")
    assert sorted(removed) == [".pig.old-0123abcd", ".pig.tmp-0123abcd"]
    assert os.listdir(tmp_path / "pig") == ["config.json"], "a retired folder whose name is free is put back"
    assert sorted(os.listdir(tmp_path)) == sorted([".pig.npz.ab_de12f.part", ".pig.tmp-fresh123", ".cow.tmp-0123abcd",
                                                   ".pig.tmp-toolongname", "pig.tmp-0123abcd", ".pig.tmp-1111aaaa", "pig"])
    assert files.clean_stale_temporaries(tmp_path, "pig.npz") == [".pig.npz.ab_de12f.part"]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_folders_get_the_modes_the_umask_gives(model, tmp_path, umask):
    """Exported and imported model folders were 0700 (mkdtemp) while run folders were 0755."""
    previous = os.umask(umask)
    try:
        run = files.make_folder(tmp_path / "run")
        exported = checkpoint.save_model(model, tmp_path / "exported")
        text = files.atomic_write_text(tmp_path / "notes.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(exported).st_mode) == stat.S_IMODE(os.stat(run).st_mode) == UMASK_ZERO & ~umask
    assert stat.S_IMODE(os.stat(exported / "config.json").st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(os.stat(text).st_mode) == 0o666 & ~umask


# ----------------------------------------------------------------------------------------------
# The page: one log line per refused request, names from files shown as text


@pytest.fixture(scope="module")
def hostile_catalog():
    from sketchrnn import demo

    return demo.build_catalog([untrained_model(("<img src=x onerror=alert(1)> *pig* [a](b)",), hidden_size=16)])


def test_a_refused_request_logs_one_line_and_no_traceback(hostile_catalog, caplog):
    import gradio as gr

    from sketchrnn import demo

    label = next(iter(hostile_catalog))
    with caplog.at_level(logging.INFO, logger="sketchrnn.demo"), pytest.raises(gr.Error) as raised:
        demo.draw_something(label, 0.4, 99, 0, False, catalog=hostile_catalog, output_root=Path("/nonexistent"))
    assert raised.value.print_exception is False, "Gradio prints a full traceback for an error unless told not to"
    assert [record.getMessage() for record in caplog.records] == [f"refused a request: {raised.value.message}"]
    assert caplog.records[0].exc_info is None
    with pytest.raises(gr.Error) as raised:
        demo.checked_choice(hostile_catalog, "unicorn")
    assert "&lt;img src=x onerror=alert(1)&gt;" in raised.value.message and "<img" not in raised.value.message


def test_the_status_line_shows_an_imported_name_as_text(hostile_catalog, tmp_path):
    from sketchrnn import demo

    label = next(iter(hostile_catalog))
    _, _, status = demo.draw_something(label, 0.4, 1, 0, False, catalog=hostile_catalog, output_root=tmp_path)
    assert r"1 new &lt;img src=x onerror=alert(1)&gt; \*pig\* \[a\](b) drawings in" in status


# ----------------------------------------------------------------------------------------------
# Property-based fuzzing: any config.json or .gen.json gives a model or a ValueError

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.floats()
           | st.sampled_from([10**400, -(10**400)]) | st.text(max_size=6))
JSON = st.recursive(SCALARS, lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children,
                                                                                              max_size=3), max_leaves=8)
SMALL = {"hidden_size": st.integers(1, 12), "num_mixtures": st.integers(1, 3), "num_categories": st.integers(1, 3),
         "category_embedding_size": st.integers(1, 4), "recurrent_dropout": st.floats(0, 0.5),
         "max_length": st.integers(1, 40), "min_log_sigma": st.floats(-20, 0), "layer_norm": st.booleans(),
         "kind": st.sampled_from(["decoder", "vae"]), "encoder_size": st.integers(1, 6), "latent_size": st.integers(1, 4)}
FIELD_VALUES = {name: values | JSON | st.sampled_from([10**9, -5, 512.5, 1e999, float("nan"), "512"])
                for name, values in SMALL.items()}
CONFIGS = st.fixed_dictionaries({}, optional=FIELD_VALUES) | JSON


@FUZZ
@given(values=CONFIGS)
def test_fuzzed_model_settings_give_a_config_or_a_value_error(values):
    try:
        config = ModelConfig.from_dict(values)
        config.check_memory()
    except ValueError as error:
        assert str(error) and "\n" not in str(error)
        event(f"refused: {str(error).split(' must ')[0][:40]}")
        return
    event("accepted")
    assert config.memory_estimate() <= limits.MODEL_MEMORY.value()
    config.validate()


@FUZZ
@given(values=st.fixed_dictionaries({}, optional=SMALL), categories=st.lists(st.text(max_size=5), min_size=1, max_size=3)
       | JSON, stats=st.fixed_dictionaries({"scale_factor": st.floats(), "typical_extent": st.floats(-1, 20),
                                    "median_length": st.floats(0, 100)}) | JSON)
def test_fuzzed_config_json_gives_a_model_or_a_value_error(model_dir, tmp_path, values, categories, stats):
    """Whatever config.json says beside real weights: a loaded model (whose weights then fit), or a ValueError."""
    folder = tmp_path / "fuzzed"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["model"].update(values)
    config.update(categories=categories, stats=stats)
    (folder / "config.json").write_text(json.dumps(config))
    try:
        loaded = checkpoint.load_model(folder)
    except ValueError as error:
        assert str(error)
        event("refused")
        return
    event("loaded")
    assert loaded.config.hidden_size == 16 and loaded.categories == categories


GEN_EDITS = st.lists(st.tuples(st.sampled_from(["info", "dims", "weights", "whole"]), JSON, st.integers(0, 10),
                               st.sampled_from(["name", "max_seq_len", "scale_factor"]) | st.text(max_size=4)), max_size=3)


@FUZZ
@given(edits=GEN_EDITS)
def test_fuzzed_gen_json_gives_a_model_or_a_value_error(tmp_path, edits):
    """A small valid .gen.json with its info fields, dims entries or weight strings replaced by any JSON value."""
    path = gen_json(tmp_path / "fuzz.gen.json")
    content = json.loads(path.read_text())
    for where, value, index, key in edits:
        if where == "whole":  # the whole file replaced: nothing left to edit
            content = value
            break
        if where == "info":
            content[0][key] = value
        elif where == "dims":
            shape = content[1][index % 5]
            shape[index % len(shape)] = value
        else:
            content[2][index % 5] = value
    path.write_text(json.dumps(content))
    try:
        model = magenta.to_trained_model(magenta.read_gen_json(path), measure_size=False)
    except ValueError as error:
        assert str(error)
        event("refused")
        return
    event("converted")
    assert model.config.hidden_size == 8 and model.config.max_length == content[0]["max_seq_len"]
