"""`talkcli inspect`: summary, --json, overlay, exit codes (3 bad file, 4 no face, 5 models)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from talkcli.cli import app
from talkcli.face import models
from talkcli.face.runner import clear_runners

runner = CliRunner()


def test_summary(sample_portrait_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(sample_portrait_path)])
    assert result.exit_code == 0, result.output
    for word in ("512 x 512", "1 found", "yaw", "pitch", "roll", "interocular", "face height"):
        assert word in result.stdout


def test_json_is_one_object(sample_portrait_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(sample_portrait_path), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["faces_found"] == 1 and info["width"] == 512
    assert abs(info["yaw"]) < 6 and 95 < info["face_height_px"] < 120
    assert len(info["box"]) == 4


def test_overlay_written(sample_portrait_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "overlay.png"
    result = runner.invoke(app, ["inspect", str(sample_portrait_path), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["overlay"] == str(out)
    drawn = np.asarray(Image.open(out).convert("RGB"))
    original = np.asarray(Image.open(sample_portrait_path).convert("RGB"))
    assert drawn.shape == original.shape
    changed = np.any(drawn != original, axis=2)
    assert changed[70:190, 170:280].mean() > 0.2      # drawing on the face
    assert changed[300:, :].mean() < 0.01            # and nowhere else
    # An existing overlay is kept unless --overwrite.
    again = runner.invoke(app, ["inspect", str(sample_portrait_path), "-o", str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.output
    forced = runner.invoke(app, ["inspect", str(sample_portrait_path), "-o", str(out),
                                 "--overwrite"])
    assert forced.exit_code == 0, forced.output


@pytest.mark.parametrize("kind", ["missing", "directory", "text", "empty"])
def test_bad_files_exit_3(tmp_path: Path, kind: str) -> None:
    path = {"missing": tmp_path / "gone.png", "directory": tmp_path}.get(kind, tmp_path / "x.png")
    if kind == "text":
        path.write_text("not an image")
    elif kind == "empty":
        path.write_bytes(b"")
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 3, result.output
    assert result.stdout == ""


def test_no_face_exits_4(tmp_path: Path) -> None:
    path = tmp_path / "flat.png"
    Image.new("RGB", (320, 240), (120, 140, 160)).save(path)
    result = runner.invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 4
    assert "no face found" in result.output and result.stdout == ""


def test_tiny_face_exits_4(sample_portrait_path: Path, tmp_path: Path) -> None:
    small = Image.open(sample_portrait_path).convert("RGB").resize((200, 200))
    canvas = Image.new("RGB", (400, 400), (160, 160, 160))
    canvas.paste(small, (100, 100))
    path = tmp_path / "tiny.png"
    canvas.save(path)
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 4
    assert "too small" in result.output and "px" in result.output


def test_face_index_out_of_range(sample_portrait_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(sample_portrait_path), "--face-index", "3"])
    assert result.exit_code == 4 and "1 face found" in result.output


def test_several_faces_noted_on_stderr(sample_portrait_path: Path, tmp_path: Path) -> None:
    img = Image.open(sample_portrait_path).convert("RGB")
    two = Image.new("RGB", (1024, 512), (200, 200, 200))
    two.paste(img, (0, 0))
    two.paste(img.resize((384, 384)), (576, 64))
    path = tmp_path / "two.png"
    two.save(path)
    result = runner.invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["faces_found"] == 2
    assert "2 faces found" in result.stderr


@pytest.fixture
def tampered_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    copy = tmp_path / "models"
    shutil.copytree(models.models_dir(), copy)
    target = copy / models.FACE_MESH
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))

    def reset() -> None:
        models._verified.cache_clear()
        models.expected_checksums.cache_clear()
        clear_runners()

    monkeypatch.setattr(models, "models_dir", lambda: copy)
    reset()
    yield copy
    monkeypatch.undo()
    reset()


def test_tampered_model_exits_5(sample_portrait_path: Path, tampered_models: Path) -> None:
    result = runner.invoke(app, ["inspect", str(sample_portrait_path)])
    assert result.exit_code == 5, result.output
    assert "corrupt or modified" in result.output


def test_installed_console_script(sample_portrait_path: Path) -> None:
    exe = shutil.which("talkcli") or str(Path(sys.executable).parent / "talkcli")
    if not Path(exe).exists():
        pytest.skip("talkcli console script not installed")
    proc = subprocess.run([exe, "inspect", str(sample_portrait_path), "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["faces_found"] == 1 and info["portrait"] == str(sample_portrait_path)


def test_inspect_and_motion_do_not_load_torch(sample_portrait_path: Path,
                                              sample_speech_path: Path, tmp_path: Path) -> None:
    """Only rendering needs torch: importing it took 1.0-1.5 s of inspect's 2.4 s (framing
    pulled it in through the margin fill)."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from talkcli.cli import app\n"
        "runner = CliRunner()\n"
        f"for args in (['inspect', {str(sample_portrait_path)!r}, '-o', "
        f"{str(tmp_path / 'o.png')!r}],\n"
        f"             ['motion', {str(sample_speech_path)!r}, '-o', "
        f"{str(tmp_path / 'm.npz')!r}]):\n"
        "    result = runner.invoke(app, args)\n"
        "    assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in ('torch', 'cv2', 'scipy') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "o.png").exists() and (tmp_path / "m.npz").exists()
