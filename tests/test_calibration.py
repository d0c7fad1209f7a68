"""Calibrating "what are you drawing?": the fit, the file, and its effect on guess."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sketchrnn import calibration, checkpoint, sample
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


def top1(keys, scores, labels, temperature=1.0, offsets=None):
    """How often the category with the highest (calibrated) logit is the label."""
    offsets = np.array([(offsets or {}).get(key, 0.0) for key in keys])
    logits = scores / temperature + offsets
    categories = sorted({key.split("/")[1] for key in keys})
    hits = 0
    for row, label in zip(logits, labels):
        best = {c: max(v for key, v in zip(keys, row) if key.endswith("/" + c)) for c in categories}
        hits += max(best, key=best.get) == label
    return hits / len(labels)


def test_fit_removes_a_model_bias_and_sharpens_flat_scores():
    rng = np.random.default_rng(0)
    keys, scores, labels = synthetic_scores(rng)
    assert top1(keys, scores, labels) < 0.5  # raw: 'dog' wins almost always
    temperature, offsets, cross_entropy = calibration.fit(keys, scores, labels)
    assert temperature < 0.2  # the signal is 0.1 nats per point: the softmax must be sharpened
    assert offsets["b/dog"] < offsets["b/pig"] - 1.0  # the inflated model's dog is pulled back
    test_keys, test_scores, test_labels = synthetic_scores(np.random.default_rng(1))
    assert top1(test_keys, test_scores, test_labels, temperature, offsets) > 0.75  # raw: below 0.5
    assert cross_entropy < np.log(3)  # better than knowing nothing


def test_calibration_file_round_trip_and_damage(tmp_path):
    original = GuessCalibration(0.1, {"m/pig": 0.5, "m/cat": -0.25}, {"examples": 10})
    path = original.save(tmp_path / "calibration.json")
    assert GuessCalibration.load(path) == original
    assert original.default_offset() == pytest.approx(0.125)
    path.write_text(json.dumps({"temperature": -1, "offsets": {}}))
    with pytest.raises(ValueError, match="temperature must be positive"):
        GuessCalibration.load(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="calibrate-guess"):
        GuessCalibration.load(path)


def test_guess_applies_the_calibration(tmp_path):
    from test_sample import untrained_model

    model = untrained_model(("pig", "face", "eye"))
    model.name = "tiny"
    raw = sample.guess([model], SQUIGGLE, top=3)
    last = raw[-1][0]
    boosted = GuessCalibration(1.0, {f"tiny/{category}": 50.0 if category == last else 0.0 for category, _ in raw})
    assert sample.guess([model], SQUIGGLE, top=3, calibration=boosted)[0][0] == last
    sharp = sample.guess([model], SQUIGGLE, top=3, calibration=GuessCalibration(0.01, {}))
    flat = sample.guess([model], SQUIGGLE, top=3, calibration=GuessCalibration(100.0, {}))
    assert [c for c, _ in sharp] == [c for c, _ in raw] == [c for c, _ in flat]
    assert sharp[0][1] > raw[0][1] > flat[0][1]


def test_the_bundled_calibration_covers_the_bundled_models():
    fitted = calibration.load_default()
    assert fitted is not None, "data/models/guess_calibration.json is missing: run sketchrnn calibrate-guess"
    guessing = [directory.name for directory in checkpoint.bundled_model_dirs()  # VAEs never guess
                if checkpoint.load_model(directory).config.kind == "decoder"]
    assert set(fitted.facts["models"]) == set(guessing), "refit after changing the bundled models"
    assert 0 < fitted.temperature < 1 and fitted.facts["examples"] > 0
    assert "quickdraw6/radio" in fitted.offsets and "spg20/suitcase" in fitted.offsets
