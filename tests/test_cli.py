"""The `sketchrnn` command line, called in-process: real models, real files, exit codes and messages."""

import json
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from sketchrnn import checkpoint, cli, export
from sketchrnn.drawing_settings import DrawingSettings, ModelDrawingSettings
from sketchrnn.settings import TrainSettings
from sketchrnn.train import train
from test_sample import untrained_model

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("model") / "pigface"
    checkpoint.save_model(untrained_model(("pig", "face")), directory)
    return directory


def nested_svgs(path):
    root = ElementTree.parse(path).getroot()
    return root.findall(f"{SVG}svg")


def test_sample_writes_a_grid_and_files_and_is_reproducible(model_dir, tmp_path, capsys):
    arguments = ["sample", str(model_dir), "--category", "face", "--n", "6", "--seed", "3", "--temperature", "0.5"]
    assert cli.main([*arguments, "--out", str(tmp_path / "a.svg"), "--out-dir", str(tmp_path / "each")]) == 0
    assert cli.main([*arguments, "--out", str(tmp_path / "b.svg")]) == 0
    assert len(nested_svgs(tmp_path / "a.svg")) == 6
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == [f"drawing_{i:02d}.svg" for i in range(6)]
    assert str(tmp_path / "a.svg") in capsys.readouterr().out


def test_complete_reads_canvas_json_and_ndjson_records(model_dir, tmp_path):
    canvas = tmp_path / "canvas.json"
    canvas.write_text(json.dumps([[[10, 10], [60, 80], [120, 30]], [[20, 100], [90, 110]]]))
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"word": "pig", "drawing": [[[10, 60, 120], [10, 80, 30]]]}))
    for source in (canvas, record):
        out = tmp_path / f"{source.stem}.svg"
        assert cli.main(["complete", str(model_dir), "--category", "pig", "--input", str(source), "--n", "3",
                         "--out", str(out), "--animate"]) == 0
        assert len(nested_svgs(out)) == 3


def test_tries_choose_what_sample_and_complete_write(model_dir, tmp_path, capsys):
    """--tries N draws N times as many and keeps the most --category-like (as sample.most_like ranks them,
    with the bundled guess calibration); a count the library refuses gets its message."""
    canvas = tmp_path / "canvas.json"
    canvas.write_text(json.dumps([[[10, 10], [60, 80], [120, 30]], [[20, 100], [90, 110]]]))
    for command in (["sample"], ["complete", "--input", str(canvas)]):
        outputs = {}
        for tries in ("1", "3"):
            outputs[tries] = tmp_path / f"{command[0]}-{tries}.svg"
            assert cli.main([command[0], str(model_dir), *command[1:], "--category", "face", "--n", "2", "--seed", "4",
                             "--temperature", "0.8", "--tries", tries, "--out", str(outputs[tries])]) == 0
            assert len(nested_svgs(outputs[tries])) == 2
        assert outputs["1"].read_bytes() != outputs["3"].read_bytes(), command[0]
        assert cli.main([command[0], str(model_dir), *command[1:], "--tries", "5", "--out", str(tmp_path / "x.svg")]) == 2
        assert "tries must be a whole number from 1 to 4" in capsys.readouterr().err


