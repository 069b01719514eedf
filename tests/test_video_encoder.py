"""VideoEncoder + probe: codec, size, fps, frames, audio, duration, metadata, cleanup."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from talkcli.errors import EnvironmentProblem, InvalidInputError
from talkcli.timing import frame_count
from talkcli.video import ffmpeg_bin
from talkcli.video.encoder import (
    SYNTHETIC_HANDLER,
    SYNTHETIC_NOTICE,
    VideoEncoder,
    build_command,
    temp_pattern,
)
from talkcli.video.probe import parse_header, probe


def _gradient(start: int, count: int, height: int, width: int) -> np.ndarray:
    frames = np.empty((count, height, width, 3), np.uint8)
    frames[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, None, :]
    frames[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[None, :, None]
    frames[..., 2] = ((np.arange(start, start + count) * 7) % 256).astype(np.uint8)[:, None, None]
    return frames


@pytest.fixture()
def tone(tmp_path: Path) -> tuple[Path, float]:
    """1.23 s of 440 Hz at 22.05 kHz (not a whole number of frames, not 16 kHz)."""
    sr = 22050
    t = np.arange(int(1.23 * sr)) / sr
    path = tmp_path / "tone.wav"
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    return path, len(t) / sr


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".talkcli-" in p.name)


@pytest.mark.parametrize("threaded", [True, False])
def test_encode_with_audio_matches_contract(tmp_path: Path, tone: tuple[Path, float],
                                            threaded: bool, ffmpeg_binary: str) -> None:
    audio, duration = tone
    fps = 25
    total = frame_count(duration, fps)
    out = tmp_path / "out.mp4"
    batch = np.empty((8, 64, 96, 3), np.uint8)
    with VideoEncoder(out, 96, 64, fps, audio=audio, threaded=threaded) as enc:
        for start in range(0, total, 8):
            n = min(8, total - start)
            batch[:n] = _gradient(start, n, 64, 96)  # the caller reuses its buffer at once
            enc.write(batch[:n])
    assert out.is_file() and _leftovers(tmp_path) == []
    info = probe(out)
    assert info.video_codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (96, 64)
    assert info.fps == fps
    assert info.frames == total
    assert info.audio_codec == "aac" and info.sample_rate == 48000
    assert info.audio_duration_s is not None
    assert abs(info.audio_duration_s - duration) < 1 / fps
    assert info.video_duration_s is not None
    assert abs(info.video_duration_s - duration) < 1 / fps
    assert info.container_duration_s is not None
    assert abs(info.container_duration_s - duration) < 1 / fps + 0.01
    # Marked synthetic in the container.
    assert info.tags.get("comment") == SYNTHETIC_NOTICE
    assert info.tags.get("description") == SYNTHETIC_NOTICE
    assert info.video_tags.get("handler_name") == SYNTHETIC_HANDLER


def test_command_line_shape(tmp_path: Path) -> None:
    args = build_command(tmp_path / "t.mp4", 64, 64, 25, tmp_path / "a.wav",
                         audio_duration_s=1.0)
    joined = " ".join(args)
    # 1 s at 48 kHz = 46.9 AAC frames -> 47 whole frames = 48128 samples
    for part in ("-f rawvideo", "-pix_fmt yuv420p -s 64x64", "-framerate 25", "-i pipe:",
                 "-map 0:v", "[1:a:0]aresample=48000", "apad=whole_len=48128",
                 "atrim=end_sample=48128", "-vcodec libx264", "-preset veryfast", "-crf 20",
                 "-pix_fmt yuv420p", "-acodec aac", "-b:a 128k", "-ar 48000", "+faststart",
                 "-f mp4"):
        assert part in joined, part
    assert "-shortest" not in args
    assert args[-2:] == [str(tmp_path / "t.mp4"), "-y"]


def test_video_only_and_single_frame(tmp_path: Path) -> None:
    out = tmp_path / "one.mp4"
    with VideoEncoder(out, 32, 32, 10) as enc:
        enc.write(_gradient(0, 1, 32, 32)[0])  # one (H, W, 3) frame
    info = probe(out)
    assert info.frames == 1 and info.audio_codec is None and info.fps == 10


def test_wrong_frame_shape_aborts_and_cleans(tmp_path: Path) -> None:
    out = tmp_path / "bad.mp4"
    with pytest.raises(ValueError, match="frames must be"), VideoEncoder(out, 64, 64, 25) as enc:
        enc.write(_gradient(0, 2, 64, 64))
        enc.write(_gradient(0, 2, 32, 64))
    assert not out.exists() and _leftovers(tmp_path) == []


def test_wrong_dtype_rejected(tmp_path: Path) -> None:
    out = tmp_path / "bad.mp4"
    with pytest.raises(ValueError, match="uint8"), VideoEncoder(out, 64, 64, 25) as enc:
        enc.write(np.zeros((1, 64, 64, 3), np.float32))
    assert not out.exists() and _leftovers(tmp_path) == []


def test_odd_size_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        VideoEncoder(tmp_path / "x.mp4", 63, 64, 25)


@pytest.mark.parametrize("threaded", [True, False])
def test_ffmpeg_killed_is_environment_problem(tmp_path: Path, threaded: bool) -> None:
    out = tmp_path / "killed.mp4"
    with pytest.raises(EnvironmentProblem, match="ffmpeg"), VideoEncoder(
            out, 64, 64, 25, threaded=threaded) as enc:
        enc.write(_gradient(0, 2, 64, 64))
        assert enc._proc is not None
        os.kill(enc._proc.pid, signal.SIGKILL)
        enc._proc.wait()
        for i in range(50):  # the pipe breaks on the next write (or at finish)
            enc.write(_gradient(i, 4, 64, 64))
    assert not out.exists() and _leftovers(tmp_path) == []


def test_ffmpeg_error_message_is_surfaced(tmp_path: Path) -> None:
    out = tmp_path / "x.mp4"
    bogus = tmp_path / "not-audio.wav"
    bogus.write_bytes(b"this is not a wav file at all" * 10)
    with pytest.raises(EnvironmentProblem) as info, VideoEncoder(out, 64, 64, 25,
                                                                 audio=bogus) as enc:
        for i in range(20):
            enc.write(_gradient(i, 4, 64, 64))
    message = str(info.value)
    assert message.startswith("ffmpeg failed") and "not-audio.wav" in message
    assert not out.exists() and _leftovers(tmp_path) == []


def test_interrupt_aborts(tmp_path: Path) -> None:
    out = tmp_path / "int.mp4"
    with pytest.raises(KeyboardInterrupt), VideoEncoder(out, 64, 64, 25) as enc:
        enc.write(_gradient(0, 4, 64, 64))
        assert enc.temp_path is not None and enc.temp_path.exists()
        raise KeyboardInterrupt
    assert not out.exists() and _leftovers(tmp_path) == []


def test_replaces_existing_only_at_finish(tmp_path: Path) -> None:
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"old")
    with VideoEncoder(out, 32, 32, 25) as enc:
        enc.write(_gradient(0, 3, 32, 32))
        assert out.read_bytes() == b"old"
        assert list(tmp_path.glob(temp_pattern(out)))
    assert probe(out).frames == 3


def test_missing_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKCLI_FFMPEG", "/nonexistent/ffmpeg")
    ffmpeg_bin.ffmpeg_exe.cache_clear()
    try:
        with pytest.raises(EnvironmentProblem, match="ffmpeg not found"):
            VideoEncoder(tmp_path / "x.mp4", 32, 32, 25).start()
    finally:
        ffmpeg_bin.ffmpeg_exe.cache_clear()
    assert _leftovers(tmp_path) == []


def test_probe_rejects_non_media(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(InvalidInputError):
        probe(junk)
    with pytest.raises(InvalidInputError):
        probe(tmp_path / "missing.mp4")


def test_parse_header_sample() -> None:
    text = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x.mp4':
  Metadata:
    major_brand     : isom
    comment         : synthetic: yes
  Duration: 00:01:02.50, start: 0.000000, bitrate: 113 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), \
640x360 [SAR 1:1 DAR 16:9], 22 kb/s, 29.97 fps, 29.97 tbr, 30k tbn (default)
    Metadata:
      handler_name    : VideoHandler
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp
"""
    info = parse_header(text)
    assert info["container_duration_s"] == pytest.approx(62.5)
    assert (info["video_codec"], info["width"], info["height"]) == ("h264", 640, 360)
    assert info["fps"] == pytest.approx(29.97)
    assert info["pix_fmt"] == "yuv420p"
    assert (info["audio_codec"], info["sample_rate"], info["audio_channels"]) == (
        "aac", 48000, "stereo")
    assert info["tags"] == {"major_brand": "isom", "comment": "synthetic: yes"}
    assert info["video_tags"] == {"handler_name": "VideoHandler"}


def test_frames_survive_buffer_reuse(tmp_path: Path) -> None:
    """The frames decoded back are the ones written, though the caller reused its array."""
    import subprocess

    out = tmp_path / "reuse.mp4"
    buf = np.empty((4, 32, 32, 3), np.uint8)
    levels = [0, 60, 120, 180, 240, 30, 90, 150]
    with VideoEncoder(out, 32, 32, 25) as enc:
        for i in range(0, len(levels), 4):
            for j in range(4):
                buf[j] = levels[i + j]
            enc.write(buf)
    raw = subprocess.run([ffmpeg_bin.ffmpeg_exe(), "-v", "error", "-i", str(out), "-f",
                          "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True,
                         check=True).stdout
    means = np.frombuffer(raw, np.uint8).reshape(-1, 32 * 32).mean(axis=1)
    assert np.allclose(means, levels, atol=6)
