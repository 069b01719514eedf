"""Torch device choice: auto | cpu | cuda (DESIGN §3)."""

from __future__ import annotations

import torch

from talkcli.errors import EnvironmentProblem, UsageError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when available; `cuda` without a GPU is exit 5."""
    name = name.lower()
    if name not in DEVICE_CHOICES and not name.startswith("cuda:"):
        raise UsageError(f"--device must be one of {', '.join(DEVICE_CHOICES)} (got {name!r})")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise EnvironmentProblem("--device cuda was asked for but no CUDA GPU is available")
    return torch.device(name)
