"""Hedge policies: band, timing modifiers, sizing, venue minimums, reduce-only."""

from __future__ import annotations

import math
import random
from decimal import Decimal

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
    quiet,
    size_order,
    whalley_wilmott_half_width,
)
from bot.domain import MarketRules, Side

pytestmark = pytest.mark.unit

D = Decimal

RULES = MarketRules(
    symbol="ETH/USDT:USDT",
    amount_step=D("0.001"),
    price_tick=D("0.01"),
    min_amount=D("0.001"),
    min_notional=D(5),
)


def inputs(
    delta: str = "10",
    hedge: str = "-10",
    *,
    now: float = 0.0,
    price: str = "2000",
    gamma: str = "-0.0025",
    ratio: str = "1",
) -> PolicyInputs:
    return PolicyInputs(
        now_s=now,
        price=D(price),
        delta_base=D(delta),
        gamma=D(gamma),
        hedge_base=D(hedge),
        hedge_ratio=D(ratio),
    )


ABS = ThresholdPolicy(threshold_base=D("0.5"))
FRAC = ThresholdPolicy(threshold_fraction=D("0.05"))


def test_inside_absolute_band_holds() -> None:
    """A drift inside the absolute band is held, and the decision reports target and drift."""
    decision, _ = decide(ABS, PolicyState(), inputs(hedge="-9.6"), RULES)
    assert decision.action == "hold"
    assert decision.reason == "inside_band"
    assert decision.target_base == D(-10)
    assert decision.drift_base == D("0.4")
    assert decision.band_base == D("0.5")


def test_outside_absolute_band_sells_the_drift() -> None:
    """Under-hedged by more than the band: SELL the drift, not reduce-only."""
    decision, state = decide(ABS, PolicyState(), inputs(hedge="-9.4", now=5), RULES)
    assert decision.action == "rebalance"
    assert decision.order_side is Side.SELL
    assert decision.order_amount_base == D("0.6")
    assert decision.reduce_only is False
    assert state.last_rebalance_s == 5


def test_fraction_band_scales_with_delta() -> None:
    """The relative band is a fraction of |delta|; the larger of the two parts wins."""
    assert FRAC.band_base(inputs(delta="10")) == D("0.5")
    assert FRAC.band_base(inputs(delta="-40")) == D("2")
    both = ThresholdPolicy(threshold_base=D(1), threshold_fraction=D("0.05"))
    assert both.band_base(inputs(delta="10")) == D(1)
    assert both.band_base(inputs(delta="100")) == D(5)
    decision, _ = decide(FRAC, PolicyState(), inputs(delta="100", hedge="-96"), RULES)
    assert decision.action == "hold"
    decision, _ = decide(FRAC, PolicyState(), inputs(delta="100", hedge="-94.9"), RULES)
    assert decision.action == "rebalance"


def test_threshold_needs_a_part() -> None:
    """A threshold policy with neither part configured is rejected."""
    with pytest.raises(ValueError, match="threshold"):
        ThresholdPolicy()


def test_amount_rounds_down_to_step() -> None:
    """The order never overshoots the target: the amount is floored to the step."""
    decision, _ = decide(ABS, PolicyState(), inputs(delta="10.0009", hedge="-9.4"), RULES)
    assert decision.order_amount_base == D("0.600")
    decision, _ = decide(ABS, PolicyState(), inputs(delta="10", hedge="-10.6789"), RULES)
    assert decision.order_side is Side.BUY
    assert decision.order_amount_base == D("0.678")
    assert decision.reduce_only is True


def test_below_min_notional_is_skipped() -> None:
    """An order worth less than min_notional is refused with a stable reason."""
    rules = MarketRules("X", D("0.001"), D("0.01"), D("0.001"), min_notional=D(2000))
    decision, state = decide(ABS, PolicyState(), inputs(hedge="-9.4"), rules)
    assert decision.action == "skip"
    assert decision.reason == "below_min_notional"
    assert state.last_rebalance_s is None


