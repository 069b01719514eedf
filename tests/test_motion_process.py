"""Motion in its own process (motion/process.py): the chunks are the in-process generator's
bit for bit, the child's errors reach the parent with their type, an abort leaves no child
behind, and the render pipeline gives the same video with the motion in a process or in a
thread."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import talkcli.pipeline as pipeline
from talkcli.audio.io import load_audio
from talkcli.config import load_preset
from talkcli.motion.generator import MotionGenerator
from talkcli.motion.process import MotionJob, MotionProcess
from talkcli.video.probe import probe


@pytest.fixture(scope="module")
def speech(sample_speech_path: Path) -> np.ndarray:
    return load_audio(sample_speech_path)[: 16000 * 4]


def _job(audio: np.ndarray, **kw: object) -> MotionJob:
    settings: dict = {"preset": load_preset(None), "fps": 25.0, "seed": 3, "chunk_frames": 16}
    settings.update(kw)
    return MotionJob(audio=audio, **settings)


def test_chunks_equal_the_in_process_generator(speech: np.ndarray) -> None:
    job = _job(speech)
    proc = MotionProcess(job)
    try:
        got = list(proc)
        proc.finish()
    finally:
        proc.close()
    want = list(MotionGenerator(job.preset, fps=job.fps, seed=job.seed)
                .stream_incremental(speech, chunk_frames=job.chunk_frames))
    assert [c.shape for c in got] == [c.shape for c in want]
    np.testing.assert_array_equal(np.concatenate(got), np.concatenate(want))
    assert proc.cpu_seconds > 0  # the child's last word arrived
    if proc.peak_rss_mb is not None:
        assert proc.peak_rss_mb > 10


def test_a_child_error_reaches_the_parent_with_its_type(speech: np.ndarray) -> None:
    proc = MotionProcess(_job(speech, preset="not a preset"))
    try:
        with pytest.raises(AttributeError, match="style|attribute"):
            list(proc)
    finally:
        proc.close()


def test_close_mid_stream_reaps_the_child(speech: np.ndarray) -> None:
    long_clip = np.tile(speech, 8)  # 32 s: the child is still working when we stop
    proc = MotionProcess(_job(long_clip, chunk_frames=8))
    first = next(iter(proc))
    assert first.shape[0] == 8
    pid = proc._proc.pid
    proc.close()
    assert proc._proc.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.slow
def test_render_is_the_same_with_motion_in_a_process_or_a_thread(
        tmp_path: Path, sample_portrait_path: Path, speech: np.ndarray,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import soundfile as sf

    import talkcli.provenance.marks as marks
    from talkcli.provenance.payload import new_payload

    fixed = new_payload()  # one watermark id for both: the pixels can then be compared
    monkeypatch.setattr(marks, "new_payload", lambda: fixed)
    wav = tmp_path / "s.wav"
    sf.write(wav, speech[: 16000 * 2], 16000)
    frames = {}
    for mode in (True, False):
        monkeypatch.setattr(pipeline, "MOTION_IN_PROCESS", mode)
        out = tmp_path / f"{mode}.mp4"
        result = pipeline.render_video(pipeline.RenderRequest(
            portrait=sample_portrait_path, audio=wav, output=out, size=128))
        assert result.timings.motion_process is mode
        assert result.timings.motion_cpu_s > 0
        frames[mode] = _decode(out)
    assert frames[True].shape == frames[False].shape
    np.testing.assert_array_equal(frames[True], frames[False])


def _decode(path: Path) -> np.ndarray:
    import subprocess

    from talkcli.video.ffmpeg_bin import ffmpeg_exe

    info = probe(path)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, info.height, info.width)


def test_no_interpreter_to_start_falls_back_to_a_thread(
        monkeypatch: pytest.MonkeyPatch, speech: np.ndarray) -> None:
    import talkcli.motion.process as mp_

    monkeypatch.setattr(mp_.sys, "executable", "/nonexistent/python")
    req = pipeline.RenderRequest(portrait=Path("p.png"), audio=Path("a.wav"),
                                 output=Path("o.mp4"))
    feed, _ = pipeline._start_motion(req, speech[:16000], 25, load_preset(None), None)
    try:
        assert not feed.process
        assert sum(c.shape[0] for c in feed) == 25
    finally:
        feed.close()
