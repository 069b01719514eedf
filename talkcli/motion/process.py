"""Motion made in a process of its own, chunk by chunk, for the render pipeline.

Why a process and not a thread: the motion model is mostly Python (phone decoding, the
lip window, the head filters), and in a thread beside the renderer it held the GIL for
about a quarter of the render thread's wall time (measured: render 10.6 ms/frame wall for
8.1 ms of CPU). In its own process it runs on the second core for real, and its imports
(pocketsphinx, scipy, the VAD's torch) overlap the renderer's set-up instead of taking
turns with it.

`MotionProcess(job)` starts `python -m talkcli.motion.process` (a fresh interpreter: not a
fork, because the parent has torch's thread pool, which a forked child cannot use safely;
and not multiprocessing's spawn, which re-runs the caller's main script in the child) and
sends it the job. The child runs `MotionGenerator.stream_incremental` and writes each
(T_i, C) chunk to its stdout as a length-prefixed pickle; the pipe's buffer bounds how far
it runs ahead (back-pressure, flat memory). Iterating the object yields the chunks, bit
for bit those the generator yields in-process; the child's exception is re-raised in the
parent; `close()` stops and reaps the child (abort, interrupt, parent error).
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

_HEADER = struct.Struct("<Q")
JOIN_S = 5.0


@dataclass(frozen=True)
class MotionJob:
    """What the child needs to make the motion: the clip and the generator's settings."""

    audio: np.ndarray  # 16 kHz mono float32
    preset: Any  # config.Preset (picklable dataclass) or None for the default
    fps: float
    seed: int
    chunk_frames: int
    transcript: str | None = None


def _send(out: IO[bytes], item: tuple[str, Any]) -> None:
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)))
    out.write(data)
    out.flush()


def _receive(src: IO[bytes]) -> tuple[str, Any] | None:
    """The next message, or None at the end of the stream (the child has gone)."""
    head = src.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    data = src.read(size)
    if len(data) < size:
        return None
    item: tuple[str, Any] = pickle.loads(data)  # noqa: S301 - our own child's output
    return item


def _feed(dst: IO[bytes], job: MotionJob) -> None:
    try:
        with dst:
            pickle.dump(job, dst, protocol=pickle.HIGHEST_PROTOCOL)
    except (BrokenPipeError, ValueError):
        pass  # the child died at once or was closed: reading says how


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling (talkcli's errors do), else its text."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - round trip of our own object
        return exc
    except Exception:  # noqa: BLE001 - any unpicklable exception becomes a plain one
        return RuntimeError(f"motion failed: {type(exc).__name__}: {exc}")


def child_main() -> None:
    """The child's whole life: read the job, write the chunks, then its CPU and memory."""
    # Ctrl-C reaches the whole process group; the parent decides and closes the child.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The messages get a private copy of stdout; anything a library prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    job: MotionJob = pickle.load(sys.stdin.buffer)  # noqa: S301 - from our parent
    try:
        from talkcli.motion.generator import MotionGenerator

        generator = MotionGenerator(job.preset, fps=job.fps, seed=job.seed)
        for chunk in generator.stream_incremental(job.audio, transcript=job.transcript,
                                                  chunk_frames=job.chunk_frames):
            _send(out, ("chunk", np.ascontiguousarray(chunk)))
    except BrokenPipeError:
        return  # the parent stopped listening (abort): nothing more to do
    except BaseException as exc:  # noqa: BLE001 - handed over to the parent
        _send(out, ("error", _portable(exc)))
        return
    from talkcli.procstat import peak_rss_mb

    _send(out, ("end", (time.process_time(), peak_rss_mb())))


_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _child_env() -> dict[str, str]:
    """The parent's environment, with this talkcli's directory first on the path (the
    child must import the same code, also when it was put on sys.path by hand), and one
    thread for every numeric library: the VAD's torch, loaded later than any limit set at
    run time, otherwise spins a thread per core beside the renderer."""
    env = dict(os.environ)
    env.update({name: "1" for name in _ONE_THREAD})
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


class MotionProcess:
    """The motion chunks of `job`, made in a child process; see the module docstring."""

    def __init__(self, job: MotionJob) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "talkcli.motion.process"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=_child_env())
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._out: IO[bytes] = self._proc.stdout
        # The job (the whole clip) is bigger than a pipe's buffer and the child reads it only
        # once its interpreter is up: a thread hands it over so this one can go on.
        self._feeder = threading.Thread(target=_feed, args=(self._proc.stdin, job),
                                        name="talkcli-motion-job", daemon=True)
        self._feeder.start()
        self.cpu_seconds = 0.0  # the child's CPU time, known once it has finished
        self.peak_rss_mb: float | None = None  # the child's VmHWM, likewise
        self.wait_seconds = 0.0  # the parent's time blocked waiting for a chunk
        self._ended = False

    def __iter__(self) -> Iterator[np.ndarray]:
        while not self._ended:
            chunk = self._next()
            if chunk is not None:
                yield chunk

    def _next(self) -> np.ndarray | None:
        t0 = time.perf_counter()
        try:
            item = _receive(self._out)
        finally:
            self.wait_seconds += time.perf_counter() - t0
        if item is None:
            code = self._proc.wait(timeout=JOIN_S)
            raise RuntimeError(f"the motion process ended unexpectedly (exit code {code})")
        kind, payload = item
        if kind == "error":
            self._ended = True
            raise payload
        if kind == "end":
            self._ended = True
            self.cpu_seconds, self.peak_rss_mb = payload
            return None
        chunk: np.ndarray = payload
        return chunk

    def finish(self) -> None:
        """After the consumer took all it needed: read the child's last word (its CPU time
        and memory), skipping any chunk left over, and reap it."""
        while not self._ended:
            self._next()
        self._proc.wait(timeout=JOIN_S)

    def close(self) -> None:
        """Stop the child (it may be blocked writing a chunk nobody reads) and reap it."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._out.close()
        self._proc.wait(timeout=JOIN_S)
        self._feeder.join(timeout=JOIN_S)


if __name__ == "__main__":
    child_main()
