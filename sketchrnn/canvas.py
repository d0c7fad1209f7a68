"""StrokeCanvas: a Gradio drawing canvas whose value is vector strokes, not a raster image.

No built-in Gradio component returns pen strokes (``gr.Sketchpad`` / ``gr.Paint`` give raster
layers), so this is a ``gr.HTML`` subclass (Gradio 6 "custom HTML components") with a ``<canvas>``
and a little JavaScript:

* pointer events (mouse, pen and finger alike) with ``getCoalescedEvents()`` so fast strokes keep
  their in-between points; ``touch-action: none`` so a finger draws instead of scrolling;
* points closer than ``min_distance`` canvas pixels to the previous one are dropped, which keeps
  a slow, shaky stroke from turning into thousands of points;
* on pen-up the script assigns a *new* list to ``props.value`` (Gradio ignores a mutated array);
* Undo and Clear are buttons inside the component: instant, no round trip to the server.

The value, in Python and over the API, is a list of strokes, each a list of ``[x, y]`` points in
canvas pixels (``y`` pointing down): ``[[[x, y], [x, y], ...], ...]``.
"""

from __future__ import annotations

import math
from typing import Any

import gradio as gr

DEFAULT_SIZE = 400  # canvas width and height in canvas pixels
MAX_PAYLOAD_POINTS = 20_000  # more points than this is not a drawing; refuse before looking closer
# More strokes than this is not a drawing either. The model reads 200 points (100 two-point strokes at most),
# while every stroke costs a path in each SVG shown: 2,000 keeps the worst allowed drawing's SVGs ~0.1 s each.
MAX_PAYLOAD_STROKES = 2_000
MAX_COORDINATE = 1e6  # canvas pixels; larger (e.g. a JSON integer of 400 digits) is refused

HTML_TEMPLATE = """
<div class="stroke-canvas">
  <canvas class="stroke-canvas-surface" width="${canvas_width}" height="${canvas_height}"
          aria-label="Drawing area: draw with a mouse, pen or finger"></canvas>
  <div class="stroke-canvas-tools">
    <button type="button" class="stroke-canvas-undo">Undo</button>
    <button type="button" class="stroke-canvas-clear">Clear</button>
  </div>
</div>
"""

CSS_TEMPLATE = """
.stroke-canvas { display: flex; flex-direction: column; gap: 6px; align-items: flex-start; }
.stroke-canvas-surface {
  touch-action: none; user-select: none; -webkit-user-select: none;
  width: 100%; max-width: ${canvas_width}px; aspect-ratio: ${canvas_width} / ${canvas_height};
  background: #ffffff; border: 1px solid #c8c8c8; border-radius: 6px; cursor: crosshair;
}
.stroke-canvas-tools { display: flex; gap: 8px; }
.stroke-canvas-tools button {
  padding: 4px 14px; border: 1px solid #c8c8c8; border-radius: 6px; background: #f6f6f6; cursor: pointer;
}
.stroke-canvas-tools button:hover { background: #ececec; }
"""

# Runs once per page load with `element`, `props` and `watch` in scope (see gr.HTML js_on_load).
JS_ON_LOAD = """
const surface = element.querySelector('.stroke-canvas-surface');
const context = surface.getContext('2d');
const lineWidth = Number(props.line_width) || 3;
const minDistance = Number(props.min_distance) || 0;
let strokes = copyStrokes(props.value);
let currentStroke = null;
let activePointer = null;

function copyStrokes(value) {
  if (!Array.isArray(value)) return [];
  return value.filter(Array.isArray).map(stroke => stroke.map(point => [point[0], point[1]]));
}

function canvasPoint(event) {
  const rect = surface.getBoundingClientRect();
  const x = (event.clientX - rect.left) * surface.width / rect.width;
  const y = (event.clientY - rect.top) * surface.height / rect.height;
  const clamp = (v, high) => Math.round(Math.min(Math.max(v, 0), high) * 10) / 10;
  return [clamp(x, surface.width), clamp(y, surface.height)];
}

function drawStroke(stroke) {
  if (!stroke.length) return;
  context.beginPath();
  context.moveTo(stroke[0][0], stroke[0][1]);
  if (stroke.length === 1) context.lineTo(stroke[0][0] + 0.01, stroke[0][1]);
  for (const point of stroke.slice(1)) context.lineTo(point[0], point[1]);
  context.stroke();
}

function redraw() {
  context.clearRect(0, 0, surface.width, surface.height);
  context.lineWidth = lineWidth;
  context.lineCap = 'round';
  context.lineJoin = 'round';
  context.strokeStyle = '#1f1f1f';
  strokes.forEach(drawStroke);
  if (currentStroke) drawStroke(currentStroke);
}

function publish() {
  props.value = strokes.map(stroke => stroke.map(point => [point[0], point[1]]));
}

function addPoint(point) {
  const last = currentStroke[currentStroke.length - 1];
  if (Math.hypot(point[0] - last[0], point[1] - last[1]) < minDistance) return;
  currentStroke.push(point);
  context.beginPath();
  context.moveTo(last[0], last[1]);
  context.lineTo(point[0], point[1]);
  context.stroke();
}

function startStroke(event) {
  if (event.pointerType === 'mouse' && event.button !== 0) return;
  if (activePointer !== null) return;
  event.preventDefault();
  activePointer = event.pointerId;
  surface.setPointerCapture(event.pointerId);
  currentStroke = [canvasPoint(event)];
  redraw();
}

function moveStroke(event) {
  if (event.pointerId !== activePointer) return;
  event.preventDefault();
  const coalesced = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  (coalesced.length ? coalesced : [event]).forEach(sample => addPoint(canvasPoint(sample)));
}

function endStroke(event) {
  if (event.pointerId !== activePointer) return;
  activePointer = null;
  strokes = [...strokes, currentStroke];
  currentStroke = null;
  redraw();
  publish();
}

surface.addEventListener('pointerdown', startStroke);
surface.addEventListener('pointermove', moveStroke);
surface.addEventListener('pointerup', endStroke);
surface.addEventListener('pointercancel', endStroke);
surface.addEventListener('lostpointercapture', endStroke);
surface.addEventListener('contextmenu', event => event.preventDefault());
element.querySelector('.stroke-canvas-undo').addEventListener('click', () => {
  strokes = strokes.slice(0, -1);
  redraw();
  publish();
});
element.querySelector('.stroke-canvas-clear').addEventListener('click', () => {
  strokes = [];
  redraw();
  publish();
});
watch('value', () => {
  if (JSON.stringify(props.value) === JSON.stringify(strokes)) return;
  strokes = copyStrokes(props.value);
  redraw();
});
redraw();
"""


