"""Every bound on what an input may cost, in one place, each with the environment variable that changes it.

A file or a model directory a person hands the project is untrusted input: a few hundred kilobytes can
describe gigabytes (a ``.gz`` of tiny records, an ``.npz`` of millions of empty arrays, a config.json
whose ``max_length`` is a billion). So what an input *turns into* is bounded, not only its bytes, and
checked before the memory is spent. Each default admits every genuine input the project knows of with
room to spare, and keeps what one input can cost to about 1 GB above a normal one (measured with
``/usr/bin/time -f %M``; see docs/readme_sections/limits.md for the figures). A genuine larger input is let through by
setting the limit's environment variable to a positive whole number, in the unit shown:

====================  =============  ===============================  ====================================================
limit                 default        environment variable             what it bounds
====================  =============  ===============================  ====================================================
inflated bytes        512 MiB        ``SKETCHRNN_MAX_INFLATED_MB``    what a compressed source inflates to (``.npz``
                                                                      members read, a ``.gz`` stream); an official
                                                                      ``.npz`` inflates to ~40-120 MB
drawings              500,000        ``SKETCHRNN_MAX_DRAWINGS``       drawings in one data file (an official ``.npz``
                                                                      holds 75,000; the largest official simplified
                                                                      ndjson about 340,000)
points                10,000,000     ``SKETCHRNN_MAX_POINTS``         points in one data file, all drawings together
                                                                      (an official ``.npz``: ~5 million)
points per drawing    20,000         ``SKETCHRNN_MAX_DRAWING_POINTS`` points of one drawing as the file holds it
                                                                      (before simplification)
model memory          1,024 MiB      ``SKETCHRNN_MAX_MODEL_MB``       a model's estimated memory: its weights and the
                                                                      sampler's buffers (the bundled models: 43-368 MiB)
====================  =============  ===============================  ====================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MIB = 1 << 20


@dataclass(frozen=True)
class Limit:
    """One bound: its default, the environment variable that overrides it, and how to name it in a message."""

    variable: str  # e.g. "SKETCHRNN_MAX_DRAWINGS"
    default: int  # in units
    unit: str  # "MiB" (the limit is then bytes), or what is counted: "drawings", "points"
    bounds: str  # what it bounds, for messages: "drawings in one data file"

    @property
    def unit_bytes(self) -> int:
        """Bytes in one unit: ``MIB`` for a size, 1 for a count."""
        return MIB if self.unit == "MiB" else 1

    def value(self) -> int:
        """The limit (bytes, or a count): ``$VARIABLE`` units when set, else the default; ValueError for a bad setting."""
        configured = os.environ.get(self.variable, "").strip()
        if not configured:
            return self.default * self.unit_bytes
        if not configured.isdigit() or int(configured) == 0:
            of = f" of {self.unit}" if self.unit == "MiB" else ""
            raise ValueError(f"{self.variable} must be a positive whole number{of} (e.g. {2 * self.default}), "
                             f"got {configured!r}")
        return int(configured) * self.unit_bytes

    def shown(self, value: int | None = None) -> str:
        """The limit in words: ``"512 MiB"``, ``"500,000 drawings"``."""
        value = self.value() if value is None else value
        return f"{value / MIB:g} MiB" if self.unit == "MiB" else f"{value:,} {self.unit}"

    def error(self, where: str, found: str, why: str = "") -> ValueError:
        """The refusal of an input past this limit, naming the override: ``"{where}: {found} more than {limit}, ..."``.

        ``found`` says what the input holds (``"it holds"``, ``"its gzip stream inflates to"``); ``why`` what
        usually causes it (shown in brackets).
        """
        limit = self.value()
        suggestion = 2 * -(-limit // self.unit_bytes)
        if self.unit == "MiB":
            suggestion = max(suggestion, 1024)
        return ValueError(
            (f"{where}: " if where else "") + f"{found} more than {self.shown(limit)}, the limit on {self.bounds}"
            + (f" ({why})" if why else "")
            + f". If it is genuine, raise the limit with the environment variable {self.variable}, "
            f"e.g. {self.variable}={suggestion}"
        )

    def check(self, count: int, where: str, found: str, why: str = "") -> None:
        """Raise :meth:`error` when ``count`` (bytes or a count) is past the limit."""
        if count > self.value():
            raise self.error(where, found, why)


INFLATED_BYTES = Limit("SKETCHRNN_MAX_INFLATED_MB", 512, "MiB", "what a compressed source may inflate to")
DRAWINGS = Limit("SKETCHRNN_MAX_DRAWINGS", 500_000, "drawings", "drawings in one data file")
POINTS = Limit("SKETCHRNN_MAX_POINTS", 10_000_000, "points", "points in one data file")
DRAWING_POINTS = Limit("SKETCHRNN_MAX_DRAWING_POINTS", 20_000, "points", "points in one drawing")
MODEL_MEMORY = Limit("SKETCHRNN_MAX_MODEL_MB", 1024, "MiB", "a model's memory (its weights and the sampler's buffers)")
ALL = (INFLATED_BYTES, DRAWINGS, POINTS, DRAWING_POINTS, MODEL_MEMORY)
