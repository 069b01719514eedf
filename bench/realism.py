"""Realism benchmark: talkcli's motion and rendered video measured against real talking people.

The product is judged by measuring frames with face landmarks (DESIGN §6). This script does
that with the same MediaPipe models (`talkcli.face.analyze.measure_face`, tracked):

1. human reference: the real talking-head clips in dev-assets/video, per frame: inner-lip
   gap, blink closure, head yaw/pitch/roll -> blink rate/duration, head std, frame-to-frame
   rotation, static-point jitter and rigid-shape drift;
2. lip sync: the motion generator run on each real clip's own audio (at the clip's fps),
   `jaw_open` (and jaw_open * (1 - lips_press)) correlated with the real mouth gap (Pearson
   r at lag 0 and the best lag in ±3 frames), next to a loudness-only baseline (per-frame
   RMS, σ 30 ms smoothing); open/closed agreement;
3. motion statistics on every dev-assets/audio file (default preset, seed 0) against the
   DESIGN §6 human ranges (pass/fail);
4. rendered output re-measured (only when `talkcli.render.renderer` imports): each portrait
   rendered at 256² with a real clip's audio and ~8 s of an English and a non-English file;
   every frame re-measured: mouth gap vs commanded jaw and vs the real speaker's mouth,
   blinks seen, head gain, identity/shape drift, background stillness, frames without a
   face. A contact sheet per render goes to /tmp/realism/.

dev-assets are evaluation data: read in place, never copied. Absent -> message, exit 0.
Writes bench/results/realism.json.

    .venv/bin/python bench/realism.py [--quick] [--out FILE] [--sheets DIR] [--assets DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import numpy as np  # noqa: E402
from scipy.ndimage import gaussian_filter1d  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from talkcli.audio.features import analyse  # noqa: E402
from talkcli.audio.io import load_audio  # noqa: E402
from talkcli.config import load_preset  # noqa: E402
from talkcli.face.analyze import FaceMeasurement, measure_face  # noqa: E402
from talkcli.face.metrics import eye_closure  # noqa: E402
from talkcli.motion.generator import MotionGenerator  # noqa: E402
from talkcli.motion.latent import MotionTrack  # noqa: E402
from talkcli.timing import SAMPLE_RATE  # noqa: E402
from talkcli.video.ffmpeg_bin import ffmpeg_exe  # noqa: E402
from talkcli.video.probe import probe  # noqa: E402

Row = dict[str, Any]  # one table row / one JSON object of results

DEFAULT_ASSETS = ROOT.parent / "shared" / "dev-assets"
DEFAULT_OUT = ROOT / "bench" / "results" / "realism.json"
DEFAULT_SHEETS = Path("/tmp/realism")

# blink detection (calibrated on the real clips: closed lids read closure ~0.8-1.0 at 512 px,
# ~0.6 at 224 px; open-eye noise stays under 0.3)
BLINK_ON = 0.5        # closure that counts as a blink ...
BLINK_MIN_FRAMES = 2  # ... held this many frames
BLINK_EDGE = 0.2      # the blink's duration is the run of closure above this around it
OPEN_PERCENTILE = 90  # the clip's open-eye opening = this percentile of eye_opening
MAX_LAG = 3           # frames searched for the best audio/video lag
REAL_FPS = 25          # real clips are resampled to the renders' frame rate
# known audio/video offsets of the dev videos (dev-assets README: may_5s ~80 ms, the mouth
# seen 2 frames before its sound): the real series is shifted to line up with its audio
REAL_OFFSET_FRAMES = {"may_5s_real3dportrait": 2}
REAL_CLOSED_GAP = 0.05  # inner-lip gap / interocular under which a real mouth is closed
JAW_CLOSED = 0.15       # commanded jaw_open under which (or lips_press > 0.5) it is closed
RMS_SIGMA_S = 0.03      # smoothing of the loudness baseline (the lip track's σ)
# points that do not move with speech or blinks: forehead, nose bridge/tip, eye corners,
# cheek edges at eye level
RIGID = (10, 168, 6, 197, 195, 5, 4, 1, 33, 133, 362, 263, 234, 454, 127, 356)
STATIC = (168, 6, 197, 33, 133, 362, 263)  # jitter: nose bridge and eye corners

# DESIGN §6 human ranges
HUMAN = {
    "blink_rate_per_min": (10.0, 32.0),
    "blink_ms": (100.0, 400.0),
    "yaw_std": (1.0, 14.0),
    "pitch_std": (1.0, 14.0),
    "roll_std": (1.0, 14.0),
    "f2f_deg": (0.35, 1.2),   # ≈0.7°/frame at 25 fps (after light smoothing)
    "silent_closed": (0.9, 1.0),
}


# --------------------------------------------------------------------------- media + faces
def decode_video(path: Path) -> tuple[np.ndarray, float]:
    """All frames of a video resampled to REAL_FPS as (N, H, W, 3) uint8, and that fps. Frame
    i then shows time i / REAL_FPS, as the motion's frame i does: read frame by frame, a
    variable-frame-rate clip (ReTalking: 30 fps nominal, 22.13 on average) drifts off its
    audio."""
    info = probe(path, count=False)
    if not (info.width and info.height):
        raise RuntimeError(f"cannot read the size of {path}")
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path),
                          "-vf", f"fps={REAL_FPS}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, info.height, info.width, 3)
    return frames, float(REAL_FPS)


def shifted(series: np.ndarray, frames: int) -> np.ndarray:
    """A real clip's per-frame series moved later by `frames` (its known audio/video offset;
    NaN where nothing was measured), at its own length."""
    if frames <= 0:
        return series
    return np.concatenate([np.full(frames, np.nan), series])[: len(series)]


@dataclass(frozen=True)
class FaceSeries:
    """Per-frame measurements of one face through a clip (NaN where no face was found)."""

    gap: np.ndarray          # inner-lip gap / interocular
    eye: np.ndarray          # mean eye opening of both eyes
    pose: np.ndarray         # (N, 3) yaw, pitch, roll in degrees
    interocular: np.ndarray  # px
    width: np.ndarray        # lip-corner distance / interocular
    points: np.ndarray       # (N, 468, 2) px

    @property
    def found(self) -> np.ndarray:
        return np.isfinite(self.gap)


def _row(m: FaceMeasurement | None) -> tuple[float, ...]:
    if m is None:
        return (math.nan,) * 7
    return (m.mouth_gap, 0.5 * (m.eye_opening_left + m.eye_opening_right),
            m.yaw, m.pitch, m.roll, m.interocular, m.mouth_width)


def track_faces(frames: Sequence[np.ndarray] | np.ndarray) -> FaceSeries:
    """measure_face on every frame, tracking from the previous one."""
    rows, pts, prev = [], [], None
    for im in frames:
        m = measure_face(im, prev)
        prev = m
        rows.append(_row(m))
        pts.append(m.points[:, :2] if m is not None else np.full((468, 2), np.nan))
    a = np.array(rows, dtype=np.float64).reshape(-1, 7)
    return FaceSeries(gap=a[:, 0], eye=a[:, 1], pose=a[:, 2:5], interocular=a[:, 5],
                      width=a[:, 6],
                      points=np.array(pts, dtype=np.float64).reshape(-1, 468, 2))


# --------------------------------------------------------------------------- statistics
def closure_series(eye: np.ndarray, open_value: float | None = None) -> np.ndarray:
    """Blink closure 0 (open) .. 1 (closed lids) per frame; the open value defaults to the
    clip's 90th-percentile opening."""
    ok = np.isfinite(eye)
    ref = open_value if open_value is not None else float(np.percentile(eye[ok], OPEN_PERCENTILE))
    return np.array([eye_closure(float(e), ref) if np.isfinite(e) else 0.0 for e in eye])


