"""Where the drawing commands write: checked before any work, then the SVG grid and/or one file per drawing."""

from __future__ import annotations

from pathlib import Path


def check_output_file(path) -> None:
    """Refuse an --out that cannot become an SVG file; create its missing folders (as --out-dir does)."""

    from sketchrnn import files

    if Path(path).is_dir():
        raise ValueError(f"--out {path} is a folder; give a file name such as {Path(path) / 'drawings.svg'} "
                         f"(or use --out-dir for one file per drawing)")
    files.make_folder(Path(path).parent)
    files.check_file_target(path)


def check_output_dir(path) -> None:
    """Create the --out-dir folder; refuse a name that is a file."""

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

    from sketchrnn import svg

    check_drawing_outputs(arguments)
    if arguments.out:
        print(svg.save_svg(svg.grid_svg(items, animate=arguments.animate), arguments.out))
    if arguments.out_dir:
        for index, item in enumerate(items):
            print(svg.save_svg(render_one(item), Path(arguments.out_dir) / f"drawing_{index:02d}.svg"))
