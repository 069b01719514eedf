"""Fuzz targets shared by the short seeded slice (tests/test_fuzz.py, in `make test`) and the
long offline run (bench/fuzz.py, `make fuzz`).

Each target is a hypothesis strategy of inputs plus a property: the loader either returns a
well-formed result or raises InvalidInputError (exit 3) — never another exception, never a
hang, never a result that breaks the contract downstream (NaN, wrong shape or dtype).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hypothesis import strategies as st

from talkcli.errors import InvalidInputError

# A single example may not take longer than this (a hang or a pathological slow path).
EXAMPLE_SECONDS = 20.0

# --------------------------------------------------------------------------- byte mutations


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` truncated, with bytes flipped, overwritten or inserted."""
    data = bytearray(original)
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        op = draw(st.sampled_from(("flip", "set", "insert", "truncate", "zero_run")))
        pos = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[pos] = draw(st.sampled_from((0, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255)))))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "truncate":
            del data[pos:]
        else:
            n = draw(st.integers(1, 64))
            data[pos:pos + n] = bytes(min(n, len(data) - pos))
    return bytes(data)


def _in_tempdir(name: str, payload: bytes, fn: Callable[[Path], Any]) -> Any:
    with tempfile.TemporaryDirectory(prefix="talkcli-fuzz-") as d:
        path = Path(d) / name
        path.write_bytes(payload)
        return fn(path)


def _one_line(exc: InvalidInputError) -> None:
    """The CLI prints the message as the one line of an error (DESIGN §3)."""
    message = str(exc)
    assert message and "\n" not in message and len(message) < 1000, message


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg): unlike wall-clock time
    it does not count waiting for a core on a shared machine (the long runs are niced)."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[], Any]) -> Any:
    t0 = _cpu_seconds()
    try:
        return fn()
    finally:
        elapsed = _cpu_seconds() - t0
        assert elapsed < EXAMPLE_SECONDS, f"took {elapsed:.1f} s of CPU"


# --------------------------------------------------------------------------- presets / --set
_KEYS = st.sampled_from((
    "head", "gaze", "emotion", "expression", "lips", "blink", "description", "name",
    "intensity", "distance", "yaw", "pitch", "roll", "idle", "saccades", "look_away",
    "rate_per_min", "bogus", "",
))
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True),
    st.text(max_size=20), st.sampled_from(("happy", "neutral", "nan", ".inf", "1e400", "~")),
)
_TREES = st.recursive(
    _SCALARS,
    lambda kids: st.one_of(st.lists(kids, max_size=4),
                           st.dictionaries(_KEYS, kids, max_size=5)),
    max_leaves=20,
)
_YAML_SNIPPETS = st.sampled_from((
    "!!python/object/apply:os.system ['true']\n",
    "head: !!python/name:os.system\n",
    "a: &a [1,2]\nb: &b [*a,*a]\nc: [*b,*b]\n",
    "head: {intensity: &x 0.5, distance: *x}\n",
    "? [a]\n: 1\n",
    "head:\n  intensity: 0x10\n",
    "%YAML 1.1\n---\nhead: {}\n",
    "--- a\n--- b\n",
    "\t\x00\xff",
    "head: [",
))


@st.composite
def preset_inputs(draw: st.DrawFn) -> tuple[str, list[str]]:
    """(YAML text, --set items)."""
    kind = draw(st.sampled_from(("tree", "snippet", "text")))
    if kind == "tree":
        text = yaml.safe_dump(draw(_TREES), allow_unicode=True)
    elif kind == "snippet":
        text = draw(_YAML_SNIPPETS)
    else:
        text = draw(st.text(max_size=200))
    dotted = st.builds(lambda a, b: f"{a}.{b}", _KEYS, _KEYS)
    item = st.one_of(
        st.builds(lambda k, v: f"{k}={v}", st.one_of(dotted, _KEYS, st.text(max_size=10)),
                  st.one_of(st.text(max_size=30), _SCALARS.map(str))),
        st.text(max_size=30),
    )
    return text, draw(st.lists(item, max_size=4))


