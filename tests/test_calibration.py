"""Calibrating "what are you drawing?": the fit, the file, and its effect on guess."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sketchrnn import calibration, checkpoint, sample, strokes
from sketchrnn.calibration import GuessCalibration

SQUIGGLE = [[[100, 100], [140, 160], [180, 100], [220, 160]], [[120, 220], [200, 220]]]


def synthetic_scores(rng, count=300):
    """Two models; 'b/dog' scores are inflated by 2 whatever the drawing (a model-level bias), and the
    differences that carry the signal are small (flat per-point scores)."""
    keys = ["a/pig", "a/cat", "b/pig", "b/dog"]
    labels = rng.choice(["pig", "cat", "dog"], size=count)
    scores = rng.normal(scale=0.05, size=(count, 4))
    for row, label in enumerate(labels):
        scores[row, [k for k, key in enumerate(keys) if key.endswith("/" + label)]] += 0.1
    scores[:, 3] += 2.0
    return keys, scores, list(labels)


def top1(keys, scores, labels, fitted=None, points=20):
    """How often the category with the highest (calibrated) logit is the label."""
    calibration = fitted.calibration() if fitted else None
    if calibration:
        logits = np.concatenate([calibration.logits(model, [key.split("/")[1] for key in keys if key.startswith(model + "/")],
                                                    scores[:, [k for k, key in enumerate(keys) if key.startswith(model + "/")]],
                                                    points) for model in ("a", "b")], axis=1)  # keys are a's, then b's
    else:
        logits = scores
    categories = sorted({key.split("/")[1] for key in keys})
    hits = 0
    for row, label in zip(logits, labels):
        best = {c: max(v for key, v in zip(keys, row) if key.endswith("/" + c)) for c in categories}
        hits += max(best, key=best.get) == label
    return hits / len(labels)


def test_fit_removes_a_model_bias_and_sharpens_flat_scores():
    rng = np.random.default_rng(0)
    keys, scores, labels = synthetic_scores(rng)
    points = np.full(scores.shape, 20)  # one length: the slopes act as offsets
    assert top1(keys, scores, labels) < 0.5  # raw: 'dog' wins almost always
    fitted = calibration.fit(keys, scores, points, labels)
    assert max(fitted.temperatures.values()) < 0.2  # the signal is 0.1 nats per point: the softmax must be sharpened
    assert fitted.offsets["b/dog"] < fitted.offsets["b/pig"] - 1.0  # the inflated model's dog is pulled back
    test_keys, test_scores, test_labels = synthetic_scores(np.random.default_rng(1))
    assert top1(test_keys, test_scores, test_labels, fitted) > 0.75  # raw: below 0.5
    assert fitted.cross_entropy < np.log(3)  # better than knowing nothing


def test_each_model_gets_its_own_temperature():
    """Model b is five times as confident as model a about the same evidence: its temperature is larger."""
    rng = np.random.default_rng(2)
    keys, scores, labels = synthetic_scores(rng, count=600)
    scores[:, 2:] *= 5.0
    fitted = calibration.fit(keys, scores, np.full(scores.shape, 20), labels)
    assert fitted.temperatures["b"] > 2.5 * fitted.temperatures["a"]


def test_a_length_slope_undoes_a_bias_that_grows_with_the_points():
    """Model a's 'cat' gains 0.5 per log-point whatever the drawing: the fitted slope takes it back."""
    rng = np.random.default_rng(3)
    keys, scores, labels = synthetic_scores(rng, count=600)
    points = np.repeat(rng.integers(5, 200, size=(len(labels), 1)), 4, axis=1)
    scores[:, 1] += 0.5 * np.log(points[:, 1]) * 0.1  # in per-point units (the fitted 1/T is about 10)
    fitted = calibration.fit(keys, scores, points, labels)
    assert fitted.slopes["a/cat"] < fitted.slopes["a/pig"] - 0.2


def test_a_length_exponent_makes_longer_drawings_surer():
    """Per-point scores are means over n points of independent evidence: their noise shrinks as n grows, so
    a long drawing's small mean difference is surer than a short one's. The exponent learns that, and the
    held-out cross-entropy falls below the earlier form's (a mean per point, exponent 0)."""
    def drawings(rng, count):
        keys, labels = ["a/pig", "a/cat"], rng.choice(["pig", "cat"], size=count)
        points = np.repeat(rng.integers(5, 300, size=(count, 1)), 2, axis=1)
        scores = rng.normal(size=(count, 2)) / np.sqrt(points)  # a mean over n points of unit noise
        scores[np.arange(count), (labels == "cat").astype(int)] += 0.1
        return keys, scores, points, list(labels)

    keys, scores, points, labels = drawings(np.random.default_rng(4), 1500)
    test_keys, test_scores, test_points, test_labels = drawings(np.random.default_rng(5), 1500)
    target = (np.array(test_labels) == "cat").astype(int)
    losses = {}
    for exponents in (True, False):
        fitted = calibration.fit(keys, scores, points, labels, length_exponents=exponents)
        logits = fitted.calibration().logits("a", ["pig", "cat"], test_scores, test_points[:, :1])
        log_probabilities = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        losses[exponents] = -log_probabilities[np.arange(len(target)), target].mean()
        if exponents:
            assert 0.7 < fitted.exponents["a"] < 1.5  # ideal 1: with independent points the log-odds grow as n x the mean
            short, long = test_points[:, 0] < 30, test_points[:, 0] > 200
            right = np.exp(log_probabilities[np.arange(len(target)), target])
            assert right[long].mean() > right[short].mean() + 0.1
        else:
            assert fitted.exponents == {}
    assert losses[True] < losses[False] - 0.02


