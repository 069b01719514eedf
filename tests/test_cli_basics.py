"""The CLI skeleton: version, help, doctor, the exit-code mapping for unexpected errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from talkcli import __version__
from talkcli.cli.app import app, guarded
from talkcli.errors import InvalidInputError

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"talkcli {__version__}"


def test_unknown_command_is_usage_error() -> None:
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code == 2


def test_doctor_passes_here() -> None:
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "all checks passed" in result.stdout


def test_doctor_reports_missing_ffmpeg(monkeypatch) -> None:
    from talkcli.video import ffmpeg_bin

    monkeypatch.setenv("TALKCLI_FFMPEG", "/nonexistent/ffmpeg")
    ffmpeg_bin.ffmpeg_exe.cache_clear()
    try:
        result = runner.invoke(app, ["doctor"])
    finally:
        ffmpeg_bin.ffmpeg_exe.cache_clear()
    assert result.exit_code == 5
    assert "ffmpeg" in result.stdout


def _probe_app() -> typer.Typer:
    probe = typer.Typer()

    @probe.command()
    @guarded
    def boom(kind: str) -> None:
        if kind == "domain":
            raise InvalidInputError("bad file: x.png")
        raise RuntimeError("unexpected failure")

    return probe


def test_domain_error_maps_to_its_exit_code() -> None:
    result = runner.invoke(_probe_app(), ["domain"])
    assert result.exit_code == 3
    assert "bad file: x.png" in result.output
    assert "Traceback" not in result.output


def test_internal_error_is_one_line_without_debug(monkeypatch) -> None:
    monkeypatch.delenv("TALKCLI_DEBUG", raising=False)
    result = runner.invoke(_probe_app(), ["other"])
    assert result.exit_code == 1
    assert "internal error: RuntimeError: unexpected failure" in result.output
    assert "Traceback" not in result.output


def test_internal_error_traceback_with_debug_env(monkeypatch) -> None:
    monkeypatch.setenv("TALKCLI_DEBUG", "1")
    result = runner.invoke(_probe_app(), ["other"])
    assert result.exit_code == 1
    assert "Traceback" in result.output


def test_console_script_and_module_entry_points() -> None:
    script = Path(sys.executable).parent / "talkcli"
    for cmd in ([str(script), "--version"], [sys.executable, "-m", "talkcli", "--version"]):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"talkcli {__version__}"