def blink_events(closure: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) frame spans: closure >= BLINK_ON for >= BLINK_MIN_FRAMES frames; the span
    extends over the surrounding closure >= BLINK_EDGE."""
    on = closure >= BLINK_ON
    events: list[tuple[int, int]] = []
    i, n = 0, len(closure)
    while i < n:
        if not on[i]:
            i += 1
            continue
        j = i
        while j < n and on[j]:
            j += 1
        if j - i >= BLINK_MIN_FRAMES:
            s, e = i, j
            while s > 0 and closure[s - 1] >= BLINK_EDGE:
                s -= 1
            while e < n and closure[e] >= BLINK_EDGE:
                e += 1
            if not events or s >= events[-1][1]:
                events.append((s, e))
        i = j
    return events


def blink_stats(closure: np.ndarray, fps: float) -> dict[str, float]:
    ev = blink_events(closure)
    minutes = len(closure) / fps / 60.0
    ms = [(e - s) / fps * 1000.0 for s, e in ev]
    return {"blinks": float(len(ev)), "blink_rate_per_min": len(ev) / max(minutes, 1e-9),
            "blink_ms": float(np.mean(ms)) if ms else math.nan}


def head_stats(pose: np.ndarray) -> dict[str, float]:
    """Std of yaw/pitch/roll (°) and mean frame-to-frame rotation (°/frame, after light
    smoothing σ = 1 frame, as DESIGN §6 measured real speakers)."""
    p = pose[np.all(np.isfinite(pose), axis=1)]
    if len(p) < 3:
        return {"yaw_std": math.nan, "pitch_std": math.nan, "roll_std": math.nan,
                "f2f_deg": math.nan}
    smooth = gaussian_filter1d(p, 1.0, axis=0, mode="nearest")
    step = np.linalg.norm(np.diff(smooth, axis=0), axis=1)
    return {"yaw_std": float(p[:, 0].std()), "pitch_std": float(p[:, 1].std()),
            "roll_std": float(p[:, 2].std()), "f2f_deg": float(step.mean())}


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Best 2D similarity src -> dst (scale, rotation, translation): dst ≈ s * src @ R + t."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, sv, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    r = u @ np.diag([1.0, d]) @ vt
    scale = (sv[0] + d * sv[1]) / max(float((a ** 2).sum()), 1e-12)
    return scale, r, md - scale * ms @ r


def shape_stats(series: FaceSeries) -> dict[str, float]:
    """Static-point jitter: nose bridge + eye corners, each frame aligned to the first by a
    similarity fit on rigid points (removes in-plane head motion), residual from their σ = 2
    frame smoothed path, % of interocular. Rigid-shape drift: RMS residual of the rigid points
    after that alignment, % of interocular (includes the projection change of yaw/pitch).
    Interocular variation: CV %."""
    ok = series.found
    pts, io = series.points[ok], series.interocular[ok]
    if len(pts) < 5:
        return {"jitter_pct": math.nan, "shape_drift_pct": math.nan,
                "interocular_cv_pct": math.nan}
    rigid, ref = list(RIGID), pts[0]
    aligned, drift = [], []
    for p in pts:
        s, r, t = _similarity(p[rigid], ref[rigid])
        q = s * p @ r + t
        aligned.append(q[list(STATIC)])
        drift.append(float(np.sqrt(((q[rigid] - ref[rigid]) ** 2).sum(1).mean())))
    st = np.array(aligned)
    resid = np.linalg.norm(st - gaussian_filter1d(st, 2.0, axis=0, mode="nearest"), axis=2)
    return {"jitter_pct": float(100 * resid.mean() / io[0]),
            "shape_drift_pct": float(100 * np.mean(drift) / io[0]),
            "interocular_cv_pct": float(100 * io.std() / io.mean())}


def corr_at(x: np.ndarray, y: np.ndarray, lag: int) -> float:
    """Pearson r of x[t + lag] with y[t] over the overlap (positive lag: x is late)."""
    n = min(len(x), len(y))
    x, y = np.asarray(x[:n], np.float64), np.asarray(y[:n], np.float64)
    a, b = (x[lag:], y[: n - lag]) if lag >= 0 else (x[: n + lag], y[-lag:])
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 5 or a[ok].std() < 1e-9 or b[ok].std() < 1e-9:
        return math.nan
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def corr_best(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    rs = {lag: corr_at(x, y, lag) for lag in range(-MAX_LAG, MAX_LAG + 1)}
    best = max(rs, key=lambda k: -2.0 if math.isnan(rs[k]) else rs[k])
    return {"r": rs[0], "r_best": rs[best], "lag": float(best)}


def loudness_track(audio: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """Per-frame linear RMS, smoothed σ 30 ms at 100 Hz then averaged over each frame."""
    feats = analyse(audio)
    rate = feats.frames / (len(audio) / SAMPLE_RATE)
    rms = gaussian_filter1d(feats.rms.astype(np.float64), RMS_SIGMA_S * rate)
    edges = np.clip(np.round(np.arange(frames + 1) * rate / fps).astype(int), 0, len(rms) - 1)
    return np.array([rms[a:max(b, a + 1)].mean() for a, b in zip(edges[:-1], edges[1:],
                                                                  strict=True)])


def openness(track: MotionTrack) -> np.ndarray:
    return track.channel("jaw_open") * (1.0 - track.channel("lips_press"))


def motion_closed(track: MotionTrack) -> np.ndarray:
    return (track.channel("jaw_open") < JAW_CLOSED) | (track.channel("lips_press") > 0.5)


def open_closed_agreement(real_gap: np.ndarray, closed: np.ndarray) -> dict[str, float]:
    """P(motion closed | real closed), P(motion open | real open), overall agreement."""
    n = min(len(real_gap), len(closed))
    g, c = real_gap[:n], closed[:n]
    ok = np.isfinite(g)
    rc, c = g[ok] < REAL_CLOSED_GAP, c[ok]

    def frac(mask: np.ndarray, val: np.ndarray) -> float:
        return float(val[mask].mean()) if mask.any() else math.nan

    return {"real_closed_frac": float(rc.mean()), "closed_when_real_closed": frac(rc, c),
            "open_when_real_open": frac(~rc, ~c), "agreement": float((rc == c).mean())}


# --------------------------------------------------------------------------- parts 1-3
def generate(audio: np.ndarray, fps: float) -> tuple[MotionTrack, np.ndarray]:
    """Default preset, seed 0: the track and the per-frame voice activity (0-1)."""
    gen = MotionGenerator(load_preset(None), fps=fps, seed=0)
    an = gen.analyse(audio)
    return gen.generate_from(an), an.frame_features.vad


def real_clip(path: Path) -> Row:
    """Part 1 (human reference) and part 2 (lip sync of the motion) for one real clip."""
    frames, fps = decode_video(path)
    series = track_faces(frames)
    closure = closure_series(series.eye)
    human = {"frames": float(len(frames)), "fps": fps, "no_face": float((~series.found).sum()),
             **blink_stats(closure, fps), **head_stats(series.pose), **shape_stats(series),
             "mouth_gap_mean": float(np.nanmean(series.gap)),
             "mouth_gap_p95": float(np.nanpercentile(series.gap, 95))}
    audio = load_audio(path)
    track, _ = generate(audio, fps)
    rms = loudness_track(audio, fps, track.frames)
    gap = shifted(series.gap, REAL_OFFSET_FRAMES.get(path.stem, 0))
    lips = {"jaw": corr_best(track.channel("jaw_open"), gap),
            "jaw_x_unpressed": corr_best(openness(track), gap),
            "rms": corr_best(rms, gap),
            **open_closed_agreement(gap, motion_closed(track))}
    return {"human": human, "lips": lips, "real_gap": gap.tolist()}


def motion_stats(track: MotionTrack, vad: np.ndarray) -> dict[str, float]:
    """Part 3: commanded blinks/head and the mouth in silence."""
    closure = np.maximum(track.channel("blink_left"), track.channel("blink_right"))
    head = head_stats(np.stack([track.channel(c) for c in ("head_yaw", "head_pitch",
                                                           "head_roll")], axis=1))
    silent = vad[: track.frames] < 0.5
    closed = motion_closed(track)
    return {**blink_stats(closure, track.fps), **head, "silent_frac": float(silent.mean()),
            "silent_closed": float(closed[silent].mean()) if silent.any() else math.nan}


def judge(stats: dict[str, float]) -> dict[str, bool]:
    return {k: bool(lo <= stats[k] <= hi) for k, (lo, hi) in HUMAN.items()
            if k in stats and np.isfinite(stats[k])}


# --------------------------------------------------------------------------- part 4: render
@dataclass(frozen=True)
class RenderJob:
    """One audio to render every portrait with: its motion (default preset, seed 0, 25 fps)."""

    audio_name: str
    track: MotionTrack
    real_gap: np.ndarray | None  # the real speaker's mouth when the audio is a real clip's


def load_renderer() -> Callable[..., object] | None:
    try:
        from talkcli.render.renderer import Renderer
    except (ImportError, SyntaxError, AttributeError) as exc:
        print(f"skip render checks: talkcli.render.renderer is not importable ({exc})")
        return None
    return Renderer


def render_frames(renderer: object, latents: np.ndarray, batch: int = 32) -> np.ndarray:
    # copy: a renderer may hand back a view of its reused output buffer
    out = [np.array(renderer.render(latents[i:i + batch]))  # type: ignore[attr-defined]
           for i in range(0, len(latents), batch)]
    return np.concatenate(out, axis=0)


def background_diff(frames: np.ndarray) -> dict[str, float]:
    """Mean abs difference (0-255) of the four corner patches against the first frame."""
    h, w = frames.shape[1:3]
    k = max(h, w) // 10
    corners = [frames[:, :k, :k], frames[:, :k, -k:], frames[:, -k:, :k], frames[:, -k:, -k:]]
    diffs = np.stack([np.abs(c.astype(np.int16) - c[:1].astype(np.int16)).mean(axis=(1, 2, 3))
                      for c in corners], axis=1)
    return {"bg_diff_mean": float(diffs.mean()), "bg_diff_max": float(diffs.max())}


def gain(rendered: np.ndarray, commanded: np.ndarray) -> float:
    ok = np.isfinite(rendered)
    return float(rendered[ok].std() / max(commanded[ok].std(), 1e-9))


def _masked_median(x: np.ndarray, mask: np.ndarray) -> float:
    vals = x[: len(mask)][mask[: len(x)]]
    vals = vals[np.isfinite(vals)]
    return float(np.median(vals)) if len(vals) else math.nan


def rendered_stats(series: FaceSeries, track: MotionTrack, frames: np.ndarray,
                   open_eye: float | None, real_gap: np.ndarray | None) -> dict[str, float]:
    """Part 4 numbers for one render."""
    closure = closure_series(series.eye, open_eye)
    cmd = np.maximum(track.channel("blink_left"), track.channel("blink_right"))
    seen = blink_stats(closure, track.fps)
    out = {"frames": float(len(frames)), "no_face": float((~series.found).sum()),
           "gap_vs_jaw": corr_best(series.gap, track.channel("jaw_open"))["r"],
           "gap_vs_openness": corr_best(series.gap, openness(track))["r"],
           "gap_p95": float(np.nanpercentile(series.gap, 95)),
           "gap_at_closed": _masked_median(series.gap, motion_closed(track)),
           "gap_at_press": _masked_median(series.gap, track.channel("lips_press") > 0.5),
           "width_vs_shape": corr_at(series.width, track.channel("mouth_wide")
                                     - track.channel("mouth_round"), 0),
           "blinks_commanded": blink_stats(cmd, track.fps)["blinks"],
           "blinks_seen": seen["blinks"], "blink_rate_seen": seen["blink_rate_per_min"],
           "blink_ms_seen": seen["blink_ms"], "closure_max": float(closure.max()),
           **background_diff(frames), **shape_stats(series)}
    for j, c in enumerate(("yaw", "pitch", "roll")):
        out[f"{c}_std"] = float(np.nanstd(series.pose[:, j]))
        out[f"{c}_gain"] = gain(series.pose[:, j], track.channel(f"head_{c}"))
        out[f"{c}_r"] = corr_at(series.pose[:, j], track.channel(f"head_{c}"), 0)
    out["f2f_deg"] = head_stats(series.pose)["f2f_deg"]
    if real_gap is not None:
        best = corr_best(series.gap, real_gap)
        out["gap_vs_real"], out["gap_vs_real_best"], out["gap_vs_real_lag"] = (
            best["r"], best["r_best"], best["lag"])
    return out


def _extremes(track: MotionTrack) -> dict[str, int]:
    ch = track.channel
    return {"jaw": int(np.argmax(ch("jaw_open"))), "press": int(np.argmax(ch("lips_press"))),
            "round": int(np.argmax(ch("mouth_round"))), "wide": int(np.argmax(ch("mouth_wide"))),
            "blink": int(np.argmax(ch("blink_left"))),
            "|yaw|": int(np.argmax(np.abs(ch("head_yaw")))),
            "pitch+": int(np.argmax(ch("head_pitch"))), "pitch-": int(np.argmin(ch("head_pitch")))}


def _mouth_zoom(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The mouth region (lip corners ± 60 %), resized to the frame size."""
    from PIL import Image

    h, w = frame.shape[:2]
    if not np.all(np.isfinite(points[[61, 291, 13, 14]])):
        return np.zeros_like(frame)
    c = points[[61, 291, 13, 14]].mean(0)
    half = 0.8 * float(np.linalg.norm(points[61] - points[291]))
    box = (int(c[0] - half), int(c[1] - half), int(c[0] + half), int(c[1] + half))
    return np.asarray(Image.fromarray(frame).crop(box).resize((w, h), Image.Resampling.LANCZOS))


