"""Shared fixtures.

The real QuickDraw subsets live in ``../shared/data`` beside the repository (never inside it), so
they are found relative to the repository root's parent, wherever the clone is.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# One XLA program cache for the whole run (sketchrnn.compile_cache): the sampler's programs are compiled once per
# run, by whichever test needs one first, and loaded by every later test, xdist worker and subprocess (CLI, demo
# server), as a user's second command loads them. It starts empty each run and is removed at its end, so no run
# leans on what an earlier one compiled, and the tests never write into the user's own cache.
XLA_CACHE_FLAG = "--tf_xla_persistent_cache_directory"
XLA_CACHE_OWNER = "SKETCHRNN_TESTS_XLA_CACHE_OWNER"


def _share_compiled_programs() -> None:
    """Before TensorFlow is imported: point TF_XLA_FLAGS at a fresh folder, unless the run already has one (an
    xdist worker inherits its controller's) or the caller set their own."""
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if XLA_CACHE_FLAG in flags:
        return
    folder = tempfile.mkdtemp(prefix="sketchrnn-tests-xla-")
    os.environ["TF_XLA_FLAGS"] = f"{flags} {XLA_CACHE_FLAG}={folder}".strip()
    os.environ[XLA_CACHE_OWNER] = f"{os.getpid()}:{folder}"


_share_compiled_programs()

# XLA's LLVM back end at its lowest optimisation level, for this run and every process it starts. The tests' models
# are tiny and their runs short, so most of their time went to compiling XLA programs (one per model shape, length
# bucket and batch size), not to running them (docs/testing.md has the figures). The level changes how the machine
# code is optimised, not what it computes; the whole suite passes either way. A caller's own XLA_FLAGS are kept.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")


# The files whose tests take longest (docs/testing.md), started first. With `--dist loadfile` each file runs whole on
# one worker, in collection order as workers come free: a long file collected last (test_train.py, alphabetically)
# kept one core busy for a minute after the other had run out of files.
LONGEST_FIRST = ("test_train.py", "test_demo.py", "test_multiworker.py", "test_logs.py", "test_fuzz_drawings.py",
                 "test_browser.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: every other file keeps its order


def pytest_unconfigure(config):
    owner, _, folder = os.environ.get(XLA_CACHE_OWNER, "").partition(":")
    if owner == str(os.getpid()) and folder:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data``; skips when it is missing, fails instead if SKETCHRNN_REQUIRE_SHARED_DATA=1."""
    if not SHARED_DATA.is_dir():
        message = f"the shared QuickDraw data is not at {SHARED_DATA} (expected ../shared/data beside the repository)"
        if os.environ.get("SKETCHRNN_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_vae(shared_data, tmp_path_factory) -> Path:
    """A tiny VAE trained for 30 steps on the shared pigs (~15 s), once per run: the model directory ``.../best``.

    Enough to exercise encoding, redrawing and morphing for real; its drawings are scribbles.
    """
    from sketchrnn.train import TrainSettings, train

    run = shared_between_workers(tmp_path_factory) / "tinyvae"
    with exclusive(run.with_suffix(".lock")):  # trained by the first xdist worker that needs it, read by the other
        if not (run / "finished").exists():
            shutil.rmtree(run, ignore_errors=True)
            settings = TrainSettings(data=[str(shared_data / "quickdraw_sketchrnn_pig_2200.npz")], out=str(run),
                                     model="vae", hidden_size=32, encoder_size=16, latent_size=8, num_mixtures=5,
                                     batch_size=50, steps=30, validate_every=15, checkpoint_every=15,
                                     learning_rate=3e-3, kl_decay_rate=0.99)
            assert train(settings, log=lambda *_: None)["status"] == "finished"
            (run / "finished").touch()
    return run / "best"


def shared_between_workers(tmp_path_factory) -> Path:
    """A temporary folder of this run that every xdist worker sees (its own one without xdist)."""
    root = tmp_path_factory.getbasetemp()
    return root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root


@contextlib.contextmanager
def exclusive(lock_path: Path):
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# A real browser for the browser tests (marker `browser`): Debian's chromium driven by Playwright
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    """A fresh headless chromium profile for a test module, or a skip (a failure in CI) when chromium is missing."""
    if not CHROMIUM.exists():
        if os.environ.get("SKETCHRNN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and SKETCHRNN_REQUIRE_BROWSER=1 (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            accept_downloads=True,
            viewport={"width": 1280, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()