def test_guidance_guides_what_sample_and_complete_write(model_dir, tmp_path, capsys):
    """--guidance G guides each step towards --category (what it does: tests/test_sample.py); 0 is plain sampling;
    left out, the model's setting (here the project's default, 8); a value out of range gets the library's message."""
    canvas = tmp_path / "canvas.json"
    canvas.write_text(json.dumps([[[10, 10], [60, 80], [120, 30]], [[20, 100], [90, 110]]]))
    for command in (["sample"], ["complete", "--input", str(canvas)]):
        outputs = {}
        for guidance in (None, "0", "8"):
            outputs[guidance] = tmp_path / f"{command[0]}-{guidance}.svg"
            extra = [] if guidance is None else ["--guidance", guidance]
            assert cli.main([command[0], str(model_dir), *command[1:], "--category", "face", "--n", "2", "--seed", "4",
                             "--temperature", "0.8", *extra, "--out", str(outputs[guidance])]) == 0
        assert outputs[None].read_bytes() == outputs["8"].read_bytes(), command[0]
        assert outputs["0"].read_bytes() != outputs["8"].read_bytes(), command[0]
        assert cli.main([command[0], str(model_dir), *command[1:], "--guidance", "17", "--out", str(tmp_path / "x.svg")]) == 2
        assert "guidance must be a number from 0 to 16" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"word": "pig"}', "'drawing' field"),
    ("[]", "empty"),
    ('[[[0, 0], [NaN, 1]]]', "NaN"),
])
def test_complete_explains_bad_input(model_dir, tmp_path, capsys, content, message):
    source = tmp_path / "bad.json"
    source.write_text(content)
    assert cli.main(["complete", str(model_dir), "--input", str(source), "--out", str(tmp_path / "x.svg")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error:") and message in error and "Traceback" not in error


def test_drawing_commands_need_an_output_and_a_known_category(model_dir, capsys):
    assert cli.main(["sample", str(model_dir)]) == 2
    assert "--out" in capsys.readouterr().err
    assert cli.main(["sample", str(model_dir), "--category", "giraffe", "--out", "x.svg"]) == 2
    assert "unknown category 'giraffe'" in capsys.readouterr().err


def test_render_draws_dataset_drawings(shared_data, tmp_path):
    out = tmp_path / "data.svg"
    assert cli.main(["render", str(shared_data / "quickdraw_sketchrnn_pig_2200.npz"), "--index", "0..3", "--out", str(out)]) == 0
    assert len(nested_svgs(out)) == 4
    assert cli.main(["render", str(shared_data / "quickdraw_sketchrnn_pig_2200.npz"), "--index", "99999", "--out", str(out)]) == 2


def test_train_resume_refuses_changed_settings(shared_data, tmp_path, capsys):
    data = str(shared_data / "quickdraw_sketchrnn_pig_2200.npz")
    settings = TrainSettings(data=[data], out=str(tmp_path / "run"), hidden_size=16, num_mixtures=3, batch_size=50, steps=3)
    train(settings, log=lambda message: None)
    assert cli.main(["train", "--resume", str(tmp_path / "run"), "--hidden-size", "64"]) == 2
    assert "only --steps" in capsys.readouterr().err
    assert cli.main(["train", "--out", str(tmp_path / "other")]) == 2
    assert "--data" in capsys.readouterr().err


def test_export_writes_a_model_card_with_test_losses(shared_data, tmp_path, capsys):
    data = str(shared_data / "quickdraw_sketchrnn_pig_2200.npz")
    settings = TrainSettings(data=[data], out=str(tmp_path / "run"), hidden_size=16, num_mixtures=3, batch_size=50,
                             steps=4, validate_every=2)
    train(settings, log=lambda message: None)
    assert cli.main(["export", str(tmp_path / "run"), str(tmp_path / "exported")]) == 0
    card = (tmp_path / "exported" / "MODEL_CARD.md").read_text()
    assert "Held-out test L_R" in card and "| pig | 110 |" in card
    assert "## Drawing settings" in card and "The project's defaults" in card  # none chosen for this run
    assert checkpoint.load_model(tmp_path / "exported").metadata["test_loss"]["pig"]["drawings"] == 110
    assert cli.main(["evaluate", str(tmp_path / "exported"), "--data", data]) == 0
    assert "pig" in capsys.readouterr().out

    # --float16: half-size weights, and the card's test L_R is that of the stored weights, not of the run's float32;
    # drawing settings chosen for the run's best model are carried into the export and its card
    chosen = ModelDrawingSettings(DrawingSettings(temperature=0.3), chosen_by="a test", recognised={"pig": 0.5})
    checkpoint.write_drawing_settings(tmp_path / "run" / "best", chosen)
    assert cli.main(["export", str(tmp_path / "run"), str(tmp_path / "half"), "--float16"]) == 0
    assert checkpoint.load_model(tmp_path / "half").drawing == chosen
    assert "Chosen by: a test" in (tmp_path / "half" / "MODEL_CARD.md").read_text()
    with np.load(tmp_path / "half" / "weights.npz") as half, np.load(tmp_path / "exported" / "weights.npz") as full:
        assert {half[key].dtype for key in half.files} == {np.dtype(np.float16)}
        assert not all(np.array_equal(half[key], full[key]) for key in half.files)  # rounded
    stored = checkpoint.load_model(tmp_path / "half").metadata
    assert stored["weights_dtype"] == "float16" and "stored as float16" in (tmp_path / "half" / "MODEL_CARD.md").read_text()
    rounded = export.test_losses_by_category(tmp_path / "half", [data], seed=settings.seed, rescale_to=settings.rescale_to,
                                             categories=settings.categories)
    assert stored["test_loss"]["pig"]["loss"] == pytest.approx(rounded["pig"]["loss"], abs=1e-6)
