"""`talkcli presets [NAME]`: list the shipped presets, or print one as YAML."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from talkcli.cli.app import app, guarded, out_console
from talkcli.config import DEFAULT_PRESET, list_presets, load_preset, preset_yaml


@app.command()
@guarded
def presets(
    name: str = typer.Argument(None, help="Preset name (or YAML path) to print."),
    as_json: bool = typer.Option(False, "--json",
                                 help="Print JSON: the list, or the preset's resolved values."),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="Print nothing; with NAME, exit 0 if it is valid, else 3."),
) -> None:
    """List motion presets, or print one as YAML (use with --preset / --set)."""
    if name:
        text = preset_yaml(name)  # validates it (exit 3 naming the bad key)
        if as_json:
            preset = load_preset(name)
            typer.echo(json.dumps({"name": preset.name, **preset.to_dict()}))
        elif not quiet:
            typer.echo(text.rstrip("\n"))
        return
    items = list_presets()
    if as_json:
        typer.echo(json.dumps([{"name": n, "description": d, "default": n == DEFAULT_PRESET}
                               for n, d in items]))
        return
    if quiet:
        return
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("preset")
    table.add_column("description")
    for n, desc in items:
        table.add_row(n + (" (default)" if n == DEFAULT_PRESET else ""), desc)
    out_console.print(table)