def test_below_min_amount_is_skipped() -> None:
    """An order smaller than min_amount (or rounding to zero) is refused."""
    rules = MarketRules("X", D("0.1"), D("0.01"), min_amount=D(1), min_notional=D(0))
    decision, _ = decide(ABS, PolicyState(), inputs(hedge="-9.4"), rules)
    assert (decision.action, decision.reason) == ("skip", "below_min_amount")
    tiny = MarketRules("X", D(1), D("0.01"), D(0), D(0))
    decision, _ = decide(ABS, PolicyState(), inputs(hedge="-9.4"), tiny)
    assert (decision.action, decision.reason) == ("skip", "below_min_amount")


def test_reduce_only_when_shrinking_the_short() -> None:
    """Over-hedged: BUY back reduce-only; under-hedged: SELL more, not reduce-only."""
    decision, _ = decide(ABS, PolicyState(), inputs(hedge="-11"), RULES)
    assert (decision.order_side, decision.reduce_only) == (Side.BUY, True)
    decision, _ = decide(ABS, PolicyState(), inputs(hedge="-9"), RULES)
    assert (decision.order_side, decision.reduce_only) == (Side.SELL, False)
    decision, _ = decide(ABS, PolicyState(), inputs(hedge="0"), RULES)
    assert (decision.order_side, decision.reduce_only) == (Side.SELL, False)
    assert decision.order_amount_base == D(10)


def test_zero_crossing_is_capped_then_resumed() -> None:
    """Long hedge but a short target: close reduce-only first, open the rest next tick."""
    decision, state = decide(ABS, PolicyState(), inputs(hedge="2", now=0), RULES)
    assert decision.order_side is Side.SELL
    assert decision.order_amount_base == D(2)
    assert decision.reduce_only is True
    assert "capped_at_zero" in decision.notes
    assert state.resume_to_target
    # next tick: flat, the remaining 10 is opened even with a huge band
    wide = ThresholdPolicy(threshold_base=D(100))
    decision, state = decide(wide, state, inputs(hedge="0", now=1), RULES)
    assert (decision.action, decision.reason) == ("rebalance", "resume_to_target")
    assert decision.order_amount_base == D(10)
    assert decision.reduce_only is False
    assert not state.resume_to_target


def test_zero_crossing_with_untradeable_close_sends_whole_order() -> None:
    """If the closing part is below the minimum amount, the full crossing order is sent."""
    coarse = MarketRules("X", D("0.001"), D("0.01"), min_amount=D("0.01"), min_notional=D(5))
    size = size_order(D("10.005"), D("0.005"), D(2000), coarse)
    assert (size.side, size.amount_base, size.reduce_only) == (Side.SELL, D("10.005"), False)


def test_reduce_only_close_is_exempt_from_min_notional() -> None:
    """A reduce-only close worth less than min_notional is still placed (Binance accepts
    reduce-only orders below the minimum), so a hedge can always be closed completely."""
    close = size_order(D("10.001"), D("0.001"), D(2000), RULES)
    assert (close.side, close.amount_base, close.reduce_only) == (Side.SELL, D("0.001"), True)
    assert close.refusal is None
    shrink = size_order(D("-0.002"), D("-5"), D(2000), RULES)
    assert (shrink.side, shrink.amount_base, shrink.reduce_only) == (Side.BUY, D("0.002"), True)
    assert shrink.refusal is None
    grow = size_order(D("0.002"), D("-5"), D(2000), RULES)
    assert grow.refusal == "below_min_notional"


