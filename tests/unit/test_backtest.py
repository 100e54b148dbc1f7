"""Backtester: delta-hedging theory, attribution, CSV input, and parity with the live policy."""

from __future__ import annotations

import argparse
import inspect
import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.core.policy import (
    CostAwareBandPolicy,
    HedgePolicy,
    IntervalPolicy,
    PolicyInputs,
    PolicyState,
    ThresholdPolicy,
    decide,
)
from bot.domain import MarketRules, Side
from bot.sim.backtest import (
    BacktestConfig,
    BacktestResult,
    FeeModel,
    PoolSpec,
    VenueModel,
    add_subcommand,
    liquidity_for_value,
    lp_curves,
    run_backtest,
)
from bot.sim.pricepaths import SECONDS_PER_YEAR, PricePath, gbm, gbm_paths, load_csv

pytestmark = pytest.mark.unit

FREE = VenueModel(taker_fee_bps=0.0, slippage_bps=0.0, funding_rate=0.0)
EVERY_STEP = ThresholdPolicy(threshold_base=Decimal(0))


def _paths(prices: np.ndarray, step_s: float) -> list[PricePath]:
    times = np.arange(prices.shape[1], dtype=np.float64) * step_s
    return [PricePath(times_s=times, prices=row) for row in prices]


def test_hedged_v2_bleeds_sigma_squared_over_eight() -> None:
    """V2 hedged every step, no costs: mean PnL ex fees ≈ −(σ²/8)·V·T (LVR), within 5%."""
    sigma, step_s, steps, n_paths, value = 0.6, 3600.0, 2000, 400, 100_000.0
    prices = gbm_paths(n_paths=n_paths, steps=steps, step_s=step_s, sigma_annual=sigma, seed=7)
    config = BacktestConfig(policy=EVERY_STEP, pool=PoolSpec("v2", value), venue=FREE)
    pnl = np.array([run_backtest(p, config).hedged_pnl_ex_fees_quote for p in _paths(prices, 3600)])
    years = steps * step_s / SECONDS_PER_YEAR
    naive = -(sigma**2) / 8 * value * years
    # exact for discrete hedging: E[V_t] = V0 e^{−σ²t/8}, per-step loss (V/2)·2(1 − e^{−σ²dt/8})
    dt = step_s / SECONDS_PER_YEAR
    t = np.arange(steps) * dt
    exact = -float(np.sum(value * np.exp(-(sigma**2) * t / 8) * (1 - np.exp(-(sigma**2) * dt / 8))))
    mean, stderr = float(pnl.mean()), float(pnl.std(ddof=1) / math.sqrt(n_paths))
    assert stderr < 0.015 * abs(naive)  # the test can resolve a 5% error
    assert mean == pytest.approx(naive, rel=0.05)
    assert abs(mean - exact) < 4 * stderr


def test_hedging_cuts_variance() -> None:
    """Unhedged PnL variance is at least 20x the variance when hedged every step."""
    prices = gbm_paths(n_paths=200, steps=500, step_s=3600, sigma_annual=0.8, seed=11)
    paths = _paths(prices, 3600)
    hedged = BacktestConfig(policy=EVERY_STEP, venue=FREE)
    naked = BacktestConfig(policy=EVERY_STEP, venue=FREE, hedge_ratio=0.0)
    h = np.array([run_backtest(p, hedged).hedged_pnl_ex_fees_quote for p in paths])
    u = np.array([run_backtest(p, naked).hedged_pnl_ex_fees_quote for p in paths])
    assert u.var() >= 20 * h.var()
    assert run_backtest(paths[0], naked).rebalances == 0


