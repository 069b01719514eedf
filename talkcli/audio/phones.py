"""Timed phones from speech with pocketsphinx (DESIGN §1).

Without a transcript: all-phone decoding (context-independent phones, beam = pbeam =
1e-20, lw 2.0), run on segments of at most ~30 s cut at the quietest point, which bounds
memory and keeps one bad stretch (the "collapse" failure) from spoiling the rest.
With a transcript: word-level forced alignment (`set_align_text`) over the clip; words
missing from the dictionary are dropped; if alignment fails, all-phone is used.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from talkcli.errors import EnvironmentProblem
from talkcli.timing import SAMPLE_RATE

log = logging.getLogger(__name__)

PS_RATE = 100  # pocketsphinx frames per second
MAX_SEGMENT_S = 30.0
MIN_SEGMENT_S = 12.0
MAX_WORDS_PER_S = 10.0  # a transcript with more words per second of audio is not aligned
MAX_ALIGN_S = 300.0  # forced alignment over longer clips falls back to all-phone
_LOCK = threading.Lock()  # the cached decoders are shared: one utterance at a time


@dataclass(frozen=True)
class Phone:
    """A phone (CMU ARPAbet, lower case; "sil" for silence/noise) from start to end seconds."""

    phone: str
    start: float
    end: float


def _model_paths() -> tuple[str, str, str]:
    try:
        import pocketsphinx
    except ImportError as exc:  # pragma: no cover - a dependency
        raise EnvironmentProblem(f"pocketsphinx is not installed: {exc}") from None
    root = pocketsphinx.get_model_path()
    hmm = os.path.join(root, "en-us", "en-us")
    lm = os.path.join(root, "en-us", "en-us-phone.lm.bin")
    dic = os.path.join(root, "en-us", "cmudict-en-us.dict")
    for p in (hmm, lm, dic):
        if not os.path.exists(p):
            raise EnvironmentProblem(f"pocketsphinx model file missing: {p}")
    return hmm, lm, dic


@functools.cache
def _allphone_decoder() -> tuple[Any, str]:
    from pocketsphinx import Decoder

    hmm, lm, _ = _model_paths()
    dec = Decoder(hmm=hmm, allphone=lm, beam=1e-20, pbeam=1e-20, lw=2.0,
                  samprate=SAMPLE_RATE, loglevel="FATAL")
    return dec, dec.get_cmn(False)


@functools.cache
def _align_decoder() -> tuple[Any, str]:
    from pocketsphinx import Decoder

    hmm, _, dic = _model_paths()
    dec = Decoder(hmm=hmm, dict=dic, samprate=SAMPLE_RATE, bestpath=False, loglevel="FATAL")
    return dec, dec.get_cmn(False)


def _decode(dec: Any, cmn: str, data: bytes) -> None:
    """One utterance from a fresh front end and the initial cepstral mean: CMN state would
    otherwise carry over from the previous call and make results depend on history."""
    dec.reinit_feat()
    dec.set_cmn(cmn)
    dec.start_utt()
    dec.process_raw(data, full_utt=True)
    dec.end_utt()


def _norm(name: str) -> str:
    p = name.lower()
    p = re.sub(r"\d", "", p)
    if p in ("sil", "<sil>", "+nsn+", "+spn+", "nsn", "spn", "+garbage+", "<s>", "</s>") or \
            p.startswith("+"):
        return "sil"
    return p


def _pcm16(audio: np.ndarray) -> bytes:
    """16-bit PCM with a fixed, tiny dither: digital silence (exact zeros, common in
    synthetic speech) breaks pocketsphinx's feature normalisation and alignment."""
    dither = np.random.default_rng(20240601).normal(0.0, 2.0, audio.shape[0])
    pcm = np.clip(audio, -1.0, 1.0) * 32767.0 + dither
    return np.clip(np.round(pcm), -32768, 32767).astype("<i2").tobytes()


def _cut_points(n_samples: int, rms_db: np.ndarray | None) -> list[int]:
    """Segment boundaries (samples) at most MAX_SEGMENT_S apart, at the quietest 10 ms."""
    cuts = [0]
    hop = SAMPLE_RATE // PS_RATE
    while n_samples - cuts[-1] > MAX_SEGMENT_S * SAMPLE_RATE:
        lo = cuts[-1] + int(MIN_SEGMENT_S * SAMPLE_RATE)
        hi = cuts[-1] + int(MAX_SEGMENT_S * SAMPLE_RATE)
        if rms_db is not None and rms_db.size:
            k0, k1 = lo // hop, min(hi // hop, rms_db.size)
            if k1 > k0:
                # quietest 200 ms stretch
                win = np.convolve(rms_db[k0:k1], np.ones(20) / 20, mode="same")
                cuts.append((k0 + int(np.argmin(win))) * hop)
                continue
        cuts.append(hi)
    cuts.append(n_samples)
    return cuts


