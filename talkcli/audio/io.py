"""Audio input: any common file -> 16 kHz mono float32 (DESIGN §2, issue #3 part 1).

WAV/FLAC/OGG (and whatever else libsndfile reads) go through soundfile, block by block,
with a streaming resampler (soxr) so memory stays bounded; everything else (MP3, M4A/AAC,
Opus, the audio track of a video) is decoded by ffmpeg through a pipe as f32le 16 kHz
mono. Problems with the file are `InvalidInputError` (exit 3); a missing ffmpeg when
one is needed is `EnvironmentProblem` (exit 5).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from talkcli.errors import EnvironmentProblem, InvalidInputError
from talkcli.timing import SAMPLE_RATE

BLOCK_SECONDS = 30.0


def _check_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"audio file not found: {p}")
    if p.is_dir():
        raise InvalidInputError(f"audio path is a directory, not a file: {p}")
    if not os.access(p, os.R_OK):
        raise InvalidInputError(f"audio file is not readable: {p}")
    if p.stat().st_size == 0:
        raise InvalidInputError(f"audio file is empty (0 bytes): {p}")
    return p


def _iter_soundfile(p: Path, block_seconds: float) -> Iterator[np.ndarray] | None:
    """Blocks via soundfile, or None when libsndfile cannot open the file."""
    import soundfile as sf

    try:
        f = sf.SoundFile(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None

    def gen() -> Iterator[np.ndarray]:
        import soxr

        with f:
            sr = int(f.samplerate)
            if sr <= 0:
                raise InvalidInputError(f"audio file has an invalid sample rate: {p}")
            block = max(1024, int(block_seconds * sr))
            stream = None if sr == SAMPLE_RATE else soxr.ResampleStream(
                sr, SAMPLE_RATE, 1, dtype="float32", quality="HQ"
            )
            while True:
                try:
                    data = f.read(block, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as exc:
                    raise InvalidInputError(f"corrupt audio file {p}: {exc}") from None
                last = data.shape[0] < block
                # float64 sum: eight channels of large float samples must not overflow
                mono = data.mean(axis=1, dtype=np.float64).astype(np.float32) if data.size \
                    else np.zeros(0, np.float32)
                if stream is not None:
                    mono = stream.resample_chunk(mono, last=last)
                if mono.size:
                    yield np.ascontiguousarray(mono, dtype=np.float32)
                if last:
                    break

    return gen()


def _ffmpeg() -> str:
    from talkcli.video.ffmpeg_bin import ffmpeg_exe

    return ffmpeg_exe()


def _iter_ffmpeg(p: Path, block_seconds: float) -> Iterator[np.ndarray]:
    exe = _ffmpeg()
    cmd = [exe, "-nostdin", "-hide_banner", "-v", "error", "-i", str(p), "-map", "0:a:0",
           "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1"]
    block_bytes = int(block_seconds * SAMPLE_RATE) * 4
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                    stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot run ffmpeg ({exe}): {exc}") from None
        assert proc.stdout is not None
        carry = b""
        try:
            while True:
                buf = proc.stdout.read(block_bytes)
                if not buf:
                    break
                buf = carry + buf
                n = len(buf) // 4 * 4
                carry = buf[n:]
                if n:
                    yield np.frombuffer(buf[:n], dtype="<f4").astype(np.float32)
        finally:
            proc.stdout.close()
            rc = proc.wait()
        if rc != 0:
            err.seek(0)
            lines = err.read().decode("utf-8", "replace").strip().splitlines()
            msg = lines[-1] if lines else f"ffmpeg exited with {rc}"
            text = " ".join(lines).lower()
            if "matches no streams" in text or "does not contain any stream" in text:
                raise InvalidInputError(f"no audio stream in {p}")
            raise InvalidInputError(f"cannot decode audio file {p}: {msg}")


def iter_audio(path: str | os.PathLike[str],
               block_seconds: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """Yield consecutive 16 kHz mono float32 blocks of the file (bounded memory)."""
    p = _check_path(path)
    blocks = _iter_soundfile(p, block_seconds)
    if blocks is None:
        blocks = _iter_ffmpeg(p, block_seconds)
    for b in blocks:
        if not np.all(np.isfinite(b)):
            # Bad input, not a broken environment: refuse it here (exit 3) rather than let
            # the AAC encoder fail on it later (exit 5), or render silence where it was.
            bad = int(np.count_nonzero(~np.isfinite(b)))
            raise InvalidInputError(
                f"audio file {p} contains NaN, infinite or out-of-range samples ({bad} in "
                "one block): a corrupt float recording")
        yield np.clip(b, -1.0, 1.0, out=b) if b.flags.writeable else np.clip(b, -1.0, 1.0)


def _expected_samples(p: Path) -> int | None:
    import soundfile as sf

    try:
        info = sf.info(str(_check_path(p)))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None
    if info.frames <= 0 or info.samplerate <= 0:
        return None
    return int(np.ceil(info.frames * SAMPLE_RATE / info.samplerate))


def load_audio(path: str | os.PathLike[str]) -> np.ndarray:
    """The whole file as float32 mono at 16 kHz; InvalidInputError (exit 3) on bad input."""
    expected = _expected_samples(Path(path))
    if expected is not None:
        # fill one preallocated array: no second full-length copy for long files
        audio = np.empty(expected + SAMPLE_RATE, np.float32)
        n = 0
        for b in iter_audio(path):
            if n + b.shape[0] > audio.shape[0]:
                audio = np.concatenate([audio[:n], np.empty(b.shape[0] + SAMPLE_RATE,
                                                            np.float32)])
            audio[n : n + b.shape[0]] = b
            n += b.shape[0]
        audio = audio[:n].copy() if n < audio.shape[0] // 2 else audio[:n]
    else:
        blocks = list(iter_audio(path))
        audio = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    if audio.size == 0:
        raise InvalidInputError(f"audio file has no samples (zero length): {path}")
    return audio.astype(np.float32, copy=False)


def probe_duration(path: str | os.PathLike[str]) -> float:
    """Duration in seconds, without holding the decoded audio in memory."""
    import soundfile as sf

    p = _check_path(path)
    try:
        info = sf.info(str(p))
        if info.frames > 0 and info.samplerate > 0:
            return float(info.frames) / float(info.samplerate)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        pass
    n = sum(b.size for b in iter_audio(p))
    if n == 0:
        raise InvalidInputError(f"audio file has no samples (zero length): {p}")
    return n / SAMPLE_RATE
