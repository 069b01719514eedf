"""The pipeline's shape with a fast fake renderer: chunking, progress, validation, cleanup.

Real portraits, audio, motion and ffmpeg; only `Renderer` is replaced (a gradient painter),
so these tests are fast and independent of how the renderer draws. Real renders are in
test_cli_render.py.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from talkcli.errors import EnvironmentProblem, InvalidInputError, UsageError
from talkcli.motion.latent import CHANNELS, MotionTrack, index, neutral
from talkcli.pipeline import (
    FIRST_CHUNK_FRAMES,
    RenderRequest,
    conform_track,
    rechunk,
    render_video,
)
from talkcli.timing import frame_count
from talkcli.video import ffmpeg_bin
from talkcli.video.probe import probe


class FakeRenderer:
    instances: list[FakeRenderer] = []

    def __init__(self, rig: Any, size: int = 512, framing: str = "face", device: Any = None,
                 max_batch: int = 64, *, distance: float = 1.0) -> None:
        self.size = size
        self.max_batch = max_batch
        self.distance = distance
        self.framing_notes: tuple[str, ...] = ()
        self.batches: list[int] = []
        self.fail_at: int | None = None
        FakeRenderer.instances.append(self)

    @property
    def output_size(self) -> tuple[int, int]:
        return (self.size, self.size // 2 * 2)

    def render(self, latents: np.ndarray) -> np.ndarray:
        assert latents.dtype == np.float32 and latents.shape[1] == len(CHANNELS)
        assert latents.shape[0] <= self.max_batch
        if self.fail_at is not None and sum(self.batches) >= self.fail_at:
            raise RuntimeError("renderer exploded")
        self.batches.append(latents.shape[0])
        b, s = latents.shape[0], self.size
        frames = np.zeros((b, s, s, 3), np.uint8)
        frames[..., 0] = np.linspace(0, 255, s, dtype=np.uint8)[None, None, :]
        frames[..., 1] = (np.clip(latents[:, index("jaw_open")], 0, 1) * 255).astype(
            np.uint8)[:, None, None]
        return frames


@pytest.fixture()
def fake_renderer(monkeypatch: pytest.MonkeyPatch) -> type[FakeRenderer]:
    module = types.ModuleType("talkcli.render.renderer")
    module.Renderer = FakeRenderer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "talkcli.render.renderer", module)
    FakeRenderer.instances = []
    return FakeRenderer


@pytest.fixture(scope="module")
def short_speech(tmp_path_factory: pytest.TempPathFactory, sample_speech_path: Path) -> Path:
    data, sr = sf.read(sample_speech_path, dtype="float32")
    path = tmp_path_factory.mktemp("audio") / "short.wav"
    sf.write(path, data[: int(1.7 * sr)], sr)
    return path


def _request(portrait: Path, audio: Path, out: Path, **kw: Any) -> RenderRequest:
    kw.setdefault("size", 64)
    kw.setdefault("device", "cpu")
    return RenderRequest(portrait=portrait, audio=audio, output=out, **kw)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".talkcli-" in p.name)


def test_chunks_progress_and_result(tmp_path: Path, fake_renderer: type[FakeRenderer],
                                    sample_portrait_path: Path, short_speech: Path) -> None:
    out = tmp_path / "out.mp4"
    calls: list[tuple[int, int]] = []
    result = render_video(
        _request(sample_portrait_path, short_speech, out, chunk_frames=16),
        lambda done, total: calls.append((done, total)),
    )
    total = frame_count(sf.info(short_speech).duration, 25)
    assert result.frames == total and result.output == out
    assert (result.width, result.height, result.device) == (64, 64, "cpu")
    renderer = fake_renderer.instances[0]
    assert renderer.batches[0] == FIRST_CHUNK_FRAMES < 16  # small first batch
    assert max(renderer.batches) == 16
    assert sum(renderer.batches) == total
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    t = result.timings
    assert 0 < t.first_frame_s <= result.elapsed_s
    assert min(t.load_s, t.motion_s, t.render_s, t.encode_s, t.finish_s) >= 0
    info = probe(out)
    assert info.frames == total and (info.width, info.height) == (64, 64)
    assert abs(info.audio_duration_s - result.audio_duration_s) < 1 / 25
    assert _leftovers(tmp_path) == []
    data = result.to_dict()
    assert data["frames"] == total and "timings" in data and data["output"] == str(out)


def test_renderer_failure_leaves_nothing(tmp_path: Path, fake_renderer: type[FakeRenderer],
                                         sample_portrait_path: Path, short_speech: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    original = FakeRenderer.__init__

    def init(self: FakeRenderer, *a: Any, **k: Any) -> None:
        original(self, *a, **k)
        self.fail_at = 20

    monkeypatch.setattr(FakeRenderer, "__init__", init)
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="exploded"):
        render_video(_request(sample_portrait_path, short_speech, out, chunk_frames=8))
    assert not out.exists() and _leftovers(tmp_path) == []


def test_interrupt_leaves_nothing(tmp_path: Path, fake_renderer: type[FakeRenderer],
                                  sample_portrait_path: Path, short_speech: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous")

    def progress(done: int, total: int) -> None:
        if done >= 16:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_video(_request(sample_portrait_path, short_speech, out, chunk_frames=8,
                              overwrite=True), progress)
    assert out.read_bytes() == b"previous"  # the old file is untouched
    assert _leftovers(tmp_path) == []


def test_existing_output_refused_before_any_work(tmp_path: Path,
                                                 fake_renderer: type[FakeRenderer]) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"x")
    # The inputs do not even exist: the output check comes first.
    with pytest.raises(UsageError, match="--overwrite"):
        render_video(_request(tmp_path / "no.png", tmp_path / "no.wav", out))
    assert fake_renderer.instances == [] and out.read_bytes() == b"x"


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"fps": 0}, UsageError, "--fps"),
        ({"fps": 500}, UsageError, "--fps"),
        ({"size": 8}, UsageError, "--size"),
        ({"size": 100000}, UsageError, "--size"),
        ({"framing": "full"}, UsageError, "--framing"),
        ({"face_index": -1}, UsageError, "--face-index"),
        ({"output": Path("/nonexistent-dir/x.mp4")}, InvalidInputError, "directory"),
        ({"portrait": Path("/nonexistent.png")}, InvalidInputError, "portrait"),
        ({"audio": Path("/nonexistent.wav")}, InvalidInputError, "audio"),
        ({"transcript": Path("/nonexistent.txt")}, InvalidInputError, "transcript"),
        ({"motion": Path("/nonexistent.npz")}, InvalidInputError, "motion"),
    ],
)
def test_validation(tmp_path: Path, fake_renderer: type[FakeRenderer],
                    sample_portrait_path: Path, short_speech: Path,
                    changes: dict[str, Any], error: type[Exception], match: str) -> None:
    kw: dict[str, Any] = {"portrait": sample_portrait_path, "audio": short_speech,
                          "output": tmp_path / "o.mp4", "size": 64, "device": "cpu"}
    kw.update(changes)
    with pytest.raises(error, match=match):
        render_video(RenderRequest(**kw))
    assert fake_renderer.instances == [] and _leftovers(tmp_path) == []


def test_output_directory_is_invalid(tmp_path: Path, sample_portrait_path: Path,
                                     short_speech: Path) -> None:
    with pytest.raises(InvalidInputError, match="directory"):
        render_video(_request(sample_portrait_path, short_speech, tmp_path, overwrite=True))


def test_missing_ffmpeg_before_work(tmp_path: Path, fake_renderer: type[FakeRenderer],
                                    sample_portrait_path: Path, short_speech: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKCLI_FFMPEG", "/nonexistent/ffmpeg")
    ffmpeg_bin.ffmpeg_exe.cache_clear()
    try:
        with pytest.raises(EnvironmentProblem, match="ffmpeg"):
            render_video(_request(sample_portrait_path, short_speech, tmp_path / "o.mp4"))
    finally:
        ffmpeg_bin.ffmpeg_exe.cache_clear()
    assert fake_renderer.instances == []


def test_motion_file_is_resampled_and_fitted(tmp_path: Path, fake_renderer: type[FakeRenderer],
                                             sample_portrait_path: Path,
                                             short_speech: Path) -> None:
    values = neutral(20)  # 20 frames at 10 fps = 2 s: longer than 1.7 s of audio
    values[:, index("jaw_open")] = np.linspace(0, 1, 20)
    motion = tmp_path / "m.npz"
    MotionTrack(fps=10, values=values).save(motion)
    out = tmp_path / "o.mp4"
    result = render_video(_request(sample_portrait_path, short_speech, out, motion=motion))
    assert result.frames == frame_count(sf.info(short_speech).duration, 25)
    assert any("resampled" in w for w in result.warnings)
    assert probe(out).frames == result.frames


def test_motion_with_preset_is_usage_error(tmp_path: Path, sample_portrait_path: Path,
                                           short_speech: Path) -> None:
    with pytest.raises(UsageError, match="--motion"):
        render_video(_request(sample_portrait_path, short_speech, tmp_path / "o.mp4",
                              motion=short_speech, preset="calm"))


# --------------------------------------------------------------------------- helpers
def _rows(n: int, start: int = 0) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.float32)[:, None].repeat(3, 1)


def test_rechunk_exact_total_and_sizes() -> None:
    chunks = [_rows(5), _rows(30, 5), _rows(2, 35), _rows(40, 37)]
    out = list(rechunk(chunks, total=70, size=16, first=4))
    assert [c.shape[0] for c in out] == [4, 16, 16, 16, 16, 2]
    assert np.array_equal(np.concatenate(out)[:, 0], np.arange(70))


def test_rechunk_short_stream_holds_last_row() -> None:
    out = np.concatenate(list(rechunk([_rows(10)], total=25, size=8, first=8)))
    assert out.shape == (25, 3)
    assert np.all(out[10:, 0] == 9)


def test_rechunk_empty_stream_is_an_error() -> None:
    with pytest.raises(InvalidInputError):
        list(rechunk([], total=5, size=4))


def test_conform_track_reorders_and_fits() -> None:
    names = tuple(reversed(CHANNELS))
    values = np.stack([np.full(12, i, np.float32) for i in range(len(names))], axis=1)
    track = MotionTrack(fps=25, values=values, channels=names)
    out, notes = conform_track(track, 25, 10)
    assert out.shape == (10, len(CHANNELS))
    assert out[0, index("head_yaw")] == names.index("head_yaw")
    assert notes  # cut 12 -> 10
    same, notes = conform_track(MotionTrack(fps=25, values=neutral(11)), 25, 11)
    assert notes == [] and same.shape == (11, len(CHANNELS))
