"""Silero VAD (v6, MIT licence) speech probability, with the weights shipped in its wheel.

The `silero-vad` wheel carries the model as TorchScript and ONNX. Its own runtime calls
the TorchScript model once per 32 ms chunk, which costs ~10 ms of CPU per chunk here (a
third of real time). The network is small and only its LSTM is recurrent, so this module
re-implements it in plain torch with the TorchScript file's weights (the wheel's
safetensors file holds other, older weights): the convolutional front-end runs on all
chunks of a block at once and the LSTM over the block's sequence, >10x cheaper, with the
same outputs (tests compare both).

The model is causal (it sees the current 32 ms chunk plus 4 ms of context before it) and
carries its LSTM state between blocks: `SileroStream.push` gives the same probabilities
as one pass over the whole clip, which a streaming run needs.

Importing the `silero_vad` package sets torch to one thread as a side effect; the weights
are located with `importlib.util.find_spec`, which does not run the package.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from pathlib import Path
from typing import Any

import numpy as np

CHUNK = 512  # samples per decision at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous chunk the model sees
INSTALL_HINT = "pip install silero-vad"


def weights_path() -> Path | None:
    """The wheel's TorchScript file, or None when silero-vad is not installed."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.jit"
    return p if p.is_file() else None


def available() -> bool:
    return weights_path() is not None


@functools.cache
def _net() -> tuple[Any, Any]:  # torch is imported lazily
    import torch
    from torch import nn

    path = weights_path()
    if path is None:
        raise ImportError(f"silero-vad is not installed ({INSTALL_HINT})")

    class SileroNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stft_conv = nn.Conv1d(1, 258, 256, stride=128, bias=False)
            self.conv1 = nn.Conv1d(129, 128, 3, padding=1)
            self.conv2 = nn.Conv1d(128, 64, 3, stride=2, padding=1)
            self.conv3 = nn.Conv1d(64, 64, 3, stride=2, padding=1)
            self.conv4 = nn.Conv1d(64, 128, 3, padding=1)
            self.lstm_cell = nn.LSTMCell(128, 128)
            self.final_conv = nn.Conv1d(128, 1, 1)

        def encode(self, x: torch.Tensor) -> torch.Tensor:
            """(B, CONTEXT + CHUNK) windows -> (B, 128) per-chunk encodings."""
            x = nn.functional.pad(x, (0, 64), mode="reflect").unsqueeze(1)
            x = self.stft_conv(x)
            x = torch.sqrt(x[:, :129] ** 2 + x[:, 129:] ** 2)
            for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
                x = torch.relu(conv(x))
            return x.squeeze(-1)

    with warnings.catch_warnings():  # torch.jit.load is deprecated; only weights are read
        warnings.simplefilter("ignore", DeprecationWarning)
        jit = torch.jit.load(str(path), map_location="cpu").state_dict()
    names = {"stft_conv.weight": "stft.forward_basis_buffer", "final_conv.weight":
             "decoder.decoder.2.weight", "final_conv.bias": "decoder.decoder.2.bias"}
    for i in range(4):
        for w in ("weight", "bias"):
            names[f"conv{i + 1}.{w}"] = f"encoder.{i}.reparam_conv.{w}"
    for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        names[f"lstm_cell.{w}"] = f"decoder.rnn.{w}"
    net = SileroNet()
    net.load_state_dict({k: jit[f"_model.{v}"] for k, v in names.items()})
    lstm = nn.LSTM(128, 128, batch_first=True)
    lstm.weight_ih_l0.data = net.lstm_cell.weight_ih.data
    lstm.weight_hh_l0.data = net.lstm_cell.weight_hh.data
    lstm.bias_ih_l0.data = net.lstm_cell.bias_ih.data
    lstm.bias_hh_l0.data = net.lstm_cell.bias_hh.data
    return net.eval(), lstm.eval()


class SileroStream:
    """Speech probability per 32 ms chunk, fed with audio blocks of any length."""

    def __init__(self) -> None:
        self.net, self.lstm = _net()
        self._tail = np.zeros(CONTEXT, np.float32)  # context before the next chunk
        self._rest = np.zeros(0, np.float32)  # samples not yet making a whole chunk
        self._state = None

    def push(self, audio: np.ndarray) -> np.ndarray:
        """Probabilities of the whole chunks completed by this block (possibly none)."""
        import torch

        x = np.concatenate([self._rest, np.asarray(audio, np.float32).reshape(-1)])
        n = x.shape[0] // CHUNK
        self._rest = x[n * CHUNK :]
        if n == 0:
            return np.zeros(0, np.float32)
        seq = np.concatenate([self._tail, x[: n * CHUNK]])
        self._tail = x[n * CHUNK - CONTEXT : n * CHUNK].copy()
        win = np.lib.stride_tricks.sliding_window_view(seq, CONTEXT + CHUNK)[::CHUNK][:n]
        with torch.inference_mode():
            enc = self.net.encode(torch.from_numpy(win.copy()))
            h, self._state = self.lstm(enc[None], self._state)
            p = torch.sigmoid(self.net.final_conv(torch.relu(h[0]).T[None]))[0, 0]
        return p.numpy().astype(np.float32)


def speech_probability(audio: np.ndarray, block: int = 3000 * CHUNK) -> np.ndarray:
    """Per-chunk (32 ms) speech probability of a 16 kHz clip; the last partial chunk is
    padded with zeros so every sample is covered."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    pad = (-audio.shape[0]) % CHUNK
    x = np.concatenate([audio, np.zeros(pad, np.float32)])
    s = SileroStream()
    parts = [s.push(x[i : i + block]) for i in range(0, x.shape[0], block)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
