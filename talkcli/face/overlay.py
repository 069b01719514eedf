"""A readable picture of what analysis found: mesh, contours, irises, box and pose axes."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from talkcli.face import regions
from talkcli.face.pose import canonical_face
from talkcli.face.rig import FaceRig

_LIPS = (255, 70, 90)
_EYES = (60, 220, 255)
_IRIS = (255, 230, 40)
_BROWS = (255, 150, 40)
_OVAL = (190, 190, 255)
_BOX = (90, 255, 120)
_MESH = (255, 255, 255)
_AXES = ((255, 60, 60), (60, 255, 60), (70, 120, 255))  # x (subject's left), y (up), z (out)


def _loop(draw: ImageDraw.ImageDraw, pts: np.ndarray, idx: tuple[int, ...],
          colour: tuple[int, int, int], width: int, closed: bool = True) -> None:
    seq = [(float(pts[i, 0]), float(pts[i, 1])) for i in idx]
    if closed:
        seq.append(seq[0])
    draw.line(seq, fill=colour, width=width, joint="curve")


def _circle(draw: ImageDraw.ImageDraw, centre: np.ndarray, radius: float,
            colour: tuple[int, int, int], width: int) -> None:
    x, y = float(centre[0]), float(centre[1])
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=colour, width=width)


def draw_overlay(rig: FaceRig) -> Image.Image:
    """The portrait with the analysis drawn on it (RGB, same size as the portrait)."""
    img = Image.fromarray(rig.image).convert("RGB")
    draw = ImageDraw.Draw(img)
    pts = rig.points
    unit = max(rig.face_height / 150.0, 0.5)   # line widths follow the face's size
    width = max(int(round(unit)), 1)
    dot = max(unit * 0.8, 0.6)
    for x, y in pts[:, :2]:
        draw.ellipse((x - dot, y - dot, x + dot, y + dot), fill=_MESH)
    x0, y0, x1, y1 = rig.box
    draw.rectangle((x0, y0, x1, y1), outline=_BOX, width=width)
    _loop(draw, pts, regions.FACE_OVAL, _OVAL, width)
    _loop(draw, pts, regions.LIPS_OUTER, _LIPS, width)
    _loop(draw, pts, regions.LIPS_INNER, _LIPS, width)
    for brow in (regions.BROW_LEFT, regions.BROW_RIGHT):
        _loop(draw, pts, brow[:5], _BROWS, width, closed=False)
        _loop(draw, pts, brow[5:], _BROWS, width, closed=False)
    for lids in (rig.eye_left, rig.eye_right):
        order = tuple(range(9)) + (8,) + tuple(range(15, 8, -1)) + (0,)
        _loop(draw, lids, order, _EYES, width, closed=False)
    for iris in (rig.iris_left, rig.iris_right):
        radius = float(np.linalg.norm(iris[1:] - iris[0], axis=1).mean())
        _circle(draw, iris[0], radius, _IRIS, width)
        _circle(draw, iris[0], max(unit, 1.0), _IRIS, width)
    _draw_axes(draw, rig, width)
    return img


def _draw_axes(draw: ImageDraw.ImageDraw, rig: FaceRig, width: int) -> None:
    """Head axes from the nose tip: canonical x, y, z (4 cm each) through the fitted pose."""
    pose = rig.pose
    nose = canonical_face()[regions.NOSE_TIP]
    origin = pose.scale * pose.rotation @ nose + pose.translation
    for axis, colour in zip(np.eye(3) * 4.0, _AXES, strict=True):
        tip = pose.scale * pose.rotation @ (nose + axis) + pose.translation
        draw.line([(float(origin[0]), float(origin[1])), (float(tip[0]), float(tip[1]))],
                  fill=colour, width=width + 1)
