"""Hostile and odd inputs (issue 7): the exit-code contract of DESIGN §3, a one-line message,
no traceback, no partial output or temp file, bounded time. All media is made here.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from typer.testing import CliRunner

from talkcli.cli import app
from talkcli.errors import InvalidInputError
from talkcli.face.image import load_image
from talkcli.motion.io import load_motion
from talkcli.motion.latent import CHANNELS, neutral
from talkcli.video import ffmpeg_bin
from talkcli.video.probe import probe

runner = CliRunner()
TALKCLI = Path(sys.executable).parent / "talkcli"


# --------------------------------------------------------------------------- helpers
def _talkcli_files() -> set[str]:
    """Names anywhere talkcli could leave a temp file outside the output folder."""
    found: set[str] = set()
    for d in {Path(tempfile.gettempdir()), Path.cwd()}:
        found |= {p.name for p in d.iterdir() if "talkcli-" in p.name and
                  not p.name.startswith(("talkcli-fuzz-", "pytest"))}
    return found


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".talkcli-" in p.name
                  or p.name.endswith(".tmp"))


def _cli(*args: str):  # noqa: ANN202
    return runner.invoke(app, list(args))


def _assert_refused(result, code: int | tuple[int, ...], *words: str) -> None:  # noqa: ANN001
    codes = (code,) if isinstance(code, int) else code
    assert result.exit_code in codes, (result.exit_code, result.output)
    message = result.stderr.strip()
    assert message.startswith("error:") and "\n" not in message, message
    assert "Traceback" not in result.output
    for word in words:
        assert word.lower() in message.lower(), message


def _render(portrait: Path, audio: Path, out: Path, *extra: str):  # noqa: ANN202
    return _cli("render", str(portrait), str(audio), "-o", str(out), "--size", "64",
                "--device", "cpu", *extra)


@pytest.fixture(scope="module")
def speech_1s(tmp_path_factory: pytest.TempPathFactory, sample_speech_path: Path) -> Path:
    data, sr = sf.read(sample_speech_path, dtype="float32")
    path = tmp_path_factory.mktemp("audio") / "speech1s.wav"
    sf.write(path, data[int(0.5 * sr): int(1.5 * sr)], sr)
    return path


def _speech(sample_speech_path: Path, seconds: float, rate: int, channels: int
            ) -> np.ndarray:
    import soxr

    data, sr = sf.read(sample_speech_path, dtype="float32")
    clip = soxr.resample(data[int(0.5 * sr): int((0.5 + seconds) * sr)], sr, rate)
    return np.repeat(clip[:, None], channels, axis=1)


# --------------------------------------------------------------------------- motion files
class _Touch:
    """Unpickling this would create a file: proof whether anything from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.marker,))


def test_pickled_motion_file_is_refused_and_not_run(tmp_path: Path, sample_portrait_path: Path,
                                                    speech_1s: Path) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.npz"
    np.savez(bad, fps=np.float32(25), channels=np.array([_Touch(marker)], dtype=object),
             values=neutral(25))
    assert not marker.exists()
    with pytest.raises(InvalidInputError, match="pickled"):
        load_motion(bad)
    out = tmp_path / "o.mp4"
    result = _render(sample_portrait_path, speech_1s, out, "--motion", str(bad))
    _assert_refused(result, 3, "pickled")
    assert not marker.exists() and not out.exists() and _leftovers(tmp_path) == []
    # A raw pickle (not an .npz at all) is not unpickled either.
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps(_Touch(marker)))
    with pytest.raises(InvalidInputError):
        load_motion(raw)
    assert not marker.exists()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_motion_values_are_refused(tmp_path: Path, bad: float) -> None:
    values = neutral(30)
    values[10, CHANNELS.index("jaw_open")] = bad
    path = tmp_path / "m.npz"
    np.savez(path, fps=np.float32(25), channels=np.array(CHANNELS), values=values)
    with pytest.raises(InvalidInputError, match="NaN or infinity"):
        load_motion(path)
    np.savez(path, fps=np.float32(bad), channels=np.array(CHANNELS), values=neutral(30))
    with pytest.raises(InvalidInputError, match="fps"):
        load_motion(path)


