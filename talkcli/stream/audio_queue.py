"""A thread-safe FIFO of 16 kHz audio with the wall-clock time each piece arrived.

Producers push PCM of any size and rate (resampled with a streaming soxr resampler, so
chunk boundaries leave no clicks); the engine takes samples in order. Arrival times let
the engine measure latency: how long after a sample arrived the frame showing it left.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from talkcli.errors import InvalidInputError
from talkcli.timing import SAMPLE_RATE


def to_mono_float(pcm: np.ndarray | bytes, channels: int = 1,
                  sample_format: str = "f32le") -> np.ndarray:
    """PCM (an array, or raw bytes in s16le/f32le) -> float32 mono in [-1, 1]."""
    if isinstance(pcm, bytes | bytearray | memoryview):
        dtype = {"s16le": "<i2", "f32le": "<f4"}.get(sample_format)
        if dtype is None:
            raise InvalidInputError(f"unsupported PCM format {sample_format!r}")
        arr = np.frombuffer(pcm, dtype=dtype)
    else:
        arr = np.asarray(pcm)
    if arr.dtype == np.int16:
        arr = arr.astype(np.float32) / 32768.0
    arr = arr.astype(np.float32, copy=False)
    if channels > 1:
        if arr.ndim == 1:
            if arr.shape[0] % channels:
                raise InvalidInputError("PCM sample count is not a multiple of the channels")
            arr = arr.reshape(-1, channels)
        arr = arr.mean(axis=1)
    elif arr.ndim == 2:
        arr = arr.mean(axis=1)
    if not np.isfinite(arr).all():
        raise InvalidInputError("PCM contains NaN or infinite samples")
    return np.ascontiguousarray(arr.reshape(-1))


class AudioQueue:
    """push() from any thread; take() from the engine. Samples keep their order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[tuple[np.ndarray, float]] = deque()
        self._size = 0
        self._resamplers: dict[int, object] = {}
        self.ended = False
        self.pushed = 0

    def push(self, pcm: np.ndarray, rate: int = SAMPLE_RATE) -> None:
        samples = np.asarray(pcm, dtype=np.float32).reshape(-1)
        rate = int(rate)
        if rate <= 0:
            raise InvalidInputError(f"sample rate must be positive (got {rate})")
        if rate != SAMPLE_RATE:
            samples = self._resample(samples, rate, last=False)
        self._append(samples)

    def _resample(self, samples: np.ndarray, rate: int, last: bool) -> np.ndarray:
        import soxr

        rs = self._resamplers.get(rate)
        if rs is None:
            rs = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
            self._resamplers[rate] = rs
        return np.asarray(rs.resample_chunk(samples, last=last), np.float32)  # type: ignore[attr-defined]

    def _append(self, samples: np.ndarray) -> None:
        if samples.size == 0:
            return
        with self._lock:
            if self.ended:
                raise RuntimeError("push after end()")
            self._items.append((samples, time.monotonic()))
            self._size += int(samples.shape[0])
            self.pushed += int(samples.shape[0])

    def end(self) -> None:
        """No more audio; flushes the resamplers' tails."""
        for rate in list(self._resamplers):
            self._append(self._resample(np.zeros(0, np.float32), rate, last=True))
        with self._lock:
            self.ended = True

    def __len__(self) -> int:
        with self._lock:
            return self._size

    def take(self, n: int) -> list[tuple[np.ndarray, float]]:
        """Up to n samples, oldest first, as (samples, arrival time) pieces."""
        out: list[tuple[np.ndarray, float]] = []
        with self._lock:
            while n > 0 and self._items:
                samples, t = self._items[0]
                if samples.shape[0] <= n:
                    self._items.popleft()
                    out.append((samples, t))
                    n -= samples.shape[0]
                    self._size -= samples.shape[0]
                else:
                    out.append((samples[:n], t))
                    self._items[0] = (samples[n:], t)
                    self._size -= n
                    n = 0
        return out
