"""The shipped MediaPipe .tflite models: locate, verify (sha256) and load with ai-edge-litert."""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

from talkcli.errors import EnvironmentProblem

FACE_DETECTOR_SHORT = "face_detection_short_range.tflite"
FACE_DETECTOR_FULL = "face_detection_full_range_sparse.tflite"
FACE_MESH = "face_landmark.tflite"
IRIS = "iris_landmark.tflite"
SELFIE_SEGMENTATION = "selfie_segmentation.tflite"


def models_dir() -> Path:
    return Path(str(resources.files("talkcli.models")))


@functools.cache
def expected_checksums() -> dict[str, str]:
    sums_file = models_dir() / "SHA256SUMS"
    if not sums_file.is_file():
        raise EnvironmentProblem(f"model checksum list missing: {sums_file} (reinstall talkcli)")
    sums = {}
    for line in sums_file.read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            sums[name] = digest
    return sums


def model_path(name: str) -> Path:
    """Path of a verified model file; EnvironmentProblem if it is missing or tampered."""
    return _verified(name)


@functools.cache
def _verified(name: str) -> Path:
    path = models_dir() / name
    expected = expected_checksums().get(name)
    if expected is None:
        raise EnvironmentProblem(f"model {name} is not listed in {models_dir() / 'SHA256SUMS'}")
    if not path.is_file():
        raise EnvironmentProblem(f"model file missing: {path} (reinstall talkcli)")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise EnvironmentProblem(
            f"model file {path} is corrupt or modified (sha256 {actual[:12]}…, "
            f"expected {expected[:12]}…); reinstall talkcli or run scripts/extract_models.py"
        )
    return path


def verify_all() -> dict[str, str]:
    """Check every shipped model; returns name -> 'ok' or the problem (for `doctor`)."""
    report = {}
    for name in expected_checksums():
        try:
            _verified.cache_clear()
            _verified(name)
            report[name] = "ok"
        except EnvironmentProblem as exc:
            report[name] = str(exc)
    return report


def load_interpreter(name: str, num_threads: int = 2) -> Any:
    """A ready ai-edge-litert Interpreter for a verified model."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model_path(name)), num_threads=num_threads)
    interp.allocate_tensors()
    return interp
