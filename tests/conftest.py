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
