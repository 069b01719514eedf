"""`talkcli stream`: a live face from audio as it arrives (issue 10, DESIGN §3).

A thin layer over `talkcli.stream.Session`: an input thread pushes audio (raw PCM from
stdin as it arrives, or a file, paced in real time with --realtime), the main thread
writes each frame as the session emits it (rgb24 or MPEG-TS) and, at the end, the
--stats JSON. Exit codes: 0 at the end of input once the queued audio has been shown,
130 on Ctrl-C (the output is closed cleanly first), 3 for malformed input.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from talkcli.cli.app import app, err_console, guarded
from talkcli.cli.terminal import sigterm_as_interrupt
from talkcli.errors import InvalidInputError, UsageError
from talkcli.timing import DEFAULT_FPS, DEFAULT_SIZE, MAX_FPS, MAX_SIZE, MIN_FPS, MIN_SIZE

if TYPE_CHECKING:
    import numpy as np

FORMATS = ("mpegts", "rgb24")
INPUT_FORMATS = {"s16le": 2, "f32le": 4}
READ_BYTES = 4096  # stdin read size: small, so audio is pushed as soon as it arrives
PACE_S = 0.02  # --realtime pushes a file in 20 ms pieces on the wall clock


class _Input:
    """Feeds the session from stdin or a file in a daemon thread; remembers an error."""

    def __init__(self, session: object, audio: str, realtime: bool, fmt: str, rate: int,
                 channels: int, samples: np.ndarray | None = None) -> None:
        self.session = session
        self.audio, self.realtime = audio, realtime
        self.samples = samples  # a file input, decoded already
        self.fmt, self.rate, self.channels = fmt, rate, channels
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, name="talkcli-input", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        from talkcli.stream import Session

        s: Session = self.session  # type: ignore[assignment]
        try:
            if self.audio == "-":
                self._stdin(s)
            else:
                self._file(s)
        except InvalidInputError as exc:
            self.error = str(exc)
        except RuntimeError:  # pushed after close(): the stream was stopped
            return
        finally:
            if not s.queue.ended:
                s.end()

    def _stdin(self, s: object) -> None:
        from talkcli.stream import Session

        sess: Session = s  # type: ignore[assignment]
        unit = INPUT_FORMATS[self.fmt] * self.channels
        fd = sys.stdin.buffer.fileno()
        rest = b""
        while True:
            chunk = os.read(fd, READ_BYTES)
            if not chunk:
                break
            data = rest + chunk
            whole = len(data) - len(data) % unit
            rest = data[whole:]
            if whole:
                sess.push(data[:whole], self.rate, self.channels, self.fmt)
        if rest:
            raise InvalidInputError(
                f"malformed input: {len(rest)} trailing bytes do not make a whole "
                f"{self.fmt} sample frame of {self.channels} channel(s)")

    def _file(self, s: object) -> None:
        from talkcli.stream import Session
        from talkcli.timing import SAMPLE_RATE

        sess: Session = s  # type: ignore[assignment]
        assert self.samples is not None
        audio = self.samples
        if not self.realtime:
            sess.push(audio, SAMPLE_RATE)
            return
        step = int(PACE_S * SAMPLE_RATE)
        t0 = time.monotonic()
        for k, pos in enumerate(range(0, audio.shape[0], step)):
            delay = t0 + k * PACE_S - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sess.push(audio[pos:pos + step], SAMPLE_RATE)


def _freeze_heap() -> None:
    """Move everything the set-up allocated (torch, the models, the portrait) out of the
    garbage collector's view: its full collections would otherwise walk it all, a pause
    that can cost a frame on the wall clock (a 10-minute run dropped 2-5 of 15000)."""
    import gc

    gc.collect()
    gc.freeze()


def _file_audio(audio: str) -> tuple[np.ndarray | None, int]:
    """A file input decoded up front (a bad file is exit 3 before the session starts) and
    its fingerprint, which `render` mixes into the motion's random streams too: a file
    streamed gets the head motion and blinks it gets rendered. stdin: (None, 0)."""
    if audio == "-":
        return None, 0
    from talkcli.audio.io import load_audio
    from talkcli.motion.generator import audio_fingerprint

    samples = load_audio(Path(audio))
    return samples, audio_fingerprint(samples)


def _validate(audio: str, output: str, fmt: str, input_format: str, input_rate: int,
              input_channels: int, fps: float, size: int, overwrite: bool) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    if input_format not in INPUT_FORMATS:
        raise UsageError(f"--input-format must be s16le or f32le (got {input_format!r})")
    if not 1000 <= input_rate <= 384_000:
        raise UsageError(f"--input-rate must be between 1000 and 384000 (got {input_rate})")
    if not 1 <= input_channels <= 16:
        raise UsageError(f"--input-channels must be between 1 and 16 (got {input_channels})")
    if not MIN_FPS <= fps <= MAX_FPS:
        raise UsageError(f"--fps must be between {MIN_FPS} and {MAX_FPS} (got {fps:g})")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UsageError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} (got {size})")
    if audio != "-" and not Path(audio).is_file():
        raise InvalidInputError(f"audio file not found: {audio}")
    if output != "-":
        out = Path(output)
        if out.exists() and not overwrite:
            raise UsageError(f"output exists: {out}; pass --overwrite to replace it")
        if not out.parent.is_dir():
            raise InvalidInputError(f"output directory does not exist: {out.parent}")


def _write_stats(path: Path | None, stats: dict[str, object]) -> None:
    if path is None:
        return
    try:
        path.write_text(json.dumps(stats, indent=2) + "\n")
    except OSError as exc:
        raise InvalidInputError(f"cannot write --stats {path}: {exc}") from None


@app.command()
@guarded
def stream(
    portrait: Path = typer.Argument(..., help="Portrait image.", show_default=False),
    audio: str = typer.Option("-", "--audio", help="Audio file, or - for raw PCM on stdin."),
    input_format: str = typer.Option("s16le", "--input-format", help="stdin PCM: s16le|f32le."),
    input_rate: int = typer.Option(16000, "--input-rate", help="stdin PCM sample rate (Hz)."),
    input_channels: int = typer.Option(1, "--input-channels", help="stdin PCM channels."),
    output: str = typer.Option("-", "--output", "-o", help="Output file, or - for stdout."),
    fmt: str = typer.Option("mpegts", "--format", help="mpegts (H.264+AAC) | rgb24 (raw)."),
    realtime: bool = typer.Option(False, "--realtime", help="Pace a file input as if live."),
    fps: float = typer.Option(DEFAULT_FPS, "--fps", help="Output frame rate."),
    size: int = typer.Option(DEFAULT_SIZE, "--size", help="Output size (square side)."),
    framing: str = typer.Option("face", "--framing", help="face | portrait."),
    preset: str | None = typer.Option(None, "--preset", help="Preset name or YAML file."),
    overrides: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                        help="Override one preset key (repeatable)."),
    seed: int = typer.Option(0, "--seed", help="Random seed for blinks, gaze and idle motion."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    stats: Path | None = typer.Option(None, "--stats", help="Write frame/latency JSON here."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    as_json: bool = typer.Option(False, "--json",
                                 help="At the end print the stats as one JSON object on stdout "
                                      "(only with -o FILE: with -o - stdout is the stream)."),
) -> None:
    """Stream PORTRAIT speaking audio as it arrives: live frames on stdout or to a file."""
    if as_json and output == "-":
        raise UsageError("--json needs -o FILE: with -o - stdout carries the stream itself")
    _validate(audio, output, fmt, input_format, input_rate, input_channels, fps, size,
              overwrite)
    from talkcli.stream import Session
    from talkcli.video.stream_writer import MpegTsWriter, RawFrameWriter

    clock = audio == "-" or realtime
    with sigterm_as_interrupt():
        samples, fingerprint = _file_audio(audio)
        session = Session(portrait, preset=preset, size=size, fps=fps, framing=framing,
                          device=device, seed=seed, overrides=overrides, realtime=clock,
                          fingerprint=fingerprint)
        writer: RawFrameWriter | MpegTsWriter = (
            RawFrameWriter(output, session.width, session.height) if fmt == "rgb24"
            else MpegTsWriter(output, session.width, session.height, fps))
        feeder = _Input(session, audio, realtime, input_format, input_rate, input_channels,
                        samples)
        if not quiet:
            err_console.print(f"streaming {session.width}x{session.height} at {fps:g} fps "
                              f"({'wall clock' if clock else 'as fast as possible'})")
        feeder.start()
        _freeze_heap()
        try:
            _pump(session, writer, feeder)
        except KeyboardInterrupt:
            session.close()
            writer.abort()
            _write_stats(stats, session.stats.to_dict())
            raise
        except BaseException:
            session.close()
            writer.abort()
            raise
        writer.close()
        _write_stats(stats, session.stats.to_dict())
    if as_json:
        print(json.dumps({"output": output, "render_id": session.payload.render_id_hex,
                          **session.stats.to_dict()}))
    if not quiet:
        d = session.stats.to_dict()
        err_console.print(f"{d['frames']} frames, {d['dropped']} dropped, "
                          f"achieved {d['achieved_fps']} fps, latency {d['latency_ms']}")


def _pump(session: object, writer: object, feeder: _Input) -> None:
    from talkcli.stream import Session

    s: Session = session  # type: ignore[assignment]
    w = writer
    try:
        for frame in s.frames():
            if feeder.error is not None:
                break
            w.write(frame.image, frame.audio)  # type: ignore[attr-defined]
    except BrokenPipeError:
        # the reader went away (a player closed): stop quietly
        s.close()
        _silence_stdout()
        return
    if feeder.error is not None:
        raise InvalidInputError(feeder.error)


def _silence_stdout() -> None:
    """After a broken stdout pipe, point fd 1 at /dev/null so the exit flush is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)

