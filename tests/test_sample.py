"""Sampling, completion and scoring: determinism, geometry, the compiled path vs Keras and a NumPy reference, bad input."""

import threading

import numpy as np
import pytest
import tensorflow as tf

from reference import NumpyDecoder
from sketchrnn import checkpoint, sample, strokes, svg
from sketchrnn.model import ModelConfig, Sampler, TrainedModel, build_network, inference, mixture_params
from sketchrnn.strokes import DataStats

SQUIGGLE = [[[10, 10], [40, 60], [80, 20], [120, 70]], [[30, 100], [60, 110], [90, 90]]]


def untrained_model(categories=("pig",), hidden_size=32, seed=0):
    """A real network with seeded random weights: enough to test the sampling machinery exactly."""
    tf.keras.utils.set_random_seed(seed)
    config = ModelConfig(hidden_size=hidden_size, num_mixtures=5, num_categories=len(categories), max_length=60)
    model = TrainedModel(build_network(config), config, DataStats(20.0, 8.0, 40.0), list(categories))
    bias = model.network.head.bias.numpy()
    bias[2] -= 4.0  # make "drawing ended" rare, so untrained endings have strokes to look at
    model.network.head.bias.assign(bias)
    return model


@pytest.fixture(scope="module")
def model():
    return untrained_model(("pig", "face", "eye"))


def random_stroke5(seed=0, points=25):
    """A random normalised drawing as stroke-5 ``[T, 5]`` (start token, points, end row)."""
    rng = np.random.default_rng(seed)
    stroke3 = np.column_stack([rng.normal(size=(points, 2)), rng.random(points) < 0.2]).astype(np.float32)
    return strokes.stroke3_to_stroke5(stroke3)


@pytest.mark.parametrize("categories", [("pig",), ("pig", "face", "eye")])
def test_compiled_step_matches_keras_and_the_numpy_reference(categories):
    model = untrained_model(categories)
    stroke5 = random_stroke5()
    category_ids = np.array([len(categories) - 1])
    inputs = tf.constant(stroke5[None])
    inputs = (inputs, tf.constant(category_ids)) if len(categories) > 1 else inputs
    keras_outputs, _ = model.network(inputs)
    numpy_outputs, _ = NumpyDecoder(model).run(stroke5[None], category_ids)
    compiled = model.sampler.score_outputs(stroke5, category_ids)
    expected = {k: v.numpy() for k, v in mixture_params(keras_outputs, 5, temperature=0.5).items()}
    for outputs in (numpy_outputs, compiled):
        got = mixture_params(tf.constant(outputs, tf.float32), 5, temperature=0.5)
        for key in expected:
            np.testing.assert_allclose(got[key].numpy(), expected[key], rtol=1e-4, atol=1e-5, err_msg=key)


def layer_norm_model(categories=("pig", "face")):
    """An untrained layer-normalised model with random (not initial) gains and shifts."""
    tf.keras.utils.set_random_seed(4)
    config = ModelConfig(hidden_size=16, num_mixtures=5, num_categories=len(categories), max_length=60, layer_norm=True)
    model = TrainedModel(build_network(config), config, DataStats(20.0, 8.0, 40.0), list(categories))
    norm = model.network.lstm.norm_weights
    norm.assign(norm.numpy() + np.random.default_rng(5).normal(scale=0.3, size=norm.shape).astype(np.float32))
    return model


def test_layer_norm_model_samples_alike_on_every_path(tmp_path):
    """Keras, the NumPy reference and the compiled step agree for a layer-normalised model, also after saving
    and loading."""
    saved = checkpoint.save_model(layer_norm_model(), tmp_path / "ln")
    model = checkpoint.load_model(saved)
    assert model.config.layer_norm
    stroke5 = random_stroke5()
    keras_outputs, _ = model.network((tf.constant(stroke5[None]), tf.constant([1])))
    reference = NumpyDecoder(model)
    numpy_outputs, _ = reference.run(stroke5[None], [1])
    for outputs in (numpy_outputs[0], model.sampler.score_outputs(stroke5, [1])[0]):
        np.testing.assert_allclose(outputs, keras_outputs.numpy()[0], rtol=1e-4, atol=1e-4)
    stroke3, _ = sample.canvas_to_model(SQUIGGLE, model, (256, 256))
    drawn = model.sampler.generate(stroke3, np.array([1]), 30, 1.0, seed=0, greedy=True)[0]
    np.testing.assert_allclose(drawn, reference.greedy_drawing(stroke3, 1, 30), rtol=1e-4, atol=1e-4)


