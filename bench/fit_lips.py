"""Fit the lip model's free numbers (talkcli.motion.lips.LipParams) on real talking video.

The real speakers' mouths (inner-lip gap per frame, measured and cached by bench/mouth.py) are
compared with the lip track made from the same audio. A grid over the model's shape parameters
(consonant opening, loudness share, smoothing, lead, dead zone, vowel carry-over) is scored by
the mean Pearson r of jaw_open * (1 - lips_press) with the real gap (lag 0) on the FIT clips; the
amplitude (vowel_gain) is then set so the rendered opening's spread matches people's (gap std ~0.047
interocular: the renderer opens JAW_TARGET_GAP interocular at jaw_open = 1). The held-out clips
are reported, never used to choose.

    .venv/bin/python bench/fit_lips.py [--assets DIR]
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from mouth import DEFAULT_ASSETS, FIT_CLIPS, FPS, REAL_SECONDS, real_videos  # noqa: E402
from realism import corr_at, crop_audio  # noqa: E402

from talkcli.audio.io import load_audio  # noqa: E402
from talkcli.config import load_preset  # noqa: E402
from talkcli.motion.generator import MotionGenerator  # noqa: E402
from talkcli.motion.lips import LIP_PARAMS, LipParams, lip_track  # noqa: E402
from talkcli.render.geometry import JAW_TARGET_GAP  # noqa: E402

FIT = FIT_CLIPS
HUMAN_GAP_STD = 0.047
GRID = {
    "cons_gain": (0.4, 0.7, 1.0),
    "loud_weight": (0.2, 0.35, 0.5),
    "sigma_s": (0.05, 0.08),
    "lead_s": (0.04,),
    "dead": (0.0, 0.15),
    "speech_open": (0.1, 0.2, 0.3, 0.45),
    "carry": (0.0, 0.6),
}
MIN_OPEN_SHARE = 0.35   # people: the mouth is open (gap > 0.08) on about half the frames



def clips(assets: Path) -> dict[str, tuple[object, object, np.ndarray]]:
    """name -> (features, phones, real gap per 25 fps frame)."""
    gen = MotionGenerator(load_preset(None), fps=FPS, seed=0)
    out = {}
    for name, row in real_videos(assets, REAL_SECONDS).items():
        audio = crop_audio(load_audio(assets / "video" / f"{name}.mp4"), REAL_SECONDS)
        an = gen.analyse(audio)
        out[name] = (an.features, an.phones, np.asarray(row["gap_series"], float))
    return out


def opening(feats: object, phones: object, params: LipParams, frames: int) -> np.ndarray:
    lips = lip_track(phones, feats, 1.0, params)  # type: ignore[arg-type]
    s = lips.sample(FPS, frames)
    return s["jaw_open"] * (1.0 - s["lips_press"])


def score(data: dict, params: LipParams, names: tuple[str, ...]) -> dict[str, float]:
    rs, stds, opens, lags = [], [], [], []
    for name in names:
        feats, phones, gap = data[name]
        o = opening(feats, phones, params, len(gap))
        rs.append(corr_at(o, gap, 0))
        lags.append(max(range(-3, 4), key=lambda k, o=o, gap=gap: corr_at(o, gap, k)))
        g = JAW_TARGET_GAP * o
        stds.append(float(g.std()))
        opens.append(float((g > 0.08).mean()))
    return {"r": float(np.nanmean(rs)), "std": float(np.mean(stds)),
            "open": float(np.mean(opens)),
            "per_clip": {n: (round(r, 3), lag)
                         for n, r, lag in zip(names, rs, lags, strict=True)}}


def scaled(data: dict, p: LipParams, names: tuple[str, ...]) -> LipParams:
    """p with its amplitude set so the rendered opening's std is people's."""
    gain = HUMAN_GAP_STD / max(score(data, p, names)["std"], 1e-6)
    return replace(p, vowel_gain=p.vowel_gain * gain, cons_gain=p.cons_gain * gain,
                   speech_open=p.speech_open * gain)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", type=Path, default=DEFAULT_ASSETS)
    args = ap.parse_args(argv)
    if not (args.assets / "video").is_dir():
        print("skip: dev-assets not found")
        return 0
    data = clips(args.assets)
    fit = tuple(n for n in FIT if n in data)
    held = tuple(n for n in data if n not in fit)
    base = score(data, LIP_PARAMS, fit)
    held_r = score(data, LIP_PARAMS, held)["r"]
    print(f"current params: fit r {base['r']:.3f}  held-out r {held_r:.3f}")
    best, best_p = -math.inf, LIP_PARAMS
    keys = list(GRID)
    for values in itertools.product(*(GRID[k] for k in keys)):
        p = scaled(data, replace(LIP_PARAMS, **dict(zip(keys, values, strict=True))), fit)
        sc = score(data, p, fit)
        if sc["r"] > best and sc["open"] >= MIN_OPEN_SHARE:
            best, best_p = sc["r"], p
    f, h = score(data, best_p, fit), score(data, best_p, held)
    print(f"best: {best_p}")
    print(f"  fit  r {f['r']:.3f} {f['per_clip']}  std {f['std']:.3f} open {f['open']:.2f}")
    print(f"  held r {h['r']:.3f} {h['per_clip']}  std {h['std']:.3f} open {h['open']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
