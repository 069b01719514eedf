"""`talkcli stream`: the DESIGN §3 contract through CliRunner and real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from talkcli.cli import app
from talkcli.timing import SAMPLE_RATE, frame_count
from talkcli.video.ffmpeg_bin import ffmpeg_exe

SIZE = 64
FRAME_BYTES = SIZE * SIZE * 3
TALKCLI = [sys.executable, "-m", "talkcli"]


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory: pytest.TempPathFactory, sample_speech_path: Path) -> Path:
    audio, sr = sf.read(sample_speech_path, dtype="float32")
    path = tmp_path_factory.mktemp("stream") / "short.wav"
    sf.write(path, audio[: 2 * sr], sr)
    return path


def _probe(path: Path) -> dict[str, object]:
    ffprobe = str(Path(ffmpeg_exe()).with_name("ffprobe"))
    if not Path(ffprobe).exists():
        pytest.skip("ffprobe not available")
    out = subprocess.run([ffprobe, "-v", "error", "-show_streams", "-count_frames", "-of",
                          "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_rgb24_file_and_stats(tmp_path: Path, sample_portrait_path: Path,
                              short_wav: Path) -> None:
    out, stats = tmp_path / "o.rgb", tmp_path / "s.json"
    r = CliRunner().invoke(app, ["stream", str(sample_portrait_path), "--audio", str(short_wav),
                                 "--format", "rgb24", "--size", str(SIZE), "-o", str(out),
                                 "--stats", str(stats), "--quiet", "--json"])
    assert r.exit_code == 0, r.output
    n = frame_count(2.0, 25)
    summary = json.loads(r.stdout)  # --json: one object on stdout, nothing else
    assert summary["frames"] == n and len(summary["render_id"]) == 6
    assert out.stat().st_size == n * FRAME_BYTES
    st = json.loads(stats.read_text())
    assert st["frames"] == n and st["dropped"] == 0
    assert {"achieved_fps", "latency_ms", "frame_interval_ms"} <= set(st)
    assert set(st["latency_ms"]) == {"p50", "p95", "max"}
    frames = np.fromfile(out, np.uint8).reshape(n, SIZE, SIZE, 3)
    assert np.abs(frames.astype(int) - frames[:1]).max() > 10  # it moves


def test_mpegts_file_has_h264_and_aac(tmp_path: Path, sample_portrait_path: Path,
                                      short_wav: Path) -> None:
    out = tmp_path / "o.ts"
    r = CliRunner().invoke(app, ["stream", str(sample_portrait_path), "--audio", str(short_wav),
                                 "--size", str(SIZE), "-o", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    streams = {s["codec_type"]: s for s in _probe(out)["streams"]}  # type: ignore[index]
    assert streams["video"]["codec_name"] == "h264"
    assert streams["audio"]["codec_name"] == "aac"
    # every frame, give or take the last one (ffprobe may not count a final partial packet)
    assert frame_count(2.0, 25) - 1 <= int(streams["video"]["nb_read_frames"]) <= 50


@pytest.mark.parametrize(("args", "code"), [
    (["--format", "webm"], 2),
    (["--input-format", "u8"], 2),
    (["--audio", "/nonexistent.wav"], 3),
    (["--size", "10"], 2),
    (["--json", "-o", "-"], 2),  # stdout is the stream itself
])
def test_bad_options(tmp_path: Path, sample_portrait_path: Path, args: list[str],
                     code: int) -> None:
    r = CliRunner().invoke(app, ["stream", str(sample_portrait_path), "-o",
                                 str(tmp_path / "x.ts"), *args])
    assert r.exit_code == code, r.output


def test_existing_output_needs_overwrite(tmp_path: Path, sample_portrait_path: Path,
                                         short_wav: Path) -> None:
    out = tmp_path / "o.ts"
    out.write_bytes(b"keep")
    r = CliRunner().invoke(app, ["stream", str(sample_portrait_path), "--audio", str(short_wav),
                                 "-o", str(out)])
    assert r.exit_code == 2 and out.read_bytes() == b"keep"


def _start(portrait: Path, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # SIGINT default in the child even when this run ignores it (a background job)
    return subprocess.Popen([*TALKCLI, "stream", str(portrait), "--size", str(SIZE),
                             "--quiet", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _read_frames(proc: subprocess.Popen[bytes], n: int, timeout: float = 120) -> bytes:
    assert proc.stdout is not None
    data = b""
    t0 = time.monotonic()
    while len(data) < n * FRAME_BYTES and time.monotonic() - t0 < timeout:
        chunk = proc.stdout.read1(n * FRAME_BYTES - len(data))  # type: ignore[attr-defined]
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.slow
def test_stdin_idle_then_speech_then_end(sample_portrait_path: Path,
                                         sample_speech_path: Path) -> None:
    """Idle frames flow before any audio; end of input ends the stream (exit 0)."""
    proc = _start(sample_portrait_path, "--audio", "-", "--format", "rgb24", "-o", "-")
    assert proc.stdin is not None
    idle = _read_frames(proc, 5)  # before a single byte of audio
    assert len(idle) == 5 * FRAME_BYTES
    audio, _ = sf.read(sample_speech_path, dtype="int16")
    # 1 s, faster than real time, then end of input
    rest, err = proc.communicate(audio[: SAMPLE_RATE].tobytes(), timeout=120)
    assert proc.returncode == 0, err.decode()
    assert len(rest) % FRAME_BYTES == 0  # whole frames and nothing else on stdout
    assert len(rest) // FRAME_BYTES >= 25  # the queued second was shown


@pytest.mark.slow
def test_malformed_stdin_is_exit_3(sample_portrait_path: Path) -> None:
    proc = _start(sample_portrait_path, "--audio", "-", "--format", "rgb24", "-o", "-")
    _, err = proc.communicate(b"\x01\x02\x03", timeout=120)  # 1.5 s16le samples
    assert proc.returncode == 3, err.decode()
    assert b"malformed input" in err


@pytest.mark.slow
def test_ctrl_c_is_130_and_output_is_playable(tmp_path: Path,
                                              sample_portrait_path: Path) -> None:
    out = tmp_path / "live.ts"
    proc = _start(sample_portrait_path, "--audio", "-", "-o", str(out))
    t0 = time.monotonic()
    while (not out.exists() or out.stat().st_size < 20_000) and time.monotonic() - t0 < 120:
        time.sleep(0.2)  # MPEG-TS packets appear as frames are made
    assert out.exists() and out.stat().st_size > 0
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)  # (closing stdin now no longer matters)
    assert proc.returncode == 130, err.decode()
    streams = {s["codec_type"]: s for s in _probe(out)["streams"]}  # type: ignore[index]
    assert int(streams["video"]["nb_read_frames"]) > 0


def test_file_streamed_moves_as_rendered(tmp_path: Path, sample_portrait_path: Path,
                                         sample_speech_path: Path) -> None:
    """A file streamed (no clock) gets the motion it gets rendered: the same seed and clip
    fingerprint in the motion's random streams, the audio pushed in render's blocks. The
    frames match but for render's H.264 (35.8 dB on the sample; the stream drew other head
    motion before, 18 dB, and other phone partials, 31 dB)."""
    size = 128
    raw = tmp_path / "s.rgb"
    r = CliRunner().invoke(app, ["stream", str(sample_portrait_path), "--audio",
                                 str(sample_speech_path), "--format", "rgb24", "--size",
                                 str(size), "-o", str(raw), "--quiet"])
    assert r.exit_code == 0, r.output
    mp4 = tmp_path / "r.mp4"
    r = CliRunner().invoke(app, ["render", str(sample_portrait_path), str(sample_speech_path),
                                 "--size", str(size), "-o", str(mp4), "--quiet"])
    assert r.exit_code == 0, r.output
    decoded = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(mp4), "-f", "rawvideo",
                              "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    rendered = np.frombuffer(decoded, np.uint8).reshape(-1, size, size, 3).astype(float)
    streamed = np.fromfile(raw, np.uint8).reshape(-1, size, size, 3).astype(float)
    n = min(len(rendered), len(streamed))
    assert len(rendered) == len(streamed)
    mse = float(((rendered[:n] - streamed[:n]) ** 2).mean())
    assert 10 * np.log10(255.0**2 / mse) > 33.0


def test_mpegts_writer_keeps_every_frame(tmp_path: Path) -> None:
    """Each frame written is in the MPEG-TS, in order: the first one too (`-fflags nobuffer`
    on the raw inputs used to drop it, so a streamed file was one frame short and behind)."""
    from talkcli.video.stream_writer import MpegTsWriter

    out = tmp_path / "w.ts"
    writer = MpegTsWriter(str(out), 64, 64, 25)
    for i in range(10):
        writer.write(np.full((64, 64, 3), i * 25, np.uint8), np.zeros(640, np.float32))
    writer.close()
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(out), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, 64, 64, 3)
    assert [int(round(f[..., 0].mean() / 25)) for f in frames] == list(range(10))
