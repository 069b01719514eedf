"""Media facts without ffprobe (CI has only imageio-ffmpeg's ffmpeg binary).

`probe(path)` parses `ffmpeg -hide_banner -i FILE` (streams, codecs, size, fps, tags), then
counts precisely: video frames with a stream copy to the null muxer, audio duration by
decoding the first audio stream to the null muxer (`-progress` key=value output), so the
AAC priming samples trimmed by the MP4 edit list are not counted.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from talkcli.errors import InvalidInputError
from talkcli.video.ffmpeg_bin import ffmpeg_exe


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    container_duration_s: float | None
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    pix_fmt: str | None = None
    frames: int | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    audio_channels: str | None = None
    audio_duration_s: float | None = None
    tags: dict[str, str] = field(default_factory=dict)  # container (global) tags
    video_tags: dict[str, str] = field(default_factory=dict)  # first video stream's tags

    @property
    def video_duration_s(self) -> float | None:
        if self.frames is None or not self.fps:
            return None
        return self.frames / self.fps


_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+)(.*)")
_AUDIO = re.compile(r"Stream #\d+:\d+.*?: Audio: (\w+)(.*)")
_SIZE = re.compile(r"\b(\d{2,5})x(\d{2,5})\b")
_FPS = re.compile(r"([\d.]+)(k?) fps")
_RATE = re.compile(r"(\d+) Hz")
_PIX = re.compile(r"\b(yuv\w*|rgb\w*|bgr\w*|gray\w*|nv\d+\w*)\b")


def _run(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
                          capture_output=True, text=True, errors="replace", timeout=timeout,
                          check=False)


def parse_header(text: str) -> dict[str, object]:
    """Parse the `ffmpeg -i FILE` report (first video/audio stream, global tags)."""
    info: dict[str, object] = {"tags": {}}
    m = _DURATION.search(text)
    if m:
        h, mi, s = m.groups()
        info["container_duration_s"] = int(h) * 3600 + int(mi) * 60 + float(s)
    tags: dict[str, str] = {}
    video_tags: dict[str, str] = {}
    target: dict[str, str] | None = None  # the Metadata block being read
    last_stream_video = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "Metadata:":
            indent = len(line) - len(line.lstrip())
            if indent == 2:
                target = tags
            elif indent == 4 and last_stream_video and "video_codec_done" not in info:
                target = video_tags
            else:
                target = {}
            continue
        if target is not None:
            if line.startswith("    ") and ":" in stripped and not stripped.startswith(
                    ("Stream", "Duration")):
                key, _, value = stripped.partition(":")
                target[key.strip()] = value.strip()
                continue
            if target is video_tags:
                info["video_codec_done"] = True
            target = None
        if stripped.startswith("Stream #"):
            if "video_codec" in info:
                info["video_codec_done"] = True
            last_stream_video = ": Video: " in line and "video_codec" not in info
        vm = _VIDEO.search(line)
        if vm and "video_codec" not in info:
            info["video_codec"] = vm.group(1)
            rest = vm.group(2)
            sm = _SIZE.search(rest)
            if sm:
                info["width"], info["height"] = int(sm.group(1)), int(sm.group(2))
            fm = _FPS.search(rest)
            if fm:
                info["fps"] = float(fm.group(1)) * (1000 if fm.group(2) else 1)
            pm = _PIX.search(rest)
            if pm:
                info["pix_fmt"] = pm.group(1)
        am = _AUDIO.search(line)
        if am and "audio_codec" not in info:
            info["audio_codec"] = am.group(1)
            rm = _RATE.search(am.group(2))
            if rm:
                info["sample_rate"] = int(rm.group(1))
            parts = [p.strip() for p in am.group(2).split(",")]
            if len(parts) > 2:
                info["audio_channels"] = parts[2]
    info["tags"] = tags
    info["video_tags"] = video_tags
    info.pop("video_codec_done", None)
    return info


def _progress_values(text: str) -> dict[str, str]:
    """The last value of each key in `-progress pipe:1` output."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def count_video_frames(path: Path) -> int | None:
    out = _run(["-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null",
                "-progress", "pipe:1", "-nostats", "-"])
    if out.returncode != 0:
        return None
    frame = _progress_values(out.stdout).get("frame")
    return int(frame) if frame and frame.isdigit() else None


def audio_duration(path: Path) -> float | None:
    out = _run(["-i", str(path), "-map", "0:a:0", "-f", "null",
                "-progress", "pipe:1", "-nostats", "-"])
    if out.returncode != 0:
        return None
    us = _progress_values(out.stdout).get("out_time_us", "")
    try:
        return int(us) / 1e6
    except ValueError:
        return None


_PTS_TIME = re.compile(r"pts_time:\s*(-?[\d.]+)")


def stream_start(path: str | Path, kind: str = "a") -> float | None:
    """Presentation time of the first decoded frame of the first `kind` ("a" or "v") stream,
    after the container's edit list (0 when audio and video start together)."""
    filt = ["-af", "ashowinfo"] if kind == "a" else ["-vf", "showinfo"]
    out = _run(["-i", str(path), "-map", f"0:{kind}:0", *filt, "-frames:" + kind, "1",
                "-f", "null", "-"])
    m = _PTS_TIME.search(out.stderr)
    return float(m.group(1)) if m and out.returncode == 0 else None


def probe(path: str | Path, count: bool = True) -> MediaInfo:
    """Describe a media file; `count=False` skips the exact frame/duration passes."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"no such file: {path}")
    header = _run(["-i", str(path)]).stderr
    if "Invalid data found" in header or ("Stream #" not in header):
        raise InvalidInputError(f"not a media file ffmpeg can read: {path}")
    info = parse_header(header)
    frames = count_video_frames(path) if count and info.get("video_codec") else None
    adur = audio_duration(path) if count and info.get("audio_codec") else None
    return MediaInfo(
        path=path,
        container_duration_s=info.get("container_duration_s"),  # type: ignore[arg-type]
        video_codec=info.get("video_codec"),  # type: ignore[arg-type]
        width=info.get("width"),  # type: ignore[arg-type]
        height=info.get("height"),  # type: ignore[arg-type]
        fps=info.get("fps"),  # type: ignore[arg-type]
        pix_fmt=info.get("pix_fmt"),  # type: ignore[arg-type]
        frames=frames,
        audio_codec=info.get("audio_codec"),  # type: ignore[arg-type]
        sample_rate=info.get("sample_rate"),  # type: ignore[arg-type]
        audio_channels=info.get("audio_channels"),  # type: ignore[arg-type]
        audio_duration_s=adur,
        tags=info.get("tags", {}),  # type: ignore[arg-type]
        video_tags=info.get("video_tags", {}),  # type: ignore[arg-type]
    )
