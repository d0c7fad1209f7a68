"""Sampling, completion and scoring: determinism, geometry, fast path vs the Keras reference, bad input."""

import numpy as np
import pytest
import tensorflow as tf

from sketchrnn import checkpoint, sample, strokes, svg
from sketchrnn.model import ModelConfig, mixture_params
from sketchrnn.strokes import DataStats

SQUIGGLE = [[[10, 10], [40, 60], [80, 20], [120, 70]], [[30, 100], [60, 110], [90, 90]]]


def untrained_model(categories=("pig",), hidden_size=32, seed=0):
    """A real network with seeded random weights: enough to test the sampling machinery exactly."""
    tf.keras.utils.set_random_seed(seed)
    config = ModelConfig(hidden_size=hidden_size, num_mixtures=5, num_categories=len(categories), max_length=60)
    model = checkpoint.TrainedModel(checkpoint.build_network(config), config, DataStats(20.0, 8.0, 40.0), list(categories))
    bias = model.network.head.bias.numpy()
    bias[2] -= 4.0  # make "drawing ended" rare, so untrained endings have strokes to look at
    model.network.head.bias.assign(bias)
    return model


@pytest.fixture(scope="module")
def model():
    return untrained_model(("pig", "face", "eye"))


@pytest.mark.parametrize("categories", [("pig",), ("pig", "face", "eye")])
def test_numpy_step_matches_keras_reference(categories):
    model = untrained_model(categories)
    rng = np.random.default_rng(0)
    stroke3 = np.column_stack([rng.normal(size=(25, 2)), rng.random(25) < 0.2]).astype(np.float32)
    stroke5 = strokes.stroke3_to_stroke5(stroke3)[None]
    category_ids = np.array([len(categories) - 1])
    inputs = (tf.constant(stroke5), tf.constant(category_ids)) if len(categories) > 1 else tf.constant(stroke5)
    reference, _ = model.network(inputs)
    decoder = sample.NumpyDecoder(model)
    fast, _ = decoder.run(stroke5, decoder.step_bias(category_ids))
    graph = sample.graph_sampler(model)
    compiled = graph.teacher_forced(tf.constant(stroke5), graph.step_bias(category_ids)).numpy()
    expected = {k: v.numpy() for k, v in mixture_params(reference, 5, temperature=0.5).items()}
    for outputs in (fast, compiled):
        got = sample.mixture_params(outputs, 5, temperature=0.5)
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-4, atol=1e-5, err_msg=key)


def test_numpy_sampler_and_graph_sampler_draw_alike_greedily(model):
    """Greedy sampling has no randomness: the NumPy loop and the compiled loop give the same drawing."""
    stroke3, _ = sample.canvas_to_model(SQUIGGLE, model, (256, 256))
    graph = sample.graph_sampler(model).generate(stroke3, np.array([2]), 30, 1.0, seed=0, greedy=True)[0]
    decoder = sample.NumpyDecoder(model)
    bias = decoder.step_bias([2])
    state, last_row = sample.prime_state(decoder, stroke3, bias)
    numpy = sample.numpy_generate(decoder, state, last_row, bias, 30, 1.0, np.random.default_rng(0), greedy=True)[0]
    np.testing.assert_allclose(graph, numpy, rtol=1e-4, atol=1e-4)


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
    decoder = sample.NumpyDecoder(model)
    stroke3, pixel_factor = sample.canvas_to_model(SQUIGGLE, model, (256, 256))
    bias = decoder.step_bias([model.category_id("face")])
    state, last_row = sample.prime_state(decoder, stroke3, bias)
    output, _ = decoder.step(last_row, state, bias)
    first_move = sample.next_rows(output, decoder.num_mixtures, 1.0, np.random.default_rng(0), greedy=True)[0, :2]
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


def test_huge_drawing_is_simplified_to_fit(model):
    angles = np.linspace(0, 40 * np.pi, 5000)
    spiral = np.column_stack([128 + angles * np.cos(angles), 128 + angles * np.sin(angles)])
    stroke3, _ = sample.canvas_to_model([spiral], model, (512, 512))
    assert len(stroke3) <= model.config.max_length - sample.MIN_ENDING_STEPS
    completion = sample.complete(model, [spiral.tolist()], 1, seed=0)
    assert len(completion.endings) == 1


@pytest.mark.parametrize(
    "drawing, message",
    [
        ([], "empty"),
        ([[]], "single dot"),
        ([[[5, 5]]], "single dot"),
        ([[[0, 0], ["a", 3]]], "other than numbers"),
        ([[[0, 0], [float("nan"), 3]]], "NaN"),
        ([[[0, 0], [1e12, 3]]], "absurdly large"),
        ([[[0, 0, 0], [1, 1, 1]]], r"\[x, y\] points"),
        ("not a drawing", "empty"),
        ([5, 6], "not a list"),
        ([[[i, i] for i in range(sample.MAX_INPUT_POINTS + 1)]], "more than"),
    ],
)
def test_bad_drawings_are_refused(model, drawing, message):
    with pytest.raises(ValueError, match=message):
        sample.complete(model, drawing, 1)


@pytest.mark.parametrize("options, message", [
    ({"n": 0}, "1 to 16"), ({"n": 17}, "1 to 16"), ({"n": 2.5}, "whole number"),
    ({"temperature": 0}, r"\(0, 2\]"), ({"temperature": 2.5}, r"\(0, 2\]"), ({"temperature": float("nan")}, r"\(0, 2\]"),
    ({"category": "giraffe"}, "unknown category"), ({"pen_temperature": 0}, "pen temperature"),
])
def test_bad_options_are_refused(model, options, message):
    with pytest.raises(ValueError, match=message):
        sample.complete(model, SQUIGGLE, **{"n": 1, **options})


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
