"""The drawing defaults: one definition, a model's own settings in its config.json (checked as untrusted input),
and the same endings from the API and the command line when neither is told the settings."""

import json

import pytest

from sketchrnn import checkpoint, cli, export, sample, svg
from sketchrnn.drawing_settings import (
    DEFAULTS,
    DrawingSettings,
    ModelDrawingSettings,
    resolved,
    with_card_section,
)
from test_sample import SQUIGGLE, same_drawings, untrained_model, whole_drawings

CANVAS = (400, 400)
OWN = ModelDrawingSettings(DrawingSettings(temperature=0.6, pen_temperature=0.8, guidance=4.0, tries=1),
                           {"face": DrawingSettings(temperature=0.25, pen_temperature=0.8, guidance=0.0, tries=2)},
                           chosen_by="a test", recognised={"pig": 0.5, "face": 0.75})


@pytest.fixture(scope="module")
def model():
    return untrained_model(("pig", "face", "eye"))


@pytest.fixture(scope="module")
def model_dir(model, tmp_path_factory):
    """The same model saved with settings of its own."""
    directory = tmp_path_factory.mktemp("own") / "pigface"
    model.drawing = OWN
    try:
        checkpoint.save_model(model, directory)
    finally:
        model.drawing = ModelDrawingSettings()
    return directory


def test_a_model_without_settings_draws_with_the_project_defaults(model):
    assert not model.drawing.chosen
    assert resolved(model, "face") == DEFAULTS == DrawingSettings(0.4, 1.0, 8.0, 1)
    assert resolved(model, None, guidance=0.0) == DrawingSettings(0.4, 1.0, 0.0, 1)
    left_out = whole_drawings(sample.complete(model, SQUIGGLE, 2, seed=3, category="face", canvas_size=CANVAS))
    given = whole_drawings(sample.complete(model, SQUIGGLE, 2, seed=3, category="face", canvas_size=CANVAS,
                                           **DEFAULTS.to_dict()))
    assert same_drawings(left_out, given)
    assert same_drawings(sample.sample(model, 2, seed=3, category="eye"),
                         sample.sample(model, 2, seed=3, category="eye", **DEFAULTS.to_dict()))


def test_settings_round_trip_through_config_json_and_apply_per_category(model_dir):
    loaded = checkpoint.load_model(model_dir)
    assert loaded.drawing == OWN
    assert resolved(loaded, "pig") == OWN.default and resolved(loaded, None) == OWN.default  # None: the first category
    assert resolved(loaded, "face") == OWN.categories["face"]
    assert resolved(loaded, "face", temperature=0.9).temperature == 0.9  # what the caller gives wins
    for category, settings in (("pig", OWN.default), ("face", OWN.categories["face"])):
        left_out = whole_drawings(sample.complete(loaded, SQUIGGLE, 2, seed=5, category=category, canvas_size=CANVAS))
        given = whole_drawings(sample.complete(loaded, SQUIGGLE, 2, seed=5, category=category, canvas_size=CANVAS,
                                               **settings.to_dict()))
        assert same_drawings(left_out, given), category
    project = whole_drawings(sample.complete(loaded, SQUIGGLE, 2, seed=5, category="pig", canvas_size=CANVAS,
                                             **DEFAULTS.to_dict()))
    assert not same_drawings(project, whole_drawings(sample.complete(loaded, SQUIGGLE, 2, seed=5, category="pig",
                                                                     canvas_size=CANVAS)))


def test_a_partial_category_entry_takes_the_rest_from_the_model():
    settings = ModelDrawingSettings.from_dict({"temperature": 0.3, "guidance": 0, "categories": {"b": {"tries": 2}}},
                                              ["a", "b"])
    assert settings.default == DrawingSettings(0.3, 1.0, 0.0, 1)
    assert settings.for_category("b") == DrawingSettings(0.3, 1.0, 0.0, 2)
    assert isinstance(settings.for_category("b").tries, int)


@pytest.mark.parametrize("section, message", [
    ({"temperature": "hot"}, r"temperature must be a number in \(0, 2\], got 'hot'"),
    ({"temperature": 0}, r"temperature must be a number in \(0, 2\]"),
    ({"pen_temperature": 10**400}, "pen_temperature must be a number"),
    ({"guidance": -1}, "guidance must be a number from 0 to 16"),
    ({"guidance": True}, "guidance must be a number from 0 to 16"),
    ({"tries": 2.5}, "tries must be a whole number from 1 to 4"),
    ({"tries": 9}, "tries must be a whole number from 1 to 4"),
    ({"temprature": 0.4}, "unknown key 'temprature'"),
    ({"categories": {"giraffe": {}}}, "'giraffe' is not one of the model's categories"),
    ({"categories": {"face": {"guidance": 99}}}, r"categories\['face'\]: guidance must be"),
    ({"categories": {"face": {"speed": 1}}}, "unknown setting 'speed'"),
    ({"categories": []}, "must be an object keyed by category"),
    ({"recognised": {"pig": 1.5}}, "must be a share from 0 to 1"),
    ({"chosen_by": ["x"]}, "chosen_by must be text"),
    ([0.4], "must be an object"),
])
def test_bad_settings_in_config_json_are_refused_with_a_clear_error(model_dir, tmp_path, section, message):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("weights.npz",):
        (broken / name).write_bytes((model_dir / name).read_bytes())
    config = json.loads((model_dir / "config.json").read_text())
    config["drawing"] = section
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message) as raised:
        checkpoint.load_model(broken)
    assert "config.json: bad drawing settings" in str(raised.value) and len(str(raised.value)) < 500
    assert "\n" not in str(raised.value)


