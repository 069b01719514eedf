"""BrowShade: a lowered brow (brow_frown) shades the skin between the brow and the upper lid,
nothing else; no change at brow_frown 0."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from talkcli.face import regions
from talkcli.motion.latent import index, neutral
from talkcli.render.brows import BrowShade


@pytest.fixture(scope="module")
def mesh(sample_face_crop) -> torch.Tensor:  # noqa: ANN001
    from talkcli.face.analyze import analyze_portrait

    _, arr = sample_face_crop
    return torch.from_numpy(np.array(analyze_portrait(arr).points)).float()


def _latents(frown: list[float]) -> torch.Tensor:
    lat = torch.from_numpy(neutral(len(frown)))
    lat[:, index("brow_frown")] = torch.tensor(frown)
    return lat


def _polygon(points: torch.Tensor, ids: tuple[int, ...], size: int) -> torch.Tensor:
    img = Image.new("L", (size, size), 0)
    ImageDraw.Draw(img).polygon([tuple(map(float, points[i, :2])) for i in ids], fill=1)
    return torch.from_numpy(np.array(img)).bool()


def test_no_frown_changes_nothing(mesh: torch.Tensor) -> None:
    frames = torch.rand(2, 3, 512, 512)
    out = BrowShade(512, 512).composite(frames.clone(), mesh[None].repeat(2, 1, 1),
                                        _latents([0.0, 0.0]))
    assert torch.equal(out, frames)


def test_frown_shades_between_brow_and_lid_only(mesh: torch.Tensor) -> None:
    frames = torch.full((1, 3, 512, 512), 0.8)
    out = BrowShade(512, 512).composite(frames.clone(), mesh[None], _latents([1.0]))
    dark = (frames - out)[0].amax(0)
    assert float(dark.max()) > 0.2                    # a visible shadow
    assert float((out - frames).max()) <= 0.0         # only ever darker
    # nothing inside the eye openings, below the lids or on the forehead above the brows
    for eye in (regions.EYE_LEFT, regions.EYE_RIGHT):
        assert float(dark[_polygon(mesh, eye, 512)].max()) < 0.01
    ys, xs = torch.nonzero(dark > 0.01, as_tuple=True)
    brow_top = float(mesh[list(regions.BROW_LEFT + regions.BROW_RIGHT), 1].min())
    lids_low = float(mesh[list(regions.EYE_LEFT + regions.EYE_RIGHT), 1].max())
    assert float(ys.min()) >= brow_top - 3.0 and float(ys.max()) <= lids_low
    # the strongest shade lies between the brows' and the lids' middles
    y_peak = float(torch.nonzero(dark == dark.max())[0, 0])
    brow_y = float(mesh[[105, 334], 1].mean())
    lid_y = float(mesh[[159, 386], 1].mean())
    assert brow_y < y_peak < lid_y


def test_shade_scales_with_frown_and_batches(mesh: torch.Tensor) -> None:
    frames = torch.full((3, 3, 512, 512), 0.8)
    shade = BrowShade(512, 512)
    out = shade.composite(frames.clone(), mesh[None].repeat(3, 1, 1),
                          _latents([0.5, 1.0, 0.0]))
    dark = (frames - out).amax((1, 2, 3))
    assert float(dark[0]) == pytest.approx(0.5 * float(dark[1]), rel=1e-4)
    assert float(dark[2]) == 0.0
    single = shade.composite(frames[1:2].clone(), mesh[None], _latents([1.0]))
    assert torch.allclose(single[0], out[1], atol=1e-6)