def test_persistence_waits_before_acting() -> None:
    """With persistence, the drift must stay outside the band for persistence_s."""
    policy = ThresholdPolicy(threshold_base=D("0.5"), persistence_s=60)
    state = PolicyState()
    decision, state = decide(policy, state, inputs(hedge="-9", now=0), RULES)
    assert (decision.action, decision.reason) == ("hold", "persistence_wait")
    decision, state = decide(policy, state, inputs(hedge="-9", now=59), RULES)
    assert decision.action == "hold"
    decision, _ = decide(policy, state, inputs(hedge="-9", now=60), RULES)
    assert decision.action == "rebalance"
    # going back inside resets the clock
    _, state = decide(policy, state, inputs(hedge="-9.9", now=61), RULES)
    assert state.drift_outside_since_s is None
    decision, state = decide(policy, state, inputs(hedge="-9", now=100), RULES)
    assert decision.reason == "persistence_wait"


def test_backstop_trades_inside_band() -> None:
    """The backstop rebalances a non-zero drift inside the band once backstop_s has passed."""
    policy = ThresholdPolicy(threshold_base=D(1), backstop_s=3600)
    decision, state = decide(policy, PolicyState(), inputs(hedge="-9.8", now=0), RULES)
    assert decision.reason == "inside_band"
    decision, state = decide(policy, state, inputs(hedge="-9.8", now=3599), RULES)
    assert decision.action == "hold"
    decision, state = decide(policy, state, inputs(hedge="-9.8", now=3600), RULES)
    assert (decision.action, decision.reason) == ("rebalance", "backstop")
    assert decision.order_amount_base == D("0.2")
    assert state.last_rebalance_s == 3600
    decision, _ = decide(policy, state, inputs(hedge="-9.8", now=7199), RULES)
    assert decision.action == "hold"


def test_backstop_ignores_untradeable_drift() -> None:
    """A due backstop with a drift below the venue minimums holds quietly."""
    policy = ThresholdPolicy(threshold_base=D(1), backstop_s=10)
    _, state = decide(policy, PolicyState(), inputs(hedge="-9.9999", now=0), RULES)
    decision, _ = decide(policy, state, inputs(hedge="-9.9999", now=20), RULES)
    assert (decision.action, decision.reason) == ("hold", "inside_band")
    assert "backstop_untradeable" in decision.notes


def test_interval_policy_trades_on_schedule() -> None:
    """Interval policy: trade to target when due, hold in between."""
    policy = IntervalPolicy(interval_s=600)
    decision, state = decide(policy, PolicyState(), inputs(hedge="-9.99", now=0), RULES)
    assert (decision.action, decision.reason) == ("rebalance", "interval")
    decision, state = decide(policy, state, inputs(hedge="-9.5", now=300), RULES)
    assert (decision.action, decision.reason) == ("hold", "interval_not_due")
    decision, _ = decide(policy, state, inputs(hedge="-9.5", now=600), RULES)
    assert decision.action == "rebalance"
    assert decision.order_amount_base == D("0.5")


@pytest.mark.parametrize(
    ("ratio", "target", "side", "amount"),
    [("0.5", "-5", Side.BUY, "3"), ("1.5", "-15", Side.SELL, "7")],
)
def test_hedge_ratio_under_and_over_hedges(
    ratio: str, target: str, side: Side, amount: str
) -> None:
    """The target is -ratio * delta; the order closes the gap to it."""
    decision, _ = decide(ABS, PolicyState(), inputs(delta="10", hedge="-8", ratio=ratio), RULES)
    assert decision.target_base == D(target)
    assert decision.order_side is side
    assert decision.order_amount_base == D(amount)


def test_force_ignores_band_but_not_minimums() -> None:
    """rebalance_now trades inside the band, but still refuses below the venue minimums."""
    wide = ThresholdPolicy(threshold_base=D(5))
    decision, _ = decide(wide, PolicyState(), inputs(hedge="-9"), RULES, force=True)
    assert (decision.action, decision.reason) == ("rebalance", "forced")
    decision, _ = decide(wide, PolicyState(), inputs(hedge="-9.999"), RULES, force=True)
    assert (decision.action, decision.reason) == ("skip", "below_min_notional")
    decision, _ = decide(wide, PolicyState(), inputs(hedge="-10"), RULES, force=True)
    assert (decision.action, decision.reason) == ("hold", "on_target")


