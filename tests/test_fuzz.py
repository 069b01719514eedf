"""A short, seeded slice of the fuzz targets (tests/fuzzing.py); `make fuzz` runs them long.

Derandomized: the same examples every run, so a failure here reproduces exactly.
"""

from __future__ import annotations

import os

import pytest
from fuzzing import TARGETS
from hypothesis import HealthCheck, given, settings

# Examples per target: about 2-5 s each on a 2-core machine.
EXAMPLES = {"config": 150, "motion": 80, "image": 60, "audio": 40}
SCALE = float(os.environ.get("TALKCLI_FUZZ_SCALE", "1"))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_slice(name: str) -> None:
    target = TARGETS[name]

    @settings(max_examples=max(1, int(EXAMPLES[name] * SCALE)), derandomize=True,
              deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(target.strategy)
    def run(inp: object) -> None:
        target.check(inp)

    run()