def allphone(audio: np.ndarray, rms_db: np.ndarray | None = None) -> list[Phone]:
    """All-phone recognition in ≤ 30 s segments."""
    with _LOCK:
        return _allphone(audio, rms_db)


def _allphone(audio: np.ndarray, rms_db: np.ndarray | None) -> list[Phone]:
    dec, cmn = _allphone_decoder()
    out: list[Phone] = []
    cuts = _cut_points(int(audio.shape[0]), rms_db)
    for s0, s1 in zip(cuts[:-1], cuts[1:], strict=True):
        if s1 - s0 < SAMPLE_RATE // 10:
            out.append(Phone("sil", s0 / SAMPLE_RATE, s1 / SAMPLE_RATE))
            continue
        _decode(dec, cmn, _pcm16(audio[s0:s1]))
        off = s0 / SAMPLE_RATE
        for seg in dec.seg():
            start = off + seg.start_frame / PS_RATE
            end = off + (seg.end_frame + 1) / PS_RATE
            out.append(Phone(_norm(seg.word), start, min(end, s1 / SAMPLE_RATE)))
    return _fill(out, audio.shape[0] / SAMPLE_RATE)


def _fill(phones: list[Phone], duration: float) -> list[Phone]:
    """Sort, clip to [0, duration] and fill gaps with silence."""
    phones = sorted(phones, key=lambda p: p.start)
    out: list[Phone] = []
    t = 0.0
    for p in phones:
        s, e = max(p.start, t), min(p.end, duration)
        if s - t > 1e-6:
            out.append(Phone("sil", t, s))
        if e > s:
            out.append(Phone(p.phone, s, e))
            t = e
    if duration - t > 1e-6:
        out.append(Phone("sil", t, duration))
    return out


def transcript_words(text: str) -> list[str]:
    text = text.lower().replace("’", "'")
    return [w.strip("'") for w in re.findall(r"[a-z0-9']+", text) if w.strip("'")]


def align(audio: np.ndarray, transcript: str) -> list[Phone] | None:
    """Forced alignment of a known transcript; None when it cannot be done."""
    with _LOCK:
        return _align(audio, transcript)


def _align(audio: np.ndarray, transcript: str) -> list[Phone] | None:
    duration = audio.shape[0] / SAMPLE_RATE
    if duration > MAX_ALIGN_S:
        log.warning("transcript alignment is limited to %.0f s; using all-phone", MAX_ALIGN_S)
        return None
    words = transcript_words(transcript)
    if len(words) > MAX_WORDS_PER_S * duration + 20:
        # Not this clip's words (fast speech is ~6 words/s); aligning them would cost
        # minutes (a 1 MB text took 144 s on a 13 s clip) for nothing.
        log.warning("transcript has %d words for %.1f s of audio; using all-phone",
                    len(words), duration)
        return None
    dec, cmn = _align_decoder()
    words = [w for w in words if dec.lookup_word(w) is not None]
    if not words:
        return None
    data = _pcm16(audio)
    try:
        dec.set_align_text(" ".join(words))
        _decode(dec, cmn, data)
        dec.set_alignment()
        _decode(dec, cmn, data)
        alignment = dec.get_alignment()
    except (RuntimeError, ValueError) as exc:
        log.warning("forced alignment failed (%s); using all-phone", exc)
        return None
    if alignment is None:
        return None
    out: list[Phone] = []
    for word in alignment:
        for ph in word:
            start = ph.start / PS_RATE
            out.append(Phone(_norm(ph.name), start, start + ph.duration / PS_RATE))
    if not out:
        return None
    return _fill(out, duration)


