"""Reading a process's own figures from /proc (Linux); None elsewhere."""

from __future__ import annotations


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """A live process's peak resident set (VmHWM) in MB; None where /proc has none.

    (getrusage's ru_maxrss for a child counts the parent's pages copied at fork time, so
    it overstates a small ffmpeg started from a big Python process.)"""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
