"""Training on real QuickDraw data: it learns, it resumes after a hard kill, it stops on NaN, it distributes."""

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from sketchrnn import checkpoint
from sketchrnn.train import TrainSettings, Trainer, evaluate, load_training_data, new_model, train
from test_logs import TENSORFLOW_NOISE

REPO = Path(__file__).resolve().parents[1]


def pig(shared_data):
    return [str(shared_data / "quickdraw_sketchrnn_pig_2200.npz")]


def tiny_settings(shared_data, out, **overrides):
    values = dict(data=pig(shared_data), out=str(out), hidden_size=32, num_mixtures=5, batch_size=50,
                  steps=40, validate_every=20, checkpoint_every=10, recurrent_dropout=0.0)
    return TrainSettings(**{**values, **overrides})


def test_a_few_real_steps_lower_the_validation_loss(shared_data, tmp_path):
    import tensorflow as tf

    settings = tiny_settings(shared_data, tmp_path / "run", learning_rate=3e-3)
    dataset, stats = load_training_data(settings)
    trainer = Trainer(settings, new_model(settings, dataset, stats), tf.distribute.get_strategy())
    from sketchrnn.pipeline import Augmentation, BatchSource, normalized_split

    valid = normalized_split(dataset.splits["valid"], stats.scale_factor)
    before = trainer.evaluate(*valid)
    train_drawings, train_ids = normalized_split(dataset.splits["train"], stats.scale_factor)
    batches = BatchSource(train_drawings, train_ids, 50, 0, Augmentation()).batches()
    for _ in range(60):
        _, _, (inputs, targets, ids) = next(batches)
        trainer.train_step((inputs, ids), targets)
    after = trainer.evaluate(*valid)
    assert np.isfinite(after["loss"])
    assert after["loss"] < before["loss"] - 0.2, (before, after)
    assert after["offset_loss"] < before["offset_loss"]


def run_cli(*arguments, **kwargs):
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user's shell has it
    return subprocess.Popen([sys.executable, "-m", "sketchrnn", *arguments], cwd=REPO, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def test_resume_after_sigkill_continues_from_the_last_checkpoint_even_in_another_folder(shared_data, tmp_path):
    out = tmp_path / "run"
    two_categories = [*pig(shared_data), str(shared_data / "quickdraw_sketchrnn_face_2200.npz")]
    command = ["train", "--data", *two_categories, "--out", str(out), "--hidden-size", "32", "--num-mixtures", "5",
               "--batch-size", "50", "--steps", "400", "--checkpoint-every", "2", "--validate-every", "1000"]
    process = run_cli(*command)
    deadline = time.monotonic() + 240
    while checkpoint.latest_checkpoint(out) is None or checkpoint.read_state(checkpoint.latest_checkpoint(out))["step"] < 4:
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = checkpoint.read_state(checkpoint.latest_checkpoint(out))["step"]
    assert 4 <= killed_at < 400
    # a half-written checkpoint is never the latest: what is there loads
    assert checkpoint.load_model(checkpoint.latest_checkpoint(out)).step == killed_at

    # moved to another folder (another disk, a backup), the run resumes there and leaves nothing where it was
    killed_out, out = out, tmp_path / "moved"
    killed_out.rename(out)
    resumed = run_cli("train", "--resume", str(out), "--steps", str(killed_at + 4))
    output, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, output
    assert f"resuming {out} from step {killed_at}" in output and not killed_out.exists()
    # not a terminal: plain progress lines (every --log-every steps and the last), no carriage-return frames
    assert "\r" not in output and "\x1b[" not in output
    assert f"step {killed_at + 4}/{killed_at + 4} - loss" in output
    assert checkpoint.load_model(out / "checkpoints" / f"ckpt-{killed_at + 4:08d}").step == killed_at + 4
    steps = [int(row.split(",")[0]) for row in (out / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == killed_at + 4, "the metrics log continues without repeats"
    assert checkpoint.load_model(out).path == out / "best"
    # several categories (a category embedding beside every row): once tiled, its gradient made oneDNN print
    # "E0000 ... oneDNN supports DT_INT32 only on platforms with AVX-512"; nor any of TensorFlow's start-up lines
    assert "E0000" not in output and "oneDNN" not in output, output
    assert not any(noise in output for noise in TENSORFLOW_NOISE), output


def test_rerunning_with_other_settings_is_refused(shared_data, tmp_path):
    settings = tiny_settings(shared_data, tmp_path / "run", steps=2)
    train(settings, log=lambda message: None)
    with pytest.raises(ValueError, match="other settings.*--resume"):
        train(tiny_settings(shared_data, tmp_path / "run", steps=2, hidden_size=64), log=lambda message: None)


def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(shared_data, tmp_path):
    # a checkpoint after every step: the first step's loss is finite (initial weights), so there is always
    # at least one checkpoint before the absurd learning rate breaks the loss
    settings = tiny_settings(shared_data, tmp_path / "run", steps=200, checkpoint_every=1,
                             learning_rate=1e12, min_learning_rate=1e12, clip_kind="none")
    messages = []
    summary = train(settings, log=messages.append)
    assert summary["status"] == "diverged", summary
    assert 1 <= summary["step"] < 200, "stopped at the first non-finite loss, after at least one good step"
    assert any(f"checkpoint (step {summary['step']}) is intact" in m for m in messages), messages
    latest = checkpoint.latest_checkpoint(settings.out)
    assert latest is not None, "the checkpoints written before the loss broke are kept"
    model = checkpoint.load_model(latest)  # refuses non-finite weights
    assert model.step == summary["step"], "the step whose loss was not finite is never saved"
    assert all(np.all(np.isfinite(w.numpy())) for w in model.network.weights)
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("ckpt-*"))[-1] == latest.name


def test_evaluate_reports_the_papers_loss_on_the_test_split(shared_data, tmp_path):
    settings = tiny_settings(shared_data, tmp_path / "run", steps=5)
    train(settings, log=lambda message: None)
    result = evaluate(tmp_path / "run", pig(shared_data))
    assert result["drawings"] == 110
    assert result["loss"] == pytest.approx(result["offset_loss"] + result["pen_loss"])
    with pytest.raises(ValueError, match="does not draw"):
        evaluate(tmp_path / "run", [str(shared_data / "quickdraw_sketchrnn_face_2200.npz")])


MIRRORED_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from sketchrnn.train import TrainSettings, Trainer, load_training_data, new_model
    from sketchrnn.pipeline import BatchSource, normalized_split
    settings = TrainSettings(data=[sys.argv[1]], out=sys.argv[2], hidden_size=32, num_mixtures=5, batch_size=40,
                             recurrent_dropout=0.0, categories=None)
    dataset, stats = load_training_data(settings)
    drawings, ids = normalized_split(dataset.splits["train"], stats.scale_factor)
    _, _, (inputs, targets, category_ids) = next(BatchSource(drawings, ids, 40, 0).batches())
    results = {}
    for name, strategy in [("one", tf.distribute.get_strategy()),
                           ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))]:
        with strategy.scope():
            trainer = Trainer(settings, new_model(settings, dataset, stats), strategy)
        batch = tf.data.Dataset.from_tensors(((inputs, category_ids), targets))
        if strategy.num_replicas_in_sync > 1:
            batch = strategy.experimental_distribute_dataset(batch)
        (model_inputs, model_targets), = list(batch)
        loss = trainer.train_step(model_inputs, model_targets)
        results[name] = {"replicas": strategy.num_replicas_in_sync, "loss": loss,
                         "weights": [w.numpy().tolist() for w in trainer.model.network.weights]}
    from sketchrnn.train import train
    settings.strategy, settings.steps, settings.validate_every, settings.checkpoint_every = "mirrored", 3, 3, 3
    summary = train(settings, log=lambda message: None)
    results["train"] = {k: summary[k] for k in ("status", "step", "batch", "replicas")}
    print("RESULT" + json.dumps(results))