def recognise(audio: np.ndarray, transcript: str | None = None,
              rms_db: np.ndarray | None = None) -> list[Phone]:
    """Timed phones: forced alignment when a transcript is given, else all-phone."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size < SAMPLE_RATE // 10 or max(float(audio.max()), -float(audio.min())) < 1e-4:
        return [Phone("sil", 0.0, audio.shape[0] / SAMPLE_RATE)]
    if transcript and transcript.strip():
        phones = align(audio, transcript)
        if phones is not None:
            return phones
    return allphone(audio, rms_db)


def phone_labels(phones: list[Phone], frames: int, rate: float) -> np.ndarray:
    """Phone name per analysis frame (frame k at time k / rate)."""
    labels = np.full(frames, "sil", dtype=object)
    for p in phones:
        k0 = max(0, int(round(p.start * rate)))
        k1 = min(frames, int(round(p.end * rate)))
        if k1 > k0:
            labels[k0:k1] = p.phone
    return labels


# --------------------------------------------------------------------------- streaming
STREAM_MAX_UTT_S = 20.0  # an utterance is cut here at the latest (bounded search memory)
STREAM_MIN_UTT_S = 4.0  # ... and at a pause once it is this long
# Initial cepstral mean for live decoding: the mean of the embedded sample speech (its
# whole-clip CMN after decoding). Live CMN starts from the model's default (40,3,-1,0...)
# otherwise and takes seconds to converge: measured on the first 10 s of a real English
# clip, the phone-opening track of the live decoding correlated 0.67 with whole-clip
# decoding from the default start and 0.79 from this one.
STREAM_INITIAL_CMN = ("58.9641,-4.02858,7.42282,19.5411,-16.582,7.08013,-24.0525,3.16612,"
                      "-10.9821,7.10998,-7.10539,3.14274,6.54165")


def _new_allphone_decoder() -> Any:
    """A private all-phone decoder (the streaming recogniser cannot share the cached one)."""
    from pocketsphinx import Decoder

    hmm, lm, _ = _model_paths()
    return Decoder(hmm=hmm, allphone=lm, beam=1e-20, pbeam=1e-20, lw=2.0,
                   samprate=SAMPLE_RATE, loglevel="FATAL")


class PhoneStream:
    """Incremental all-phone recognition: audio pushed in, a phone label per 10 ms out.

    pocketsphinx decodes an utterance as its audio arrives (`process_raw` without
    `full_utt`); after each push the partial best path gives labels up to the audio's end.
    Labels of the last ~100 ms still change as more audio arrives (measured on the sample:
    87 % of the 100 ms-old labels, 98 % of the 200 ms-old ones agree with the final
    decoding), so callers read them a bounded look-ahead behind the newest audio.
    Utterances are cut at pauses (`pause=True` from the caller's voice activity) once
    they are STREAM_MIN_UTT_S long, and at STREAM_MAX_UTT_S: search memory stays bounded.
    Audio is fed in whole 10 ms frames (a remainder waits for the next push), so frame k
    of the labels always covers samples k*160 .. k*160+159 of everything pushed.
    """

    def __init__(self) -> None:
        self._dec = _new_allphone_decoder()
        self._dec.set_cmn(STREAM_INITIAL_CMN)
        self._rng = np.random.default_rng(20240601)
        self._hop = SAMPLE_RATE // PS_RATE
        self._pending = np.zeros(0, np.float32)
        self.utt_start = 0  # absolute 10 ms frame where the current utterance began
        self._utt_frames = 0  # 10 ms frames fed into the current utterance
        self._in_utt = False

    def _pcm(self, audio: np.ndarray) -> bytes:
        dither = self._rng.normal(0.0, 2.0, audio.shape[0])
        pcm = np.clip(audio, -1.0, 1.0) * 32767.0 + dither
        return np.clip(np.round(pcm), -32768, 32767).astype("<i2").tobytes()

    def push(self, audio: np.ndarray, pause: bool = False) -> tuple[int, list[str]]:
        """Feed 16 kHz samples; returns (first frame, labels): the current best labels of
        the utterance the audio went into, from its first 10 ms frame to the newest.
        `pause`: the audio pushed ends in a pause, a good place to close the utterance."""
        audio = np.concatenate([self._pending, np.asarray(audio, np.float32).reshape(-1)])
        whole = (audio.shape[0] // self._hop) * self._hop
        self._pending = audio[whole:]
        start = self.utt_start
        if whole == 0:
            return start, []
        if not self._in_utt:
            self._dec.start_utt()
            self._in_utt = True
            self._utt_frames = 0
        self._dec.process_raw(self._pcm(audio[:whole]), full_utt=False)
        self._utt_frames += whole // self._hop
        n = self._utt_frames
        utt_s = n / PS_RATE
        if utt_s >= STREAM_MAX_UTT_S or (pause and utt_s >= STREAM_MIN_UTT_S):
            self._dec.end_utt()  # the final best path of this utterance
            self._in_utt = False
            self.utt_start += n
        return start, self._labels(n)

    def _labels(self, n: int) -> list[str]:
        labels = ["sil"] * n
        for seg in self._dec.seg() or []:
            k0, k1 = max(0, int(seg.start_frame)), min(n, int(seg.end_frame) + 1)
            labels[k0:k1] = [_norm(seg.word)] * max(0, k1 - k0)
        return labels