def test_motion_zip_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    """A compressed .npz claiming a huge array is refused before anything is inflated."""
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 16)})
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("values.npy", "w") as f:
            f.write(b"\x93NUMPY\x01\x00" + header.getvalue()[8:])
            f.write(bytes(1 << 20))
        zf.writestr("fps.npy", b"")
    t0 = time.perf_counter()
    with pytest.raises(InvalidInputError, match="GB"):
        load_motion(path)
    assert time.perf_counter() - t0 < 10


# --------------------------------------------------------------------------- audio
def test_nan_audio_is_invalid_input_not_environment(tmp_path: Path, sample_portrait_path: Path,
                                                    speech_1s: Path) -> None:
    data, sr = sf.read(speech_1s, dtype="float32")
    data[sr // 2: sr // 2 + 10] = np.nan
    data[100] = np.inf
    bad = tmp_path / "nan.wav"
    sf.write(bad, data, sr, subtype="FLOAT")
    out = tmp_path / "o.mp4"
    _assert_refused(_render(sample_portrait_path, bad, out), 3, "NaN")
    assert not out.exists() and _leftovers(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize(("rate", "channels", "subtype", "seconds"), [
    (48000, 8, "PCM_24", 0.6),    # 8 channels, 24 bit
    (96000, 2, "PCM_16", 0.6),    # 96 kHz stereo
    (16000, 1, "PCM_16", 0.05),   # a 50 ms clip: 2 frames
], ids=["8ch-24bit", "96k-stereo", "50ms"])
def test_odd_audio_renders(tmp_path: Path, sample_portrait_path: Path, sample_speech_path: Path,
                           rate: int, channels: int, subtype: str, seconds: float) -> None:
    wav = tmp_path / "odd.wav"
    sf.write(wav, _speech(sample_speech_path, seconds, rate, channels), rate, subtype=subtype)
    out = tmp_path / "o.mp4"
    result = _render(sample_portrait_path, wav, out, "--json")
    assert result.exit_code == 0, result.output
    duration = sf.info(wav).duration
    info = probe(out)
    assert info.frames == max(1, int(np.ceil(round(duration * 25, 6))))
    assert info.audio_duration_s is not None and abs(info.audio_duration_s - duration) < 1 / 25
    assert info.audio_channels == ("mono" if channels == 1 else "stereo")


@pytest.mark.slow
def test_wav_header_claiming_more_data_than_the_file(tmp_path: Path, sample_portrait_path: Path,
                                                     sample_speech_path: Path) -> None:
    full = tmp_path / "full.wav"
    sf.write(full, _speech(sample_speech_path, 2.0, 16000, 1), 16000, subtype="PCM_16")
    raw = full.read_bytes()
    data_at = raw.index(b"data") + 8
    assert struct.unpack("<I", raw[data_at - 4: data_at])[0] == 2 * 16000 * 2  # claims 2 s
    cut = tmp_path / "cut.wav"
    cut.write_bytes(raw[: data_at + 16000])  # ...but holds 0.5 s
    out = tmp_path / "o.mp4"
    result = _render(sample_portrait_path, cut, out, "--json")
    assert result.exit_code == 0, result.output
    info = probe(out)
    # What the file holds is rendered: 0.5 s, not the 2 s the header promises.
    assert info.frames == 13
    assert info.audio_duration_s is not None and abs(info.audio_duration_s - 0.5) < 1 / 25


# --------------------------------------------------------------------------- images
@pytest.fixture(scope="module")
def portrait_rgb(sample_portrait_path: Path) -> np.ndarray:
    return load_image(sample_portrait_path)


def test_cmyk_jpeg_gif_rgba_load_and_find_the_face(tmp_path: Path,
                                                    portrait_rgb: np.ndarray) -> None:
    img = Image.fromarray(portrait_rgb)
    cmyk = tmp_path / "cmyk.jpg"
    img.convert("CMYK").save(cmyk, quality=95)
    assert Image.open(cmyk).mode == "CMYK"
    gif = tmp_path / "anim.gif"
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, portrait_rgb.shape,
                                                              dtype=np.uint8))
    img.save(gif, save_all=True, append_images=[noise, noise], duration=100, loop=0)
    rgba = tmp_path / "rgba.png"
    alpha = np.full(portrait_rgb.shape[:2], 255, np.uint8)
    alpha[:20] = 0  # a transparent band at the top
    Image.fromarray(np.dstack([portrait_rgb, alpha]), "RGBA").save(rgba)
    for path in (cmyk, gif, rgba):
        loaded = load_image(path)
        assert loaded.shape == portrait_rgb.shape and loaded.dtype == np.uint8
        # the same picture (JPEG/GIF palettes are lossy); for the GIF: the first frame
        assert np.abs(loaded[40:].astype(int) - portrait_rgb[40:]).mean() < 12, path
        result = _cli("inspect", str(path), "--json")
        assert result.exit_code == 0, (path, result.output)
    assert (load_image(rgba)[:20] == 255).all()  # transparency composited on white