def test_the_compiled_sampler_and_the_numpy_reference_draw_alike_greedily(model):
    """Greedy sampling has no randomness: the NumPy reference and the compiled loop give the same drawing."""
    stroke3, _ = sample.canvas_to_model(SQUIGGLE, model, (256, 256))
    drawn = model.sampler.generate(stroke3, np.array([2]), 30, 1.0, seed=0, greedy=True)[0]
    np.testing.assert_allclose(drawn, NumpyDecoder(model).greedy_drawing(stroke3, 2, 30), rtol=1e-4, atol=1e-4)


def test_the_sampler_is_built_once_per_model(model):
    assert model.sampler is model.sampler
    assert untrained_model().sampler is not model.sampler


class LatentStartNetwork:
    """A network whose decoder starts from a latent vector, as the VAE's does: here z is the state ``[hidden, cell]``."""

    def __init__(self, network):
        self.network = network

    def __getattr__(self, name):
        return getattr(self.network, name)

    def decoder_start(self, category_ids, z=None):
        bias, _, _ = self.network.decoder_start(category_ids)
        hidden, cell = tf.split(z, 2, axis=1)
        return bias, hidden, cell


def test_the_loops_start_where_the_network_says(model):
    """Scoring and drawing start from decoder_start's state (the VAE's comes from z), one z per batch row."""
    sampler = Sampler(LatentStartNetwork(model.network))
    z = np.random.default_rng(3).normal(size=(3, 64)).astype(np.float32)  # hidden and cell, 32 units each
    stroke5 = random_stroke5(points=10)
    keras_outputs, _ = model.network((tf.constant(stroke5[None]), tf.constant([1])),
                                     initial_state=[tf.constant(z[:1, :32]), tf.constant(z[:1, 32:])])
    np.testing.assert_allclose(sampler.score_outputs(stroke5, [1], z=z[:1]), keras_outputs.numpy(), rtol=1e-4, atol=1e-5)
    reference = NumpyDecoder(model)
    stroke3 = strokes.stroke5_to_stroke3(stroke5)
    prime = strokes.stroke3_to_stroke5(stroke3)[None, :-1].repeat(3, axis=0)
    _, state = reference.run(prime[:, :-1], [1, 1, 1], state=(z[:, :32], z[:, 32:]))
    first_output, _ = reference.step(reference.inputs(prime[:, -1], [1, 1, 1]), state)
    drawn = sampler.generate(stroke3, np.array([1, 1, 1]), 5, 1.0, seed=0, greedy=True, z=z)  # padded to 4 rows
    first_moves = np.array([ending[0, :2] for ending in drawn])
    np.testing.assert_allclose(first_moves, reference.greedy_row(first_output)[:, :2], rtol=1e-4, atol=1e-5)


def test_a_decoder_only_model_refuses_z(model):
    with pytest.raises(ValueError, match="no latent vector z"):
        model.sampler.generate(np.zeros((0, 3), np.float32), np.array([0]), 5, 1.0, seed=0, z=np.zeros((1, 8)))


def test_same_seed_same_drawing_and_svg(model):
    first = sample.sample(model, 3, temperature=0.7, seed=11, category="face")
    again = sample.sample(model, 3, temperature=0.7, seed=11, category="face")
    other = sample.sample(model, 3, temperature=0.7, seed=12, category="face")
    assert svg.grid_svg(first) == svg.grid_svg(again)
    assert svg.grid_svg(first) != svg.grid_svg(other)


def test_greedy_endings_are_identical(model):
    completion = sample.complete(model, SQUIGGLE, 2, greedy=True, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(*completion.endings))


def test_completion_continues_from_the_last_point(model):
    completion = sample.complete(model, SQUIGGLE, 4, temperature=0.5, seed=3, canvas_size=(256, 256))
    assert len(completion.endings) == 4 and all(completion.endings)
    assert [p.tolist() for p in completion.prime] == SQUIGGLE
    # greedy: the first move is the mixture's mean after priming, added to the person's last point
    greedy = sample.complete(model, SQUIGGLE, 1, greedy=True, category="face", canvas_size=(256, 256))
    stroke3, pixel_factor = sample.canvas_to_model(SQUIGGLE, model, (256, 256))
    first_move = NumpyDecoder(model).greedy_drawing(stroke3, model.category_id("face"), 1)[0, :2]
    expected_first_point = np.array(SQUIGGLE[-1][-1]) + first_move / pixel_factor
    np.testing.assert_allclose(greedy.endings[0][0][0], expected_first_point, rtol=1e-5)


