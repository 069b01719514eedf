"""Look for talkcli's three marks in a video or image: metadata, C2PA manifest, watermark."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from talkcli.errors import InvalidInputError
from talkcli.provenance.watermark import Detection, detect_gray, reduce_gray, rgb_to_gray

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
MAX_VIDEO_SECONDS = 60.0  # the mean of the first minute's frames is plenty


def verify_file(path: Path) -> dict[str, Any]:
    """One report: {"file", "kind", "synthetic", "metadata", "c2pa", "watermark"}.

    Raises InvalidInputError when the file is missing or neither an image nor a video."""
    if not path.is_file():
        raise InvalidInputError(f"file not found: {path}")
    image = _open_image(path)
    if image is not None:
        kind = "image"
        metadata = _image_metadata(path)
        detection = detect_gray(rgb_to_gray(image))
    else:
        kind = "video"
        metadata = _video_metadata(path)  # raises InvalidInputError when not media
        gray, frames = mean_video_frames(path)
        detection = detect_gray(gray, frames_used=frames)
    c2pa_info = _c2pa(path)
    watermark = watermark_report(detection)
    synthetic = bool(metadata["found"] or c2pa_info.get("talkcli") or watermark["found"])
    return {"file": str(path), "kind": kind, "synthetic": synthetic, "metadata": metadata,
            "c2pa": c2pa_info, "watermark": watermark}


def watermark_report(d: Detection) -> dict[str, Any]:
    report = d.to_dict()
    report["test"] = ("sync-template correlation peak z-score over zoom × shift, "
                      "Bonferroni-corrected Gaussian null")
    return report


# --------------------------------------------------------------------------- pixels
def _open_image(path: Path) -> np.ndarray | None:
    from PIL import Image, UnidentifiedImageError

    if path.suffix.lower() not in IMAGE_SUFFIXES:
        with open(path, "rb") as fh:
            head = fh.read(8)
        if not (head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8")):
            return None
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read image {path}: {exc}") from None


def mean_video_frames(path: Path, short_side: int = 256,
                      max_seconds: float = MAX_VIDEO_SECONDS) -> tuple[np.ndarray, int]:
    """The mean grey frame of a video's first `max_seconds` (decoded by ffmpeg, scaled so
    the short side is at most `short_side`), and how many frames went into it."""
    from talkcli.video.ffmpeg_bin import ffmpeg_exe
    from talkcli.video.probe import probe

    info = probe(path, count=False)
    if not info.width or not info.height:
        raise InvalidInputError(f"no video stream in {path}")
    scale = min(1.0, short_side / min(info.width, info.height))
    w = max(2, int(round(info.width * scale / 2)) * 2)
    h = max(2, int(round(info.height * scale / 2)) * 2)
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-t",
           str(max_seconds), "-i", str(path), "-map", "0:v:0", "-an",
           "-vf", f"scale={w}:{h}:flags=area,format=gray", "-f", "rawvideo", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    total = np.zeros((h, w), np.float64)
    frames = 0
    size = w * h
    while True:
        buf = proc.stdout.read(size)
        if len(buf) < size:
            break
        total += np.frombuffer(buf, np.uint8).reshape(h, w)
        frames += 1
    _, err = proc.communicate()
    if frames == 0:
        raise InvalidInputError(f"cannot decode video frames of {path}: "
                                f"{err.decode('utf-8', 'replace').strip()[-200:]}")
    return reduce_gray((total / frames).astype(np.float32)), frames


# --------------------------------------------------------------------------- metadata
def _video_metadata(path: Path) -> dict[str, Any]:
    from talkcli.video.probe import probe

    info = probe(path, count=False)
    tags = {k: v for k, v in info.tags.items() if k.lower() in ("comment", "description")}
    handler = info.video_tags.get("handler_name", "")
    marked = {k: v for k, v in tags.items() if "talkcli" in v.lower()}
    if "talkcli" in handler.lower():
        marked["handler_name"] = handler
    return {"found": bool(marked), "tags": marked}


def _image_metadata(path: Path) -> dict[str, Any]:
    from PIL import Image

    marked: dict[str, str] = {}
    with Image.open(path) as img:
        texts = dict(getattr(img, "text", {}) or {})
        exif = img.getexif()
        for tag, key in ((0x0131, "Software"), (0x010E, "ImageDescription")):
            if tag in exif:
                texts[key] = str(exif[tag])
    for key, value in texts.items():
        if isinstance(value, str) and "talkcli" in value.lower():
            marked[key] = value
    return {"found": bool(marked), "tags": marked}


def _c2pa(path: Path) -> dict[str, Any]:
    from talkcli.provenance.credentials import read_credentials

    try:
        return read_credentials(path)
    except OSError as exc:
        return {"found": False, "error": str(exc)}
