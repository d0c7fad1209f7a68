"""sketchrnn: a Sketch-RNN style drawing generator trained on Quick, Draw! pen strokes."""

__version__ = "0.1.0"

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up banner is noise for users
