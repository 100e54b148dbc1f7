"""The protect-only tick's pure parts and the venue-only risk view: what may trade when the
chain cannot be read, and when an unreadable position is alerted."""

from __future__ import annotations

import decimal
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.clock import ManualClock
from bot.core.gate import GuardLimits, GuardState, RiskView, VenueRead, check_order, observe_venue
from bot.core.killswitch import KillSwitchState, combine_modes
from bot.core.protect import UnreadableEpisode, cause_key, unknown_delta_hold
from bot.core.risk import Breach, MarginLevels, RiskInputs, assess_margin
from bot.core.trading_gate import TradingGate, reduce_toward
from bot.domain import AccountBalance, MarketQuote, MarketRules, PerpPosition, Side
from bot.guards import RiskGuard
from bot.killswitch import FileKillSwitch

pytestmark = pytest.mark.unit

D = Decimal
RULES = MarketRules("ETH/USDT:USDT", D("0.001"), D("0.01"), D("0.001"), D(5))
LEVELS = MarginLevels(D("0.5"), D("0.8"), D(15), D(5), "reduce")
ENTRY, AMPLE_MARGIN = D(2000), D(10_000)
POOL_A = "0xCabC7c19dE379910990a8c4342C69Cf7140DdF20"
POOL_B = "0x285e6fD73b0dFb4D43d2754Dc2F180536EC3758F"


def empty_pair_error(pool: str, block: int) -> str:
    return (
        f"position empty (pool {pool}) cannot be valued at block {block}: "
        f"ValueError: pool {pool} has an empty reserve"
    )


def test_cause_key_ignores_the_block_but_keeps_the_position() -> None:
    """The same pool failing at blocks 45 and 46 is one cause; another pool is another."""
    assert cause_key(empty_pair_error(POOL_A, 45)) == cause_key(empty_pair_error(POOL_A, 46))
    assert cause_key(empty_pair_error(POOL_A, 45)) != cause_key(empty_pair_error(POOL_B, 45))
    assert POOL_A in cause_key(empty_pair_error(POOL_A, 45))
    assert cause_key("logs 100..2000 unreadable") == "logs #..# unreadable"


def test_unreadable_episode_alerts_once_per_cause_and_once_when_read() -> None:
    """First failure and a changed cause start an alert; repeats do not; a good read ends the
    episode (returning its cause) and the next failure alerts again."""
    episode = UnreadableEpisode()
    assert episode.read() is None  # nothing to clear
    assert episode.failed(empty_pair_error(POOL_A, 45)) is True
    assert episode.failed(empty_pair_error(POOL_A, 46)) is False
    assert episode.failed(empty_pair_error(POOL_B, 47)) is True
    assert episode.failed(empty_pair_error(POOL_B, 48)) is False
    assert episode.read() == cause_key(empty_pair_error(POOL_B, 0))
    assert episode.read() is None
    assert episode.failed(empty_pair_error(POOL_A, 50)) is True


def test_unknown_delta_hold_can_never_be_taken_for_zero() -> None:
    """The hold of an unreadable tick keeps the hedge; its delta and target are NaN, so any
    comparison (e.g. a band check) raises instead of sizing an order."""
    held = unknown_delta_hold(D(-10), D(2000), "chain_unreadable")
    assert held.action == "hold"
    assert held.hedge_base == D(-10)
    assert held.delta_base.is_nan()
    assert held.target_base.is_nan()
    with pytest.raises(decimal.InvalidOperation):
        _ = held.drift_base > held.band_base


@given(
    hedge=st.decimals(min_value=D("0.01"), max_value=D(1000), places=3),
    short=st.booleans(),
    ratio=st.decimals(min_value=D("0.81"), max_value=D(50), places=3),
)
def test_margin_reduce_without_the_delta_only_shrinks_the_hedge(
    hedge: Decimal, short: bool, ratio: Decimal
) -> None:
    """Margin critical ``reduce`` from the current hedge alone: the order is reduce-only, the
    hedge after it is no larger and never crosses zero (same sign or flat)."""
    hedge_base = -hedge if short else hedge
    margin = assess_margin(ratio, None, LEVELS, hedge_base=hedge_base)
    assert margin.safe_size_base is not None
    held = unknown_delta_hold(hedge_base, D(2000), "chain_unreadable")
    decision = reduce_toward(
        held, hedge_base, margin.safe_size_base, D(2000), RULES, "margin_critical_reduce"
    )
    if decision.action != "rebalance":
        return
    assert decision.reduce_only
    assert decision.order_side is (Side.BUY if short else Side.SELL)
    signed = decision.order_amount_base * (1 if decision.order_side is Side.BUY else -1)
    after = hedge_base + signed
    assert abs(after) < abs(hedge_base)
    assert after == 0 or (after < 0) == short


