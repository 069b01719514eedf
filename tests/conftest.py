"""Shared fixtures. Test files own their specific fixtures; only common ones live here."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

DEV_ASSETS = Path(__file__).resolve().parents[2] / "shared" / "dev-assets"


@pytest.fixture(scope="session")
def sample_portrait_path() -> Path:
    """The embedded public-domain sample portrait (NASA, via scikit-image)."""
    return Path(str(resources.files("talkcli.assets") / "portrait.png"))


@pytest.fixture(scope="session")
def sample_speech_path() -> Path:
    """The embedded espeak-ng sample speech clip (13 s, 16 kHz mono)."""
    return Path(str(resources.files("talkcli.assets") / "speech.wav"))


@pytest.fixture(scope="session")
def sample_transcript() -> str:
    return (resources.files("talkcli.assets") / "speech.txt").read_text().strip()


@pytest.fixture(scope="session")
def dev_assets() -> Path:
    """../shared/dev-assets when present (developer machines); tests using it skip elsewhere."""
    if not DEV_ASSETS.is_dir():
        pytest.skip("shared/dev-assets not available")
    return DEV_ASSETS
