"""Session: the streaming engine (issue 10). Audio pushed in, frames out on a wall clock.

Timeline. The engine keeps one audio timeline that the motion model reads: pushed audio
in the order it arrived, and silence wherever the queue was empty when a frame was due
(idle). Frame i shows timeline time i / fps and is emitted at wall time t0 + i / fps.
Just before that (its render time ahead) the engine moves queued audio onto the timeline
up to i / fps + LOOKAHEAD_S, padding with silence if the queue runs dry, so speech that
arrives at wall time w is on screen at about w + LOOKAHEAD_S + one frame: the latency
bound. Audio that arrives faster than real time waits in the queue and plays out in
order. When the engine falls behind the clock (a loaded machine), the slots already past
repeat the previous image (dropped frames, counted; their motion and audio are still
consumed) and the next frame is rendered fresh: the output keeps the wall-clock frame
count and stays in step with the audio, and the newest frame is always the one drawn.

Without the clock (`realtime=False`: a file given whole), frames are produced as fast as
the renderer goes, in small batches, and the stream ends after the last audio frame.

Memory is flat: the queue holds only audio not yet shown, the motion model keeps a
20 s ring of features, latency samples are kept in a bounded reservoir.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from talkcli.motion.latent import CHANNELS
from talkcli.motion.online import LOOKAHEAD_S, OnlineMotion
from talkcli.stream.audio_queue import AudioQueue, to_mono_float
from talkcli.timing import DEFAULT_CHUNK_FRAMES, DEFAULT_FPS, SAMPLE_RATE

BATCH_OFFLINE = 8  # frames per render call with the clock (catching up)
# Without the clock the audio goes to the motion model in the blocks, and the latents come
# out in the chunks, that offline `render` uses (motion.online.online_chunks): a file
# streamed gets render's motion exactly (the model's utterance cuts and phone partials
# depend on how the audio is pushed).
OFFLINE_CHUNK = DEFAULT_CHUNK_FRAMES
MAX_LATENCY_SAMPLES = 100_000  # bounded reservoir for the latency percentiles


@dataclass(frozen=True)
class Frame:
    """One output frame: its index, stream time, pixels and the audio of its interval."""

    index: int
    time_s: float
    image: np.ndarray  # (H, W, 3) uint8
    audio: np.ndarray  # float32 16 kHz samples of [time_s, time_s + 1/fps)
    speech: bool  # the interval holds pushed audio (not idle padding)
    repeated: bool = False  # rendered too late: the previous image was shown again


@dataclass
class StreamStats:
    """Counters of a running session (`to_dict()` is what --stats writes)."""

    fps: float
    frames: int = 0
    dropped: int = 0
    started: float = field(default_factory=time.monotonic)
    first_frame_s: float | None = None
    last_emit: float | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_LATENCY_SAMPLES))
    intervals: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_LATENCY_SAMPLES))

    def emitted(self, now: float, latency: float | None, repeated: bool) -> None:
        self.frames += 1
        self.dropped += int(repeated)
        if self.first_frame_s is None:
            self.first_frame_s = now - self.started
        if self.last_emit is not None:
            self.intervals.append(now - self.last_emit)
        self.last_emit = now
        if latency is not None:
            self.latencies.append(latency)

    def to_dict(self) -> dict[str, Any]:
        elapsed = (self.last_emit or time.monotonic()) - self.started
        span = (self.last_emit - self.started - (self.first_frame_s or 0.0)
                if self.last_emit is not None else 0.0)

        def pct(values: Sequence[float], q: float) -> float | None:
            return round(float(np.percentile(np.asarray(values), q)) * 1000, 2) if values \
                else None

        lat = list(self.latencies)
        ivl = list(self.intervals)
        return {
            "frames": self.frames,
            "dropped": self.dropped,
            "fps": self.fps,
            "achieved_fps": round((self.frames - 1) / span, 3) if span > 0 else None,
            "elapsed_s": round(elapsed, 3),
            "first_frame_s": None if self.first_frame_s is None else round(self.first_frame_s, 3),
            "latency_ms": {"p50": pct(lat, 50), "p95": pct(lat, 95),
                           "max": round(max(lat) * 1000, 2) if lat else None},
            "frame_interval_ms": {"p50": pct(ivl, 50), "p95": pct(ivl, 95),
                                  "max": round(max(ivl) * 1000, 2) if ivl else None},
            "lookahead_ms": LOOKAHEAD_S * 1000,
        }


class Session:
    """Load a portrait once; push audio; take frames (iterator or callback); close."""

    def __init__(self, portrait: str | Path, preset: str | None = None, size: int = 256,
                 fps: float = DEFAULT_FPS, framing: str = "face", device: str = "auto",
                 seed: int = 0, overrides: Sequence[str] = (), realtime: bool = True,
                 face_index: int | None = None, torch_threads: int | None = 1,
                 fingerprint: int = 0) -> None:
        """`fingerprint`: mixed into the motion's random streams (head sway, blinks, gaze)
        as `render` mixes in its clip's (`motion.generator.audio_fingerprint`): the same file
        streamed and rendered then gets the same head motion and blinks."""
        import torch

        from talkcli.config import load_preset
        from talkcli.face.analyze import analyze_portrait
        from talkcli.face.image import load_image
        from talkcli.render.device import resolve_device
        from talkcli.render.renderer import Renderer

        self.fps = float(fps)
        self.realtime = bool(realtime)
        preset_obj = load_preset(preset, list(overrides))
        self.device = resolve_device(device)
        if torch_threads is not None and self.device.type == "cpu":
            # one frame at a time: torch's intra-op threads only fight ffmpeg and the
            # motion model for the cores (measured at 256², batch 1, loaded 2-core box:
            # 9 ms CPU/frame with 1 thread, 180 ms with 2). Process-wide; None keeps it.
            # Set before the portrait set-up, which took seconds more with the default.
            torch.set_num_threads(int(torch_threads))
            from threadpoolctl import threadpool_limits

            # BLAS likewise (pipeline._torch_threads says why); process-wide, as torch's
            threadpool_limits(limits=int(torch_threads), user_api="blas")
        rig = analyze_portrait(load_image(Path(portrait)), face_index=face_index)
        self.renderer = Renderer(rig, size=size, framing=framing, device=self.device,
                                 max_batch=BATCH_OFFLINE)
        self.width, self.height = (int(v) for v in self.renderer.output_size)
        from talkcli.provenance.payload import new_payload
        from talkcli.provenance.watermark import Embedder

        # every streamed frame carries the pixel watermark (a live stream has no file for a
        # C2PA manifest); its render id is in stats
        self.payload = new_payload()
        self._embedder = Embedder(self.payload)
        self.motion = OnlineMotion(preset_obj, fps=self.fps, seed=seed, fingerprint=fingerprint)
        self.queue = AudioQueue()
        self.stats = StreamStats(self.fps)
        self._closed = threading.Event()
        self._timeline = np.zeros(0, np.float32)  # timeline samples from _tl_start on
        self._tl_start = 0
        self._tl_len = 0  # samples on the timeline so far
        self._real_end = 0  # timeline sample after the last pushed (non-padding) sample
        self._arrivals: deque[tuple[int, int, float]] = deque()  # (start, end, wall time)
        self._render_s = 0.02  # running estimate of one frame's render time
        self._last_image: np.ndarray | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- input -----------------------------------------------------------------------
    def push(self, pcm: np.ndarray | bytes, rate: int = SAMPLE_RATE, channels: int = 1,
             sample_format: str = "f32le") -> None:
        """Queue audio (float or int16 array, or raw s16le/f32le bytes), any size, any
        thread. Interleaved multi-channel input is averaged to mono."""
        self.queue.push(to_mono_float(pcm, channels, sample_format), rate)

    def end(self) -> None:
        """End of input: the stream ends once the queued audio has been shown."""
        self.queue.end()

    def close(self) -> None:
        """Stop now (frames() returns at its next frame); safe to call twice."""
        self._closed.set()
        if not self.queue.ended:
            self.queue.end()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- output ----------------------------------------------------------------------
    def start(self, on_frame: Callable[[Frame], None]) -> None:
        """Run the frame loop in a background thread, calling on_frame for each frame."""

        def run() -> None:
            try:
                for frame in self.frames():
                    on_frame(frame)
            except BaseException as exc:  # noqa: BLE001 - re-raised by join()
                self._error = exc

        self._thread = threading.Thread(target=run, name="talkcli-stream", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the callback loop to end; re-raises its error."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self._error is not None:
            raise self._error

    def frames(self) -> Iterator[Frame]:
        """Frames until end of input (after the queued audio) or close()."""
        self.stats.started = time.monotonic()
        return self._clock_frames() if self.realtime else self._batch_frames()

    def _clock_frames(self) -> Iterator[Frame]:
        t0 = self.stats.started
        period = 1.0 / self.fps
        i = 0
        while not self._closed.is_set():
            if self._finished(i):
                return
            deadline = t0 + i * period
            if self._last_image is not None and time.monotonic() > deadline + period:
                # behind the clock: the slots already past repeat the last image (their
                # motion is consumed, so the audio stays in step), then render afresh
                missed = int((time.monotonic() - t0) / period) - i
                # one motion call for all of them (per-frame calls would fall further back)
                self._fill_timeline(i, want=missed)
                self.motion.take(missed)
                for _ in range(missed):
                    if self._finished(i):
                        return
                    yield self._emit(i, self._last_image, True)
                    i += 1
                continue
            _sleep_until(deadline - self._render_s - 0.004, self._closed)
            self._fill_timeline(i)
            latents = self.motion.take(1)
            t_r = time.monotonic()
            image = self._render(latents)[0]
            self._render_s = 0.8 * self._render_s + 0.2 * (time.monotonic() - t_r)
            _sleep_until(deadline, self._closed)
            yield self._emit(i, image, False)
            i += 1

    def _batch_frames(self) -> Iterator[Frame]:
        i = 0
        while not self._closed.is_set():
            n = self._fill_blocks()
            if n == 0:
                return
            images = self._render(self.motion.take(n))
            for j in range(n):
                yield self._emit(i + j, images[j], False)
            i += n

    def _fill_blocks(self) -> int:
        """Push blocks of queued audio (OFFLINE_CHUNK frames' worth each, as online_chunks
        does) until a chunk of latents is ready or the input is over; how many frames to
        take (0: the stream is over)."""
        m = self.motion
        block = int(math.ceil(OFFLINE_CHUNK * SAMPLE_RATE / self.fps))
        while m.available() < OFFLINE_CHUNK and not m.ended:
            if not self._push_block(block):
                return 0
        return min(OFFLINE_CHUNK, m.available())

    def _push_block(self, block: int) -> bool:
        """One block (the last may be shorter) onto the timeline in one push, waiting for
        the producer; the model is ended right after the input's last block. False if the
        session was closed."""
        parts: list[np.ndarray] = []
        arrived: float | None = None
        got = 0
        while got < block:
            for samples, when in self.queue.take(block - got):
                parts.append(samples)
                got += int(samples.shape[0])
                arrived = when if arrived is None else arrived
            if got >= block or (self.queue.ended and len(self.queue) == 0):
                break
            if self._closed.is_set():
                return False
            time.sleep(0.005)  # wait for the producer
        if parts:
            self._append(np.concatenate(parts), arrived)
        if self.queue.ended and len(self.queue) == 0:
            self.motion.end()
        return True

    # -- internals -------------------------------------------------------------------
    def _finished(self, i: int) -> bool:
        return (self.queue.ended and len(self.queue) == 0
                and i * SAMPLE_RATE / self.fps >= self._real_end)

    def _fill_timeline(self, i: int, want: int = 1) -> None:
        """Move queued audio onto the timeline until frames i .. i+want-1 are ready, with
        silence where the queue is empty (the clock does not wait)."""
        m = self.motion
        while m.available() < want:
            need = m.samples_needed(i + want - 1) - self._tl_len
            pieces = self.queue.take(need)
            got = sum(int(p.shape[0]) for p, _ in pieces)
            for samples, arrived in pieces:
                self._append(samples, arrived)
            if got < need:
                self._append(np.zeros(need - got, np.float32), None)

    def _append(self, samples: np.ndarray, arrived: float | None) -> None:
        n = int(samples.shape[0])
        if arrived is not None:
            self._arrivals.append((self._tl_len, self._tl_len + n, arrived))
            self._real_end = self._tl_len + n
        self._timeline = np.concatenate([self._timeline, samples])
        self._tl_len += n
        self.motion.push(samples)

    def _render(self, latents: np.ndarray) -> np.ndarray:
        images = self.renderer.render(latents.reshape(-1, len(CHANNELS)))
        return self.before_output(images)

    def before_output(self, images: np.ndarray) -> np.ndarray:
        """THE single place every rendered frame passes before it leaves the engine
        (stdout, MPEG-TS, callbacks): the provenance pixel watermark, in place."""
        return self._embedder.embed(images)

    def _emit(self, i: int, image: np.ndarray, repeated: bool) -> Frame:
        s0 = int(round(i * SAMPLE_RATE / self.fps))
        s1 = int(round((i + 1) * SAMPLE_RATE / self.fps))
        lo, hi = s0 - self._tl_start, s1 - self._tl_start
        audio = self._timeline[max(lo, 0):max(hi, 0)]
        if audio.shape[0] < s1 - s0:
            audio = np.concatenate([audio, np.zeros(s1 - s0 - audio.shape[0], np.float32)])
        # drop timeline audio before this frame (the motion model keeps its own history)
        if lo > 0:
            self._timeline = self._timeline[lo:]
            self._tl_start = s0
        arrival = self._arrival_of(s0)
        now = time.monotonic()
        self.stats.emitted(now, None if arrival is None else now - arrival, repeated)
        self._last_image = image
        return Frame(i, i / self.fps, image, audio, arrival is not None, repeated)

    def _arrival_of(self, sample: int) -> float | None:
        while self._arrivals and self._arrivals[0][1] <= sample:
            self._arrivals.popleft()
        if self._arrivals and self._arrivals[0][0] <= sample:
            return self._arrivals[0][2]
        return None


def _sleep_until(when: float, stop: threading.Event) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        stop.wait(delay)

