"""Emotion offsets: one actor's acted emotions against talkcli's, measured with the face mesh.

1. actor: the five MEAD M030 clips in dev-assets/video (neutral, happy, sad, angry, surprised),
   every frame tracked with `measure_face`; per clip the median of each
   `talkcli.face.emotion_metrics` measure; offsets = emotion clip - neutral clip.
   Cached in bench/results/emotion_actor.json (recomputed with --remeasure).
2. talkcli: each portrait (the embedded sample and every dev portrait) rendered at 512² with
   the emotion's channels at emotion.intensity 1 (head still, mouth closed) and neutral; the
   rendered frames re-measured; offsets = emotion - neutral, and their ratio to the actor's.

dev-assets are evaluation data: read in place, never copied. Absent -> the actor part is read
from the cache if there, the dev portraits are skipped. Writes bench/results/emotions.json.

    .venv/bin/python bench/emotion_offsets.py [--remeasure] [--sheet PNG]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from talkcli.face.analyze import measure_face  # noqa: E402
from talkcli.face.emotion_metrics import (  # noqa: E402
    MEASURES,
    expression_measures,
    median_measures,
    offsets,
)
from talkcli.motion.expression import still_latents  # noqa: E402
from talkcli.video.ffmpeg_bin import ffmpeg_exe  # noqa: E402
from talkcli.video.probe import probe  # noqa: E402

ASSETS = ROOT.parent.parent / "shared" / "dev-assets"
EMOTIONS = ("happy", "sad", "angry", "surprised")
RESULTS = ROOT / "bench" / "results"
# what each emotion is judged on (issue 15), and the signs the actor shows
KEY_MEASURES = {"happy": ("corners", "cheek", "eye_open"), "sad": ("corners", "brow_inner"),
                "angry": ("brow", "brow_gap"), "surprised": ("brow", "eye_open")}


def decode_video(path: Path) -> np.ndarray:
    info = probe(path, count=False)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path),
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, info.height, info.width, 3)


def clip_measures(path: Path) -> dict[str, float]:
    meshes, prev = [], None
    for frame in decode_video(path):
        m = measure_face(frame, prev)
        prev = m
        if m is not None:
            meshes.append(m.points)
    return median_measures(meshes) | {"frames": float(len(meshes))}


def actor_offsets(assets: Path, remeasure: bool) -> dict[str, dict[str, float]] | None:
    cache = RESULTS / "emotion_actor.json"
    if cache.exists() and not remeasure:
        return json.loads(cache.read_text())["offsets"]
    video = assets / "video"
    if not (video / "mead_M030_neutral.mp4").exists():
        return None
    clips = {name: clip_measures(video / f"mead_M030_{name}.mp4")
             for name in ("neutral", *EMOTIONS)}
    offs = {e: offsets(clips[e], clips["neutral"]) for e in EMOTIONS}
    cache.write_text(json.dumps({"clips": clips, "offsets": offs}, indent=2) + "\n")
    return offs


def portraits(assets: Path) -> dict[str, Path]:
    out = {"sample": Path(str(resources.files("talkcli.assets") / "portrait.png"))}
    folder = assets / "portrait"
    if folder.is_dir():
        out |= {p.stem: p for p in sorted(folder.iterdir()) if p.suffix in (".png", ".jpg")}
    return out


def render_emotions(path: Path, size: int) -> tuple[dict[str, dict[str, float]], np.ndarray]:
    """Offsets (emotion - neutral) of the re-measured render; the frames (neutral first)."""
    from talkcli.face.analyze import analyze_portrait
    from talkcli.face.image import load_image
    from talkcli.render.renderer import Renderer

    renderer = Renderer(analyze_portrait(load_image(path)), size=size)
    names = ("neutral", *EMOTIONS)
    lat = np.concatenate([still_latents(n, 1.0) for n in names])
    frames = renderer.render(lat)
    measured = {}
    for n, f in zip(names, frames, strict=True):
        m = measure_face(f)
        measured[n] = expression_measures(m.points) if m is not None else None
    base = measured["neutral"]
    offs = {e: offsets(measured[e], base) for e in EMOTIONS
            if base is not None and measured[e] is not None}
    return offs, frames


def print_offsets(title: str, offs: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"{'':10s}" + "".join(f"{m:>11s}" for m in MEASURES))
    for e, row in offs.items():
        print(f"{e:10s}" + "".join(f"{row[m]:+11.3f}" for m in MEASURES))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--remeasure", action="store_true", help="re-track the actor's clips")
    ap.add_argument("--assets", type=Path, default=ASSETS)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--only", nargs="*", default=None, help="portrait names to render")
    ap.add_argument("--sheet", type=Path, default=None, help="write a contact sheet PNG")
    args = ap.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    actor = actor_offsets(args.assets, args.remeasure)
    if actor is None:
        print("dev-assets/video/mead_M030_* not found and no cache: nothing to compare with")
        return 0
    print_offsets("actor (MEAD M030, median over frames, emotion - neutral)", actor)
    result: dict[str, object] = {"actor": actor, "portraits": {}}
    sheet_rows = []
    for name, path in portraits(args.assets).items():
        if args.only and name not in args.only:
            continue
        offs, frames = render_emotions(path, args.size)
        print_offsets(f"talkcli on {name} (emotion.intensity 1, {args.size}²)", offs)
        ratio = {e: {m: offs[e][m] / actor[e][m] for m in KEY_MEASURES[e]} for e in offs}
        print("  ratio to the actor: " + ", ".join(
            f"{e} {m} {r:.2f}" for e, d in ratio.items() for m, r in d.items()))
        result["portraits"][name] = {"offsets": offs, "ratio": ratio}  # type: ignore[index]
        sheet_rows.append(frames)
    (RESULTS / "emotions.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.sheet is not None:
        write_sheet(sheet_rows, args.sheet)
    return 0


def write_sheet(rows: list[np.ndarray], path: Path, cell: int = 256) -> None:
    """One row per portrait: neutral, happy, sad, angry, surprised."""
    from PIL import Image

    def face(f: np.ndarray) -> Image.Image:   # the middle of the face framing
        h, w = f.shape[:2]
        return Image.fromarray(f[int(0.22 * h):int(0.78 * h), int(0.22 * w):int(0.78 * w)])

    tiles = [[face(f).resize((cell, cell)) for f in frames] for frames in rows]
    heights = [max(t.height for t in row) for row in tiles]
    sheet = Image.new("RGB", (cell * max(len(r) for r in tiles), sum(heights)), "white")
    y = 0
    for row, h in zip(tiles, heights, strict=True):
        for i, t in enumerate(row):
            sheet.paste(t, (i * cell, y))
        y += h
    sheet.save(path)


if __name__ == "__main__":
    raise SystemExit(main())
