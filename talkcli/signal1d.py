"""The few 1-D filters the motion model uses (and the separable Gaussian of the portrait's
person mask), in numpy, as scipy.ndimage defines them.

Why not scipy.ndimage itself: importing it costs ~0.3 s (its array-API layer), and the
motion process, whose start-up is on the way to the first frame, analyses the portrait and
makes the motion without scipy. Same definitions (window placement, `origin`,
the border modes "reflect" (d c b a | a b c d), "nearest" and "constant"), checked against
scipy in the tests.
"""

from __future__ import annotations

import numpy as np

_PAD_MODES = {"reflect": "symmetric", "nearest": "edge", "constant": "constant"}


def _padded(x: np.ndarray, before: int, after: int, mode: str, cval: float) -> np.ndarray:
    if mode not in _PAD_MODES:
        raise ValueError(f"unknown mode {mode!r}")
    if mode == "constant":
        return np.pad(x, (before, after), mode="constant", constant_values=cval)
    if x.shape[0] == 0:
        return x
    # numpy pads at most the array's length per reflection; scipy repeats the pattern
    out = x
    while before > 0 or after > 0:
        b, a = min(before, out.shape[0]), min(after, out.shape[0])
        out = np.pad(out, (b, a), mode=_PAD_MODES[mode])  # type: ignore[call-overload]
        before, after = before - b, after - a
    return out


def _windows(x: np.ndarray, size: int, origin: int, mode: str, cval: float) -> np.ndarray:
    """(N, size) the window of each output sample: input i - size//2 - origin onwards (a
    positive origin shifts the window to earlier samples, as scipy's)."""
    x = np.asarray(x)
    if size < 1:
        raise ValueError("size must be >= 1")
    if not -(size // 2) <= origin <= (size - 1) // 2:
        raise ValueError("invalid origin")
    before = size // 2 + origin
    after = size - 1 - before
    pad_b, pad_a = max(before, 0), max(after, 0)
    padded = _padded(x, pad_b, pad_a, mode, cval)
    view = np.lib.stride_tricks.sliding_window_view(padded, size)
    start = pad_b - before
    return view[start:start + x.shape[0]]


def maximum_filter1d(x: np.ndarray, size: int, mode: str = "reflect", cval: float = 0.0,
                     origin: int = 0) -> np.ndarray:
    x = np.asarray(x)
    result: np.ndarray = _windows(x, size, origin, mode, cval).max(axis=1).astype(x.dtype)
    return result


def minimum_filter1d(x: np.ndarray, size: int, mode: str = "reflect", cval: float = 0.0,
                     origin: int = 0) -> np.ndarray:
    x = np.asarray(x)
    result: np.ndarray = _windows(x, size, origin, mode, cval).min(axis=1).astype(x.dtype)
    return result


def median_filter(x: np.ndarray, size: int, mode: str = "reflect", cval: float = 0.0
                  ) -> np.ndarray:
    """1-D, centred only (the motion model's use). As scipy's, an even window takes the
    upper of its two middle values (rank size // 2), not their mean."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError("median_filter here is 1-D")
    win = _windows(x, size, 0, mode, cval)
    result: np.ndarray = np.partition(win, size // 2, axis=1)[:, size // 2].astype(x.dtype)
    return result


def gaussian_filter1d(x: np.ndarray, sigma: float, mode: str = "reflect", cval: float = 0.0,
                      truncate: float = 4.0) -> np.ndarray:
    """Correlation with a normalised Gaussian of radius int(truncate * sigma + 0.5); float
    input keeps its dtype, anything else becomes float64."""
    x = np.asarray(x)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    radius = int(truncate * float(sigma) + 0.5)
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / float(sigma) ** 2 * taps ** 2)
    weights /= weights.sum()
    padded = _padded(x.astype(np.float64), radius, radius, mode, cval)
    result: np.ndarray = np.convolve(padded, weights, mode="valid").astype(dtype)  # symmetric
    return result


def gaussian_filter(x: np.ndarray, sigma: float, mode: str = "reflect",
                    truncate: float = 4.0) -> np.ndarray:
    """scipy.ndimage.gaussian_filter with one sigma: gaussian_filter1d along each axis in
    turn, each pass kept in the input's float dtype (as scipy's output array is)."""
    out = np.asarray(x)
    for axis in range(out.ndim):
        out = np.apply_along_axis(gaussian_filter1d, axis, out, sigma, mode, 0.0, truncate)
    return out
