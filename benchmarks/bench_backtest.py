"""Backtester throughput: simulated steps per second for one LP position.

The backtest runs the live ``decide`` on every step that is not quiet (bot/sim/hedge_path.py).
Targets: >= 1,000,000 steps/s for a V2 position with the threshold policy, >= 500,000 for
the cost-aware band on a V3 range. Prints figures, never asserts on time.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from bot.core.policy import CostAwareBandPolicy, HedgePolicy, IntervalPolicy, ThresholdPolicy
from bot.sim.backtest import BacktestConfig, PoolSpec, VenueModel, run_backtest
from bot.sim.pricepaths import gbm

STEPS = 525_600  # one year of minutes
REPEATS = 3


def _steps_per_s(config: BacktestConfig) -> float:
    path = gbm(steps=STEPS, step_s=60, sigma_annual=0.8, seed=1)
    run_backtest(path, config)  # warm up
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        run_backtest(path, config)
        best = min(best, time.perf_counter() - started)
    return STEPS / best


def run() -> dict[str, dict[str, Any]]:
    """Steps/s for the three policies (V2) and the cost-aware band on a V3 range."""
    venue = VenueModel(amount_step=0.001, min_amount=0.001, min_notional=5.0)
    cases: dict[str, tuple[HedgePolicy, PoolSpec]] = {
        "backtest_v2_threshold": (ThresholdPolicy(threshold_fraction=Decimal("0.02")), PoolSpec()),
        "backtest_v2_interval": (IntervalPolicy(interval_s=3600), PoolSpec()),
        "backtest_v2_band": (
            CostAwareBandPolicy(cost_fraction=Decimal("0.0006"), risk_aversion=Decimal("1e-3")),
            PoolSpec(),
        ),
        "backtest_v3_band": (
            CostAwareBandPolicy(cost_fraction=Decimal("0.0006"), risk_aversion=Decimal("1e-3")),
            PoolSpec("v3", 100_000.0, 0.1),
        ),
    }
    results: dict[str, dict[str, Any]] = {}
    for name, (policy, pool) in cases.items():
        rate = _steps_per_s(BacktestConfig(policy=policy, pool=pool, venue=venue))
        results[f"{name}_steps_per_s"] = {"value": round(rate), "unit": "steps/s"}
    return results


if __name__ == "__main__":
    for key, figure in run().items():
        print(f"{key:<36} {figure['value']:>12,} {figure['unit']}")