def test_completion_is_deterministic_and_seed_dependent(model):
    a = sample.complete(model, SQUIGGLE, 3, seed=5)
    b = sample.complete(model, SQUIGGLE, 3, seed=5)
    c = sample.complete(model, SQUIGGLE, 3, seed=6)
    svg_a = [svg.completion_svg(a.prime, e) for e in a.endings]
    assert svg_a == [svg.completion_svg(b.prime, e) for e in b.endings]
    assert svg_a != [svg.completion_svg(c.prime, e) for e in c.endings]


def test_canvas_mapping_keeps_relative_size(model):
    small = [[[100, 100], [110, 110]]]
    large = [[[0, 0], [200, 200]]]
    small3, _ = sample.canvas_to_model(small, model, (256, 256))
    large3, _ = sample.canvas_to_model(large, model, (256, 256))
    assert strokes.drawing_extent(large3) == pytest.approx(20 * strokes.drawing_extent(small3), rel=1e-5)
    # a drawing filling CANVAS_FILL of the canvas gets the model's typical extent
    filled = [[[0, 0], [256 * sample.CANVAS_FILL, 0]]]
    filled3, _ = sample.canvas_to_model(filled, model, (256, 256))
    assert strokes.drawing_extent(filled3) == pytest.approx(model.stats.typical_extent, rel=1e-5)


def test_canvas_strokes_are_simplified_to_the_density_the_model_learned(model):
    """RDP at the model's simplify_epsilon, in a 0-255 frame where 255 is a drawing filling CANVAS_FILL of the canvas."""
    import dataclasses

    angles = np.linspace(0, 2 * np.pi, 800)  # a person's dense stroke: a point every 1.3 px
    circle = np.column_stack([200 + 160 * np.cos(angles), 200 + 160 * np.sin(angles)])
    counts = {}
    for epsilon in (0.5, 2.0):
        fine = dataclasses.replace(model.stats, simplify_epsilon=epsilon)
        roomy = dataclasses.replace(model.config, max_length=400)  # no point budget in the way
        with_stats = TrainedModel(model.network, roomy, fine, model.categories)
        stroke3, pixel_factor = sample.canvas_to_model([circle], with_stats, (400, 400))
        frame = circle * 255.0 / (sample.CANVAS_FILL * 400)
        assert len(stroke3) == len(sample.fit_point_budget([frame], 10**6, epsilon)[0])
        assert pixel_factor == pytest.approx(model.stats.typical_extent / (sample.CANVAS_FILL * 400))
        counts[epsilon] = len(stroke3)
    assert counts[0.5] > 1.5 * counts[2.0]


def test_huge_drawing_is_simplified_to_fit(model):
    angles = np.linspace(0, 40 * np.pi, 5000)
    spiral = np.column_stack([128 + angles * np.cos(angles), 128 + angles * np.sin(angles)])
    stroke3, _ = sample.canvas_to_model([spiral], model, (512, 512))
    assert len(stroke3) <= model.config.max_length - sample.MIN_ENDING_STEPS
    completion = sample.complete(model, [spiral.tolist()], 1, seed=0)
    assert len(completion.endings) == 1


BAD_DRAWINGS = [
    ([], "empty"),
    ([[]], "single dot"),
    ([[[5, 5]]], "single dot"),
    ([[[0, 0], ["a", 3]]], "other than numbers"),
    ([[[0, 0], [True, 3]]], "other than numbers"),
    ([[[0, 0], ["1", 3]]], "other than numbers"),
    ([[[0, 0], [float("nan"), 3]]], "NaN"),
    ([[[0, 0], [float("inf"), 3]]], "infinite"),
    ([[[0, 0], [1e12, 3]]], "absurdly large"),
    ([[[0, 0], [10**400, 3]]], "absurdly large"),  # a JSON integer no float can hold (was OverflowError)
    ([[[0, 0], [-(10**400), 3]]], "absurdly large"),
    ([[[0, 0], [None, 3]]], r"missing coordinate \(null\)"),  # was "NaN, infinite or absurdly large"
    ([[[0, 0], [1, None]]], "missing coordinate"),
    ([[[0, 0, 0], [1, 1, 1]]], r"\[x, y\] points"),
    ([[[0, 0], [1]]], r"\[x, y\] points"),
    ([[[0, 0], {"x": 1, "y": 2}]], r"\[x, y\] points"),
    ([[0, 0]], r"stroke 1 has a point that is not a pair"),
    ("not a drawing", "empty"),
    ({"drawing": []}, "empty"),
    ([5, 6], "not a list"),
    ([[[i, i] for i in range(sample.MAX_INPUT_POINTS + 1)]], "more than 20000 points"),
    ([[] for _ in range(sample.MAX_INPUT_POINTS + 1)], "more than 20000 strokes"),
]