def check_preset(inp: tuple[str, list[str]]) -> None:
    from talkcli.config import Preset, load_preset, parse_override

    text, items = inp
    with tempfile.TemporaryDirectory(prefix="talkcli-fuzz-") as d:
        path = Path(d) / "p.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        for item in items:
            with contextlib.suppress(InvalidInputError):
                parse_override(item)
        try:
            preset = _timed(lambda: load_preset(str(path), items))
        except InvalidInputError as exc:
            _one_line(exc)
            return
    assert isinstance(preset, Preset)
    for section in ("head", "gaze", "emotion", "expression", "lips", "blink"):
        for key, value in vars(getattr(preset, section)).items():
            if key != "name":
                assert isinstance(value, float) and np.isfinite(value), (section, key, value)


# --------------------------------------------------------------------------- motion .npz
def _valid_motion_npz(frames: int, fps: float, values: np.ndarray | None = None) -> bytes:
    from talkcli.motion.latent import CHANNELS

    if values is None:
        values = np.zeros((frames, len(CHANNELS)), np.float32)
    buf = io.BytesIO()
    np.savez(buf, fps=np.float64(fps), channels=np.array(CHANNELS), values=values)
    return buf.getvalue()


_ARRAYS = st.one_of(
    st.integers(-5, 10**6).map(np.array),
    st.floats(allow_nan=True).map(lambda f: np.array(f, np.float64)),
    st.lists(st.text(max_size=12), max_size=20).map(lambda v: np.array(v, dtype=str)),
    st.tuples(st.integers(0, 40), st.integers(0, 20), st.sampled_from(
        ("f4", "f8", "f2", "i4", "u1", "c8", "?", "U4", "S4"))).map(
        lambda t: np.ones(t[:2], dtype=t[2])),
    st.just(np.array([{"a": 1}], dtype=object)),
    st.just(np.zeros((3, 0))),
)


@st.composite
def motion_inputs(draw: st.DrawFn) -> bytes:
    from talkcli.motion.latent import CHANNELS

    kind = draw(st.sampled_from(("valid_values", "arrays", "mutated", "bytes")))
    if kind == "valid_values":
        frames = draw(st.integers(1, 50))
        vals = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32),
                             min_size=frames * len(CHANNELS), max_size=frames * len(CHANNELS)))
        arr = np.array(vals, np.float32).reshape(frames, len(CHANNELS))
        fps = draw(st.one_of(st.floats(allow_nan=True), st.sampled_from((25.0, 30.0))))
        return _valid_motion_npz(frames, fps, arr)
    if kind == "arrays":
        keys = draw(st.lists(st.sampled_from(("fps", "channels", "values", "extra")),
                             unique=True, max_size=4))
        buf = io.BytesIO()
        arrays = {k: draw(_ARRAYS) for k in keys}
        # allow_pickle defaults to True for savez: an object array is pickled into the file.
        np.savez(buf, **arrays)
        return buf.getvalue()
    if kind == "mutated":
        return draw(mutated(_valid_motion_npz(draw(st.integers(1, 30)), 25.0)))
    return draw(st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b))


def check_motion(payload: bytes) -> None:
    from talkcli.motion.io import LIMITS, load_motion
    from talkcli.motion.latent import CHANNELS

    try:
        track = _in_tempdir("m.npz", payload, lambda p: _timed(lambda: load_motion(p)))
    except InvalidInputError as exc:
        _one_line(exc)
        return
    assert track.values.dtype == np.float32
    assert track.values.ndim == 2 and track.values.shape[1] == len(CHANNELS)
    assert track.values.shape[0] >= 1
    assert np.all(np.isfinite(track.values))
    assert np.isfinite(track.fps) and track.fps > 0
    for j, c in enumerate(CHANNELS):
        lo, hi = LIMITS.get(c, (0.0, 1.0))
        assert np.all(track.values[:, j] >= lo) and np.all(track.values[:, j] <= hi)


# --------------------------------------------------------------------------- images
_IMAGE_MODES = ("RGB", "RGBA", "L", "LA", "P", "1", "CMYK", "I", "I;16", "F", "YCbCr")
_IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "ICO")


def _encode_image(mode: str, fmt: str, w: int, h: int, seed: int, frames: int) -> bytes | None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    try:
        imgs = [base.convert(mode) if mode not in ("I;16",) else base.convert("I").convert(mode)
                for _ in range(frames)]
        buf = io.BytesIO()
        extra: dict[str, Any] = {"save_all": True, "append_images": imgs[1:]} if frames > 1 else {}
        imgs[0].save(buf, format=fmt, **extra)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # that mode cannot be written in that format: not an input we can make
    return buf.getvalue()


