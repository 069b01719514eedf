"""Provenance of a rendered MP4: all three marks, an independent C2PA reader, and the
watermark after the listed transformations (ffmpeg, metadata stripped)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from talkcli.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()
CROP = "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2"  # 10% off every side, even sizes

# name -> ffmpeg options; the output is re-encoded (libx264 crf 23 unless stated), no audio.
TRANSFORMS = {
    "reencode_crf30": ["-c:v", "libx264", "-crf", "30"],
    "scale_1080": ["-vf", "scale=1080:1080"],
    "scale_down_0.75": ["-vf", "scale=192:192"],  # the clip is 256²: 512² → 256² is 0.5
    "crop_10pct_each_side": ["-vf", CROP],
    "crop_10pct_rescaled": ["-vf", CROP + ",scale=256:256"],
    "excerpt_3s": ["-ss", "0.6", "-t", "3"],
    "greyscale": ["-vf", "format=gray,format=yuv420p"],
    "brightness_+10": ["-vf", "eq=brightness=0.1"],
    "brightness_-10": ["-vf", "eq=brightness=-0.1"],
    "contrast_+10": ["-vf", "eq=contrast=1.1"],
    "contrast_-10": ["-vf", "eq=contrast=0.9"],
    "blur_sigma1": ["-vf", "gblur=sigma=1"],
}


def _ffmpeg(*args: str) -> None:
    from talkcli.video.ffmpeg_bin import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    *args], check=True)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, sample_portrait_path: Path,
             sample_speech_path: Path) -> Iterator[tuple[Path, Path]]:
    """A 4 s render of the sample at 256² (its own config folder for the signing key)."""
    import soundfile as sf

    from talkcli.pipeline import RenderRequest, render_video

    folder = tmp_path_factory.mktemp("prov_video")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(folder / "config"))
        mp.delenv("TALKCLI_SIGN_KEY", raising=False)
        mp.delenv("TALKCLI_SIGN_CERT", raising=False)
        audio, rate = sf.read(sample_speech_path)
        speech = folder / "speech4s.wav"
        sf.write(speech, audio[: 4 * rate], rate)
        out = folder / "talk.mp4"
        render_video(RenderRequest(portrait=sample_portrait_path, audio=speech, output=out,
                                   size=256))
        yield out, speech


def test_rendered_mp4_carries_all_three_marks(rendered, sample_portrait_path: Path) -> None:  # noqa: ANN001
    out, speech = rendered
    result = runner.invoke(app, ["verify", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["synthetic"] and report["kind"] == "video"
    assert report["metadata"]["found"]
    c2pa, wm = report["c2pa"], report["watermark"]
    assert c2pa["found"] and c2pa["valid"] and not c2pa["trusted"]
    assert wm["found"] and wm["payload_valid"] and wm["p_value"] < 1e-6
    # One render id, in both the manifest and the pixels.
    assert wm["payload"]["render_id"] == c2pa["render_id"]
    roles = {i["role"]: i["name"] for i in c2pa["ingredients"]}
    assert roles == {"portrait": sample_portrait_path.name, "audio": speech.name}


def test_an_independent_c2pa_reader_shows_the_manifest(rendered,  # noqa: ANN001
                                                       sample_portrait_path: Path) -> None:
    import hashlib

    import c2pa

    out, speech = rendered
    with c2pa.Reader(str(out)) as reader:
        manifest = reader.get_active_manifest()
        state = reader.get_validation_state()
    assert state in ("Valid", "Trusted")
    assert manifest["claim_generator_info"][0]["name"] == "talkcli"
    actions = [a for x in manifest["assertions"] if x["label"].startswith("c2pa.actions")
               for a in x["data"]["actions"]]
    assert actions[0]["action"] == "c2pa.created"
    assert actions[0]["digitalSourceType"] == (
        "http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic")
    ids = {i["title"]: i["instance_id"] for i in manifest["ingredients"]}
    assert ids[sample_portrait_path.name] == (
        "sha256:" + hashlib.sha256(sample_portrait_path.read_bytes()).hexdigest())
    assert ids[speech.name] == "sha256:" + hashlib.sha256(speech.read_bytes()).hexdigest()
    # By hash only: no ingredient carries a thumbnail of the portrait.
    assert all("thumbnail" not in i for i in manifest["ingredients"])


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_watermark_survives_video_transformations(rendered, tmp_path: Path, name: str) -> None:  # noqa: ANN001
    from talkcli.provenance.verify import verify_file

    out, _ = rendered
    opts = TRANSFORMS[name]
    pre, rest = (opts[:4], opts[4:]) if opts[0] == "-ss" else ([], opts)
    codec = [] if "-c:v" in rest else ["-c:v", "libx264", "-crf", "23"]
    dst = tmp_path / f"{name}.mp4"
    _ffmpeg(*pre, "-i", str(out), "-map_metadata", "-1", "-map", "0:v:0", "-an", *rest,
            *codec, "-pix_fmt", "yuv420p", str(dst))
    report = verify_file(dst)
    assert not report["metadata"]["found"] and not report["c2pa"]["found"]  # stripped
    assert report["watermark"]["found"], f"{name}: z {report['watermark']['z']}"
    assert report["synthetic"]


@pytest.mark.parametrize("fmt", ["png", "jpeg_q75"])
def test_watermark_survives_a_single_frame_saved_as_image(rendered, tmp_path: Path,  # noqa: ANN001
                                                          fmt: str) -> None:
    out, _ = rendered
    png = tmp_path / "frame.png"
    _ffmpeg("-ss", "2", "-i", str(out), "-map_metadata", "-1", "-frames:v", "1", str(png))
    still = tmp_path / ("still.png" if fmt == "png" else "still.jpg")
    with Image.open(png) as img:
        img.convert("RGB").save(still, **({} if fmt == "png" else {"quality": 75}))
    result = runner.invoke(app, ["verify", str(still), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["watermark"]["found"] and not report["c2pa"]["found"]


def test_unmarked_clip_exits_6_and_a_corrupt_one_3(tmp_path: Path, sample_face_crop) -> None:  # noqa: ANN001
    from talkcli.video.ffmpeg_bin import ffmpeg_exe

    face = np.asarray(Image.fromarray(sample_face_crop[1]).resize((256, 256)))
    frames = np.stack([np.roll(face, t, axis=1) for t in range(25)])
    clip = tmp_path / "plain.mp4"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt",
                    "rgb24", "-s", "256x256", "-r", "25", "-i", "-", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(clip)], input=frames.tobytes(), check=True)
    proc = subprocess.run([sys.executable, "-m", "talkcli", "verify", str(clip), "--json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 6, proc.stderr
    assert json.loads(proc.stdout)["synthetic"] is False
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(clip.read_bytes()[:300])
    assert runner.invoke(app, ["verify", str(corrupt)]).exit_code == 3


def test_a_changed_byte_breaks_the_manifest_but_not_the_watermark(rendered, tmp_path: Path) -> None:  # noqa: ANN001,E501
    out, _ = rendered
    data = bytearray(out.read_bytes())
    data[len(data) - 5000] ^= 0xFF  # inside the media data
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    result = runner.invoke(app, ["verify", str(tampered), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["c2pa"]["found"] and not report["c2pa"]["valid"]
    assert "assertion.bmffHash.mismatch" in report["c2pa"]["failures"]
    assert report["watermark"]["found"]
    table = runner.invoke(app, ["verify", str(tampered)])
    assert "INVALID" in table.stdout
