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

import contextlib
import ctypes
import functools
import itertools
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from talkcli.errors import InvalidInputError, UsageError
from talkcli.motion.latent import CHANNELS, NEUTRAL, MotionTrack
from talkcli.outputs import check_writable_dir
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
FIRST_CHUNK_FRAMES = 2  # a tiny first batch: the first frame reaches the encoder sooner
# (A/B on the sample, 6 runs each: the first frame came 118 ms after the renderer was ready
# with 8, 63 ms with 2; later batches are full)
MAX_CHUNK_FRAMES = 256
MAX_TRANSCRIPT_BYTES = 4 * 1024 * 1024  # words of hours of speech; more is not a transcript
MOTION_QUEUE = 2  # motion chunks made ahead of the renderer (bounded: back-pressure)
MOTION_IN_PROCESS = True  # generated motion in its own process where a second core is free

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
    sign_key: Path | None = None  # C2PA signing key + certificate chain (provenance)
    sign_cert: Path | None = None


@dataclass(frozen=True)
class StageTimings:
    """Seconds per stage. motion + render + encode (+ finish) is the chunk loop."""

    load_s: float = 0.0  # until the renderer is ready: portrait analysis, audio decode, renderer
                         # build (the first motion chunk is analysed beside them)
    motion_s: float = 0.0
    render_s: float = 0.0
    encode_s: float = 0.0  # the loop's time in encoder.write (copy + back-pressure)
    encode_pipe_s: float = 0.0  # the writer thread's time piping frames (ffmpeg's pace)
    finish_s: float = 0.0  # ffmpeg draining after the last frame + rename
    first_frame_s: float = 0.0  # from the call until the first frame reached the encoder
    # CPU seconds per stage, each in its own thread (wall clock is shared with other work)
    motion_cpu_s: float = 0.0  # the motion thread or process (its set-up included)
    motion_process: bool = False  # motion ran in a child process (its CPU is a child's)
    render_cpu_s: float = 0.0  # the render thread inside Renderer.render
    encode_cpu_s: float = 0.0  # the render thread inside encoder.write (copy into the pool)
    render_threads: int = 0  # torch intra-op threads while rendering
    x264_threads: int = 0  # libx264 threads (0: its own choice)


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
    motion_peak_rss_mb: float | None = None  # the motion process's, when it had one

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
            "timings": {k: (v if isinstance(v, bool) else round(v, 4))
                        for k, v in asdict(self.timings).items()},
            "warnings": list(self.warnings),
            "ffmpeg_peak_rss_mb": (None if self.ffmpeg_peak_rss_mb is None
                                   else round(self.ffmpeg_peak_rss_mb, 1)),
            "motion_peak_rss_mb": (None if self.motion_peak_rss_mb is None
                                   else round(self.motion_peak_rss_mb, 1)),
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
    check_writable_dir(parent)  # os.access says yes to root even where writes fail (/proc)
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
        self.cpu_seconds = 0.0  # CPU time of the calling thread while producing

    def __iter__(self) -> _Timed:
        return self

    def __next__(self) -> np.ndarray:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return next(self._it)
        finally:
            self.seconds += time.perf_counter() - t0
            self.cpu_seconds += time.thread_time() - c0


class _Prefetch:
    """Run an iterator in a worker thread, at most `depth` items ahead (a bounded queue, so a
    fast producer waits for the consumer and memory stays flat). Its exception is re-raised
    in the consumer; `close()` stops the worker (abort, interrupt)."""

    _END = object()

    def __init__(self, it: Iterator[np.ndarray], depth: int = MOTION_QUEUE) -> None:
        self._it = it
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="talkcli-motion", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._it:
                if not self._put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed over to the consumer
            self._error = exc
        self._put(self._END)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            item = self._queue.get()
            if item is self._END:
                if self._error is not None:
                    raise self._error
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


_core_budget: int | None = None  # the cores this process may use (a batch worker's share)


def set_core_budget(cores: int | None) -> None:
    """Limit `thread_plan` to `cores` (a batch worker's share of the machine); None: all."""
    global _core_budget
    _core_budget = None if cores is None else max(1, int(cores))


