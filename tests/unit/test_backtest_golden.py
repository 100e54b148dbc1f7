"""The backtester reproduces its golden results on the policy-study paths.

``tests/fixtures/backtest_golden.json`` was produced by the float mirror of the policy (the
implementation before the backtest ran the live ``decide``); the live policy must give the
same rebalance counts and the same PnL parts to 1e-9 relative on every case.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from benchmarks.bench_policy import SIGMAS
from benchmarks.golden_backtest import FIGURES, FIXTURE, N_PATHS, cases, figures, paths_for
from bot.sim.pricepaths import PricePath

pytestmark = pytest.mark.unit

REL = 1e-9
ABS = 1e-9  # quote (or base): parts that are 0 up to float rounding


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
    """Every case at ``sigma``: identical rebalance counts, PnL parts within 1e-9 relative."""
    assert golden["n_paths"] == N_PATHS
    checked = 0
    for case in (c for c in cases() if c.sigma == sigma):
        expected = golden["cases"][case.name]
        got = figures(case, study_paths[sigma])
        assert got["rebalances"] == expected["rebalances"], case.name
        for name in FIGURES:
            for i, (a, b) in enumerate(zip(got[name], expected[name], strict=True)):
                assert math.isclose(a, b, rel_tol=REL, abs_tol=ABS), (case.name, name, i, a, b)
        checked += 1
    assert checked == len([k for k in golden["cases"] if f" sigma={sigma:g} " in k]) > 0
