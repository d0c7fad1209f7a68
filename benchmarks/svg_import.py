"""Throughput and memory of `sketchrnn data import` on two real icon sets (issue 35).

The sets are npm packages of stroke-only icons: ``lucide-static`` (ISC) and ``@tabler/icons`` (MIT). Give
their tarballs or folders; without arguments they are taken from ``--cache`` (default
``data/icon_sets/``, git-ignored), fetched there with ``npm pack`` when missing (the only step that needs
the network; never committed).

Each source is imported on its own, then both together, with :func:`sketchrnn.data.svg_import.import_drawings`
into a temporary folder, ``--repeats`` times (the median is printed). "icons/s" counts the ``.svg`` files
of the sets handled per wall-clock second (imported or skipped with a reason; exact duplicates and
fill-only icons included, since each is read and checked); "CPU icons/s" divides by the process time of
this process and its workers instead, which the other jobs of a busy machine disturb less. Peak memory is
``resource.getrusage``'s maximum resident set size of this process and of its (waited-for) workers.
Prints imported and skipped counts per reason; exit status 1 if the whole import misses ``TARGET`` icons/s.

    .venv/bin/python benchmarks/svg_import.py [TARBALL_OR_FOLDER ...] [--jobs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sketchrnn.data import svg_import

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGES = ("lucide-static", "@tabler/icons")  # npm names
TARBALL_PREFIXES = {"lucide-static": "lucide-static-", "@tabler/icons": "tabler-icons-"}
TARGET = 500  # icons per second on the 2-core development machine (issue 35)


def cached_tarballs(cache: Path) -> list[Path]:
    """The icon sets' tarballs in ``cache``, fetched with ``npm pack`` when missing."""
    cache.mkdir(parents=True, exist_ok=True)
    tarballs = []
    for package in PACKAGES:
        found = sorted(cache.glob(f"{TARBALL_PREFIXES[package]}*.tgz"))
        if not found:
            if shutil.which("npm") is None:
                raise SystemExit(f"{package} is not in {cache} and npm is not installed: run `npm pack {package}` there")
            print(f"fetching {package} with npm pack into {cache}", file=sys.stderr)
            subprocess.run(["npm", "pack", package], cwd=cache, check=True, stdout=subprocess.DEVNULL)
            found = sorted(cache.glob(f"{TARBALL_PREFIXES[package]}*.tgz"))
        tarballs.append(found[-1])
    return tarballs


def run_once(sources: list[Path], jobs: int) -> tuple[svg_import.ImportResult, float, float]:
    """One import into a temporary folder: (result, wall seconds, CPU seconds of this process and its workers)."""
    with tempfile.TemporaryDirectory() as folder:
        before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        started = time.perf_counter()
        result = svg_import.import_drawings(sources, Path(folder) / "icons.npz", jobs=jobs)
        wall = time.perf_counter() - started
        after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime for start, end in zip(before, after))
    return result, wall, cpu


def svg_count(result: svg_import.ImportResult) -> int:
    """.svg files handled: every imported drawing and every skipped file named .svg (archives' damage aside)."""
    imported = result.imported + sum(1 for item in result.skipped if item.reason == "too long")
    skipped_svg = sum(1 for item in result.skipped if item.name.lower().endswith(".svg") and item.reason != "too long")
    return imported + skipped_svg


def report(label: str, runs: list[tuple[svg_import.ImportResult, float, float]]) -> float:
    """Print one line of figures and the counts; returns the median icons/s."""
    result = runs[0][0]
    icons = svg_count(result)
    rate = statistics.median(icons / wall for _, wall, _ in runs)
    cpu_rate = statistics.median(icons / cpu for _, _, cpu in runs)
    wall = statistics.median(wall for _, wall, _ in runs)
    print(f"{label}: {icons:,} .svg files in {wall:.2f} s: {rate:,.0f} icons/s ({cpu_rate:,.0f} per CPU second); "
          f"imported {result.imported:,} (train {len(result.splits['train']):,}, valid {len(result.splits['valid']):,}, "
          f"test {len(result.splits['test']):,})")
    reasons = result.skipped_by_reason()
    print("    skipped: " + (", ".join(f"{count:,} {reason}" for reason, count in reasons.items()) or "none"))
    print("    other files ignored: " + ", ".join(f"{Path(count.source).name} {count.ignored:,}" for count in result.sources))
    return rate


def main(argv=None) -> int:
    """Import each set, then both; print rates, counts and peak memory; 1 if the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="*", type=Path, help="the icon sets' tarballs or folders (default: the cache)")
    parser.add_argument("--cache", type=Path, default=REPOSITORY / "data" / "icon_sets", help="where tarballs are kept")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2, the CLI's default here)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the whole import (median; default 3)")
    arguments = parser.parse_args(argv)
    sources = arguments.sources or cached_tarballs(arguments.cache)
    print(f"svg_import benchmark: jobs {arguments.jobs}, {arguments.repeats} repeats of the whole import; sources "
          + ", ".join(str(source) for source in sources))
    for source in sources:
        report(Path(source).name, [run_once([source], arguments.jobs)])
    rate = report("both", [run_once(sources, arguments.jobs) for _ in range(arguments.repeats)])
    peaks = [resource.getrusage(who).ru_maxrss / 1024 for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    print(f"peak memory (max resident set size): {peaks[0]:.0f} MiB this process, {peaks[1]:.0f} MiB the largest worker")
    print(f"target: >= {TARGET} icons/s: {'met' if rate >= TARGET else 'MISSED'}")
    return 0 if rate >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