def thread_plan(device: str) -> tuple[int, int | None]:
    """(torch threads for rendering, libx264 threads or None for its own choice). On CPU the
    renderer and the encoder get their own cores, so they do not take turns on one: on 2
    cores one each (measured: x264's CPU per frame is the same at 1 thread as at its default,
    and torch's second thread mostly spins beside small kernels). On CUDA x264 takes what
    it wants."""
    if not device.startswith("cpu"):
        return 1, None
    cores = _core_budget or os.cpu_count() or 2
    render = max(1, cores // 2)
    return render, max(1, cores - render)


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """torch's threads and the BLAS threads behind numpy, for the render. BLAS too: OpenBLAS's
    second thread spinning beside a busy core made a Delaunay's first find_simplex (a few
    hundred 2x2 solves) take 0.7-10 s of the renderer's set-up. The render path loads no
    scipy (render/triangulate.py; its own OpenBLAS, loaded after the limit, would keep its
    default): a test checks that it stays so."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)


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


def camera_distance(preset: Any, latents: np.ndarray) -> float:
    """The static head distance, rendered as a camera move (render/framing.py): the preset's
    head.distance, or for a saved motion file 1 / the head_scale it starts at (motion files
    keep head_scale absolute, so old and new files both render as a camera move)."""
    if preset is not None:
        return float(preset.head.distance)
    scale = float(np.median(latents[:, CHANNELS.index("head_scale")]))
    distance = 1.0 / max(scale, 1e-6)
    if abs(distance - 1.0) < 0.01:
        return 1.0   # the frame-to-frame lean of speech, not a camera placement
    return float(np.clip(distance, 0.5, 2.0))


def _read_transcript(path: Path | None) -> str | None:
    if path is None:
        return None
    if path.stat().st_size > MAX_TRANSCRIPT_BYTES:
        raise InvalidInputError(f"transcript {path} is over {MAX_TRANSCRIPT_BYTES} bytes")
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read transcript {path}: {exc}") from None
    return text or None


# --------------------------------------------------------------------------- the pipeline
def _motion_chunks(req: RenderRequest, audio: np.ndarray, total: int, preset: Any,
                   transcript: str | None) -> tuple[Iterable[np.ndarray], list[str]]:
    """(T_i, C) motion chunks: a saved --motion file fitted to the audio, or the generator
    producing them as it analyses the audio, block by block."""
    if req.motion is not None:
        from talkcli.motion.io import load_motion

        values, notes = conform_track(load_motion(req.motion), req.fps, total)
        return _array_chunks(values, req.chunk_frames), notes
    from talkcli.motion.generator import MotionGenerator

    generator = MotionGenerator(preset, fps=req.fps, seed=req.seed)
    # incremental: the first chunk is ready after ~1 s of audio has been analysed, however
    # long the clip (the online model; a transcript needs the whole-clip alignment)
    return generator.stream_incremental(audio, transcript=transcript,
                                        chunk_frames=req.chunk_frames), []


def _motion_process_wanted(req: RenderRequest) -> bool:
    """Generated motion gets its own process where this render has a second core: a batch
    worker with one core keeps it in a thread (a process would only add its start-up)."""
    cores = _core_budget or os.cpu_count() or 1
    return MOTION_IN_PROCESS and req.motion is None and cores >= 2


class _ThreadFeed:
    """Motion batches made in a worker thread of this process (saved tracks, one core)."""

    process = False

    def __init__(self, chunks: Iterable[np.ndarray], total: int, size: int) -> None:
        self._timed = _Timed(rechunk(chunks, total, size))
        self._prefetch = _Prefetch(self._timed)
        self.peak_rss_mb: float | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._prefetch)

    @property
    def cpu_seconds(self) -> float:
        return self._timed.cpu_seconds

    @property
    def seconds(self) -> float:
        return self._timed.seconds

    def finish(self) -> None:
        pass  # the thread's figures are current

    def close(self) -> None:
        self._prefetch.close()


class _ProcessFeed:
    """Motion batches made in a child process (motion/process.py); `seconds` is the render
    thread's wait for them, `cpu_seconds` the child's CPU once it has finished."""

    process = True

    def __init__(self, job: Any, total: int, size: int) -> None:
        from talkcli.motion.process import MotionProcess

        self._proc = MotionProcess(job)
        self._batches = rechunk(self._proc, total, size)

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._batches

    @property
    def cpu_seconds(self) -> float:
        return self._proc.cpu_seconds

    @property
    def seconds(self) -> float:
        return self._proc.wait_seconds

    @property
    def peak_rss_mb(self) -> float | None:
        return self._proc.peak_rss_mb

    def finish(self) -> None:
        self._proc.finish()

    def close(self) -> None:
        self._proc.close()


def _start_motion(req: RenderRequest, audio: np.ndarray, total: int, preset: Any,
                  transcript: str | None) -> tuple[_ThreadFeed | _ProcessFeed, list[str]]:
    """Start making the motion batches (exactly `total` rows, in `chunk_frames` batches,
    the first one smaller) beside whatever this thread does next."""
    if _motion_process_wanted(req):
        from talkcli.motion.process import MotionJob

        job = MotionJob(audio=np.ascontiguousarray(audio, np.float32), preset=preset,
                        fps=req.fps, seed=req.seed, chunk_frames=req.chunk_frames,
                        transcript=transcript)
        try:
            return _ProcessFeed(job, total, req.chunk_frames), []
        except OSError:
            pass  # no interpreter to start (an embedded or frozen Python): a thread does it
    chunks, notes = _motion_chunks(req, audio, total, preset, transcript)
    return _ThreadFeed(chunks, total, req.chunk_frames), notes


class _ChunkLoop:
    """The render thread's part: each latent chunk (from any iterator: a saved track, the
    generator, an incremental analysis) is rendered and handed to the encoder, which copies
    it into its pool (blocking while the pool is full: back-pressure from ffmpeg)."""

    def __init__(self, renderer: Any, total: int, t_start: float,
                 progress: ProgressCallback | None, marks: Any = None) -> None:
        self.renderer, self.total, self.t_start, self.progress = renderer, total, t_start, progress
        self.marks = marks  # provenance.RenderMarks: the pixel watermark, embedded in place
        self.done = 0
        self.render_s = self.render_cpu_s = self.encode_cpu_s = 0.0
        self.first_frame_s = 0.0

    def run(self, chunks: Iterable[np.ndarray], encoder: Any) -> None:
        if self.progress is not None:
            self.progress(0, self.total)
        for latents in chunks:
            t0, c0 = time.perf_counter(), time.thread_time()
            frames = self.renderer.render(latents)
            c1 = time.thread_time()
            self.render_s += time.perf_counter() - t0
            self.render_cpu_s += c1 - c0
            if self.marks is not None:
                self.marks.embed(frames, self.done)
            encoder.write(frames)
            self.encode_cpu_s += time.thread_time() - c1
            self.done += int(frames.shape[0])
            del frames
            if self.first_frame_s == 0.0:
                self.first_frame_s = time.perf_counter() - self.t_start
            if self.progress is not None:
                self.progress(self.done, self.total)
        if self.done != self.total:
            raise RuntimeError(f"rendered {self.done} frames, expected {self.total}")


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
    from talkcli.video.ffmpeg_bin import ffmpeg_exe

    ffmpeg_exe()  # an ffmpeg to encode with (cheap, exit 5)
    inputs = _load_inputs(req)
    # Motion (its own process or thread, a bounded queue ahead) starts now, before torch is
    # even imported, on the other core: the first frame comes after the longer of the
    # motion's start and the renderer's set-up, not their sum.
    motion, notes = _start_motion(req, inputs.audio, inputs.total, inputs.preset,
                                  inputs.transcript)
    inputs.audio = np.zeros(0, np.float32)  # the motion keeps what it needs
    try:
        from talkcli.render.device import resolve_device

        device = resolve_device(req.device)  # CUDA asked for but absent: exit 5
        # Thread counts first: torch's default (one per core) beside a loaded second core
        # made the portrait set-up (background plate, masks) take 10-20 s instead of 1 s.
        render_threads, x264_threads = thread_plan(str(device))
        with _torch_threads(render_threads):
            return _render_video(req, device, (render_threads, x264_threads), t_start,
                                 progress, portraits, inputs, (motion, notes))
    finally:
        motion.close()


@dataclass
class _Inputs:
    """The request's files, read: what the motion and the encoder need."""

    transcript: str | None
    preset: Any  # config.Preset, or None for a saved --motion track
    audio: np.ndarray
    duration_s: float
    total: int  # video frames


