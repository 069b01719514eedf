"""Motion quality benchmark (issue #3 part 8).

1. Lip sync against exact phone timing: English sentences rich in p/b/m are synthesised
   with espeak-ng through libespeak-ng (ctypes), whose phoneme events carry the audio
   position of every phone. Measured with and without the transcript:
   - p/b/m closure recall: a ground-truth p/b/m counts as recalled when, within ±1 video
     frame of its span, lips_press > 0.5 or jaw_open < 0.05;
   - open/closed agreement per frame (ground-truth opening > 0.15 vs jaw_open > 0.15 and
     lips_press < 0.5);
   - Pearson correlation of jaw_open with the ground-truth opening (DESIGN §1 table on the
     true phones, σ 30 ms smoothing but 10 ms inside p/b/m, mouth leading by 40 ms).
2. Blink rate/duration and head statistics on ../shared/dev-assets/audio (skipped if absent).
3. Real-time factor of the whole motion stage (analysis + phones + generation).

Skips cleanly (exit 0) when libespeak-ng is not installed. Writes bench/results/motion.json.
Run: `make bench-motion` (or `.venv/bin/python bench/motion_quality.py`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import numpy as np  # noqa: E402
from scipy.ndimage import gaussian_filter1d  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from talkcli.audio.io import load_audio  # noqa: E402
from talkcli.config import load_preset  # noqa: E402
from talkcli.motion.generator import MotionGenerator  # noqa: E402
from talkcli.motion.lips import VISEMES  # noqa: E402
from talkcli.timing import SAMPLE_RATE  # noqa: E402

FPS = 25.0
DEV_AUDIO = ROOT.parent / "shared" / "dev-assets" / "audio"
RESULTS = ROOT / "bench" / "results" / "motion.json"

SENTENCES = [
    "Peter picked a big bag of purple plums from the market.",
    "My mother baked a pumpkin pie for the baby boy.",
    "Bob may bring the map back by the bumpy path.",
    "Please bring me both maps, but keep them both in the blue box.",
    "The bumblebee buzzed past Pam's pink umbrella at the beach.",
    "Maybe the best part is simply looking back at our beautiful blue planet.",
    "Big brown bears ambled amiably by the marble pump.",
    "Emma put the pepper and the mop by the apple tub.",
    "Ben bought a bamboo lamp and some maple syrup in Memphis.",
    "Palm trees bend in the breeze by the impressive promenade.",
]

# espeak-ng phoneme mnemonics -> ARPAbet (what the opening table knows)
ESPEAK_TO_ARPA = {
    "p": "p", "b": "b", "m": "m", "f": "f", "v": "v", "w": "w", "t": "t", "d": "d",
    "k": "k", "g": "g", "n": "n", "N": "ng", "s": "s", "z": "z", "S": "sh", "Z": "zh",
    "tS": "ch", "dZ": "jh", "T": "th", "D": "dh", "h": "hh", "l": "l", "r": "r", "j": "y",
    "t#": "t", "d#": "d", "*": "t", "l/": "l", "r-": "r", "m-": "m", "n-": "n",
    "@": "ah", "@2": "ah", "@5": "ah", "3": "er", "3:": "er", "a": "ae", "a#": "ah",
    "aa": "aa", "A:": "aa", "A@": "aa", "aI": "ay", "aU": "aw", "E": "eh", "e@": "eh",
    "eI": "ey", "I": "ih", "I2": "ih", "I#": "ih", "i": "iy", "i:": "iy", "i@": "iy",
    "0": "aa", "O": "ao", "O:": "ao", "O@": "ao", "OI": "oy", "oU": "ow", "o@": "ao",
    "U": "uh", "U@": "uh", "u:": "uw", "V": "ah", "@L": "l", "@r": "er", "3r": "er",
}


class _Event(ctypes.Structure):
    class _Id(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p),
                    ("string", ctypes.c_char * 8)]

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


class Espeak:
    """libespeak-ng in synchronous mode with phoneme events."""

    EVENT_PHONEME = 7

    def __init__(self) -> None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        self.lib = ctypes.CDLL(name)
        self.rate = self.lib.espeak_Initialize(2, 500, None, 0x0001)
        if self.rate <= 0:
            raise OSError("espeak_Initialize failed")
        self._cbtype = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short),
                                        ctypes.c_int, ctypes.POINTER(_Event))
        self._cb = self._cbtype(self._callback)
        self.lib.espeak_SetSynthCallback(self._cb)
        self.lib.espeak_SetVoiceByName(b"en-us")
        self._wav: list[np.ndarray] = []
        self._events: list[tuple[float, str]] = []

    def _callback(self, wav, n, events) -> int:  # type: ignore[no-untyped-def]
        if n > 0:
            self._wav.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != 0:
            e = events[i]
            if e.type == self.EVENT_PHONEME:
                self._events.append((e.audio_position / 1000.0,
                                     e.id.string.decode("ascii", "replace")))
            i += 1
        return 0

    def say(self, text: str) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
        self._wav, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        self.lib.espeak_Synth(data, len(data), 0, 1, 0, 0, None, None)
        self.lib.espeak_Synchronize()
        wav = (np.concatenate(self._wav) if self._wav else np.zeros(1, np.int16))
        x = wav.astype(np.float32) / 32768.0
        import soxr

        x = soxr.resample(x, self.rate, SAMPLE_RATE).astype(np.float32)
        dur = x.shape[0] / SAMPLE_RATE
        ev = sorted(self._events)
        phones = []
        for (t, name), nxt in zip(ev, ev[1:] + [(dur, "")], strict=True):
            arpa = "sil" if name.startswith("_") or not name.strip() else \
                ESPEAK_TO_ARPA.get(name, ESPEAK_TO_ARPA.get(name.rstrip("#2"), "other"))
            if nxt[0] > t:
                phones.append((arpa, t, nxt[0]))
        # pad with silence so the voice has room before and after
        pad = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
        return (np.concatenate([pad, x, pad]),
                [(p, s + 0.3, e + 0.3) for p, s, e in phones])


def _gt_column(phones: list[tuple[str, float, float]], frames: int, col: int) -> np.ndarray:
    """Ground-truth rounding (col 1) or spread (col 2) at frame times, σ 40 ms, 40 ms lead."""
    rate = 100.0
    n = int(frames / FPS * rate) + 20
    x = np.zeros(n)
    for p, s, e in phones:
        x[int(round(s * rate)):int(round(e * rate))] = VISEMES.get(p, (0.35, 0, 0, 0))[col]
    x = gaussian_filter1d(x, 4.0)
    t = np.arange(frames) / FPS + 0.04
    return np.interp(t * rate, np.arange(n), x)


def _gt_opening(phones: list[tuple[str, float, float]], frames: int) -> np.ndarray:
    """Ground-truth opening at video frame times (table, 30 ms smoothing, 40 ms lead)."""
    rate = 100.0
    n = int(frames / FPS * rate) + 20
    x = np.zeros(n)
    closed = np.zeros(n)
    for p, s, e in phones:
        x[int(round(s * rate)):int(round(e * rate))] = VISEMES.get(p, (0.35, 0, 0, 0))[0]
        if p in ("p", "b", "m"):
            closed[int(round(s * rate)):int(round(e * rate))] = 1.0
    # real mouths hold closures: short smoothing inside p/b/m (DESIGN §1)
    w = np.clip(2 * gaussian_filter1d(closed, 1.0), 0, 1)
    x = (1 - w) * gaussian_filter1d(x, 3.0) + w * gaussian_filter1d(x, 1.0)
    t = np.arange(frames) / FPS + 0.04
    return np.interp(t * rate, np.arange(n), x)


def lip_scores(track, phones) -> dict[str, float]:  # type: ignore[no-untyped-def]
    jaw, press = track.channel("jaw_open"), track.channel("lips_press")
    closed = (press > 0.5) | (jaw < 0.05)
    hits, total = 0, 0
    for p, s, e in phones:
        if p not in ("p", "b", "m"):
            continue
        total += 1
        f0 = int(np.floor(s * FPS)) - 1
        f1 = int(np.ceil(e * FPS)) + 1
        if closed[max(0, f0):min(len(closed), f1 + 1)].any():
            hits += 1
    # precision: runs of predicted closure (lips_press > 0.5) that touch a true p/b/m
    pbm = np.zeros(track.frames + 2, bool)
    for p, s, e in phones:
        if p in ("p", "b", "m"):
            pbm[max(0, int(np.floor(s * FPS)) - 1):int(np.ceil(e * FPS)) + 2] = True
    pressed = press > 0.5
    runs = np.flatnonzero(np.diff(np.concatenate([[0], pressed.astype(int), [0]])) == 1)
    ends = np.flatnonzero(np.diff(np.concatenate([[0], pressed.astype(int), [0]])) == -1)
    good = sum(1 for a, b in zip(runs, ends, strict=True) if pbm[a:b].any())
    gt = _gt_opening(phones, track.frames)
    speech = gt > 0.0
    gt_open = gt > 0.15
    pr_open = (jaw > 0.15) & (press < 0.5)
    agree = float((gt_open == pr_open).mean())
    agree_speech = float((gt_open == pr_open)[speech].mean()) if speech.any() else float("nan")
    r = float(np.corrcoef(jaw, gt)[0, 1]) if jaw.std() > 0 else 0.0
    rr = float(np.corrcoef(track.channel("mouth_round"), _gt_column(phones, track.frames, 1))[0, 1])
    rw = float(np.corrcoef(track.channel("mouth_wide"), _gt_column(phones, track.frames, 2))[0, 1])
    return {"closures": total, "closure_hits": hits, "press_runs": len(runs),
            "press_runs_true": good, "agreement": agree,
            "agreement_speech": agree_speech, "r": r, "round_r": rr, "wide_r": rw}


def blink_head_stats(track) -> dict[str, float]:  # type: ignore[no-untyped-def]
    b = track.channel("blink_left")
    dur_s = track.frames / FPS
    on = np.flatnonzero((b[1:] > 0.5) & (b[:-1] <= 0.5)) + 1
    if b[0] > 0.5:
        on = np.concatenate([[0], on])
    durations = []
    for k in on:
        j0 = k
        while j0 > 0 and b[j0 - 1] > 0.1:
            j0 -= 1
        j1 = k
        while j1 < len(b) and b[j1] > 0.1:
            j1 += 1
        durations.append((j1 - j0) / FPS * 1000.0)
    head = track.values[:, :3]
    d = np.sqrt((np.diff(head, axis=0) ** 2).sum(axis=1))
    return {
        "blinks": int(len(on)), "blink_rate_per_min": len(on) / dur_s * 60.0,
        "blink_ms_median": float(np.median(durations)) if durations else float("nan"),
        "yaw_std": float(head[:, 0].std()), "pitch_std": float(head[:, 1].std()),
        "roll_std": float(head[:, 2].std()), "f2f_deg": float(d.mean()),
        "f2f_p99_deg": float(np.percentile(d, 99)),
    }


def lips_bench(gen: MotionGenerator) -> dict[str, object] | None:
    try:
        tts = Espeak()
    except OSError as exc:
        print(f"skip lip benchmark: libespeak-ng not available ({exc})")
        return None
    out: dict[str, object] = {}
    for mode in ("transcript", "no_transcript"):
        rows = []
        for text in SENTENCES:
            audio, phones = tts.say(text)
            track = gen.generate(audio, text if mode == "transcript" else None)
            rows.append(lip_scores(track, phones))
        hits = sum(int(r["closure_hits"]) for r in rows)
        total = sum(int(r["closures"]) for r in rows)
        out[mode] = {
            "closure_recall": hits / max(total, 1), "closures": total,
            "press_precision": sum(int(r["press_runs_true"]) for r in rows)
            / max(1, sum(int(r["press_runs"]) for r in rows)),
            "agreement": float(np.mean([r["agreement"] for r in rows])),
            "agreement_speech": float(np.mean([r["agreement_speech"] for r in rows])),
            "jaw_r": float(np.mean([r["r"] for r in rows])),
            "round_r": float(np.mean([r["round_r"] for r in rows])),
            "wide_r": float(np.mean([r["wide_r"] for r in rows])),
        }
    return out


def real_mouths() -> dict[str, dict[str, float]] | None:
    """jaw_open vs the inner-lip gap of the real speakers in dev-assets/video (face mesh on
    every frame), next to loudness alone. Lags of ±2 frames are searched because some
    clips carry an audio/video offset; the lag-0 value is reported too."""
    import subprocess

    video_dir = DEV_AUDIO.parent / "video"
    if not video_dir.is_dir():
        return None
    try:
        from talkcli.audio.features import analyse, frame_features
        from talkcli.face.analyze import measure_face
        from talkcli.video.ffmpeg_bin import ffmpeg_exe
        from talkcli.video.probe import probe as probe_media
    except ImportError as exc:
        print(f"skip real-mouth comparison: {exc}")
        return None
    out: dict[str, dict[str, float]] = {}
    for path in sorted(video_dir.glob("*.mp4")):
        info = probe_media(path, count=False)
        if not (info.width and info.height and info.audio_codec):
            continue   # (the actor's silent acted-emotion videos: nothing to sync to)
        size = (info.width, info.height)
        raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-r", str(FPS),
                              "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
                             capture_output=True, check=True).stdout
        frames = np.frombuffer(raw, np.uint8).reshape(-1, size[1], size[0], 3)
        gaps, prev = [], None
        for im in frames:
            m = measure_face(im, prev)
            prev = m
            gaps.append(m.mouth_gap if m is not None else np.nan)
        gap = np.array(gaps)
        audio = load_audio(path)
        track = MotionGenerator(load_preset("natural"), fps=FPS, seed=0).generate(audio)
        rms = frame_features(analyse(audio), FPS, track.frames).rms
        n = min(track.frames, gap.shape[0])
        ok = np.isfinite(gap[:n])

        def r(x: np.ndarray, lag: int, n: int = n, ok: np.ndarray = ok,
              gap: np.ndarray = gap) -> float:
            return float(np.corrcoef(np.roll(x, -lag)[:n][ok], gap[:n][ok])[0, 1])

        jaw = track.channel("jaw_open")
        best = max(range(-2, 3), key=lambda lag: r(jaw, lag))
        out[path.stem] = {"jaw_r_lag0": r(jaw, 0), "rms_r_lag0": r(rms, 0),
                          "best_lag_frames": float(best), "jaw_r_best": r(jaw, best),
                          "rms_r_best": r(rms, best)}
    return out


def main() -> int:
    gen = MotionGenerator(load_preset("natural"), fps=FPS, seed=0)
    results: dict[str, object] = {"fps": FPS, "preset": "natural"}
    lips = lips_bench(gen)
    if lips is not None:
        results["lips"] = lips
        print("\nlip sync vs espeak-ng phone timing "
              f"({len(SENTENCES)} sentences, {lips['transcript']['closures']} p/b/m)")
        print(f"{'mode':15s} {'pbm recall':>10s} {'press prec':>10s} {'agree':>7s} "
              f"{'agree(sp)':>9s} {'jaw r':>6s} {'round r':>7s} {'wide r':>6s}")
        for mode, r in lips.items():
            print(f"{mode:15s} {r['closure_recall']:10.2f} {r['press_precision']:10.2f} "
                  f"{r['agreement']:7.2f} "
                  f"{r['agreement_speech']:9.2f} {r['jaw_r']:6.2f} {r['round_r']:7.2f} "
                  f"{r['wide_r']:6.2f}")

    if "--lips-only" in sys.argv:
        return 0
    real = real_mouths()
    if real:
        results["real_mouths"] = real
        print("\njaw_open vs real speakers' inner-lip gap (dev-assets/video, face mesh)")
        print(f"{'clip':36s} {'jaw r':>6s} {'RMS r':>6s} {'lag':>4s} {'jaw r@lag':>9s} "
              f"{'RMS r@lag':>9s}")
        for name, s in real.items():
            print(f"{name:36s} {s['jaw_r_lag0']:6.2f} {s['rms_r_lag0']:6.2f} "
                  f"{s['best_lag_frames']:4.0f} {s['jaw_r_best']:9.2f} {s['rms_r_best']:9.2f}")
    if DEV_AUDIO.is_dir():
        files = sorted(DEV_AUDIO.glob("*.wav"))
        stats = {}
        total_audio, total_time = 0.0, 0.0
        print("\nblinks and head on dev-assets/audio (natural, seeds 0-4 pooled)")
        print(f"{'file':28s} {'blinks/min':>10s} {'blink ms':>8s} {'yaw':>5s} {'pitch':>5s} "
              f"{'roll':>5s} {'f2f':>5s}")
        for f in files:
            audio = load_audio(f)
            per_seed = []
            for seed in range(5):
                g = MotionGenerator(load_preset("natural"), fps=FPS, seed=seed)
                t0 = time.perf_counter()
                track = g.generate(audio)
                total_time += time.perf_counter() - t0
                total_audio += audio.shape[0] / SAMPLE_RATE
                per_seed.append(blink_head_stats(track))
            s = {k: float(np.nanmean([p[k] for p in per_seed])) for k in per_seed[0]}
            stats[f.stem] = s
            print(f"{f.stem:28s} {s['blink_rate_per_min']:10.1f} {s['blink_ms_median']:8.0f} "
                  f"{s['yaw_std']:5.2f} {s['pitch_std']:5.2f} {s['roll_std']:5.2f} "
                  f"{s['f2f_deg']:5.2f}")
        keys = next(iter(stats.values())).keys()
        med = {k: float(np.median([s[k] for s in stats.values()])) for k in keys}
        stats["median"] = med
        print(f"{'median':28s} {med['blink_rate_per_min']:10.1f} {med['blink_ms_median']:8.0f} "
              f"{med['yaw_std']:5.2f} {med['pitch_std']:5.2f} {med['roll_std']:5.2f} "
              f"{med['f2f_deg']:5.2f}")
        print("human (DESIGN §6): blinks 10-32/min (median 26 talking), 100-400 ms "
              "(median 173); yaw/pitch/roll std 4.2/3.1/3.3 (1-14); f2f ~0.7 deg")
        results["dev_assets"] = stats
        # real-time factor on one long clip (all dev clips concatenated x4)
        long = np.concatenate([load_audio(f) for f in files] * 4)
        t0 = time.perf_counter()
        gen.generate(long)
        el = time.perf_counter() - t0
        rtf = el / (long.shape[0] / SAMPLE_RATE)
        results["rtf"] = {"audio_s": long.shape[0] / SAMPLE_RATE, "elapsed_s": el, "rtf": rtf,
                          "threads": os.environ.get("OMP_NUM_THREADS")}
        print(f"\nmotion stage real-time factor: {rtf:.3f} "
              f"({long.shape[0] / SAMPLE_RATE:.0f} s of audio in {el:.1f} s)")
    else:
        print(f"skip dev-assets statistics: {DEV_AUDIO} not found")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
