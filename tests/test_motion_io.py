"""load_motion: validation of user-supplied motion .npz files (DESIGN §4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkcli.errors import InvalidInputError
from talkcli.motion.io import REQUIRED_CHANNELS, load_motion
from talkcli.motion.latent import CHANNELS, NEUTRAL, MotionTrack, neutral


def _save(path: Path, **arrays: object) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def test_roundtrip(tmp_path: Path) -> None:
    v = neutral(10)
    v[:, CHANNELS.index("jaw_open")] = np.linspace(0, 1, 10)
    MotionTrack(25.0, v).save(tmp_path / "m.npz")
    t = load_motion(tmp_path / "m.npz")
    assert t.fps == 25.0 and t.channels == CHANNELS
    np.testing.assert_array_equal(t.values, v)


def test_reorders_and_fills_optional(tmp_path: Path) -> None:
    names = list(reversed(REQUIRED_CHANNELS))
    vals = np.zeros((5, len(names)), np.float32)
    vals[:, names.index("smile")] = 0.5
    vals[:, names.index("head_scale")] = 1.0
    p = _save(tmp_path / "m.npz", fps=np.float32(30), channels=np.array(names), values=vals)
    t = load_motion(p)
    assert t.channels == CHANNELS
    assert np.all(t.channel("smile") == 0.5)
    assert np.all(t.channel("eye_squint") == NEUTRAL["eye_squint"])


@pytest.mark.parametrize("case, word", [
    ("no_values", "values"),
    ("no_fps", "fps"),
    ("nan", "NaN"),
    ("shape", "values"),
    ("missing_channel", "jaw_open"),
    ("bad_fps", "fps"),
    ("empty", "no frames"),
    ("dup", "duplicate"),
])
def test_bad_files(tmp_path: Path, case: str, word: str) -> None:
    names = np.array(CHANNELS)
    vals = neutral(4)
    fps = np.float32(25)
    p = tmp_path / "m.npz"
    if case == "no_values":
        _save(p, fps=fps, channels=names)
    elif case == "no_fps":
        _save(p, channels=names, values=vals)
    elif case == "nan":
        vals[2, 3] = np.nan
        _save(p, fps=fps, channels=names, values=vals)
    elif case == "shape":
        _save(p, fps=fps, channels=names, values=vals[:, :5])
    elif case == "missing_channel":
        keep = [i for i, c in enumerate(CHANNELS) if c != "jaw_open"]
        _save(p, fps=fps, channels=names[keep], values=vals[:, keep])
    elif case == "bad_fps":
        _save(p, fps=np.float32(0), channels=names, values=vals)
    elif case == "empty":
        _save(p, fps=fps, channels=names, values=vals[:0])
    elif case == "dup":
        n2 = names.copy()
        n2[1] = n2[0]
        _save(p, fps=fps, channels=n2, values=vals)
    with pytest.raises(InvalidInputError, match=word):
        load_motion(p)


def test_not_an_npz(tmp_path: Path) -> None:
    p = tmp_path / "x.npz"
    p.write_text("hello")
    with pytest.raises(InvalidInputError):
        load_motion(p)
    with pytest.raises(InvalidInputError, match="not found"):
        load_motion(tmp_path / "missing.npz")