def _load_inputs(req: RenderRequest) -> _Inputs:
    from talkcli.audio.io import load_audio

    transcript = _read_transcript(req.transcript)
    preset = None
    if req.motion is None:
        from talkcli.config import load_preset

        preset = load_preset(req.preset, list(req.overrides))
    audio = load_audio(req.audio)
    duration = audio.shape[0] / SAMPLE_RATE
    return _Inputs(transcript, preset, audio, duration, frame_count(duration, req.fps))


def _render_video(req: RenderRequest, device: Any, threads: tuple[int, int | None],
                  t_start: float, progress: ProgressCallback | None,
                  portraits: PortraitSource | None, inputs: _Inputs,
                  motion_notes: tuple[_ThreadFeed | _ProcessFeed, list[str]]) -> RenderResult:
    render_threads, x264_threads = threads
    motion, warnings = motion_notes
    total, preset = inputs.total, inputs.preset
    from talkcli.provenance import RenderMarks  # watermark + C2PA; the signer checked now

    marks = RenderMarks([("portrait", req.portrait), ("audio", req.audio)],
                        req.sign_key, req.sign_cert)
    from talkcli.render.renderer import Renderer

    rig = (portraits or PortraitSource()).rig(req.portrait, req.face_index)
    chunk_iter = iter(motion)
    first = next(chunk_iter)
    _release_free_memory()  # the analysis' temporaries, before the renderer's buffers
    renderer = Renderer(rig, size=req.size, framing=req.framing, device=device,
                        max_batch=req.chunk_frames,
                        distance=camera_distance(preset, first))
    warnings = [*warnings, *renderer.framing_notes]  # a tight portrait, a filled margin
    width, height = (int(v) for v in renderer.output_size)
    t_load = time.perf_counter() - t_start

    # Chunk loop: motion -> frames (this thread) -> encoder (a writer thread piping to
    # ffmpeg, which encodes on the other core).
    from talkcli.video.encoder import VideoEncoder

    loop = _ChunkLoop(renderer, total, t_start, progress, marks=marks)
    with VideoEncoder(
            req.output, width, height, req.fps, audio=req.audio,
            audio_duration_s=inputs.duration_s, before_rename=marks.sign_video,
            x264_threads=x264_threads) as encoder:
        loop.run(itertools.chain([first], chunk_iter), encoder)
        encoder.finish()
    motion.finish()

    elapsed = time.perf_counter() - t_start
    return RenderResult(
        output=req.output,
        frames=loop.done,
        fps=req.fps,
        duration_s=loop.done / req.fps,
        audio_duration_s=inputs.duration_s,
        width=width,
        height=height,
        device=str(device),
        elapsed_s=elapsed,
        timings=StageTimings(
            load_s=t_load,
            motion_s=motion.seconds,
            render_s=loop.render_s,
            encode_s=encoder.write_seconds,
            encode_pipe_s=encoder.pipe_seconds,
            finish_s=encoder.finish_seconds,
            first_frame_s=loop.first_frame_s,
            motion_cpu_s=motion.cpu_seconds,
            motion_process=motion.process,
            render_cpu_s=loop.render_cpu_s,
            encode_cpu_s=loop.encode_cpu_s,
            render_threads=render_threads,
            x264_threads=x264_threads or 0,
        ),
        warnings=tuple(warnings),
        ffmpeg_peak_rss_mb=encoder.ffmpeg_peak_rss_mb,
        motion_peak_rss_mb=motion.peak_rss_mb,
    )
