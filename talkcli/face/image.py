"""Portrait loading (any format -> RGB uint8) and the rotated square crops every model uses."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from talkcli.errors import InvalidInputError

# Pillow's own default (~89 MP) warns, and errors only at 2x; we refuse anything above this
# outright because a portrait never needs it and decoding one can exhaust memory.
MAX_PIXELS = 100_000_000


def load_image(path: str | Path) -> np.ndarray:
    """Read a portrait as (H, W, 3) uint8 RGB with EXIF orientation applied.

    Raises InvalidInputError (exit 3) naming the file for anything that is not a readable image.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"portrait not found: {path}")
    if not path.is_file():
        raise InvalidInputError(f"portrait is not a file: {path}")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and 2x; make every oversize image an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                _check_pixels(path, opened.size)
                opened.load()
                return _to_rgb(ImageOps.exif_transpose(opened))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInputError(f"portrait {path} is too large to decode safely ({exc})") from None
    except UnidentifiedImageError:
        raise InvalidInputError(f"not an image (or an unsupported format): {path}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        # Truncated files and corrupt chunks surface as OSError/SyntaxError from the decoders.
        raise InvalidInputError(f"cannot read image {path}: {exc}") from None


def _check_pixels(path: Path, size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise InvalidInputError(f"image {path} has no pixels ({width}x{height})")
    limit = min(MAX_PIXELS, Image.MAX_IMAGE_PIXELS or MAX_PIXELS)
    if width * height > limit:
        raise InvalidInputError(
            f"portrait {path} is too large to decode safely: {width}x{height} "
            f"= {width * height / 1e6:.0f} MP (limit {limit / 1e6:.0f} MP)"
        )


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> RGB uint8; transparency is composited on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit greyscale: scale the actual range down to 8 bits (not a clip at 255).
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        span = max(float(arr.max() - arr.min()), 1e-12)
        grey = ((arr - arr.min()) / span * 255.0 + 0.5).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode == "P" or img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        img = img.convert("RGBA")
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb)


@dataclass(frozen=True)
class Roi:
    """A rotated square region: centre (px), side (px), angle (rad, the crop's x axis direction
    in the image; y down so positive is clockwise on screen)."""

    cx: float
    cy: float
    size: float
    angle: float = 0.0

    def patch_to_image(self, out: int) -> np.ndarray:
        """(2, 3) affine taking patch pixel coords (0..out) to image pixel coords."""
        s = self.size / out
        c, n = np.cos(self.angle) * s, np.sin(self.angle) * s
        half = out / 2.0
        return np.array(
            [[c, -n, self.cx - c * half + n * half], [n, c, self.cy - n * half - c * half]],
            dtype=np.float64,
        )


def apply_affine(affine: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map (N, 2) points through a (2, 3) affine."""
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ affine[:, :2].T + affine[:, 2]


class Pyramid:
    """The portrait plus 2x-reduced copies, so a crop samples a level near its output scale
    (Pillow's affine transform does not antialias; sampling a 1500 px face straight into
    192 px would alias)."""

    def __init__(self, image: np.ndarray) -> None:
        self.image = image
        self.height, self.width = int(image.shape[0]), int(image.shape[1])
        self._levels: list[Image.Image] = [Image.fromarray(image)]

    def level(self, k: int) -> tuple[Image.Image, int]:
        """The level nearest to 2**-k scale that exists (tiny images stop early)."""
        while len(self._levels) <= k and min(self._levels[-1].size) >= 32:
            self._levels.append(self._levels[-1].reduce(2))
        k = min(k, len(self._levels) - 1)
        return self._levels[k], k

    def crop(self, roi: Roi, out: int, flip: bool = False, replicate: bool = False
             ) -> tuple[np.ndarray, np.ndarray]:
        """Sample `roi` into an (out, out, 3) float32 patch in 0..1; returns (patch, affine),
        the affine mapping patch px to full-resolution image px (before any flip).
        Outside the image is black, or the nearest edge pixel with `replicate`."""
        affine = roi.patch_to_image(out)
        k = max(0, int(np.floor(np.log2(max(roi.size / out, 1.0)))))
        img, k = self.level(k)
        # Coefficients in continuous pixel units of that level; each reduce(2) halves
        # coordinates exactly.
        a = affine / float(2**k)
        if replicate:
            arr = _sample_replicate(np.asarray(img), a, out)
        else:
            patch = img.transform(
                (out, out), Image.Transform.AFFINE, data=tuple(a.ravel()),
                resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0),
            )
            arr = np.asarray(patch, dtype=np.float32) * (1.0 / 255.0)
        if flip:
            arr = arr[:, ::-1]
        return np.ascontiguousarray(arr), affine


def _sample_replicate(img: np.ndarray, affine: np.ndarray, out: int) -> np.ndarray:
    """Bilinear sampling with edge replication (Pillow's transform can only fill a colour)."""
    centres = np.arange(out, dtype=np.float64) + 0.5
    u, v = np.meshgrid(centres, centres)
    # Continuous coords -> array index coords (pixel centres at integers).
    x = np.clip(affine[0, 0] * u + affine[0, 1] * v + affine[0, 2] - 0.5, 0, img.shape[1] - 1)
    y = np.clip(affine[1, 0] * u + affine[1, 1] * v + affine[1, 2] - 0.5, 0, img.shape[0] - 1)
    x0 = np.minimum(np.floor(x).astype(np.intp), img.shape[1] - 2 if img.shape[1] > 1 else 0)
    y0 = np.minimum(np.floor(y).astype(np.intp), img.shape[0] - 2 if img.shape[0] > 1 else 0)
    x1 = np.minimum(x0 + 1, img.shape[1] - 1)
    y1 = np.minimum(y0 + 1, img.shape[0] - 1)
    fx = (x - x0)[..., None].astype(np.float32)
    fy = (y - y0)[..., None].astype(np.float32)
    src = img.astype(np.float32) * (1.0 / 255.0)
    top = src[y0, x0] * (1 - fx) + src[y0, x1] * fx
    bottom = src[y1, x0] * (1 - fx) + src[y1, x1] * fx
    return top * (1 - fy) + bottom * fy