def contact_sheet(frames: np.ndarray, track: MotionTrack, series: FaceSeries, path: Path,
                  title: str) -> None:
    """Row 1: 8 evenly spaced frames; row 2: extremes of the motion (widest jaw, pressed lips,
    rounding, spread, deepest blink, max |yaw|, max and min pitch); row 3: row 2's mouths
    zoomed."""
    from PIL import Image, ImageDraw

    n = len(frames)
    h, w = frames.shape[1:3]
    even = [(int(round(i * (n - 1) / 7)), "") for i in range(8)]
    picks = [(min(k, n - 1), label) for label, k in _extremes(track).items()]
    zooms = [_mouth_zoom(frames[k], series.points[k]) for k, _ in picks]
    sheet = Image.new("RGB", (8 * w, 3 * h + 16), "black")
    draw = ImageDraw.Draw(sheet)
    for row, tiles in enumerate((even, picks)):
        for col, (k, label) in enumerate(tiles):
            sheet.paste(Image.fromarray(frames[k]), (col * w, 16 + row * h))
            draw.text((col * w + 3, 16 + row * h + 3), f"{label} f{k}".strip(), fill="yellow")
    for col, z in enumerate(zooms):
        sheet.paste(Image.fromarray(z), (col * w, 16 + 2 * h))
    draw.text((3, 2), title, fill="white")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def neutral_check(renderer: object, portrait: np.ndarray
                  ) -> tuple[dict[str, float], float | None]:
    """Neutral latents should reproduce the portrait: the rendered face's mouth gap, eye
    opening and pose against the portrait's own. Also returns the neutral frame's eye opening
    (the open-eye reference for blink closure in this render)."""
    from talkcli.motion.latent import neutral

    frame = render_frames(renderer, neutral(1))[0]
    a, b = measure_face(portrait), measure_face(frame)
    if a is None or b is None:
        return {"neutral_face_found": float(b is not None)}, None
    eye_b = 0.5 * (b.eye_opening_left + b.eye_opening_right)
    return {"neutral_face_found": 1.0, "neutral_d_gap": b.mouth_gap - a.mouth_gap,
            "neutral_d_eye": eye_b - 0.5 * (a.eye_opening_left + a.eye_opening_right),
            "neutral_d_yaw": b.yaw - a.yaw, "neutral_d_pitch": b.pitch - a.pitch,
            "neutral_d_roll": b.roll - a.roll}, eye_b


