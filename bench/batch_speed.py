"""Batch throughput (issue #12): jobs/minute for a shell loop of `talkcli render`, and
`talkcli batch` with 1 and 2 local workers and with `--ray` on a local runtime.

N jobs (default 24) of 10 s clips cut from the embedded speech, all with the embedded
portrait (as a catalogue of one presenter would be). Wall-clock timing: on a shared
machine the figures are inflated by the other load, so the load average is recorded.
Writes bench/results/batch.json. Run: `nice -n 10 .venv/bin/python bench/batch_speed.py
[--jobs N] [--size 512]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "batch.json"
TALKCLI = [sys.executable, "-m", "talkcli"]


def make_media(folder: Path, jobs: int) -> Path:
    from talkcli.video.ffmpeg_bin import ffmpeg_exe

    assets = resources.files("talkcli.assets")
    shutil.copy(str(assets / "portrait.png"), folder / "p.png")
    for k in range(jobs):  # different 10 s cuts, so no two jobs are the same clip
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", "1", "-ss",
                        f"{(k * 0.37) % 3:.2f}", "-i", str(assets / "speech.wav"), "-t", "10",
                        str(folder / f"a{k}.wav")], check=True)
    return folder


def manifest(folder: Path, jobs: int, size: int, tag: str) -> Path:
    out = folder / tag
    out.mkdir()
    m = folder / f"{tag}.csv"
    m.write_text("portrait,audio,output,size\n" + "".join(
        f"p.png,a{k}.wav,{tag}/o{k}.mp4,{size}\n" for k in range(jobs)))
    return m


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=24)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    n = args.jobs
    res: dict[str, object] = {"jobs": n, "clip_s": 10, "size": args.size,
                              "cores": os.cpu_count(), "load_avg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        d = make_media(Path(tmp), n)
        (d / "loop").mkdir()
        t0 = time.perf_counter()
        for k in range(n):  # what users' shell scripts do
            subprocess.run(TALKCLI + ["render", str(d / "p.png"), str(d / f"a{k}.wav"), "-o",
                                      str(d / "loop" / f"o{k}.mp4"), "--size", str(args.size),
                                      "--quiet"], check=True)
        runs = {"shell_loop": time.perf_counter() - t0}
        for w in (1, 2):
            runs[f"batch_{w}_workers"] = timed(TALKCLI + ["batch", str(manifest(
                d, n, args.size, f"w{w}")), "--workers", str(w), "--quiet"])
        if not args.skip_ray:
            try:
                import ray  # noqa: F401

                runs["batch_ray_local"] = timed(TALKCLI + ["batch", str(manifest(
                    d, n, args.size, "ray")), "--ray", "--quiet"])
            except ImportError:
                print("skip --ray: ray not installed")
    res["elapsed_s"] = runs
    res["jobs_per_min"] = {k: round(n / v * 60, 2) for k, v in runs.items()}
    res["load_avg_end"] = os.getloadavg()
    for k, v in res["jobs_per_min"].items():  # type: ignore[union-attr]
        print(f"{k:18s} {v:6.2f} jobs/min ({runs[k]:.0f} s)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
