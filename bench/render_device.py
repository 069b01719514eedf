"""The renderer alone, on each device at hand (`make bench-render-device`; issue #9 part 4).

`bench/render_speed.py` measures the whole pipeline, which needs the face models' runtime
(ai-edge-litert), the recogniser (pocketsphinx), the voice-activity model and an ffmpeg: some
150 MB of wheels that a borrowed CUDA machine with torch and OpenCV may lack and that cannot
all travel to it. This benchmark splits the work: `prepare` analyses the embedded portrait and
makes the sample's motion here, into two small .npz files; `run` needs only numpy, torch,
OpenCV and talkcli's renderer, and times `Renderer.render` (latents in, uint8 frames on the
host out, so a GPU's figure includes the copy back) per size and batch, on the CPU (one
thread: the render's share of a 2-core machine) and on CUDA when present. On CUDA it also
renders one batch on both devices and reports how far apart the frames are.

    python bench/render_device.py prepare DIR
    python bench/render_device.py run DIR [--device cpu|cuda|all] [--sizes 512,256,1024]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "render_device.json"
RIG_FILE = "rig.npz"
MOTION_FILE = "motion.npz"
TARGET_CPU_MS = 5.0        # issue #9: render <= 5 ms a frame at 512² on one core
TARGET_CUDA_FPS = 1000.0   # issue #9: >= 1000 frames/s render at 512² on a CUDA GPU
BATCHES = {"cpu": (16,), "cuda": (16, 64)}


# -- the rig as plain arrays (no pickle: the file may have travelled) ----------------------

def save_rig(rig: Any, path: Path) -> None:
    """A FaceRig as an .npz of its fields; the head pose's fields as "pose.<name>"."""
    arrays: dict[str, np.ndarray] = {}
    for f in dataclasses.fields(rig):
        value = getattr(rig, f.name)
        if dataclasses.is_dataclass(value):
            for g in dataclasses.fields(value):
                arrays[f"pose.{g.name}"] = np.asarray(getattr(value, g.name))
        else:
            arrays[f.name] = np.asarray(value)
    np.savez_compressed(path, **arrays)


def load_rig(path: Path) -> Any:
    from talkcli.face.rig import FaceRig, HeadPose

    with np.load(path, allow_pickle=False) as data:
        arrays = {k: _plain(data[k]) for k in data.files}
    pose = HeadPose(**{f.name: arrays.pop(f"pose.{f.name}") for f in dataclasses.fields(HeadPose)})
    arrays["box"] = tuple(float(v) for v in arrays["box"])   # the one tuple field
    return FaceRig(pose=pose, **arrays)


def _plain(value: np.ndarray) -> Any:
    """A saved scalar back as a Python float or int; arrays stay arrays."""
    return value.item() if value.ndim == 0 else value


def prepare(directory: Path) -> None:
    """Analyse the embedded portrait and make the sample's motion (the pipeline's model)."""
    from talkcli.audio.io import load_audio
    from talkcli.cli.render_cmd import sample_paths
    from talkcli.config import load_preset
    from talkcli.face.analyze import analyze_portrait
    from talkcli.face.image import load_image
    from talkcli.motion.generator import MotionGenerator
    from talkcli.pipeline import PIPELINE_CHUNK_FRAMES

    portrait, speech, _ = sample_paths()
    directory.mkdir(parents=True, exist_ok=True)
    save_rig(analyze_portrait(load_image(portrait)), directory / RIG_FILE)
    gen = MotionGenerator(load_preset(None, []), fps=25.0, seed=0)
    values = np.concatenate(list(gen.stream_incremental(
        load_audio(speech), transcript=None, chunk_frames=PIPELINE_CHUNK_FRAMES)))
    np.savez(directory / MOTION_FILE, values=values.astype(np.float32))
    print(f"wrote {directory / RIG_FILE} and {directory / MOTION_FILE} ({len(values)} frames)")


# -- timing ---------------------------------------------------------------------------------

