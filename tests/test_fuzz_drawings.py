"""Property-based fuzzing: arbitrary JSON thrown at completion and guessing, on the bundled models.

Whatever arrives (a browser, a hand-made API call, a JSON file given to the CLI), `sample.complete`
and `sample.guess` answer with a valid result or a ValueError with a message, and the demo's event
functions with a valid result or a gr.Error with a message: never another exception, never a hang
(each call must finish within CALL_LIMIT_TIMES the time of a plain call, measured in the same session, so a
slow or busy machine is judged against itself). Hypothesis generates the inputs: any JSON value (null,
booleans, integers far too large for a float, NaN and infinite floats, strings, lists, objects),
drawing-shaped values with junk in them, and big structured drawings (hundreds of strokes).
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sketchrnn import checkpoint, demo, sample

# One completion or guess, whatever its input, takes at most this many times a plain one measured in the same
# session (at least MIN_CALL_LIMIT_S): bounded work, judged against this machine's own speed, not a fixed clock
CALL_LIMIT_TIMES = 25
MIN_CALL_LIMIT_S = 5.0
PLAIN_DRAWING = [[[100, 100], [150, 90], [200, 120], [210, 180]], [[120, 200], [180, 210]]]
FUZZ_SETTINGS = settings(  # ~100 examples per property: 2-6 s each here, after a ~30 s warm-up of the two models
    max_examples=100, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ----------------------------------------------------------------------------------------------
# Strategies

HUGE_INTEGERS = st.sampled_from([10**400, -(10**400), 2**64, 2**1024, 10**16])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), HUGE_INTEGERS, st.floats(), st.text(max_size=8)
)  # st.floats() includes NaN, infinities, -0.0 and 1e308
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=30,
)
COORDINATES = st.one_of(
    st.floats(-2000, 2000), st.integers(-(10**6), 10**6), st.sampled_from([0, 1e6, -1e6, 1e-300, 5e-324])
)
POINTS = st.lists(COORDINATES, min_size=2, max_size=2)
DRAWINGS = st.lists(st.lists(POINTS, max_size=25), min_size=1, max_size=6)


@st.composite
def drawings_with_junk(draw):
    """A drawing with one point, coordinate or stroke replaced by any JSON value."""
    drawing = draw(DRAWINGS.filter(lambda strokes: any(strokes)))
    junk = draw(JSON)
    stroke = draw(st.sampled_from([s for s in drawing if s]))
    where = draw(st.sampled_from(["coordinate", "point", "stroke"]))
    index = draw(st.integers(0, len(stroke) - 1))
    if where == "coordinate":
        stroke[index] = [junk, stroke[index][1]]
    elif where == "point":
        stroke[index] = junk
    else:
        drawing[drawing.index(stroke)] = junk
    return drawing


@st.composite
def many_strokes(draw):
    """Hundreds of short strokes (the old endless loop), or a few very long zigzags (RDP's worst case)."""
    count = draw(st.integers(1, 600))
    if draw(st.booleans()):
        length = draw(st.floats(0, 30))
        return [[[i % 40 * 10, i // 40 * 10], [i % 40 * 10, i // 40 * 10 + length]] for i in range(count)]
    points = draw(st.integers(2, 20_000 // max(1, count // 100)))
    x = np.arange(points) / 20
    return [np.column_stack([x, (np.arange(points) % 2) * 300 + k]).tolist() for k in range(max(1, count // 100))]


ANY_DRAWING = st.one_of(JSON, DRAWINGS, drawings_with_junk(), many_strokes())


def option(valid):
    """A valid value for an option, or any JSON value."""
    return st.one_of(valid, JSON)


def options(data, valid: dict) -> dict:
    """Values for several options: in half the examples all valid (so the drawing decides the outcome)."""
    junk_allowed = data.draw(st.booleans())
    return {name: data.draw(option(strategy) if junk_allowed else strategy) for name, strategy in valid.items()}


# ----------------------------------------------------------------------------------------------
# Fixtures and checks


class Catalog(dict):
    """The demo's menu, shown briefly when Hypothesis reports a failing example; ``call_limit_s`` is how long one
    call may take here."""

    call_limit_s = MIN_CALL_LIMIT_S

    def __repr__(self) -> str:
        return f"<the bundled models: {', '.join(self)}>"


# Two bundled models, one of each kind the page holds: a decoder of several categories (it chooses among tries and
# is guided) and an imported magenta decoder of one category. The inputs are checked before any model sees them,
# and the models differ only in weights and these two paths, so fuzzing every bundled model only compiles more.
FUZZED_MODELS = ("quickdraw6", "magenta-pig")


@pytest.fixture(scope="module")
def catalog():
    """Two bundled models as the demo's menu, with every batch size the tests can reach compiled."""
    models = [checkpoint.load_model(demo.REPO_ROOT / "data" / "models" / name) for name in FUZZED_MODELS]
    catalog = Catalog(demo.build_catalog(models, demo.page_ranking()))
    demo.warm_up(unique_models(catalog), (1, 2, 4, 8))  # 1-2 endings, times the default tries where a model chooses
    demo.warm_up_guesses(unique_models(catalog))
    catalog.call_limit_s = max(MIN_CALL_LIMIT_S, CALL_LIMIT_TIMES * plain_call_seconds(unique_models(catalog)))
    return catalog


def plain_call_seconds(models) -> float:
    """The slowest of a plain 2-ending completion (per model) and a guess, each the median of 3 calls."""
    calls = [lambda model=model: sample.complete(model, PLAIN_DRAWING, 2) for model in models]
    calls.append(lambda: sample.guess(models, PLAIN_DRAWING))
    medians = []
    for call in calls:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        medians.append(sorted(times)[1])
    return max(medians)


@pytest.fixture(scope="module")
def output_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-output")


def unique_models(catalog):
    return list({id(choice.model): choice.model for choice in catalog.values()}.values())


def answer(limit_s: float, function, *args, **kwargs):
    """Call ``function`` in a daemon thread: returns ``(result, error)``; fails the test after ``limit_s``."""
    outcome = {"result": None, "error": None}

    def run():
        try:
            outcome["result"] = function(*args, **kwargs)
        except BaseException as error:  # judged by the caller
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit_s)
    assert not worker.is_alive(), f"{function.__name__} took over {limit_s:.1f} s"
    event("refused" if outcome["error"] is not None else "answered")  # --hypothesis-show-statistics
    return outcome["result"], outcome["error"]


def assert_message(error, kind) -> None:
    """``error`` is ``kind`` (ValueError or gr.Error) with a message, nothing else."""
    if not isinstance(error, kind):
        raise AssertionError(f"expected {kind.__name__} with a message, got {type(error).__name__}") from error
    message = error.message if isinstance(error, gr.Error) else str(error)
    assert isinstance(message, str) and message.strip(), f"{kind.__name__} without a message"
    assert len(message) < 500, f"an unreadably long message: {message[:100]}..."


def assert_finite_strokes(polylines) -> None:
    for points in polylines:
        assert isinstance(points, np.ndarray) and points.ndim == 2 and points.shape[1] == 2
        assert np.all(np.isfinite(points))


def assert_ranking(ranked, top: int) -> None:
    """A guess: at most ``top`` (category, probability) pairs, probabilities in [0, 1], best first."""
    assert 1 <= len(ranked) <= top
    probabilities = [probability for _, probability in ranked]
    assert all(isinstance(name, str) for name, _ in ranked)
    assert all(0.0 <= p <= 1.0 for p in probabilities) and probabilities == sorted(probabilities, reverse=True)


# ----------------------------------------------------------------------------------------------
# The properties


@FUZZ_SETTINGS
@given(data=st.data(), drawing=ANY_DRAWING)
def test_complete_answers_any_json(catalog, data, drawing):
    model = data.draw(st.sampled_from(unique_models(catalog)))
    chosen = options(data, {
        # 9-16 endings would compile the batch-16 program (a one-off, not what this measures)
        "n": st.integers(1, 2) | JSON.filter(lambda n: not isinstance(n, int) or not 9 <= n <= 16),
        "temperature": st.floats(0.05, 2.0),
        "seed": st.integers(0, 2**31 - 1),
        "canvas_size": st.none() | st.tuples(st.floats(1, 2000), st.floats(1, 2000)),
        "category": st.none() | st.sampled_from(model.categories),
    })
    n = chosen.pop("n")
    completion, error = answer(catalog.call_limit_s, sample.complete, model, drawing, n, **chosen)
    if error is not None:
        assert_message(error, ValueError)
        return
    assert len(completion.endings) == n and 0 <= completion.left_out < len(completion.prime)
    assert_finite_strokes(completion.prime)
    for ending in completion.endings:
        assert_finite_strokes(ending)


@FUZZ_SETTINGS
@given(data=st.data(), drawing=ANY_DRAWING)
def test_guess_answers_any_json(catalog, data, drawing):
    chosen = options(data, {"top": st.integers(1, 5), "canvas_size": st.none() | st.just((400, 400))})
    ranked, error = answer(catalog.call_limit_s, sample.guess, unique_models(catalog), drawing, **chosen)
    if error is not None:
        assert_message(error, ValueError)
        return
    assert_ranking(ranked, chosen["top"])


@FUZZ_SETTINGS
@given(data=st.data(), drawing=ANY_DRAWING)
def test_demo_complete_answers_any_json(catalog, output_root, data, drawing):
    inputs = options(data, {
        "label": st.sampled_from(list(catalog)), "temperature": st.floats(*demo.TEMPERATURE_RANGE),
        "endings": st.integers(1, 2), "seed": st.integers(0, demo.MAX_SEED), "animate": JSON,
        "tries": st.integers(1, 2),
    })
    result, error = answer(catalog.call_limit_s, demo.complete_drawing, drawing, *inputs.values(), catalog=catalog,
                           output_root=output_root)
    if error is not None:
        assert_message(error, gr.Error)
        return
    page_html, files, status = result
    assert page_html.count("<svg") >= 1 and isinstance(status, str) and status
    assert files and all(Path(path).is_file() for path in files)


@FUZZ_SETTINGS
@given(drawing=ANY_DRAWING)
def test_demo_guess_answers_any_json(catalog, drawing):
    guesses, error = answer(catalog.call_limit_s, demo.guess_drawing, drawing, catalog=catalog)
    if error is not None:
        assert_message(error, gr.Error)
        return
    assert isinstance(guesses, dict)
    if guesses:
        assert_ranking(sorted(guesses.items(), key=lambda item: -item[1]), 3)
