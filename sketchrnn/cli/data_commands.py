"""``sketchrnn data info|download`` and ``sketchrnn render``: look at datasets and fill the download cache."""

from __future__ import annotations

import argparse
import os
import sys

from sketchrnn import data
from sketchrnn.cli.outputs import check_output_file


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
