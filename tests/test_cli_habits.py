"""One CLI habit everywhere (issue 7): every command takes -q/--quiet and --json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer
from typer.testing import CliRunner

from talkcli.cli import app

runner = CliRunner()


def _commands() -> dict[str, object]:
    group = typer.main.get_command(app)
    return dict(group.commands)  # type: ignore[attr-defined]


def test_every_command_has_quiet_and_json() -> None:
    commands = _commands()
    assert {"render", "demo", "motion", "inspect", "presets", "doctor"} <= set(commands)
    for name, cmd in commands.items():
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}  # type: ignore[attr-defined]
        assert {"-q", "--quiet"} <= opts, name
        assert "--json" in opts, name


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, sample_speech_path: Path) -> Path:
    data, sr = sf.read(sample_speech_path, dtype="float32")
    path = tmp_path_factory.mktemp("habits") / "clip.wav"
    sf.write(path, data[: sr], sr)
    return path


def test_motion_quiet_and_json(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "m.npz"
    quiet = runner.invoke(app, ["motion", str(clip), "-o", str(out), "--quiet"])
    assert quiet.exit_code == 0 and quiet.output == "" and out.is_file()
    short = runner.invoke(app, ["motion", str(clip), "-o", str(out), "-q", "--overwrite"])
    assert short.exit_code == 0 and short.output == ""
    data = json.loads(runner.invoke(app, ["motion", str(clip), "-o", str(out), "-q", "--json",
                                          "--overwrite"]).stdout)
    assert data["frames"] == 25 and data["output"] == str(out)
    # errors still speak when quiet
    again = runner.invoke(app, ["motion", str(clip), "-o", str(out), "-q"])
    assert again.exit_code == 2 and "overwrite" in again.stderr


def test_inspect_quiet(sample_portrait_path: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(sample_portrait_path), "-q"])
    assert result.exit_code == 0 and result.output == ""
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(blank)
    nofaces = runner.invoke(app, ["inspect", str(blank), "--quiet"])
    assert nofaces.exit_code == 4 and nofaces.stderr.startswith("error:")


def test_doctor_quiet_and_json() -> None:
    quiet = runner.invoke(app, ["doctor", "-q"])
    assert quiet.exit_code == 0 and quiet.output == ""
    data = json.loads(runner.invoke(app, ["doctor", "--json"]).stdout)
    assert data["ok"] is True
    names = {row["check"] for row in data["checks"]}
    assert {"talkcli", "ffmpeg", "device"} <= names


def test_doctor_json_reports_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    from talkcli.video import ffmpeg_bin

    monkeypatch.setenv("TALKCLI_FFMPEG", "/nonexistent/ffmpeg")
    ffmpeg_bin.ffmpeg_exe.cache_clear()
    try:
        result = runner.invoke(app, ["doctor", "--json"])
        quiet = runner.invoke(app, ["doctor", "--quiet"])
    finally:
        ffmpeg_bin.ffmpeg_exe.cache_clear()
    assert result.exit_code == 5 and json.loads(result.stdout)["ok"] is False
    assert quiet.exit_code == 5 and quiet.output == ""


def test_presets_quiet_and_json(tmp_path: Path) -> None:
    listing = json.loads(runner.invoke(app, ["presets", "--json"]).stdout)
    assert any(p["name"] == "natural" and p["default"] for p in listing)
    one = json.loads(runner.invoke(app, ["presets", "natural", "--json"]).stdout)
    assert one["name"] == "natural" and "intensity" in one["head"]
    assert runner.invoke(app, ["presets", "-q"]).output == ""
    bad = tmp_path / "bad.yaml"
    bad.write_text("head: {intensity: 99}\n")
    result = runner.invoke(app, ["presets", str(bad), "-q"])
    assert result.exit_code == 3 and "head.intensity" in result.stderr
