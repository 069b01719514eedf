"""Find the ffmpeg executable: the system's if present, else the one in imageio-ffmpeg."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from talkcli.errors import EnvironmentProblem


@functools.cache
def ffmpeg_exe() -> str:
    """Path of a working ffmpeg; EnvironmentProblem (exit 5) if there is none.

    TALKCLI_FFMPEG overrides the search (used by tests to simulate a missing ffmpeg).
    """
    override = os.environ.get("TALKCLI_FFMPEG")
    if override is not None:
        if shutil.which(override) or os.path.isfile(override):
            return shutil.which(override) or override
        raise EnvironmentProblem(f"ffmpeg not found at TALKCLI_FFMPEG={override!r}")
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        raise EnvironmentProblem(
            "ffmpeg not found: install ffmpeg (apt-get install ffmpeg) or imageio-ffmpeg"
        ) from exc


def ffmpeg_version() -> str:
    """First line of `ffmpeg -version`."""
    out = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-version"], capture_output=True, text=True, check=False
    )
    return (out.stdout.splitlines() or ["unknown"])[0]
