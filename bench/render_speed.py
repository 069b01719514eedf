"""Render speed and memory benchmark (`make bench-render`; issues #4 part 5, #9 part 4).

Renders the embedded portrait at 25 fps, each case in a fresh subprocess: 512² for 1 and
10 minutes of speech (the embedded sample looped), 256² and 1024² for 1 minute; on each device
(CPU; CUDA too when a GPU is present). Per case:

- CPU ms/frame per stage, each measured in its own thread (time.thread_time), and ffmpeg's
  CPU (its rusage once it has exited): the primary figures, because they hold on a loaded
  machine; the frames/s that 2 cores allow from them (the busiest core's share: the render
  thread, or half of all the CPU, whichever is more);
- wall clock: end-to-end frames/s (frames / the whole render, loading included), time to
  first frame. These depend on the machine's load: the 1-minute load average is recorded
  next to them;
- peak RSS of the rendering process, of its ffmpeg child and of its motion process (generated
  motion runs in a process of its own where a second core is free).

Targets (CPU, 2 cores, 512², 25 fps; issue #9): end-to-end >= 150 frames/s (>= 100 the
floor), render <= 5 ms/frame on one core, peak RSS at 10 min <= 1.3x that at 1 min. Writes
bench/results/render.json and prints a table.

    python bench/render_speed.py [--quick] [--device cpu|cuda|all] [--sizes 512,256,1024]

`--quick`: 20 s and 60 s at 512², 20 s at the other sizes (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "render.json"
FPS = 25
TARGET_FPS = 150.0
FLOOR_FPS = 100.0
TARGET_RENDER_MS = 5.0
TARGET_RSS_RATIO = 1.3
MAIN_SIZE = 512


def make_audio(seconds: float, directory: Path) -> Path:
    """The embedded sample speech looped (with 0.4 s pauses) to `seconds`, 16 kHz WAV."""
    import numpy as np
    import soundfile as sf

    from talkcli.cli.render_cmd import sample_paths

    path = directory / f"speech_{int(seconds)}s.wav"
    if path.exists():
        return path
    data, sr = sf.read(sample_paths()[1], dtype="float32", always_2d=False)
    if data.ndim > 1:
        data = data.mean(axis=1)
    gap = np.zeros(int(0.4 * sr), np.float32)
    unit = np.concatenate([data, gap])
    need = int(seconds * sr)
    reps = need // unit.size + 1
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
        written = 0
        for _ in range(reps):
            part = unit[: need - written]
            f.write(part)
            written += part.size
            if written >= need:
                break
    return path


def peak_rss_mb() -> float:
    """This process's VmHWM (Linux). ru_maxrss would also count the parent's pages copied
    when it forked this process."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> None:
    """Run one render in this process and print its measurements as JSON."""
    from talkcli.cli.render_cmd import sample_paths
    from talkcli.pipeline import RenderRequest, render_video

    portrait = sample_paths()[0]
    out = Path(args.out)
    req = RenderRequest(portrait=portrait, audio=Path(args.audio), output=out, fps=FPS,
                        size=args.size, device=args.device, overwrite=True)
    marks: dict[str, float] = {}

    class Stop(Exception):
        pass

    def progress(done: int, total: int) -> None:
        if done > 0 and "first" not in marks:
            marks["first"] = time.perf_counter() - t0
        if args.stop_after and done >= args.stop_after:
            marks["done"] = done
            marks["total"] = total
            raise Stop

    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    try:
        result = render_video(req, progress)
    except Stop:
        # Memory-only run: RSS is flat once the chunk loop runs, so the peak is reached by
        # now; the encoder aborted and removed its temp file.
        data = {"stopped_after": marks["done"], "frames": marks["total"],
                "first_frame_s": marks["first"], "wall_s": time.perf_counter() - t0,
                "peak_rss_mb": peak_rss_mb()}
        print("BENCH " + json.dumps(data), flush=True)
        return
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)   # ffmpeg, waited for by now
    data = result.to_dict()
    data["wall_s"] = wall
    data["process_cpu_s"] = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    children = kids.ru_utime + kids.ru_stime  # ffmpeg, and the motion process if it had one
    motion_child = result.timings.motion_cpu_s if result.timings.motion_process else 0.0
    data["ffmpeg_cpu_s"] = max(children - motion_child, 0.0)
    data["motion_child_cpu_s"] = motion_child
    data["load_avg_1min"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    data["peak_rss_mb"] = peak_rss_mb()
    # ffmpeg's own VmHWM (RUSAGE_CHILDREN would count the pages copied at fork time).
    data["ffmpeg_peak_rss_mb"] = result.ffmpeg_peak_rss_mb or 0.0
    if result.device.startswith("cuda"):
        import torch

        data["gpu"] = torch.cuda.get_device_name(0)
        data["cuda_peak_mem_mb"] = torch.cuda.max_memory_allocated() / 2**20
    out.unlink(missing_ok=True)
    print("BENCH " + json.dumps(data), flush=True)


def run_case(audio: Path, device: str, size: int, workdir: Path, stop_after: int = 0) -> dict:
    out = workdir / f"bench_{device}_{audio.stem}.mp4"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--audio", str(audio),
           "--out", str(out), "--device", device, "--size", str(size),
           "--stop-after", str(stop_after)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"benchmark case failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("BENCH "):])


def summarise(run: dict) -> dict:
    if "stopped_after" in run:
        return {"frames": run["frames"], "stopped_after": run["stopped_after"],
                "first_frame_s": round(run["first_frame_s"], 2),
                "peak_rss_mb": round(run["peak_rss_mb"], 0)}
    t = run["timings"]
    frames = run["frames"]

    def ms(seconds: float) -> float:
        return round(1000.0 * seconds / frames, 2)

    # CPU outside the three stages' threads: loading, the writer thread, Python, allocation
    # (the motion's CPU is this process's unless it ran in a child of its own)
    motion_here = 0.0 if t.get("motion_process") else t["motion_cpu_s"]
    other = run["process_cpu_s"] - motion_here - t["render_cpu_s"] - t["encode_cpu_s"]
    total = run["process_cpu_s"] + run["ffmpeg_cpu_s"] + run.get("motion_child_cpu_s", 0.0)
    busiest = max(t["render_cpu_s"], total / 2.0)
    return {
        "size": run["width"],
        "audio_s": round(run["audio_duration_s"], 1),
        "frames": frames,
        "cpu_ms_render": ms(t["render_cpu_s"]),
        "cpu_ms_motion": ms(t["motion_cpu_s"]),
        "cpu_ms_encode_copy": ms(t["encode_cpu_s"]),
        "cpu_ms_x264": ms(run["ffmpeg_cpu_s"]),
        "cpu_ms_other": ms(max(other, 0.0)),
        "cpu_ms_total": ms(total),
        "cpu_bound_fps_2_cores": round(frames / busiest, 1) if busiest > 0 else None,
        "end_to_end_fps": round(frames / run["elapsed_s"], 1),
        "render_fps_wall": round(frames / t["render_s"], 1) if t["render_s"] > 0 else None,
        "load_s": round(t["load_s"], 2),
        "first_frame_s": round(t["first_frame_s"], 2),
        "elapsed_s": round(run["elapsed_s"], 1),
        "peak_rss_mb": round(run["peak_rss_mb"], 0),
        "ffmpeg_peak_rss_mb": round(run["ffmpeg_peak_rss_mb"], 0),
        "motion_process": bool(t.get("motion_process")),
        # all three processes' peaks added (an upper bound: they need not peak together)
        "peak_rss_all_mb": round(run["peak_rss_mb"] + run["ffmpeg_peak_rss_mb"]
                                 + (run.get("motion_peak_rss_mb") or 0.0), 0),
        "motion_peak_rss_mb": (round(run["motion_peak_rss_mb"], 0)
                               if run.get("motion_peak_rss_mb") else None),
        "threads_torch_x264": [t.get("render_threads"), t.get("x264_threads")],
        "load_avg_1min": run.get("load_avg_1min"),
        **({"gpu": run["gpu"], "cuda_peak_mem_mb": round(run["cuda_peak_mem_mb"], 0)}
           if "gpu" in run else {}),
    }


def environment() -> dict:
    import torch

    from talkcli import __version__
    from talkcli.video.ffmpeg_bin import ffmpeg_exe, ffmpeg_version

    return {
        "talkcli": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "ffmpeg": f"{ffmpeg_exe()} ({ffmpeg_version()})",
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def print_table(rows: list[dict]) -> None:
    cols = ("device", "size", "audio_s", "frames", "cpu_ms_render", "cpu_ms_motion",
            "cpu_ms_encode_copy", "cpu_ms_x264", "cpu_ms_other", "cpu_bound_fps_2_cores",
            "end_to_end_fps", "first_frame_s", "peak_rss_mb", "peak_rss_all_mb",
            "load_avg_1min")
    rows = [{k: v for k, v in r.items()} for r in rows]
    widths = [max(len(c), *(len(str(r.get(c))) for r in rows)) for c in cols]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r.get(c)).rjust(w) for c, w in zip(cols, widths, strict=True)))


