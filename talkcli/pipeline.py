"""The render pipeline: validate, load once, then chunk by chunk motion -> frames -> encoder.

`render_video(request, progress)` is the whole of `talkcli render` minus the terminal: the
CLI parses options into a frozen `RenderRequest`, passes a progress callback, and prints the
`RenderResult`. Everything is checked before any work (an existing output without
`overwrite` is refused before the portrait is even read); the portrait is analysed, the
audio decoded and the renderer built once; then motion latents are produced, rendered and
encoded one chunk at a time, so memory does not grow with the audio's length (only the
16 kHz audio and the (T, C) latents are full length). Any failure or interrupt aborts the
encoder: no output and no temp file remain.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from talkcli.errors import InvalidInputError, UsageError
from talkcli.motion.latent import CHANNELS, NEUTRAL, MotionTrack
from talkcli.timing import (
    DEFAULT_CHUNK_FRAMES,
    DEFAULT_FPS,
    DEFAULT_SIZE,
    MAX_FPS,
    MAX_SIZE,
    MIN_FPS,
    MIN_SIZE,
    SAMPLE_RATE,
    frame_count,
)

FRAMINGS = ("face", "portrait")
PIPELINE_CHUNK_FRAMES = DEFAULT_CHUNK_FRAMES
FIRST_CHUNK_FRAMES = 8  # a small first batch: the first frame reaches the encoder sooner
MAX_CHUNK_FRAMES = 256

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class RenderRequest:
    """Everything `talkcli render` was asked to do."""

    portrait: Path
    audio: Path
    output: Path
    preset: str | None = None  # shipped preset name or a YAML path; None = default
    overrides: tuple[str, ...] = ()  # "KEY=VALUE" strings from --set
    transcript: Path | None = None
    motion: Path | None = None  # a motion .npz to render instead of generating one
    fps: float = DEFAULT_FPS
    size: int = DEFAULT_SIZE
    framing: str = "face"
    device: str = "auto"
    seed: int = 0
    overwrite: bool = False
    face_index: int | None = None
    chunk_frames: int = PIPELINE_CHUNK_FRAMES


@dataclass(frozen=True)
class StageTimings:
    """Seconds per stage. motion + render + encode (+ finish) is the chunk loop."""

    load_s: float = 0.0  # portrait analysis, audio decode, renderer build (not motion)
    motion_s: float = 0.0
    render_s: float = 0.0
    encode_s: float = 0.0  # the loop's time in encoder.write (copy + back-pressure)
    encode_pipe_s: float = 0.0  # the writer thread's time piping frames (ffmpeg's pace)
    finish_s: float = 0.0  # ffmpeg draining after the last frame + rename
    first_frame_s: float = 0.0  # from the call until the first frame reached the encoder


@dataclass(frozen=True)
class RenderResult:
    output: Path
    frames: int
    fps: float
    duration_s: float  # video duration, frames / fps
    audio_duration_s: float
    width: int
    height: int
    device: str
    elapsed_s: float
    timings: StageTimings = field(default_factory=StageTimings)
    warnings: tuple[str, ...] = ()
    ffmpeg_peak_rss_mb: float | None = None

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "frames": self.frames,
            "fps": self.fps,
            "duration_s": round(self.duration_s, 6),
            "audio_duration_s": round(self.audio_duration_s, 6),
            "width": self.width,
            "height": self.height,
            "device": self.device,
            "elapsed_s": round(self.elapsed_s, 3),
            "frames_per_second": round(self.frames_per_second, 2),
            "timings": {k: round(v, 4) for k, v in asdict(self.timings).items()},
            "warnings": list(self.warnings),
            "ffmpeg_peak_rss_mb": (None if self.ffmpeg_peak_rss_mb is None
                                   else round(self.ffmpeg_peak_rss_mb, 1)),
        }


# --------------------------------------------------------------------------- validation
def validate_request(req: RenderRequest) -> None:
    """Check options and paths before any work; raises naming the bad field."""
    validate_options(req)
    _validate_paths(req)


def validate_options(req: RenderRequest) -> None:
    """The checks that need no file (a batch manifest runs them on every row up front)."""
    if not (MIN_FPS <= req.fps <= MAX_FPS) or not math.isfinite(req.fps):
        raise UsageError(f"--fps must be between {MIN_FPS} and {MAX_FPS} (got {req.fps:g})")
    if not (MIN_SIZE <= req.size <= MAX_SIZE):
        raise UsageError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} (got {req.size})")
    if req.framing not in FRAMINGS:
        raise UsageError(f"--framing must be one of {', '.join(FRAMINGS)} (got {req.framing!r})")
    if req.face_index is not None and req.face_index < 0:
        raise UsageError(f"--face-index must be 0 or more (got {req.face_index})")
    if not (1 <= req.chunk_frames <= MAX_CHUNK_FRAMES):
        raise UsageError(f"chunk_frames must be between 1 and {MAX_CHUNK_FRAMES}")
    if req.motion is not None and (req.preset or req.overrides):
        raise UsageError("--motion renders a saved motion file; --preset/--set do not apply")


def _validate_paths(req: RenderRequest) -> None:
    out = req.output
    if out.exists() or out.is_symlink():
        if out.is_dir():
            raise InvalidInputError(f"output is a directory: {out}")
        if not req.overwrite:
            raise UsageError(f"output exists: {out}; pass --overwrite to replace it")
    parent = out.parent
    if not parent.is_dir():
        raise InvalidInputError(f"output directory does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInputError(f"output directory is not writable: {parent}")
    for name, path in (("portrait", req.portrait), ("audio", req.audio),
                       ("transcript", req.transcript), ("motion", req.motion)):
        if path is None:
            continue
        if not path.exists():
            raise InvalidInputError(f"{name} file not found: {path}")
        if not path.is_file():
            raise InvalidInputError(f"{name} is not a file: {path}")
        if out.exists() and out.resolve() == path.resolve():
            raise UsageError(f"output {out} is the {name} input; choose another output path")


# --------------------------------------------------------------------------- motion helpers
def conform_track(track: MotionTrack, fps: float, frames: int) -> tuple[np.ndarray, list[str]]:
    """A saved track as (frames, C) float32 in CHANNELS order at `fps`.

    Channels are reordered by name (missing ones neutral, unknown ones dropped); a different
    frame rate is resampled linearly; the length is cut or the last pose held to `frames`.
    """
    notes: list[str] = []
    values = np.asarray(track.values, dtype=np.float32)
    if values.ndim != 2 or values.shape[0] == 0:
        raise InvalidInputError(f"motion values must be a non-empty (T, C) array, "
                                f"got shape {values.shape}")
    if values.shape[1] != len(track.channels):
        raise InvalidInputError(f"motion has {values.shape[1]} columns but "
                                f"{len(track.channels)} channel names")
    cols = np.empty((values.shape[0], len(CHANNELS)), dtype=np.float32)
    have = {name: i for i, name in enumerate(track.channels)}
    missing = [c for c in CHANNELS if c not in have]
    for j, name in enumerate(CHANNELS):
        cols[:, j] = values[:, have[name]] if name in have else NEUTRAL[name]
    if missing:
        notes.append(f"motion file lacks channels {', '.join(missing)}: held neutral")
    src_fps = float(track.fps)
    if not math.isfinite(src_fps) or src_fps <= 0:
        raise InvalidInputError(f"motion file has an invalid fps: {track.fps}")
    if abs(src_fps - fps) > 1e-6:
        t_src = np.arange(cols.shape[0]) / src_fps
        t_dst = np.arange(frame_count(cols.shape[0] / src_fps, fps)) / fps
        cols = np.stack([np.interp(t_dst, t_src, cols[:, j]) for j in range(cols.shape[1])],
                        axis=1).astype(np.float32)
        notes.append(f"motion resampled from {src_fps:g} to {fps:g} fps")
    if cols.shape[0] != frames:
        if abs(cols.shape[0] - frames) > 1:
            notes.append(f"motion has {cols.shape[0]} frames, audio needs {frames}: "
                         + ("cut" if cols.shape[0] > frames else "last pose held"))
        if cols.shape[0] > frames:
            cols = cols[:frames]
        else:
            cols = np.concatenate([cols, np.repeat(cols[-1:], frames - cols.shape[0], 0)])
    return np.ascontiguousarray(cols), notes


def rechunk(chunks: Iterable[np.ndarray], total: int, size: int,
            first: int = FIRST_CHUNK_FRAMES) -> Iterator[np.ndarray]:
    """Re-cut a stream of (T_i, C) arrays into batches of `size` rows (the first one
    smaller), exactly `total` rows in all: surplus is dropped, a short stream holds its
    last row."""
    want = min(first, size)
    pending: list[np.ndarray] = []
    have = 0
    done = 0
    last: np.ndarray | None = None
    for chunk in chunks:
        chunk = np.asarray(chunk, dtype=np.float32)
        if chunk.ndim == 1:
            chunk = chunk[None]
        if chunk.shape[0] == 0:
            continue
        last = chunk[-1:]
        pending.append(chunk)
        have += chunk.shape[0]
        while have >= want and done < total:
            n = min(want, total - done)
            block = np.concatenate(pending) if len(pending) > 1 else pending[0]
            out, rest = block[:n], block[n:]
            pending = [rest] if rest.shape[0] else []
            have = rest.shape[0]
            done += n
            yield np.ascontiguousarray(out)
            want = size
        if done >= total:
            return
    if last is None:
        raise InvalidInputError("the motion generator produced no frames")
    while done < total:
        block = np.concatenate(pending) if pending else np.zeros((0, last.shape[1]), np.float32)
        n = min(want, total - done)
        if block.shape[0] < n:
            block = np.concatenate([block, np.repeat(last, n - block.shape[0], 0)])
        out, rest = block[:n], block[n:]
        pending = [rest] if rest.shape[0] else []
        done += n
        yield np.ascontiguousarray(out)
        want = size


def _array_chunks(values: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, values.shape[0], size):
        yield values[start:start + size]


class _Timed:
    """Wrap an iterator, accumulating the seconds spent producing its items."""

    def __init__(self, it: Iterable[np.ndarray]) -> None:
        self._it = iter(it)
        self.seconds = 0.0

    def __iter__(self) -> _Timed:
        return self

    def __next__(self) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return next(self._it)
        finally:
            self.seconds += time.perf_counter() - t0


def _release_free_memory() -> None:
    """glibc: return freed heap pages to the OS (malloc_trim); a no-op elsewhere."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - probe that it exists (glibc, not musl)
    except (OSError, AttributeError):
        return None
    return libc


