"""`talkcli render` and `talkcli demo`: options -> RenderRequest -> pipeline, Rich progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import typer

from talkcli.cli.app import app, err_console, guarded, out_console
from talkcli.cli.terminal import sigterm_as_interrupt, stderr_is_tty
from talkcli.pipeline import (
    PIPELINE_CHUNK_FRAMES,
    ProgressCallback,
    RenderRequest,
    RenderResult,
    render_video,
)
from talkcli.timing import DEFAULT_FPS, DEFAULT_SIZE


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[ProgressCallback | None]:
    """A Rich progress bar on stderr (frames, fps, ETA) when enabled, else no callback."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=None, rate="")

        def update(done: int, total: int) -> None:
            speed = bar.tasks[task].speed
            bar.update(task, completed=done, total=total,
                       rate=f"{speed:5.1f} fps" if speed else "")

        yield update



def _run(request: RenderRequest, quiet: bool, as_json: bool, label: str) -> RenderResult:
    show_bar = stderr_is_tty() and not quiet and not as_json
    with sigterm_as_interrupt(), _progress(show_bar, label) as callback:
        result = render_video(request, callback)
    if not quiet:
        for note in result.warnings:
            err_console.print(f"[yellow]warning:[/] {note}")
    if as_json:
        # Exactly one JSON object on stdout, nothing else there.
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        sys.stdout.flush()
    elif not quiet:
        t = result.timings
        out_console.print(
            f"wrote {result.output} ({result.frames} frames, {result.width}x{result.height}, "
            f"{result.fps:g} fps, {result.duration_s:.2f} s) in {result.elapsed_s:.1f} s "
            f"({result.frames_per_second:.1f} frames/s on {result.device}; "
            f"first frame {t.first_frame_s:.2f} s)",
            markup=False,
        )
    return result


_FPS_HELP = "Output frame rate."
_KEY_HELP = "C2PA signing key (PEM; or $TALKCLI_SIGN_KEY). Default: talkcli's own, untrusted."
_CERT_HELP = "C2PA certificate chain (PEM; or $TALKCLI_SIGN_CERT), with --sign-key."
_SIZE_HELP = "Output size: the square side (face) or the longest side (portrait)."


@app.command()
@guarded
def render(
    portrait: Path = typer.Argument(..., help="Portrait image (PNG, JPEG, ...).",
                                    show_default=False),
    audio: Path = typer.Argument(..., help="Speech recording (WAV, MP3, M4A, a video, ...).",
                                 show_default=False),
    output: Path = typer.Option(..., "--output", "-o", help="Output MP4 path.",
                                show_default=False),
    preset: str | None = typer.Option(None, "--preset", help="Preset name or YAML file."),
    overrides: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                        help="Override one preset key (repeatable)."),
    transcript: Path | None = typer.Option(None, "--transcript",
                                           help="Text of the speech (better lip sync)."),
    motion: Path | None = typer.Option(None, "--motion",
                                       help="Render this motion .npz instead of generating."),
    fps: float = typer.Option(DEFAULT_FPS, "--fps", help=_FPS_HELP),
    size: int = typer.Option(DEFAULT_SIZE, "--size", help=_SIZE_HELP),
    framing: str = typer.Option("face", "--framing", help="face (square crop) | portrait."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    seed: int = typer.Option(0, "--seed", help="Random seed for blinks, gaze and idle motion."),
    face_index: int | None = typer.Option(None, "--face-index",
                                          help="Which face when there are several (0 = largest)."),
    chunk_frames: int = typer.Option(PIPELINE_CHUNK_FRAMES, "--chunk-frames", hidden=True),
    sign_key: Path | None = typer.Option(None, "--sign-key", help=_KEY_HELP),
    sign_cert: Path | None = typer.Option(None, "--sign-cert", help=_CERT_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Render PORTRAIT speaking AUDIO into an MP4."""
    request = RenderRequest(
        portrait=portrait, audio=audio, output=output, preset=preset,
        overrides=tuple(overrides), transcript=transcript, motion=motion, fps=fps, size=size,
        framing=framing, device=device, seed=seed, overwrite=overwrite, face_index=face_index,
        chunk_frames=chunk_frames, sign_key=sign_key, sign_cert=sign_cert,
    )
    _run(request, quiet, as_json, "rendering")


def sample_paths() -> tuple[Path, Path, Path]:
    """The embedded sample portrait, speech and transcript (as real files on disk)."""
    root = resources.files("talkcli.assets")
    return (Path(str(root / "portrait.png")), Path(str(root / "speech.wav")),
            Path(str(root / "speech.txt")))


@app.command()
@guarded
def demo(
    output: Path = typer.Option(Path("demo.mp4"), "--output", "-o", help="Output MP4 path."),
    preset: str | None = typer.Option(None, "--preset", help="Preset name or YAML file."),
    size: int = typer.Option(DEFAULT_SIZE, "--size", help=_SIZE_HELP),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    sign_key: Path | None = typer.Option(None, "--sign-key", help=_KEY_HELP),
    sign_cert: Path | None = typer.Option(None, "--sign-cert", help=_CERT_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Render the embedded sample portrait speaking the embedded sample clip."""
    portrait, speech, text = sample_paths()
    request = RenderRequest(
        portrait=portrait, audio=speech, output=output, preset=preset,
        transcript=text if text.is_file() else None, size=size, device=device,
        overwrite=overwrite, sign_key=sign_key, sign_cert=sign_cert,
    )
    _run(request, quiet, as_json, "demo")
