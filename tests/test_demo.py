"""`talkcli demo`: the embedded sample rendered at the default size (the one full-size run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from talkcli.cli import app
from talkcli.cli.render_cmd import sample_paths
from talkcli.timing import DEFAULT_FPS, DEFAULT_SIZE, frame_count
from talkcli.video.encoder import SYNTHETIC_NOTICE
from talkcli.video.probe import probe, stream_start

runner = CliRunner()


def test_sample_assets_exist() -> None:
    for path in sample_paths():
        assert path.is_file(), path


@pytest.mark.slow  # the one default-size (512²) run: ~10 s idle, several times that when busy
def test_demo_renders_valid_video(tmp_path: Path, ffmpeg_binary: str) -> None:
    out = tmp_path / "demo.mp4"
    result = runner.invoke(app, ["demo", "-o", str(out), "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    speech = sample_paths()[1]
    duration = sf.info(speech).duration
    total = frame_count(duration, DEFAULT_FPS)
    assert data["frames"] == total
    info = probe(out)
    assert (info.video_codec, info.pix_fmt, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert (info.width, info.height) == (DEFAULT_SIZE, DEFAULT_SIZE)
    assert info.fps == DEFAULT_FPS and info.frames == total
    assert abs(info.audio_duration_s - duration) < 1 / DEFAULT_FPS
    assert abs(info.video_duration_s - duration) < 1 / DEFAULT_FPS
    assert stream_start(out, "a") == stream_start(out, "v") == 0.0
    assert info.tags.get("comment") == SYNTHETIC_NOTICE
    # A second run without --overwrite is refused (exit 2) and leaves the file alone.
    before = out.stat().st_mtime_ns
    again = runner.invoke(app, ["demo", "-o", str(out), "--quiet"])
    assert again.exit_code == 2 and out.stat().st_mtime_ns == before


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_demo_on_cuda(tmp_path: Path) -> None:
    out = tmp_path / "demo.mp4"
    result = runner.invoke(app, ["demo", "-o", str(out), "--device", "cuda", "--json",
                                 "--size", "256"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["device"].startswith("cuda")
    assert probe(out).frames == data["frames"]