def cases(quick: bool, lengths: str, sizes: str) -> list[tuple[float, int]]:
    """(seconds of audio, size) per case: the main size at two lengths, the others short."""
    short, long_ = (20.0, 60.0) if quick else (60.0, 600.0)
    if lengths:
        short, long_ = (float(v) for v in lengths.split(","))
    others = [int(v) for v in sizes.split(",") if v and int(v) != MAIN_SIZE]
    return ([(short, MAIN_SIZE), (long_, MAIN_SIZE)]
            + [(20.0 if quick else short, size) for size in others])


def check(rows: list[dict], device: str) -> dict:
    mine = [r for r in rows if r["device"] == device and r.get("size") == MAIN_SIZE]
    if len(mine) < 2:
        return {}
    short, long_ = mine[:2]
    ratio = long_["peak_rss_mb"] / short["peak_rss_mb"]
    e2e = [r["end_to_end_fps"] for r in (short, long_) if "end_to_end_fps" in r]
    bound = [r["cpu_bound_fps_2_cores"] for r in (short, long_) if "cpu_bound_fps_2_cores" in r]
    return {
        "rss_ratio_long_vs_short": round(ratio, 3),
        "rss_ratio_ok": ratio <= TARGET_RSS_RATIO,
        "end_to_end_fps_min": min(e2e) if e2e else None,
        "end_to_end_fps_ok": bool(e2e) and min(e2e) >= TARGET_FPS,
        "cpu_bound_fps_2_cores_min": min(bound) if bound else None,
        "render_ms_ok": all(r["cpu_ms_render"] <= TARGET_RENDER_MS for r in (short, long_)
                            if "cpu_ms_render" in r),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="20 s and 60 s at 512², 20 s at the other sizes.")
    parser.add_argument("--device", default="auto", help="cpu | cuda | all | auto "
                        "(auto = CPU, plus CUDA when a GPU is present).")
    parser.add_argument("--sizes", default="512,256,1024",
                        help="Frame sizes; 512 runs at both lengths, the others at the short one.")
    parser.add_argument("--output", default=str(RESULTS), help="JSON results path.")
    parser.add_argument("--lengths", default="", help="The two 512² lengths in s, e.g. 60,600.")
    parser.add_argument("--long-stop-after", type=int, default=0, help=(
        "Memory-only long clip: stop the longest clip after this many frames (its RSS is "
        "flat from there on) and report peak RSS and time to first frame only."))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stop-after", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=MAIN_SIZE, help=argparse.SUPPRESS)
    parser.add_argument("--audio", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    import torch

    if args.device in ("auto", "all"):
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = [args.device]
    plan = cases(args.quick, args.lengths, args.sizes)
    workdir = Path(tempfile.gettempdir()) / "talkcli-bench"
    workdir.mkdir(exist_ok=True)
    longest = max(s for s, _ in plan)

    rows: list[dict] = []
    for device in devices:
        for seconds, size in plan:
            clip = make_audio(seconds, workdir)
            stop = args.long_stop_after if seconds == longest else 0
            print(f"[{device}] rendering {clip.name} at {size}² ...", flush=True)
            row = {"device": device, **summarise(run_case(clip, device, size, workdir, stop))}
            row.setdefault("size", size)
            rows.append(row)
            print(f"    {row}", flush=True)

    result = {
        "environment": environment(),
        "settings": {"fps": FPS, "cases": [{"audio_s": s, "size": z} for s, z in plan],
                     "targets": {"end_to_end_fps_cpu": TARGET_FPS, "floor_fps": FLOOR_FPS,
                                 "render_ms_per_frame": TARGET_RENDER_MS,
                                 "rss_ratio": TARGET_RSS_RATIO},
                     "note": "cpu_ms_* are CPU time per frame in each stage's own thread "
                             "(x264: ffmpeg's rusage); wall-clock figures (end_to_end_fps, "
                             "first_frame_s) depend on the machine's load (load_avg_1min)."},
        "runs": rows,
        "checks": {device: check(rows, device) for device in devices},
    }
    print()
    print_table(rows)
    print(json.dumps(result["checks"], indent=2))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
