"""Incremental (online) motion against whole-clip motion (issue 9 part 3, issue 10).

1. Lip figures of bench/motion_quality.py (espeak-ng sentences with exact phone timing,
   no transcript): the whole-clip generator, the online model as offline `render` runs it
   (32-frame blocks) and as `talkcli stream` runs it (one frame at a time, 100 ms
   look-ahead).
2. Time to the first motion chunk for 1 and 10 minutes of audio (CPU seconds, and wall
   seconds on this shared machine): whole-clip analysis against the online model.

Writes bench/results/online_motion.json. Run: `.venv/bin/python bench/online_motion.py`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from motion_quality import SENTENCES, Espeak, lip_scores  # noqa: E402

from talkcli.audio.io import load_audio  # noqa: E402
from talkcli.config import load_preset  # noqa: E402
from talkcli.motion.generator import MotionGenerator  # noqa: E402
from talkcli.motion.latent import CHANNELS, MotionTrack  # noqa: E402
from talkcli.motion.online import OnlineMotion, online_chunks  # noqa: E402
from talkcli.timing import SAMPLE_RATE  # noqa: E402

FPS = 25.0
RESULTS = ROOT / "bench" / "results" / "online_motion.json"


def frame_by_frame(audio: np.ndarray) -> np.ndarray:
    m = OnlineMotion(load_preset("natural"), fps=FPS, seed=0)
    out = []
    for pos in range(0, audio.shape[0], 640):
        m.push(audio[pos:pos + 640])
        if m.available():
            out.append(m.take(m.available()))
    m.end()
    out.append(m.take(m.available()))
    return np.concatenate(out)


def lips() -> dict[str, dict[str, float]] | None:
    try:
        tts = Espeak()
    except OSError as exc:
        print(f"skip lip figures: libespeak-ng not available ({exc})")
        return None
    gen = MotionGenerator(load_preset("natural"), fps=FPS, seed=0)
    modes = {
        "whole_clip": lambda a: gen.generate(a).values,
        "online_blocks32": lambda a: np.concatenate(list(online_chunks(
            a, load_preset("natural"), FPS, 0, chunk_frames=32))),
        "online_frame_by_frame": frame_by_frame,
    }
    rows: dict[str, list[dict[str, float]]] = {k: [] for k in modes}
    for text in SENTENCES:
        audio, phones = tts.say(text)
        for name, fn in modes.items():
            track = MotionTrack(FPS, fn(audio), CHANNELS)
            rows[name].append(lip_scores(track, phones))
    out = {}
    for name, rs in rows.items():
        hits = sum(int(r["closure_hits"]) for r in rs)
        total = sum(int(r["closures"]) for r in rs)
        out[name] = {"closure_recall": hits / max(total, 1),
                     "agreement": float(np.mean([r["agreement"] for r in rs])),
                     "agreement_speech": float(np.mean([r["agreement_speech"] for r in rs])),
                     "jaw_r": float(np.mean([r["r"] for r in rs])),
                     "round_r": float(np.mean([r["round_r"] for r in rs])),
                     "wide_r": float(np.mean([r["wide_r"] for r in rs]))}
    return out


def first_chunk(minutes: float) -> dict[str, float]:
    sample = load_audio(ROOT / "talkcli" / "assets" / "speech.wav")
    reps = int(np.ceil(minutes * 60 * SAMPLE_RATE / sample.shape[0]))
    audio = np.tile(sample, reps)[: int(minutes * 60 * SAMPLE_RATE)]
    out = {}
    for name, make in (
        ("whole_clip", lambda: MotionGenerator(fps=FPS).stream(audio, chunk_frames=32)),
        ("online", lambda: MotionGenerator(fps=FPS).stream_incremental(audio, chunk_frames=32)),
    ):
        c0, w0 = time.process_time(), time.perf_counter()
        next(iter(make()))
        out[f"{name}_cpu_s"] = round(time.process_time() - c0, 3)
        out[f"{name}_wall_s"] = round(time.perf_counter() - w0, 3)
    return out


def main() -> int:
    result: dict[str, object] = {"note": "shared 2-core machine, loaded by other jobs: "
                                         "wall times inflated, CPU times comparable"}
    result["lips_no_transcript"] = lips()
    result["first_chunk"] = {f"{m}min": first_chunk(m) for m in (1, 10)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
