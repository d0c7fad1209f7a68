"""Keep XLA's compiled programs on disk, so a one-off command does not compile the sampler again.

The sampler's loops are XLA-compiled on their first call in each process: about three quarters of what a one-off
``sketchrnn complete`` spends after TensorFlow's import (``benchmarks/cli_latency.py``). TensorFlow can store
each compiled program in a folder and load it in the next process instead (``--tf_xla_persistent_cache_directory``
in ``TF_XLA_FLAGS``). A program is machine code for the CPU that compiled it, so the folder is keyed by the
TensorFlow version and the CPU's model and feature flags: a cache on a shared home folder is never loaded by
another kind of CPU.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
from pathlib import Path

CACHE_FLAG = "--tf_xla_persistent_cache_directory"


def machine_key() -> str:
    """A short hash of what compiled code depends on: TensorFlow's version and the CPU's model and flags."""
    try:
        version = importlib.metadata.version("tensorflow-cpu")
    except importlib.metadata.PackageNotFoundError:
        try:
            version = importlib.metadata.version("tensorflow")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    cpu = ""
    if cpuinfo.exists():
        wanted = ("model name", "flags")
        cpu = "\n".join(sorted({line for line in cpuinfo.read_text().splitlines() if line.startswith(wanted)}))
    described = f"{version}\n{platform.machine()}\n{platform.processor()}\n{cpu}"
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def enable(cache_root: Path | None = None) -> Path | None:
    """Point TensorFlow's XLA cache at ``<cache_root>/xla/<machine key>`` (default root: the data cache, see
    :func:`sketchrnn.data.download.default_cache_dir`). Must run before TensorFlow is imported; does nothing when
    ``TF_XLA_FLAGS`` already names a cache folder, ``SKETCHRNN_XLA_CACHE=0`` is set, or the folder cannot be made.
    Returns the folder used, or None."""
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if CACHE_FLAG in flags or os.environ.get("SKETCHRNN_XLA_CACHE") == "0":
        return None
    if cache_root is None:
        from sketchrnn.data.download import default_cache_dir

        cache_root = default_cache_dir()
    folder = Path(cache_root) / "xla" / machine_key()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home: compile as before
    os.environ["TF_XLA_FLAGS"] = f"{flags} {CACHE_FLAG}={folder}".strip()
    return folder
