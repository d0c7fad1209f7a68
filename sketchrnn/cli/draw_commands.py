"""``sketchrnn sample``, ``complete``, ``reconstruct`` and ``interpolate``: drawings from a model, as SVG."""

from __future__ import annotations

import sys

from sketchrnn.cli.drawing_input import positive_size, read_drawing_json
from sketchrnn.cli.outputs import (
    check_drawing_outputs,
    check_output_file,
    write_drawings,
)
from sketchrnn.drawing_settings import DEFAULTS, MAX_GUIDANCE, MAX_TEMPERATURE, MAX_TRIES, resolved


def add_drawing_options(parser, n_default: int) -> None:
    """Options shared by ``sample`` and ``complete``."""
    parser.add_argument("model", nargs="?", default=None, metavar="MODEL",
                        help="model or run directory (default: the bundled model that draws --category best)")
    parser.add_argument("--category", default=None, help="what to draw, for models of several categories")
    parser.add_argument("--n", type=int, default=n_default, help=f"how many drawings, 1-16 (default {n_default})")
    add_settings_options(parser)
    parser.add_argument("--out", default=None, metavar="FILE.svg", help="write one SVG grid here")
    parser.add_argument("--out-dir", default=None, metavar="DIR", help="write one SVG per drawing here")
    parser.add_argument("--animate", action="store_true", help="SVGs in which the strokes draw themselves")


def add_settings_options(parser) -> None:
    """``--temperature``, ``--pen-temperature``, ``--guidance``, ``--tries`` (and ``--seed``, ``--greedy``): each left
    out is the model's setting for the category (see sketchrnn.drawing_settings), which the command prints."""
    from_model = "default: the model's setting for the category, printed when drawing; the project's is"
    parser.add_argument("--temperature", type=float, default=None,
                        help=f"randomness in (0, {MAX_TEMPERATURE:g}]: low is tidy and typical, high is wild "
                             f"({from_model} {DEFAULTS.temperature:g})")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same drawings (default 0)")
    parser.add_argument("--pen-temperature", type=float, default=None,
                        help=f"temperature of the pen state ({from_model} {DEFAULTS.pen_temperature:g}, so drawings end "
                             "where people's do; the paper uses --temperature for it too: pass the same value for that)")
    parser.add_argument("--greedy", action="store_true", help="always take the most likely move (no randomness)")
    parser.add_argument("--tries", type=int, default=None,
                        help=f"draw this many per drawing kept, 1-{MAX_TRIES}, and keep those the model itself finds "
                             f"most like --category (a model of several categories; {from_model} {DEFAULTS.tries}: "
                             "keep all drawn)")
    parser.add_argument("--guidance", type=float, default=None,
                        help=f"0-{MAX_GUIDANCE:g}: at each step prefer what --category draws and the model's other "
                             "categories do not (a model of several categories; costs a batch as many times larger as "
                             f"it has categories; 0: plain sampling; {from_model} {DEFAULTS.guidance:g})")


def drawing_settings_for(model, arguments):
    """The settings a ``sample`` or ``complete`` run draws with: those given, else the model's for the category
    (:func:`sketchrnn.drawing_settings.resolved`)."""
    return resolved(model, arguments.category, **given_settings(arguments))


def given_settings(arguments) -> dict:
    """The drawing settings given on the command line (None: the model's)."""
    return {name: getattr(arguments, name) for name in ("temperature", "pen_temperature", "guidance", "tries")}


def note_settings(model, arguments, settings) -> None:
    """Once the drawings are written: say which settings they were drawn with, when any came from the model."""
    if any(value is None for value in given_settings(arguments).values()):
        whose = "its own" if model.drawing.chosen else "the project's defaults"
        print(f"drawing with {settings.describe()} (settings not given: {model.name}'s for "
              f"{model.categories[model.category_id(arguments.category)]}, {whose})", file=sys.stderr)


def add_sample_command(subparsers) -> None:
    """``sketchrnn sample``."""
    parser = subparsers.add_parser(
        "sample", help="draw new drawings as SVG",
        description="Sample new drawings from a model and write them as SVG (a grid with --out, files with --out-dir).",
        epilog="example: sketchrnn sample --category pig --n 16 --temperature 0.4 --seed 1 --out grid.svg",
    )
    add_drawing_options(parser, 16)
    parser.set_defaults(handler=run_sample, compiles=True)


def add_complete_command(subparsers) -> None:
    """``sketchrnn complete``."""
    parser = subparsers.add_parser(
        "complete", help="complete a drawing of yours as SVG",
        description=(
            "Complete a partial drawing. --input is JSON: either a list of strokes, each a list of [x, y] points "
            "(canvas pixels, y down), or one simplified-ndjson record ({\"drawing\": [[[x...], [y...]], ...]})."
        ),
        epilog="example: sketchrnn complete --category pig --input drawing.json --n 4 --out completions.svg",
    )
    add_drawing_options(parser, 4)
    parser.add_argument("--input", required=True, metavar="FILE.json", help="the drawing to complete")
    parser.add_argument("--canvas-size", type=positive_size, nargs=2, default=None, metavar=("WIDTH", "HEIGHT"),
                        help="the canvas the drawing was made on (default: its own bounding box / 0.8)")
    parser.set_defaults(handler=run_complete, compiles=True)


