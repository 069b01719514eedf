"""The same jobs on a Ray cluster (optional extra: `pip install 'talkcli[ray]'`).

`address=None` starts a local Ray runtime (loopback only, no dashboard); otherwise it is
passed to `ray.init` (`auto`, `ray://head:10001`, ...). Each Ray actor is a warm worker
(models loaded once, analysed portraits cached) declaring the CPUs one render uses
(`num_cpus`, or `num_gpus=1` for `device: cuda` jobs). Outputs are written by the actor to
the job's path, which must be on a filesystem the workers share; the actor reports the
output's size and SHA-256, so the driver can tell what was written where.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from talkcli.batch.manifest import Job
from talkcli.batch.worker import JobResult
from talkcli.errors import EnvironmentProblem

INSTALL_HINT = "pip install 'talkcli[ray]'"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise EnvironmentProblem(f"--ray needs Ray, which is not installed: {INSTALL_HINT}"
                                 ) from None
    return ray


class _Worker:
    """The actor body (wrapped with ray.remote at run time, so ray stays optional)."""

    def __init__(self, threads: int) -> None:
        import os

        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
        import torch

        from talkcli.batch.cache import PortraitCache
        from talkcli.pipeline import set_core_budget

        torch.set_num_threads(threads)
        set_core_budget(threads)  # the render's own thread plan stays within the share
        self.cache = PortraitCache()

    def run(self, name: str, request: Any) -> dict[str, Any]:
        from talkcli.batch.worker import run_job

        return run_job(name, request, self.cache).to_dict()


def run_ray(jobs: Sequence[Job], address: str | None, workers: int | None, threads: int,
            on_result: Callable[[JobResult], None]) -> None:
    ray = import_ray()
    if not jobs:
        return
    started = not ray.is_initialized()
    if started:
        if address is None:
            ray.init(num_cpus=None, include_dashboard=False, log_to_driver=False,
                     configure_logging=False, _node_ip_address="127.0.0.1")
        else:
            ray.init(address=address, log_to_driver=False)
    try:
        gpu = any(j.request.device == "cuda" for j in jobs)
        cpus = float(ray.cluster_resources().get("CPU", 1))
        n = workers or max(1, min(len(jobs), int(cpus // threads)))
        actor = ray.remote(num_cpus=threads, num_gpus=1 if gpu else 0)(_Worker)
        pool = [actor.remote(threads) for _ in range(n)]
        queue = list(jobs)
        running: dict[Any, Any] = {}
        for a in pool:
            if queue:
                job = queue.pop(0)
                running[a.run.remote(job.name, job.request)] = a
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            ref = ready[0]
            a = running.pop(ref)
            on_result(JobResult(**ray.get(ref)))
            if queue:
                job = queue.pop(0)
                running[a.run.remote(job.name, job.request)] = a
    except KeyboardInterrupt:
        for ref in list(locals().get("running", {})):
            ray.cancel(ref, force=False)
        raise
    finally:
        if started:
            ray.shutdown()
