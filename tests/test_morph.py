"""Redrawing and morphing with the VAE (sketchrnn.morph) and their commands, on a tiny VAE trained for real."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from sketchrnn import checkpoint, cli, morph, sample
from test_sample import untrained_model

SVG = "{http://www.w3.org/2000/svg}"
CANVAS = (400, 400)
SQUIGGLE = [[[100, 100], [140, 160], [180, 100], [220, 160]], [[120, 220], [200, 220]]]
BOX = [[[60, 60], [300, 60], [300, 300], [60, 300], [60, 60]], [[150, 150], [200, 200]]]
RNG = np.random.default_rng(3)


@pytest.fixture(scope="module")
def vae(tiny_vae):
    return checkpoint.load_model(tiny_vae)


@pytest.fixture(scope="module")
def decoder_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("decoder") / "pigs"
    checkpoint.save_model(untrained_model(("pig",)), directory)
    return directory


def centre(polylines) -> np.ndarray:
    points = np.concatenate(polylines)
    return (points.min(axis=0) + points.max(axis=0)) / 2


def drawn(drawings):
    """The drawings that have any points (a tiny model may end a drawing at once)."""
    return [drawing for drawing in drawings if drawing]


# ----------------------------------------------------------------------------------------------
# slerp


def test_slerp_starts_and_ends_exactly_at_the_two_vectors():
    z0, z1 = RNG.normal(size=16), RNG.normal(size=16)
    assert np.array_equal(morph.slerp(z0, z1, 0.0), z0)
    assert np.array_equal(morph.slerp(z0, z1, 1.0), z1)
    path = morph.slerp(z0, z1, np.linspace(0, 1, 7))
    assert path.shape == (7, 16)
    assert np.array_equal(path[0], z0) and np.array_equal(path[-1], z1)


def test_slerp_keeps_unit_vectors_on_the_sphere_at_an_even_pace():
    z0, z1 = (v / np.linalg.norm(v) for v in RNG.normal(size=(2, 32)))
    omega = math.acos(np.dot(z0, z1))
    fractions = np.linspace(0, 1, 11)
    path = morph.slerp(z0, z1, fractions)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-12)
    angles = np.arccos(np.clip(path @ z0, -1, 1))  # the angle from z0 grows linearly with t
    np.testing.assert_allclose(angles, fractions * omega, atol=1e-7)


@pytest.mark.parametrize("z1_of", [lambda z: 2.5 * z, lambda z: -z, lambda z: np.zeros_like(z)])
def test_slerp_is_linear_when_the_vectors_are_parallel_or_zero(z1_of):
    z0 = RNG.normal(size=8)
    z1 = z1_of(z0)
    np.testing.assert_allclose(morph.slerp(z0, z1, 0.25), 0.75 * z0 + 0.25 * z1)
    assert np.all(np.isfinite(morph.slerp(np.zeros(8), np.zeros(8), 0.5)))


# ----------------------------------------------------------------------------------------------
# encode, reconstruct, interpolate


def test_encode_gives_the_posterior_mean_or_a_seeded_sample(vae):
    mean = morph.encode(vae, SQUIGGLE, canvas_size=CANVAS)
    assert mean.z.shape == (vae.config.latent_size,) and np.array_equal(mean.z, mean.mu)
    assert np.array_equal(morph.encode(vae, SQUIGGLE, canvas_size=CANVAS).z, mean.z)
    first = morph.encode(vae, SQUIGGLE, canvas_size=CANVAS, sample=True, seed=1)
    assert np.array_equal(first.z, morph.encode(vae, SQUIGGLE, canvas_size=CANVAS, sample=True, seed=1).z)
    assert not np.array_equal(first.z, mean.z)
    assert not np.array_equal(first.z, morph.encode(vae, SQUIGGLE, canvas_size=CANVAS, sample=True, seed=2).z)
    np.testing.assert_allclose(centre(mean.strokes), [160, 160])


def test_reconstruct_redraws_n_times_where_the_drawing_was(vae):
    redrawing = morph.reconstruct(vae, SQUIGGLE, 4, temperature=0.4, seed=5, canvas_size=CANVAS)
    assert len(redrawing.redrawings) == 4 and redrawing.left_out == 0
    assert np.array_equal(redrawing.z, np.tile(morph.encode(vae, SQUIGGLE, canvas_size=CANVAS).mu, (4, 1)))
    assert drawn(redrawing.redrawings), "at least one redrawing has strokes"
    for drawing in drawn(redrawing.redrawings):
        np.testing.assert_allclose(centre(drawing), [160, 160], atol=1e-6)
    again = morph.reconstruct(vae, SQUIGGLE, 4, temperature=0.4, seed=5, canvas_size=CANVAS)
    assert all(len(a) == len(b) and all(np.array_equal(p, q) for p, q in zip(a, b))
               for a, b in zip(redrawing.redrawings, again.redrawings))
    other = morph.reconstruct(vae, SQUIGGLE, 4, temperature=0.4, seed=6, canvas_size=CANVAS)
    assert any(len(a) != len(b) or not all(np.array_equal(p, q) for p, q in zip(a, b))
               for a, b in zip(redrawing.redrawings, other.redrawings))


def test_reconstruct_scales_back_to_the_drawing_size(vae):
    """Twice as large and elsewhere (no canvas size: each fills the model's typical size): the same z and
    the same redrawings, twice as large, centred where each drawing was."""
    small = morph.reconstruct(vae, SQUIGGLE, 2, seed=3)
    large_strokes = [[[2 * x + 500, 2 * y - 40] for x, y in stroke] for stroke in SQUIGGLE]
    large = morph.reconstruct(vae, large_strokes, 2, seed=3)
    np.testing.assert_allclose(small.z, large.z, atol=1e-6)
    for a, b in zip(drawn(small.redrawings), drawn(large.redrawings)):
        np.testing.assert_allclose(np.concatenate(b), 2 * (np.concatenate(a) - [160, 160]) + [820, 280], atol=1e-3)


def test_reconstruct_from_posterior_samples_gives_each_redrawing_its_own_z(vae):
    redrawing = morph.reconstruct(vae, SQUIGGLE, 3, seed=9, sample=True, canvas_size=CANVAS)
    assert len({row.tobytes() for row in redrawing.z}) == 3
    assert np.array_equal(redrawing.z, morph.reconstruct(vae, SQUIGGLE, 3, seed=9, sample=True, canvas_size=CANVAS).z)


def test_interpolation_ends_are_exactly_the_two_encodings(vae):
    interpolation = morph.interpolate(vae, SQUIGGLE, BOX, 5, temperature=0.1, seed=2, canvas_size=CANVAS)
    assert len(interpolation.drawings) == 5 and interpolation.z.shape == (5, vae.config.latent_size)
    np.testing.assert_array_equal(interpolation.fractions, [0, 0.25, 0.5, 0.75, 1])
    assert np.array_equal(interpolation.z[0], morph.encode(vae, SQUIGGLE, canvas_size=CANVAS).z)
    assert np.array_equal(interpolation.z[-1], morph.encode(vae, BOX, canvas_size=CANVAS).z)
    np.testing.assert_allclose(interpolation.z, morph.slerp(interpolation.z[0], interpolation.z[-1],
                                                            interpolation.fractions), atol=1e-6)
    assert interpolation.start[0].tolist() == SQUIGGLE[0] and interpolation.end[0].tolist() == BOX[0]


def test_every_step_of_an_interpolation_is_decoded_from_its_z_with_the_same_seed(vae):
    interpolation = morph.interpolate(vae, SQUIGGLE, BOX, 3, temperature=0.3, seed=4, canvas_size=CANVAS)
    for z, drawing in zip(interpolation.z, interpolation.drawings):
        (stroke3,) = morph.decode(vae, z[None], temperature=0.3, seed=4)
        assert [len(stroke) for stroke in drawing] == [len(stroke) for stroke in morph.to_canvas(stroke3, [0, 0], 1.0)]
    first, last = interpolation.drawings[0], interpolation.drawings[-1]
    if first and last:  # placed where the two drawings were
        np.testing.assert_allclose(centre(first), [160, 160], atol=1e-6)
        np.testing.assert_allclose(centre(last), [180, 180], atol=1e-6)
    again = morph.interpolate(vae, SQUIGGLE, BOX, 3, temperature=0.3, seed=4, canvas_size=CANVAS)
    assert [len(d) for d in again.drawings] == [len(d) for d in interpolation.drawings]


def test_a_decoder_only_model_cannot_redraw(decoder_dir):
    decoder = checkpoint.load_model(decoder_dir)
    message = r"pigs is a decoder-only model: it cannot redraw .* --model vae"
    with pytest.raises(ValueError, match=message):
        morph.encode(decoder, SQUIGGLE)
    with pytest.raises(ValueError, match=message):
        morph.reconstruct(decoder, SQUIGGLE)
    with pytest.raises(ValueError, match=message):
        morph.interpolate(decoder, SQUIGGLE, BOX)


BAD_DRAWINGS = [
    [],
    [[]],
    [[[50, 50]]],
    "junk",
    [[[math.nan, 1], [2, 3]]],
    [[[None, 1], [2, 3]]],
    [[[10**400, 1], [2, 3]]],
    [[[1.0, 2.0]] * (sample.MAX_INPUT_POINTS + 1)],
]


@pytest.mark.parametrize("strokes", BAD_DRAWINGS)
def test_bad_drawings_get_the_messages_completion_gives(vae, strokes):
    with pytest.raises(ValueError) as expected:
        sample.check_canvas_strokes(strokes)
    with pytest.raises(ValueError, match=re.escape(str(expected.value))):
        morph.reconstruct(vae, strokes)
    with pytest.raises(ValueError, match=re.escape(str(expected.value))):
        morph.interpolate(vae, SQUIGGLE, strokes)


@pytest.mark.parametrize("call, message", [
    (lambda model: morph.reconstruct(model, SQUIGGLE, 0), "number of drawings"),
    (lambda model: morph.reconstruct(model, SQUIGGLE, 17), "number of drawings"),
    (lambda model: morph.reconstruct(model, SQUIGGLE, temperature=0), "temperature"),
    (lambda model: morph.reconstruct(model, SQUIGGLE, seed=-1), "seed"),
    (lambda model: morph.interpolate(model, SQUIGGLE, BOX, 1), "number of steps"),
    (lambda model: morph.interpolate(model, SQUIGGLE, BOX, 17), "number of steps"),
    (lambda model: morph.interpolate(model, SQUIGGLE, BOX, 2.5), "number of steps"),
    (lambda model: morph.interpolate(model, SQUIGGLE, BOX, temperature=math.nan), "temperature"),
    (lambda model: morph.encode(model, SQUIGGLE, canvas_size=(0, 10)), "canvas size"),
])
def test_bad_settings_are_refused(vae, call, message):
    with pytest.raises(ValueError, match=message):
        call(vae)


# ----------------------------------------------------------------------------------------------
# sketchrnn reconstruct / interpolate


def write_json(path, value):
    path.write_text(json.dumps(value))
    return path


def nested_svgs(path):
    return ElementTree.parse(path).getroot().findall(f"{SVG}svg")


def test_reconstruct_command_writes_the_drawing_beside_its_redrawings(tiny_vae, tmp_path, capsys):
    source = write_json(tmp_path / "drawing.json", SQUIGGLE)
    out = tmp_path / "row.svg"
    arguments = ["reconstruct", str(tiny_vae), "--input", str(source), "--n", "3", "--seed", "2", "--out"]
    assert cli.main([*arguments, str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    cells = nested_svgs(out)
    assert len(cells) == 4
    assert {group.get("stroke") for group in cells[0].iter(f"{SVG}g")} == {"#1f1f1f"}
    assert cli.main([*arguments, str(tmp_path / "again.svg")]) == 0
    assert out.read_bytes() == (tmp_path / "again.svg").read_bytes()
    assert cli.main([*arguments, str(tmp_path / "sampled.svg"), "--sample-z"]) == 0


def test_interpolate_command_writes_a_strip_and_an_animated_morph(tiny_vae, tmp_path):
    start, end = write_json(tmp_path / "a.json", SQUIGGLE), write_json(tmp_path / "b.json", {"drawing": [
        [[60, 300, 300, 60, 60], [60, 60, 300, 300, 60]]]})
    strip, animated = tmp_path / "out" / "strip.svg", tmp_path / "morph.svg"
    assert cli.main(["interpolate", str(tiny_vae), "--from", str(start), "--to", str(end), "--steps", "6",
                     "--out", str(strip), "--animated", str(animated)]) == 0
    assert len(nested_svgs(strip)) == 8  # the two drawings and the six steps between
    root = ElementTree.parse(animated).getroot()
    frames = root.findall(f"{SVG}g")
    animations = [frame.find(f"{SVG}animate") for frame in frames]
    assert len(frames) == 6 and all(a.get("attributeName") == "visibility" for a in animations)
    assert all(a.get("repeatCount") == "indefinite" and a.get("calcMode") == "discrete" for a in animations)
    assert not list(root.iter(f"{SVG}script"))


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ("[]", "empty"),
    ("[[[0, 0], [NaN, 1]]]", "NaN"),
    ("[[[5, 5]]]", "single dot"),
    ('"a pig"', "not a drawing"),
])
def test_commands_explain_bad_drawings_without_a_traceback(tiny_vae, tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = write_json(tmp_path / "good.json", SQUIGGLE)
    for arguments in (["reconstruct", str(tiny_vae), "--input", str(bad)],
                      ["interpolate", str(tiny_vae), "--from", str(good), "--to", str(bad)]):
        assert cli.main([*arguments, "--out", str(tmp_path / "x.svg")]) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: ") and message in error and "Traceback" not in error
    assert not (tmp_path / "x.svg").exists()


def test_commands_refuse_a_decoder_only_model_and_bad_settings(tiny_vae, decoder_dir, tmp_path, capsys):
    source = write_json(tmp_path / "drawing.json", SQUIGGLE)
    cases = [
        (["reconstruct", str(decoder_dir), "--input", str(source)], "decoder-only model"),
        (["interpolate", str(decoder_dir), "--from", str(source), "--to", str(source)], "decoder-only model"),
        (["interpolate", str(tiny_vae), "--from", str(source), "--to", str(source), "--steps", "40"], "steps"),
        (["reconstruct", str(tiny_vae), "--input", str(source), "--n", "0"], "number of drawings"),
        (["reconstruct", str(tmp_path / "nowhere"), "--input", str(source)], "nowhere"),
        (["reconstruct", str(tiny_vae), "--input", str(tmp_path / "missing.json")], "missing.json"),
    ]
    for arguments, message in cases:
        assert cli.main([*arguments, "--out", str(tmp_path / "x.svg")]) == 2, arguments
        error = capsys.readouterr().err
        assert error.startswith("error: ") and message in error and "Traceback" not in error, error


def test_commands_default_to_the_bundled_vae(tiny_vae, decoder_dir, tmp_path, capsys, monkeypatch):
    source = write_json(tmp_path / "drawing.json", SQUIGGLE)
    arguments = ["reconstruct", "--input", str(source), "--n", "1", "--out", str(tmp_path / "x.svg")]
    monkeypatch.setattr(checkpoint, "bundled_model_dirs", lambda: [decoder_dir])
    assert cli.main(arguments) == 2
    assert "no bundled VAE" in capsys.readouterr().err
    monkeypatch.setattr(checkpoint, "bundled_model_dirs", lambda: [decoder_dir, tiny_vae])
    assert cli.main(arguments) == 0
    assert len(nested_svgs(tmp_path / "x.svg")) == 2


@pytest.mark.parametrize("command", ["complete", "sample"])
def test_drawing_commands_point_a_vae_to_reconstruct_and_interpolate(tiny_vae, tmp_path, capsys, command):
    drawing = write_json(tmp_path / "drawing.json", SQUIGGLE)
    arguments = [command, str(tiny_vae), "--out", str(tmp_path / "x.svg")] + (
        ["--input", str(drawing)] if command == "complete" else [])
    assert cli.main(arguments) == 2
    error = capsys.readouterr().err
    assert "is a VAE" in error and "sketchrnn reconstruct" in error and "Traceback" not in error
    assert not (tmp_path / "x.svg").exists()
