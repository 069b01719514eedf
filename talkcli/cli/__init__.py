"""Command-line interface. Each command lives in its own module and registers on `app`."""

from __future__ import annotations

import sys

from talkcli.cli.app import app
from talkcli.errors import EXIT_INTERRUPTED

# Importing the command modules registers their commands on `app`.
from talkcli.cli import doctor_cmd  # noqa: E402,F401  isort: skip

for _name in ("inspect_cmd", "presets_cmd", "motion_cmd", "render_cmd"):
    try:
        __import__(f"talkcli.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a command module not written yet
        if _exc.name != f"talkcli.cli.{_name}":
            raise


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)


__all__ = ["app", "main"]