def test_balanced_fitting_weighs_a_rare_category_as_much_as_a_common_one():
    rng = np.random.default_rng(1)
    keys, labels = ["a/pig", "a/cat"], np.array(["pig"] * 270 + ["cat"] * 30)
    scores = rng.normal(scale=0.1, size=(300, 2))
    scores[labels == "cat", 1] += 0.1  # weak evidence for the rare category
    points = np.full(scores.shape, 20)  # one length: the slopes act as offsets
    recall = {}
    for balanced in (False, True):
        fitted = calibration.fit(keys, scores, points, list(labels), steps=300, balanced=balanced)
        logits = fitted.calibration().logits("a", ["pig", "cat"], scores, 20)
        recall[balanced] = (logits[labels == "cat"].argmax(axis=1) == 1).mean()
    assert recall[False] < 0.2 < 0.5 < recall[True]  # by count the prior says pig; alike, cat gets its share


def test_calibration_file_round_trip_and_damage(tmp_path):
    original = GuessCalibration({"m": 0.1}, {"m/pig": 0.5, "m/cat": -0.25}, {"m/pig": 0.1, "m/cat": 0.0}, {"examples": 10}, {"m": 0.3})
    path = original.save(tmp_path / "calibration.json")
    assert GuessCalibration.load(path) == original
    content = json.loads(path.read_text())
    path.write_text(json.dumps({**content, "temperatures": {"m": -1}}))
    with pytest.raises(ValueError, match="temperature must be positive"):
        GuessCalibration.load(path)
    earlier = {key: value for key, value in content.items() if key != "exponents"}
    path.write_text(json.dumps({**earlier, "form": calibration.EARLIER_FORM}))  # before length exponents: each is 0
    assert GuessCalibration.load(path).exponents == {}
    np.testing.assert_allclose(GuessCalibration.load(path).logits("m", ["pig"], [-2.0], 80), [-2.0 / 0.1 + 0.5 + 0.1 * np.log(80)])
    path.write_text(json.dumps({**content, "exponents": {"m": float("nan")}}))
    with pytest.raises(ValueError, match="exponent.*must be finite"):
        GuessCalibration.load(path)
    path.write_text(json.dumps({"temperature": 0.1, "offsets": {}}))  # the one-temperature form before those
    with pytest.raises(ValueError, match="another form.*calibrate-guess"):
        GuessCalibration.load(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="calibrate-guess"):
        GuessCalibration.load(path)


def test_pairs_and_models_it_was_not_fitted_on_get_the_medians():
    fitted = GuessCalibration({"m": 0.1, "n": 0.3, "o": 0.5}, {"m/pig": 1.0, "m/cat": 3.0}, {"m/pig": 0.0, "m/cat": 1.0})
    logits = fitted.logits("new", ["pig", "dog"], np.array([-1.0, -2.0]), points=np.e)
    np.testing.assert_allclose(logits, [-1.0 / 0.3 + 2.0 + 0.5, -2.0 / 0.3 + 2.0 + 0.5])
    with_exponents = GuessCalibration({"m": 0.1}, exponents={"m": 0.5, "n": 0.25, "o": 0.3})
    np.testing.assert_allclose(with_exponents.logits("new", ["pig"], [-1.0], points=160), [-1.0 / 0.1 * 4.0 ** 0.3])
    np.testing.assert_allclose(with_exponents.logits("m", ["pig"], [-1.0], points=10), [-1.0 / 0.1 * 0.25 ** 0.5])


def test_guess_applies_the_calibration(tmp_path):
    from test_sample import untrained_model

    model = untrained_model(("pig", "face", "eye"))
    model.name = "tiny"
    raw = sample.guess([model], SQUIGGLE, top=3)
    last = raw[-1][0]
    boosted = GuessCalibration({"tiny": 1.0}, {f"tiny/{category}": 50.0 if category == last else 0.0 for category, _ in raw})
    assert sample.guess([model], SQUIGGLE, top=3, calibration=boosted)[0][0] == last
    sharp = sample.guess([model], SQUIGGLE, top=3, calibration=GuessCalibration({"tiny": 0.01}))
    flat = sample.guess([model], SQUIGGLE, top=3, calibration=GuessCalibration({"tiny": 100.0}))
    assert [c for c, _ in sharp] == [c for c, _ in raw] == [c for c, _ in flat]
    assert sharp[0][1] > raw[0][1] > flat[0][1]


