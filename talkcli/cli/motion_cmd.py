"""`talkcli motion AUDIO -o MOTION.npz`: speech -> per-frame motion latents (DESIGN §4)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import typer

from talkcli.cli.app import app, err_console, guarded
from talkcli.errors import EnvironmentProblem, InvalidInputError, UsageError
from talkcli.outputs import check_writable_dir, os_reason
from talkcli.timing import DEFAULT_FPS, MAX_FPS, MIN_FPS, SAMPLE_RATE


def read_transcript(value: str | None) -> str | None:
    """--transcript: a text file (or, if no such file and it does not look like a path, the
    text itself)."""
    if value is None:
        return None
    p = Path(value)
    if p.is_file():
        try:
            return p.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InvalidInputError(f"cannot read transcript {p}: {exc}") from None
    if p.is_dir():
        raise InvalidInputError(f"transcript path is a directory: {p}")
    if "/" in value or value.lower().endswith(".txt"):
        raise InvalidInputError(f"transcript file not found: {p}")
    return value


def check_output(path: Path, overwrite: bool, suffix: str) -> None:
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists; pass --overwrite to replace it")
    if path.is_dir():
        raise UsageError(f"output {path} is a directory")
    if path.suffix.lower() != suffix:
        raise UsageError(f"output {path} must end in {suffix}")
    check_writable_dir(path.parent)  # exit 3 (DESIGN §3), before any work


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call write(file_object) on a temp file next to `path`, then rename into place."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot write in the output directory {path.parent}: {os_reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except OSError as exc:
        # a full disk, a quota, the folder removed meanwhile: the environment (exit 5)
        raise EnvironmentProblem(f"cannot write {path}: {os_reason(exc)}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@app.command()
@guarded
def motion(
    audio: Path = typer.Argument(..., help="Speech audio (WAV, FLAC, OGG, MP3, M4A, a video...)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output .npz (DESIGN §4)."),
    preset: str = typer.Option(None, "--preset", help="Preset name or YAML file."),
    set_: list[str] = typer.Option([], "--set", help="Override one preset key: KEY=VALUE."),
    transcript: str = typer.Option(None, "--transcript", help="Text file with the words."),
    fps: float = typer.Option(DEFAULT_FPS, "--fps", help="Frames per second."),
    seed: int = typer.Option(0, "--seed", help="Seed for head motion, blinks and gaze."),
    plot: Path = typer.Option(None, "--plot", help="Also write an overview PNG."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Turn speech into per-frame motion latents (.npz) and optionally a plot."""
    from talkcli.audio.io import load_audio
    from talkcli.config import load_preset
    from talkcli.motion.generator import MotionGenerator
    from talkcli.motion.latent import CHANNELS, MotionTrack
    from talkcli.pipeline import PIPELINE_CHUNK_FRAMES

    started = time.perf_counter()
    if not MIN_FPS <= fps <= MAX_FPS:
        raise UsageError(f"--fps must be between {MIN_FPS} and {MAX_FPS}, got {fps:g}")
    check_output(output, overwrite, ".npz")
    if plot is not None:
        check_output(plot, overwrite, ".png")
    cfg = load_preset(preset, set_)
    text = read_transcript(transcript)
    samples = load_audio(audio)
    gen = MotionGenerator(cfg, fps=fps, seed=seed)
    # The model `render` uses (the online one without a transcript), in the chunks it uses:
    # `motion` then `render --motion` gives what `render` gives.
    values = np.concatenate(list(gen.stream_incremental(
        samples, transcript=text, chunk_frames=PIPELINE_CHUNK_FRAMES)))
    track = MotionTrack(fps=fps, values=values, channels=CHANNELS)
    # the whole-clip analysis only for what reports it (the plot's panels, --json's phones)
    analysis = gen.analyse(samples, text) if (plot is not None or json_out) else None

    def write_npz(fh: BinaryIO) -> None:
        np.savez(fh, fps=np.float32(track.fps), channels=np.array(track.channels),
                 values=track.values.astype(np.float32))

    atomic_write(output, write_npz)
    if plot is not None:
        from talkcli.motion.plot import plot_motion

        tmp_plot = plot.with_name(f".{plot.name}.tmp.png")
        try:
            assert analysis is not None
            plot_motion(tmp_plot, samples, track, analysis)
            from talkcli.provenance import finalize_image  # provenance: metadata + C2PA
            from talkcli.provenance.credentials import SOURCE_PLOT

            finalize_image(tmp_plot, "motion plot", SOURCE_PLOT, [("audio", audio)],
                           title=plot.name)
            os.replace(tmp_plot, plot)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot write {plot}: {os_reason(exc)}") from None
        finally:
            if tmp_plot.exists():
                tmp_plot.unlink()
    elapsed = time.perf_counter() - started
    duration = samples.shape[0] / SAMPLE_RATE
    if json_out and analysis is not None:
        typer.echo(json.dumps({
            "output": str(output), "frames": track.frames, "fps": fps,
            "duration_s": round(duration, 3), "channels": list(track.channels),
            "preset": cfg.name, "seed": seed, "transcript": text is not None,
            "phones": sum(1 for p in analysis.phones if p.phone != "sil"),
            "plot": str(plot) if plot is not None else None, "elapsed_s": round(elapsed, 3),
        }))
    elif not quiet:
        err_console.print(f"wrote {output}: {track.frames} frames at {fps:g} fps "
                          f"({duration:.2f} s of audio) in {elapsed:.1f} s")
