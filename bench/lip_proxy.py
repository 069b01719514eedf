"""Motion-only proxy of bench/mouth.py's lip rows, for tuning talkcli.motion.lips in seconds.

The rendered opening is stood in for by jaw_open x (1 - lips_press) (the renderer opens
JAW_TARGET_GAP interocular at 1): per clip its r with the frame loudness, with the real
speaker's mouth (dev videos), and on the espeak sentences its r with the exact phones and the
p/b/m recall (a closure counts when the proxy is below PROXY_CLOSED within +-1 frame). Clips are
the same excerpts as bench/mouth.py (the first --seconds of each, analysed as cropped); the
recogniser's output is cached (~/.cache/talkcli-bench/lip_proxy.pkl) so a run with other
LipParams (--set name=value) takes seconds. Renders differ: the proxy's loudness r runs ~0.05-0.1
above the rendered one, its r with exact phones ~0.02 above; confirm on renders
(`bench/mouth.py --portraits ... --videos ...`).

    .venv/bin/python bench/lip_proxy.py [--seconds 4] [--set carry=0.8 --set cue_any=0.5]
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from mouth import DEFAULT_ASSETS, FIT_CLIPS, FPS, _tts, frame_rms, real_videos  # noqa: E402
from realism import corr_at, crop_audio  # noqa: E402

from talkcli.audio.io import load_audio  # noqa: E402
from talkcli.config import load_preset  # noqa: E402
from talkcli.motion.generator import MotionGenerator  # noqa: E402
from talkcli.motion.lips import LIP_PARAMS, VISEMES, LipParams, lip_track  # noqa: E402

CACHE = Path.home() / ".cache" / "talkcli-bench" / "lip_proxy.pkl"
PROXY_CLOSED = 0.12   # x JAW_TARGET_GAP 0.42 = a rendered gap of 0.05 (closed)
SENTENCES = 5


def _analysed(audio: np.ndarray) -> tuple[Any, Any]:
    an = MotionGenerator(load_preset(None), fps=FPS, seed=0).analyse(audio)
    return an.features, an.phones


def load(assets: Path, seconds: float) -> dict[str, Any]:
    """{'clips': name -> (audio, features, phones, real gap or None), 'sent': [...]}, cached."""
    key = (str(assets), seconds, SENTENCES)
    if CACHE.is_file():
        data = pickle.loads(CACHE.read_bytes())
        if data.get("key") == key:
            return data
    from motion_quality import SENTENCES as TEXTS

    data: dict[str, Any] = {"key": key, "clips": {}, "sent": []}
    for w in sorted((assets / "audio").glob("*.wav")):
        audio = crop_audio(load_audio(w), seconds)
        data["clips"][w.stem] = (audio, *_analysed(audio), None)
    for name, row in real_videos(assets, seconds).items():
        audio = crop_audio(load_audio(assets / "video" / f"{name}.mp4"), seconds)
        data["clips"][name] = (audio, *_analysed(audio), np.asarray(row["gap_series"], float))
    for text in TEXTS[:SENTENCES]:
        audio, phones = _tts().say(text)
        data["sent"].append((audio, *_analysed(audio), phones))
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_bytes(pickle.dumps(data))
    return data


def proxy(feats: Any, phones: Any, params: LipParams, frames: int) -> np.ndarray:
    s = lip_track(phones, feats, 1.0, params).sample(FPS, frames)
    return s["jaw_open"] * (1.0 - s["lips_press"])


def score(data: dict[str, Any], params: LipParams) -> tuple[dict[str, float], dict[str, Any]]:
    """Medians as bench/mouth.py reports them, and the per-clip rows."""
    import motion_quality

    # the ground truth is the design's table, whatever VISEMES a caller patched
    motion_quality.VISEMES = dict(VISEMES)
    rows: dict[str, dict[str, float]] = {}
    for name, (audio, feats, phones, real) in data["clips"].items():
        n = int(math.ceil(audio.shape[0] / 16000 * FPS))
        o = proxy(feats, phones, params, n)
        rows[name] = {"loud_r": corr_at(o, frame_rms(audio, n), 0)}
        if real is not None:
            rows[name]["real_r"] = corr_at(o, real[:n], 0)
    rs, hits, total = [], 0, 0
    for audio, feats, phones, truth in data["sent"]:
        n = int(math.ceil(audio.shape[0] / 16000 * FPS))
        o = proxy(feats, phones, params, n)
        rs.append(corr_at(o, motion_quality._gt_opening(truth, n), 0))
        for p, s, e in truth:
            if p in ("p", "b", "m"):
                total += 1
                f0, f1 = int(np.floor(s * FPS)) - 1, int(np.ceil(e * FPS)) + 1
                hits += bool((o[max(0, f0):min(n, f1 + 1)] < PROXY_CLOSED).any())
    real = {k: r["real_r"] for k, r in rows.items() if "real_r" in r}
    out = {"loud_r": float(np.median([r["loud_r"] for r in rows.values()])),
           "real_r": float(np.median(list(real.values()))),
           "real_r_held": float(np.median([v for k, v in real.items() if k not in FIT_CLIPS])),
           "gt_r": float(np.mean(rs)), "pbm_recall": hits / max(total, 1)}
    return out, rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assets", type=Path, default=DEFAULT_ASSETS)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a LipParams field to change (repeatable)")
    args = ap.parse_args(argv)
    if not (args.assets / "video").is_dir():
        print("skip: dev-assets not found")
        return 0
    changes = {k: float(v) for k, v in (s.split("=", 1) for s in args.set)}
    params = replace(LIP_PARAMS, **changes)
    summary, rows = score(load(args.assets, args.seconds), params)
    for name, row in rows.items():
        print(f"  {name[:34]:34s}" + "".join(f"  {k} {v:+.3f}" for k, v in row.items()))
    print("  ".join(f"{k} {v:.3f}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