def test_writing_settings_changes_only_that_section_and_refuses_what_the_loader_would(model_dir, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in model_dir.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    before = json.loads((copy / "config.json").read_text())
    chosen = ModelDrawingSettings(DrawingSettings(temperature=0.25), chosen_by="again", recognised={"eye": 0.9})
    checkpoint.write_drawing_settings(copy, chosen)
    after = json.loads((copy / "config.json").read_text())
    assert after.pop("drawing") == chosen.to_dict() and {k: v for k, v in before.items() if k != "drawing"} == after
    assert checkpoint.load_model(copy).drawing == chosen
    with pytest.raises(ValueError, match="not one of the model's categories"):
        checkpoint.write_drawing_settings(copy, ModelDrawingSettings(categories={"cat": DEFAULTS}))
    assert checkpoint.load_model(copy).drawing == chosen
    checkpoint.write_drawing_settings(copy, ModelDrawingSettings())  # back to the project's defaults: no section
    assert "drawing" not in json.loads((copy / "config.json").read_text())


def test_the_model_card_shows_the_settings(model_dir):
    card = export.model_card(checkpoint.load_model(model_dir))
    assert "## Drawing settings" in card and "Chosen by: a test" in card
    assert "| face | 0.25 | 0.8 | 0 | 2 | 75.0% |" in card and "| eye | 0.6 | 0.8 | 4 | 1 | - |" in card
    replaced = with_card_section(card, ModelDrawingSettings().card_lines(["pig"]))
    assert replaced.count("## Drawing settings") == 1 and "The project's defaults" in replaced
    assert with_card_section("# m\n\n## Other\n\ntext\n", ["## Drawing settings", "", "x"]).endswith(
        "## Other\n\ntext\n\n## Drawing settings\n\nx\n")
    middle = with_card_section("# m\n\n## Drawing settings\n\nold\n\n## Other\n\nkept\n", ["## Drawing settings", "", "new"])
    assert middle == "# m\n\n## Drawing settings\n\nnew\n\n## Other\n\nkept\n"


def svg_files(folder):
    return [path.read_text() for path in sorted(folder.iterdir())]


def test_the_command_line_and_the_api_give_the_same_endings_when_not_told_the_settings(model_dir, tmp_path, capsys):
    """`sketchrnn complete MODEL --input F` and `sample.complete(model, strokes)` with no settings: the model's."""
    drawing = tmp_path / "drawing.json"
    drawing.write_text(json.dumps(SQUIGGLE))
    out = tmp_path / "endings"
    assert cli.main(["complete", str(model_dir), "--input", str(drawing), "--category", "pig", "--seed", "7",
                     "--canvas-size", *map(str, CANVAS), "--out-dir", str(out)]) == 0
    said = capsys.readouterr().err
    assert f"drawing with {OWN.default.describe()} (settings not given: pigface's for pig, its own)" in said
    completion = sample.complete(checkpoint.load_model(model_dir), SQUIGGLE, seed=7, category="pig", canvas_size=CANVAS)
    assert svg_files(out) == [svg.completion_svg(completion.prime, ending) for ending in completion.endings]


def test_sample_on_the_command_line_uses_the_model_settings_too(model_dir, tmp_path, capsys):
    assert cli.main(["sample", str(model_dir), "--category", "face", "--n", "2", "--seed", "2",
                     "--out-dir", str(tmp_path)]) == 0
    assert "temperature 0.25, pen temperature 0.8, guidance 0, tries 2" in capsys.readouterr().err
    model = checkpoint.load_model(model_dir)
    drawn = sample.sample(model, 2, seed=2, category="face", calibration=cli.draw_commands.guess_calibration(2))
    assert svg_files(tmp_path) == [svg.drawing_svg(drawing) for drawing in drawn]


def test_help_says_the_model_setting_is_used(capsys):
    assert cli.main(["complete", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.count("default: the model's setting for the category, printed when drawing") == 4
    assert "the project's is 0.4" in text and "the project's is 1," in text and "the project's is 8" in text


def test_the_ranking_file_is_read_as_untrusted_input_and_orders_models_best_first(tmp_path):
    (tmp_path / "drawing_ranking.json").write_text(json.dumps({"chosen_by": "a test", "categories": {
        "pig": [{"model": "b", "recognised": 0.8}, {"model": "a", "recognised": 0.6}],
        "cat": [{"model": "c", "recognised": None}]}}))
    ranking = checkpoint.drawing_ranking(tmp_path)
    assert ranking == {"pig": [("b", 0.8), ("a", 0.6)], "cat": [("c", None)]}
    folders = [tmp_path / name for name in ("a", "b", "c")]
    assert [d.name for d in checkpoint.best_first(folders, "pig", ranking)] == ["b", "a", "c"]
    assert [d.name for d in checkpoint.best_first(folders, "eye", ranking)] == ["a", "b", "c"]
    assert checkpoint.drawing_ranking(tmp_path / "none") == {}
    for damaged, message in (("[1]", "expected an object"), ('{"categories": {"pig": [{"model": 3}]}}', "'pig' must list"),
                             ('{"categories": {"pig": [{"model": "a", "recognised": 7}]}}', "'pig' must list"),
                             ("{", "not valid JSON")):
        (tmp_path / "drawing_ranking.json").write_text(damaged)
        with pytest.raises(ValueError, match=message):
            checkpoint.drawing_ranking(tmp_path)
