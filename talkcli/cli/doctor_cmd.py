"""`talkcli doctor`: versions, ffmpeg, torch device, models verified."""

from __future__ import annotations

import json
import platform
from importlib import metadata

import typer
from rich.table import Table

from talkcli import __version__
from talkcli.cli.app import app, guarded, out_console
from talkcli.errors import EXIT_ENVIRONMENT, EnvironmentProblem

_PACKAGES = ("torch", "numpy", "ai-edge-litert", "pocketsphinx", "librosa", "soundfile",
             "pillow", "typer", "rich", "ffmpeg-python", "imageio-ffmpeg")


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _checks() -> list[tuple[str, str, bool]]:
    import torch

    from talkcli.face.models import verify_all
    from talkcli.video.ffmpeg_bin import ffmpeg_exe, ffmpeg_version

    rows: list[tuple[str, str, bool]] = [
        ("talkcli", __version__, True),
        ("python", platform.python_version(), True),
    ]
    rows += [(name, _package_version(name), _package_version(name) != "not installed")
             for name in _PACKAGES]
    try:
        rows.append(("ffmpeg", f"{ffmpeg_exe()} ({ffmpeg_version()})", True))
    except EnvironmentProblem as exc:
        rows.append(("ffmpeg", str(exc), False))
    cuda = torch.cuda.is_available()
    gpu = torch.cuda.get_device_name(0) if cuda else "no CUDA GPU (CPU will be used)"
    rows.append(("device", f"{'cuda' if cuda else 'cpu'}: {gpu}", True))
    rows += [(f"model {name}", status, status == "ok") for name, status in verify_all().items()]
    return rows


@app.command()
@guarded
def doctor(
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="Print nothing; the exit code says it (0 ok, 5 problems)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Check the installation: versions, ffmpeg, torch device, model checksums."""
    rows = _checks()
    ok = all(good for _, _, good in rows)
    if as_json:
        typer.echo(json.dumps({"ok": ok, "checks": [
            {"check": name, "result": value, "ok": good} for name, value, good in rows]}))
    elif not quiet:
        _print_table(rows, ok)
    if not ok:
        raise typer.Exit(EXIT_ENVIRONMENT)


def _print_table(rows: list[tuple[str, str, bool]], ok: bool) -> None:
    table = Table(show_header=True, header_style="bold")
    table.add_column("check")
    table.add_column("result")
    table.add_column("ok")
    for name, value, good in rows:
        table.add_row(name, value, "[green]yes[/]" if good else "[red]NO[/]")
    out_console.print(table)
    if not ok:
        out_console.print("[red]problems found[/] (see the rows marked NO)")
    else:
        out_console.print("[green]all checks passed[/]")
