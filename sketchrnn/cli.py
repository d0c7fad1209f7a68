"""The ``sketchrnn`` command line: thin wrappers that parse arguments and call package functions.

Adding a command: write ``add_<name>_command(subparsers)`` that adds its parser and sets
``handler=<function(arguments) -> exit code>`` with ``set_defaults``, then list it in ``COMMANDS``.
A ``ValueError`` raised by a handler is printed as ``error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.util
import os
import sys
import tempfile

from sketchrnn import data

DESCRIPTION = "Sketch-RNN style drawing generator trained on Quick, Draw! pen strokes."


# ----------------------------------------------------------------------------------------------
# sketchrnn data ...


def add_data_command(subparsers) -> None:
    """``sketchrnn data info|download``: inspect datasets and fill the download cache."""
    parser = subparsers.add_parser(
        "data", help="inspect datasets and download QuickDraw categories",
        description="Inspect QuickDraw datasets and download official category files into the cache.",
    )
    data_commands = parser.add_subparsers(dest="data_command", required=True, metavar="{info,download,import}")
    add_data_info_command(data_commands)
    add_data_download_command(data_commands)
    add_data_import_command(data_commands)


def add_data_info_command(subparsers) -> None:
    """``sketchrnn data info SOURCE...``."""
    parser = subparsers.add_parser(
        "info", help="load sources and print split sizes, lengths and the normalising scale",
        description=(
            "Load sources as training would (clean, split, length cap) and print, per split, the number of "
            "drawings and the length percentiles (points per drawing), then the scale factor and the typical "
            "drawing extent of the train split."
        ),
        epilog="example: sketchrnn data info ../shared/data/spg/pig.ndjson.gz ../shared/data/quickdraw_sketchrnn_pig_2200.npz",
    )
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="a .npz / .ndjson / .ndjson.gz / .json file, or a category name (e.g. pig) for the cached official .npz")
    add_dataset_options(parser)
    parser.add_argument("--download", action="store_true", help="download category names missing from the cache")
    parser.set_defaults(handler=run_data_info)


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    """The options of :func:`sketchrnn.data.load_dataset`, for every command that loads a dataset."""
    parser.add_argument("--max-length", type=int, default=250, help="drop drawings with more points than this (default 250)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/valid/test split of sources without one (default 0)")
    parser.add_argument("--rescale-to", type=float, default=None, metavar="SIZE",
                        help="scale every drawing uniformly so max(width, height) == SIZE (255: the simplified frame; default off)")
    parser.add_argument("--categories", type=parse_categories, default=None, metavar="NAME[,NAME...]",
                        help="keep only these categories, comma-separated (e.g. 'pig,alarm clock')")
    parser.add_argument("--format", dest="ndjson_format", choices=data.NDJSON_FORMATS, default="auto",
                        help="how ndjson points are read: simplified (as is), dense (RDP), raw (fit to 0-255, RDP); default auto")
    parser.add_argument("--cache-dir", default=None, help="download cache (default $SKETCHRNN_DATA_DIR, else data/, else ~/.cache/sketchrnn)")


def parse_categories(text: str) -> list[str]:
    """``'pig, alarm clock'`` -> ``['pig', 'alarm clock']``."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one category name")
    return names


def load_from_arguments(arguments) -> data.Dataset:
    """:func:`sketchrnn.data.load_dataset` with the options of :func:`add_dataset_options`."""
    return data.load_dataset(
        arguments.sources, max_length=arguments.max_length, seed=arguments.seed, rescale_to=arguments.rescale_to,
        cache_dir=arguments.cache_dir, download=getattr(arguments, "download", False),
        categories=arguments.categories, ndjson_format=arguments.ndjson_format,
    )


def run_data_info(arguments) -> int:
    """Print the report of :func:`sketchrnn.data.describe`."""
    print(data.describe(load_from_arguments(arguments)))
    return 0


def add_data_download_command(subparsers) -> None:
    """``sketchrnn data download CATEGORY...``."""
    parser = subparsers.add_parser(
        "download", help="fetch official QuickDraw category files into the cache",
        description=(
            "Fetch official QuickDraw files into the cache (once: a cached file is never fetched again). "
            "npz: the Sketch-RNN files (storage.googleapis.com/quickdraw_dataset/sketchrnn/<category>.npz); "
            "simplified: the simplified ndjson (.../full/simplified/<category>.ndjson). "
            "The server can be overridden with $SKETCHRNN_DOWNLOAD_URL or --base-url."
        ),
        epilog="example: sketchrnn data download pig 'alarm clock' --format npz",
    )
    parser.add_argument("categories", nargs="+", metavar="CATEGORY", help="category names, e.g. pig, 'alarm clock' or alarm_clock")
    parser.add_argument("--format", dest="kind", choices=sorted(data.DOWNLOAD_KINDS), default="npz",
                        help="which file to fetch (default npz)")
    parser.add_argument("--cache-dir", default=None, help="download cache (default $SKETCHRNN_DATA_DIR, else data/, else ~/.cache/sketchrnn)")
    parser.add_argument("--base-url", default=None, help=f"server to fetch from (default {data.DEFAULT_BASE_URL})")
    parser.set_defaults(handler=run_data_download)


