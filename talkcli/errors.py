"""Domain exceptions. The CLI maps each to its exit code in one place (DESIGN §3)."""

from __future__ import annotations


class TalkcliError(Exception):
    """Base class: an error with a one-line message meant for the user."""

    exit_code = 1


class UsageError(TalkcliError):
    """Bad combination of command-line options."""

    exit_code = 2


class InvalidInputError(TalkcliError):
    """Missing, unreadable, corrupt or unsupported file, or a bad preset value."""

    exit_code = 3


class NoFaceError(TalkcliError):
    """No usable face in the portrait."""

    exit_code = 4


class EnvironmentProblem(TalkcliError):
    """ffmpeg missing or failed, CUDA asked for but absent, models missing or tampered."""

    exit_code = 5


EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INVALID_INPUT = 3
EXIT_NO_FACE = 4
EXIT_ENVIRONMENT = 5
EXIT_NO_MARK = 6  # `verify`: no talkcli mark found
EXIT_INTERRUPTED = 130
