"""Serving the page: the command line (`parse_args`, `main`), the server's private folder (downloads and
Gradio's cache), `launch_demo`, and SIGTERM turned into a clean exit."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

import gradio as gr

from sketchrnn.demo.catalog import load_page_models, load_test_drawings
from sketchrnn.demo.defaults import CONCURRENCY_LIMIT
from sketchrnn.demo.layout import CSS, build_demo
from sketchrnn.demo.outputs import new_output_root


# gradio modules that copy $GRADIO_TEMP_DIR into DEFAULT_TEMP_DIR at import (6.31); see private_server_folder
GRADIO_MODULES_WITH_TEMP_DIR = ("gradio.routes", "gradio.route_utils", "gradio.mcp", "gradio.screen_recording_utils")


@contextlib.contextmanager
def private_server_folder():
    """A private (0700) temporary folder for one server, holding Gradio's cache; removed on exit.

    Gradio caches the files it serves in ``$GRADIO_TEMP_DIR`` (default: a ``/tmp/gradio`` shared by
    every Gradio server on the machine, readable by all, and served by any of them). Each server
    here gets its own ``gradio-cache`` inside its folder instead; enter this before building Blocks.
    """
    root = new_output_root()  # mkdtemp: mode 0700
    cache = root / "gradio-cache"
    cache.mkdir(mode=0o700)
    atexit.register(shutil.rmtree, root, ignore_errors=True)  # also when the interpreter exits another way
    try:
        with gradio_temp_dir(cache):
            yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def gradio_temp_dir(folder: Path):
    """Point Gradio's cache at `folder` for the duration: $GRADIO_TEMP_DIR, and the few gradio modules
    that copied it at import (already done), which would otherwise still create /tmp/gradio."""
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    modules = [sys.modules.get(name) for name in GRADIO_MODULES_WITH_TEMP_DIR]
    saved = [(module, module.DEFAULT_TEMP_DIR) for module in modules if hasattr(module, "DEFAULT_TEMP_DIR")]
    for module, _ in saved:
        module.DEFAULT_TEMP_DIR = str(folder)
    try:
        yield
    finally:
        for module, directory in saved:
            module.DEFAULT_TEMP_DIR = directory
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous


@contextlib.contextmanager
def sigterm_exits():
    """Turn SIGTERM (what `kill` and service managers send) into SystemExit, so clean-up code runs.

    Only the main thread may install signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def launch_demo(demo: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False, block=True):
    """Serve `demo` through the queue (concurrent requests wait their turn); returns when it stops
    (or at once with ``block=False``)."""
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=64)
    return demo.launch(
        server_name=host, server_port=port, share=share, css=CSS, prevent_thread_lock=not block, quiet=not block
    )


def parse_args(argv=None) -> argparse.Namespace:
    """The demo's command-line flags."""
    parser = argparse.ArgumentParser(prog="sketchrnn demo", description="Serve the drawing demo in a web page.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default 7860)")
    parser.add_argument(
        "--model-dir", default=None, help="a trained model, or a folder of them (default: the bundled models)"
    )
    parser.add_argument(
        "--share", action="store_true", help="also open a public gradio.live link (contacts Gradio's servers)"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Load the models once, then serve the demo until interrupted (Ctrl-C or SIGTERM); returns the
    exit status. The server's files (downloads, Gradio's cache) live in a private temporary folder
    that is removed on the way out."""
    args = parse_args(argv)
    with sigterm_exits(), private_server_folder() as output_root:
        try:
            catalog, redrawers = load_page_models(args.model_dir)
        except ValueError as error:
            print(f"sketchrnn demo: {error}", file=sys.stderr)
            return 2
        if not catalog:
            print("sketchrnn demo: the models list no categories (a VAE alone cannot complete drawings)",
                  file=sys.stderr)
            return 2
        test_drawings = load_test_drawings(next(iter(redrawers.values()))) if redrawers else {}
        blocks = build_demo(catalog, output_root, redrawers=redrawers, test_drawings=test_drawings)
        try:
            launch_demo(blocks, host=args.host, port=args.port, share=args.share)
        finally:
            blocks.close(verbose=False)
    return 0