def run_data_download(arguments) -> int:
    """Download each category (cache hits are reported, not fetched)."""
    for category in arguments.categories:
        cached = data.cache_path(category, arguments.kind, arguments.cache_dir).is_file()
        path = data.download_category(category, kind=arguments.kind, cache_dir=arguments.cache_dir,
                                      base_url=arguments.base_url, progress=data.stderr_progress)
        print(f"{path}{'  (already cached)' if cached else ''}")
    return 0


def add_data_import_command(subparsers) -> None:
    """``sketchrnn data import SRC... --out NAME.npz``."""
    parser = subparsers.add_parser(
        "import", help="turn SVG line art (files, folders, .tgz) or JSON drawings into a .npz dataset",
        description=(
            "Import line art as a Sketch-RNN dataset: each SVG file (or JSON drawing) becomes one drawing, "
            "preprocessed as Quick, Draw!'s (aligned, scaled to 0-255, resampled at 1 px, RDP epsilon 2), split "
            "90/5/5 with the seed and written as NAME.npz (train/valid/test) with a dataset card NAME.card.md beside "
            "it. Files that cannot be drawings (not SVG, DTDs, <image>/<script>/<text>/<use>, too large, ...) are "
            "skipped with a reason, listed on the card."
        ),
        epilog="example: sketchrnn data import my_drawings/ icons.tgz --out data/icons.npz && "
               "sketchrnn train --data data/icons.npz --out runs/icons",
    )
    parser.add_argument("sources", nargs="+", metavar="SRC",
                        help="SVG files, folders of them, .tgz/.tar archives of them, or .json/.ndjson drawings (the "
                             "format of `complete --input`)")
    parser.add_argument("--out", required=True, metavar="NAME.npz", help="the dataset to write; its file name is its category")
    parser.add_argument("--category", default=None, metavar="NAME",
                        help="the category, checked against the --out file name (default: the file name)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/valid/test split (default 0)")
    parser.add_argument("--max-length", type=int, default=250, help="leave out drawings with more points than this (default 250)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="processes reading SVG geometry (default: the CPU cores, at most 4; the result is the same)")
    parser.set_defaults(handler=run_data_import)


def run_data_import(arguments) -> int:
    """Import the sources, print a few skip reasons and the summary."""
    from sketchrnn.data import svg_import

    jobs = arguments.jobs if arguments.jobs is not None else min(4, len(os.sched_getaffinity(0)))
    result = svg_import.import_drawings(arguments.sources, arguments.out, category=arguments.category,
                                        seed=arguments.seed, max_length=arguments.max_length, jobs=jobs)
    shown = {}
    for item in result.skipped:
        shown[item.reason] = shown.get(item.reason, 0) + 1
        if shown[item.reason] <= 3:
            print(f"skipped {item.name}: {item.detail}", file=sys.stderr)
    hidden = len(result.skipped) - sum(min(count, 3) for count in shown.values())
    if hidden:
        print(f"... and {hidden:,} more skipped (every one with its reason on the card)", file=sys.stderr)
    sys.stderr.flush()
    print(svg_import.summary(result))
    return 0


# ----------------------------------------------------------------------------------------------
# sketchrnn train / evaluate

TRAIN_OPTIONS = (  # (flag, TrainSettings field, type, help); defaults come from TrainSettings
    ("--model", "model", str, "decoder (draws and completes) or vae (the paper's encoder + decoder: also redraws "
                              "and morphs)"),
    ("--hidden-size", "hidden_size", int, "LSTM units (paper 512; 256 trains ~3x faster on CPU)"),
    ("--num-mixtures", "num_mixtures", int, "Gaussians in the offset mixture (paper 20)"),
    ("--recurrent-dropout", "recurrent_dropout", float, "dropout on the LSTM state while training"),
    ("--encoder-size", "encoder_size", int, "vae: units of each direction of the bidirectional encoder (paper 256)"),
    ("--latent-size", "latent_size", int, "vae: N_z, the size of the latent vector z (paper 128)"),
    ("--kl-weight", "kl_weight", float, "vae: w_KL, the KL term's weight once annealed (magenta 0.5)"),
    ("--kl-min", "kl_min", float, "vae: KL_min, below which the KL term is not minimised (magenta 0.2)"),
    ("--kl-weight-start", "kl_weight_start", float, "vae: eta_min, the annealed KL weight's start, a fraction (paper 0.01)"),
    ("--kl-decay-rate", "kl_decay_rate", float, "vae: R of the annealing eta = 1 - (1 - eta_min) R^step (paper 0.99995)"),
    ("--batch-size", "batch_size", int, "drawings per batch (paper 100)"),
    ("--steps", "steps", int, "total optimisation steps of the run"),
    ("--max-minutes", "max_minutes", float, "wall-clock budget of this invocation; stops with a checkpoint"),
    ("--learning-rate", "learning_rate", float, "Adam's initial learning rate (paper 1e-3)"),
    ("--min-learning-rate", "min_learning_rate", float, "floor of the exponential decay (magenta 1e-5)"),
    ("--decay-rate", "decay_rate", float, "per-step decay factor of the learning rate (magenta 0.9999)"),
    ("--clip-kind", "clip_kind", str, "gradient clipping: value (each element, as magenta), norm, global_norm or none"),
    ("--clip", "clip", float, "clipping threshold (magenta 1.0)"),
    ("--augment-scale", "augment_scale", float, "random x/y scale augmentation, +-fraction (magenta 0.15; 0 turns it off)"),
    ("--drop-points", "drop_points", float, "probability of dropping interior points (magenta 0.10; default 0)"),
    ("--max-length", "max_length", int, "leave out drawings with more points than this (Sketch-RNN 250)"),
    ("--rescale-to", "rescale_to", float, "scale every drawing so max(width, height) is this (255: the simplified frame)"),
    ("--seed", "seed", int, "seed for the split, batch order, augmentation and initial weights"),
    ("--validate-every", "validate_every", int, "steps between validation runs (best model kept)"),
    ("--checkpoint-every", "checkpoint_every", int, "steps between checkpoints"),
    ("--log-every", "log_every", int, "steps between progress lines when the output is not a terminal (log file, CI)"),
    ("--strategy", "strategy", str, "tf.distribute strategy: default (one device), mirrored (all local devices), "
                                    "multi-worker (cluster from $TF_CONFIG)"),
)
RESUME_OPTIONS = {"steps", "max_minutes", "validate_every", "checkpoint_every", "log_every"}


def add_train_command(subparsers) -> None:
    """``sketchrnn train``: train a model, or resume a run."""
    from sketchrnn.settings import TrainSettings

    defaults = TrainSettings(data=[], out="")
    parser = subparsers.add_parser(
        "train", help="train a model on QuickDraw data (resumable)",
        description=(
            "Train a Sketch-RNN with backpropagation through time: decoder only (--model decoder, the default) or "
            "the paper's VAE (--model vae: a bidirectional encoder to a latent z, the decoder from z, "
            "loss L_R + w_KL eta max(L_KL, KL_min) with the KL weight annealed). Checkpoints go to OUT/checkpoints "
            "(written atomically), the model with the best validation loss to OUT/best, metrics to OUT/metrics.csv "
            "and OUT/tensorboard. Ctrl-C, a kill or --max-minutes stop the run; `--resume OUT` (or the same command "
            "again) continues from the last checkpoint with the optimizer state and the data position."
        ),
        epilog="example: sketchrnn train --data ../shared/data/quickdraw_sketchrnn_pig_2200.npz --out runs/pig "
               "--hidden-size 256 --max-minutes 30",
    )
    parser.add_argument("--data", nargs="+", metavar="SOURCE", help="data files or category names (see `sketchrnn data info`)")
    parser.add_argument("--out", metavar="DIR", help="run directory")
    parser.add_argument("--resume", metavar="DIR", help="continue the run in DIR with its saved settings")
    parser.add_argument("--categories", type=parse_categories, default=None, metavar="NAME[,NAME...]",
                        help="keep only these categories of the data")
    parser.add_argument("--download", action="store_true", help="download category names missing from the cache")
    parser.add_argument("--init-from", metavar="MODEL",
                        help="start from this trained decoder's weights instead of random ones (a model, run or "
                             "checkpoint directory, e.g. data/models/quickdraw6): its LSTM size, mixtures and layer "
                             "norm are taken over, each category it knows starts as it drew it, a new one from the "
                             "mean of its categories; drawings are read in its units (default: random weights)")
    for flag, name, kind, text in TRAIN_OPTIONS:
        parser.add_argument(flag, dest=name, type=kind, default=None, help=f"{text} (default {getattr(defaults, name)})")
    parser.add_argument("--layer-norm", action="store_true", default=None,
                        help="layer-normalised LSTM, as the paper's decoder (magenta's LayerNormLSTMCell) (default off)")
    parser.add_argument("--category-conditioning", action=argparse.BooleanOptionalAction, default=None,
                        help="with several categories, feed a learned category embedding at every step (default: on "
                             "for --model decoder, off for --model vae, whose z says what a drawing is)")
    parser.set_defaults(handler=run_train)


def train_settings_from_arguments(arguments):
    """TrainSettings from the command line: a new run, or a resumed one with only run-length changes."""
    from sketchrnn.settings import TrainSettings
    from sketchrnn.train import read_settings

    given = {name: getattr(arguments, name) for _, name, _, _ in TRAIN_OPTIONS if getattr(arguments, name) is not None}
    if getattr(arguments, "layer_norm", None):
        given["layer_norm"] = True
    if getattr(arguments, "category_conditioning", None) is not None:
        given["category_conditioning"] = arguments.category_conditioning
    if arguments.resume:
        refused = sorted(set(given) - RESUME_OPTIONS) + (["data"] if arguments.data else []) + (
            ["init_from"] if arguments.init_from else [])
        if refused:
            raise ValueError(f"--resume keeps the run's saved settings; only --steps, --max-minutes, --validate-every, "
                             f"--checkpoint-every and --log-every may change (got {', '.join(refused)})")
        settings = read_settings(arguments.resume)
        settings.max_minutes = None
        for name, value in given.items():
            setattr(settings, name, value)
        return settings
    if not arguments.data or not arguments.out:
        raise ValueError("pass --data SOURCE... and --out DIR for a new run, or --resume DIR")
    if arguments.init_from:  # the base model's architecture, unless given (training refuses a mismatch)
        from sketchrnn.checkpoint import load_model
        from sketchrnn.train import architecture_of

        given = {**architecture_of(load_model(arguments.init_from)), **given, "init_from": arguments.init_from}
    return TrainSettings(data=arguments.data, out=arguments.out, categories=arguments.categories,
                         download=arguments.download, **given)


def run_train(arguments) -> int:
    """Train; exit 0 when finished or out of time, 130 when interrupted, 3 when the loss diverged,
    1 when the run folder could not be written, 75 (EX_TEMPFAIL) when another worker of the cluster stopped."""
    from sketchrnn.train import train

    summary = train(train_settings_from_arguments(arguments))
    return {"diverged": 3, "interrupted": 130, "unwritable": 1, "worker_lost": 75}.get(summary["status"], 0)


def add_evaluate_command(subparsers) -> None:
    """``sketchrnn evaluate MODEL --data SOURCE...``."""
    parser = subparsers.add_parser(
        "evaluate", help="print the reconstruction loss L_R of a model on held-out data",
        description=(
            "Print L_R = L_s + L_p (Ha & Eck 2017, eqs. 9-11) on a split (default: test), each drawing padded to "
            "N_max = max_length + 1 rows, averaged over drawings: the figure the paper reports. The split is the "
            "same deterministic split training used (same --seed)."
        ),
        epilog="example: sketchrnn evaluate runs/pig --data ../shared/data/quickdraw_sketchrnn_pig_2200.npz",
    )
    parser.add_argument("model", metavar="MODEL", help="model directory or run directory")
    parser.add_argument("--data", nargs="+", required=True, metavar="SOURCE", help="data files or category names")
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"), help="which split (default test)")
    parser.add_argument("--categories", type=parse_categories, default=None, metavar="NAME[,NAME...]",
                        help="evaluate only these categories")
    parser.add_argument("--rescale-to", type=float, default=None, help="default: as the model was trained")
    parser.add_argument("--seed", type=int, default=None, help="split seed (default: the model's training seed)")
    parser.set_defaults(handler=run_evaluate)


def run_evaluate(arguments) -> int:
    """Print L_R and its parts."""
    from sketchrnn.train import evaluate

    result = evaluate(arguments.model, arguments.data, split=arguments.split, categories=arguments.categories,
                      rescale_to=arguments.rescale_to, seed=arguments.seed)
    kl = "kl_loss" in result  # a VAE: L_KL too
    print(f"{'category':<16} {'drawings':>8} {'L_R':>8} {'L_s':>8} {'L_p':>8}{' ' + format('L_KL', '>8') if kl else ''}"
          f"   ({arguments.split} split)")
    rows = list(result["per_category"].items()) + ([("all", result)] if len(result["per_category"]) > 1 else [])
    for name, part in rows:
        print(f"{name:<16} {part['drawings']:>8} {part['loss']:>8.4f} {part['offset_loss']:>8.4f} {part['pen_loss']:>8.4f}"
              + (f" {part['kl_loss']:>8.4f}" if kl else ""))
    return 0


# ----------------------------------------------------------------------------------------------
# sketchrnn sample / complete / render / demo


def add_drawing_options(parser, n_default: int) -> None:
    """Options shared by ``sample`` and ``complete``."""
    parser.add_argument("model", nargs="?", default=None, metavar="MODEL",
                        help="model or run directory (default: the bundled model that draws --category)")
    parser.add_argument("--category", default=None, help="what to draw, for models of several categories")
    parser.add_argument("--n", type=int, default=n_default, help=f"how many drawings, 1-16 (default {n_default})")
    parser.add_argument("--temperature", type=float, default=0.4,
                        help="randomness in (0, 2]: low is tidy and typical, high is wild (default 0.4)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same drawings (default 0)")
    parser.add_argument("--pen-temperature", type=float, default=1.0,
                        help="temperature of the pen state (default 1.0, so drawings end where people's do; "
                             "the paper uses --temperature for it too: pass the same value for that)")
    parser.add_argument("--greedy", action="store_true", help="always take the most likely move (no randomness)")
    parser.add_argument("--tries", type=int, default=1,
                        help="draw this many per drawing kept, 1-4, and keep those the model itself finds most like "
                             "--category (a model of several categories; default 1, as the demo: keep all drawn)")
    parser.add_argument("--guidance", type=float, default=0.0,
                        help="0-16: at each step prefer what --category draws and the model's other categories do "
                             "not (a model of several categories; costs a batch as many times larger as it has "
                             "categories; the demo uses 8; default 0: plain sampling)")
    parser.add_argument("--out", default=None, metavar="FILE.svg", help="write one SVG grid here")
    parser.add_argument("--out-dir", default=None, metavar="DIR", help="write one SVG per drawing here")
    parser.add_argument("--animate", action="store_true", help="SVGs in which the strokes draw themselves")


def add_sample_command(subparsers) -> None:
    """``sketchrnn sample``."""
    parser = subparsers.add_parser(
        "sample", help="draw new drawings as SVG",
        description="Sample new drawings from a model and write them as SVG (a grid with --out, files with --out-dir).",
        epilog="example: sketchrnn sample --category pig --n 16 --temperature 0.4 --seed 1 --out grid.svg",
    )
    add_drawing_options(parser, 16)
    parser.set_defaults(handler=run_sample)


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
    parser.set_defaults(handler=run_complete)


def positive_size(text: str) -> float:
    """A canvas side: a finite number > 0 (``'nan'``, ``'inf'``, ``0`` and negatives are refused)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give the canvas width and height in pixels") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; width and height must be finite numbers > 0")
    return value


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
    """The first bundled model of this kind ("decoder" or "vae") that draws ``category`` (any when None), or None.

    Each model's kind is read from its config.json first, so models of the other kind are never loaded.
    """
    from sketchrnn import checkpoint, files

    for directory in checkpoint.bundled_model_dirs():
        if files.read_json(directory / checkpoint.CONFIG_FILE)["model"].get("kind", "decoder") != kind:
            continue
        model = checkpoint.load_model(directory)
        if category is None or category in model.categories:
            return model
    return None


def check_output_file(path) -> None:
    """Refuse an --out that cannot become an SVG file; create its missing folders (as --out-dir does)."""
    from pathlib import Path

    from sketchrnn import files

    if Path(path).is_dir():
        raise ValueError(f"--out {path} is a folder; give a file name such as {Path(path) / 'drawings.svg'} "
                         f"(or use --out-dir for one file per drawing)")
    files.make_folder(Path(path).parent)
    files.check_file_target(path)


def check_output_dir(path) -> None:
    """Create the --out-dir folder; refuse a name that is a file."""
    from pathlib import Path

    from sketchrnn import files

    if Path(path).exists() and not Path(path).is_dir():
        raise ValueError(f"--out-dir {path} is a file, not a folder; give a folder name (or use --out for one file)")
    files.make_folder(path)


def check_drawing_outputs(arguments) -> None:
    """Before any work: --out and/or --out-dir are given and can be written."""
    if not arguments.out and not arguments.out_dir:
        raise ValueError("say where to write: --out FILE.svg and/or --out-dir DIR")
    if arguments.out:
        check_output_file(arguments.out)
    if arguments.out_dir:
        check_output_dir(arguments.out_dir)


def write_drawings(arguments, items, render_one) -> None:
    """Write a grid (--out) and/or one file per item (--out-dir); print the paths."""
    from pathlib import Path

    from sketchrnn import svg

    check_drawing_outputs(arguments)
    if arguments.out:
        print(svg.save_svg(svg.grid_svg(items, animate=arguments.animate), arguments.out))
    if arguments.out_dir:
        for index, item in enumerate(items):
            print(svg.save_svg(render_one(item), Path(arguments.out_dir) / f"drawing_{index:02d}.svg"))


def run_sample(arguments) -> int:
    """Sample and write SVG."""
    from sketchrnn import sample, svg

    check_drawing_outputs(arguments)
    model = choose_model(arguments.model, arguments.category)
    drawings = sample.sample(model, arguments.n, temperature=arguments.temperature, seed=arguments.seed,
                             category=arguments.category, greedy=arguments.greedy,
                             pen_temperature=arguments.pen_temperature, tries=arguments.tries,
                             calibration=guess_calibration(arguments.tries), guidance=arguments.guidance)
    write_drawings(arguments, drawings, lambda drawing: svg.drawing_svg(drawing, animate=arguments.animate))
    return 0


def guess_calibration(tries: int):
    """The bundled guess calibration, which ``--tries`` ranks drawings with (not read when there is nothing to rank)."""
    from sketchrnn import calibration

    return calibration.load_default() if tries > 1 else None


MAX_DRAWING_BYTES = 8 * 2**20  # a --input drawing larger than this is refused (20,000 points take ~1 MB)
JSON_KINDS = {str: "a string", int: "a number", float: "a number", bool: "true or false", type(None): "null"}


def read_drawing_json(path) -> list:
    """A drawing from a JSON file: canvas strokes, or one simplified-ndjson record.

    Only a regular file of at most ``MAX_DRAWING_BYTES`` is read (a FIFO or device is refused, never opened);
    numbers too large for a float (``10**400``) and ``NaN`` / ``Infinity`` are refused.
    """
    import json

    from sketchrnn import files

    try:
        text = files.read_regular_file(path, MAX_DRAWING_BYTES).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not text (UTF-8 JSON expected)") from None
    try:
        value = json.loads(text, parse_int=json_coordinate, parse_float=json_coordinate, parse_constant=json_constant)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error})") from None
    except ValueError as error:  # from json_coordinate / json_constant
        raise ValueError(f"{path}: {error}") from None
    except RecursionError:
        raise ValueError(f"{path} is JSON nested too deeply; a drawing is a list of strokes, each a list of "
                         f"[x, y] points (3 levels)") from None
    if isinstance(value, dict):
        return drawing_from_record(value, path)
    if not isinstance(value, list):
        raise ValueError(f"{path} holds {JSON_KINDS.get(type(value), 'a JSON value')} ({text.strip()[:40]}), not a "
                         f"drawing: expected a list of strokes, each a list of [x, y] points, or a QuickDraw record "
                         f"{{\"drawing\": [[[x...], [y...]], ...]}}")
    return value


def json_coordinate(text: str) -> float:
    """A JSON number as a float; ValueError for one too large for a float (e.g. ``10**400``)."""
    import math

    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 20 else f"{text[:12]}... ({len(text)} characters)"
        raise ValueError(f"the number {shown} is too large for a coordinate; points must be [x, y] pixel positions")
    return value


def json_constant(name: str):
    """Refuse JSON's non-standard ``NaN`` / ``Infinity`` constants (Python's json accepts them)."""
    raise ValueError(f"{name} is not a coordinate; points must be [x, y] with finite numbers")


def drawing_from_record(record: dict, path) -> list:
    """The strokes of a simplified-ndjson record ``{"drawing": [[[x...], [y...]], ...]}`` as lists of (x, y)."""
    if "drawing" not in record:
        raise ValueError(f"{path}: a JSON object must be a QuickDraw record with a 'drawing' field")
    try:
        return [list(zip(stroke[0], stroke[1])) for stroke in record["drawing"]]
    except (TypeError, IndexError, KeyError):
        raise ValueError(f"{path}: 'drawing' must be a list of [[x...], [y...]] strokes") from None


def run_complete(arguments) -> int:
    """Complete a drawing and write SVG."""
    check_drawing_outputs(arguments)
    drawing = read_drawing_json(arguments.input)  # before importing TensorFlow: bad input is refused at once
    from sketchrnn import sample, svg

    model = choose_model(arguments.model, arguments.category)
    completion = sample.complete(
        model, drawing, arguments.n, temperature=arguments.temperature,
        seed=arguments.seed, category=arguments.category, greedy=arguments.greedy, canvas_size=arguments.canvas_size,
        pen_temperature=arguments.pen_temperature, tries=arguments.tries,
        calibration=guess_calibration(arguments.tries), guidance=arguments.guidance,
    )
    items = [(completion.prime, ending) for ending in completion.endings]
    write_drawings(arguments, items, lambda item: svg.completion_svg(*item, animate=arguments.animate))
    return 0


# ----------------------------------------------------------------------------------------------
# sketchrnn reconstruct / interpolate (the VAE: redraw a drawing, morph one drawing into another)


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
    parser.set_defaults(handler=run_reconstruct)


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
    parser.set_defaults(handler=run_interpolate)


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


def parse_indices(text: str) -> list[int]:
    """``'0..15'``, ``'3'`` or ``'1,4,7'`` -> a list of indices."""
    try:
        if ".." in text:
            first, last = (int(part) for part in text.split(".."))
            return list(range(first, last + 1))
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an index, a list like 1,4,7 or a range like 0..15") from None


def add_render_command(subparsers) -> None:
    """``sketchrnn render SOURCE``."""
    parser = subparsers.add_parser(
        "render", help="draw dataset drawings as SVG",
        description="Render drawings of a dataset (after cleaning and the length cap) as an SVG grid.",
        epilog="example: sketchrnn render ../shared/data/quickdraw_sketchrnn_pig_2200.npz --index 0..15 --out data.svg",
    )
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="data files or category names")
    parser.add_argument("--index", type=parse_indices, default=list(range(16)), help="which drawings (default 0..15)")
    parser.add_argument("--split", default="train", choices=("train", "valid", "test"), help="which split (default train)")
    parser.add_argument("--out", required=True, metavar="FILE.svg", help="where to write the grid")
    add_dataset_options(parser)
    parser.set_defaults(handler=run_render)


def run_render(arguments) -> int:
    """Render dataset drawings."""
    from sketchrnn import strokes, svg

    check_output_file(arguments.out)
    part = load_from_arguments(arguments).splits[arguments.split]
    bad = [i for i in arguments.index if not 0 <= i < len(part.drawings)]
    if bad:
        raise ValueError(f"indices {bad} are outside the {arguments.split} split (0..{len(part.drawings) - 1})")
    drawings = [strokes.stroke3_to_polylines(part.drawings[i]) for i in arguments.index]
    print(svg.save_svg(svg.grid_svg(drawings), arguments.out))
    return 0


def add_export_command(subparsers) -> None:
    """``sketchrnn export RUN DEST``."""
    parser = subparsers.add_parser(
        "export", help="copy a run's best model out, with a model card and its test-split L_R",
        description=(
            "Copy RUN/best to DEST (a model directory the demo and the drawing commands load), write "
            "DEST/MODEL_CARD.md with the data, settings, steps, wall time, machine and the held-out test L_R "
            "of each category (the test split of the run's own data; never used for training or selection)."
        ),
        epilog="example: sketchrnn export runs/pig data/models/pig",
    )
    parser.add_argument("run", metavar="RUN", help="training run directory")
    parser.add_argument("destination", metavar="DEST", help="model directory to write (a model already there is replaced; "
                                                               "a folder holding anything else is refused)")
    parser.add_argument("--no-test", action="store_true", help="skip the test-split evaluation")
    parser.add_argument("--compare-with", metavar="MODEL", default=None,
                        help="also evaluate this model (e.g. the decoder-only data/models/quickdraw6) on the same test "
                             "split and put its L_R beside this one's in the card")
    parser.add_argument("--float16", action="store_true",
                        help="store the weights as float16: half the size (for bundled models); the card's test L_R "
                             "is measured on the stored weights")
    parser.set_defaults(handler=run_export)


def run_export(arguments) -> int:
    """Export a run and print its model card."""
    from pathlib import Path

    import numpy as np

    from sketchrnn.export import check_destination, export_run, test_losses_by_category
    from sketchrnn.train import read_settings

    check_destination(arguments.destination)
    settings = read_settings(arguments.run)
    options = dict(seed=settings.seed, rescale_to=settings.rescale_to, categories=settings.categories)
    weights_dtype = np.float16 if arguments.float16 else np.float32
    measured = Path(arguments.run) / "best"
    if arguments.float16 and not arguments.no_test:  # measure the weights as stored: write them first
        measured = export_run(arguments.run, arguments.destination, weights_dtype=weights_dtype)
    losses = None if arguments.no_test else test_losses_by_category(measured, settings.data, **options)
    reference = None
    if arguments.compare_with and losses:
        reference = {"model": Path(arguments.compare_with).name,
                     "test_loss": test_losses_by_category(arguments.compare_with, settings.data, **options)}
    destination = export_run(arguments.run, arguments.destination, losses, reference, weights_dtype)
    print((destination / "MODEL_CARD.md").read_text())
    return 0


def add_demo_command(subparsers) -> None:
    """``sketchrnn demo``: the Gradio page (same as ``python app.py``)."""
    parser = subparsers.add_parser("demo", help="start the Gradio demo (same as python app.py)", add_help=False)
    parser.add_argument("demo_arguments", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=lambda arguments: __import__("sketchrnn.demo").demo.main(arguments.demo_arguments))


# ----------------------------------------------------------------------------------------------
# sketchrnn models import / download / list (magenta's pretrained models)


def add_models_command(subparsers) -> None:
    """``sketchrnn models import|download|list``."""
    parser = subparsers.add_parser(
        "models", help="use magenta's pretrained Sketch-RNN models: import, download, list",
        description=(
            "Magenta's published decoder-only Sketch-RNN models (about 113 Quick, Draw! categories, Apache-2.0) "
            "converted exactly into this project's model directories, so sample, complete, evaluate, render, export "
            "and the demo use them like models trained here."
        ),
    )
    commands = parser.add_subparsers(dest="models_command", required=True, metavar="{import,download,list}")
    importer = commands.add_parser(
        "import", help="convert a magenta .gen.json into a model directory",
        description="Convert FILE.gen.json into OUT_DIR (default: <cache>/imported/magenta-NAME) with a MODEL_CARD.md.",
        epilog="example: sketchrnn models import pig.gen.json --evaluate-on ../shared/data/quickdraw_sketchrnn_pig_2200.npz",
    )
    importer.add_argument("file", metavar="FILE.gen.json", help="a model file as magenta.js loads it")
    importer.add_argument("out_dir", nargs="?", default=None, metavar="OUT_DIR", help="model directory to write")
    importer.add_argument("--evaluate-on", nargs="+", default=None, metavar="SOURCE",
                          help="data of the model's category: put its held-out L_R (ours and magenta's) in the card")
    importer.add_argument("--float16", action="store_true", help="store weights as float16 (half the size)")
    importer.set_defaults(handler=run_models_import)
    downloader = commands.add_parser(
        "download", help="fetch published models by name into the cache and import them",
        description=("Fetch NAME.gen.json from magenta's model server (once; cached under <cache>/magenta/) and import "
                     "it into <cache>/imported/magenta-NAME. Needs internet; $SKETCHRNN_MODELS_URL overrides the server."),
        epilog="example: sketchrnn models download cat bicycle owl",
    )
    downloader.add_argument("names", nargs="+", metavar="NAME", help="published model names, e.g. cat, alarm_clock")
    downloader.add_argument("--cache-dir", default=None, help="download cache (default $SKETCHRNN_DATA_DIR, else data/)")
    downloader.set_defaults(handler=run_models_download)
    lister = commands.add_parser("list", help="the bundled, imported and cached models, one line each")
    lister.add_argument("--cache-dir", default=None, help="download cache (default $SKETCHRNN_DATA_DIR, else data/)")
    lister.set_defaults(handler=run_models_list)


def run_models_import(arguments) -> int:
    """Import one .gen.json and print where it went."""
    import numpy as np

    from sketchrnn import magenta

    destination = magenta.import_model(arguments.file, arguments.out_dir, evaluate_on=arguments.evaluate_on,
                                       weights_dtype=np.float16 if arguments.float16 else np.float32)
    print(destination)
    return 0


def run_models_download(arguments) -> int:
    """Download and import each named model; print the model directories."""
    from sketchrnn import magenta

    for name in arguments.names:
        print(magenta.download_and_import(name, cache_dir=arguments.cache_dir, progress=data.stderr_progress))
    return 0


def run_models_list(arguments) -> int:
    """One line per model: kind, name, categories, path."""
    import json

    from sketchrnn import magenta

    rows = magenta.model_inventory(arguments.cache_dir)
    for kind, name, path in rows:
        categories = "(not imported: sketchrnn models import it)"
        if kind != "cached":
            categories = ", ".join(json.loads((path / "config.json").read_text()).get("categories", []))
        print(f"{kind:<9} {name:<24} {categories:<40} {path}")
    if not rows:
        print("no models: train one, or sketchrnn models download pig")
    return 0


def add_calibrate_command(subparsers) -> None:
    """``sketchrnn calibrate-guess``: fit "what are you drawing?" to the models a user has."""
    parser = subparsers.add_parser(
        "calibrate-guess", help='fit the calibration of "what are you drawing?" for your models',
        description=(
            "Fit the per-model temperatures and the per-(model, category) offsets and length slopes that turn each "
            "model's per-point log-likelihood into calibrated guesses, on the validation splits of the models' own training data "
            "(complete drawings and their first 40%%; a category no model's data has, such as an imported magenta model's, is "
            "fitted on that model's own samples at temperature 1); test splits are never used. Default models: the bundled, "
            "imported and cached ones, as the demo loads them. Writes data/models/guess_calibration.json "
            "(or --out), which the demo reads."
        ),
        epilog="example: sketchrnn calibrate-guess --per-category 100",
    )
    parser.add_argument("models", nargs="*", metavar="MODEL", help="model directories (default: the demo's models)")
    parser.add_argument("--per-category", type=int, default=250,
                        help="validation drawings per category, at most (default 250: all of the bundled models' data)")
    parser.add_argument("--seed", type=int, default=0, help="which validation drawings are taken (default 0)")
    parser.add_argument("--out", default=None, metavar="FILE.json", help="where to write (default data/models/guess_calibration.json)")
    parser.add_argument("--length-exponents", action="store_true",
                        help="also fit a length exponent per model, so a guess grows surer as the drawing grows: better "
                             "calibrated percentages, but no better ranking (here: cut test drawings guessed right 62.0%% -> "
                             "60.6%%; see sketchrnn/calibration.py)")
    parser.set_defaults(handler=run_calibrate)


def run_calibrate(arguments) -> int:
    """Fit and save the calibration; print its summary."""
    from sketchrnn import calibration, checkpoint, demo

    if arguments.per_category < 1:
        raise ValueError("--per-category must be at least 1")
    models = [checkpoint.load_model(path) for path in arguments.models] if arguments.models else demo.load_models()
    terminal = sys.stderr.isatty()  # in a log file: one plain line per 50 drawings instead of carriage returns
    progress = lambda done, total: print(f"{chr(13) if terminal else ''}scoring validation drawings: {done}/{total}",  # noqa: E731
                                         end="\n" if done == total or not terminal else "", file=sys.stderr, flush=True)
    fitted = calibration.calibrate(models, per_category=arguments.per_category, seed=arguments.seed, progress=progress,
                                   length_exponents=arguments.length_exponents)
    path = fitted.save(arguments.out or calibration.default_path())
    temperatures = ", ".join(f"{name} {value:.4f}" for name, value in sorted(fitted.temperatures.items()))
    exponents = ", ".join(f"{name} {value:.3f}" for name, value in sorted(fitted.exponents.items()))
    exponents = f"; length exponents {exponents}" if exponents else ""
    print(f"{path}: temperatures {temperatures}{exponents}; {len(fitted.offsets)} offsets and length slopes; "
          f"validation cross-entropy {fitted.facts['validation_cross_entropy']}")
    return 0


# ----------------------------------------------------------------------------------------------
# The program

COMMANDS = (  # each adds one subcommand to the parser
    add_data_command, add_train_command, add_evaluate_command, add_sample_command, add_complete_command,
    add_reconstruct_command, add_interpolate_command, add_render_command, add_export_command, add_demo_command,
    add_models_command, add_calibrate_command,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command of ``COMMANDS``."""
    parser = argparse.ArgumentParser(prog="sketchrnn", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


# ----------------------------------------------------------------------------------------------
# A quiet start: only the project's own output on stderr

# TensorFlow's native start-up lines, written to file descriptor 2 while `import tensorflow` loads its libraries.
# TF_CPP_MIN_LOG_LEVEL hides the CPU-feature banner but not these (absl writes everything to stderr before
# absl::InitializeLog(), which Python programs never call); the GPU lines come from CUDA builds.
TENSORFLOW_IMPORT_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "cpu_feature_guard.cc",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions:",
    "Unable to register cuDNN factory", "Unable to register cuFFT factory", "Unable to register cuBLAS factory",
    "computation_placer.cc", "TF-TRT Warning: Could not find TensorRT",
)


