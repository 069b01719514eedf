"""load_image: every format and mode we accept, and every bad file refused with exit-3 errors."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from talkcli.errors import InvalidInputError
from talkcli.face import image as image_mod
from talkcli.face.image import load_image


@pytest.fixture(scope="module")
def sample(sample_portrait_path: Path) -> np.ndarray:
    return np.asarray(Image.open(sample_portrait_path).convert("RGB"))


def _save(img: Image.Image, path: Path, **kw: object) -> Path:
    img.save(path, **kw)
    return path


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "bmp", "tiff"])
def test_formats_load_as_rgb_uint8(sample: np.ndarray, tmp_path: Path, ext: str) -> None:
    path = _save(Image.fromarray(sample), tmp_path / f"p.{ext}")
    out = load_image(path)
    assert out.dtype == np.uint8 and out.shape == sample.shape
    # Lossy formats differ a little; a wrong channel order or orientation differs a lot.
    assert np.abs(out.astype(int) - sample.astype(int)).mean() < 6


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:4, :, 3] = 255           # top half opaque red, bottom half transparent
    out = load_image(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"))
    assert out.shape == (8, 8, 3)
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[7, 7]) == (255, 255, 255)


def test_grey_palette_and_16bit(tmp_path: Path, sample: np.ndarray) -> None:
    grey = Image.fromarray(sample).convert("L")
    out = load_image(_save(grey, tmp_path / "g.png"))
    assert out.shape == sample.shape and np.all(out[..., 0] == out[..., 1])

    pal = Image.fromarray(sample).convert("P", palette=Image.Palette.ADAPTIVE)
    out = load_image(_save(pal, tmp_path / "p.png"))
    assert out.shape == sample.shape and np.abs(out.astype(int) - sample).mean() < 12

    wide = (np.asarray(grey, dtype=np.uint16) * 257).astype(np.uint16)
    out = load_image(_save(Image.fromarray(wide), tmp_path / "w16.png"))
    assert out.dtype == np.uint8
    assert np.abs(out[..., 0].astype(int) - np.asarray(grey, dtype=int)).max() <= 1


def test_exif_orientation_is_applied(tmp_path: Path, sample: np.ndarray) -> None:
    # Stored rotated, with the EXIF tag saying "rotate 90 CW to display": loads upright.
    stored = Image.fromarray(sample).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(stored, tmp_path / "exif.jpg", exif=exif.tobytes(), quality=95)
    out = load_image(path)
    assert out.shape == sample.shape
    assert np.abs(out.astype(int) - sample.astype(int)).mean() < 6


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(InvalidInputError, match="not a file"):
        load_image(tmp_path)


@pytest.mark.parametrize("payload", [b"", b"hello, I am text\n" * 20])
def test_not_an_image(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(payload)
    with pytest.raises(InvalidInputError, match="fake.png"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files(tmp_path: Path, sample: np.ndarray, fmt: str) -> None:
    buf = io.BytesIO()
    Image.fromarray(sample).save(buf, format=fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(InvalidInputError, match="cut"):
        load_image(path)


def _png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims a huge size (the data is never decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_claiming(60000, 60000))
    with pytest.raises(InvalidInputError, match="too large"):
        load_image(path)


def test_pixel_limit_is_configurable(tmp_path: Path, sample: np.ndarray, monkeypatch) -> None:
    monkeypatch.setattr(image_mod, "MAX_PIXELS", 1000)
    path = _save(Image.fromarray(sample), tmp_path / "ok.png")
    with pytest.raises(InvalidInputError, match="too large"):
        load_image(path)
