"""`talkcli batch` (issue #12): manifest validation, local workers, resume, Ray, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from talkcli.batch.manifest import load_manifest
from talkcli.batch.plan import default_workers, threads_per_worker
from talkcli.cli import app
from talkcli.cli.batch_cmd import normalise_ray_argv
from talkcli.video.ffmpeg_bin import ffmpeg_exe

runner = CliRunner()
TALKCLI = [sys.executable, "-m", "talkcli"]


@pytest.fixture()
def media(tmp_path: Path, sample_portrait_path: Path, sample_speech_path: Path) -> Path:
    """A folder with the sample portrait and a 1.2 s cut of the sample speech."""
    (tmp_path / "p.png").write_bytes(sample_portrait_path.read_bytes())
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(sample_speech_path),
                    "-t", "1.2", str(tmp_path / "a.wav")], check=True)
    return tmp_path


def write_csv(folder: Path, rows: list[str], name: str = "jobs.csv") -> Path:
    p = folder / name
    p.write_text("\n".join(rows) + "\n")
    return p


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# -- validated before any work ----------------------------------------------------------

def test_manifest_paths_are_relative_to_its_folder(media: Path) -> None:
    sub = media / "sub"
    sub.mkdir()
    m = write_csv(sub, ["portrait,audio,output,set,seed,fps",
                        "../p.png,../a.wav,o.mp4,head.intensity=0.5;blink.rate_per_min=10,3,30"])
    (job,) = load_manifest(m)
    assert job.request.portrait == sub / "../p.png" and job.request.output == sub / "o.mp4"
    assert job.request.overrides == ("head.intensity=0.5", "blink.rate_per_min=10")
    assert (job.request.seed, job.request.fps) == (3, 30.0)
    jl = sub / "jobs.jsonl"
    jl.write_text(json.dumps({"portrait": str(media / "p.png"), "audio": "../a.wav",
                              "output": "x.mp4", "size": 256, "job": "intro"}) + "\n")
    (job,) = load_manifest(jl)
    assert job.name == "intro" and job.request.size == 256
    assert job.request.portrait == media / "p.png" and job.request.audio == sub / "../a.wav"


@pytest.mark.parametrize(("rows", "code", "needle"), [
    (["portrait,audio,output,colour", "p.png,a.wav,o.mp4,red"], 2, "unknown column 'colour'"),
    (["portrait,audio,output,fps", "p.png,a.wav,o.mp4,25", "p.png,a.wav,o2.mp4,fast"], 2,
     "row 2: fps must be a number"),
    (["portrait,audio,output,size", "p.png,a.wav,o.mp4,9999"], 2, "row 1: --size"),
    (["portrait,audio,output", "p.png,,o.mp4"], 2, "row 1: missing audio"),
    (["portrait,audio,output", "p.png,a.wav,o.mp4", "p.png,a.wav,o.mp4"], 2,
     "row 2: output"),
    (["portrait,audio,output,preset", "p.png,a.wav,o.mp4,nosuchpreset"], 3, "row 1"),
    (["portrait,audio,output,set", "p.png,a.wav,o.mp4,head.intensity"], 2, "row 1: set"),
])
def test_bad_manifest_is_refused_before_any_work(media: Path, rows: list[str], code: int,
                                                 needle: str) -> None:
    m = write_csv(media, rows)
    r = runner.invoke(app, ["batch", str(m)])
    assert r.exit_code == code, r.output
    assert needle in r.output
    assert not list(media.glob("*.mp4"))


def test_missing_manifest_and_bad_workers(media: Path) -> None:
    assert runner.invoke(app, ["batch", str(media / "none.csv")]).exit_code == 3
    m = write_csv(media, ["portrait,audio,output", "p.png,a.wav,o.mp4"])
    assert runner.invoke(app, ["batch", str(m), "--workers", "0"]).exit_code == 2


def test_ray_missing_is_exit_5_with_the_install_hint(media: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    m = write_csv(media, ["portrait,audio,output", "p.png,a.wav,o.mp4"])
    r = runner.invoke(app, ["batch", str(m), "--ray=local"])
    assert r.exit_code == 5 and "pip install 'talkcli[ray]'" in r.output
    assert not (media / "o.mp4").exists()


def test_bare_ray_flag_takes_no_address() -> None:
    assert normalise_ray_argv(["batch", "j.csv", "--ray", "--json"])[2] == "--ray=local"
    assert normalise_ray_argv(["batch", "--ray", "j.csv"])[1] == "--ray=local"
    assert normalise_ray_argv(["batch", "j.csv", "--ray"])[2] == "--ray=local"
    assert normalise_ray_argv(["batch", "j.csv", "--ray", "auto"])[2:] == ["--ray", "auto"]


def test_worker_plan_uses_the_cores_without_oversubscribing() -> None:
    assert default_workers(24, cores=2) == 2 and default_workers(24, cores=16) == 16
    assert default_workers(3, cores=16) == 3 and default_workers(5, cores=1) == 1
    for cores in (1, 2, 8, 16):
        w = default_workers(100, cores=cores)
        assert w * threads_per_worker(w, cores=cores) <= max(cores, 1) or cores == 1


# -- real runs -----------------------------------------------------------------------------

def frames_of(path: Path) -> int:
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo",
                          "-pix_fmt", "gray", "-s", "32x32", "pipe:1"],
                         capture_output=True, check=True).stdout
    return len(out) // (32 * 32)


@pytest.mark.slow
def test_batch_renders_good_jobs_reports_the_bad_one_and_resumes(media: Path) -> None:
    m = write_csv(media, ["job,portrait,audio,output,size,seed",
                          "a,p.png,a.wav,out/a.mp4,128,0",
                          "missing,p.png,nope.wav,out/b.mp4,128,0",
                          "c,p.png,a.wav,out/c.mp4,128,1"])
    (media / "out").mkdir()
    r = subprocess.run(TALKCLI + ["batch", str(m), "--json", "--workers", "1"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 7, r.stderr
    lines = json_lines(r.stdout)
    by = {d["job"]: d for d in lines if "job" in d}
    assert lines[-1] == {**lines[-1], "summary": True, "jobs": 3, "done": 2, "failed": 1}
    assert by["missing"]["status"] == "failed" and by["missing"]["exit_code"] == 3
    assert "nope.wav" in by["missing"]["error"]
    for name in ("a", "c"):
        d = by[name]
        assert d["status"] == "done" and d["exit_code"] == 0 and d["error"] is None
        out = Path(d["output"])
        assert out.stat().st_size == d["bytes"] and frames_of(out) == 30  # 1.2 s at 25 fps
        assert set(d) >= {"job", "output", "status", "exit_code", "error", "elapsed_s"}
    # one worker: the second job reused the portrait it had analysed for the first
    assert [by[n]["portrait_cached"] for n in ("a", "c")] == [False, True]
    assert not (media / "out" / "b.mp4").exists()
    assert sorted(p.name for p in (media / "out").iterdir()) == ["a.mp4", "c.mp4"]

    # a rerun skips the finished jobs (no render) and reports the bad one again
    mtime = (media / "out" / "a.mp4").stat().st_mtime_ns
    t0 = time.perf_counter()
    r2 = subprocess.run(TALKCLI + ["batch", str(m), "--json"], capture_output=True, text=True,
                        timeout=600)
    assert r2.returncode == 7
    st = {d["job"]: d["status"] for d in json_lines(r2.stdout) if "job" in d}
    assert st == {"a": "skipped", "c": "skipped", "missing": "failed"}
    assert (media / "out" / "a.mp4").stat().st_mtime_ns == mtime
    assert time.perf_counter() - t0 < 120  # no render: start-up and one failing job only


@pytest.mark.slow
def test_same_manifest_on_a_local_ray_runtime(media: Path) -> None:
    pytest.importorskip("ray")
    m = write_csv(media, ["portrait,audio,output,size", "p.png,a.wav,r.mp4,128"])
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_USAGE_STATS_ENABLED": "0"}
    r = subprocess.run(TALKCLI + ["batch", str(m), "--ray", "--json"], capture_output=True,
                       text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    (d,) = [x for x in json_lines(r.stdout) if "job" in x]
    out = media / "r.mp4"
    assert d["status"] == "done" and Path(d["output"]) == out
    import hashlib

    assert d["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert frames_of(out) == 30


@pytest.mark.slow
def test_interrupt_stops_cleanly_with_no_partial_files(media: Path) -> None:
    # a 36 s clip (900 frames), so the second render is surely running when the interrupt
    # comes right after the first job's line
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", "29", "-i",
                    str(media / "a.wav"), str(media / "long.wav")], check=True)
    m = write_csv(media, ["portrait,audio,output,size", "p.png,long.wav,o1.mp4,128",
                          "p.png,long.wav,o2.mp4,128"])
    before = set(media.iterdir())
    # SIGINT default in the child even when this run ignores it (a background CI shell)
    p = subprocess.Popen(TALKCLI + ["batch", str(m), "--json", "--workers", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # interrupt as soon as the first job has ended: the second is then being rendered
    # (a fixed sleep raced a fast machine, which had finished both)
    assert p.stdout is not None
    first = p.stdout.readline()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    out = first + out
    assert p.returncode == 130, err[-2000:]
    left = set(media.iterdir()) - before
    # nothing half-written: at most a job that finished before the interrupt
    for f in left:
        assert f.suffix == ".mp4" and frames_of(f) == 900, f
    assert json_lines(out)[-1]["summary"] is True
