"""A readable overview of a motion track: waveform and energy, phones, main channels."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from talkcli.audio.features import RATE
from talkcli.motion.latent import MotionTrack
from talkcli.timing import SAMPLE_RATE

if TYPE_CHECKING:
    from talkcli.motion.generator import Analysis


def plot_motion(path: Path, audio: np.ndarray, track: MotionTrack,
                analysis: Analysis | None = None, max_seconds: float = 60.0) -> None:
    """Write a PNG: waveform + RMS, recognised phones, lips, head, eyes and brows.

    Long clips show their first `max_seconds` so the phones stay legible.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dur = min(audio.shape[0] / SAMPLE_RATE, max_seconds)
    fps = track.fps
    nf = min(track.frames, int(np.ceil(dur * fps)))
    t = np.arange(nf) / fps
    fig, axes = plt.subplots(5, 1, figsize=(max(10.0, min(dur * 1.4, 40.0)), 11), sharex=True,
                             gridspec_kw={"height_ratios": [1.2, 0.6, 1.2, 1.2, 1.0]})
    ax = axes[0]
    ns = int(dur * SAMPLE_RATE)
    step = max(1, ns // 20000)
    ax.plot(np.arange(0, ns, step) / SAMPLE_RATE, audio[:ns:step], lw=0.4, color="0.6")
    if analysis is not None:
        f = analysis.features
        k = int(dur * RATE)
        ax.plot(np.arange(k) / RATE, f.rms[:k] / (f.rms.max() + 1e-9), color="tab:red", lw=1,
                label="RMS (normalised)")
        tk = np.arange(k) / RATE
        # shade exactly the frames the voice-activity decision left out (features.vad)
        ax.fill_between(tk, -1, 1, where=~f.vad[:k], color="0.88", step="mid", lw=0,
                        label="no voice activity")
        if f.speech_prob is not None:
            ax.plot(tk, 2 * f.speech_prob[:k] - 1, color="tab:green", lw=0.8, alpha=0.7,
                    label="speech probability")
        ax.legend(loc="upper right", fontsize=7)
    ax.set_ylim(-1, 1)
    ax.set_ylabel("audio")
    ax = axes[1]
    ax.set_yticks([])
    ax.set_ylabel("phones")
    if analysis is not None:
        for ph in analysis.phones:
            if ph.start >= dur:
                break
            if ph.phone == "sil":
                continue
            col = "tab:red" if ph.phone in ("p", "b", "m") else "tab:blue"
            ax.axvspan(ph.start, min(ph.end, dur), 0.1, 0.9, color=col, alpha=0.15)
            ax.text((ph.start + min(ph.end, dur)) / 2, 0.5, ph.phone, ha="center",
                    va="center", fontsize=6, color=col)
    ax = axes[2]
    for name in ("jaw_open", "mouth_round", "mouth_wide", "lips_press", "lip_tuck"):
        ax.plot(t, track.channel(name)[:nf], label=name, lw=1)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("lips")
    ax.legend(loc="upper right", fontsize=7, ncol=5)
    ax = axes[3]
    for name in ("head_yaw", "head_pitch", "head_roll", "gaze_yaw", "gaze_pitch"):
        ax.plot(t, track.channel(name)[:nf], label=name, lw=1,
                ls="--" if name.startswith("gaze") else "-")
    ax.set_ylabel("degrees")
    ax.legend(loc="upper right", fontsize=7, ncol=5)
    ax = axes[4]
    for name in ("blink_left", "brow_raise", "smile", "brow_frown"):
        ax.plot(t, track.channel(name)[:nf], label=name, lw=1)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("eyes / brows")
    ax.set_xlabel("time (s)")
    ax.legend(loc="upper right", fontsize=7, ncol=4)
    axes[0].set_title(f"talkcli motion: {track.frames} frames at {fps:g} fps"
                      + (f" (first {max_seconds:g} s)" if nf < track.frames else ""))
    fig.tight_layout()
    with open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=90)
    plt.close(fig)
