"""Render speed and memory benchmark (`make bench-render`; issue #4 part 5).

For each device (CPU; CUDA too when a GPU is present) and each clip length (1 min and
10 min of speech: the embedded sample looped), renders the embedded portrait at 512²,
25 fps in a fresh subprocess and reports:

- end-to-end frames/s (frames / wall time of the whole render, loading included) and the
  chunk-loop split: motion / render / encode frames/s (frames / seconds in that stage);
- time to first frame (from the call until the first frame reached the encoder);
- peak RSS of the rendering process (and, separately, of its ffmpeg child), 1 min vs 10 min.

Targets (CPU, 2 cores, 512², 25 fps): end-to-end >= 50 frames/s; peak RSS at 10 min <=
1.3x that at 1 min. Writes bench/results/render.json and prints a table.

    python bench/render_speed.py [--quick] [--device cpu|cuda|all] [--size 512]
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
TARGET_FPS = 50.0
TARGET_RSS_RATIO = 1.3


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
    data = result.to_dict()
    data["wall_s"] = wall
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

    def rate(seconds: float) -> float | None:
        return round(frames / seconds, 1) if seconds > 0 else None

    loop = t["motion_s"] + t["render_s"] + t["encode_s"] + t["finish_s"]
    return {
        "audio_s": round(run["audio_duration_s"], 1),
        "frames": frames,
        "end_to_end_fps": round(frames / run["elapsed_s"], 1),
        "loop_fps": rate(loop),
        "motion_fps": rate(t["motion_s"]),
        "render_fps": rate(t["render_s"]),
        "encode_fps": rate(t["encode_s"] + t["finish_s"]),
        "encode_pipe_fps": rate(t.get("encode_pipe_s", 0.0)),
        "load_s": round(t["load_s"], 2),
        "first_frame_s": round(t["first_frame_s"], 2),
        "elapsed_s": round(run["elapsed_s"], 1),
        "peak_rss_mb": round(run["peak_rss_mb"], 0),
        "ffmpeg_peak_rss_mb": round(run["ffmpeg_peak_rss_mb"], 0),
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
    cols = ("device", "audio_s", "frames", "end_to_end_fps", "loop_fps", "motion_fps",
            "render_fps", "encode_fps", "encode_pipe_fps", "load_s", "first_frame_s", "peak_rss_mb",
            "ffmpeg_peak_rss_mb")
    widths = [max(len(c), *(len(str(r.get(c))) for r in rows)) for c in cols]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r.get(c)).rjust(w) for c, w in zip(cols, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s and 60 s clips.")
    parser.add_argument("--device", default="auto", help="cpu | cuda | all | auto "
                        "(auto = CPU, plus CUDA when a GPU is present).")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--output", default=str(RESULTS), help="JSON results path.")
    parser.add_argument("--lengths", default="", help="Clip lengths in seconds, e.g. 60,600.")
    parser.add_argument("--long-stop-after", type=int, default=0, help=(
        "Memory-only long clip: stop the longest clip after this many frames (its RSS is "
        "flat from there on) and report peak RSS and time to first frame only."))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stop-after", type=int, default=0, help=argparse.SUPPRESS)
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
    lengths = (10.0, 60.0) if args.quick else (60.0, 600.0)
    if args.lengths:
        lengths = tuple(float(v) for v in args.lengths.split(","))
    workdir = Path(tempfile.gettempdir()) / "talkcli-bench"
    workdir.mkdir(exist_ok=True)
    clips = [make_audio(s, workdir) for s in lengths]

    rows: list[dict] = []
    for device in devices:
        for clip in clips:
            stop = args.long_stop_after if clip == clips[-1] else 0
            print(f"[{device}] rendering {clip.name} at {args.size}² ...", flush=True)
            row = {"device": device,
                   **summarise(run_case(clip, device, args.size, workdir, stop))}
            rows.append(row)
            print(f"    {row}", flush=True)

    checks = {}
    for device in devices:
        short, long_ = [r for r in rows if r["device"] == device][:2]
        ratio = long_["peak_rss_mb"] / short["peak_rss_mb"]
        checks[device] = {
            "rss_ratio_long_vs_short": round(ratio, 3),
            "rss_ratio_ok": ratio <= TARGET_RSS_RATIO,
            "end_to_end_fps_ok": min(r.get("end_to_end_fps", TARGET_FPS)
                                     for r in (short, long_)) >= TARGET_FPS,
        }
    result = {
        "environment": environment(),
        "settings": {"size": args.size, "fps": FPS, "lengths_s": lengths,
                     "targets": {"end_to_end_fps_cpu": TARGET_FPS,
                                 "rss_ratio": TARGET_RSS_RATIO}},
        "runs": rows,
        "checks": checks,
    }
    print()
    print_table(rows)
    print(json.dumps(checks, indent=2))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