@pytest.mark.parametrize("drawing, message", BAD_DRAWINGS)
def test_bad_drawings_are_refused(model, drawing, message):
    with pytest.raises(ValueError, match=message):
        sample.complete(model, drawing, 1)
    with pytest.raises(ValueError, match=message):
        sample.guess([model], drawing)


def test_numpy_strokes_are_accepted(model):
    drawing = [np.array(stroke, dtype=np.int32) for stroke in SQUIGGLE]
    assert [p.tolist() for p in sample.check_canvas_strokes(drawing)] == SQUIGGLE


# ----------------------------------------------------------------------------------------------
# Fitting any allowed drawing to the model's length, in bounded time


def count_rdp_passes(monkeypatch) -> list[int]:
    """Count calls of the RDP simplifier (one call = one vectorised pass over the drawing)."""
    calls = []
    real = strokes.rdp_polylines

    def counted(polylines, epsilon=strokes.RDP_EPSILON):
        calls.append(epsilon)
        return real(polylines, epsilon)

    monkeypatch.setattr(strokes, "rdp_polylines", counted)
    return calls


def finishes_within(seconds: float, function, *args):
    """``function(*args)``, failing the test (instead of hanging it) when it takes over ``seconds``.

    The call runs in a daemon thread, so a call that never ends cannot keep pytest from exiting.
    """
    outcome = {}

    def run():
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # handed back to the test below
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"{function.__name__} did not finish within {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def zigzag(points: int, amplitude: float = 400.0) -> np.ndarray:
    """RDP's worst case: every point far from every chord, one split per round."""
    x = np.arange(points, dtype=np.float64)
    return np.column_stack([x / 50, (x % 2) * amplitude])


