"""How many workers, and how many torch threads each: use the cores, never oversubscribe."""

from __future__ import annotations

import os

# One core a worker: a render keeps its core busy only ~70 % of the time (its motion thread
# and its render thread share Python's lock; start-up is mostly one thread), so one worker
# a core beats half as many with two threads each: measured on 2 cores, 24 jobs of 10 s at
# 512², 23.5 jobs/min with 2 workers against 16.3 with 1 (bench/batch_speed.py).
THREADS_PER_JOB = 1


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_workers(jobs: int, cores: int | None = None) -> int:
    """One worker a core (THREADS_PER_JOB), at least 1 and no more than there are jobs."""
    c = available_cores() if cores is None else cores
    return max(1, min(jobs, c // THREADS_PER_JOB))


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    c = available_cores() if cores is None else cores
    return max(1, c // max(1, workers))
