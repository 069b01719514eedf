"""`talkcli motion`: outputs, --json, --plot, and the exit code of every bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from talkcli.cli import app
from talkcli.motion.io import load_motion
from talkcli.timing import SAMPLE_RATE, frame_count
from talkcli.video.ffmpeg_bin import ffmpeg_exe

runner = CliRunner()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, sample_speech_path: Path) -> Path:
    """3 s of the sample speech as 44.1 kHz stereo (exercises resampling + downmix)."""
    x, sr = sf.read(sample_speech_path, dtype="float32")
    x = x[: 3 * sr]
    p = tmp_path_factory.mktemp("cli") / "speech.wav"
    import soxr

    y = soxr.resample(x, sr, 44100)
    sf.write(p, np.stack([y, y], axis=1), 44100)
    return p


def _run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["motion", *args])


def test_motion_json_and_plot(tmp_path: Path, clip: Path) -> None:
    out, png = tmp_path / "m.npz", tmp_path / "m.png"
    r = _run(str(clip), "-o", str(out), "--plot", str(png), "--json", "--seed", "3")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["frames"] == frame_count(3.0, 25) and info["output"] == str(out)
    track = load_motion(out)
    assert track.frames == info["frames"]
    with np.load(out) as d:
        assert set(d.files) == {"fps", "channels", "values"}
        assert d["values"].dtype == np.float32
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "m.png"]  # no temp files


def test_refuses_overwrite(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "m.npz"
    out.write_bytes(b"keep")
    r = _run(str(clip), "-o", str(out))
    assert r.exit_code == 2 and "--overwrite" in r.output
    assert out.read_bytes() == b"keep"
    r = _run(str(clip), "-o", str(out), "--overwrite", "--fps", "30", "--preset", "calm",
             "--set", "head.intensity=0.2", "--transcript", "Hello my name is")
    assert r.exit_code == 0, r.output
    assert load_motion(out).fps == 30


def test_transcript_file(tmp_path: Path, clip: Path) -> None:
    txt = tmp_path / "t.txt"
    txt.write_text("Hello! My name is Eileen.")
    r = _run(str(clip), "-o", str(tmp_path / "m.npz"), "--transcript", str(txt))
    assert r.exit_code == 0, r.output
    r = _run(str(clip), "-o", str(tmp_path / "n.npz"), "--transcript", str(tmp_path / "no.txt"))
    assert r.exit_code == 3


def _bad_files(tmp: Path, clip: Path) -> dict[str, Path]:
    files = {"missing": tmp / "missing.wav", "directory": tmp}
    text = tmp / "text.wav"
    text.write_text("not audio\n" * 50)
    files["text"] = text
    trunc = tmp / "trunc.wav"
    trunc.write_bytes(clip.read_bytes()[:40])
    files["truncated"] = trunc
    zero = tmp / "zero.wav"
    sf.write(zero, np.zeros(0), SAMPLE_RATE)
    files["zero"] = zero
    empty = tmp / "empty.mp3"
    empty.write_bytes(b"")
    files["empty"] = empty
    vid = tmp / "noaudio.mp4"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=black:s=64x64:d=1", "-c:v", "mpeg4", str(vid)], check=True)
    files["noaudio"] = vid
    return files


def test_bad_audio_exit_3(tmp_path: Path, clip: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name, path in _bad_files(inputs, clip).items():
        out = tmp_path / f"{name}.npz"
        r = _run(str(path), "-o", str(out))
        assert r.exit_code == 3, (name, r.output)
        assert "error" in r.output
        assert not out.exists(), name
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("args, code, word", [
    (["--preset", "nope"], 3, "natural"),
    (["--set", "head.nope=1"], 3, "head.nope"),
    (["--set", "head.intensity=9"], 3, "head.intensity"),
    (["--set", "head.intensity"], 3, "KEY=VALUE"),
    (["--set", "emotion.name=bored"], 3, "emotion.name"),
    (["--fps", "0"], 2, "--fps"),
    (["--fps", "abc"], 2, ""),
])
def test_bad_options(tmp_path: Path, clip: Path, args: list[str], code: int, word: str) -> None:
    out = tmp_path / "m.npz"
    r = _run(str(clip), "-o", str(out), *args)
    assert r.exit_code == code, r.output
    assert word in r.output
    assert not out.exists()


def test_bad_output_paths(tmp_path: Path, clip: Path) -> None:
    assert _run(str(clip), "-o", str(tmp_path / "nodir" / "m.npz")).exit_code == 3
    assert _run(str(clip), "-o", str(tmp_path / "m.txt")).exit_code == 2
    assert _run(str(clip)).exit_code == 2  # -o is required


def test_motion_file_is_what_render_animates(tmp_path: Path, clip: Path) -> None:
    """`motion` then `render --motion` shows what `render` shows: the saved latents are the
    ones the render pipeline makes (the online model, in the pipeline's chunks)."""
    from talkcli.audio.io import load_audio
    from talkcli.config import load_preset
    from talkcli.motion.generator import MotionGenerator
    from talkcli.pipeline import PIPELINE_CHUNK_FRAMES

    out = tmp_path / "m.npz"
    r = _run(str(clip), "-o", str(out), "--seed", "5", "--preset", "calm")
    assert r.exit_code == 0, r.output
    gen = MotionGenerator(load_preset("calm", []), fps=25, seed=5)
    chunks = gen.stream_incremental(load_audio(clip), chunk_frames=PIPELINE_CHUNK_FRAMES)
    np.testing.assert_allclose(load_motion(out).values, np.concatenate(list(chunks)),
                               atol=1e-6)