def time_renderer(rig: Any, motion: np.ndarray, size: int, device: str, batch: int,
                  frames: int) -> dict[str, Any]:
    """ms a frame of `Renderer.render` over `frames` frames of the motion (cycled), after two
    batches of warm-up; wall and this process' CPU time."""
    import torch

    from talkcli.render.renderer import Renderer

    t0 = time.perf_counter()
    renderer = Renderer(rig, size=size, device=device, max_batch=batch)
    setup_s = time.perf_counter() - t0
    lat = np.resize(motion, (frames + 2 * batch, motion.shape[1])).astype(np.float32)
    for k in range(2):
        renderer.render(lat[k * batch:(k + 1) * batch])
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for start in range(2 * batch, 2 * batch + frames, batch):
        renderer.render(lat[start:min(start + batch, 2 * batch + frames)])
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    row: dict[str, Any] = {
        "device": device, "size": size, "batch": batch, "frames": frames,
        "setup_s": round(setup_s, 3),
        "ms_per_frame": round(1000 * wall / frames, 3),
        "frames_per_s": round(frames / wall, 1),
        "cpu_ms_per_frame": round(1000 * cpu / frames, 3),
    }
    if device == "cuda":
        row["cuda_peak_mem_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return row


def devices_match(rig: Any, motion: np.ndarray, size: int = 256) -> dict[str, Any]:
    """One batch on the CPU and on CUDA: the largest difference and the share over a level."""
    from talkcli.render.renderer import Renderer

    lat = np.ascontiguousarray(motion[:16], dtype=np.float32)
    cpu = Renderer(rig, size=size, device="cpu", max_batch=16).render(lat).astype(np.int16)
    gpu = Renderer(rig, size=size, device="cuda", max_batch=16).render(lat).astype(np.int16)
    diff = np.abs(cpu - gpu)
    return {"size": size, "frames": len(lat), "max_abs_diff": int(diff.max()),
            "share_over_1_level": float(np.mean(diff > 1))}


def run(directory: Path, devices: list[str], sizes: list[int], frames: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)   # the render's one core of two (the pipeline's thread plan)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1, user_api="blas")
    except ImportError:
        pass
    rig = load_rig(directory / RIG_FILE)
    with np.load(directory / MOTION_FILE, allow_pickle=False) as data:
        motion = data["values"]
    rows = []
    for device in devices:
        for size in sizes:
            for batch in BATCHES[device]:
                # the CPU: about equal time per size (a 1024² frame costs ~4x a 512² one)
                n = frames if device == "cuda" else max(batch, frames * 512 ** 2 // (2 * size ** 2))
                rows.append(time_renderer(rig, motion, size, device, batch, n))
                print(json.dumps(rows[-1]), flush=True)
    result: dict[str, Any] = {"environment": environment(), "runs": rows,
                              "targets": {"cpu_ms_per_frame_512": TARGET_CPU_MS,
                                          "cuda_frames_per_s_512": TARGET_CUDA_FPS}}
    if "cuda" in devices:
        result["cuda_vs_cpu"] = devices_match(rig, motion)
    result["check"] = check(rows)
    return result


def check(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cpu = [r["ms_per_frame"] for r in rows if r["device"] == "cpu" and r["size"] == 512]
    if cpu:
        out["cpu_ms_per_frame_512"] = min(cpu)
        out["cpu_ok"] = min(cpu) <= TARGET_CPU_MS
    gpu = [r["frames_per_s"] for r in rows if r["device"] == "cuda" and r["size"] == 512]
    if gpu:
        out["cuda_frames_per_s_512"] = max(gpu)
        out["cuda_ok"] = max(gpu) >= TARGET_CUDA_FPS
    return out


def environment() -> dict[str, Any]:
    import cv2
    import torch

    from talkcli import __version__

    return {
        "talkcli": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "opencv": cv2.__version__,
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("prepare", "run"))
    parser.add_argument("directory", type=Path, help="Where the rig and motion are kept.")
    parser.add_argument("--device", default="all", help="cpu | cuda | all (CUDA if present).")
    parser.add_argument("--sizes", default="512,256,1024")
    parser.add_argument("--frames", type=int, default=400,
                        help="Frames timed per case (CPU: half as many at 512², x 1/size²).")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.directory)
        return
    import torch

    devices = {"cpu": ["cpu"], "cuda": ["cuda"],
               "all": ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])}[args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU here")
    result = run(args.directory, devices, [int(s) for s in args.sizes.split(",")], args.frames)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["check"]))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