def _assert_adds_up(result: BacktestResult) -> None:
    parts = (
        result.lp_hold_pnl_quote
        + result.il_quote
        + result.lp_fees_quote
        + result.hedge_pnl_quote
        + result.funding_quote
        - result.trading_fees_quote
        - result.slippage_quote
    )
    s = result.series
    trades = np.diff(s.hedge_base, prepend=0.0)
    notional = np.abs(trades) * s.price
    direct = (
        result.end_value_quote
        - result.start_value_quote
        + result.lp_fees_quote
        + float(np.sum(trades * (s.price[-1] - s.price)))
        + result.funding_quote
        - float(notional.sum()) * 6e-4
    )
    assert parts == pytest.approx(result.net_pnl_quote, rel=0, abs=1e-7)
    assert direct == pytest.approx(result.net_pnl_quote, rel=0, abs=1e-6)
    assert s.cum_net_pnl_quote[-1] == pytest.approx(result.net_pnl_quote, rel=0, abs=1e-6)


@pytest.mark.parametrize(
    ("kind", "policy"),
    [
        ("v2", ThresholdPolicy(threshold_fraction=Decimal("0.02"))),
        ("v3", IntervalPolicy(interval_s=4 * 3600)),
        ("v3", CostAwareBandPolicy(cost_fraction=Decimal("0.0006"), risk_aversion=Decimal("1e-3"))),
    ],
)
def test_attribution_sums_to_net(kind: str, policy: HedgePolicy) -> None:
    """LP hold PnL + IL + fees + hedge + funding − costs equals the change in total value."""
    path = gbm(steps=20_000, step_s=300, sigma_annual=0.9, drift_annual=0.3, seed=3)
    config = BacktestConfig(
        policy=policy,
        pool=PoolSpec("v3" if kind == "v3" else "v2", 50_000.0, 0.15),
        venue=VenueModel(taker_fee_bps=5, slippage_bps=1, funding_rate=0.0001),
        fees=FeeModel(fee_apr=0.1, fee_tier_bps=30, volume_quote_per_day=20_000),
    )
    result = run_backtest(path, config)
    assert result.rebalances > 0
    assert result.funding_quote != 0
    assert result.lp_fees_quote > 0
    _assert_adds_up(result)