ADVERSARIAL = {
    "101 two-point strokes (the issue's hang)": [[[i * 3, 0], [i * 3, 5]] for i in range(101)],
    "10,000 two-point strokes": [[[i % 400, i // 400 * 16], [i % 400, i // 400 * 16 + 5]] for i in range(10_000)],
    "20,000 dots": [[[i % 400, i // 400 * 8]] for i in range(20_000)],
    "a 20,000-point zigzag": [zigzag(20_000)],
    "200 zigzag strokes": [zigzag(100, 10) + [k % 20 * 20, k * 2] for k in range(200)],
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_any_allowed_drawing_fits_in_bounded_passes(model, monkeypatch, name):
    """Two-point strokes cannot shrink: the old loop raised epsilon forever. Now every drawing fits."""
    limit = model.config.max_length - sample.MIN_ENDING_STEPS
    passes = count_rdp_passes(monkeypatch)
    polylines = sample.check_canvas_strokes(ADVERSARIAL[name])
    stroke3, _ = finishes_within(5.0, sample.canvas_to_model, polylines, model, (400, 400))
    assert 2 <= len(stroke3) <= limit
    assert len(passes) <= sample.MAX_RDP_PASSES


def test_the_issues_hanging_drawing_completes_and_says_what_was_left_out(model):
    drawing = ADVERSARIAL["101 two-point strokes (the issue's hang)"]
    bundled_limit = 250 - sample.MIN_ENDING_STEPS  # the bundled models' length cap leaves 200 points
    kept = sample.fit_point_budget([np.array(s, dtype=np.float64) for s in drawing], bundled_limit)
    assert len(kept) == 100 and all(len(s) == 2 for s in kept), "only one stroke too many is left out"
    completion = sample.complete(model, drawing, 1, seed=0)
    limit = model.config.max_length - sample.MIN_ENDING_STEPS  # 10 for this small test model: 5 strokes
    assert completion.left_out == 101 - limit // 2
    assert len(completion.prime) == 101, "the person's drawing is shown whole"


def test_the_shortest_strokes_are_left_out_and_the_last_is_kept():
    long_line = np.array([[0.0, 0.0], [200.0, 0.0]])
    ticks = [np.array([[x, 10.0], [x, 10.0 + length]]) for x, length in ((10, 1), (20, 9), (30, 3), (40, 5))]
    last = np.array([[50.0, 50.0], [50.5, 50.0]])  # the shortest of all, but the endings continue it
    kept = sample.fit_point_budget([long_line, *ticks, last], limit=8)
    expected = [long_line, ticks[1], ticks[3], last]  # 12 points > 8: the ticks of length 1 and 3 go
    assert len(kept) == len(expected) and all(np.array_equal(a, b) for a, b in zip(kept, expected))


def test_a_long_stroke_is_simplified_not_cut(model):
    """Pieces for RDP's sake share their end points: the stroke comes back whole, start to end."""
    circle = np.column_stack([np.cos(np.linspace(0, 2 * np.pi, 3000)), np.sin(np.linspace(0, 2 * np.pi, 3000))])
    kept = sample.fit_point_budget([circle * 120 + 128], limit=200)
    assert len(kept) == 1 and len(kept[0]) <= 200
    np.testing.assert_allclose(kept[0][[0, -1]], (circle * 120 + 128)[[0, -1]])
    assert np.all(np.abs(np.hypot(*(kept[0] - 128).T) - 120) < 1e-9), "every kept point is a point of the circle"


@pytest.mark.parametrize("options, message", [
    ({"canvas_size": (float("nan"), float("nan"))}, "canvas size"),
    ({"canvas_size": (0, 0)}, "canvas size"),
    ({"canvas_size": (-1, -1)}, "canvas size"),
    ({"canvas_size": (10**400, 10)}, "canvas size"),
    ({"canvas_size": (400,)}, "canvas size"),
    ({"canvas_size": "400x400"}, "canvas size"),
    ({"max_steps": 0}, "max_steps"),
    ({"max_steps": "many"}, "max_steps"),
    ({"seed": 10**400}, "seed"),
    ({"seed": 10**5000}, "about 5001 digits"),  # too long even for str()
    ({"temperature": 10**400}, "temperature"),
    ({"temperature": True}, "temperature"),
    ({"n": True}, "whole number"),
])
def test_bad_completion_arguments_are_refused(model, options, message):
    with pytest.raises(ValueError, match=message) as raised:
        sample.complete(model, SQUIGGLE, **{"n": 1, **options})
    assert len(str(raised.value)) < 300, "a 400-digit number is not repeated in full"


@pytest.mark.parametrize("options, message", [
    ({"top": 0}, "top"), ({"top": "3"}, "top"), ({"top": None}, "top"), ({"canvas_size": (0, 1)}, "canvas size"),
])
def test_bad_guess_arguments_are_refused(model, options, message):
    with pytest.raises(ValueError, match=message):
        sample.guess([model], SQUIGGLE, **options)


@pytest.mark.parametrize("options, message", [
    ({"n": 0}, "1 to 16"), ({"n": 17}, "1 to 16"), ({"n": 2.5}, "whole number"),
    ({"temperature": 0}, r"\(0, 2\]"), ({"temperature": 2.5}, r"\(0, 2\]"), ({"temperature": float("nan")}, r"\(0, 2\]"),
    ({"category": "giraffe"}, "unknown category"), ({"pen_temperature": 0}, "pen temperature"),
])
def test_bad_options_are_refused(model, options, message):
    with pytest.raises(ValueError, match=message):
        sample.complete(model, SQUIGGLE, **{"n": 1, **options})


def test_an_unknown_category_is_named_readably_however_it_is_written():
    """Hypothesis sent a 400-digit number as the category to spg20: the message repeated it whole (over 500
    characters). It is cut short, and so is the list of a model of many categories."""
    many = untrained_model(tuple(f"category number {i}" for i in range(40)), seed=1)
    for category in (10**400, "x" * 1000, "giraffe"):
        with pytest.raises(ValueError, match="unknown category") as raised:
            sample.complete(many, SQUIGGLE, 1, category=category)
        message = str(raised.value)
        assert len(message) < 450 and "category number 0" in message and "(40 in all)" in message
    assert "unknown category 'giraffe'" in message


def test_guess_ranks_every_category(model):
    ranked = sample.guess([model, untrained_model(("radio", "pig"), seed=4)], SQUIGGLE, top=10)
    assert sorted(name for name, _ in ranked) == ["eye", "face", "pig", "radio"], "pig of both models is one entry"
    probabilities = [p for _, p in ranked]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) == pytest.approx(1.0)


def test_log_likelihood_matches_training_loss(model):
    """The scorer's per-point log-likelihood equals the training loss terms (minus the end row)."""
    rng = np.random.default_rng(2)
    stroke3 = np.column_stack([rng.normal(size=(12, 2)), rng.random(12) < 0.3]).astype(np.float32)
    from sketchrnn.model import reconstruction_loss

    stroke5 = strokes.stroke3_to_stroke5(stroke3)[None, :-1]  # no end row
    outputs, _ = model.network((tf.constant(stroke5[:, :-1]), tf.constant([1])))
    offset, pen = reconstruction_loss(outputs, tf.constant(stroke5[:, 1:]), 5)
    expected = -(float(offset[0]) + float(pen[0]))
    assert sample.log_likelihood(model, stroke3, [1])[0] == pytest.approx(expected, rel=1e-4)


def whole_drawings(completion) -> list:
    return [list(completion.prime) + list(ending) for ending in completion.endings]


def same_drawings(first, second) -> bool:
    return len(first) == len(second) and all(
        len(a) == len(b) and all(np.allclose(p, q) for p, q in zip(a, b)) for a, b in zip(first, second))


def test_tries_keep_the_endings_the_model_finds_most_like_the_category(model):
    """With tries, the endings kept are those of n * tries drawn (the same seed draws the same ones) that the
    model's own guess, by itself, gives the chosen category the highest probability for, best first."""
    options = {"temperature": 0.8, "seed": 3, "category": "face", "canvas_size": (300, 300)}
    drawn = sample.complete(model, SQUIGGLE, 6, **options)
    kept = sample.complete(model, SQUIGGLE, 2, tries=3, **options)
    face = [dict(sample.guess([model], whole, top=3, canvas_size=(300, 300)))["face"] for whole in whole_drawings(drawn)]
    best = np.argsort(face)[::-1][:2]
    assert face[best[0]] > face[best[1]] > min(face), "the seed draws endings the model tells apart"
    assert same_drawings(whole_drawings(kept), [whole_drawings(drawn)[i] for i in best])
    assert not same_drawings(whole_drawings(kept), whole_drawings(drawn)[:2]), "not simply the first two drawn"


def test_tries_rank_by_the_calibrated_guess_when_given_one(model):
    """A calibration under which every point makes a drawing more like pig and eye (a length slope on them)
    keeps the faces with the fewest points."""
    from sketchrnn.calibration import GuessCalibration

    calibration = GuessCalibration(temperatures={"": 1.0}, slopes={"/face": 0.0, "/pig": 100.0, "/eye": 100.0})
    options = {"temperature": 0.8, "seed": 3, "category": "face", "canvas_size": (300, 300)}
    drawn = whole_drawings(sample.complete(model, SQUIGGLE, 6, **options))
    kept = whole_drawings(sample.complete(model, SQUIGGLE, 2, tries=3, calibration=calibration, **options))
    points = [sample.canvas_score(model, whole, (300, 300))[1] for whole in drawn]
    assert sorted(points)[1] < sorted(points)[2], "the seed draws two endings shorter than the rest"
    assert sorted(sample.canvas_score(model, whole, (300, 300))[1] for whole in kept) == sorted(points)[:2]


def test_tries_choose_new_drawings_too(model):
    drawn = sample.sample(model, 4, temperature=0.8, seed=5, category="eye")
    kept = sample.sample(model, 2, temperature=0.8, seed=5, category="eye", tries=2)
    eye = [dict(sample.guess([model], drawing, top=3))["eye"] for drawing in drawn]
    assert same_drawings(kept, [drawn[i] for i in np.argsort(eye)[::-1][:2]])


def test_tries_change_nothing_where_there_is_nothing_to_choose(model):
    """A one-category model has nothing to compare with, and greedy endings are all alike: the first are kept."""
    alone = untrained_model(("pig",), seed=6)
    for chosen_from, options in ((alone, {}), (model, {"greedy": True, "category": "eye"})):
        first = sample.complete(chosen_from, SQUIGGLE, 2, seed=1, **options)
        tried = sample.complete(chosen_from, SQUIGGLE, 2, seed=1, tries=4, **options)
        assert same_drawings(whole_drawings(tried), whole_drawings(first))


@pytest.mark.parametrize("tries", [0, 5, 2.5, "3", True])
def test_bad_tries_are_refused(model, tries):
    with pytest.raises(ValueError, match="tries must be a whole number from 1 to 4"):
        sample.complete(model, SQUIGGLE, 1, tries=tries)
    with pytest.raises(ValueError, match="tries must be a whole number from 1 to 4"):
        sample.sample(model, 1, tries=tries)



def numpy_log_likelihood(outputs, row, num_mixtures):
    """log p(row) under one head output ``[6M + 3]``, untempered, in NumPy: the offset mixture density plus the pen
    state's log-probability; an end row (p3 = 1) has no offset, so only its pen state counts."""
    pen = outputs[:3] - np.logaddexp.reduce(outputs[:3])
    log_pen = float(pen[int(np.argmax(row[2:]))])
    if row[4] == 1.0:
        return log_pen
    pi, mu_x, mu_y, log_sx, log_sy, rho = np.split(outputs[3:].astype(np.float64), 6)
    sx, sy, rho = np.exp(np.clip(log_sx, -7, 5)), np.exp(np.clip(log_sy, -7, 5)), np.tanh(rho)
    zx, zy = (row[0] - mu_x) / sx, (row[1] - mu_y) / sy
    z = (zx**2 + zy**2 - 2 * rho * zx * zy) / (2 * (1 - rho**2))
    log_density = -z - np.log(2 * np.pi * sx * sy * np.sqrt(1 - rho**2))
    log_pi = pi - np.logaddexp.reduce(pi)
    return float(np.logaddexp.reduce(log_pi + log_density)) + log_pen


def test_a_guided_row_is_the_candidate_its_category_explains_best_against_the_others(model):
    """With a very large guidance, each ending keeps, of the candidate rows drawn from its own category (the
    plain sampler's draws for the same key) that have the first candidate's pen state, the one with the highest
    log p_c - log mean_k p_k (NumPy)."""
    sampler, candidates = model.sampler, model.sampler.guidance_candidates
    rng = np.random.default_rng(0)
    outputs = rng.normal(scale=1.5, size=(2, 3, 6 * 5 + 3))  # 2 endings x 3 categories
    outputs[..., :3] = [0.0, 0.0, -6.0]  # pen-down and pen-up rows alike, whose offsets the categories score differently
    outputs = tf.constant(outputs, tf.float32)
    targets = tf.constant([2, 0], tf.int32)
    key = tf.constant([7, 3], tf.int32)
    kept = sampler.guided_row(outputs, targets, key, 0.7, 1.0, 1e4).numpy()
    for ending, target in enumerate(targets.numpy()):
        own = tf.repeat(outputs[:, target], candidates, axis=0)  # the row order guided_row draws in
        drawn = sampler.next_row(own, key, 0.7, 1.0, False).numpy().reshape(2, candidates, 5)[ending]
        contrast = []
        for row in drawn:
            scores = [numpy_log_likelihood(outputs[ending, k].numpy(), row, 5) for k in range(3)]
            contrast.append(scores[target] - (np.logaddexp.reduce(scores) - np.log(3)))
        plain_pen = (drawn[:, 2:] == drawn[0, 2:]).all(axis=1)
        assert 2 < plain_pen.sum() < candidates, "some candidates have the first one's pen state, not all"
        contrast = np.where(plain_pen, contrast, -np.inf)
        best, second = sorted(contrast)[::-1][:2]
        assert best > second + 1e-3, "one candidate is clearly the one its category explains best"
        np.testing.assert_allclose(kept[ending], drawn[int(np.argmax(contrast))], rtol=1e-6)


def test_guidance_chooses_among_the_candidates_a_step_draws():
    """The sampler's candidate count is what guidance chooses among: with one candidate a step has nothing to
    choose, so every guidance draws the same; with the default 8 a stronger guidance draws differently."""
    start, drawn = np.zeros((0, 3), np.float32), {}
    for candidates in (1, inference.GUIDANCE_CANDIDATES):
        model = untrained_model(("pig", "face", "eye"), seed=2)
        model.sampler.guidance_candidates = candidates  # before the guided program is compiled
        drawn[candidates] = [model.sampler.generate(start, np.full(2, 1), 30, 0.8, 5, pen_temperature=1.0,
                                                    **sample.guided(model, guidance)) for guidance in (1.0, 16.0)]
    assert same_drawings(*drawn[1])
    assert not same_drawings(*drawn[inference.GUIDANCE_CANDIDATES])


def contrast_per_point(model, stroke3, category_id) -> float:
    """Mean per-point log-likelihood of a normalised drawing under its category, less the log of the mean
    likelihood over all the model's categories."""
    scores = sample.log_likelihood(model, stroke3, np.arange(len(model.categories)))
    return float(scores[category_id] - (np.logaddexp.reduce(scores) - np.log(len(scores))))


def test_guidance_draws_what_the_category_explains_better_than_the_others():
    """Drawings from the same seeds, plain and guided: guided ones are more the chosen category's and less the
    other categories' by the model's own likelihoods, and still drawings of several points."""
    model = untrained_model(("pig", "face", "eye"), seed=2)
    embedding = model.network.category_embedding.embeddings
    embedding.assign(embedding * 20.0)  # categories that draw differently enough to tell apart
    start = np.zeros((0, 3), np.float32)
    contrast = {}
    for guidance in (0.0, 8.0):
        drawn = model.sampler.generate(start, np.full(8, 1), 40, 0.8, 11, pen_temperature=1.0,
                                       **sample.guided(model, guidance))
        assert sum(len(d) for d in drawn) > 8 * 5, "drawings of several points each, on average"
        contrast[guidance] = np.mean([contrast_per_point(model, d, 1) for d in drawn])
    assert contrast[8.0] > contrast[0.0] + 0.1


def test_guided_drawings_follow_the_seed(model):
    options = {"temperature": 0.8, "category": "face", "canvas_size": (300, 300), "guidance": 8.0}
    first = whole_drawings(sample.complete(model, SQUIGGLE, 2, seed=4, **options))
    assert same_drawings(first, whole_drawings(sample.complete(model, SQUIGGLE, 2, seed=4, **options)))
    assert not same_drawings(first, whole_drawings(sample.complete(model, SQUIGGLE, 2, seed=5, **options)))
    plain = whole_drawings(sample.complete(model, SQUIGGLE, 2, seed=4, **{**options, "guidance": 0.0}))
    assert not same_drawings(first, plain)
    # guidance left out is the model's: the project's default, 8, for a model that has chosen none
    assert same_drawings(first, whole_drawings(sample.complete(model, SQUIGGLE, 2, seed=4, temperature=0.8,
                                                               category="face", canvas_size=(300, 300))))


def test_guidance_changes_nothing_where_there_is_nothing_to_compare(model):
    """A one-category model has no other category to compare with, and a greedy drawing takes the likeliest
    row: both draw as without guidance."""
    alone = untrained_model(("pig",), seed=6)
    for drawn_by, options in ((alone, {}), (model, {"greedy": True, "category": "eye"})):
        plain = sample.complete(drawn_by, SQUIGGLE, 2, seed=1, **options)
        guided = sample.complete(drawn_by, SQUIGGLE, 2, seed=1, guidance=8.0, **options)
        assert same_drawings(whole_drawings(guided), whole_drawings(plain))
    assert same_drawings(sample.sample(alone, 2, seed=1, guidance=8.0), sample.sample(alone, 2, seed=1))


def test_guidance_and_tries_together(model):
    """Tries choose among guided drawings: those kept are guided drawings, the model's most face-like of them."""
    options = {"temperature": 0.8, "seed": 3, "category": "face", "canvas_size": (300, 300), "guidance": 8.0}
    drawn = whole_drawings(sample.complete(model, SQUIGGLE, 6, **options))
    kept = whole_drawings(sample.complete(model, SQUIGGLE, 2, tries=3, **options))
    face = [dict(sample.guess([model], whole, top=3, canvas_size=(300, 300)))["face"] for whole in drawn]
    assert same_drawings(kept, [drawn[i] for i in np.argsort(face)[::-1][:2]])


@pytest.mark.parametrize("guidance", [-1.0, 17.0, float("nan"), float("inf"), "8", True])
def test_bad_guidance_is_refused(model, guidance):
    with pytest.raises(ValueError, match="guidance must be a number from 0 to 16"):
        sample.complete(model, SQUIGGLE, 1, guidance=guidance)
    with pytest.raises(ValueError, match="guidance must be a number from 0 to 16"):
        sample.sample(model, 1, guidance=guidance)


def test_warm_up_compiles_the_guided_program(model):
    model.sampler.warm_up((2,), guided_categories=3)
    traced = model.sampler.loops.compiled_guided.experimental_get_tracing_count()
    sample.sample(model, 2, seed=1, category="pig", guidance=4.0)
    assert model.sampler.loops.compiled_guided.experimental_get_tracing_count() == traced


def test_models_of_one_shape_share_compiled_loops_yet_draw_with_their_own_weights():
    first, other, again = untrained_model(seed=0), untrained_model(seed=1), untrained_model(seed=0)
    assert first.sampler.loops is other.sampler.loops is again.sampler.loops
    assert untrained_model(hidden_size=48).sampler.loops is not first.sampler.loops
    drawn = sample.sample(first, 2, seed=3, temperature=0.8, tries=1, guidance=0.0)
    loop = first.sampler.loops.compiled_sample
    traced = loop.experimental_get_tracing_count()
    # another model of that shape: no new trace, and its own weights draw (another model's drawings are not its)
    by_other = sample.sample(other, 2, seed=3, temperature=0.8, tries=1, guidance=0.0)
    by_again = sample.sample(again, 2, seed=3, temperature=0.8, tries=1, guidance=0.0)
    assert loop.experimental_get_tracing_count() == traced
    points = lambda drawings: [np.concatenate([np.zeros((0, 2)), *polylines]) for polylines in drawings]  # noqa: E731
    assert any(a.shape != b.shape or not np.allclose(a, b) for a, b in zip(points(drawn), points(by_other)))
    assert all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(points(drawn), points(by_again)))
