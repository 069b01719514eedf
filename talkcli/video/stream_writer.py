"""Writers for `talkcli stream` output, fed one frame (and its audio) at a time.

- `RawFrameWriter`: rgb24, exactly width*height*3 bytes per frame and nothing else,
  flushed after every frame (a consumer reading the pipe gets each frame as it is made).
- `MpegTsWriter`: H.264 (x264 ultrafast, zerolatency, no B-frames, a keyframe every
  second) + AAC in MPEG-TS, written by an ffmpeg process that reads video from its stdin
  and 16 kHz s16le audio from a second pipe; `-flush_packets 1` and zero mux delay make it
  emit each frame's packets at once, so a player reading the output plays it live. Two
  feeder threads keep the video and audio pipes independent (no lock-step deadlock).

Both accept a path or "-" (stdout). Closing flushes; `abort()` stops without waiting.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, BinaryIO

import numpy as np

from talkcli.errors import EnvironmentProblem, InvalidInputError
from talkcli.timing import SAMPLE_RATE
from talkcli.video.ffmpeg_bin import ffmpeg_exe

_QUEUE_FRAMES = 8  # frames buffered per feeder thread (back-pressure beyond that)


def _open_output(target: str) -> tuple[BinaryIO, bool]:
    """(binary stream, whether we own it)."""
    if target == "-":
        return sys.stdout.buffer, False
    path = Path(target)
    if path.is_dir():
        raise InvalidInputError(f"output is a directory: {path}")
    try:
        return open(path, "wb"), True  # noqa: SIM115 - closed in close()
    except OSError as exc:
        raise InvalidInputError(f"cannot write output {path}: {exc}") from None


class RawFrameWriter:
    """rgb24 frames, back to back, nothing else."""

    def __init__(self, target: str, width: int, height: int) -> None:
        self.frame_bytes = width * height * 3
        self._out, self._owned = _open_output(target)

    def write(self, image: np.ndarray, audio: np.ndarray | None = None) -> None:
        data = np.ascontiguousarray(image, dtype=np.uint8)
        if data.nbytes != self.frame_bytes:
            raise ValueError(f"frame has {data.nbytes} bytes, expected {self.frame_bytes}")
        self._out.write(data.tobytes())
        self._out.flush()

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError):
            self._out.flush()
        if self._owned:
            self._out.close()

    def abort(self) -> None:
        self.close()


class MpegTsWriter:
    """H.264 + AAC MPEG-TS through ffmpeg, flushed frame by frame."""

    def __init__(self, target: str, width: int, height: int, fps: float) -> None:
        self._target = target
        audio_r, audio_w = os.pipe()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed with ffmpeg
        gop = max(1, int(round(fps)))
        cmd = [
            ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            # raw inputs need no probing: without these ffmpeg reads seconds of one input
            # before the other (a deadlock when both are fed in step, frame by frame).
            # Not `-fflags nobuffer`: it dropped the packet read while probing, the first
            # frame of every stream.
            "-probesize", "32", "-analyzeduration", "0",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
            "-framerate", f"{fps:g}", "-thread_queue_size", "64", "-i", "pipe:0",
            "-probesize", "32", "-analyzeduration", "0",
            "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-thread_queue_size", "64",
            "-i", f"pipe:{audio_r}",
            "-map", "0:v", "-map", "1:a",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-pix_fmt", "yuv420p", "-g", str(gop), "-bf", "0",
            "-c:a", "aac", "-b:a", "96k",
            "-f", "mpegts", "-flush_packets", "1", "-muxdelay", "0", "-muxpreload", "0",
            "pipe:1" if target == "-" else target,
        ]
        stdout: int | IO[bytes] | None = None if target == "-" else subprocess.DEVNULL
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=stdout,
                                          stderr=self._stderr, pass_fds=(audio_r,),
                                          start_new_session=True)
            # its own session: Ctrl-C reaches only talkcli, which then ends ffmpeg's
            # inputs so it flushes a complete stream instead of dying mid-packet
        except OSError as exc:
            os.close(audio_r)
            os.close(audio_w)
            raise EnvironmentProblem(f"cannot start ffmpeg: {exc}") from None
        os.close(audio_r)
        self._audio = os.fdopen(audio_w, "wb", buffering=0)
        assert self._proc.stdin is not None
        self._video = self._proc.stdin
        self._qv: queue.Queue[bytes | None] = queue.Queue(_QUEUE_FRAMES)
        self._qa: queue.Queue[bytes | None] = queue.Queue(_QUEUE_FRAMES * 4)
        self._errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._feed, args=(self._qv, self._video),
                                          daemon=True),
                         threading.Thread(target=self._feed, args=(self._qa, self._audio),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _feed(self, q: queue.Queue[bytes | None], pipe: IO[bytes]) -> None:
        try:
            while True:
                item = q.get()
                if item is None:
                    break
                pipe.write(item)
                pipe.flush()
        except (BrokenPipeError, OSError) as exc:
            self._errors.append(exc)
            while q.get() is not None:  # drain so the producer never blocks
                pass
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def write(self, image: np.ndarray, audio: np.ndarray | None = None) -> None:
        if self._errors or self._proc.poll() is not None:
            raise EnvironmentProblem(f"ffmpeg stopped: {self._ffmpeg_error()}")
        self._qv.put(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
        if audio is not None and audio.size:
            pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
            self._qa.put(pcm.tobytes())

    def _ffmpeg_error(self) -> str:
        self._stderr.seek(0)
        lines = [ln for ln in self._stderr.read().decode("utf-8", "replace").splitlines()
                 if ln.strip()]
        return lines[-1] if lines else "no message"

    def close(self, timeout: float = 30.0) -> None:
        if self._stderr.closed:
            return
        self._qv.put(None)
        self._qa.put(None)
        for t in self._threads:
            t.join(timeout)
        try:
            rc = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            rc = self._proc.wait()
        message = self._ffmpeg_error() if rc != 0 else ""
        self._stderr.close()
        if rc != 0 and not self._errors:
            raise EnvironmentProblem(f"ffmpeg failed ({rc}): {message}")

    def abort(self) -> None:
        """Stop quickly but leave a playable stream: end the inputs, let ffmpeg flush."""
        with contextlib.suppress(EnvironmentProblem):
            self.close(timeout=5.0)
