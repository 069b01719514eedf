"""Read and validate a motion `.npz` (DESIGN §4) written by `talkcli motion` or by a user."""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from talkcli.errors import InvalidInputError
from talkcli.motion.latent import CHANNELS, NEUTRAL, MotionTrack
from talkcli.timing import MAX_FPS, MIN_FPS

REQUIRED_CHANNELS: tuple[str, ...] = (
    "head_yaw", "head_pitch", "head_roll", "head_scale", "jaw_open", "mouth_round",
    "mouth_wide", "lips_press", "blink_left", "blink_right", "gaze_yaw", "gaze_pitch",
    "brow_raise", "smile",
)
# physical limits: values outside are clipped on load (degrees are bounded generously)
LIMITS: dict[str, tuple[float, float]] = {
    "head_yaw": (-45, 45), "head_pitch": (-35, 35), "head_roll": (-35, 35),
    "head_scale": (0.4, 2.5), "gaze_yaw": (-40, 40), "gaze_pitch": (-30, 30),
    "eye_squint": (-1, 1),
}


# 10 h at 60 fps with 64 channels of float64 is 2.2 GB: no real motion file comes near this
# but a compressed .npz of zeros can claim it in a few kB (a zip bomb).
MAX_ARRAY_BYTES = 512 * 1024 * 1024


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _check_array_sizes(p: Path) -> None:
    """Refuse an .npz whose arrays would decompress to more than MAX_ARRAY_BYTES, reading
    only each member's .npy header."""
    try:
        with zipfile.ZipFile(p) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                size = int(np.prod(shape, dtype=np.float64)) * max(dtype.itemsize, 1)
                if size > MAX_ARRAY_BYTES:
                    raise InvalidInputError(
                        f"motion file {p}: array {info.filename[:-4]!r} of shape {shape} "
                        f"would take {size / 1e9:.1f} GB; refused")
    except InvalidInputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error,
            NotImplementedError, RuntimeError) as exc:
        raise InvalidInputError(f"cannot read motion file {p}: {_one_line(exc)}") from None


def load_motion(path: str | os.PathLike[str]) -> MotionTrack:
    """A validated MotionTrack in CHANNELS order; InvalidInputError (exit 3) naming the problem.

    Channels are matched by name (any order); optional channels a file lacks take their
    neutral value; unknown extra channels are ignored; values are clipped to their range.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"motion file not found: {p}")
    _check_array_sizes(p)
    try:
        # allow_pickle=False: an object array (pickled Python objects, which could run code
        # when unpickled) is refused, never loaded.
        with np.load(p, allow_pickle=False) as data:
            keys = set(data.files)
            missing = [k for k in ("fps", "channels", "values") if k not in keys]
            if missing:
                raise InvalidInputError(f"motion file {p} lacks {', '.join(missing)}")
            fps_arr, names_arr, values = data["fps"], data["channels"], data["values"]
    except InvalidInputError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InvalidInputError(f"motion file {p} holds pickled Python objects: refused "
                                    "(only plain numeric and text arrays are read)") from None
        raise InvalidInputError(f"cannot read motion file {p}: {_one_line(exc)}") from None
    except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise InvalidInputError(f"cannot read motion file {p}: {_one_line(exc)}") from None
    if fps_arr.size != 1 or not np.issubdtype(fps_arr.dtype, np.number):
        raise InvalidInputError(f"motion file {p}: 'fps' must be one number")
    fps = float(fps_arr.reshape(()))
    if not np.isfinite(fps) or not MIN_FPS <= fps <= MAX_FPS:
        raise InvalidInputError(f"motion file {p}: fps {fps} outside [{MIN_FPS}, {MAX_FPS}]")
    if names_arr.ndim != 1 or names_arr.dtype.kind not in "UO":
        raise InvalidInputError(f"motion file {p}: 'channels' must be a 1-D array of names")
    names = [str(n) for n in names_arr]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"motion file {p}: duplicate channel names")
    if values.ndim != 2 or values.shape[1] != len(names):
        raise InvalidInputError(
            f"motion file {p}: 'values' must be (T, {len(names)}), got {values.shape}")
    if values.shape[0] < 1:
        raise InvalidInputError(f"motion file {p}: no frames")
    if not np.issubdtype(values.dtype, np.number):
        raise InvalidInputError(f"motion file {p}: 'values' must be numeric")
    values = values.astype(np.float32)
    if not np.all(np.isfinite(values)):
        raise InvalidInputError(f"motion file {p}: 'values' contains NaN or infinity")
    lacking = [c for c in REQUIRED_CHANNELS if c not in names]
    if lacking:
        raise InvalidInputError(f"motion file {p}: missing channels {', '.join(lacking)}")
    out = np.empty((values.shape[0], len(CHANNELS)), np.float32)
    for j, c in enumerate(CHANNELS):
        col = values[:, names.index(c)] if c in names else np.full(values.shape[0], NEUTRAL[c])
        lo, hi = LIMITS.get(c, (0.0, 1.0))
        out[:, j] = np.clip(col, lo, hi)
    return MotionTrack(fps=fps, values=out, channels=CHANNELS)