def render_portrait(renderer_cls: Callable[..., object], portrait: Path,
                    jobs: list[RenderJob], size: int, sheets: Path) -> Row:
    import torch

    from talkcli.face.analyze import analyze_portrait
    from talkcli.face.image import load_image

    image = load_image(portrait)
    rig = analyze_portrait(image)
    renderer = renderer_cls(rig, size=size, framing="face", device=torch.device("cpu"))
    neutral, open_value = neutral_check(renderer, image)
    out: Row = {"neutral": neutral}
    for job in jobs:
        t0 = time.perf_counter()
        track = job.track
        frames = render_frames(renderer, track.values)
        t_render = time.perf_counter() - t0
        series = track_faces(frames)
        stats = rendered_stats(series, track, frames, open_value, job.real_gap)
        stats["render_s"] = t_render
        contact_sheet(frames, track, series, sheets / f"{portrait.stem}__{job.audio_name}.png",
                      f"{portrait.stem} / {job.audio_name}")
        out[job.audio_name] = stats
    return out


# --------------------------------------------------------------------------- tables
def _fmt(v: object, spec: str = ".2f") -> str:
    if isinstance(v, bool):
        return "ok" if v else "FAIL"
    if v is None or v == "":
        return ""
    if isinstance(v, float | int | np.floating):
        return "nan" if math.isnan(float(v)) else format(float(v), spec)
    return str(v)


