"""`talkcli verify FILE`: which talkcli marks a video or image carries (exit 0 / 6 / 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from talkcli.cli.app import app, guarded, out_console
from talkcli.errors import EXIT_NO_MARK


def _c2pa_text(c: dict[str, Any]) -> str:
    if not c.get("found"):
        return "none" + (f" ({c['error']})" if c.get("error") else "")
    signer = c.get("signer") or {}
    who = f"{signer.get('common_name')} / {signer.get('issuer')}"
    trust = ("trusted signer" if c.get("trusted") else
             "signer NOT trusted: talkcli's own local key, identifies no one"
             if signer.get("talkcli_local") else "signer not on a trust list")
    broken = [str(f) for f in c.get("failures", []) if f != "signingCredential.untrusted"]
    lines = [("valid" if c.get("valid") else "INVALID (" + ", ".join(broken) + ")")
             + f" - signed by {who}; {trust}"]
    lines += [f"{a['action']}: {a.get('digital_source_type') or '-'}"
              for a in c.get("actions", [])]
    lines.append("generator: " + ", ".join(c.get("claim_generator", [])))
    if c.get("render_id"):
        lines.append(f"render id: {c['render_id']}")
    for ing in c.get("ingredients", []):
        lines.append(f"input {ing.get('role')}: {ing.get('name')} sha256 "
                     f"{str(ing.get('sha256'))[:16]}…")
    return "\n".join(lines)


def _watermark_text(w: dict[str, Any]) -> str:
    head = "found" if w["found"] else "not found"
    text = (f"{head}: z = {w['z']:.1f} (threshold {w['threshold']}), "
            f"p = {w['p_value']:.2g}, {w['frames_used']} frame(s)")
    if w.get("payload"):
        p = w["payload"]
        text += f"\npayload: {p['tool']} {p['version']}, render id {p['render_id']}"
    elif w["found"]:
        text += f"\npayload unreadable (weakest peak z = {w['payload_z']:.1f})"
    return text


def _print_table(report: dict[str, Any]) -> None:
    verdict = ("[bold red]synthetic: made by talkcli[/]" if report["synthetic"]
               else "[green]no talkcli mark found[/] (which does not prove it is real)")
    table = Table(show_header=True, header_style="bold",
                  title=f"{report['file']} ({report['kind']})")
    table.add_column("mark")
    table.add_column("found")
    table.add_column("details")
    meta = report["metadata"]
    table.add_row("container metadata", "yes" if meta["found"] else "no",
                  "\n".join(f"{k}: {v}" for k, v in meta.get("tags", {}).items()) or "-")
    c2pa = report["c2pa"]
    table.add_row("C2PA manifest", "yes" if c2pa.get("found") else "no", _c2pa_text(c2pa))
    wm = report["watermark"]
    table.add_row("pixel watermark", "yes" if wm["found"] else "no", _watermark_text(wm))
    out_console.print(table, markup=True)
    out_console.print(verdict, markup=True)


@app.command()
@guarded
def verify(
    file: Path = typer.Argument(..., help="A video or image to check.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="Print nothing: the exit code says (0 mark, 6 none)."),
) -> None:
    """Check a video or image for talkcli's marks: metadata, C2PA manifest, watermark.

    Exit 0 when a talkcli mark is found, 6 when none is, 3 when the file is unreadable."""
    from talkcli.provenance.verify import verify_file

    report = verify_file(file)
    if as_json:
        typer.echo(json.dumps(report))
    elif not quiet:
        _print_table(report)
    if not report["synthetic"]:
        raise typer.Exit(EXIT_NO_MARK)