class StrokeCanvas(gr.HTML):
    """A drawing canvas whose value is a list of strokes, each a list of ``[x, y]`` canvas pixels."""

    def __init__(
        self,
        value: list | None = None,
        *,
        canvas_width: int = DEFAULT_SIZE,
        canvas_height: int = DEFAULT_SIZE,
        line_width: float = 3.0,
        min_distance: float = 1.5,
        label: str | None = None,
        **kwargs: Any,
    ):
        """Args: value: initial strokes; canvas_width/canvas_height: drawing area in canvas pixels;
        line_width: pen width in canvas pixels; min_distance: points closer than this (canvas pixels)
        to the previous point of a stroke are dropped; other keyword arguments go to ``gr.HTML``."""
        super().__init__(
            value=value if value is not None else [],
            label=label,
            html_template=HTML_TEMPLATE,
            css_template=CSS_TEMPLATE,
            js_on_load=JS_ON_LOAD,
            apply_default_css=False,
            canvas_width=int(canvas_width),
            canvas_height=int(canvas_height),
            line_width=float(line_width),
            min_distance=float(min_distance),
            **kwargs,
        )

    def preprocess(self, payload: Any) -> Any:
        """Pass the payload through untouched; the event function checks it with `parse_strokes`
        so that a bad payload gets a message in the page instead of a failed request."""
        return [] if payload is None else payload

    def postprocess(self, value: Any) -> list:
        """Strokes (lists or NumPy arrays of points) -> plain nested lists for the browser."""
        if not value:
            return []
        return [[[float(x), float(y)] for x, y in stroke] for stroke in value]

    def api_info(self) -> dict[str, Any]:
        """JSON schema of the value: an array of strokes, each an array of [x, y] numbers."""
        point = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
        return {"type": "array", "items": {"type": "array", "items": point}}

    def example_payload(self) -> list:
        """Two short strokes, used in the generated API docs."""
        return [[[60.0, 60.0], [140.0, 90.0], [200.0, 60.0]], [[100.0, 150.0], [160.0, 150.0]]]

    def example_value(self) -> list:
        """Same as `example_payload`: the value needs no conversion."""
        return self.example_payload()


def parse_strokes(
    payload: Any, max_points: int = MAX_PAYLOAD_POINTS, max_strokes: int = MAX_PAYLOAD_STROKES
) -> list[list[list[float]]]:
    """Check a canvas payload and return it as ``[[[x, y], ...], ...]`` of finite floats.

    Raises ValueError with a message a person can act on for anything that is not a list of strokes
    of numeric ``[x, y]`` points, or that has more than ``max_points`` points. Empty strokes are dropped.
    """
    if not isinstance(payload, (list, tuple)):
        raise ValueError("The drawing must be a list of strokes, each a list of [x, y] points.")
    if len(payload) > max_strokes:
        raise ValueError(f"The drawing has too many strokes (more than {max_strokes}).")
    total_points = 0
    strokes = []
    for stroke in payload:
        if not isinstance(stroke, (list, tuple)):
            raise ValueError("Each stroke must be a list of [x, y] points.")
        total_points += len(stroke)
        if total_points > max_points:
            raise ValueError(f"The drawing has too many points (more than {max_points}).")
        if stroke:
            strokes.append([_parse_point(point) for point in stroke])
    return strokes


def _parse_point(point: Any) -> list[float]:
    """One ``[x, y]`` pair -> two finite floats, or ValueError."""
    if not isinstance(point, (list, tuple)) or len(point) != 2:
        raise ValueError("Each point must be a pair of numbers [x, y].")
    coordinates = []
    for coordinate in point:
        if coordinate is None:
            raise ValueError("A point has a missing coordinate (null): each point must be two numbers [x, y].")
        if isinstance(coordinate, bool) or not isinstance(coordinate, (int, float)):
            raise ValueError("Point coordinates must be numbers.")
        if isinstance(coordinate, float) and not math.isfinite(coordinate):
            raise ValueError("Point coordinates must be finite numbers (no NaN or infinity).")
        if abs(coordinate) > MAX_COORDINATE:  # compared exactly: a 400-digit JSON integer fits no float
            raise ValueError(f"A point coordinate is far too large: canvas coordinates are pixels, at most "
                             f"{MAX_COORDINATE:.0f}.")
        coordinates.append(float(coordinate))
    return coordinates
