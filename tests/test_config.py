"""Preset schema, defaults, validation and overrides (DESIGN §5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkcli.config import (
    DEFAULT_PRESET,
    Preset,
    list_presets,
    load_preset,
    parse_override,
    preset_yaml,
    validate,
)
from talkcli.errors import InvalidInputError

REQUIRED = ["head.intensity", "head.distance", "head.yaw", "head.pitch", "head.roll",
            "gaze.yaw", "gaze.pitch", "emotion.name", "emotion.intensity",
            "expression.intensity", "lips.intensity", "blink.rate_per_min"]


def _get(p: Preset, dotted: str):
    sec, key = dotted.split(".")
    return getattr(getattr(p, sec), key)


def test_default_is_natural_and_has_required_keys() -> None:
    p = load_preset(None)
    assert p.name == DEFAULT_PRESET == "natural"
    for k in REQUIRED:
        _get(p, k)


def test_at_least_six_presets_all_valid() -> None:
    names = [n for n, _ in list_presets()]
    assert len(names) >= 6 and "natural" in names
    for n, desc in list_presets():
        assert desc, n
        p = load_preset(n)
        assert p.name == n
        assert preset_yaml(n).strip()


def test_presets_differ() -> None:
    assert load_preset("calm").head.intensity < load_preset("lively").head.intensity
    assert load_preset("happy").emotion.name == "happy"
    assert load_preset("looking_away").gaze.yaw != 0


def test_override() -> None:
    p = load_preset("natural",
                    ["head.intensity=0.5", "emotion.name=happy", "blink.rate_per_min=10"])
    assert p.head.intensity == 0.5 and p.emotion.name == "happy" and p.blink.rate_per_min == 10


@pytest.mark.parametrize("item, word", [
    ("head.intensity", "KEY=VALUE"),
    ("=1", "bad key"),
    ("head.=1", "bad key"),
    ("head.intensity=", "missing value"),
    ("head.nope=1", "head.nope"),
    ("nope.x=1", "nope"),
    ("head.intensity=99", "head.intensity"),
    ("head.intensity=abc", "head.intensity"),
    ("emotion.name=bored", "emotion.name"),
    ("emotion.intensity=-0.1", "emotion.intensity"),
    ("head=1", "head"),
    ("a.b.c=1", "bad key"),
])
def test_bad_overrides_name_the_key(item: str, word: str) -> None:
    with pytest.raises(InvalidInputError, match=word.replace(".", r"\.")):
        load_preset("natural", [item])


def test_unknown_preset_lists_available() -> None:
    with pytest.raises(InvalidInputError, match="natural"):
        load_preset("no-such-preset")


def test_file_preset(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text("description: mine\nhead:\n  intensity: 0.2\n")
    p = load_preset(str(f))
    assert p.name == "mine" and p.head.intensity == 0.2 and p.gaze.yaw == 0.0


@pytest.mark.parametrize("text, word", [
    ("head:\n  intensity: 5\n", "head.intensity"),
    ("head:\n  speed: 1\n", "head.speed"),
    ("colour: red\n", "colour"),
    ("head: [1, 2]\n", "head"),
    ("- a\n- b\n", "mapping"),
    ("head: {intensity: 1\n", "YAML"),
    ("head:\n  intensity: true\n", "head.intensity"),
    ("head:\n  intensity: .nan\n", "head.intensity"),
])
def test_bad_files(tmp_path: Path, text: str, word: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(InvalidInputError, match=word):
        load_preset(str(f))


def test_missing_file() -> None:
    with pytest.raises(InvalidInputError, match="not found"):
        load_preset("/nonexistent/preset.yaml")


def test_validate_partial_and_frozen() -> None:
    p = validate({"lips": {"intensity": 1.2}})
    assert p.lips.intensity == 1.2 and p.head.intensity == 1.0
    with pytest.raises(AttributeError):
        p.lips.intensity = 0.3  # type: ignore[misc]
    assert parse_override("gaze.yaw=-5") == (["gaze", "yaw"], -5)
