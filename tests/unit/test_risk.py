"""Pure risk rules: liquidation price, pre-trade guards, margin and funding actions, the gate,
the kill-switch flag, the risk config section."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.core.killswitch import combine_modes, parse_flag
from bot.core.margin import MaintenanceBracket, liquidation_price_isolated
from bot.core.risk import (
    RiskInputs,
    assess_funding,
    assess_margin,
    blocks_trading,
    check_pre_trade,
    time_weighted_price,
)
from bot.core.trading_gate import trading_gate
from bot.killswitch import FileKillSwitch
from bot.risk_settings import RiskSettings

pytestmark = pytest.mark.unit

D = Decimal
LIMITS = RiskSettings().to_limits(max_block_age_s=600)


def inputs(**changes: object) -> RiskInputs:
    base = RiskInputs(
        now_s=1_000.0,
        block_number=100,
        block_timestamp=990,
        last_block_number=99,
        pool_price=D(2000),
        mark_price=D(2001),
        twap_price=None,
        order_notional=D(0),
        position_notional_after=D(0),
        orders_last_minute=0,
        day_pnl_quote=D(0),
        margin_ratio=None,
        liquidation_distance_pct=None,
        collateral_quote=D(100_000),
        funding_rate=D("0.0001"),
        funding_interval_s=28_800,
        hedge_base=D(0),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def rules_of(breaches: list) -> set[str]:  # type: ignore[type-arg]
    return {b.rule for b in breaches if b.severity == "block"}


def test_liquidation_price_of_an_isolated_short_matches_the_formula() -> None:
    """LP = (WB + cum + Q·EP)/(Q·(1+MMR)): Q=1 at 2000, WB=200, MMR 0.5%, cum 0 -> 2189.05."""
    bracket = (MaintenanceBracket(D(1_000_000), D("0.005"), D(0)),)
    liq = liquidation_price_isolated(D(-1), D(2000), D(200), bracket)
    assert liq is not None
    assert liq.quantize(D("0.01")) == D("2189.05")
    assert liq == (D(200) + 0 + D(2000)) / (D(1) * (1 + D("0.005")))


def test_clean_inputs_pass() -> None:
    """Fresh block, prices agree, small order: nothing trips."""
    assert check_pre_trade(inputs(order_notional=D(1000)), LIMITS) == []


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"block_timestamp": 100}, "stale_block"),
        ({"block_number": 98}, "block_not_advancing"),
        ({"block_number": 99, "stalled_ticks": 3}, "block_not_advancing"),
        ({"pool_price": D(2200)}, "price_deviation"),
        ({"mark_price": D(0)}, "price_deviation"),
        (
            {"order_notional": D(250_000), "position_notional_after": D(250_000)},
            "max_order_notional",
        ),
        (
            {"order_notional": D(1000), "position_notional_after": D(400_000)},
            "max_position_notional",
        ),
        ({"order_notional": D(1000), "orders_last_minute": 10}, "max_orders_per_minute"),
        (
            {
                "order_notional": D(1000),
                "position_notional_after": D(1000),
                "day_pnl_quote": D(-10_000),
            },
            "daily_loss",
        ),
        (
            {
                "order_notional": D(1000),
                "position_notional_after": D(1000),
                "margin_ratio": D("0.6"),
            },
            "margin_headroom",
        ),
    ],
)
def test_each_guard_blocks(changes: dict[str, object], rule: str) -> None:
    """Each guard trips on its own fault and blocks trading."""
    breaches = check_pre_trade(inputs(**changes), LIMITS)
    assert rule in rules_of(breaches)
    assert blocks_trading(breaches)
    assert all(b.message for b in breaches)


def test_position_and_loss_limits_never_block_a_reduction() -> None:
    """An order that shrinks the position only warns for the position and loss limits."""
    reducing = inputs(
        order_notional=D(1000),
        hedge_base=D(-200),
        position_notional_after=D(398_000),
        day_pnl_quote=D(-20_000),
        mark_price=D(2000),
    )
    assert rules_of(check_pre_trade(reducing, LIMITS)) == set()


def test_twap_deviation_and_time_weighting() -> None:
    """The TWAP weights each price by how long it held; a spike away from it blocks."""
    samples = [(0.0, D(2000)), (90.0, D(3000))]
    assert time_weighted_price(samples, 100.0, 100.0) == D(2100)
    assert time_weighted_price([(100.0, D(1))], 100.0, 60.0) is None
    limits = replace(LIMITS, max_twap_deviation_pct=D(5))
    assert "twap_deviation" in rules_of(check_pre_trade(inputs(twap_price=D(1800)), limits))


def test_margin_levels_and_actions() -> None:
    """warn alerts; critical reduces to the warn level, or flattens, as configured."""
    levels = LIMITS.margin
    assert assess_margin(D("0.1"), D(40), levels, hedge_base=D(-10)).level == "ok"
    warn = assess_margin(D("0.6"), D(40), levels, hedge_base=D(-10))
    assert (warn.level, warn.action) == ("warn", "alert")
    critical = assess_margin(D("0.9"), D(40), levels, hedge_base=D(-10))
    assert critical.action == "reduce"
    assert critical.safe_size_base is not None
    assert D(-10) < critical.safe_size_base <= D(-5)
    near = assess_margin(None, D(5), replace(levels, critical_action="flatten"), hedge_base=D(-10))
    assert (near.level, near.action, near.safe_size_base) == ("critical", "flatten", D(0))
    empty = assess_margin(D("Infinity"), None, levels, hedge_base=D(-10))
    assert empty.safe_size_base == 0


def test_funding_spike_only_for_the_paying_side() -> None:
    """A short pays a negative rate; a spike triggers the action, a receiving hedge never."""
    limits = replace(LIMITS.funding, action="lower_ratio", min_hedge_ratio=D("0.3"))
    paying = assess_funding(D("-0.001"), 28_800, D(-10), limits, hedge_ratio=D(1))
    assert paying.spike
    assert paying.pays
    assert paying.action == "lower_ratio"
    assert paying.suggested_hedge_ratio is not None
    assert D("0.3") <= paying.suggested_hedge_ratio < D("0.5")
    receiving = assess_funding(D("0.001"), 28_800, D(-10), limits)
    assert not receiving.spike
    assert receiving.action == "none"
    predicted = assess_funding(D("0.0001"), 28_800, D(-10), limits, predicted_rate=D("-0.002"))
    assert predicted.spike


def test_gate_order_of_precedence() -> None:
    """Kill flatten beats stale data; freeze stops everything; blocking breaches stop orders;
    the order-rate limit holds even for an emergency."""
    ok_margin = assess_margin(None, None, LIMITS.margin, hedge_base=D(0))
    no_spike = assess_funding(D(0), 28_800, D(0), LIMITS.funding)
    stale = check_pre_trade(inputs(block_timestamp=0), LIMITS)
    flatten = trading_gate(stale, ok_margin, no_spike, "flatten")
    assert flatten.allow_orders
    assert flatten.reduce_only
    assert flatten.target_override_base == 0
    assert not trading_gate((), ok_margin, no_spike, "freeze").allow_orders
    assert not trading_gate(stale, ok_margin, no_spike, "off").allow_orders
    rate = check_pre_trade(inputs(order_notional=D(1), orders_last_minute=99), LIMITS)
    assert not trading_gate(rate, ok_margin, no_spike, "flatten").allow_orders


def test_kill_flag_parsing_fails_safe(tmp_path: Path) -> None:
    """Any present flag engages; unreadable or unknown content freezes; clear removes it."""
    assert parse_flag("", 1.0).mode == "freeze"
    assert parse_flag("flatten\n", 1.0).mode == "flatten"
    assert parse_flag('{"mode": "off"}', 1.0).mode == "freeze"
    assert parse_flag("garbage", 1.0).mode == "freeze"
    assert combine_modes("off", "freeze", "flatten") == "flatten"
    switch = FileKillSwitch(tmp_path / "ks", ManualClock())
    assert switch.read().mode == "off"
    switch.engage("flatten", "why", "cli")
    state = FileKillSwitch(tmp_path / "ks", ManualClock()).read()  # a restarted bot
    assert (state.mode, state.reason, state.source) == ("flatten", "why", "cli")
    switch.clear()
    assert switch.read().mode == "off"


def test_risk_config_refuses_inverted_levels() -> None:
    """warn must come before critical; the error names both fields."""
    with pytest.raises(ValueError, match=r"margin_warn_ratio.*margin_critical_ratio"):
        RiskSettings(margin_warn_ratio=D("0.9"), margin_critical_ratio=D("0.5"))
    with pytest.raises(ValueError, match="extra"):
        RiskSettings(unknown_limit=1)  # type: ignore[call-arg]


def test_order_size_cap_warns_for_a_reduction_and_blocks_growth() -> None:
    """max_order_notional only warns for an order that shrinks the position (nothing splits
    orders, so blocking a large reduction would keep the bot over-hedged); the same order
    growing the position is blocked."""
    reducing = inputs(
        order_notional=D(250_000),
        hedge_base=D(-200),
        mark_price=D(2000),
        position_notional_after=D(150_000),
    )
    breaches = check_pre_trade(reducing, LIMITS)
    assert [(b.rule, b.severity) for b in breaches] == [("max_order_notional", "warn")]
    assert not blocks_trading(breaches)
    ok_margin = assess_margin(None, None, LIMITS.margin, hedge_base=D(-200))
    no_spike = assess_funding(D(0), 28_800, D(-200), LIMITS.funding)
    assert trading_gate(breaches, ok_margin, no_spike, "off").allow_orders

    growing = replace(reducing, hedge_base=D(-10), position_notional_after=D(270_000))
    grown = check_pre_trade(growing, LIMITS)
    assert rules_of(grown) == {"max_order_notional"}
    assert not trading_gate(grown, ok_margin, no_spike, "off").allow_orders


def test_funding_pause_still_lets_reduce_only_orders_through() -> None:
    """A funding spike with action pause stops new risk but allows shrinking the hedge that
    pays: the gate allows orders, reduce-only, with no emergency target; a blocking breach
    still stops everything."""
    pause = replace(LIMITS.funding, action="pause")
    paying = assess_funding(D("-0.001"), 28_800, D(-10), pause)
    assert (paying.spike, paying.action) == (True, "pause")
    ok_margin = assess_margin(None, None, LIMITS.margin, hedge_base=D(-10))
    gate = trading_gate((), ok_margin, paying, "off")
    assert gate.allow_orders
    assert gate.reduce_only
    assert gate.target_override_base is None
    assert gate.hedge_ratio_override is None
    assert gate.reasons == ("funding_spike_pause",)
    stale = check_pre_trade(inputs(block_timestamp=0), LIMITS)
    assert not trading_gate(stale, ok_margin, paying, "off").allow_orders
