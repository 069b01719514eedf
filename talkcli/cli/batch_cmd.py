"""`talkcli batch JOBS.csv|JOBS.jsonl`: many renders, local workers or Ray (DESIGN §3)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer
from rich.markup import escape

from talkcli.batch import plan
from talkcli.batch.manifest import Job, load_manifest
from talkcli.batch.worker import JobResult, skipped
from talkcli.cli.app import app, err_console, guarded, out_console
from talkcli.cli.terminal import sigterm_as_interrupt, stderr_is_tty
from talkcli.errors import EXIT_OK, UsageError

EXIT_SOME_FAILED = 7




class Reporter:
    """JSON lines on stdout (--json), a line per failure on stderr, a Rich bar on a tty."""

    def __init__(self, total: int, as_json: bool, quiet: bool) -> None:
        self.as_json, self.quiet = as_json, quiet
        self.results: list[JobResult] = []
        self.t0 = time.perf_counter()
        self._bar = None
        self._task = None
        if stderr_is_tty() and not quiet and not as_json:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("[bold]batch"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("jobs"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=err_console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task("batch", total=total)

    def __call__(self, r: JobResult) -> None:
        self.results.append(r)
        if self.as_json:
            sys.stdout.write(json.dumps({k: v for k, v in r.to_dict().items()
                                         if k != "worker"}) + "\n")
            sys.stdout.flush()
        if r.status == "failed" and not self.quiet:
            err_console.print(f"[bold red]failed:[/] job {escape(r.job)} (exit {r.exit_code}): "
                              f"{escape(r.error or '')}", markup=True, highlight=False)
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task)

    def close(self) -> dict[str, object]:
        if self._bar is not None:
            self._bar.stop()
        count = {s: sum(r.status == s for r in self.results)
                 for s in ("done", "skipped", "failed")}
        summary: dict[str, object] = {"summary": True, "jobs": len(self.results), **count,
                                      "elapsed_s": round(time.perf_counter() - self.t0, 3)}
        if self.as_json:
            sys.stdout.write(json.dumps(summary) + "\n")
            sys.stdout.flush()
        elif not self.quiet:
            out_console.print(f"{count['done']} done, {count['skipped']} skipped, "
                              f"{count['failed']} failed in {summary['elapsed_s']:.1f} s",
                              markup=False)
        return summary


def normalise_ray_argv(argv: list[str]) -> list[str]:
    """`--ray` takes an optional address. Click would take the next word as the address
    whatever it is, so a bare `--ray` (last, or before an option or the manifest) is
    rewritten to `--ray=local` before parsing."""
    if "batch" not in argv:
        return argv
    out = list(argv)
    for i, word in enumerate(out):
        if word != "--ray":
            continue
        nxt = out[i + 1] if i + 1 < len(out) else None
        if nxt is None or nxt.startswith("-") or nxt.lower().endswith(MANIFEST_SUFFIXES):
            out[i] = "--ray=local"
    return out


MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json")


def _split(jobs: list[Job], overwrite: bool) -> tuple[list[Job], list[Job]]:
    """(to run, already finished): an existing output is a finished job unless --overwrite."""
    if overwrite:
        return jobs, []
    todo = [j for j in jobs if not j.request.output.is_file()]
    return todo, [j for j in jobs if j.request.output.is_file()]


@app.command()
@guarded
def batch(
    jobs_file: Path = typer.Argument(..., metavar="JOBS", show_default=False,
                                     help="Manifest: CSV with a header row, or JSON Lines."),
    workers: int | None = typer.Option(None, "--workers", "-w",
                                       help="Worker processes (default: cores / 2)."),
    ray: str | None = typer.Option(None, "--ray", metavar="[ADDRESS]",
                                   help="Run on Ray: alone, a local runtime; or an address "
                                        "(auto, ray://head:10001)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Re-render finished outputs."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per job + a summary."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Render every job of a manifest; finished outputs are skipped on a rerun."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be 1 or more (got {workers})")
    jobs = load_manifest(jobs_file, overwrite=overwrite)
    if ray is not None:
        from talkcli.batch.ray_backend import import_ray

        import_ray()  # exit 5 with the install hint before any work
    todo, finished = _split(jobs, overwrite)
    report = Reporter(len(jobs), as_json, quiet)
    try:
        with sigterm_as_interrupt():
            for job in finished:
                report(skipped(job.name, job.request))
            n = workers or plan.default_workers(len(todo))
            threads = plan.threads_per_worker(n)
            if ray is not None:
                from talkcli.batch.ray_backend import run_ray

                run_ray(todo, None if ray == "local" else ray, workers, threads, report)
            else:
                from talkcli.batch.local import run_local

                run_local(todo, n, threads, report)
    finally:
        summary = report.close()
    raise typer.Exit(EXIT_SOME_FAILED if summary["failed"] else EXIT_OK)
