"""talkcli.signal1d equals scipy.ndimage's 1-D filters (the motion process avoids importing
scipy), for the sizes, origins and border modes the motion model uses and beyond."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from talkcli import signal1d as S

RNG = np.random.default_rng(7)
SIGNALS = [RNG.normal(size=n) * 10 for n in (1, 2, 5, 17, 300)] + [
    (RNG.random(120) > 0.6).astype(np.uint8)]


@pytest.mark.parametrize("x", SIGNALS, ids=lambda x: f"{x.dtype}-{x.shape[0]}")
@pytest.mark.parametrize("mode", ["reflect", "nearest", "constant"])
def test_max_min_median_equal_scipy(x: np.ndarray, mode: str) -> None:
    for size in (1, 2, 3, 5, 8, 15, 21, 31):
        for origin in sorted({0, -(size // 2), (size - 1) // 2}):
            kw = {"size": size, "mode": mode, "cval": -200.0 if x.dtype.kind == "f" else 0,
                  "origin": origin}
            np.testing.assert_array_equal(S.maximum_filter1d(x, **kw),
                                          ndimage.maximum_filter1d(x, **kw))
            np.testing.assert_array_equal(S.minimum_filter1d(x, **kw),
                                          ndimage.minimum_filter1d(x, **kw))
            # (scipy's own median of a 1- or 2-sample signal reads past it: not compared)
            if x.dtype.kind == "f" and origin == 0 and x.shape[0] > 2:
                kw.pop("origin")
                np.testing.assert_allclose(S.median_filter(x, **kw),
                                           ndimage.median_filter(x, **kw))


@pytest.mark.parametrize("x", SIGNALS[:5], ids=lambda x: f"n{x.shape[0]}")
@pytest.mark.parametrize("mode", ["reflect", "nearest", "constant"])
def test_gaussian_equals_scipy(x: np.ndarray, mode: str) -> None:
    for sigma in (0.7, 1.0, 3.0, 15.0):
        for truncate in (2.0, 4.0):
            ours = S.gaussian_filter1d(x, sigma, mode=mode, cval=1.5, truncate=truncate)
            theirs = ndimage.gaussian_filter1d(x, sigma, mode=mode, cval=1.5,
                                               truncate=truncate)
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    ints = (x > 0).astype(np.uint8)
    np.testing.assert_allclose(S.gaussian_filter1d(ints, 2.0),
                               ndimage.gaussian_filter1d(ints.astype(np.float64), 2.0))


@pytest.mark.parametrize("shape", [(1, 1), (5, 9), (64, 48)])
def test_2d_gaussian_equals_scipy(shape: tuple[int, int]) -> None:
    image = RNG.random(shape).astype(np.float32)
    for sigma in (0.8, 2.5):
        ours = S.gaussian_filter(image, sigma)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, ndimage.gaussian_filter(image, sigma), atol=2e-7)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        S.maximum_filter1d(np.zeros(5), size=3, origin=2)
    with pytest.raises(ValueError):
        S.maximum_filter1d(np.zeros(5), size=3, mode="wrap")