def print_table(title: str, rows: dict[str, Row],
                cols: list[tuple[str, str, str]]) -> None:
    """cols: (key, format spec, header label)."""
    print(f"\n{title}")
    print(f"{'':30s}" + "".join(f"{label:>8s}" for _, _, label in cols))
    for name, row in rows.items():
        print(f"{name[:30]:30s}" + "".join(f"{_fmt(row.get(k, ''), f):>8s}" for k, f, _ in cols))


def flatten_lips(lips: Row) -> Row:
    row: Row = {}
    for key in ("jaw", "jaw_x_unpressed", "rms"):
        d = lips[key]
        assert isinstance(d, dict)
        row[f"{key}_r"], row[f"{key}_rb"], row[f"{key}_lag"] = d["r"], d["r_best"], d["lag"]
    for key in ("real_closed_frac", "closed_when_real_closed", "open_when_real_open",
                "agreement"):
        row[key] = lips[key]
    return row


# --------------------------------------------------------------------------- main
def crop_audio(audio: np.ndarray, seconds: float) -> np.ndarray:
    return audio[: int(seconds * SAMPLE_RATE)]


def part_real(assets: Path) -> dict[str, Row]:
    # (talking clips only: the actor's silent acted-emotion videos have no speech to sync to)
    clips = {p.stem: real_clip(p) for p in sorted((assets / "video").glob("*.mp4"))
             if probe(p, count=False).audio_codec}
    print_table("1. real talking-head clips (human reference; measure_face tracked)",
                {k: v["human"] for k, v in clips.items()},
                [("frames", ".0f", "frames"), ("blinks", ".0f", "blinks"),
                 ("blink_rate_per_min", ".1f", "/min"), ("blink_ms", ".0f", "ms"),
                 ("yaw_std", ".2f", "yaw°"), ("pitch_std", ".2f", "pitch°"),
                 ("roll_std", ".2f", "roll°"), ("f2f_deg", ".2f", "°/fr"),
                 ("jitter_pct", ".2f", "jit%"), ("shape_drift_pct", ".2f", "drift%"),
                 ("mouth_gap_p95", ".3f", "gap95")])
    print("   (columns: blinks, /min, mean ms, head std °, °/frame, static-point jitter % "
          "interocular, rigid-shape drift %, 95th-pct mouth gap)")
    print_table("2. lip sync: motion on the clip's own audio vs the real mouth gap "
                f"(r at lag 0, best r in ±{MAX_LAG}, its lag; + = motion late)",
                {k: flatten_lips(v["lips"]) for k, v in clips.items()},
                [("jaw_r", ".2f", "jaw r"), ("jaw_rb", ".2f", "best"), ("jaw_lag", "+.0f", "lag"),
                 ("jaw_x_unpressed_r", ".2f", "j*(1-p)"), ("rms_r", ".2f", "rms r"),
                 ("rms_rb", ".2f", "best"), ("rms_lag", "+.0f", "lag"),
                 ("real_closed_frac", ".2f", "realcl"),
                 ("closed_when_real_closed", ".2f", "cl|cl"),
                 ("open_when_real_open", ".2f", "op|op"), ("agreement", ".2f", "agree")])
    return clips


