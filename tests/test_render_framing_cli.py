"""The framing as the CLI reports it: `inspect` and `render` say when a portrait was too tight
and what was done; `render --set head.distance` and a motion file's head_scale move the camera;
every dev portrait's tight crops are checked when the dev assets are present."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from test_render_framing import check_not_mirrored, tight_crop  # sibling test module
from typer.testing import CliRunner

from talkcli.cli import app
from talkcli.face.analyze import analyze_portrait, measure_face
from talkcli.face.image import load_image
from talkcli.motion.latent import CHANNELS, MotionTrack, index, neutral
from talkcli.pipeline import camera_distance

runner = CliRunner()


@pytest.fixture(scope="module")
def tight_png(tmp_path_factory: pytest.TempPathFactory, sample_portrait_path: Path) -> Path:
    image = load_image(sample_portrait_path)
    path = tmp_path_factory.mktemp("tight") / "tight.png"
    Image.fromarray(tight_crop(image, analyze_portrait(image), "left")).save(path)
    return path


@pytest.fixture(scope="module")
def silence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "silence.wav"
    sf.write(path, np.zeros(8000, dtype=np.float32), 16000)   # 0.5 s
    return path


def _decode_first(video: Path) -> np.ndarray:
    """The first frame of an MP4 through the project's ffmpeg (raw RGB on a pipe)."""
    import subprocess

    from talkcli.video.ffmpeg_bin import ffmpeg_exe
    from talkcli.video.probe import probe

    info = probe(video)
    w, h = int(info.width or 0), int(info.height or 0)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(video), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw[: w * h * 3], dtype=np.uint8).reshape(h, w, 3)


def test_inspect_reports_a_tight_portrait(tight_png: Path, sample_portrait_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(tight_png), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["framing"]["tight"] and info["framing"]["shrunk"]
    assert info["framing"]["fill_fraction"] == 0.0
    assert any("too tight" in w for w in info["warnings"])
    human = runner.invoke(app, ["inspect", str(tight_png)])
    assert human.exit_code == 0
    assert "too tight" in human.stderr and "face framing" in human.stdout
    fits = json.loads(runner.invoke(app, ["inspect", str(sample_portrait_path),
                                          "--json"]).stdout)
    assert fits["warnings"] == [] and not fits["framing"]["tight"]
    assert fits["framing"]["max_distance_without_fill"] > 1.5


@pytest.mark.slow
def test_render_warns_and_renders_the_tight_portrait(tight_png: Path, silence: Path,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "tight.mp4"
    result = runner.invoke(app, ["render", str(tight_png), str(silence), "-o", str(out),
                                 "--size", "256", "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert any("too tight" in w for w in data["warnings"])
    human = runner.invoke(app, ["render", str(tight_png), str(silence), "-o", str(out),
                                "--size", "256", "--device", "cpu", "--overwrite",
                                "--set", "head.distance=1.4"])
    assert human.exit_code == 0, human.output
    assert "too tight" in human.stderr and "never mirrored" in human.stderr


@pytest.mark.slow
def test_render_head_distance_moves_the_camera(sample_portrait_path: Path, silence: Path,
                                               tmp_path: Path) -> None:
    sizes = {}
    for d in (1.0, 1.4):
        out = tmp_path / f"d{d}.mp4"
        result = runner.invoke(app, ["render", str(sample_portrait_path), str(silence),
                                     "-o", str(out), "--size", "256", "--device", "cpu",
                                     "--quiet", "--set", f"head.distance={d}"])
        assert result.exit_code == 0, result.output
        m = measure_face(_decode_first(out))
        assert m is not None
        sizes[d] = m.interocular
    assert abs(sizes[1.4] / sizes[1.0] * 1.4 - 1.0) <= 0.10


def test_camera_distance_from_preset_and_motion_files() -> None:
    from talkcli.config import load_preset

    assert camera_distance(load_preset(None, ["head.distance=1.4"]), neutral(4)) == 1.4
    lat = neutral(8)
    # a motion file written at head.distance 1.4 (head_scale 1/1.4 with speech's small lean)
    lat[:, index("head_scale")] = (1 / 1.4) * (1 + 0.004 * np.sin(np.arange(8)))
    assert abs(camera_distance(None, lat) - 1.4) < 0.01
    lat[:, index("head_scale")] = 1.003     # only a lean: no camera move
    assert camera_distance(None, lat) == 1.0


@pytest.mark.slow
def test_render_motion_file_at_a_distance(sample_portrait_path: Path, silence: Path,
                                          tmp_path: Path) -> None:
    """An (old or new) motion file with head_scale 1/1.4 renders as the camera at 1.4: the
    frame is the framed portrait seen from farther, not a face shrunk over a still neck."""
    from talkcli.render.renderer import Renderer

    values = neutral(13)
    values[:, index("head_scale")] = 1 / 1.4
    motion = tmp_path / "far.npz"
    MotionTrack(fps=25.0, values=values, channels=CHANNELS).save(motion)
    out = tmp_path / "far.mp4"
    result = runner.invoke(app, ["render", str(sample_portrait_path), str(silence), "-o",
                                 str(out), "--motion", str(motion), "--size", "256",
                                 "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    frame = _decode_first(out).astype(float)
    rig = analyze_portrait(load_image(sample_portrait_path))
    ref = Renderer(rig, size=256, distance=1.4).framed.image * 255.0
    assert np.abs(frame - ref).mean() < 4.0     # H.264 at crf 20, nothing moved


@pytest.mark.slow
@pytest.mark.parametrize("side", ["left", "right"])
def test_dev_portrait_tight_crops(dev_assets: Path, side: str) -> None:
    from talkcli.render.renderer import Renderer

    for path in sorted((dev_assets / "portrait").iterdir()):
        image = load_image(path)
        crop = tight_crop(image, analyze_portrait(image), side)
        rig = analyze_portrait(crop)
        for d in (1.0, 1.4):
            r = Renderer(rig, size=256, distance=d, max_batch=1)
            lat = neutral(1)
            lat[0, index("head_scale")] = 1 / d
            try:
                check_not_mirrored(rig, r, r.render(lat)[0], fill_only=True)
            except AssertionError as exc:
                raise AssertionError(f"{path.name} {side} d={d}: {exc}") from exc
