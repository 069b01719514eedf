"""Shared fixtures. Test files own their specific fixtures; only common ones live here."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

# ../shared from a checkout in /work/main, ../../shared from a worktree in /work/wt/NAME
DEV_ASSETS = next((p / "shared" / "dev-assets" for p in Path(__file__).resolve().parents[2:4]
                   if (p / "shared" / "dev-assets").is_dir()),
                  Path(__file__).resolve().parents[2] / "shared" / "dev-assets")


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
def sample_face_crop(sample_portrait_path: Path):  # noqa: ANN201
    """(sample RGB image, its 512 px square crop on the face), as the renderer frames it."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from talkcli.face.analyze import analyze_portrait
    from talkcli.face.image import load_image

    size = 512
    img = load_image(sample_portrait_path)
    x0, y0, x1, y1 = analyze_portrait(img).box
    side = 2.2 * max(x1 - x0, y1 - y0)
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    t = torch.from_numpy(np.array(img)).permute(2, 0, 1).float()[None] / 255.0
    theta = torch.tensor([[[side / img.shape[1], 0.0, (2 * cx / img.shape[1]) - 1.0],
                           [0.0, side / img.shape[0], (2 * cy / img.shape[0]) - 1.0]]])
    grid = F.affine_grid(theta, [1, 3, size, size], align_corners=False)
    crop = F.grid_sample(t, grid, align_corners=False)[0]
    arr = (crop.permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    return img, arr


@pytest.fixture(scope="session")
def dev_assets() -> Path:
    """../shared/dev-assets when present (developer machines); tests using it skip elsewhere."""
    if not DEV_ASSETS.is_dir():
        pytest.skip("shared/dev-assets not available")
    return DEV_ASSETS


FFMPEG_BINARIES = ("system", "bundled")


@pytest.fixture(params=FFMPEG_BINARIES)
def ffmpeg_binary(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once with each ffmpeg (TALKCLI_FFMPEG=system|bundled); skips one that
    is not installed. Subprocesses inherit the choice through the environment."""
    from talkcli.video import ffmpeg_bin

    kind = request.param
    exe = ffmpeg_bin.system_ffmpeg() if kind == "system" else ffmpeg_bin.bundled_ffmpeg()
    if exe is None:
        pytest.skip(f"no {kind} ffmpeg here" + (
            " (apt-get install ffmpeg; .ci/run installs it)" if kind == "system" else ""))
    monkeypatch.setenv(ffmpeg_bin.ENV_VAR, kind)
    ffmpeg_bin.ffmpeg_exe.cache_clear()
    yield exe
    ffmpeg_bin.ffmpeg_exe.cache_clear()
