"""Provenance benchmark: does `talkcli verify` find the marks after common transformations,
and never on unmarked media? Writes bench/results/provenance.json.

    .venv/bin/python bench/provenance.py [--size 512] [--seconds 6] [--generated 300]

1. Renders the embedded sample (its first `--seconds` of speech) at `--size`², then applies
   each transformation with ffmpeg (metadata stripped with -map_metadata -1) and runs the
   watermark detector: z-score, margin over the threshold, payload read or not.
2. PSNR of marked against unmarked frames (the same frames with the mark taken off by
   rendering the motion again without it is not possible, so: the embedder applied to
   rendered-style frames, the sample face crop and dev portraits), cost per frame at 512².
3. False positives: every dev video and dev portrait (../shared/dev-assets, when present)
   and `--generated` unmarked images (noise, gradients, cartoons) and clips.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from talkcli.provenance.payload import new_payload  # noqa: E402
from talkcli.provenance.verify import verify_file  # noqa: E402
from talkcli.provenance.watermark import (  # noqa: E402
    Z_THRESHOLD,
    Embedder,
    detect_gray,
    rgb_to_gray,
)
from talkcli.video.ffmpeg_bin import ffmpeg_exe  # noqa: E402

DEV = ROOT.parent.parent / "shared" / "dev-assets"
RESULTS = ROOT / "bench" / "results" / "provenance.json"

CROP = "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2"  # 10% off every side, even sizes
# name -> ffmpeg output options (video re-encoded with libx264 crf 23 unless stated).
VIDEO_TRANSFORMS: dict[str, list[str]] = {
    "reencode_crf30": ["-c:v", "libx264", "-crf", "30"],
    "scale_256": ["-vf", "scale=256:256"],
    "scale_1080": ["-vf", "scale=1080:1080"],
    "crop_10pct_each_side": ["-vf", CROP],
    "crop_10pct_rescaled": ["-vf", CROP + ",scale=trunc(iw/1.6)*2:trunc(ih/1.6)*2"],
    "excerpt_3s": ["-ss", "1.5", "-t", "3"],
    "greyscale": ["-vf", "format=gray,format=yuv420p"],
    "brightness_+10": ["-vf", "eq=brightness=0.1"],
    "brightness_-10": ["-vf", "eq=brightness=-0.1"],
    "contrast_+10": ["-vf", "eq=contrast=1.1"],
    "contrast_-10": ["-vf", "eq=contrast=0.9"],
    "blur_sigma1": ["-vf", "gblur=sigma=1"],
}


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    *args], check=True)


def transform_video(src: Path, dst: Path, opts: list[str]) -> None:
    """ffmpeg re-encode with the given options, all metadata stripped, no audio."""
    pre = opts[:4] if opts[:1] == ["-ss"] else []
    rest = opts[4:] if pre else opts
    codec = [] if "-c:v" in rest else ["-c:v", "libx264", "-crf", "23"]
    ffmpeg(*pre, "-i", str(src), "-map_metadata", "-1", "-map", "0:v:0", "-an", *rest,
           *codec, "-pix_fmt", "yuv420p", str(dst))


def frame_files(src: Path, folder: Path) -> dict[str, Path]:
    """One frame as PNG and as JPEG quality 75 (metadata-free)."""
    from PIL import Image

    png = folder / "frame.png"
    ffmpeg("-ss", "1", "-i", str(src), "-map_metadata", "-1", "-frames:v", "1", str(png))
    jpg = folder / "frame_q75.jpg"
    with Image.open(png) as img:
        img.convert("RGB").save(jpg, quality=75)
    stripped = folder / "frame_plain.png"
    with Image.open(png) as img:
        img.convert("RGB").save(stripped)  # no text chunks
    return {"frame_png": stripped, "frame_jpeg_q75": jpg}


def transformations(marked: Path, folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    files = {name: folder / f"{name}.mp4" for name in VIDEO_TRANSFORMS}
    for name, opts in VIDEO_TRANSFORMS.items():
        transform_video(marked, files[name], opts)
    paths: dict[str, Path] = {"original": marked, **files, **frame_files(marked, folder)}
    for name, path in paths.items():
        report = verify_file(path)
        wm = report["watermark"]
        out[name] = {"found": wm["found"], "z": wm["z"],
                     "margin": round(wm["z"] - Z_THRESHOLD, 2),
                     "payload_read": wm["payload_valid"], "frames": wm["frames_used"],
                     "metadata": report["metadata"]["found"],
                     "c2pa": bool(report["c2pa"].get("found"))}
        print(f"  {name:24s} z={wm['z']:6.1f} found={wm['found']} "
              f"payload={wm['payload_valid']} c2pa={out[name]['c2pa']}", flush=True)
    return out


# --------------------------------------------------------------------------- unmarked media
def generated_images(n: int, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Unmarked test pictures: noise (white, smooth), gradients, cartoons, stripes."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    out: list[tuple[str, np.ndarray]] = []
    kinds = ("white_noise", "smooth_noise", "gradient", "cartoon", "stripes")
    for i in range(n):
        kind = kinds[i % len(kinds)]
        h, w = (int(v) for v in rng.choice([128, 256, 384, 512], size=2))
        if kind == "white_noise":
            img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        elif kind == "smooth_noise":
            small = rng.normal(128, 60, (max(2, h // 16), max(2, w // 16), 3))
            big = Image.fromarray(np.clip(small, 0, 255).astype(np.uint8)).resize(
                (w, h), Image.Resampling.BICUBIC)
            img = np.asarray(big)
        elif kind == "gradient":
            yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
            a, b, c = rng.uniform(-255, 255, 3)
            g = np.clip(128 + a * xx + b * yy + c * xx * yy, 0, 255)
            img = np.repeat(g[..., None], 3, axis=2).astype(np.uint8)
        elif kind == "cartoon":
            pic = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(0, 256, 3)))
            draw = ImageDraw.Draw(pic)
            for _ in range(int(rng.integers(3, 15))):
                x0, y0 = rng.integers(0, w), rng.integers(0, h)
                x1, y1 = x0 + rng.integers(10, w), y0 + rng.integers(10, h)
                fill = tuple(int(v) for v in rng.integers(0, 256, 3))
                shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
                shape((int(x0), int(y0), int(x1), int(y1)), fill=fill, outline=(0, 0, 0),
                      width=int(rng.integers(1, 5)))
            img = np.asarray(pic)
        else:
            period = rng.uniform(3, 40)
            angle = rng.uniform(0, np.pi)
            yy, xx = np.mgrid[0:h, 0:w]
            g = 128 + 100 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle))
                                   / period)
            img = np.repeat(g[..., None], 3, axis=2).astype(np.uint8)
        out.append((kind, np.ascontiguousarray(img)))
    return out


def false_positives(n_generated: int, n_clips: int, folder: Path) -> dict[str, Any]:
    zs: dict[str, list[float]] = {}
    hits: list[str] = []

    def record(group: str, name: str, z: float, found: bool) -> None:
        zs.setdefault(group, []).append(z)
        if found:
            hits.append(f"{group}/{name}")

    for i, (kind, img) in enumerate(generated_images(n_generated)):
        d = detect_gray(rgb_to_gray(img))
        record("generated_images", f"{kind}_{i}", d.z, d.found)
    for i, (kind, img) in enumerate(generated_images(n_clips, seed=1)):
        h, w = (v - v % 2 for v in img.shape[:2])
        clip = folder / f"gen_{i}.mp4"
        rng = np.random.default_rng(i)
        frames = []
        for t in range(25):  # one second: the picture drifting and flickering
            f = np.roll(img[:h, :w], (t * int(rng.integers(0, 3)), t), axis=(0, 1))
            frames.append(np.clip(f.astype(np.int16) + int(rng.integers(-5, 6)), 0, 255))
        data = np.stack(frames).astype(np.uint8).tobytes()
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo",
                        "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25", "-i", "-",
                        "-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p", str(clip)],
                       input=data, check=True)
        r = verify_file(clip)["watermark"]
        record("generated_clips", f"{kind}_{i}", r["z"], r["found"])
    if DEV.is_dir():
        for path in sorted((DEV / "portrait").iterdir()) + sorted((DEV / "video").iterdir()):
            if path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".mp4"):
                continue
            r = verify_file(path)
            group = "dev_portraits" if path.parent.name == "portrait" else "dev_videos"
            record(group, path.name, r["watermark"]["z"], r["synthetic"])
    summary = {g: {"n": len(v), "max_z": round(max(v), 2), "mean_z": round(float(np.mean(v)), 2)}
               for g, v in zs.items()}
    return {"groups": summary, "false_positives": hits, "threshold": Z_THRESHOLD}


# --------------------------------------------------------------------------- cost, PSNR
def psnr_and_cost(size: int) -> dict[str, Any]:
    from PIL import Image

    pictures: list[tuple[str, np.ndarray]] = []
    sample = ROOT / "talkcli" / "assets" / "portrait.png"
    paths = [sample] + (sorted((DEV / "portrait").iterdir()) if DEV.is_dir() else [])
    for path in paths:
        with Image.open(path) as img:
            pictures.append((path.name, np.asarray(img.convert("RGB").resize((size, size)))))
    psnr = {}
    for name, pic in pictures:
        marked = Embedder(new_payload()).embed(pic.copy())
        mse = float(np.mean((marked.astype(np.float64) - pic) ** 2))
        psnr[name] = round(10 * np.log10(255 ** 2 / mse), 2)
    embedder = Embedder(new_payload())
    batch = np.repeat(pictures[0][1][None], 32, axis=0)
    embedder.embed(batch)  # the per-size offsets are made once
    t0 = time.process_time()
    reps = 10
    for _ in range(reps):
        embedder.embed(batch)
    cost_ms = (time.process_time() - t0) / (reps * batch.shape[0]) * 1e3
    return {"psnr_db": psnr, "min_psnr_db": min(psnr.values()),
            "embed_cpu_ms_per_frame": round(cost_ms, 3), "size": size}


def render_sample(folder: Path, size: int, seconds: float) -> Path:
    import soundfile as sf

    from talkcli.cli.render_cmd import sample_paths
    from talkcli.pipeline import RenderRequest, render_video

    portrait, speech, _ = sample_paths()
    audio, rate = sf.read(speech)
    short = folder / "speech_excerpt.wav"
    sf.write(short, audio[: int(seconds * rate)], rate)
    out = folder / f"marked_{size}.mp4"
    render_video(RenderRequest(portrait=portrait, audio=short, output=out, size=size,
                               overwrite=True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--generated", type=int, default=300)
    ap.add_argument("--clips", type=int, default=40)
    args = ap.parse_args()
    result: dict[str, Any] = {"machine_note": "shared 2-core machine; CPU time for cost"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("cost and PSNR", flush=True)
        result["invisibility_and_cost"] = psnr_and_cost(512)
        print(json.dumps(result["invisibility_and_cost"]), flush=True)
        print(f"rendering {args.seconds:g} s at {args.size}²", flush=True)
        marked = render_sample(folder, args.size, args.seconds)
        result["transformations"] = transformations(marked, folder)
        found = [v["found"] for v in result["transformations"].values()]
        result["detection_rate"] = round(sum(found) / len(found), 4)
        result["min_margin"] = min(v["margin"] for v in result["transformations"].values())
        print("false positives", flush=True)
        result["null"] = false_positives(args.generated, args.clips, folder)
        print(json.dumps(result["null"]), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
