"""The backtester reproduces its golden results on the policy-study paths.

``tests/fixtures/backtest_golden.json`` was produced by the float mirror of the policy (the
implementation before the backtest ran the live ``decide``); the live policy must give the
same rebalance counts and the same PnL parts to 1e-9 relative on every case.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import pytest

from benchmarks.bench_policy import SIGMAS
from benchmarks.golden_backtest import FIGURES, FIXTURE, N_PATHS, cases, figures, paths_for
from bot.sim.pricepaths import PricePath

pytestmark = pytest.mark.unit

REL = 1e-9
ABS = 1e-9  # quote (or base): parts that are 0 up to float rounding
# paths checked per case here (the dense cases call decide ~4,000 times a path); set
# HEDGEBOT_GOLDEN_PATHS=20 to check all of them (done when the fixture's parity was accepted)
CHECKED_PATHS = int(os.environ.get("HEDGEBOT_GOLDEN_PATHS", "4"))
_RESIDUE = (
    "the float mirror closed this hedge to a float residue (-5e-14 / -1.5e-14 base instead of "
    "0, or a close of 0.6359999999999927 for a 0.636 short): its outside-the-band clock kept "
    "running / its close was 'capped at zero' and resumed; decide sees the exact Decimal "
    "position (as the venue reports it) and does neither"
)
KNOWN_DIVERGENCES = {
    ("v3±10% sigma=1.2 threshold_frac=0.01 persistence=900 backstop=7200 ratio=1 strict venue", 1),
    (
        "v3±10% sigma=1.2 threshold_frac=0.01 persistence=900 backstop=7200 ratio=0.5 strict venue",
        1,
    ),
    ("v3±10% sigma=1.2 interval=3600 persistence=600 ratio=1 strict venue", 1),
    ("v3±10% sigma=1.2 interval=3600 persistence=600 ratio=0.5 strict venue", 1),
    ("v3±10% sigma=1.2 band=1e-3 min=0.05 max=2 backstop=3600 ratio=1 strict venue", 1),
    ("v3±10% sigma=1.2 band=1e-3 min=0.05 max=2 backstop=3600 ratio=0.5 strict venue", 1),
}
"""(case, path) pairs where the mirror's own float rounding changed its result: ``_RESIDUE``
(all six of the 1,584 golden runs that differ; each one was traced to it)."""


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


@pytest.fixture(scope="module")
def study_paths() -> dict[float, list[PricePath]]:
    return {sigma: paths_for(sigma) for sigma in SIGMAS}


@pytest.mark.parametrize("sigma", SIGMAS)
def test_golden_rebalances_and_pnl(
    sigma: float, golden: dict[str, Any], study_paths: dict[float, list[PricePath]]
) -> None:
    """Every case at ``sigma``: identical rebalance counts, PnL parts within 1e-9 relative
    (but for the documented divergences of the mirror's float residue)."""
    assert golden["n_paths"] == N_PATHS
    paths = study_paths[sigma][:CHECKED_PATHS]
    checked = 0
    for case in (c for c in cases() if c.sigma == sigma):
        expected = golden["cases"][case.name]
        got = figures(case, paths)
        for i in range(len(got["rebalances"])):
            if (case.name, i) in KNOWN_DIVERGENCES:
                continue
            assert got["rebalances"][i] == expected["rebalances"][i], (case.name, i)
            for name in FIGURES:
                a, b = got[name][i], expected[name][i]
                assert math.isclose(a, b, rel_tol=REL, abs_tol=ABS), (case.name, name, i, a, b)
            checked += 1
    assert checked >= len([k for k in golden["cases"] if f" sigma={sigma:g} " in k]) > 0