class VenueGuard:
    """The venue-only rules over a default guard, reached as the engine reaches them: the
    kill switch read from its file, the pure rules of ``bot.core.gate``."""

    def __init__(self, rg: RiskGuard) -> None:
        self.rg = rg
        self.state = GuardState()
        self.config: GuardLimits = rg.config

    def observe_venue(
        self,
        now_s: float,
        quote: MarketQuote,
        position: PerpPosition,
        balance: AccountBalance,
        *,
        chain_error: str,
        hedge_ratio: Decimal,
        operator_mode: Literal["off", "flatten"] = "off",
    ) -> tuple[RiskView, RiskInputs]:
        kill: KillSwitchState = self.rg.kill_switch.read()
        mode = combine_modes(kill.mode, operator_mode)
        venue = VenueRead(quote, position, balance)
        return observe_venue(
            self.state,
            self.config,
            now_s,
            venue,
            (kill, mode),
            chain_error=chain_error,
            hedge_ratio=hedge_ratio,
        )

    def check_order(
        self, view: RiskView, inputs: RiskInputs, side: Side, amount: Decimal, day_pnl: Decimal
    ) -> tuple[TradingGate, tuple[Breach, ...]]:
        return check_order(view, inputs, self.config, (side, amount), day_pnl)


def guard(tmp_path: Path) -> tuple[VenueGuard, FileKillSwitch]:
    clock = ManualClock(1_000.0)
    rg = RiskGuard.with_defaults(tmp_path / "store.sqlite", clock)
    return VenueGuard(rg), FileKillSwitch(rg.kill_switch.path, clock)


def venue_reads(
    size_base: Decimal, mark: Decimal = ENTRY, margin: Decimal = AMPLE_MARGIN
) -> tuple[MarketQuote, PerpPosition, AccountBalance]:
    quote = MarketQuote("ETH/USDT:USDT", mark, mark, D("0.0001"), 0, 0)
    position = PerpPosition(
        "ETH/USDT:USDT", size_base, D(2000), mark, (D(2000) - mark) * -size_base, margin, None, 3
    )
    return quote, position, AccountBalance("USDT", D(100_000), D(90_000))


def test_venue_view_blocks_everything_but_the_emergency_reductions(tmp_path: Path) -> None:
    """Chain unreadable: no kill switch, healthy margin -> no order may pass; freeze -> none;
    flatten (file or operator) -> reduce-only to 0."""
    rg, switch = guard(tmp_path)
    quote, position, balance = venue_reads(D(-10))
    view, _ = rg.observe_venue(
        1_000.0, quote, position, balance, chain_error="ChainError: down", hedge_ratio=D(1)
    )
    assert view.gate.allow_orders is False
    assert view.gate.target_override_base is None
    assert view.gate.reasons == ("chain_unreadable",)
    assert view.trading_blocked
    operator, _ = rg.observe_venue(
        1_000.0,
        quote,
        position,
        balance,
        chain_error="x",
        hedge_ratio=D(1),
        operator_mode="flatten",
    )
    assert (operator.gate.allow_orders, operator.gate.reduce_only) == (True, True)
    assert operator.gate.target_override_base == 0
    switch.engage("freeze", "test", "cli")
    frozen, _ = rg.observe_venue(
        1_000.0, quote, position, balance, chain_error="x", hedge_ratio=D(1)
    )
    assert frozen.gate.allow_orders is False
    assert frozen.gate.target_override_base is None
    switch.engage("flatten", "test", "mqtt")
    flatten, _ = rg.observe_venue(
        1_000.0, quote, position, balance, chain_error="x", hedge_ratio=D(1)
    )
    assert flatten.gate.target_override_base == 0
    assert flatten.gate.reasons == ("kill_switch_flatten",)


def test_venue_view_margin_critical_reduces_from_the_hedge_and_keeps_data_rules(
    tmp_path: Path,
) -> None:
    """A mark 25% above entry on a thin margin: critical, the reduce target is a smaller
    hedge of the same sign; a data rule tripped at the last chain read is neither re-checked
    nor cleared, and the inputs' neutral chain fields trip no data guard of their own."""
    rg, _ = guard(tmp_path)
    rg.state = GuardState(
        active=(("stale_block", "block 7 is 900s old"), ("daily_loss", "old order guard"))
    )
    quote, position, balance = venue_reads(D(-10), mark=D(2500), margin=D(7_000))
    view, inputs = rg.observe_venue(
        1_000.0, quote, position, balance, chain_error="x", hedge_ratio=D(1)
    )
    assert view.margin_assessment.level == "critical"
    assert view.margin_assessment.action == "reduce"
    target = view.gate.target_override_base
    assert target is not None
    assert D(-10) < target <= 0
    assert view.gate.reasons == ("margin_critical_reduce",)
    assert [b.rule for b in view.data_breaches] == ["stale_block"]
    gate, breaches = rg.check_order(view, inputs, Side.BUY, D(5), D(0))
    assert gate.allow_orders
    assert [b.rule for b in breaches if b.rule in ("stale_block", "price_deviation")] == []
