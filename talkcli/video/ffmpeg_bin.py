"""Find the ffmpeg executable: the system's if present, else the one in imageio-ffmpeg.

`TALKCLI_FFMPEG` chooses explicitly:
- `system`: the `ffmpeg` on PATH (exit 5 if there is none);
- `bundled`: the binary shipped in the imageio-ffmpeg wheel;
- anything else: a path (or a command name looked up on PATH).
Unset or empty: the system's when on PATH, else the bundled one.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from talkcli.errors import EnvironmentProblem

ENV_VAR = "TALKCLI_FFMPEG"
SYSTEM = "system"
BUNDLED = "bundled"


def system_ffmpeg() -> str | None:
    """The `ffmpeg` on PATH, or None."""
    return shutil.which("ffmpeg")


def bundled_ffmpeg() -> str | None:
    """imageio-ffmpeg's binary, or None when the wheel (or its binary) is absent."""
    try:
        import imageio_ffmpeg

        exe = str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError, OSError):
        return None
    return exe if os.path.isfile(exe) else None


@functools.cache
def ffmpeg_exe() -> str:
    """Path of a working ffmpeg; EnvironmentProblem (exit 5) if there is none."""
    choice = os.environ.get(ENV_VAR, "").strip()
    if choice.lower() == SYSTEM:
        exe = system_ffmpeg()
        if exe is None:
            raise EnvironmentProblem(f"{ENV_VAR}=system but there is no ffmpeg on PATH "
                                     "(apt-get install ffmpeg)")
        return exe
    if choice.lower() == BUNDLED:
        exe = bundled_ffmpeg()
        if exe is None:
            raise EnvironmentProblem(f"{ENV_VAR}=bundled but imageio-ffmpeg's binary is missing "
                                     "(pip install imageio-ffmpeg)")
        return exe
    if choice:
        found = shutil.which(choice) or (choice if os.path.isfile(choice) else None)
        if found is None:
            raise EnvironmentProblem(f"ffmpeg not found at {ENV_VAR}={choice!r}")
        return found
    exe = system_ffmpeg() or bundled_ffmpeg()
    if exe is None:
        raise EnvironmentProblem(
            "ffmpeg not found: install ffmpeg (apt-get install ffmpeg) or imageio-ffmpeg"
        )
    return exe


def ffmpeg_version(exe: str | None = None) -> str:
    """First line of `ffmpeg -version`."""
    out = subprocess.run(
        [exe or ffmpeg_exe(), "-hide_banner", "-version"], capture_output=True, text=True,
        check=False,
    )
    return (out.stdout.splitlines() or ["unknown"])[0]