def choose_model(path, category):
    """The model a drawing command uses: the given one, or the bundled model that draws ``category``."""
    from sketchrnn import checkpoint

    if path is not None:
        model = checkpoint.load_model(path)
        if model.config.kind == "vae":
            raise ValueError(f"{path} is a VAE: it redraws and morphs drawings (`sketchrnn reconstruct`, "
                             f"`sketchrnn interpolate`); to sample or complete, pass a decoder-only model")
        return model
    if not checkpoint.bundled_model_dirs():
        raise ValueError("no bundled models under data/models; pass a MODEL directory")
    model = bundled_model("decoder", category)
    if model is not None:
        return model
    raise ValueError(f"no bundled model draws {category!r}; pass a MODEL directory or another --category")


def bundled_model(kind: str, category=None):
    """The bundled model of this kind ("decoder" or "vae") that draws ``category`` best (any when None), or None.

    Best: first in data/models/drawing_ranking.json for the category (measured on validation cuts by
    benchmarks/choose_drawing_settings.py, as the demo's menu orders them); else the first by name. Each model's kind
    is read from its config.json first, so models of the other kind are never loaded.
    """
    from sketchrnn import checkpoint, files

    for directory in checkpoint.best_first(checkpoint.bundled_model_dirs(), category, checkpoint.drawing_ranking()):
        if files.read_json(directory / checkpoint.CONFIG_FILE)["model"].get("kind", "decoder") != kind:
            continue
        model = checkpoint.load_model(directory)
        if category is None or category in model.categories:
            return model
    return None


def run_sample(arguments) -> int:
    """Sample and write SVG."""
    from sketchrnn import sample, svg

    check_drawing_outputs(arguments)
    model = choose_model(arguments.model, arguments.category)
    settings = drawing_settings_for(model, arguments)
    drawings = sample.sample(model, arguments.n, temperature=settings.temperature, seed=arguments.seed,
                             category=arguments.category, greedy=arguments.greedy,
                             pen_temperature=settings.pen_temperature, tries=settings.tries,
                             calibration=guess_calibration(settings.tries), guidance=settings.guidance)
    write_drawings(arguments, drawings, lambda drawing: svg.drawing_svg(drawing, animate=arguments.animate))
    note_settings(model, arguments, settings)
    return 0


def guess_calibration(tries: int):
    """The bundled guess calibration, which ``--tries`` ranks drawings with (not read when there is nothing to rank)."""
    from sketchrnn import calibration

    return calibration.load_default() if tries > 1 else None


def run_complete(arguments) -> int:
    """Complete a drawing and write SVG."""
    check_drawing_outputs(arguments)
    drawing = read_drawing_json(arguments.input)  # before importing TensorFlow: bad input is refused at once
    from sketchrnn import sample, svg

    model = choose_model(arguments.model, arguments.category)
    settings = drawing_settings_for(model, arguments)
    completion = sample.complete(
        model, drawing, arguments.n, temperature=settings.temperature,
        seed=arguments.seed, category=arguments.category, greedy=arguments.greedy, canvas_size=arguments.canvas_size,
        pen_temperature=settings.pen_temperature, tries=settings.tries,
        calibration=guess_calibration(settings.tries), guidance=settings.guidance,
    )
    items = [(completion.prime, ending) for ending in completion.endings]
    write_drawings(arguments, items, lambda item: svg.completion_svg(*item, animate=arguments.animate))
    note_settings(model, arguments, settings)
    return 0


def add_vae_options(parser, temperature: float) -> None:
    """Options shared by ``reconstruct`` and ``interpolate``."""
    parser.add_argument("model", nargs="?", default=None, metavar="MODEL",
                        help="a VAE's model or run directory (default: the bundled VAE)")
    parser.add_argument("--temperature", type=float, default=temperature,
                        help=f"randomness in (0, 2]: low is tidy and typical, high is wild (default {temperature})")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same drawings (default 0)")
    parser.add_argument("--pen-temperature", type=float, default=1.0,
                        help="temperature of the pen state (default 1.0, so drawings end where people's do)")
    parser.add_argument("--category", default=None, help="what to draw, for a VAE trained with --category-conditioning")
    parser.add_argument("--canvas-size", type=positive_size, nargs=2, default=None, metavar=("WIDTH", "HEIGHT"),
                        help="the canvas the drawings were made on (default: each drawing's own bounding box / 0.8)")


