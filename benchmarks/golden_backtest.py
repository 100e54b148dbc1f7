"""Golden backtest results on a subset of the policy-study paths (``bench_policy``).

``python -m benchmarks.golden_backtest`` writes ``tests/fixtures/backtest_golden.json``: for
20 seeded GBM paths x 3 volatilities x both pool kinds x every policy family at 3 of its
study parameters (plus a few persistence / backstop / venue-minimum cases), the rebalance
count and every PnL part. ``tests/unit/test_backtest_golden.py`` replays the same cases and
requires identical rebalance counts and PnL to 1e-9 relative, so a change to the backtest loop
cannot change what it computes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_policy import (
    ABSOLUTES,
    COST_FRACTION,
    FRACTIONS,
    INTERVALS,
    POOLS,
    RISK_AVERSIONS,
    SIGMAS,
    STEP_S,
    STEPS,
    VENUE,
)
from bot.core.policy import CostAwareBandPolicy, HedgePolicy, IntervalPolicy, ThresholdPolicy
from bot.sim.backtest import BacktestConfig, VenueModel, run_backtest
from bot.sim.pricepaths import PricePath, gbm_paths

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "backtest_golden.json"
N_PATHS = 20
FIGURES = (
    "rebalances",
    "traded_base",
    "net_pnl_quote",
    "lp_hold_pnl_quote",
    "il_quote",
    "lp_fees_quote",
    "hedge_pnl_quote",
    "funding_quote",
    "trading_fees_quote",
    "slippage_quote",
    "tracking_error_quote",
)
STRICT_VENUE = VenueModel(
    taker_fee_bps=5.0, slippage_bps=2.0, amount_step=0.001, min_amount=0.001, min_notional=5.0
)


@dataclass(frozen=True)
class Case:
    """One configuration run over ``paths`` of one volatility."""

    name: str
    sigma: float
    config: BacktestConfig
    paths: int = N_PATHS


def _study_policies() -> list[tuple[str, HedgePolicy]]:
    pick = (0, len(FRACTIONS) // 2, len(FRACTIONS) - 1)
    out: list[tuple[str, HedgePolicy]] = []
    out += [
        (
            f"threshold_frac={FRACTIONS[i]}",
            ThresholdPolicy(threshold_fraction=Decimal(FRACTIONS[i])),
        )
        for i in pick
    ]
    out += [
        (f"threshold_abs={ABSOLUTES[i]}", ThresholdPolicy(threshold_base=Decimal(ABSOLUTES[i])))
        for i in (0, len(ABSOLUTES) // 2, len(ABSOLUTES) - 1)
    ]
    out += [
        (f"interval={INTERVALS[i]:g}", IntervalPolicy(interval_s=INTERVALS[i])) for i in (0, 2, 4)
    ]
    out += [
        (
            f"band={RISK_AVERSIONS[i]}",
            CostAwareBandPolicy(
                cost_fraction=COST_FRACTION, risk_aversion=Decimal(RISK_AVERSIONS[i])
            ),
        )
        for i in (0, 5, 9)
    ]
    return out


def _timing_policies() -> list[tuple[str, HedgePolicy]]:
    """Persistence, backstop and venue minimums: the branches the study does not reach."""
    return [
        (
            "threshold_frac=0.01 persistence=900 backstop=7200",
            ThresholdPolicy(threshold_fraction=Decimal("0.01"), persistence_s=900, backstop_s=7200),
        ),
        ("threshold_abs=0.0005", ThresholdPolicy(threshold_base=Decimal("0.0005"))),
        ("interval=3600 persistence=600", IntervalPolicy(interval_s=3600, persistence_s=600)),
        (
            "band=1e-3 min=0.05 max=2 backstop=3600",
            CostAwareBandPolicy(
                cost_fraction=COST_FRACTION,
                risk_aversion=Decimal("1e-3"),
                min_band_base=Decimal("0.05"),
                max_band_base=Decimal(2),
                backstop_s=3600,
            ),
        ),
    ]


def cases() -> Iterator[Case]:
    """Every golden case, in a stable order."""
    for sigma in SIGMAS:
        for pool_name, pool in POOLS.items():
            for name, policy in _study_policies():
                config = BacktestConfig(policy=policy, pool=pool, venue=VENUE)
                yield Case(f"{pool_name} sigma={sigma:g} {name}", sigma, config)
            for name, policy in _timing_policies():
                for ratio in (1.0, 0.5):
                    config = BacktestConfig(
                        policy=policy, pool=pool, venue=STRICT_VENUE, hedge_ratio=ratio
                    )
                    label = f"{pool_name} sigma={sigma:g} {name} ratio={ratio:g} strict venue"
                    yield Case(label, sigma, config, paths=3)


def paths_for(sigma: float) -> list[PricePath]:
    """The first ``N_PATHS`` paths of the policy study at ``sigma`` (same seeds)."""
    k = SIGMAS.index(sigma)
    prices = gbm_paths(
        n_paths=N_PATHS, steps=STEPS, step_s=STEP_S, sigma_annual=sigma, seed=1000 + k
    )
    times = np.arange(STEPS + 1, dtype=np.float64) * STEP_S
    return [PricePath(times_s=times, prices=row) for row in prices]


def figures(case: Case, paths: list[PricePath]) -> dict[str, list[float | int]]:
    """The golden figures of ``case``: each figure's values on the case's paths, in order."""
    out: dict[str, list[float | int]] = {name: [] for name in FIGURES}
    for path in paths[: case.paths]:
        summary = run_backtest(path, case.config).summary()
        for name in FIGURES:
            out[name].append(summary[name])
    return out


def main() -> int:
    """Run every case and write the fixture."""
    by_sigma = {sigma: paths_for(sigma) for sigma in SIGMAS}
    results: dict[str, Any] = {}
    for case in cases():
        results[case.name] = figures(case, by_sigma[case.sigma])
    payload = {"n_paths": N_PATHS, "steps": STEPS, "step_s": STEP_S, "cases": results}
    FIXTURE.write_text(json.dumps(payload, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE}: {len(results)} cases", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
