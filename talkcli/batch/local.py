"""Local worker processes: each loads the models once and keeps its analysed portraits.

Workers are spawned (not forked: torch and the ffmpeg writer threads do not survive a
fork well), each with `threads` torch/BLAS threads so that workers x threads matches the
cores. A worker ignores SIGINT (the parent decides) and turns SIGTERM into an interrupt,
so its running render removes its temp file; on Ctrl-C the parent stops handing out jobs,
terminates the workers, waits for them, and reports exit 130.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from types import FrameType

from talkcli.batch.cache import PortraitCache
from talkcli.batch.manifest import Job
from talkcli.batch.worker import JobResult, run_job

_cache: PortraitCache | None = None


def _init_worker(threads: int) -> None:
    global _cache
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    import torch

    from talkcli.pipeline import set_core_budget

    torch.set_num_threads(threads)
    set_core_budget(threads)  # the render's own thread plan stays within the share
    _cache = PortraitCache()


def _run(job: Job) -> JobResult:
    assert _cache is not None
    return run_job(job.name, job.request, _cache)


def run_local(jobs: Sequence[Job], workers: int, threads: int,
              on_result: Callable[[JobResult], None]) -> None:
    """Run jobs on `workers` processes; `on_result` is called in this process as each ends."""
    if not jobs:
        return
    ctx = mp.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(threads,))
    pending: dict[Future[JobResult], Job] = {}
    queue = list(jobs)
    try:
        # keep each worker busy with one job and one queued, so nothing waits on submit
        while queue or pending:
            while queue and len(pending) < 2 * workers:
                job = queue.pop(0)
                pending[pool.submit(_run, job)] = job
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                pending.pop(fut)
                on_result(fut.result())
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Terminate the workers (SIGTERM: their renders clean up) and wait for them."""
    procs = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
