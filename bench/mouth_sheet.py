"""Mouth close-up contact sheet (issue #8): every dev portrait at closed, half, wide, f, o and
ee, then real dev speakers' mouths at the 5th, 50th, 80th and 97th percentile of their opening
(first four columns; the column titles name the rendered poses).

Each cell is the mouth region (lip corners +- 0.45 mouth width, from the deformed mesh)
scaled to one size, so lip shape, teeth and interior can be compared at a glance.

    .venv/bin/python bench/mouth_sheet.py -o /tmp/mouth_sheet.png [--size 384]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from mouth import DEFAULT_ASSETS, _decode_25, make_renderer  # noqa: E402

from talkcli.face.analyze import measure_face  # noqa: E402
from talkcli.motion.latent import index, neutral  # noqa: E402

CELL = 160
# name -> {channel: value}
POSES: dict[str, dict[str, float]] = {
    "closed": {},
    "half": {"jaw_open": 0.35},
    "wide": {"jaw_open": 0.75},
    "f": {"jaw_open": 0.1, "lip_tuck": 1.0},
    "o": {"jaw_open": 0.3, "mouth_round": 0.8},
    "ee": {"jaw_open": 0.2, "mouth_wide": 1.0},
}
REAL_FRAMES = ("german_anchor_20s_mimictalk", "retalking_face1_young_man_suit",
               "vox2_pcavs_Audio_Source_00373", "may_5s_real3dportrait")


def mouth_cell(frame: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The mouth box around corners 61/291 resized to CELL x CELL*0.75."""
    from PIL import Image

    c = 0.5 * (pts[61, :2] + pts[291, :2])
    half = 0.9 * float(np.linalg.norm(pts[61, :2] - pts[291, :2]))
    x0, y0 = c[0] - half, c[1] - 0.75 * half
    box = (int(x0), int(y0), int(x0 + 2 * half), int(y0 + 1.5 * half))
    img = Image.fromarray(frame).crop(box).resize((CELL, int(CELL * 0.75)), Image.LANCZOS)
    return np.asarray(img)


def latents(pose: dict[str, float]) -> np.ndarray:
    lat = neutral(1)
    for k, v in pose.items():
        try:
            lat[0, index(k)] = v
        except ValueError:   # a channel this version does not have
            continue
    return lat


def portrait_row(path: Path, size: int) -> list[np.ndarray]:
    r = make_renderer(path, size)
    cells = []
    for pose in POSES.values():
        lat = latents(pose)
        frame = r.render(lat)[0]
        pts = r.deform(lat)[0, :468].numpy()
        cells.append(mouth_cell(frame, pts))
    return cells


def real_row(path: Path) -> list[np.ndarray]:
    """Frames of a real speaker at the 5th, 50th and 95th percentile of its mouth gap."""
    frames = _decode_25(path, 8.0)
    gaps, pts = [], []
    prev = None
    for im in frames:
        m = measure_face(im, prev)
        prev = m
        p = None if m is None else np.asarray(m.points, float)
        pts.append(p)
        gaps.append(np.nan if p is None else np.linalg.norm(p[13] - p[14]))
    g = np.array(gaps)
    order = np.argsort(np.nan_to_num(g, nan=-1))
    valid = order[np.isfinite(g[order])]
    picks = [valid[int(q * (len(valid) - 1))] for q in (0.05, 0.5, 0.8, 0.97)]
    return [mouth_cell(frames[i], pts[i]) for i in picks]


def main(argv: list[str] | None = None) -> int:
    from PIL import Image, ImageDraw

    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--assets", type=Path, default=DEFAULT_ASSETS)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--no-real", action="store_true")
    args = ap.parse_args(argv)
    rows: list[tuple[str, list[np.ndarray]]] = []
    for p in sorted((args.assets / "portrait").glob("*")):
        rows.append((p.stem, portrait_row(p, args.size)))
    if not args.no_real:
        for name in REAL_FRAMES:
            rows.append(("REAL " + name, real_row(args.assets / "video" / f"{name}.mp4")))
    h = int(CELL * 0.75)
    label_h = 14
    sheet = Image.new("RGB", (CELL * len(POSES), (h + label_h) * len(rows) + label_h), "white")
    draw = ImageDraw.Draw(sheet)
    for j, name in enumerate(POSES):
        draw.text((j * CELL + 4, 1), name, fill="black")
    for i, (name, cells) in enumerate(rows):
        y = label_h + i * (h + label_h)
        draw.text((4, y + 1), name[:48], fill="black")
        for j, c in enumerate(cells):
            sheet.paste(Image.fromarray(c), (j * CELL, y + label_h))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
