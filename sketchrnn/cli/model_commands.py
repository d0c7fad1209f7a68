"""``sketchrnn models import|download|list`` (magenta's pretrained models) and ``sketchrnn demo``."""

from __future__ import annotations

import argparse
import sys

from sketchrnn import data


def add_demo_command(subparsers) -> None:
    """``sketchrnn demo [demo options]``: the Gradio page (same as ``python app.py``); every option after ``demo``,
    ``--help`` included, goes to the demo's own parser (``passes_through``)."""
    parser = subparsers.add_parser("demo", help="start the Gradio demo (same as python app.py)", add_help=False)
    parser.set_defaults(handler=run_demo, passes_through=True)


def run_demo(arguments) -> int:
    """Start the page with the options given after ``demo``."""
    from sketchrnn.demo import main as demo_main

    return demo_main(arguments.passed_through)


def add_models_command(subparsers) -> None:
    """``sketchrnn models import|download|list``."""
    parser = subparsers.add_parser(
        "models", help="magenta's pretrained Sketch-RNN models (import, download, list); yours for magenta.js (export-js)",
        description=(
            "Magenta's published decoder-only Sketch-RNN models (about 113 Quick, Draw! categories, Apache-2.0) "
            "converted exactly into this project's model directories, so sample, complete, evaluate, render, export "
            "and the demo use them like models trained here."
        ),
    )
    commands = parser.add_subparsers(dest="models_command", required=True, metavar="{import,download,list,export-js}")
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
    add_models_export_js_command(commands)


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


def add_models_export_js_command(commands) -> None:
    """``sketchrnn models export-js``: a decoder as magenta's .gen.json, for magenta.js / ml5.js, or a web page."""
    exporter = commands.add_parser(
        "export-js", help="write a model as a magenta .gen.json (for @magenta/sketch, ml5.js) or as a web page",
        description=("Write one category of a decoder-only model as magenta's .gen.json, the file magenta.js "
                     "(@magenta/sketch) and ml5.js load: exact but for rounding each weight to a step of 10/32767. "
                     "A model of several categories needs --category; VAEs and layer-normalised models are refused. "
                     "With --page, OUT is a folder for a static page that draws with the model: index.html, "
                     "model.gen.json and @magenta/sketch's browser build (installed with npm into the download "
                     "cache the first time)."),
        epilog="examples: sketchrnn models export-js data/models/quickdraw6 --category pig pig.gen.json\n"
               "          sketchrnn models export-js data/models/magenta-pig --page web && python3 -m http.server -d web",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    exporter.add_argument("model", metavar="MODEL", help="a model directory (e.g. data/models/quickdraw6) or a run")
    exporter.add_argument("out", metavar="OUT", help="the .gen.json file to write (with --page: the page's folder)")
    exporter.add_argument("--category", default=None, help="the category to export (needed for a model of several)")
    exporter.add_argument("--page", action="store_true",
                          help="write a web page that draws with the model into the folder OUT (new, empty or a page)")
    exporter.add_argument("--cache-dir", default=None, help="where npm's @magenta/sketch is kept (default "
                                                            "$SKETCHRNN_DATA_DIR, else data/)")
    exporter.set_defaults(handler=run_models_export_js)


def run_models_export_js(arguments) -> int:
    """Export one category as a .gen.json, or as a page; print what was written."""
    from sketchrnn import checkpoint, files, magenta, web

    if arguments.page:
        files.check_directory_target(arguments.out, web.is_page_dir, web.PAGE_DIR_KIND)
    else:
        files.check_file_target(arguments.out)
    model = checkpoint.load_model(arguments.model)
    text = magenta.gen_json_text(magenta.from_trained_model(model, arguments.category))  # refusals come here
    if arguments.page:
        log = lambda message: print(message, file=sys.stderr)  # noqa: E731
        print(web.write_page(text, arguments.out, arguments.cache_dir, log) / web.PAGE_FILE)
    else:
        print(files.atomic_write_text(arguments.out, text))
    return 0
