"""`talkcli inspect`: analyse a portrait's face, print a summary or JSON, draw an overlay."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from talkcli.cli.app import app, err_console, guarded, out_console
from talkcli.errors import EnvironmentProblem, InvalidInputError, UsageError
from talkcli.outputs import check_writable_dir, os_reason


def _summary(path: Path, rig: Any, elapsed_s: float) -> dict[str, Any]:
    from talkcli.render.framing import plan_framing

    pose = rig.pose
    plan = plan_framing(rig, "face")
    return {
        "portrait": str(path),
        "width": rig.width,
        "height": rig.height,
        "faces_found": rig.faces_found,
        "face_index": rig.face_index,
        "box": [round(float(v), 1) for v in rig.box],
        "score": round(float(rig.score), 3),
        "yaw": round(float(pose.yaw), 2),
        "pitch": round(float(pose.pitch), 2),
        "roll": round(float(pose.roll), 2),
        "face_height_px": round(float(rig.face_height), 1),
        "interocular_px": round(float(rig.interocular), 1),
        "iris_left": [round(float(v), 1) for v in rig.iris_left[0]],
        "iris_right": [round(float(v), 1) for v in rig.iris_right[0]],
        "framing": plan.to_dict(),       # the default face framing on this portrait
        "warnings": list(plan.notes),
        "elapsed_s": round(elapsed_s, 3),
    }


def _print_table(info: dict[str, Any], overlay: Path | None) -> None:
    table = Table(show_header=False, title=f"face analysis: {info['portrait']}")
    table.add_column("item", style="bold")
    table.add_column("value")
    x0, y0, x1, y1 = info["box"]
    rows = [
        ("image", f"{info['width']} x {info['height']} px"),
        ("faces", f"{info['faces_found']} found, using #{info['face_index']}"
                  + (" (largest)" if info["face_index"] == 0 else "")),
        ("face box", f"({x0:.0f}, {y0:.0f}) - ({x1:.0f}, {y1:.0f}) px"),
        ("detector score", f"{info['score']:.2f}"),
        ("pose", f"yaw {info['yaw']:+.1f}°  pitch {info['pitch']:+.1f}°  "
                 f"roll {info['roll']:+.1f}°"),
        ("face height", f"{info['face_height_px']:.0f} px"),
        ("interocular", f"{info['interocular_px']:.1f} px"),
        ("face framing", _framing_text(info["framing"])),
        ("time", f"{info['elapsed_s']:.2f} s"),
    ]
    if overlay is not None:
        rows.append(("overlay", str(overlay)))
    for name, value in rows:
        table.add_row(name, value)
    out_console.print(table)


def _framing_text(plan: dict[str, Any]) -> str:
    x0, y0, x1, y1 = plan["box"]
    text = f"({x0:.0f}, {y0:.0f}) - ({x1:.0f}, {y1:.0f}) px"
    if plan["shrunk"]:
        text += f", closer than wanted ({plan['wanted_side_px']:.0f} px): portrait too tight"
    far = plan["max_distance_without_fill"]
    return text + f"; head.distance up to {far:.2f} without edge fill"


def _check_overlay_path(path: Path, overwrite: bool) -> None:
    if path.suffix.lower() != ".png":
        raise UsageError(f"overlay must be a .png file: {path}")
    if not path.parent.is_dir():
        raise InvalidInputError(f"overlay folder does not exist: {path.parent}")
    if path.exists() and not overwrite:
        raise UsageError(f"{path} already exists (use --overwrite to replace it)")
    check_writable_dir(path.parent)


def _write_overlay(rig: Any, path: Path, portrait: Path) -> None:
    from talkcli.face.overlay import draw_overlay
    from talkcli.provenance import finalize_image
    from talkcli.provenance.credentials import SOURCE_OVERLAY

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        draw_overlay(rig).save(tmp, format="PNG")
        finalize_image(tmp, "face-analysis overlay", SOURCE_OVERLAY, [("portrait", portrait)],
                       title=path.name)  # provenance: text metadata + C2PA
        tmp.replace(path)  # no half-written overlay on failure
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write {path}: {os_reason(exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)


@app.command()
@guarded
def inspect(
    portrait: Path = typer.Argument(..., help="Portrait image (PNG, JPEG, WebP, BMP, TIFF)."),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Write an overlay PNG showing what was found."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    face_index: int | None = typer.Option(
        None, "--face-index", min=0, help="Which face to use if there are several (0 = largest)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing overlay file."),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="Print nothing but errors (the exit code says the result)."),
) -> None:
    """Find the face in a portrait: box, landmarks, head pose; optionally draw an overlay."""
    from talkcli.face.analyze import analyze_portrait
    from talkcli.face.image import load_image

    if output is not None:
        _check_overlay_path(output, overwrite)
    start = time.perf_counter()
    image = load_image(portrait)
    rig = analyze_portrait(image, face_index=face_index)
    if rig.faces_found > 1 and face_index is None and not quiet:
        err_console.print(f"note: {rig.faces_found} faces found; using the largest "
                          "(choose another with --face-index)")
    if output is not None:
        _write_overlay(rig, output, portrait)
    info = _summary(portrait, rig, time.perf_counter() - start)
    if output is not None:
        info["overlay"] = str(output)
    if as_json:
        # typer.echo, not Rich: exactly the JSON text, no wrapping or markup.
        typer.echo(json.dumps(info))
    elif not quiet:
        _print_table(info, output)
        for note in info["warnings"]:
            err_console.print(f"[yellow]warning:[/] {note}")