@st.composite
def image_inputs(draw: st.DrawFn) -> bytes:
    mode = draw(st.sampled_from(_IMAGE_MODES))
    fmt = draw(st.sampled_from(_IMAGE_FORMATS))
    w = draw(st.one_of(st.integers(1, 64), st.sampled_from((1, 2, 4000))))
    h = draw(st.one_of(st.integers(1, 64), st.sampled_from((1, 2))))
    if draw(st.booleans()):
        w, h = h, w
    data = _encode_image(mode, fmt, w, h, draw(st.integers(0, 2**16)),
                         draw(st.sampled_from((1, 1, 1, 3))))
    if data is None:
        data = _encode_image("RGB", "PNG", 8, 8, 0, 1)
        assert data is not None
    if draw(st.booleans()):
        data = draw(mutated(data))
    return data


def check_image(payload: bytes) -> None:
    from talkcli.face.image import load_image

    try:
        img = _in_tempdir("img", payload, lambda p: _timed(lambda: load_image(p)))
    except InvalidInputError as exc:
        _one_line(exc)
        return
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert img.shape[0] >= 1 and img.shape[1] >= 1
    assert img.flags.c_contiguous


# --------------------------------------------------------------------------- audio
_SUBTYPES = {
    "WAV": ("PCM_16", "PCM_24", "PCM_32", "PCM_U8", "FLOAT", "DOUBLE", "ULAW", "ALAW"),
    "FLAC": ("PCM_16", "PCM_24", "PCM_S8"),
    "OGG": ("VORBIS",),
    "AIFF": ("PCM_16", "FLOAT"),
}


@st.composite
def audio_inputs(draw: st.DrawFn) -> tuple[str, bytes]:
    import soundfile as sf

    fmt = draw(st.sampled_from(sorted(_SUBTYPES)))
    subtype = draw(st.sampled_from(_SUBTYPES[fmt]))
    sr = draw(st.sampled_from((8000, 11025, 16000, 22050, 44100, 48000, 96000, 192000, 1)))
    if fmt == "OGG":
        sr = max(sr, 8000)
    channels = draw(st.sampled_from((1, 2, 6, 8)))
    frames = draw(st.sampled_from((0, 1, 7, 800, 4000)))
    content = draw(st.sampled_from(("sine", "noise", "silence", "clip", "nan", "inf")))
    t = np.arange(frames)[:, None] / max(sr, 1)
    data = np.repeat(0.5 * np.sin(2 * np.pi * 220 * t), channels, axis=1)
    if content == "noise":
        data = np.random.default_rng(frames).uniform(-1, 1, data.shape)
    elif content == "silence":
        data = np.zeros_like(data)
    elif content == "clip":
        data = data * 10
    elif content in ("nan", "inf") and frames:
        data[frames // 2] = np.nan if content == "nan" else np.inf
    buf = io.BytesIO()
    try:
        sf.write(buf, data.astype(np.float64), sr, format=fmt, subtype=subtype)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, AssertionError):
        # a combination libsndfile cannot write (e.g. Vorbis at 1 Hz): use a plain WAV
        buf = io.BytesIO()
        sf.write(buf, np.zeros((100, 1)), 16000, format="WAV", subtype="PCM_16")
        fmt = "WAV"
    payload = buf.getvalue()
    if draw(st.booleans()):
        payload = draw(mutated(payload))
    return fmt.lower(), payload


def check_audio(inp: tuple[str, bytes]) -> None:
    from talkcli.audio.io import load_audio

    ext, payload = inp
    try:
        audio = _in_tempdir(f"a.{ext}", payload, lambda p: _timed(lambda: load_audio(p)))
    except InvalidInputError as exc:
        _one_line(exc)
        return
    assert audio.dtype == np.float32 and audio.ndim == 1 and audio.size > 0
    assert np.all(np.isfinite(audio))
    assert float(np.max(np.abs(audio))) <= 1.0


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], None]


TARGETS: dict[str, Target] = {
    "config": Target("config", preset_inputs(), check_preset),
    "motion": Target("motion", motion_inputs(), check_motion),
    "image": Target("image", image_inputs(), check_image),
    "audio": Target("audio", audio_inputs(), check_audio),
}

__all__ = ["TARGETS", "Target"]