def part_motion(assets: Path, quick: bool) -> dict[str, Row]:
    files = sorted((assets / "audio").glob("*.wav"))
    rows: dict[str, Row] = {}
    for f in files[:2] if quick else files:
        track, vad = generate(load_audio(f), 25.0)
        stats = motion_stats(track, vad)
        rows[f.stem] = {**stats, "pass": judge(stats)}
    keys = [k for k, v in next(iter(rows.values())).items() if isinstance(v, float)]
    median = {k: _nanmedian([float(r[k]) for r in rows.values()]) for k in keys}
    rows["median"] = {**median, "pass": judge(median)}
    table = {k: {**v, **{f"ok_{n}": p for n, p in v["pass"].items()}}
             for k, v in rows.items()}
    print_table("3. motion on dev-assets/audio (default preset, seed 0, 25 fps) vs DESIGN §6",
                table, [("blink_rate_per_min", ".1f", "/min"), ("ok_blink_rate_per_min", "", ""),
                        ("blink_ms", ".0f", "ms"), ("ok_blink_ms", "", ""),
                        ("yaw_std", ".2f", "yaw°"), ("ok_yaw_std", "", ""),
                        ("pitch_std", ".2f", "pitch°"), ("ok_pitch_std", "", ""),
                        ("roll_std", ".2f", "roll°"), ("ok_roll_std", "", ""),
                        ("f2f_deg", ".2f", "°/fr"), ("ok_f2f_deg", "", ""),
                        ("silent_frac", ".2f", "silent"), ("silent_closed", ".2f", "closed"),
                        ("ok_silent_closed", "", "")])
    print("   human: blinks 10-32/min, 100-400 ms; head std 1-14° per axis; ≈0.7°/frame; "
          "silent frames mouth closed >= 0.9")
    return rows


