"""Command-line interface. Each command lives in its own module and registers on `app`."""

from __future__ import annotations

import sys

# Importing the command modules registers their commands on `app`.
from talkcli.cli import (  # noqa: F401
    batch_cmd,
    doctor_cmd,
    inspect_cmd,
    motion_cmd,
    presets_cmd,
    render_cmd,
    stream_cmd,
    verify_cmd,
)
from talkcli.cli.app import app
from talkcli.errors import EXIT_INTERRUPTED


def main() -> None:
    """Console-script entry point."""
    try:
        app(args=batch_cmd.normalise_ray_argv(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)


__all__ = ["app", "main"]