def _read_transcript(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read transcript {path}: {exc}") from None
    return text or None


# --------------------------------------------------------------------------- the pipeline
def _motion_chunks(req: RenderRequest, audio: np.ndarray, total: int, preset: Any,
                   transcript: str | None) -> tuple[Iterable[np.ndarray], list[str]]:
    """(T_i, C) motion chunks: a saved --motion file fitted to the audio, or the generator
    streaming from the audio (its analysis runs on the first chunk)."""
    if req.motion is not None:
        from talkcli.motion.io import load_motion

        values, notes = conform_track(load_motion(req.motion), req.fps, total)
        return _array_chunks(values, req.chunk_frames), notes
    from talkcli.motion.generator import MotionGenerator

    generator = MotionGenerator(preset, fps=req.fps, seed=req.seed)
    return generator.stream(audio, transcript=transcript, chunk_frames=req.chunk_frames), []


class PortraitSource:
    """How `render_video` gets the analysed portrait; subclassed by warm workers (batch)
    to analyse a portrait used by several jobs once (e.g. `talkcli.batch.cache`)."""

    def rig(self, path: Path, face_index: int | None) -> Any:
        from talkcli.face.analyze import analyze_portrait
        from talkcli.face.image import load_image

        return analyze_portrait(load_image(path), face_index=face_index)


def render_video(request: RenderRequest,
                 progress: ProgressCallback | None = None,
                 portraits: PortraitSource | None = None) -> RenderResult:
    """Render `request` to its output MP4; see the module docstring. `portraits` is an
    optional warm cache of analysed portraits (batch workers); by default each call
    analyses its portrait."""
    t_start = time.perf_counter()
    req = request
    validate_request(req)

    # Environment first (cheap, exit 5): the device and an ffmpeg to encode with.
    from talkcli.render.device import resolve_device
    from talkcli.video.ffmpeg_bin import ffmpeg_exe

    device = resolve_device(req.device)
    ffmpeg_exe()

    # Load once.
    from talkcli.audio.io import load_audio
    from talkcli.render.renderer import Renderer

    transcript = _read_transcript(req.transcript)
    preset = None
    if req.motion is None:
        from talkcli.config import load_preset

        preset = load_preset(req.preset, list(req.overrides))
    rig = (portraits or PortraitSource()).rig(req.portrait, req.face_index)
    audio = load_audio(req.audio)
    audio_duration = audio.shape[0] / SAMPLE_RATE
    total = frame_count(audio_duration, req.fps)

    chunks, warnings = _motion_chunks(req, audio, total, preset, transcript)
    del audio  # the generator keeps what it needs
    batches = _Timed(rechunk(chunks, total, req.chunk_frames))
    # Run the motion analysis (on the first chunk) before the renderer exists, and give its
    # temporaries back to the OS: otherwise they stack on top of the renderer's buffers and
    # peak memory grows with the audio's length.
    first = next(batches)
    _release_free_memory()

    renderer = Renderer(rig, size=req.size, framing=req.framing, device=device,
                        max_batch=req.chunk_frames)
    width, height = (int(v) for v in renderer.output_size)
    t_load = time.perf_counter() - t_start - batches.seconds  # motion is timed apart

    # Chunk loop: motion -> frames -> encoder.
    from talkcli.video.encoder import VideoEncoder

    render_s = 0.0
    first_frame_s = 0.0
    done = 0
    if progress is not None:
        progress(0, total)
    with VideoEncoder(req.output, width, height, req.fps, audio=req.audio) as encoder:
        for latents in itertools.chain([first], batches):
            t0 = time.perf_counter()
            frames = renderer.render(latents)
            render_s += time.perf_counter() - t0
            encoder.write(frames)
            done += int(frames.shape[0])
            del frames
            if first_frame_s == 0.0:
                first_frame_s = time.perf_counter() - t_start
            if progress is not None:
                progress(done, total)
        if done != total:
            raise RuntimeError(f"rendered {done} frames, expected {total}")
        encoder.finish()

    elapsed = time.perf_counter() - t_start
    return RenderResult(
        output=req.output,
        frames=done,
        fps=req.fps,
        duration_s=done / req.fps,
        audio_duration_s=audio_duration,
        width=width,
        height=height,
        device=str(device),
        elapsed_s=elapsed,
        timings=StageTimings(
            load_s=t_load,
            motion_s=batches.seconds,
            render_s=render_s,
            encode_s=encoder.write_seconds,
            encode_pipe_s=encoder.pipe_seconds,
            finish_s=encoder.finish_seconds,
            first_frame_s=first_frame_s,
        ),
        warnings=tuple(warnings),
        ffmpeg_peak_rss_mb=encoder.ffmpeg_peak_rss_mb,
    )
