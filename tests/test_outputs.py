"""The output-folder probe: refuses what cannot be written, and leaves nothing behind even
when an interrupt arrives while the probe file exists."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from talkcli import outputs
from talkcli.errors import InvalidInputError


def test_probe_leaves_nothing(tmp_path: Path) -> None:
    outputs.check_writable_dir(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        outputs.check_writable_dir(tmp_path / "nope")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal masks")
def test_an_interrupt_during_the_probe_comes_after_it_is_removed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_close = os.close

    def close_after_ctrl_c(fd: int) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # arrives while the probe file exists
        real_close(fd)

    monkeypatch.setattr(outputs.os, "close", close_after_ctrl_c)
    # Python's own Ctrl-C handler, also where this run inherited SIGINT ignored (a background
    # CI shell)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            outputs.check_writable_dir(tmp_path)
    finally:
        signal.signal(signal.SIGINT, before)
    assert list(tmp_path.iterdir()) == []
