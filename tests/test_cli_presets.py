"""`talkcli presets [NAME]`."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from talkcli.cli import app

runner = CliRunner()


def test_list() -> None:
    r = runner.invoke(app, ["presets"])
    assert r.exit_code == 0, r.output
    for name in ("natural", "calm", "lively", "happy", "serious", "looking_away"):
        assert name in r.stdout


def test_show() -> None:
    r = runner.invoke(app, ["presets", "calm"])
    assert r.exit_code == 0
    data = yaml.safe_load(r.stdout)
    assert data["description"] and data["head"]["intensity"] < 1


def test_unknown() -> None:
    r = runner.invoke(app, ["presets", "nope"])
    assert r.exit_code == 3
    assert "natural" in r.output
