"""sketchrnn: a Sketch-RNN style drawing generator trained on Quick, Draw! pen strokes."""

__version__ = "0.1.0"