def render_jobs(assets: Path, clips: dict[str, Row], seconds: float,
                quick: bool) -> list[RenderJob]:
    jobs = []
    talking = [p for p in sorted((assets / "video").glob("*.mp4")) if p.stem in clips]
    for p in talking[: 1 if quick else None]:
        gap = np.array(clips[p.stem]["real_gap"], dtype=np.float64)
        jobs.append(RenderJob(p.stem, generate(load_audio(p), 25.0)[0], gap))
    wavs = sorted((assets / "audio").glob("*.wav"))
    english = [w for w in wavs if w.stem.startswith("en")][:1]
    other = [w for w in wavs if w.stem[:2] in ("fr", "zh", "de", "es")][:1]
    for w in english + ([] if quick else other):
        jobs.append(RenderJob(w.stem, generate(crop_audio(load_audio(w), seconds), 25.0)[0],
                              None))
    return jobs


def _median_row(rows: dict[str, Row]) -> Row:
    keys = {k for r in rows.values() for k, v in r.items() if isinstance(v, float)}
    return {k: _nanmedian([float(r.get(k, math.nan)) for r in rows.values()])
            for k in sorted(keys)}


def _nanmedian(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.median(finite)) if finite else math.nan


def _neutral_text(d: object) -> str:
    assert isinstance(d, dict)
    if d.get("neutral_face_found", 0.0) < 1.0 or "neutral_d_gap" not in d:
        return "no face measured"
    return (f"Δgap {d['neutral_d_gap']:+.3f}, Δeye {d['neutral_d_eye']:+.3f}, "
            f"Δyaw/pitch/roll {d['neutral_d_yaw']:+.1f}/{d['neutral_d_pitch']:+.1f}/"
            f"{d['neutral_d_roll']:+.1f}°")