def add_reconstruct_command(subparsers) -> None:
    """``sketchrnn reconstruct``."""
    parser = subparsers.add_parser(
        "reconstruct", help="let a VAE redraw a drawing of yours, as SVG",
        description=(
            "Encode a drawing into the VAE's latent vector z and decode z --n times (Ha & Eck 2017, section 4.1): "
            "the model redraws the drawing in the style it learned. Writes one SVG row: your drawing (dark) and "
            "its redrawings (red). --input is JSON as for `sketchrnn complete`."
        ),
        epilog="example: sketchrnn reconstruct --input drawing.json --n 4 --out reconstruction.svg",
    )
    add_vae_options(parser, temperature=0.4)
    parser.add_argument("--input", required=True, metavar="FILE.json", help="the drawing to redraw")
    parser.add_argument("--n", type=int, default=4, help="how many redrawings, 1-16 (default 4)")
    parser.add_argument("--sample-z", action="store_true",
                        help="decode each redrawing from its own sample of the posterior (default: its mean)")
    parser.add_argument("--out", default="reconstruction.svg", metavar="FILE.svg",
                        help="where to write (default reconstruction.svg)")
    parser.set_defaults(handler=run_reconstruct, compiles=True)


def add_interpolate_command(subparsers) -> None:
    """``sketchrnn interpolate``."""
    parser = subparsers.add_parser(
        "interpolate", help="morph one drawing into another with a VAE, as SVG",
        description=(
            "Encode two drawings into the VAE's latent vectors and decode --steps points of the spherical "
            "interpolation between them (Ha & Eck 2017, section 4.2); the first and last are the two drawings' "
            "reconstructions. Writes a strip (your two drawings, dark, at its ends) and with --animated one SVG "
            "that shows the steps in turn, forwards and back, looping (it plays in a browser, no script). "
            "--from and --to are JSON as for `sketchrnn complete`."
        ),
        epilog="example: sketchrnn interpolate --from pig.json --to face.json --steps 8 --out strip.svg "
               "--animated morph.svg",
    )
    add_vae_options(parser, temperature=0.1)
    parser.add_argument("--from", dest="start", required=True, metavar="FILE.json", help="the first drawing")
    parser.add_argument("--to", dest="end", required=True, metavar="FILE.json", help="the last drawing")
    parser.add_argument("--steps", type=int, default=8, help="drawings from first to last, 2-16 (default 8)")
    parser.add_argument("--out", default="interpolation.svg", metavar="FILE.svg",
                        help="where to write the strip (default interpolation.svg)")
    parser.add_argument("--animated", default=None, metavar="FILE.svg", help="also write the animated morph here")
    parser.set_defaults(handler=run_interpolate, compiles=True)


def choose_vae(path):
    """The model ``reconstruct`` and ``interpolate`` use: the given one, or the bundled VAE."""
    from sketchrnn import checkpoint

    if path is not None:
        return checkpoint.load_model(path)  # a decoder-only model is refused by sketchrnn.morph, with a message
    model = bundled_model("vae")
    if model is not None:
        return model
    raise ValueError("no bundled VAE under data/models; pass a MODEL directory of a VAE "
                     "(train one with `sketchrnn train --model vae ...`)")


def note_left_out(left_out: int) -> None:
    """Tell the user when the model could not read all of their strokes."""
    if left_out:
        print(f"note: the drawing has more strokes than the model reads; it left out the {left_out} shortest",
              file=sys.stderr)


def run_reconstruct(arguments) -> int:
    """Redraw a drawing with a VAE and write the SVG row."""
    check_output_file(arguments.out)
    drawing = read_drawing_json(arguments.input)  # before importing TensorFlow: bad input is refused at once
    from sketchrnn import morph, svg

    redrawing = morph.reconstruct(
        choose_vae(arguments.model), drawing, arguments.n, temperature=arguments.temperature, seed=arguments.seed,
        category=arguments.category, canvas_size=arguments.canvas_size, sample=arguments.sample_z,
        pen_temperature=arguments.pen_temperature,
    )
    note_left_out(redrawing.left_out)
    print(svg.save_svg(svg.redrawings_svg(redrawing.drawing, redrawing.redrawings), arguments.out))
    return 0


def run_interpolate(arguments) -> int:
    """Morph one drawing into another with a VAE; write the strip and the animated morph."""
    for path in (arguments.out, arguments.animated):
        if path:
            check_output_file(path)
    start, end = read_drawing_json(arguments.start), read_drawing_json(arguments.end)  # before TensorFlow
    from sketchrnn import morph, svg

    interpolation = morph.interpolate(
        choose_vae(arguments.model), start, end, arguments.steps, temperature=arguments.temperature,
        seed=arguments.seed, category=arguments.category, canvas_size=arguments.canvas_size,
        pen_temperature=arguments.pen_temperature,
    )
    note_left_out(interpolation.left_out)
    strip = svg.interpolation_svg(interpolation.start, interpolation.drawings, interpolation.end)
    print(svg.save_svg(strip, arguments.out))
    if arguments.animated:
        morph_text = svg.morph_svg(interpolation.drawings, color=svg.DEFAULT_ENDING_COLOR)
        print(svg.save_svg(morph_text, arguments.animated))
    return 0
