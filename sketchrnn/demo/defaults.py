"""The page's settings: each control's default and range, the sizes of the canvas and the drawings shown,
and how many requests are worked on at once."""

from __future__ import annotations

from sketchrnn.canvas import DEFAULT_SIZE


MAX_ENDINGS = 8  # endings per press of Complete (the slider's upper end)
MAX_SEED = 2**31 - 1
TEMPERATURE_RANGE = (0.05, 1.5)  # the slider's range; the sampler accepts (0, 2]
DEFAULT_TEMPERATURE = 0.4  # Sketch-RNN's usual sampling temperature
# The slider's temperature tempers the offsets; the pen state is sampled at 1.0. With the paper's single
# temperature, our models (trained for about an hour on 2 CPU cores) rarely sample "drawing ended" below
# 0.6 and scribble on to the 250-point cap; at 1.0 drawings end where people's do (README, "Sampling").
PEN_TEMPERATURE = 1.0
DEFAULT_ENDINGS = 4
# A model of several categories draws each step guided towards what the chosen category draws and its other
# categories do not (`Sampler.generate`; 0 turns it off). Chosen on validation cuts only, 4 endings each
# (benchmarks/guidance.py, docs/quality/tuning/guidance_tries1.md): completions the independent recogniser names
# rightly, quickdraw6 69.0% unguided -> 78.0% at 4, 79.8% at 8, 80.2% at 16 (alarm clock 48% -> 70%); spg20
# 73.2% -> 82.0%, 81.7%, 81.8%. It costs a batch as many times larger as the model has categories.
DEFAULT_GUIDANCE = 8.0
# Tries: the model draws this many drawings for each one shown and shows those it finds itself most like the
# chosen category (sample.most_like). Unguided, 3 tries lift quickdraw6's validation completions 69.0% -> 71.8%;
# guided, they add nothing (79.8% -> 79.6%, docs/quality/tuning/guidance_tries3.md) at six times the time, so
# the page starts at 1; its slider still offers up to 4. Magenta's models draw one category: nothing to compare.
DEFAULT_TRIES = 1
DEFAULT_CATEGORY = "pig"  # what the menu starts on
# Requests worked on at once (the queue holds the rest). More than the 2 CPU cores here, so that a normal
# drawing never waits behind large ones: those take turns in a lane of their own (see `drawing_lane`).
CONCURRENCY_LIMIT = 4
SVG_SIZE = 256  # pixels of an ending's larger side on the page
CANVAS_SIZE = (DEFAULT_SIZE, DEFAULT_SIZE)  # the drawing keeps its size relative to this canvas
MORPH_STEPS = (2, 12, 8)  # the Morph tab's slider: fewest and most drawings from A to B, and the default
# The morph's temperature: low, so that the drawings change only as z does (the paper decodes its
# interpolations at low temperature too); every step is decoded with the same seed.
MORPH_TEMPERATURE = 0.1
