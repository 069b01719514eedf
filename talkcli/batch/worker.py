"""Run one job in a warm worker. A job's own failure is returned, never raised; only an
interrupt (Ctrl-C, SIGTERM) propagates, after `render_video` has removed its temp file."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from talkcli.batch.cache import PortraitCache
from talkcli.errors import EXIT_INTERNAL, TalkcliError
from talkcli.pipeline import RenderRequest, render_video


@dataclass
class JobResult:
    job: str
    output: str
    status: str  # done | skipped | failed
    exit_code: int
    error: str | None
    elapsed_s: float
    bytes: int | None = None
    sha256: str | None = None
    worker: str | None = None
    portrait_cached: bool | None = None  # the worker had analysed this portrait before

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["elapsed_s"] = round(self.elapsed_s, 3)
        return d


def file_digest(path: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return path.stat().st_size, h.hexdigest()


def skipped(name: str, request: RenderRequest) -> JobResult:
    size, digest = file_digest(request.output)
    return JobResult(name, str(request.output), "skipped", 0, None, 0.0, size, digest)


def run_job(name: str, request: RenderRequest, cache: PortraitCache) -> JobResult:
    t0 = time.perf_counter()
    who = f"{os.uname().nodename}:{os.getpid()}"
    hits = cache.hits
    try:
        render_video(request, None, cache)
    except TalkcliError as exc:
        return JobResult(name, str(request.output), "failed", exc.exit_code, str(exc),
                         time.perf_counter() - t0, worker=who)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - a bug in one job must not stop the batch
        return JobResult(name, str(request.output), "failed", EXIT_INTERNAL,
                         f"internal error: {type(exc).__name__}: {exc}",
                         time.perf_counter() - t0, worker=who)
    size, digest = file_digest(request.output)
    return JobResult(name, str(request.output), "done", 0, None, time.perf_counter() - t0,
                     size, digest, who, cache.hits > hits)
