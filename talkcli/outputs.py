"""Output-path checks shared by the commands that write files (DESIGN §3: an output folder
that cannot be written is exit 3, found before any work)."""

from __future__ import annotations

import contextlib
import os
import secrets
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
    # A name of our own, removed in `finally`: an interrupt anywhere between creating the
    # probe and removing it (one arrived as a batch's next job was being checked) must not
    # leave it behind, and mkstemp's name is lost if the interrupt lands inside it.
    probe = directory / f".talkcli-probe-{os.getpid()}-{secrets.token_hex(6)}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot write in the output directory {directory}: {os_reason(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)
