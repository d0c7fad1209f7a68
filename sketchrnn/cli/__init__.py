"""The ``sketchrnn`` command line: thin wrappers that parse arguments and call package functions.

Adding a command: write ``add_<name>_command(subparsers)`` that adds its parser and sets
``handler=<function(arguments) -> exit code>`` with ``set_defaults``, then list it in ``COMMANDS``.
A ``ValueError`` raised by a handler is printed as ``error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

from sketchrnn import compile_cache
from sketchrnn.cli.data_commands import add_data_command, add_render_command
from sketchrnn.cli.draw_commands import (
    add_complete_command,
    add_interpolate_command,
    add_reconstruct_command,
    add_sample_command,
)
from sketchrnn.cli.model_commands import add_demo_command, add_models_command
from sketchrnn.cli.quiet import filtered_stderr, quiet_tensorflow_start
from sketchrnn.cli.train_commands import (
    add_calibrate_command,
    add_evaluate_command,
    add_export_command,
    add_train_command,
)

DESCRIPTION = "Sketch-RNN style drawing generator trained on Quick, Draw! pen strokes."


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


def run_handler(arguments) -> int:
    """Run the parsed command. A drawing command (``compiles`` set by its parser) in a process that has not loaded
    TensorFlow yet loads the sampler's compiled programs from the XLA cache (:mod:`sketchrnn.compile_cache`) and
    keeps the cache's load notices off stderr."""
    if not getattr(arguments, "compiles", False) or "tensorflow" in sys.modules:
        return arguments.handler(arguments)
    compile_cache.enable()
    with filtered_stderr():
        return arguments.handler(arguments)


def main(argv=None) -> int:
    """Run the command line; returns the exit status (2 for bad input, with ``error: ...`` on stderr)."""
    quiet_tensorflow_start()
    parser = build_parser()
    try:
        arguments, unknown = parser.parse_known_args(argv)
        if unknown and not getattr(arguments, "passes_through", False):
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        arguments.passed_through = unknown
    except SystemExit as exit_request:  # --help (0) or a usage error (2)
        return exit_request.code if isinstance(exit_request.code, int) else 2
    try:
        return run_handler(arguments)
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
