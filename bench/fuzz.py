"""Long fuzz runs (`make fuzz`): each target of tests/fuzzing.py for a wall-clock budget.

    TALKCLI_FUZZ_MINUTES=30 python bench/fuzz.py [config motion image audio]

Runs rounds of hypothesis with fresh seeds until the budget is spent; a failing example is
recorded (hypothesis's shrunk repr + the error) and the run continues with the next seed.
Writes bench/results/fuzz-<target>.json: examples tried, rounds, seconds, failures.
Offline, not in CI.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fuzzing import TARGETS  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

ROUND_EXAMPLES = 500


def fuzz(name: str, minutes: float) -> dict[str, object]:
    target = TARGETS[name]
    counter = {"n": 0}
    failures: list[dict[str, str]] = []
    end = time.monotonic() + minutes * 60
    t0 = time.monotonic()
    rounds = 0
    while time.monotonic() < end:
        rounds += 1

        @seed(rounds * 7919 + sum(map(ord, name)))
        @settings(max_examples=ROUND_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), print_blob=True)
        @given(target.strategy)
        def run(inp: object) -> None:
            if time.monotonic() > end:
                return  # budget spent: let the round finish quickly (not counted)
            counter["n"] += 1
            target.check(inp)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - record every kind of failure
            failures.append({
                "round": str(rounds), "error": f"{type(exc).__name__}: {exc}"[:2000],
                "trace": "".join(traceback.format_exception(exc))[-4000:],
            })
            print(f"[{name}] round {rounds}: FAILURE {type(exc).__name__}: {exc}",
                  "".join(traceback.format_exception(exc))[-3000:], sep="\n", flush=True)
        print(f"[{name}] round {rounds}: {counter['n']} examples, "
              f"{time.monotonic() - t0:.0f} s", flush=True)
    result = {"target": name, "minutes": minutes, "seconds": round(time.monotonic() - t0, 1),
              "rounds": rounds, "examples": counter["n"], "failures": failures}
    out = ROOT / "bench" / "results" / f"fuzz-{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> int:
    minutes = float(os.environ.get("TALKCLI_FUZZ_MINUTES", "30"))
    names = sys.argv[1:] or sorted(TARGETS)
    bad = 0
    for name in names:
        result = fuzz(name, minutes)
        print(json.dumps({k: v for k, v in result.items() if k != "failures"})
              + f" failures={len(result['failures'])}", flush=True)  # type: ignore[arg-type]
        bad += len(result["failures"])  # type: ignore[arg-type]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