def test_whalley_wilmott_formula() -> None:
    """h = (3 k P Γ² / (2 λ))^(1/3), in base units."""
    k, p, g, lam = D("0.001"), D(2000), D("-0.01"), D("0.0001")
    expected = (3 * 0.001 * 2000 * 0.0001 / (2 * 0.0001)) ** (1 / 3)
    assert float(whalley_wilmott_half_width(k, p, g, lam)) == pytest.approx(expected, rel=1e-12)
    assert whalley_wilmott_half_width(D(0), p, g, lam) == 0


def test_band_grows_with_cost_and_shrinks_with_risk_aversion() -> None:
    """The cost-aware band widens with cost (k^(1/3)) and narrows with risk aversion."""
    x = inputs(gamma="-0.01")
    widths = [
        CostAwareBandPolicy(cost_fraction=D(k), risk_aversion=D("0.0001")).band_base(x)
        for k in ("0.0001", "0.0005", "0.002")
    ]
    assert widths == sorted(widths)
    assert float(widths[2] / widths[0]) == pytest.approx(20 ** (1 / 3), rel=1e-9)
    narrowing = [
        CostAwareBandPolicy(cost_fraction=D("0.0005"), risk_aversion=D(lam)).band_base(x)
        for lam in ("0.00001", "0.0001", "0.001")
    ]
    assert narrowing == sorted(narrowing, reverse=True)


def test_band_uses_target_gamma_and_clamps() -> None:
    """The band is computed for ratio * gamma and clamped to [min, max]."""
    policy = CostAwareBandPolicy(cost_fraction=D("0.0005"), risk_aversion=D("0.0001"))
    full = policy.band_base(inputs(gamma="-0.01", ratio="1"))
    half = policy.band_base(inputs(gamma="-0.01", ratio="0.5"))
    assert float(half / full) == pytest.approx(0.5 ** (2 / 3), rel=1e-9)
    clamped = CostAwareBandPolicy(
        cost_fraction=D("0.0005"),
        risk_aversion=D("0.0001"),
        min_band_base=D("0.01"),
        max_band_base=D("0.02"),
    )
    assert clamped.band_base(inputs(gamma="0")) == D("0.01")
    assert clamped.band_base(inputs(gamma="-1")) == D("0.02")


def test_ewma_volatility_tracks_price_series() -> None:
    """The state's EWMA volatility converges to the realised volatility of the ticks."""
    state = PolicyState()
    policy = ThresholdPolicy(threshold_base=D(1000))
    step_s, sigma = 60.0, 0.8
    move = sigma * math.sqrt(step_s / (365 * 24 * 3600))
    price = 2000.0
    for i in range(2000):
        price *= math.exp(move if i % 2 else -move)
        _, state = decide(policy, state, inputs(price=f"{price:.8f}", now=i * step_s), RULES)
    assert state.sigma_annual == pytest.approx(sigma, rel=1e-3)


def test_expected_rates_are_consistent_with_band() -> None:
    """Wider band: lower expected cost rate, higher tracking variance."""
    x = inputs(gamma="-0.01")
    narrow = CostAwareBandPolicy(cost_fraction=D("0.0005"), risk_aversion=D("0.001"))
    wide = CostAwareBandPolicy(cost_fraction=D("0.0005"), risk_aversion=D("0.00001"))
    cost_n, var_n = narrow.expected_rates(x, 0.8)
    cost_w, var_w = wide.expected_rates(x, 0.8)
    assert cost_w < cost_n
    assert var_w > var_n


def test_inputs_validation() -> None:
    """Non-positive price or negative hedge ratio are rejected."""
    with pytest.raises(ValueError, match="price"):
        inputs(price="0")
    with pytest.raises(ValueError, match="hedge_ratio"):
        inputs(ratio="-1")


# ---- the quiet-step predicate and the band arrays -------------------------------------------

