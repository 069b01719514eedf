"""bench/render_device.py: the rig it saves renders what the analysed one renders, and a
`prepare` + `run` on the CPU writes its figures (the same commands a CUDA machine runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from talkcli.face.analyze import analyze_portrait
from talkcli.face.image import load_image
from talkcli.motion.latent import index, neutral
from talkcli.render.renderer import Renderer

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def render_device():  # noqa: ANN201
    sys.path.insert(0, str(BENCH))
    try:
        import render_device as module
    finally:
        sys.path.remove(str(BENCH))
    return module


def test_saved_rig_renders_the_same(render_device, sample_portrait_path: Path,  # noqa: ANN001
                                    tmp_path: Path) -> None:
    rig = analyze_portrait(load_image(sample_portrait_path))
    render_device.save_rig(rig, tmp_path / "rig.npz")
    back = render_device.load_rig(tmp_path / "rig.npz")
    assert back.pose.yaw == rig.pose.yaw and back.box == rig.box
    assert back.face_index == rig.face_index and back.faces_found == rig.faces_found
    lat = neutral(2)
    lat[1, index("jaw_open")] = 0.8
    lat[1, index("head_yaw")] = 6.0
    a = Renderer(rig, size=128, max_batch=2).render(lat)
    b = Renderer(back, size=128, max_batch=2).render(lat)
    assert np.array_equal(a, b)


def test_prepare_and_run_on_the_cpu(tmp_path: Path) -> None:
    script = str(BENCH / "render_device.py")
    subprocess.run([sys.executable, script, "prepare", str(tmp_path / "in")], check=True,
                   capture_output=True, timeout=300)
    out = tmp_path / "result.json"
    subprocess.run([sys.executable, script, "run", str(tmp_path / "in"), "--device", "cpu",
                    "--sizes", "128", "--frames", "8", "--output", str(out)], check=True,
                   capture_output=True, timeout=300)
    result = json.loads(out.read_text())
    (row,) = result["runs"]
    assert (row["device"], row["size"], row["batch"]) == ("cpu", 128, 16)
    assert row["frames"] >= 16 and row["ms_per_frame"] > 0
    assert "cuda_vs_cpu" not in result and result["check"] == {}  # no 512², no CUDA asked
