"""`talkcli render`: the command-line contract (DESIGN §3) with real renders kept short."""

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
import torch
from PIL import Image
from typer.testing import CliRunner

from talkcli.cli import app
from talkcli.motion.latent import MotionTrack, neutral
from talkcli.timing import frame_count
from talkcli.video import ffmpeg_bin
from talkcli.video.encoder import SYNTHETIC_NOTICE
from talkcli.video.probe import probe

runner = CliRunner()
TALKCLI = Path(sys.executable).parent / "talkcli"


@pytest.fixture(scope="module")
def speech_1s(tmp_path_factory: pytest.TempPathFactory, sample_speech_path: Path) -> Path:
    data, sr = sf.read(sample_speech_path, dtype="float32")
    path = tmp_path_factory.mktemp("audio") / "speech1s.wav"
    sf.write(path, data[int(0.5 * sr): int(1.5 * sr)], sr)
    return path


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".talkcli-" in p.name)


def _render(portrait: Path, audio: Path, out: Path, *extra: str):  # noqa: ANN202
    return runner.invoke(app, ["render", str(portrait), str(audio), "-o", str(out),
                               "--size", "128", "--device", "cpu", *extra])


# --------------------------------------------------------------------------- real renders
def test_json_is_one_object_on_stdout(tmp_path: Path, sample_portrait_path: Path,
                                      speech_1s: Path) -> None:
    out = tmp_path / "out.mp4"
    result = _render(sample_portrait_path, speech_1s, out, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert isinstance(data, dict)
    total = frame_count(sf.info(speech_1s).duration, 25)
    assert data["output"] == str(out) and data["frames"] == total
    assert (data["width"], data["height"], data["fps"], data["device"]) == (128, 128, 25, "cpu")
    for key in ("duration_s", "elapsed_s", "timings"):
        assert key in data
    assert {"motion_s", "render_s", "encode_s", "first_frame_s"} <= set(data["timings"])
    info = probe(out)
    assert (info.video_codec, info.pix_fmt, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert (info.width, info.height, info.fps, info.frames) == (128, 128, 25, total)
    assert abs(info.audio_duration_s - sf.info(speech_1s).duration) < 1 / 25
    assert info.tags.get("comment") == SYNTHETIC_NOTICE
    assert _leftovers(tmp_path) == []


def test_quiet_prints_nothing_and_overwrite_rules(tmp_path: Path, sample_portrait_path: Path,
                                                  speech_1s: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old")
    refused = _render(sample_portrait_path, speech_1s, out, "--quiet")
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr
    assert out.read_bytes() == b"old"
    result = _render(sample_portrait_path, speech_1s, out, "--quiet", "--overwrite",
                     "--framing", "portrait", "--fps", "10")
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""
    info = probe(out)
    assert info.fps == 10 and max(info.width, info.height) <= 128
    assert info.width % 2 == 0 and info.height % 2 == 0
    assert info.frames == frame_count(sf.info(speech_1s).duration, 10)


def test_human_mode_summary_and_no_progress_without_tty(tmp_path: Path,
                                                        sample_portrait_path: Path,
                                                        speech_1s: Path) -> None:
    out = tmp_path / "out.mp4"
    result = _render(sample_portrait_path, speech_1s, out)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("wrote ") and result.stdout.count("\n") == 1
    assert result.stderr == ""  # no progress bar: stderr is not a terminal


def test_progress_on_a_terminal_goes_to_stderr(tmp_path: Path, sample_portrait_path: Path,
                                               speech_1s: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from talkcli.cli import render_cmd

    seen: list[tuple[int, int]] = []
    real = render_cmd.render_video

    def spy(request, callback):  # noqa: ANN001, ANN202
        if callback is None:
            return real(request, None)

        def wrapped(done: int, total: int) -> None:
            seen.append((done, total))
            callback(done, total)

        return real(request, wrapped)

    monkeypatch.setattr(render_cmd, "stderr_is_tty", lambda: True)
    monkeypatch.setattr(render_cmd, "render_video", spy)
    result = _render(sample_portrait_path, speech_1s, tmp_path / "o.mp4", "--json")
    assert result.exit_code == 0 and seen == []  # --json: never a bar
    result = _render(sample_portrait_path, speech_1s, tmp_path / "o2.mp4")
    assert result.exit_code == 0, result.output
    assert seen and seen[-1][0] == seen[-1][1]
    assert result.stdout.startswith("wrote ")  # the bar never touches stdout


def test_motion_file(tmp_path: Path, sample_portrait_path: Path, speech_1s: Path) -> None:
    motion = tmp_path / "m.npz"
    MotionTrack(fps=25, values=neutral(frame_count(sf.info(speech_1s).duration, 25))).save(
        motion)
    out = tmp_path / "out.mp4"
    result = _render(sample_portrait_path, speech_1s, out, "--motion", str(motion), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["frames"] == probe(out).frames


# --------------------------------------------------------------------------- errors
def test_missing_output_directory_is_exit_3(tmp_path: Path, sample_portrait_path: Path,
                                            speech_1s: Path) -> None:
    result = _render(sample_portrait_path, speech_1s, tmp_path / "nope" / "o.mp4")
    assert result.exit_code == 3 and "directory" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_cuda_without_gpu_is_exit_5(tmp_path: Path, sample_portrait_path: Path,
                                    speech_1s: Path) -> None:
    result = runner.invoke(app, ["render", str(sample_portrait_path), str(speech_1s), "-o",
                                 str(tmp_path / "o.mp4"), "--device", "cuda"])
    assert result.exit_code == 5 and "CUDA" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_ffmpeg_is_exit_5(tmp_path: Path, sample_portrait_path: Path, speech_1s: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKCLI_FFMPEG", "/nonexistent/ffmpeg")
    ffmpeg_bin.ffmpeg_exe.cache_clear()
    try:
        result = _render(sample_portrait_path, speech_1s, tmp_path / "o.mp4")
    finally:
        ffmpeg_bin.ffmpeg_exe.cache_clear()
    assert result.exit_code == 5 and "ffmpeg" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_bad_portrait_is_exit_3(tmp_path: Path, speech_1s: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    result = _render(bad, speech_1s, tmp_path / "o.mp4")
    assert result.exit_code == 3, result.output
    assert not (tmp_path / "o.mp4").exists() and _leftovers(tmp_path) == []


def test_no_face_is_exit_4(tmp_path: Path, speech_1s: Path) -> None:
    blank = tmp_path / "blank.png"
    ramp = np.linspace(0, 255, 256, dtype=np.uint8)
    Image.fromarray(np.stack([np.tile(ramp, (256, 1))] * 3, axis=2)).save(blank)
    result = _render(blank, speech_1s, tmp_path / "o.mp4")
    assert result.exit_code == 4, result.output
    assert not (tmp_path / "o.mp4").exists() and _leftovers(tmp_path) == []


def test_bad_audio_is_exit_3(tmp_path: Path, sample_portrait_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk" * 4)
    result = _render(sample_portrait_path, bad, tmp_path / "o.mp4")
    assert result.exit_code == 3, result.output
    assert not (tmp_path / "o.mp4").exists() and _leftovers(tmp_path) == []


def test_bad_option_values_are_exit_2(tmp_path: Path, sample_portrait_path: Path,
                                      speech_1s: Path) -> None:
    for extra in (["--fps", "0"], ["--size", "10"], ["--framing", "full"],
                  ["--device", "tpu"]):
        result = _render(sample_portrait_path, speech_1s, tmp_path / "o.mp4", *extra)
        assert result.exit_code == 2, (extra, result.output)


# --------------------------------------------------------------------------- real processes
def test_console_script_subprocess(tmp_path: Path, sample_portrait_path: Path,
                                   speech_1s: Path) -> None:
    out = tmp_path / "out.mp4"
    proc = subprocess.run(
        [str(TALKCLI), "render", str(sample_portrait_path), str(speech_1s), "-o", str(out),
         "--size", "128", "--device", "cpu", "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # not a terminal: no progress bar
    data = json.loads(proc.stdout)
    assert data["frames"] == probe(out).frames


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_exit_130_and_nothing_left(tmp_path: Path, sample_portrait_path: Path,
                                          signum: int) -> None:
    """Ctrl-C (and SIGTERM, as CI timeouts send) mid-render: exit 130, nothing left."""
    seconds = 60
    sr = 16000
    audio = tmp_path / "long.wav"
    t = np.arange(seconds * sr) / sr
    sf.write(audio, (0.2 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), sr)
    motion = tmp_path / "m.npz"
    MotionTrack(fps=25, values=neutral(seconds * 25)).save(motion)
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen(
        [str(TALKCLI), "render", str(sample_portrait_path), str(audio), "-o", str(out),
         "--motion", str(motion), "--size", "256", "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell that starts jobs in the background (as CI may) leaves SIGINT ignored, and
        # Python then installs no KeyboardInterrupt handler: give the child the default.
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + 60
        while not _leftovers(tmp_path) and proc.poll() is None:  # the encoder has started
            assert time.monotonic() < deadline, "the render never started encoding"
            time.sleep(0.05)
        time.sleep(0.5)
        assert proc.poll() is None, "finished before the interrupt; use a longer clip"
        os.kill(proc.pid, signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert not out.exists()
    assert _leftovers(tmp_path) == []
