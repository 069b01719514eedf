"""Loaded-once model runners: each .tflite is verified and allocated on first use, then reused."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator

import numpy as np

from talkcli.face.models import load_interpreter


class ModelRunner:
    """One allocated interpreter with its input and output tensor indexes looked up once."""

    def __init__(self, name: str) -> None:
        self.name = name
        with _quiet_native_stderr():
            self._interp = load_interpreter(name)
        inp = self._interp.get_input_details()[0]
        self.input_index = int(inp["index"])
        self.input_shape = tuple(int(v) for v in inp["shape"])
        # Output order as the model declares it; callers index by position.
        self.output_indexes = [int(d["index"]) for d in self._interp.get_output_details()]

    @property
    def input_size(self) -> int:
        return self.input_shape[1]

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run one (1, S, S, 3) float32 input; returns copies of every output."""
        self._interp.set_tensor(self.input_index, batch)
        self._interp.invoke()
        return [self._interp.get_tensor(i) for i in self.output_indexes]


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """LiteRT's C++ logger prints "INFO: Created TensorFlow Lite XNNPACK delegate" straight to
    file descriptor 2 on every load (TF_CPP_MIN_LOG_LEVEL does not silence it); our stderr is
    for messages to the user, so hide native output while a model loads. Python exceptions
    still propagate normally."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield  # no real fd 2 (embedded interpreter, captured stream): nothing to hide
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@functools.cache
def get_runner(name: str) -> ModelRunner:
    return ModelRunner(name)


def clear_runners() -> None:
    """Forget loaded models (tests that swap the models directory use this)."""
    get_runner.cache_clear()
