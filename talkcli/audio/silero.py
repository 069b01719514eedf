"""Silero VAD (v6, MIT licence) speech probability, with the weights shipped in its wheel.

The `silero-vad` wheel carries the model as TorchScript and ONNX. Its own runtime calls
the TorchScript model once per 32 ms chunk, which costs ~10 ms of CPU per chunk here (a
third of real time). The network is small and only its LSTM is recurrent, so this module
re-implements it in numpy with the TorchScript file's weights, read from the archive
without torch (the wheel's safetensors file holds other, older weights; the motion runs
in a process of its own, which need not import torch for this): the convolutional
front-end runs on all chunks of a block at once and the LSTM over the block's sequence,
with the same outputs (tests compare both).

The model is causal (it sees the current 32 ms chunk plus 4 ms of context before it) and
carries its LSTM state between blocks: `SileroStream.push` gives the same probabilities
as one pass over the whole clip, which a streaming run needs.

Importing the `silero_vad` package sets torch to one thread as a side effect (and imports
torch); the weights are located with `importlib.util.find_spec`, which does not run it.
"""

from __future__ import annotations

import collections
import functools
import importlib.util
import pickle
import zipfile
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


_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "BoolStorage": np.bool_}


class _ScriptObject:
    """A TorchScript module as its pickle rebuilds it: only the state is kept."""

    def __init__(self, *args: object) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: object) -> None:
        self.state = state if isinstance(state, dict) else {}


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple[int, ...],
                    stride: tuple[int, ...], *_: object) -> np.ndarray:
    if not size:
        return np.array(storage[offset])
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=[k * storage.itemsize for k in stride])
    return np.array(view)


class _WeightsUnpickler(pickle.Unpickler):
    """Reads a TorchScript archive's tensors as numpy arrays, without torch: the motion
    process would otherwise import torch (a second or more of its start-up) for this
    small network alone. Only tensors, plain containers and module states are built;
    anything else pickled in the archive becomes an empty object."""

    def __init__(self, archive: zipfile.ZipFile, root: str) -> None:
        super().__init__(archive.open(f"{root}/data.pkl"))
        self._archive, self._root = archive, root

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return name
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        return _ScriptObject

    def persistent_load(self, pid: Any) -> np.ndarray:
        _, storage, key, _, _ = pid
        data = self._archive.read(f"{self._root}/data/{key}")
        return np.frombuffer(data, dtype=_DTYPES[storage])


def _flatten(obj: object, prefix: str, out: dict[str, np.ndarray]) -> None:
    state = obj.state if isinstance(obj, _ScriptObject) else obj
    if not isinstance(state, dict):
        return
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            out[prefix + key] = value
        elif isinstance(value, _ScriptObject):
            _flatten(value, f"{prefix}{key}.", out)


@functools.cache
def _weights() -> dict[str, np.ndarray]:
    """The 16 kHz model's weights, float32, by the names of the wheel's TorchScript file."""
    path = weights_path()
    if path is None:
        raise ImportError(f"silero-vad is not installed ({INSTALL_HINT})")
    with zipfile.ZipFile(path) as archive:
        root = archive.namelist()[0].split("/")[0]
        obj = _WeightsUnpickler(archive, root).load()
    flat: dict[str, np.ndarray] = {}
    _flatten(obj, "", flat)
    model = {k[len("_model."):]: v.astype(np.float32) for k, v in flat.items()
             if k.startswith("_model.")}
    missing = [k for k in _NEEDED if k not in model]
    if missing:
        raise ImportError(f"unexpected silero-vad model file {path}: lacks {missing}")
    return model


_CONVS = tuple((f"encoder.{i}.reparam_conv", stride)
               for i, stride in enumerate((1, 2, 2, 1)))
_NEEDED = ("stft.forward_basis_buffer", "decoder.rnn.weight_ih", "decoder.rnn.weight_hh",
           "decoder.rnn.bias_ih", "decoder.rnn.bias_hh", "decoder.decoder.2.weight",
           "decoder.decoder.2.bias", *(f"{c}.{w}" for c, _ in _CONVS for w in ("weight", "bias")))


