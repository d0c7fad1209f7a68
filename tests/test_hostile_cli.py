"""Careless and hostile input to the command line (issue 12): a clear `error: ...`, exit status 2, no traceback,
no hang, and no file replaced or deleted that is not ours."""

import faulthandler
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sketchrnn import checkpoint, cli, train
from sketchrnn.settings import TrainSettings
from test_sample import untrained_model

SQUIGGLE = [[[10, 10], [60, 80], [120, 30]], [[20, 100], [90, 110]]]


@pytest.fixture(autouse=True)
def no_hang():
    """End the test process with a traceback after 120 s: a regression that opens a FIFO would otherwise block forever."""
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("model") / "pig"
    checkpoint.save_model(untrained_model(("pig",)), directory)
    return directory


@pytest.fixture(scope="module")
def trained_run(shared_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "pig"
    settings = TrainSettings(data=[str(shared_data / "quickdraw_sketchrnn_pig_2200.npz")], out=str(run), hidden_size=16,
                             num_mixtures=3, batch_size=50, steps=2, validate_every=2, checkpoint_every=2)
    train.train(settings, log=lambda message: None)
    return run


def make_device(folder):
    """A character device like /dev/null made in ``folder``, or None (never the real /dev: a bug must not break the machine)."""
    try:
        os.mknod(folder / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        return None
    return folder / "null"


def small_ndjson(shared_data, folder, count):
    """The first ``count`` records of a real simplified ndjson file, in ``folder`` (a valid, small data file)."""
    source = shared_data / "quickdraw_simplified_344cats_25each.ndjson"
    with open(source) as handle:
        lines = [next(handle) for _ in range(count)]
    (folder / "small.ndjson").write_text("".join(lines))
    return folder / "small.ndjson"


@pytest.fixture
def places(tmp_path, model_dir, trained_run, shared_data):
    """Names for the argv templates: a model, a run, real data, and hostile things made in tmp_path."""
    (tmp_path / "drawing.json").write_text(json.dumps(SQUIGGLE))
    os.mkfifo(tmp_path / "pipe")
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    (tmp_path / "real.svg").write_text("mine")
    os.symlink(tmp_path / "real.svg", tmp_path / "link.svg")
    (tmp_path / "notes" / "sub").mkdir(parents=True)
    (tmp_path / "notes" / "notes.txt").write_text("mine")
    (tmp_path / "fake" / "sub").mkdir(parents=True)  # issue 34: any folder with a config.json counted as a model
    (tmp_path / "fake" / "config.json").write_text("{}")
    (tmp_path / "fake" / "notes.txt").write_text("mine")
    with open(tmp_path / "huge.json", "wb") as handle:
        handle.truncate(9 * 2**20)  # sparse: 9 MB of zero bytes
    return {"tmp": tmp_path, "model": model_dir, "run": trained_run, "device": make_device(tmp_path),
            "pig": shared_data / "quickdraw_sketchrnn_pig_2200.npz", "small": small_ndjson(shared_data, tmp_path, 30)}


COMPLETE = ["complete", "{model}", "--out", "{tmp}/out.svg", "--input"]
SAMPLE = ["sample", "{model}", "--n", "1"]
TRAIN = ["train", "--data", "{pig}", "--out", "{tmp}/run", "--hidden-size", "8", "--num-mixtures", "2", "--steps", "2"]
ISOLATED = "isolated:"  # a case that would hang or fill memory if it regressed: run in a limited subprocess
CASES = [  # (argv template, content of {tmp}/input.json or None, expected message)
    pytest.param([*COMPLETE, "{tmp}/drawing.json", "--canvas-size", "nan", "nan"], None, "finite numbers > 0", id="canvas-nan"),
    pytest.param([*COMPLETE, "{tmp}/drawing.json", "--canvas-size", "0", "0"], None, "finite numbers > 0", id="canvas-zero"),
    pytest.param([*COMPLETE, "{tmp}/drawing.json", "--canvas-size", "-1", "-1"], None, "finite numbers > 0", id="canvas-negative"),
    pytest.param([*COMPLETE, "{tmp}/drawing.json", "--canvas-size", "inf", "9"], None, "finite numbers > 0", id="canvas-inf"),
    pytest.param([*COMPLETE, "{tmp}/drawing.json", "--canvas-size", "wide", "9"], None, "is not a number", id="canvas-word"),
    pytest.param([*COMPLETE, "{tmp}/input.json"], '"pig"', "holds a string", id="input-string"),
    pytest.param([*COMPLETE, "{tmp}/input.json"], "42", "holds a number", id="input-number"),
    pytest.param([*COMPLETE, "{tmp}/input.json"], "null", "holds null", id="input-null"),
    pytest.param([*COMPLETE, "{tmp}/input.json"], "[[[0, 0], [1" + "0" * 400 + ", 5]]]", "too large for a coordinate",
                 id="input-10**400"),
    pytest.param([*COMPLETE, "{tmp}/input.json"], "[[[0, 0], [1e400, 5]]]", "too large for a coordinate", id="input-1e400"),
    pytest.param([*COMPLETE, "{tmp}/input.json"], "[[[0, 0], [Infinity, 5]]]", "Infinity is not a coordinate",
                 id="input-infinity"),
    pytest.param([*COMPLETE, "{tmp}/input.json"], "[" * 100_000 + "]" * 100_000, "nested too deeply", id="input-deep"),
    pytest.param([*COMPLETE, "{tmp}/input.json"], "\udcff", "is not text", id="input-binary"),
    pytest.param([*COMPLETE, ISOLATED + "/dev/zero"], None, "/dev/zero is a character device, not a regular file",
                 id="input-dev-zero"),
    pytest.param([*COMPLETE, ISOLATED + "{tmp}/pipe"], None, "is a FIFO (named pipe), not a regular file", id="input-fifo"),
    pytest.param([*COMPLETE, "{tmp}/loop"], None, "Too many levels of symbolic links", id="input-symlink-loop"),
    pytest.param([*COMPLETE, "{tmp}/missing.json"], None, "missing.json does not exist", id="input-missing"),
    pytest.param([*COMPLETE, "{tmp}"], None, "is a folder, not a regular file", id="input-folder"),
    pytest.param([*COMPLETE, "{tmp}/huge.json"], None, "larger than 8,388,608 bytes", id="input-huge"),
    pytest.param([*SAMPLE, "--out", "{tmp}"], None, "is a folder; give a file name", id="out-folder"),
    pytest.param([*SAMPLE, "--out", "{tmp}/real.svg/x.svg"], None, "is an existing file", id="out-under-a-file"),
    pytest.param([*SAMPLE, "--out", "{tmp}/pipe"], None, "is a FIFO (named pipe), not a regular file", id="out-fifo"),
    pytest.param([*SAMPLE, "--out", "{tmp}/link.svg"], None, "is a symbolic link, not a regular file", id="out-symlink"),
    pytest.param([*SAMPLE, "--out", "{device}"], None, "is a character device, not a regular file", id="out-device"),
    pytest.param([*SAMPLE, "--out-dir", "{tmp}/real.svg"], None, "is a file, not a folder", id="out-dir-file"),
    pytest.param(["render", "{pig}", "--out", "{tmp}/pipe"], None, "is a FIFO", id="render-out-fifo"),
    pytest.param([*TRAIN, "--batch-size", "5000"], None, "has 1980 drawings, fewer than one batch of 5000: pass --batch-size 1980",
                 id="train-batch-above-data"),
    pytest.param(["train", "--data", "{small}", "--out", "{tmp}/run", "--steps", "2"], None,
                 "has 26 drawings, fewer than one batch of 100: pass --batch-size 26 or less", id="train-small-valid-file"),
    pytest.param([*TRAIN, "--validate-every", "0"], None, "must be at least 1", id="train-validate-every-0"),
    pytest.param([*TRAIN, "--max-minutes", "nan"], None, "--max-minutes must be a finite number", id="train-minutes-nan"),
    pytest.param([*TRAIN, "--clip", "-1"], None, "--clip must be a finite number > 0", id="train-clip-negative"),
    pytest.param([*TRAIN[:3], "--out", "{tmp}/real.svg", *TRAIN[5:]], None, "is a regular file, not a folder", id="train-out-file"),
    pytest.param([*TRAIN[:3], "--out", "{tmp}/notes", *TRAIN[5:]], None, "not a training run", id="train-out-other-files"),
    pytest.param(["export", "{run}", "{tmp}/notes", "--no-test"], None, "with other files in it (notes.txt, sub), not a model",
                 id="export-over-other-files"),
    pytest.param(["export", "{run}", "{tmp}/fake", "--no-test"], None,
                 "is a folder with other files in it (config.json, notes.txt, sub), not a model directory this project "
                 "wrote: refusing to replace it", id="export-over-a-config-json-and-notes"),
    pytest.param(["export", "{run}", "{tmp}/real.svg", "--no-test"], None, "is a regular file, not a folder", id="export-over-file"),
    pytest.param(["export", "{run}", "{tmp}/link.svg", "--no-test"], None, "is a symbolic link, not a folder", id="export-over-link"),
]


LIMITED_MAIN = (  # sketchrnn's main with at most 1 GB of memory (reading /dev/zero fails fast instead of swapping)
    "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30)); "
    "from sketchrnn.cli import main; sys.exit(main(sys.argv[1:]))"
)


def run_main(argv, capsys) -> tuple[int, str]:
    """Exit status and stderr of ``cli.main(argv)``; isolated arguments run in a subprocess with a time and memory limit."""
    if not any(part.startswith(ISOLATED) for part in argv):
        return cli.main(argv), capsys.readouterr().err
    argv = [part.removeprefix(ISOLATED) for part in argv]
    completed = subprocess.run([sys.executable, "-c", LIMITED_MAIN, *argv], capture_output=True, text=True, timeout=60,
                               cwd=Path(__file__).resolve().parents[1])
    return completed.returncode, completed.stderr


@pytest.mark.parametrize("argv, content, message", CASES)
def test_bad_input_is_explained_without_a_traceback(places, argv, content, message, capsys):
    if "{device}" in argv and places["device"] is None:
        pytest.skip("making a device node needs CAP_MKNOD")
    if content is not None:
        (places["tmp"] / "input.json").write_bytes(content.encode("utf-8", "surrogateescape"))
    before = sorted(os.listdir(places["tmp"]))
    status, error = run_main([part.format(**places) for part in argv], capsys)
    assert status == 2, error
    assert "error: " in error and message in error and "Traceback" not in error, error
    assert sorted(os.listdir(places["tmp"])) == before, "a refused command leaves nothing behind"
    assert (places["tmp"] / "real.svg").read_text() == "mine" and os.path.islink(places["tmp"] / "link.svg")
    assert stat.S_ISFIFO(os.lstat(places["tmp"] / "pipe").st_mode)
    assert sorted(os.listdir(places["tmp"] / "notes")) == ["notes.txt", "sub"]
    assert sorted(os.listdir(places["tmp"] / "fake")) == ["config.json", "notes.txt", "sub"]


def test_out_in_a_missing_folder_creates_the_folder(model_dir, tmp_path):
    out = tmp_path / "new" / "deeper" / "grid.svg"
    assert cli.main(["sample", str(model_dir), "--n", "2", "--out", str(out), "--out-dir", str(tmp_path / "each")]) == 0
    assert out.is_file() and len(list((tmp_path / "each").iterdir())) == 2


def test_export_keeps_other_files_and_replaces_only_a_model(trained_run, tmp_path, capsys):
    destination = tmp_path / "v"
    destination.mkdir()  # an empty folder may become the model
    assert cli.main(["export", str(trained_run), str(destination), "--no-test"]) == 0
    exported = [".sketchrnn-model", "MODEL_CARD.md", "config.json", "weights.npz"]
    assert sorted(p.name for p in destination.iterdir()) == exported
    assert cli.main(["export", str(trained_run), str(destination), "--no-test"]) == 0  # a model it wrote is replaced
    (destination / "notes.txt").write_text("a person's notes, put in the model folder")
    assert cli.main(["export", str(trained_run), str(destination), "--no-test"]) == 2  # never deleted, marker or not
    assert "(MODEL_CARD.md, config.json, notes.txt, weights.npz, ...), not a model directory" in capsys.readouterr().err
    (destination / "notes.txt").unlink()
    (destination / ".sketchrnn-model").unlink()  # as exported before the marker: exactly the project's files
    assert cli.main(["export", str(trained_run), str(destination), "--no-test"]) == 0
    assert sorted(p.name for p in destination.iterdir()) == exported
    assert checkpoint.load_model(destination).step == 2


@pytest.mark.parametrize("make_target", ["fifo", "symlink", "device", "file-as-folder"])
def test_atomic_writers_never_rename_over_what_is_not_theirs(tmp_path, make_target):
    (tmp_path / "real").write_text("mine")
    target = {"fifo": lambda: os.mkfifo(tmp_path / "target"), "device": lambda: make_device(tmp_path),
              "symlink": lambda: os.symlink(tmp_path / "real", tmp_path / "target"),
              "file-as-folder": lambda: (tmp_path / "target").write_text("mine")}[make_target]()
    target = tmp_path / ("null" if make_target == "device" else "target")
    if not os.path.lexists(target):
        pytest.skip("making a device node needs CAP_MKNOD")
    mode = os.lstat(target).st_mode
    writers = [lambda: checkpoint.save_model(untrained_model(), target)]
    if make_target != "file-as-folder":
        writers.append(lambda: checkpoint.atomic_write_text(target, "text"))
    for write in writers:
        with pytest.raises(ValueError, match="refusing to replace it"):
            write()
    assert os.lstat(target).st_mode == mode and (tmp_path / "real").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == sorted({"real", target.name}), "no temporary left behind"


def test_a_failed_first_train_does_not_block_the_corrected_command(shared_data, tmp_path, capsys):
    run = tmp_path / "run"
    options = ["--out", str(run), "--hidden-size", "8", "--num-mixtures", "2", "--batch-size", "50", "--steps", "1"]
    assert cli.main(["train", "--data", str(tmp_path / "pgi.npz"), *options]) == 2  # a typo
    assert "pgi.npz" in capsys.readouterr().err
    assert not (run / "train.json").exists()
    # a run folder with settings but no checkpoint (e.g. killed while loading) is not a run to protect either
    run.mkdir(exist_ok=True)
    (run / "train.json").write_text(json.dumps({"data": ["other.npz"], "out": str(run), "hidden_size": 64}))
    assert cli.main(["train", "--data", str(shared_data / "quickdraw_sketchrnn_pig_2200.npz"), *options]) == 0
    assert train.read_settings(run).hidden_size == 8 and checkpoint.latest_checkpoint(run) is not None


def test_a_run_folder_that_becomes_unwritable_stops_with_a_message(shared_data, tmp_path, monkeypatch, capsys):
    """As root a chmod cannot make a folder read-only, so the refusal the kernel gives is simulated from step 4 on."""
    real_save = checkpoint.save_checkpoint

    def save_until_read_only(run_dir, model, optimizer, state):
        if state["step"] >= 4:
            raise PermissionError(13, "Permission denied", str(run_dir / "checkpoints"))
        return real_save(run_dir, model, optimizer, state)

    monkeypatch.setattr(checkpoint, "save_checkpoint", save_until_read_only)
    run = tmp_path / "run"
    status = cli.main(["train", "--data", str(shared_data / "quickdraw_sketchrnn_pig_2200.npz"), "--out", str(run),
                       "--hidden-size", "8", "--num-mixtures", "2", "--batch-size", "50", "--steps", "6",
                       "--checkpoint-every", "2"])
    error = capsys.readouterr().err
    assert status == 1 and "Traceback" not in error
    assert f"cannot write to {run}: Permission denied" in error and "checkpoint (step 2) is intact" in error
    latest = checkpoint.latest_checkpoint(run)
    assert latest is not None and checkpoint.load_model(latest).step == 2
    model = checkpoint.load_model(latest)
    assert all(np.all(np.isfinite(w.numpy())) for w in model.network.weights)


def test_hostile_model_and_run_files_are_refused_not_followed(model_dir, trained_run, tmp_path, capsys):
    deep = "[" * 100_000 + "]" * 100_000
    for name, make in [("deep", lambda path: path.write_text(deep)), ("fifo", os.mkfifo)]:
        model = tmp_path / f"model-{name}"
        model.mkdir()
        (model / "weights.npz").write_bytes((model_dir / "weights.npz").read_bytes())
        make(model / "config.json")
        assert cli.main(["sample", str(model), "--out", str(tmp_path / "x.svg")]) == 2
        error = capsys.readouterr().err
        assert "config.json is corrupt or incomplete" in error and "Traceback" not in error, error
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.json").write_text(deep)
    assert cli.main(["export", str(run), str(tmp_path / "exported"), "--no-test"]) == 2
    assert "train.json is corrupt" in capsys.readouterr().err
    # a `latest` pointer that leads out of the run's checkpoints/ is ignored
    elsewhere = tmp_path / "elsewhere" / "ckpt-00000099"
    elsewhere.mkdir(parents=True)
    (elsewhere / checkpoint.STATE_FILE).write_text("{}")
    kept = trained_run / "checkpoints" / "ckpt-00000002"
    (trained_run / "checkpoints" / "latest").write_text(f"ckpt-00000002/{os.path.relpath(elsewhere, kept)}\n")
    try:
        assert checkpoint.latest_checkpoint(trained_run) == kept
    finally:
        (trained_run / "checkpoints" / "latest").write_text("ckpt-00000002\n")


# ----------------------------------------------------------------------------------------------
# Issue 34: model directories that cost all memory or end in a traceback; two runs into one folder


def hostile_copy(model_dir, folder, **model_values):
    copy = folder / "hostile-model"
    import shutil

    shutil.copytree(model_dir, copy)
    config = json.loads((copy / "config.json").read_text())
    config["model"].update(model_values)
    (copy / "config.json").write_text(json.dumps(config))
    return copy


@pytest.mark.parametrize(("values", "message"), [
    ({"max_length": 1_000_000_000}, "model setting max_length must be from 1 to 10000, got 1000000000"),  # took 16.8 GB
    ({"hidden_size": 1_000_000}, "model setting hidden_size must be from 1 to 8192"),  # ResourceExhaustedError traceback
    ({"hidden_size": 6000}, "the model would take about 4,40"),  # in range, past the memory limit
    ({"max_length": -5}, "model setting max_length must be from 1 to 10000, got -5"),  # numpy internals
    ({"hidden_size": 512.5}, "model setting hidden_size must be a whole number, got 512.5"),  # Keras, colour codes
])
def test_a_hostile_model_directory_gets_one_line_not_memory_or_a_traceback(model_dir, tmp_path, capsys, values, message):
    (tmp_path / "ok.json").write_text(json.dumps(SQUIGGLE))
    model = hostile_copy(model_dir, tmp_path, **values)
    for argv in (["complete", str(model), "--input", str(tmp_path / "ok.json"), "--out", str(tmp_path / "o.svg")],
                 ["sample", str(model), "--out", str(tmp_path / "o.svg")]):
        assert cli.main(argv) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"error: {model / 'config.json'}: ") and message in error, error
        assert error.count("\n") == 1 and "Traceback" not in error and "\x1b[" not in error
    assert not (tmp_path / "o.svg").exists()


def test_memory_running_out_is_one_line_not_a_traceback(model_dir, tmp_path, capsys, monkeypatch):
    import tensorflow as tf

    def exhausted(config):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[1000000,4000000]\nmore")

    monkeypatch.setattr(checkpoint, "build_network", exhausted)
    assert cli.main(["sample", str(model_dir), "--out", str(tmp_path / "o.svg")]) == 1
    error = capsys.readouterr().err
    assert error == ("error: out of memory (OOM when allocating tensor with shape[1000000,4000000]): the model or data "
                     "needs more memory than this machine has; use a smaller model or less data\n")


def run_files(run: Path) -> dict:
    return {path: path.read_bytes() for path in sorted(run.rglob("*")) if path.is_file() and path.name != train.RUN_LOCK_FILE}


def test_a_second_train_into_a_run_folder_in_use_is_refused(trained_run, shared_data, tmp_path, capsys):
    """Issue 34: two `train` runs into one --out both said "checkpoint saved", metrics.csv mixed their rows and with
    --hidden-size 8 and 16 only the 16 survived. While one holds the folder's lock, another is refused, and so is an
    export into its best/."""
    before = run_files(trained_run)
    new_run = tmp_path / "new"
    new_run.mkdir()
    with train.run_lock(trained_run), train.run_lock(new_run):  # held as another process would hold them
        commands = [["train", "--resume", str(trained_run), "--steps", "4"],
                    [*TRAIN_ARGS(shared_data, trained_run), "--hidden-size", "16", "--num-mixtures", "3", "--steps", "4",
                     "--validate-every", "2", "--checkpoint-every", "2"],  # the same run, started again
                    [*TRAIN_ARGS(shared_data, new_run), "--hidden-size", "16"],
                    ["export", str(trained_run), str(trained_run / "best"), "--no-test"]]
        for argv in commands:
            assert cli.main(argv) == 2, argv
            error = capsys.readouterr().err
            assert "is in use: another `sketchrnn train` (or an export into it) is writing to it now" in error, error
            assert f"(process {os.getpid()})" in error
    assert run_files(trained_run) == before and os.listdir(new_run) == [train.RUN_LOCK_FILE]


def TRAIN_ARGS(shared_data, out):  # noqa: N802 (a template, like the argv templates above)
    return ["train", "--data", str(shared_data / "quickdraw_sketchrnn_pig_2200.npz"), "--out", str(out), "--hidden-size",
            "8", "--num-mixtures", "2", "--batch-size", "50", "--steps", "1"]


LOCK_HOLDER = """
import sys, time
from sketchrnn import files
with files.folder_lock(sys.argv[1], sys.argv[2], "busy"):
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_killed_runs_lock_does_not_stick(shared_data, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(run), train.RUN_LOCK_FILE], stdout=subprocess.PIPE,
                              text=True, cwd=Path(__file__).resolve().parents[1])
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert cli.main(TRAIN_ARGS(shared_data, run)) == 2
        assert "is in use: another `sketchrnn train`" in capsys.readouterr().err
    finally:
        holder.kill()  # SIGKILL: no clean-up runs in the holder; the kernel drops its lock
        holder.wait()
    assert cli.main(TRAIN_ARGS(shared_data, run)) == 0
    assert checkpoint.latest_checkpoint(run) is not None and train.read_settings(run).hidden_size == 8
    assert cli.main([*TRAIN_ARGS(shared_data, tmp_path / "other"), "--hidden-size", "16"]) == 0  # a new folder: locked too
    assert (tmp_path / "other" / train.RUN_LOCK_FILE).read_text().strip().isdigit()