@pytest.mark.parametrize("size", [(1, 4000), (4000, 1)], ids=["1x4000", "4000x1"])
def test_strip_image_is_refused(tmp_path: Path, speech_1s: Path, size: tuple[int, int]) -> None:
    strip = tmp_path / "strip.png"
    Image.new("RGB", size, (150, 120, 100)).save(strip)
    out = tmp_path / "o.mp4"
    _assert_refused(_render(strip, speech_1s, out), (3, 4))
    assert not out.exists() and _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- presets
def test_yaml_python_tag_is_refused_and_not_run(tmp_path: Path, speech_1s: Path) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.yaml"
    bad.write_text(f"head: !!python/object/apply:os.system ['touch {marker}']\n")
    for args in (("presets", str(bad)),
                 ("motion", str(speech_1s), "-o", str(tmp_path / "m.npz"), "--preset", str(bad))):
        _assert_refused(_cli(*args), 3, "python/object")
    assert not marker.exists()


def _alias_bomb(levels: int = 9) -> str:
    """A one-line YAML flow list whose last item expands to 10**levels leaves (billion
    laughs): cheap to parse (shared references), endless to print or walk."""
    items = ["&b0 [" + ", ".join(["1"] * 10) + "]"]
    items += [f"&b{i} [" + ", ".join([f"*b{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "[" + ", ".join(items) + "]"


@pytest.mark.parametrize("where", ["top", "head.intensity", "description", "emotion.name"])
def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path, speech_1s: Path,
                                            where: str) -> None:
    bomb = _alias_bomb()
    text = {"top": f"lol: {bomb}\n", "head.intensity": f"head:\n  intensity: {bomb}\n",
            "description": f"description: {bomb}\n",
            "emotion.name": f"emotion:\n  name: {bomb}\n"}[where]
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    t0 = time.perf_counter()
    result = _cli("presets", str(path))
    _assert_refused(result, 3)
    assert len(result.stderr) < 400
    _assert_refused(_cli("motion", str(speech_1s), "-o", str(tmp_path / "m.npz"),
                         "--preset", str(path)), 3)
    assert time.perf_counter() - t0 < 30


def test_alias_bomb_in_a_set_value(tmp_path: Path, speech_1s: Path) -> None:
    t0 = time.perf_counter()
    result = _cli("motion", str(speech_1s), "-o", str(tmp_path / "m.npz"),
                  "--set", f"head.intensity={_alias_bomb()}")
    _assert_refused(result, 3, "head.intensity")
    assert len(result.stderr) < 400 and time.perf_counter() - t0 < 30


# --------------------------------------------------------------------------- transcripts
def test_binary_transcript(tmp_path: Path, sample_portrait_path: Path, speech_1s: Path) -> None:
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    out = tmp_path / "o.mp4"
    t0 = time.perf_counter()
    _assert_refused(_render(sample_portrait_path, speech_1s, out, "--transcript", str(garbage)),
                    3, "transcript")
    assert not out.exists()
    result = _cli("motion", str(speech_1s), "-o", str(tmp_path / "m.npz"), "--transcript",
                  str(garbage), "--quiet")  # motion reads it leniently: no words in it
    assert result.exit_code == 0, result.output
    assert time.perf_counter() - t0 < 120


@pytest.mark.slow
def test_megabyte_transcript_is_bounded(tmp_path: Path, sample_speech_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text(("the quick brown fox jumps over the lazy dog " * 24000)[:1_000_000])
    t0 = time.process_time()
    result = _cli("motion", str(sample_speech_path), "-o", str(tmp_path / "m.npz"),
                  "--transcript", str(big), "--json")
    assert result.exit_code == 0, result.output
    # was 59 s of CPU (144 s wall) aligning 200k words to 13 s of speech
    assert time.process_time() - t0 < 30


def test_oversized_transcript_render_is_exit_3(tmp_path: Path, sample_portrait_path: Path,
                                               speech_1s: Path) -> None:
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"word " * (1024 * 1024))  # 5 MB
    _assert_refused(_render(sample_portrait_path, speech_1s, tmp_path / "o.mp4",
                            "--transcript", str(huge)), 3, "transcript")


# --------------------------------------------------------------------------- outputs
def test_unwritable_output_directory(tmp_path: Path, sample_portrait_path: Path,
                                     speech_1s: Path) -> None:
    before = _talkcli_files()
    _assert_refused(_render(sample_portrait_path, speech_1s, Path("/proc/x.mp4")), 3, "/proc")
    _assert_refused(_cli("motion", str(speech_1s), "-o", "/proc/x.npz"), 3, "/proc")
    _assert_refused(_cli("inspect", str(sample_portrait_path), "-o", "/proc/x.png"), 3, "/proc")
    assert not Path("/proc/x.mp4").exists()
    assert _talkcli_files() - before == set()


def _fill_to(directory: Path, free_bytes: int) -> None:
    st = os.statvfs(directory)
    spare = st.f_bavail * st.f_frsize - free_bytes
    if spare > 0:
        with open(directory / "filler", "wb") as f:
            f.write(bytes(spare))


@pytest.fixture()
def small_disk(tmp_path: Path):  # noqa: ANN201
    """A 1 MB tmpfs, almost full (needs root and mount; skipped elsewhere)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()[:100]}")
    try:
        _fill_to(mnt, 24 * 1024)
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _assert_clean_disk_full(result, out: Path) -> None:  # noqa: ANN001
    _assert_refused(result, (3, 5))
    message = result.stderr.lower()
    assert "no space left" in message or "file too large" in message, message
    assert not out.exists() and _leftovers(out.parent) == []


@pytest.mark.slow
def test_disk_full_during_render_tmpfs(small_disk: Path, sample_portrait_path: Path,
                                       sample_speech_path: Path) -> None:
    out = small_disk / "o.mp4"
    before = _talkcli_files()
    result = _cli("render", str(sample_portrait_path), str(sample_speech_path), "-o", str(out),
                  "--size", "256", "--device", "cpu")
    _assert_clean_disk_full(result, out)
    assert _talkcli_files() - before == set()


@pytest.mark.slow
def test_disk_full_during_render_file_size_limit(tmp_path: Path, sample_portrait_path: Path,
                                                 sample_speech_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Without root: ffmpeg under a 64 kB file-size limit fails its writes as a full disk
    would (EFBIG instead of ENOSPC)."""
    wrapper = tmp_path / "ffmpeg-small-disk"
    wrapper.write_text(f"#!/bin/sh\ntrap '' XFSZ\nulimit -f 64\nexec {ffmpeg_bin.ffmpeg_exe()} "
                       '"$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("TALKCLI_FFMPEG", str(wrapper))
    ffmpeg_bin.ffmpeg_exe.cache_clear()
    try:
        out = tmp_path / "o.mp4"
        result = _cli("render", str(sample_portrait_path), str(sample_speech_path), "-o",
                      str(out), "--size", "256", "--device", "cpu")
    finally:
        ffmpeg_bin.ffmpeg_exe.cache_clear()
    _assert_clean_disk_full(result, out)


def test_no_traceback_in_a_real_process(tmp_path: Path, speech_1s: Path) -> None:
    bad = tmp_path / "evil.yaml"
    bad.write_text("head: !!python/name:os.system\n")
    done = subprocess.run([str(TALKCLI), "motion", str(speech_1s), "-o", str(tmp_path / "m.npz"),
                           "--preset", str(bad)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stdout == ""