QUIET_POLICIES = [
    ABS,
    FRAC,
    ThresholdPolicy(threshold_fraction=D("0.02"), persistence_s=120, backstop_s=600),
    IntervalPolicy(interval_s=300),
    IntervalPolicy(interval_s=300, persistence_s=60, backstop_s=900),
    CostAwareBandPolicy(cost_fraction=D("0.0006"), risk_aversion=D("0.001"), backstop_s=1200),
]


def _walk(policy: HedgePolicy, seed: int) -> list[tuple[PolicyState, PolicyInputs, bool]]:
    """A random walk of ticks through decide: (state before, inputs, quiet) at every tick."""
    rng = random.Random(seed)
    state, hedge, price = PolicyState(), D(0), 2000.0
    seen = []
    for i in range(400):
        price *= math.exp(rng.gauss(0, 0.004))
        delta = D(repr(round(40 / math.sqrt(price / 2000), 6)))
        x = inputs(str(delta), str(hedge), now=60.0 * i, price=repr(price))
        band = policy.band_base(x)
        is_quiet = quiet(policy, state, x.now_s, x.drift_base, band)
        seen.append((state, x, is_quiet))
        decision, state_after = decide(policy, state, x, RULES)
        if is_quiet:
            assert decision.action == "hold"
            assert decision.reason in {"inside_band", "interval_not_due"}
            assert state_after.last_rebalance_s == state.last_rebalance_s
            assert state_after.resume_to_target == state.resume_to_target
        if decision.action == "rebalance":
            sign = -1 if decision.order_side is Side.SELL else 1
            hedge += sign * decision.order_amount_base
        state = state_after
    return seen


@pytest.mark.parametrize("policy", QUIET_POLICIES)
def test_quiet_ticks_are_holds_that_keep_the_state(policy: HedgePolicy) -> None:
    """Where quiet() says so, decide holds and keeps the trading state; both kinds occur (an
    interval policy with persistence has no band, so a drift is never quiet: its clock runs)."""
    seen = _walk(policy, seed=3)
    kinds = {q for _, _, q in seen}
    no_band_with_clock = isinstance(policy, IntervalPolicy) and policy.persistence_s > 0
    assert kinds == ({False} if no_band_with_clock else {True, False})


@pytest.mark.parametrize("policy", QUIET_POLICIES)
def test_quiet_over_arrays_equals_quiet_per_tick(policy: HedgePolicy) -> None:
    """The array form (the backtest's fast path) agrees with the scalar form element-wise."""
    for state, _, _ in _walk(policy, seed=5)[::40]:
        rng = np.random.default_rng(1)
        times = np.sort(rng.uniform(0, 3000, 200))
        drift = rng.normal(0, 1.5, 200)
        drift[::17] = 0.0
        band = np.abs(rng.normal(0, 1.0, 200))
        mask = quiet(policy, state, times, drift, band)
        each = [
            quiet(policy, state, float(t), D(repr(float(d))), D(repr(float(b))))
            for t, d, b in zip(times, drift, band, strict=True)
        ]
        assert mask.tolist() == each


@pytest.mark.parametrize("policy", [*QUIET_POLICIES, IntervalPolicy(interval_s=60)])
def test_band_array_equals_band_base(policy: HedgePolicy) -> None:
    """Each policy's band over a path equals its per-tick band (float vs Decimal)."""
    points = [(1500.0, 12.5, -0.004), (1999.5, 0.0, 0.0), (2000.0, 10.0, -0.0025)]
    prices, delta, gamma = (np.array(column) for column in zip(*points, strict=True))
    for ratio in (1.0, 0.5):
        band = policy.band_array(prices, delta, gamma, ratio)
        for i, (p, d, g) in enumerate(points):
            x = PolicyInputs(0.0, D(repr(p)), D(repr(d)), D(repr(g)), D(0), D(repr(ratio)))
            assert band[i] == pytest.approx(float(policy.band_base(x)), rel=1e-12, abs=1e-15)