def test_the_bundled_calibration_covers_the_bundled_models():
    fitted = calibration.load_default()
    assert fitted is not None, "data/models/guess_calibration.json is missing: run sketchrnn calibrate-guess"
    guessing = [directory.name for directory in checkpoint.bundled_model_dirs()  # VAEs never guess
                if checkpoint.load_model(directory).config.kind == "decoder"]
    assert set(fitted.facts["models"]) == set(guessing), "refit after changing the bundled models"
    assert all(0 < t < 1 for t in fitted.temperatures.values()) and fitted.facts["examples"] > 0
    assert {"quickdraw6", "spg20"} <= set(fitted.temperatures)
    assert "quickdraw6/radio" in fitted.offsets and "spg20/suitcase" in fitted.slopes


def test_stand_ins_are_the_models_own_samples_in_the_simplified_format():
    from test_sample import untrained_model

    model = untrained_model(("cat", "dog"))
    made = calibration.stand_in_drawings(model, "cat", 20, seed=3)
    assert len(made) == 20
    for drawing in made:
        assert drawing.shape[1] == 3 and len(drawing) >= 2 and np.isfinite(drawing).all()
        points = np.concatenate(strokes.stroke3_to_polylines(drawing))
        assert np.ptp(points, axis=0).max() == pytest.approx(255.0, abs=1e-3)  # longer side spans 0-255
        assert points.min() >= -1e-3  # float32 offsets
    again = calibration.stand_in_drawings(model, "cat", 20, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(made, again))  # seeded
    assert not all(np.array_equal(a, b) for a, b in zip(made, calibration.stand_in_drawings(model, "dog", 20, seed=3)))


def test_a_category_without_validation_drawings_is_fitted_on_stand_ins_and_guessed(monkeypatch):
    """A model trained elsewhere (no data here) drawing cat, next to models whose data has pig and face:
    cat gets stand-ins as many as a typical category has drawings, and a fitted offset and slope."""
    from test_sample import untrained_model

    imported = untrained_model(("cat", "pig"), seed=1)
    imported.name = "imported"
    own = untrained_model(("pig", "face"), seed=2)
    own.name = "own"
    real = {"pig": calibration.stand_in_drawings(own, "pig", 6, seed=10),  # stand in for validation drawings
            "face": calibration.stand_in_drawings(own, "face", 4, seed=20)}
    monkeypatch.setattr(calibration, "validation_drawings", lambda models, per_category, seed=0: real)
    drawings, stand_ins = calibration.examples_to_fit([imported, own], per_category=30)
    assert stand_ins == {"imported/cat": 5}  # the median of 6 and 4; pig has real drawings, so no stand-ins
    assert len(drawings["cat"]) == 5 and drawings["pig"] == real["pig"] and drawings["face"] == real["face"]
    monkeypatch.setattr(calibration, "FIT_STEPS", 50)
    fitted = calibration.calibrate([imported, own], per_category=30)
    assert "imported/cat" in fitted.offsets and "imported" in fitted.temperatures
    assert fitted.facts["stand_ins"] == {"imported/cat": 5} and fitted.facts["examples"] == 2 * (6 + 4 + 5)


def test_models_trained_elsewhere_alone_are_calibrated_on_stand_ins():
    from test_sample import untrained_model

    imported = untrained_model(("cat", "dog"))
    drawings, stand_ins = calibration.examples_to_fit([imported], per_category=3)
    assert stand_ins == {f"{imported.name}/cat": 3, f"{imported.name}/dog": 3}
    assert sorted(drawings) == ["cat", "dog"]


def test_calibrate_guess_fits_a_users_own_model_on_its_validation_drawings(shared_data, tmp_path, capsys):
    from sketchrnn import cli
    from sketchrnn.train import TrainSettings, train

    run = tmp_path / "run"
    files = [str(shared_data / f"quickdraw_sketchrnn_{name}_2200.npz") for name in ("pig", "face")]
    train(TrainSettings(data=files, out=str(run), hidden_size=16, num_mixtures=3, batch_size=20, steps=4,
                        validate_every=4, checkpoint_every=4), log=lambda *_: None)
    out = tmp_path / "calibration.json"
    assert cli.main(["calibrate-guess", str(run / "best"), "--per-category", "3", "--out", str(out)]) == 0
    fitted = GuessCalibration.load(out)
    assert set(fitted.offsets) == set(fitted.slopes) == {"run/pig", "run/face"}
    assert list(fitted.temperatures) == ["run"] and fitted.facts["examples"] == 12  # 2 categories x 3 x (complete, cut)
    captured = capsys.readouterr()
    assert "temperatures run " in captured.out and "\r" not in captured.err  # not a terminal: plain lines
    assert fitted.exponents == {} and "length exponents" not in captured.out  # the default: a mean per point
    assert cli.main(["calibrate-guess", str(run / "best"), "--per-category", "3", "--out", str(out), "--length-exponents"]) == 0
    assert list(GuessCalibration.load(out).exponents) == ["run"] and "length exponents run " in capsys.readouterr().out
