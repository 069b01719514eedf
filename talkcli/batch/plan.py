"""How many workers, and how many torch threads each: use the cores, never oversubscribe."""

from __future__ import annotations

import os

THREADS_PER_JOB = 2  # one render scales well to 2 threads, much less beyond


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_workers(jobs: int, cores: int | None = None) -> int:
    """cores // 2 workers (each renders with 2 threads; the encoder's ffmpeg gets the
    slack), at least 1 and no more than there are jobs."""
    c = available_cores() if cores is None else cores
    return max(1, min(jobs, c // THREADS_PER_JOB))


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    c = available_cores() if cores is None else cores
    return max(1, c // max(1, workers))