def _conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """(B, C, L) -> (B, O, L') for a size-3 kernel with one zero of padding each side."""
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1)))
    n_out = (x.shape[2] - 1) // stride + 1
    idx = np.arange(n_out) * stride
    cols = np.stack([xp[:, :, idx + k] for k in range(3)], -1)       # (B, C, L', 3)
    out: np.ndarray = np.einsum("bctk,ock->bot", cols, weight, optimize=True)
    return out + bias[None, :, None]


def _encode(w: dict[str, np.ndarray], windows: np.ndarray) -> np.ndarray:
    """(B, CONTEXT + CHUNK) windows -> (B, 128) per-chunk encodings (the conv front-end)."""
    x = np.pad(windows, ((0, 0), (0, 64)), mode="reflect")           # (B, 640)
    frames = np.lib.stride_tricks.sliding_window_view(x, 256, axis=1)[:, ::128]  # (B, 4, 256)
    spec = frames @ w["stft.forward_basis_buffer"][:, 0, :].T          # (B, 4, 258)
    mag = np.sqrt(spec[..., :129] ** 2 + spec[..., 129:] ** 2).transpose(0, 2, 1)
    for name, stride in _CONVS:
        mag = np.maximum(_conv1d(mag, w[f"{name}.weight"], w[f"{name}.bias"], stride), 0.0)
    return mag[:, :, 0]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))   # no overflow warnings for large |x|


class SileroStream:
    """Speech probability per 32 ms chunk, fed with audio blocks of any length."""

    def __init__(self) -> None:
        self._w = _weights()
        self._tail = np.zeros(CONTEXT, np.float32)  # context before the next chunk
        self._rest = np.zeros(0, np.float32)  # samples not yet making a whole chunk
        self._h = np.zeros(128, np.float32)  # the LSTM's state between blocks
        self._c = np.zeros(128, np.float32)

    def push(self, audio: np.ndarray) -> np.ndarray:
        """Probabilities of the whole chunks completed by this block (possibly none)."""
        x = np.concatenate([self._rest, np.asarray(audio, np.float32).reshape(-1)])
        n = x.shape[0] // CHUNK
        self._rest = x[n * CHUNK :]
        if n == 0:
            return np.zeros(0, np.float32)
        seq = np.concatenate([self._tail, x[: n * CHUNK]])
        self._tail = x[n * CHUNK - CONTEXT : n * CHUNK].copy()
        win = np.lib.stride_tricks.sliding_window_view(seq, CONTEXT + CHUNK)[::CHUNK][:n]
        hidden = self._lstm(_encode(self._w, win))
        head = self._w["decoder.decoder.2.weight"][0, :, 0]
        logits = np.maximum(hidden, 0.0) @ head + self._w["decoder.decoder.2.bias"][0]
        return _sigmoid(logits).astype(np.float32)

    def _lstm(self, enc: np.ndarray) -> np.ndarray:
        """(T, 128) encodings -> (T, 128) hidden states (LSTMCell's gate order i, f, g, o)."""
        w = self._w
        gates_x = enc @ w["decoder.rnn.weight_ih"].T + (w["decoder.rnn.bias_ih"]
                                                        + w["decoder.rnn.bias_hh"])
        w_hh = w["decoder.rnn.weight_hh"].T
        h, c = self._h, self._c
        out = np.empty((enc.shape[0], 128), np.float32)
        for t in range(enc.shape[0]):
            g = gates_x[t] + h @ w_hh
            i, f = _sigmoid(g[:128]), _sigmoid(g[128:256])
            c = f * c + i * np.tanh(g[256:384])
            h = _sigmoid(g[384:]) * np.tanh(c)
            out[t] = h
        self._h, self._c = h, c
        return out


def speech_probability(audio: np.ndarray, block: int = 3000 * CHUNK) -> np.ndarray:
    """Per-chunk (32 ms) speech probability of a 16 kHz clip; the last partial chunk is
    padded with zeros so every sample is covered."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    pad = (-audio.shape[0]) % CHUNK
    x = np.concatenate([audio, np.zeros(pad, np.float32)])
    s = SileroStream()
    parts = [s.push(x[i : i + block]) for i in range(0, x.shape[0], block)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