""")


def test_mirrored_strategy_on_two_cpu_devices_matches_one_device(shared_data, tmp_path):
    data = str(shared_data / "quickdraw_sketchrnn_pig_2200.npz")
    completed = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT, data, str(tmp_path / "run")], cwd=REPO,
                               capture_output=True, text=True, timeout=300,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.split("RESULT", 1)[1])
    one, mirrored = results["one"], results["mirrored"]
    assert one["replicas"] == 1 and mirrored["replicas"] == 2
    np.testing.assert_allclose(mirrored["loss"], one["loss"], rtol=1e-5)
    for a, b in zip(one["weights"], mirrored["weights"]):
        np.testing.assert_allclose(np.array(b), np.array(a), rtol=1e-4, atol=1e-6)
    # and a whole (short) run under `--strategy mirrored` on the two devices
    assert results["train"] == {"status": "finished", "step": 3, "batch": 3, "replicas": 2}


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_in_a_log_file():
    import keras

    from sketchrnn.train import LineProgress, progress_display

    settings = TrainSettings(data=[], out="", steps=25, log_every=10)
    assert isinstance(progress_display(settings, FakeTerminal()), keras.utils.Progbar)
    log_file = io.StringIO()
    progress = progress_display(settings, log_file)
    assert isinstance(progress, LineProgress)
    for step in range(1, 26):
        progress.update(step, [("loss", 1.0 / step), ("lr", 0.001)] + ([("valid", 2.5)] if step == 15 else []))
    lines = log_file.getvalue().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["step 10/25", "step 15/25", "step 20/25", "step 25/25"]
    assert lines[1].startswith("step 15/25 - loss 0.06667 - lr 0.001 - valid 2.5 - ") and lines[1].endswith(" s/step")


def test_a_fifo_planted_as_metrics_csv_is_refused_not_waited_on(shared_data, tmp_path):
    """Opening a FIFO blocks until someone writes to it: the metrics log must look before it opens."""
    from sketchrnn.train import MetricsLog

    os.mkfifo(tmp_path / "metrics.csv")
    with pytest.raises(ValueError, match="FIFO"):
        MetricsLog(tmp_path, 0)


def test_metrics_log_keeps_rows_up_to_the_resumed_step_and_drops_a_torn_line(tmp_path):
    from sketchrnn.train import MetricsLog

    (tmp_path / "metrics.csv").write_text("step,loss\n1,0.5\n2,0.4\n3,0.3\n4,0.")  # killed mid-line
    MetricsLog(tmp_path, 2)
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("step,epoch,loss") and [line.split(",")[:3] for line in lines[1:]] == [
        ["1", "", "0.5"], ["2", "", "0.4"]]


# ----------------------------------------------------------------------------------------------
# --init-from: a run that starts from a trained decoder


@pytest.fixture(scope="module")
def two_category_base(shared_data, tmp_path_factory):
    """A tiny decoder trained a few steps on pigs and faces: the model directory (its ``best/``)."""
    out = tmp_path_factory.mktemp("base") / "run"
    data = [str(shared_data / f"quickdraw_sketchrnn_{name}_2200.npz") for name in ("pig", "face")]
    train(tiny_settings(shared_data, out, data=data, steps=20, validate_every=10, learning_rate=3e-3),
          log=lambda message: None)
    return out / "best"


def scores(model, drawings, category):
    """Mean log-likelihood per point of each drawing (normalised by the model's scale) under one category."""
    from sketchrnn import sample
    from sketchrnn.strokes import normalize

    ids = np.array([model.category_id(category)])
    return np.array([sample.log_likelihood(model, normalize(d, model.stats.scale_factor), ids)[0] for d in drawings])


def test_a_run_from_a_trained_model_starts_drawing_its_categories_as_that_model_did(shared_data, tmp_path,
                                                                                   two_category_base):
    from sketchrnn.train import init_from_model

    base = checkpoint.load_model(two_category_base)
    pigs = base_pigs = None
    for data, categories in ((pig(shared_data), ["pig"]),  # one category: its embedding folded into the bias
                             ([str(shared_data / f"quickdraw_sketchrnn_{n}_2200.npz") for n in ("face", "radio", "pig")],
                              ["face", "radio", "pig"])):  # reordered, with a category new to the base
        settings = tiny_settings(shared_data, tmp_path / "new", data=data, init_from=str(two_category_base))
        started = init_from_model(settings)
        dataset, stats = load_training_data(settings, started)
        model = new_model(settings, dataset, stats, started)
        assert model.categories == categories
        assert stats.scale_factor == base.stats.scale_factor, "drawings are read in the base model's units"
        pigs = pigs or dataset.splits["valid"].drawings[:3]
        base_pigs = scores(base, pigs, "pig") if base_pigs is None else base_pigs
        np.testing.assert_allclose(scores(model, pigs, "pig"), base_pigs, rtol=1e-4, atol=1e-4)
        if "face" in categories:
            faces = [d for d, c in zip(dataset.splits["valid"].drawings, dataset.splits["valid"].category_ids)
                     if categories[c] == "face"][:3]
            np.testing.assert_allclose(scores(model, faces, "face"), scores(base, faces, "face"), rtol=1e-4, atol=1e-4)
            assert np.all(np.isfinite(scores(model, faces, "radio")))
    # and a run trains from there, recording where it started
    settings = tiny_settings(shared_data, tmp_path / "run", steps=4, validate_every=2, init_from=str(two_category_base))
    assert train(settings, log=lambda message: None)["status"] == "finished"
    trained = checkpoint.load_model(tmp_path / "run" / "best")
    assert trained.metadata["init_from"]["step"] == base.step
    assert trained.stats.scale_factor == base.stats.scale_factor
    from sketchrnn.export import model_card

    assert f"started from the weights of {base.name} (step {base.step}" in model_card(trained)


def test_init_from_refuses_a_vae_and_another_architecture(shared_data, tmp_path, two_category_base, tiny_vae):
    with pytest.raises(ValueError, match="is a vae; start from a decoder"):
        train(tiny_settings(shared_data, tmp_path / "a", init_from=str(tiny_vae)), log=lambda message: None)
    with pytest.raises(ValueError, match="has hidden_size 32; the run must have the same"):
        train(tiny_settings(shared_data, tmp_path / "b", hidden_size=64, init_from=str(two_category_base)),
              log=lambda message: None)
    with pytest.raises(ValueError, match="--init-from starts a decoder"):
        tiny_settings(shared_data, tmp_path / "c", model="vae", init_from=str(two_category_base)).validate()
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists(), "refused before anything is written"


def test_train_command_takes_the_architecture_from_init_from(shared_data, tmp_path, two_category_base):
    from sketchrnn.cli import build_parser
    from sketchrnn.cli.train_commands import train_settings_from_arguments

    parser = build_parser()
    arguments = parser.parse_args(["train", "--data", *pig(shared_data), "--out", str(tmp_path / "run"),
                                   "--init-from", str(two_category_base)])
    settings = train_settings_from_arguments(arguments)
    assert (settings.hidden_size, settings.num_mixtures, settings.init_from) == (32, 5, str(two_category_base))
    arguments = parser.parse_args(["train", "--resume", str(tmp_path / "run"), "--init-from", str(two_category_base)])
    with pytest.raises(ValueError, match="--resume keeps the run's saved settings.*init_from"):
        train_settings_from_arguments(arguments)
