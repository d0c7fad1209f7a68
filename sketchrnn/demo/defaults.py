"""The page's settings: each control's default and range, the sizes of the canvas and the drawings shown,
and how many requests are worked on at once."""

from __future__ import annotations

from sketchrnn.canvas import DEFAULT_SIZE
from sketchrnn.drawing_settings import DEFAULTS


MAX_ENDINGS = 8  # endings per press of Complete (the slider's upper end)
MAX_SEED = 2**31 - 1
TEMPERATURE_RANGE = (0.05, 1.5)  # the slider's range; the sampler accepts (0, 2]
# The drawing settings the sliders start at when a model has none of its own: the project's defaults, defined once
# (and why each is what it is) in sketchrnn/drawing_settings.py. A model's own settings (config.json "drawing",
# chosen on validation by benchmarks/choose_drawing_settings.py) move the sliders when the menu picks it; the pen
# temperature has no slider: the page draws with the chosen model's.
DEFAULT_TEMPERATURE = DEFAULTS.temperature
PEN_TEMPERATURE = DEFAULTS.pen_temperature  # what Redraw (a VAE) samples the pen at
DEFAULT_GUIDANCE = DEFAULTS.guidance
DEFAULT_TRIES = DEFAULTS.tries
DEFAULT_ENDINGS = 4
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
