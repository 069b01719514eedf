"""`talkcli presets [NAME]`: list the shipped presets, or print one as YAML."""

from __future__ import annotations

import typer
from rich.table import Table

from talkcli.cli.app import app, guarded, out_console
from talkcli.config import DEFAULT_PRESET, list_presets, preset_yaml


@app.command()
@guarded
def presets(
    name: str = typer.Argument(None, help="Preset name (or YAML path) to print."),
) -> None:
    """List motion presets, or print one as YAML (use with --preset / --set)."""
    if name:
        typer.echo(preset_yaml(name).rstrip("\n"))
        return
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("preset")
    table.add_column("description")
    for n, desc in list_presets():
        table.add_row(n + (" (default)" if n == DEFAULT_PRESET else ""), desc)
    out_console.print(table)
