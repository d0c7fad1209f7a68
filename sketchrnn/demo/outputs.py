"""The page's output: inline SVG for the page, .svg files for download (each request's in a folder of its own,
deleted after `OUTPUT_LIFETIME_S`)."""

from __future__ import annotations

import html
import re
import shutil
import tempfile
import time
from pathlib import Path

from sketchrnn.svg import save_svg


OUTPUT_LIFETIME_S = 3600  # SVG files offered for download are deleted after this long


def endings_html(svg_texts: list[str], captions: list[str]) -> str:
    """The SVGs side by side, each in a captioned card."""
    cards = "".join(
        f'<figure class="sketch-ending">{svg_text}<figcaption>{html.escape(caption)}</figcaption></figure>'
        for svg_text, caption in zip(svg_texts, captions)
    )
    return f'<div class="sketch-endings">{cards}</div>'


def file_stem(label: str) -> str:
    """A file-name-safe version of a menu label: lower case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "drawing"


def write_svg_files(svg_texts: list[str], all_svg: str, stem: str, output_root: Path) -> list[str]:
    """Save each SVG and the all-in-one SVG in a new folder of their own; returns the paths."""
    named = {f"{stem}-{index}.svg": text for index, text in enumerate(svg_texts, 1)}
    return write_named_svg_files({**named, f"{stem}-all.svg": all_svg}, output_root)


def write_named_svg_files(svg_by_name: dict[str, str], output_root: Path) -> list[str]:
    """Save SVG texts under their file names in a new folder of their own; returns the paths."""
    prune_outputs(output_root)
    folder = Path(tempfile.mkdtemp(prefix="request-", dir=output_root))
    return [str(save_svg(text, folder / name)) for name, text in svg_by_name.items()]


def prune_outputs(output_root: Path, lifetime_s: float = OUTPUT_LIFETIME_S) -> None:
    """Delete request folders older than `lifetime_s` seconds."""
    cutoff = time.time() - lifetime_s
    for folder in Path(output_root).glob("request-*"):
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            continue  # another request removed it first


def new_output_root() -> Path:
    """A private temporary folder for this server's download files."""
    return Path(tempfile.mkdtemp(prefix="sketchrnn-demo-"))