def keep_stderr_line(line: str) -> bool:
    """False for TensorFlow's start-up noise, True for anything else (a real error at import stays visible)."""
    return not any(noise in line for noise in TENSORFLOW_IMPORT_NOISE)


class QuietLoader(importlib.abc.Loader):
    """Runs a module's loader with fd 2 captured, then writes back every captured line that is not noise."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # get_source, resource readers...: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        sys.stderr.flush()
        saved_stderr = os.dup(2)
        with tempfile.TemporaryFile() as capture:  # a file, not a pipe: a long error cannot block the import
            os.dup2(capture.fileno(), 2)
            try:
                self.loader.exec_module(module)
            finally:
                module.__loader__ = module.__spec__.loader = self.loader  # the package keeps its own loader
                sys.stderr.flush()
                os.dup2(saved_stderr, 2)
                os.close(saved_stderr)
                capture.seek(0)
                kept = [line for line in capture.read().decode(errors="replace").splitlines(True) if keep_stderr_line(line)]
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """On the first ``import tensorflow`` (by any module), load it through :class:`QuietLoader`, then step aside."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or self not in sys.meta_path:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)  # the finders after this one
        if spec is not None and spec.loader is not None:
            spec.loader = QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_start() -> None:
    """Keep TensorFlow's start-up lines off stderr (oneDNN stays on) and its INFO/WARNING C++ logs off.

    Must run before TensorFlow is imported; the CLI imports it only in the commands that need it.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules and not any(isinstance(f, QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietTensorFlowImport())


def main(argv=None) -> int:
    """Run the command line; returns the exit status (2 for bad input, with ``error: ...`` on stderr)."""
    quiet_tensorflow_start()
    parser = build_parser()
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help (0) or a usage error (2)
        return exit_request.code if isinstance(exit_request.code, int) else 2
    try:
        return arguments.handler(arguments)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the file system failed (permissions, a full disk): not the arguments
        where = f" ({error.filename})" if error.filename else ""
        print(f"error: {error.strerror or error}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
