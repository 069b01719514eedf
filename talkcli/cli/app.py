"""The Typer app and the one place where domain errors become exit codes (DESIGN §3)."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from talkcli import __version__
from talkcli.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, TalkcliError

app = typer.Typer(
    name="talkcli",
    help="One portrait + one speech recording -> an MP4 of that face speaking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Messages, warnings and progress go to stderr; stdout carries only results (and --json).
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)

_state = {"debug": False}

F = TypeVar("F", bound=Callable[..., Any])


def debug_enabled() -> bool:
    return _state["debug"] or os.environ.get("TALKCLI_DEBUG", "") not in ("", "0")


def fail(message: str, code: int) -> typer.Exit:
    """Print a one-line error to stderr and return the Exit to raise."""
    # the message is plain text: brackets in it (paths, "talkcli[ray]") are not markup
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)
    return typer.Exit(code)


def guarded(fn: F) -> F:
    """Run a command body, mapping exceptions to the exit-code contract."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            err_console.print("interrupted", style="yellow")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except TalkcliError as exc:
            if debug_enabled():
                traceback.print_exc(file=sys.stderr)
            raise fail(str(exc), exc.exit_code) from None
        except Exception as exc:  # noqa: BLE001 - the contract: any bug is exit 1, one line
            if debug_enabled():
                traceback.print_exc(file=sys.stderr)
            hint = "" if debug_enabled() else " (run with --debug for the traceback)"
            message = f"internal error: {type(exc).__name__}: {exc}{hint}"
            raise fail(message, EXIT_INTERNAL) from None

    return wrapper  # type: ignore[return-value]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"talkcli {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """talkcli: turn one portrait and one speech recording into a talking-face MP4."""
    _state["debug"] = debug
