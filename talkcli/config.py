"""Motion presets (DESIGN §5): a frozen-dataclass schema, defaults and one validator.

A preset is a YAML mapping of sections (`head`, `gaze`, `emotion`, `expression`, `lips`,
`blink`) plus a `description`. Every key is optional in a file: what a file leaves out
takes the default. Unknown keys, wrong types and out-of-range values raise
`InvalidInputError` (exit 3) naming the dotted key. `--set head.intensity=0.5` overrides
one key after the file is read.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from talkcli.errors import InvalidInputError

DEFAULT_PRESET = "natural"
# Preset files are small; anything bigger is not a preset (and YAML parsing is slow).
MAX_PRESET_BYTES = 256 * 1024

# Error messages quote the offending value through this: a YAML alias bomb is cheap to
# build (shared references) but its full repr() would be exponentially long.
_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxdict, _repr.maxstring, _repr.maxother = 2, 4, 4, 60, 60
_short = _repr.repr
EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "surprised", "calm")


@dataclass(frozen=True)
class HeadConfig:
    intensity: float = 1.0  # scales head motion; 0 = still head
    distance: float = 1.0  # head-to-camera distance relative to the portrait (> 1 = farther)
    yaw: float = 0.0  # static offsets, degrees
    pitch: float = 0.0
    roll: float = 0.0
    idle: float = 1.0  # slow sway in silence, relative to the default


@dataclass(frozen=True)
class GazeConfig:
    yaw: float = 0.0  # main gaze direction, degrees relative to the camera (+ = image right)
    pitch: float = 0.0  # + = up
    saccades: float = 1.0  # amplitude of the small fixation saccades, relative to default
    look_away: float = 0.3  # probability of a brief look-away at a long pause, 0-1


@dataclass(frozen=True)
class EmotionConfig:
    name: str = "neutral"
    intensity: float = 0.5


@dataclass(frozen=True)
class ExpressionConfig:
    intensity: float = 1.0  # brow raises on pitch rises and other speech-driven expression


@dataclass(frozen=True)
class LipsConfig:
    intensity: float = 1.0  # scales mouth opening, rounding and spread


@dataclass(frozen=True)
class BlinkConfig:
    rate_per_min: float = 26.0  # while talking; at rest about 0.68 of this


@dataclass(frozen=True)
class Preset:
    name: str = DEFAULT_PRESET
    description: str = "Natural conversational motion."
    head: HeadConfig = field(default_factory=HeadConfig)
    gaze: GazeConfig = field(default_factory=GazeConfig)
    emotion: EmotionConfig = field(default_factory=EmotionConfig)
    expression: ExpressionConfig = field(default_factory=ExpressionConfig)
    lips: LipsConfig = field(default_factory=LipsConfig)
    blink: BlinkConfig = field(default_factory=BlinkConfig)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("name")
        return data


_SECTIONS: dict[str, type] = {
    "head": HeadConfig,
    "gaze": GazeConfig,
    "emotion": EmotionConfig,
    "expression": ExpressionConfig,
    "lips": LipsConfig,
    "blink": BlinkConfig,
}

# Allowed ranges (inclusive) for every numeric key.
RANGES: dict[str, tuple[float, float]] = {
    "head.intensity": (0.0, 3.0),
    "head.distance": (0.5, 2.0),
    "head.yaw": (-30.0, 30.0),
    "head.pitch": (-20.0, 20.0),
    "head.roll": (-20.0, 20.0),
    "head.idle": (0.0, 3.0),
    "gaze.yaw": (-30.0, 30.0),
    "gaze.pitch": (-20.0, 20.0),
    "gaze.saccades": (0.0, 3.0),
    "gaze.look_away": (0.0, 1.0),
    "emotion.intensity": (0.0, 1.0),
    "expression.intensity": (0.0, 2.0),
    "lips.intensity": (0.0, 1.5),
    "blink.rate_per_min": (0.0, 60.0),
}


def _check_number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"preset key {key!r}: expected a number, got {_short(value)}")
    v = float(value)
    lo, hi = RANGES[key]
    if not math.isfinite(v) or not lo <= v <= hi:
        raise InvalidInputError(
            f"preset key {key!r}: {_short(value)} is out of range [{lo:g}, {hi:g}]")
    return v


def validate(data: Mapping[str, Any], name: str = "custom") -> Preset:
    """Build a Preset from a (partial) mapping; errors name the bad key (exit 3)."""
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"preset {name!r}: expected a mapping of sections at the top")
    kwargs: dict[str, Any] = {"name": name}
    for top, value in data.items():
        if top == "description":
            if not isinstance(value, str):
                raise InvalidInputError("preset key 'description': expected text")
            kwargs["description"] = value.strip()
            continue
        if top == "name":  # tolerated, informative only
            continue
        if not isinstance(top, str) or top not in _SECTIONS:
            raise InvalidInputError(
                f"unknown preset key {_short(top)} (known: description, {', '.join(_SECTIONS)})"
            )
        cls = _SECTIONS[top]
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise InvalidInputError(f"preset key {top!r}: expected a mapping of keys")
        known = {f.name for f in dataclasses.fields(cls)}
        section: dict[str, Any] = {}
        for key, v in value.items():
            if not isinstance(key, str) or key not in known:
                label = _short(f"{top}.{key}" if isinstance(key, str) else f"{top}.{key!r}")
                raise InvalidInputError(
                    f"unknown preset key {label} "
                    f"(known in {top}: {', '.join(sorted(known))})"
                )
            dotted = f"{top}.{key}"
            if dotted == "emotion.name":
                if not isinstance(v, str) or v.strip().lower() not in EMOTIONS:
                    raise InvalidInputError(
                        f"preset key 'emotion.name': {_short(v)} is not one of "
                        f"{', '.join(EMOTIONS)}"
                    )
                section[key] = v.strip().lower()
            else:
                section[key] = _check_number(dotted, v)
        kwargs[top] = cls(**section)
    return Preset(**kwargs)


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def parse_override(item: str) -> tuple[list[str], Any]:
    """`head.intensity=0.5` -> (["head", "intensity"], 0.5); malformed -> exit 3."""
    if "=" not in item:
        raise InvalidInputError(f"--set {item!r}: expected KEY=VALUE, e.g. head.intensity=0.5")
    key, raw = item.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts) or len(parts) > 2:
        raise InvalidInputError(f"--set {item!r}: bad key {key!r} (expected SECTION.KEY)")
    if raw.strip() == "":
        raise InvalidInputError(f"--set {item!r}: missing value for {key!r}")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return parts, value


def _preset_files() -> dict[str, Any]:
    root = resources.files("talkcli.presets")
    return {
        entry.name[: -len(".yaml")]: entry
        for entry in root.iterdir()
        if entry.name.endswith(".yaml")
    }


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: the problem and where (PyYAML's own text spans several lines)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "syntax error"
        return f"{what}{where}"
    return " ".join(str(exc).split())


def _read_yaml(text: str, origin: str) -> dict[str, Any]:
    if len(text) > MAX_PRESET_BYTES:
        raise InvalidInputError(
            f"preset {origin}: {len(text)} characters; a preset is at most {MAX_PRESET_BYTES}")
    try:
        # safe_load: tags such as !!python/object are refused, nothing is ever executed.
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"preset {origin}: not valid YAML ({_yaml_problem(exc)})"
                                ) from None
    except RecursionError:
        raise InvalidInputError(f"preset {origin}: nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInputError(f"preset {origin}: expected a mapping at the top level")
    return data


def load_preset(name_or_path: str | Path | None = None, overrides: Sequence[str] = ()) -> Preset:
    """A shipped preset by name, or a YAML file by path, with `--set` overrides applied."""
    spec = DEFAULT_PRESET if name_or_path in (None, "") else str(name_or_path)
    files = _preset_files()
    path = Path(spec)
    if spec in files:
        name, text = spec, files[spec].read_text(encoding="utf-8")
    elif path.suffix.lower() in (".yaml", ".yml") or path.is_file() or "/" in spec:
        if not path.is_file():
            raise InvalidInputError(f"preset file not found: {spec}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read preset file {spec}: {exc}") from None
        name = path.stem
    else:
        raise InvalidInputError(
            f"unknown preset {spec!r}; available: {', '.join(sorted(files))} (or a .yaml path)"
        )
    data = _read_yaml(text, repr(spec))
    for item in overrides:
        parts, value = parse_override(item)
        patch: dict[str, Any] = {parts[-1]: value}
        for p in reversed(parts[:-1]):
            patch = {p: patch}
        if len(parts) == 1 and parts[0] in _SECTIONS:
            raise InvalidInputError(f"--set {item!r}: {parts[0]!r} is a section; use SECTION.KEY")
        data = _deep_merge(data, patch)
    return validate(data, name)


def list_presets() -> list[tuple[str, str]]:
    """(name, description) of every shipped preset, sorted by name."""
    out = []
    for name, entry in sorted(_preset_files().items()):
        try:
            desc = str(_read_yaml(entry.read_text(encoding="utf-8"), name).get("description", ""))
        except InvalidInputError:
            desc = "(invalid preset file)"
        out.append((name, desc.strip()))
    return out


def preset_yaml(name: str) -> str:
    """The YAML text of a shipped preset (or of a preset file path)."""
    files = _preset_files()
    if name in files:
        return files[name].read_text(encoding="utf-8")
    path = Path(name)
    if path.is_file():
        load_preset(name)  # validate
        return path.read_text(encoding="utf-8")
    raise InvalidInputError(f"unknown preset {name!r}; available: {', '.join(sorted(files))}")
