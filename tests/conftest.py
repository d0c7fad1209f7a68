"""Shared fixtures.

The real QuickDraw subsets live in ``../shared/data`` beside the repository (never inside it), so
they are found relative to the repository root's parent, wherever the clone is.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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
    """A tiny VAE trained for 30 steps on the shared pigs (~15 s): the model directory ``.../tinyvae/best``.

    Enough to exercise encoding, redrawing and morphing for real; its drawings are scribbles.
    """
    from sketchrnn.train import TrainSettings, train

    run = tmp_path_factory.mktemp("vae") / "tinyvae"
    settings = TrainSettings(data=[str(shared_data / "quickdraw_sketchrnn_pig_2200.npz")], out=str(run), model="vae",
                             hidden_size=32, encoder_size=16, latent_size=8, num_mixtures=5, batch_size=50, steps=30,
                             validate_every=15, checkpoint_every=15, learning_rate=3e-3, kl_decay_rate=0.99)
    train(settings, log=lambda *_: None)
    return run / "best"


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