def test_lp_curves_are_consistent() -> None:
    """Value is V0 at the start; delta is the numeric derivative of value; gamma of delta."""
    p0 = 2000.0
    for lower, upper in ((0.0, math.inf), (1600.0, 2400.0)):
        liq = liquidity_for_value(10_000.0, p0, lower, upper)
        prices = np.array([p0, 1500.0, 1900.0, 2100.0, 3000.0])
        _, _, value, delta, gamma = lp_curves(liq, lower, upper, prices)
        assert value[0] == pytest.approx(10_000.0)
        eps = 1e-3
        up = lp_curves(liq, lower, upper, prices + eps)
        down = lp_curves(liq, lower, upper, prices - eps)
        np.testing.assert_allclose(delta, (up[2] - down[2]) / (2 * eps), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(gamma, (up[3] - down[3]) / (2 * eps), rtol=1e-5, atol=1e-12)
    v2_liq = liquidity_for_value(10_000.0, p0, 0.0, math.inf)
    base, quote, *_ = lp_curves(v2_liq, 0.0, math.inf, np.array([p0]))
    assert base[0] * p0 == pytest.approx(quote[0])  # V2 holds half in each asset


def test_float_policy_mirror_matches_decide() -> None:
    """The backtester's float loop makes the same decisions as bot.core.policy.decide."""
    path = gbm(steps=3000, step_s=60, sigma_annual=1.2, seed=5)
    rules = MarketRules("X", Decimal("0.001"), Decimal("0.01"), Decimal("0.001"), Decimal(5))
    venue = VenueModel(amount_step=0.001, min_amount=0.001, min_notional=5.0)
    policies: list[HedgePolicy] = [
        ThresholdPolicy(threshold_fraction=Decimal("0.01"), persistence_s=180, backstop_s=7200),
        ThresholdPolicy(threshold_base=Decimal("0.02")),
        ThresholdPolicy(threshold_base=Decimal("0.0005")),  # often below min_notional: skips
        IntervalPolicy(interval_s=900),
        CostAwareBandPolicy(cost_fraction=Decimal("0.0006"), risk_aversion=Decimal("0.05")),
    ]
    total_skips = 0
    for policy in policies:
        for ratio in (1.0, 0.5):
            config = BacktestConfig(
                policy=policy, pool=PoolSpec("v2", 20_000.0), venue=venue, hedge_ratio=ratio
            )
            result = run_backtest(path, config)
            s = result.series
            liq = liquidity_for_value(20_000.0, float(path.prices[0]), 0.0, math.inf)
            _, _, _, delta, gamma = lp_curves(liq, 0.0, math.inf, path.prices)
            state, hedge, rebalances, skips = PolicyState(), Decimal(0), 0, 0
            for i in range(len(path.prices)):
                x = PolicyInputs(
                    now_s=float(path.times_s[i]),
                    price=Decimal(repr(float(path.prices[i]))),
                    delta_base=Decimal(repr(float(delta[i]))),
                    gamma=Decimal(repr(float(gamma[i]))),
                    hedge_base=hedge,
                    hedge_ratio=Decimal(repr(ratio)),
                )
                decision, state = decide(policy, state, x, rules)
                skips += decision.action == "skip"
                if decision.action == "rebalance":
                    rebalances += 1
                    sign = -1 if decision.order_side is Side.SELL else 1
                    hedge += sign * decision.order_amount_base
                assert float(hedge) == pytest.approx(s.hedge_base[i], abs=1e-9), (policy, i)
            assert rebalances == result.rebalances > 10
            total_skips += skips
    assert total_skips > 0


def test_csv_input_with_funding_rows(tmp_path: Path) -> None:
    """CSV rows (ms timestamps, header, per-row funding) drive prices and funding charges."""
    start = 1_700_000_000 - 1_700_000_000 % 28_800 + 1800  # 00:30 after a funding time
    rows = ["timestamp,price,funding_rate"]
    for i in range(49):
        rows.append(
            f"{(start + 3600 * i) * 1000},{2000 + 10 * math.sin(i / 3):.4f},{1e-4 * (i % 3)}"
        )
    csv_file = tmp_path / "prices.csv"
    csv_file.write_text("\n".join(rows) + "\n")
    path = load_csv(csv_file)
    assert path.steps == 48
    assert path.times_s[0] == start
    assert path.funding_rates is not None
    once = IntervalPolicy(interval_s=1e9)  # opens the hedge at the first row, then holds
    result = run_backtest(path, BacktestConfig(policy=once, venue=FREE))
    hedge = result.series.hedge_base[0]
    assert hedge < 0
    expected = 0.0
    for i in range(1, len(path.prices)):
        crossed = path.times_s[i] // 28_800 - path.times_s[i - 1] // 28_800
        expected += -hedge * path.prices[i] * path.funding_rates[i] * crossed
    assert result.funding_quote == pytest.approx(expected, rel=1e-12)
    assert result.funding_quote > 0  # a short receives positive funding
    _assert_adds_up_free(result)


def _assert_adds_up_free(result: BacktestResult) -> None:
    total = (
        result.lp_hold_pnl_quote
        + result.il_quote
        + result.lp_fees_quote
        + result.hedge_pnl_quote
        + result.funding_quote
    )
    assert total == pytest.approx(result.net_pnl_quote, rel=0, abs=1e-8)


def test_csv_iso_timestamps_and_errors(tmp_path: Path) -> None:
    """ISO timestamps parse; bad rows name the line."""
    good = tmp_path / "iso.csv"
    good.write_text("2024-01-01T00:00:00Z,100\n2024-01-01T00:01:00Z,101\n")
    path = load_csv(good)
    assert path.times_s[1] - path.times_s[0] == 60
    assert path.funding_rates is None
    bad = tmp_path / "bad.csv"
    bad.write_text("1,100\n2,abc\n")
    with pytest.raises(ValueError, match=r"bad\.csv:2"):
        load_csv(bad)


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_subcommand(parser.add_subparsers())
    return parser.parse_args(argv)


def test_cli_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`backtest --json` prints one JSON object; --plot writes a PNG."""
    png = tmp_path / "bt.png"
    args = _cli(
        [
            *("backtest", "--steps", "2000", "--policy", "band", "--pool-kind", "v3", "--json"),
            *("--funding-rate", "0.0001", "--fee-apr", "0.2", "--plot", str(png)),
        ]
    )
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["steps"] == 2000
    assert {"net_pnl_quote", "tracking_error_quote", "rebalances"} <= out.keys()
    assert png.stat().st_size > 10_000


def test_cli_threshold_forms_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    """--threshold takes base units or a percentage of delta; without --json a table prints."""
    args = _cli(["backtest", "--steps", "500", "--threshold", "0.1"])
    assert args.func(args) == 0
    table = capsys.readouterr().out
    # the table names rows as `report` does (issue 17: one renderer, costs signed): the net
    # PnL row, which the --json output keeps as net_pnl_quote (asserted above)
    assert re.search(r"net PnL\s+│\s+-?[\d,]+\.\d\d", table)
    args = _cli(["backtest", "--steps", "500", "--policy", "interval", "--interval-s", "600"])
    assert args.func(args) == 0


def test_cli_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing CSV is a clean error with exit code 2."""
    args = _cli(["backtest", "--prices", str(tmp_path / "nope.csv")])
    assert args.func(args) == 2
    assert "backtest:" in capsys.readouterr().err


def _call_by_names(fn: Any, liquidity: float, price: float, lower: float, upper: float) -> float:
    """Call a core AMM helper by parameter names (liquidity, price/sqrt price, bounds)."""
    kwargs: dict[str, Any] = {}
    for name in inspect.signature(fn).parameters:
        low = name.lower()
        if "liq" in low:
            kwargs[name] = liquidity
        elif "low" in low or low.endswith(("_a", "pa")):
            kwargs[name] = math.sqrt(lower) if "sqrt" in low else lower
        elif "up" in low or low.endswith(("_b", "pb")):
            kwargs[name] = math.sqrt(upper) if "sqrt" in low else upper
        elif "price" in low or low in {"p", "sqrt_p"}:
            kwargs[name] = math.sqrt(price) if "sqrt" in low else price
        else:
            pytest.skip(f"unknown parameter {name!r} of {fn.__qualname__}: update this test")
    try:
        return float(fn(**kwargs))
    except (TypeError, AttributeError):  # a Decimal-only helper
        return float(fn(**{k: Decimal(repr(v)) for k, v in kwargs.items()}))


@pytest.mark.parametrize(("module", "kind"), [("bot.core.amm", "v2"), ("bot.core.v3", "v3")])
def test_float_lp_math_matches_core(module: str, kind: str) -> None:
    """The backtester's float LP formulas agree with the core's continuous helpers."""
    core = pytest.importorskip(module)
    value_fn = getattr(core, f"{kind}_value", None)
    delta_fn = getattr(core, f"{kind}_delta", None)
    if value_fn is None or delta_fn is None:
        pytest.skip(f"{module} has no {kind}_value/{kind}_delta yet")
    lower, upper = (0.0, math.inf) if kind == "v2" else (1600.0, 2500.0)
    liq = liquidity_for_value(50_000.0, 2000.0, lower, upper)
    prices = np.array([1000.0, 1700.0, 2000.0, 2300.0, 3000.0])
    _, _, value, delta, _ = lp_curves(liq, lower, upper, prices)
    for i, price in enumerate(prices.tolist()):
        core_value = _call_by_names(value_fn, liq, price, lower, upper)
        core_delta = _call_by_names(delta_fn, liq, price, lower, upper)
        assert core_value == pytest.approx(value[i], rel=1e-9)
        assert core_delta == pytest.approx(delta[i], rel=1e-9, abs=1e-12)
