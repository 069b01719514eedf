"""The same MP4 from every ffmpeg (issue 7): Debian's 5.x and imageio-ffmpeg's binary.

Each encode is read back by every ffmpeg present: ffmpeg 5.x's reader ignores the end of
the MP4 edit list, so a track padded to a whole AAC frame would look up to a frame longer
there. The audio must equal the input's length within one video frame in every reader, and
audio and video must start together.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from talkcli.errors import EnvironmentProblem
from talkcli.timing import frame_count
from talkcli.video import ffmpeg_bin
from talkcli.video.encoder import VideoEncoder, aac_samples
from talkcli.video.probe import audio_duration, probe, stream_start


def _readers() -> list[str]:
    return [exe for exe in (ffmpeg_bin.system_ffmpeg(), ffmpeg_bin.bundled_ffmpeg()) if exe]


def _decoded_seconds(exe: str, path: Path) -> float:
    """Audio length as this ffmpeg decodes it (samples out of the decoder, edit list applied
    as far as this build applies it)."""
    out = subprocess.run([exe, "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:a:0",
                          "-f", "null", "-progress", "pipe:1", "-nostats", "-"],
                         capture_output=True, text=True, check=True)
    us = [ln.split("=", 1)[1] for ln in out.stdout.splitlines() if ln.startswith("out_time_us=")]
    return int(us[-1]) / 1e6


def _encode(tmp: Path, audio: Path, fps: float, seconds: float) -> Path:
    out = tmp / "out.mp4"
    total = frame_count(seconds, fps)
    with VideoEncoder(out, 32, 32, fps, audio=audio) as enc:
        enc.write(np.full((total, 32, 32, 3), 128, np.uint8))
    return out


@pytest.mark.parametrize(("rate", "channels", "subtype", "seconds", "fps"), [
    (16000, 1, "PCM_16", 13.009438, 25),   # the embedded sample's length
    (16000, 1, "PCM_16", 1.0171, 60),      # 60 fps: one frame is 16.7 ms
    (44100, 2, "PCM_16", 2.3333, 30),
    (96000, 2, "PCM_24", 1.5, 25),         # 96 kHz stereo
    (48000, 8, "PCM_24", 1.2, 25),         # 8 channels, 24 bit: downmixed to stereo
    (22050, 1, "FLOAT", 0.05, 25),         # a 50 ms clip
])
def test_audio_length_and_start_in_every_reader(
        tmp_path: Path, ffmpeg_binary: str, rate: int, channels: int, subtype: str,
        seconds: float, fps: float) -> None:
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    wav = tmp_path / "in.wav"
    sf.write(wav, np.repeat((0.3 * np.sin(2 * np.pi * 300 * t))[:, None], channels, 1),
             rate, subtype=subtype)
    duration = n / rate
    out = _encode(tmp_path, wav, fps, duration)
    for reader in _readers():
        got = _decoded_seconds(reader, out)
        assert abs(got - duration) < 1 / fps, (reader, got, duration)
        # exactly the whole AAC frames chosen for this length, in every reader
        assert got == pytest.approx(aac_samples(duration) / 48000, abs=1e-3), reader
    info = probe(out)
    assert info.sample_rate == 48000
    assert info.audio_channels == ("mono" if channels == 1 else "stereo")
    assert stream_start(out, "a") == 0.0 and stream_start(out, "v") == 0.0


def test_duration_measured_when_not_given(tmp_path: Path, ffmpeg_binary: str) -> None:
    wav = tmp_path / "in.flac"
    sf.write(wav, np.zeros(16000 * 2 + 123, np.float32), 16000)
    out = _encode(tmp_path, wav, 25, (16000 * 2 + 123) / 16000)
    assert abs(audio_duration(out) - (2 + 123 / 16000)) < 1 / 25


def test_binary_keywords(monkeypatch: pytest.MonkeyPatch) -> None:
    finders = (("system", ffmpeg_bin.system_ffmpeg), ("bundled", ffmpeg_bin.bundled_ffmpeg))
    for kind, find in finders:
        monkeypatch.setenv("TALKCLI_FFMPEG", kind)
        ffmpeg_bin.ffmpeg_exe.cache_clear()
        try:
            expected = find()
            if expected is None:
                with pytest.raises(EnvironmentProblem, match=kind):
                    ffmpeg_bin.ffmpeg_exe()
            else:
                assert ffmpeg_bin.ffmpeg_exe() == expected
                assert "ffmpeg version" in ffmpeg_bin.ffmpeg_version()
        finally:
            ffmpeg_bin.ffmpeg_exe.cache_clear()


def test_system_keyword_without_system_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("TALKCLI_FFMPEG", "system")
    ffmpeg_bin.ffmpeg_exe.cache_clear()
    try:
        with pytest.raises(EnvironmentProblem, match="no ffmpeg on PATH"):
            ffmpeg_bin.ffmpeg_exe()
    finally:
        ffmpeg_bin.ffmpeg_exe.cache_clear()
