"""Shared helpers for event schedules evaluated per frame (exactly chunkable)."""

from __future__ import annotations

import numpy as np


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def pause_onsets(vad: np.ndarray, fps: float, min_pause_s: float = 0.25) -> list[tuple[int, int]]:
    """(onset frame, pause length in frames) for each speech -> pause transition."""
    active = vad > 0.5
    out: list[tuple[int, int]] = []
    n = active.shape[0]
    k = 1
    while k < n:
        if active[k - 1] and not active[k]:
            j = k
            while j < n and not active[j]:
                j += 1
            if (j - k) >= min_pause_s * fps:
                out.append((k, j - k))
            k = j
        else:
            k += 1
    return out
