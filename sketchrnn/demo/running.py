"""Running the model for a request: which requests take turns in the lane for large work (`drawing_lane`),
and how the model's errors reach the page (`call_model`)."""

from __future__ import annotations

import contextlib
import logging
import threading

import gradio as gr

from sketchrnn.demo.catalog import chooses
from sketchrnn.model import TrainedModel
from sketchrnn.model.inference import padded_batch
from sketchrnn.sample import guided

logger = logging.getLogger(__name__)


LARGE_DRAWING_POINTS = 2000  # a drawing with more points than this, or
LARGE_DRAWING_STROKES = 200  # more strokes than this, is large: up to ~1 s of work (mostly its SVGs)
# a request that scores more (drawing, category) pairs than this when it chooses among tries takes turns too:
# 8 endings x 4 tries x 20 categories is ~2 s of work; the defaults on a 20-category model score 240
LARGE_SCORING_PAIRS = 256
# and so does one whose guided sampling runs more streams than this (one per drawing drawn and category, the
# drawings padded to a power of two as the sampler pads them): the defaults on a 20-category model run 80, 4
# endings x 3 tries 320 (~0.8 s of work), 8 x 4 run 640
LARGE_GUIDED_STREAMS = 320
LARGE_DRAWING_LANE = threading.BoundedSemaphore(1)  # large drawings are worked on one at a time


def guided_streams(model: TrainedModel, shown: int, tries: int, guidance: float) -> int:
    """LSTM streams a request's guided sampling runs: one per category for each drawing drawn, padded as the
    sampler pads them (0 where it does not guide)."""
    if not guided(model, guidance):  # exactly when the sampler guides
        return 0
    return padded_batch(shown * tries) * len(model.categories)


def scored_pairs(model: TrainedModel, shown: int, tries: int) -> int:
    """(drawing, category) pairs a request scores to choose `shown` drawings from `tries` each (0 if it does not)."""
    return shown * tries * len(model.categories) if tries > 1 and chooses(model) else 0


def drawing_lane(drawing, scored_pairs: int = 0, guided_streams: int = 0):
    """What to hold while working on `drawing`: large drawings, and requests that score more than
    `LARGE_SCORING_PAIRS` (drawing, category) pairs to choose among tries or sample more than
    `LARGE_GUIDED_STREAMS` guided streams, take turns (at most one at a time, so however many are sent, they
    occupy one core and one request slot in work); others go straight on."""
    if (len(drawing) > LARGE_DRAWING_STROKES or sum(len(stroke) for stroke in drawing) > LARGE_DRAWING_POINTS
            or scored_pairs > LARGE_SCORING_PAIRS or guided_streams > LARGE_GUIDED_STREAMS):
        return LARGE_DRAWING_LANE
    return contextlib.nullcontext()


def call_model(function, *args, **kwargs):
    """Run a sampling function; its ValueError becomes a gr.Error, anything else a short apology."""
    try:
        return function(*args, **kwargs)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    except Exception:
        logger.exception("the model failed")
        raise gr.Error("The model failed on this drawing. Try again, or press Clear and draw something else.") from None
