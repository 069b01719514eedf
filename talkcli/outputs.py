"""Output-path checks shared by the commands that write files (DESIGN §3: an output folder
that cannot be written is exit 3, found before any work)."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from talkcli.errors import InvalidInputError


def os_reason(exc: OSError) -> str:
    """The system's words for an OSError ("No space left on device"), without the path."""
    return exc.strerror or type(exc).__name__


def check_writable_dir(directory: Path) -> None:
    """Create and remove a probe file in `directory`: the only test that holds for root
    (`os.access` says yes to root even where the filesystem refuses, as /proc does)."""
    if not directory.is_dir():
        raise InvalidInputError(f"output directory does not exist: {directory}")
    with _interrupts_deferred():
        try:
            fd, name = tempfile.mkstemp(prefix=".talkcli-probe-", dir=directory)
        except OSError as exc:
            raise InvalidInputError(
                f"cannot write in the output directory {directory}: {os_reason(exc)}") from None
        os.close(fd)
        os.unlink(name)


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C / SIGTERM until the block is done (where the OS allows it): an interrupt
    between creating the probe and removing it left the probe file behind (seen when a
    batch was interrupted just as its next job was being checked)."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None:
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    old = block(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        block(signal.SIG_SETMASK, old)