def part_render(assets: Path, clips: dict[str, Row], args: argparse.Namespace
                ) -> Row | None:
    renderer_cls = load_renderer()
    if renderer_cls is None:
        return None
    jobs = render_jobs(assets, clips, args.seconds, args.quick)
    portraits = sorted((assets / "portrait").iterdir())[: 2 if args.quick else None]
    out: Row = {}
    rows: dict[str, Row] = {}
    for p in portraits:
        try:
            res = render_portrait(renderer_cls, p, jobs, args.size, args.sheets)
        except Exception as exc:  # noqa: BLE001 - report the failing portrait, go on
            print(f"   render of {p.name} failed: {type(exc).__name__}: {exc}")
            out[p.stem] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        out[p.stem] = res
        for k, v in res.items():
            if k != "neutral":
                # (the clip's name cut from its end, not its start: two VoxCeleb2 clips share
                # their first 20 characters, and one row overwrote the other)
                rows[f"{p.stem[:12]}/{k[-17:]}"] = v
        print(f"   {p.stem}: neutral latents vs portrait: {_neutral_text(res['neutral'])}")
    if rows:
        rows["median"] = _median_row(rows)
    print_table(f"4a. rendered {args.size}² frames re-measured: mouth",
                rows, [("frames", ".0f", "frames"), ("no_face", ".0f", "noface"),
                       ("gap_vs_jaw", ".2f", "r jaw"), ("gap_vs_openness", ".2f", "r j*(1-p)"),
                       ("gap_vs_real", ".2f", "r real"), ("gap_vs_real_best", ".2f", "best"),
                       ("gap_vs_real_lag", "+.0f", "lag"), ("gap_p95", ".3f", "gap95"),
                       ("gap_at_closed", ".3f", "gap@cl"), ("gap_at_press", ".3f", "gap@p"),
                       ("width_vs_shape", ".2f", "r width")])
    print_table("4b. rendered: blinks, head (rendered std ° / gain vs commanded), identity, "
                "background", rows,
                [("blinks_commanded", ".0f", "blk cmd"), ("blinks_seen", ".0f", "seen"),
                 ("blink_ms_seen", ".0f", "ms"), ("closure_max", ".2f", "clos"),
                 ("yaw_gain", ".2f", "yaw g"), ("pitch_gain", ".2f", "pitch g"),
                 ("roll_gain", ".2f", "roll g"), ("yaw_r", ".2f", "yaw r"),
                 ("f2f_deg", ".2f", "°/fr"), ("jitter_pct", ".2f", "jit%"),
                 ("shape_drift_pct", ".2f", "drift%"), ("interocular_cv_pct", ".1f", "io cv%"),
                 ("bg_diff_mean", ".2f", "bg"), ("bg_diff_max", ".1f", "bg max"),
                 ("render_s", ".1f", "s")])
    print("   4a: r of the rendered inner-lip gap with commanded jaw_open / jaw*(1-press) / "
          "the real speaker's gap (lag 0, best in ±3, lag); 95th-pct gap; median gap where the "
          "motion is closed / lips pressed; r of rendered lip width with mouth_wide - mouth_round")
    print("   4b: blinks commanded / seen (closure >= 0.5 for >= 2 frames vs the neutral render's "
          "eyes), seen duration, max closure; rendered/commanded head std; yaw r; °/frame; "
          "jitter, rigid drift, interocular CV (%); corner-patch change vs frame 0 (0-255); "
          "render seconds")
    print(f"   contact sheets: {args.sheets}/")
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer files: 2 audio files, 2 portraits, 1 clip + 1 English render")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON")
    ap.add_argument("--sheets", type=Path, default=DEFAULT_SHEETS, help="contact sheet folder")
    ap.add_argument("--assets", type=Path, default=DEFAULT_ASSETS, help="dev-assets folder")
    ap.add_argument("--size", type=int, default=256, help="render size (face framing)")
    ap.add_argument("--seconds", type=float, default=8.0, help="audio seconds per render")
    ap.add_argument("--no-render", action="store_true", help="skip part 4")
    return ap.parse_args(argv)


def _clean(obj: object) -> object:
    """JSON-safe: NaN -> None, numpy scalars -> float."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, float | np.floating):
        return None if math.isnan(float(obj)) else round(float(obj), 5)
    return obj


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.assets / "video").is_dir() or not (args.assets / "audio").is_dir():
        print(f"skip realism benchmark: dev-assets not found at {args.assets}")
        return 0
    t0 = time.perf_counter()
    clips = part_real(args.assets)
    results: Row = {
        "human_reference": {k: v["human"] for k, v in clips.items()},
        "lip_sync": {k: v["lips"] for k, v in clips.items()},
        "thresholds": {"blink_on": BLINK_ON, "blink_min_frames": BLINK_MIN_FRAMES,
                       "blink_edge": BLINK_EDGE, "real_closed_gap": REAL_CLOSED_GAP,
                       "jaw_closed": JAW_CLOSED, "max_lag": MAX_LAG},
        "human_ranges": HUMAN,
    }
    results["motion"] = part_motion(args.assets, args.quick)
    if not args.no_render:
        results["render"] = part_render(args.assets, clips, args)
    results["quick"] = bool(args.quick)
    results["elapsed_s"] = time.perf_counter() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(_clean(results), indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {args.out} ({results['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
