"""Batch manifests: a CSV with a header row or a JSON Lines file, one render job a row.

Columns: `portrait`, `audio`, `output` (required) and any `render` option: `preset`,
`set` (`KEY=VALUE;KEY=VALUE`), `transcript`, `motion`, `seed`, `fps`, `size`, `framing`,
`face_index`, `device`. Relative paths are relative to the manifest's folder. Everything
that can be checked without reading media is checked here, before any work: an unknown
column, a missing required value, a value of the wrong type or out of range, or two jobs
writing one output is a usage error (exit 2) naming the row; an unreadable manifest is
exit 3. Missing media files are the job's own failure (reported, the others go on).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from talkcli.errors import InvalidInputError, UsageError
from talkcli.pipeline import RenderRequest, validate_options

REQUIRED = ("portrait", "audio", "output")
PATHS = ("portrait", "audio", "output", "transcript", "motion")
OPTIONAL = ("preset", "set", "transcript", "motion", "seed", "fps", "size", "framing",
            "face_index", "device")
NAME = "job"  # an optional column naming the job in reports (default: its row number)


@dataclass(frozen=True)
class Job:
    """One validated job: its name (for reports), its manifest row and the request."""

    name: str
    row: int  # 1-based data row (the header of a CSV is not counted)
    request: RenderRequest


def _rows(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read manifest {path}: {exc}") from None
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path.name} line {n}: not JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise UsageError(f"{path.name} line {n}: expected a JSON object")
            rows.append(obj)
        return rows
    if path.suffix.lower() != ".csv":
        raise UsageError(f"manifest must be .csv or .jsonl (got {path.name})")
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL + (NAME,)]
    if unknown:
        raise UsageError(f"{path.name}: unknown column {unknown[0]!r} (known: "
                         f"{', '.join(REQUIRED + OPTIONAL + (NAME,))})")
    out: list[dict[str, Any]] = []
    for row in reader:
        if None in row:
            raise UsageError(f"{path.name} row {len(out) + 1}: more values than columns")
        out.append({k.strip(): v.strip() for k, v in row.items()
                    if k is not None and v is not None and v.strip() != ""})
    return out


def _number(value: Any, kind: type, field: str, where: str) -> Any:
    if isinstance(value, bool):
        raise UsageError(f"{where}: {field} must be a number (got {value!r})")
    try:
        num = kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {field} must be {'an integer' if kind is int else 'a number'}"
                         f" (got {value!r})") from None
    if kind is int and isinstance(value, float) and value != num:
        raise UsageError(f"{where}: {field} must be an integer (got {value!r})")
    return num


def _job(raw: dict[str, Any], row: int, base: Path, where: str) -> Job:
    unknown = [k for k in raw if k not in REQUIRED + OPTIONAL + (NAME,)]
    if unknown:
        raise UsageError(f"{where}: unknown column {unknown[0]!r}")
    for key in REQUIRED:
        if key not in raw or str(raw[key]).strip() == "":
            raise UsageError(f"{where}: missing {key}")
    kw: dict[str, Any] = {}
    for key in PATHS:
        if key in raw and str(raw[key]).strip():
            p = Path(str(raw[key])).expanduser()
            kw[key] = p if p.is_absolute() else base / p
    if "preset" in raw:
        kw["preset"] = str(raw["preset"])
    if "set" in raw:
        items = raw["set"] if isinstance(raw["set"], list) else str(raw["set"]).split(";")
        sets = tuple(str(s).strip() for s in items if str(s).strip())
        bad = [s for s in sets if "=" not in s]
        if bad:
            raise UsageError(f"{where}: set must be KEY=VALUE;KEY=VALUE (got {bad[0]!r})")
        kw["overrides"] = sets
    for key, kind in (("seed", int), ("fps", float), ("size", int), ("face_index", int)):
        if key in raw:
            kw[key] = _number(raw[key], kind, key, where)
    for key in ("framing", "device"):
        if key in raw:
            kw[key] = str(raw[key])
    req = RenderRequest(**kw)
    try:
        validate_options(req)
        if req.preset is not None or req.overrides:
            from talkcli.config import load_preset

            if req.preset is None or not Path(req.preset).suffix:  # shipped name: check now
                load_preset(req.preset, list(req.overrides))
    except (UsageError, InvalidInputError) as exc:
        raise type(exc)(f"{where}: {exc}") from None
    return Job(name=str(raw.get(NAME, row)), row=row, request=req)


def load_manifest(path: Path, overwrite: bool = False) -> list[Job]:
    """All jobs of a manifest, validated; raises UsageError naming the bad row."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"manifest not found: {path}")
    base = path.resolve().parent
    jobs = []
    seen: dict[Path, int] = {}
    for row, raw in enumerate(_rows(path), 1):
        where = f"{path.name} row {row}"
        job = _job(raw, row, base, where)
        job = replace(job, request=replace(job.request, overwrite=overwrite))
        out = job.request.output.resolve()
        if out in seen:
            raise UsageError(f"{where}: output {job.request.output} is also row {seen[out]}'s")
        seen[out] = row
        jobs.append(job)
    if not jobs:
        raise UsageError(f"{path.name}: no jobs")
    return jobs
