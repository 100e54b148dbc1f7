"""The pure plan of a tick (``plan_tick``) and the operator's commands (``apply_command``):
values in, values out, no store, no event loop."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from bot.core.gate import GuardLimits, GuardState, VenueRead
from bot.core.killswitch import KillSwitchState
from bot.core.operator import (
    OperatorRejection,
    OperatorState,
    TradingState,
    apply_command,
    effective_mode,
    effective_policy,
)
from bot.core.plan import HedgeSettings, PlanLimits, Reads, TickPlan, plan_tick
from bot.core.policy import PolicyState, ThresholdPolicy
from bot.domain import (
    AccountBalance,
    ChainSnapshot,
    MarketQuote,
    MarketRules,
    PerpPosition,
    PositionExposure,
    Side,
)
from bot.risk_settings import RiskSettings
from bot.telemetry.commands import (
    Command,
    Flatten,
    FlattenParams,
    HedgeRatioParams,
    Pause,
    RebalanceNow,
    Resume,
    SetHedgeRatio,
    SetThreshold,
    ThresholdParams,
)

pytestmark = pytest.mark.unit

D = Decimal
NOW = 1_800_000_000.0
MARK = D(2000)
RULES = MarketRules("ETH/USDT:USDT", D("0.001"), D("0.01"), D("0.001"), D(5))
POLICY = ThresholdPolicy(threshold_fraction=D("0.01"))
LIMITS = PlanLimits(GuardLimits(RiskSettings().to_limits(300.0)), HedgeSettings(D(1), D(50)))
OFF = KillSwitchState()
FREEZE = KillSwitchState("freeze", "test", NOW, "cli")
FLATTEN = KillSwitchState("flatten", "test", NOW, "cli")


def snapshot(delta_base: Decimal, *, age_s: float = 12.0, block: int = 100) -> ChainSnapshot:
    lp = PositionExposure("lp", "v2", delta_base, D(0), D(0), delta_base, D(0), MARK)
    return ChainSnapshot(block, int(NOW - age_s), "0xabc", MARK, (lp,))


AMPLE = D(100_000)


def venue(hedge_base: Decimal, *, margin: Decimal = AMPLE, mark: Decimal = MARK) -> VenueRead:
    quote = MarketQuote("ETH/USDT:USDT", mark, mark, D("0.0001"), 0, 0, mark, mark)
    pnl = (mark - MARK) * hedge_base
    position = PerpPosition("ETH/USDT:USDT", hedge_base, MARK, mark, pnl, margin, None, 3)
    return VenueRead(quote, position, AccountBalance("USDT", D(100_000), D(90_000)))


def reads(
    hedge_base: Decimal,
    chain: ChainSnapshot | None,
    *,
    kill: KillSwitchState = OFF,
    v: VenueRead | None = None,
) -> Reads:
    return Reads(
        now_s=NOW,
        block=100,
        venue=v if v is not None else venue(hedge_base),
        kill=kill,
        net_pnl_quote=D(0),
        snapshot=chain,
        chain_error="ChainError: node down",
    )


def plan(
    r: Reads,
    operator: OperatorState | None = None,
    guard: GuardState | None = None,
    policy_state: PolicyState | None = None,
) -> TickPlan:
    return plan_tick(
        r,
        guard if guard is not None else GuardState(last_block=99),
        policy_state if policy_state is not None else PolicyState(),
        operator if operator is not None else OperatorState(),
        LIMITS,
        POLICY,
        RULES,
    )


def signed(side: Side | None, amount: Decimal) -> Decimal:
    return amount if side is Side.BUY else -amount


HALTED = OperatorState(TradingState.HALTED)
REDUCING = OperatorState(TradingState.REDUCING)


# plan_tick ---------------------------------------------------------------------------------


def test_an_unhedged_lp_sells_its_delta_at_a_capped_price() -> None:
    """10 base of LP delta and no hedge: sell 10 at the mark less the 50 bps cap."""
    p = plan(reads(D(0), snapshot(D(10))))
    assert p.decision.action == "rebalance"
    assert (p.decision.order_side, p.decision.order_amount_base) == (Side.SELL, D(10))
    assert p.limit_price == D(1990)
    assert p.guard_state.orders_at == (NOW,)  # counted toward the order rate
    assert p.policy_state_after(filled=True).last_rebalance_s == NOW
    assert p.policy_state_after(filled=False).last_rebalance_s is None


def test_flatten_while_paused_reduces_to_zero_reduce_only() -> None:
    """Reducing (operator flatten) with the policy wanting more hedge: a reduce-only buy of
    the whole short, reason kill_switch_flatten."""
    p = plan(reads(D(-8), snapshot(D(10))), operator=REDUCING)
    assert p.decision.action == "rebalance"
    assert p.decision.reduce_only
    assert p.decision.reason == "kill_switch_flatten"
    assert (p.decision.order_side, p.decision.order_amount_base) == (Side.BUY, D(8))


def test_halted_holds_a_policy_trade_and_leaves_the_policy_state_untouched() -> None:
    """Paused: the policy's sell becomes a hold (reason paused) and the state kept is the
    one from before the tick."""
    before = PolicyState(started_s=NOW - 100)
    p = plan(reads(D(0), snapshot(D(10))), operator=HALTED, policy_state=before)
    assert (p.decision.action, p.decision.reason) == ("hold", "paused")
    assert p.limit_price is None
    assert p.guard_state.orders_at == ()
    assert p.policy_state_after(filled=False) == before


def test_a_trade_gated_away_by_a_guard_leaves_the_policy_state_untouched() -> None:
    """A 900 s old block trips stale_block: the trade is skipped, the policy state is the
    one from before, and risk.stale_block is raised once."""
    before = PolicyState(started_s=NOW - 100)
    p = plan(reads(D(0), snapshot(D(10), age_s=900)), policy_state=before)
    assert p.decision.action == "skip"
    assert p.decision.reason.startswith("risk:")
    assert "stale_block" in p.decision.reason
    assert p.policy_state_after(filled=False) == before
    assert [a.name for a in p.alerts] == ["risk.stale_block"]
    again = plan(reads(D(0), snapshot(D(10), age_s=900, block=101)), guard=p.guard_state)
    assert [a.name for a in again.alerts] == []  # alerted once while it stays tripped


def test_a_hold_of_the_policy_keeps_its_new_state() -> None:
    """Inside the band the policy holds; its state (first tick, last price) is kept."""
    p = plan(reads(D(-10), snapshot(D(10))))
    assert (p.decision.action, p.decision.reason) == ("hold", "inside_band")
    kept = p.policy_state_after(filled=False)
    assert kept.started_s == NOW
    assert kept.last_price == MARK


def test_funding_pause_coerces_a_reduction_to_reduce_only_and_skips_growth() -> None:
    """A funding spike with action pause: a trade that shrinks the hedge is sent
    reduce-only, one that grows it is skipped."""
    funding = replace(LIMITS.guard.limits.funding, action="pause")
    limits = replace(
        LIMITS, guard=replace(LIMITS.guard, limits=replace(LIMITS.guard.limits, funding=funding))
    )
    paying = venue(D(-20))
    paying = replace(paying, quote=replace(paying.quote, funding_rate=D("-0.01")))
    r = reads(D(-20), snapshot(D(10)), v=paying)
    shrink = plan_tick(
        r, GuardState(last_block=99), PolicyState(), OperatorState(), limits, POLICY, RULES
    )
    assert shrink.decision.action == "rebalance"
    assert shrink.decision.reduce_only
    assert shrink.decision.order_side is Side.BUY
    grow = plan_tick(
        replace(r, snapshot=snapshot(D(30))),
        GuardState(last_block=99),
        PolicyState(),
        OperatorState(),
        limits,
        POLICY,
        RULES,
    )
    assert grow.decision.action == "skip"
    assert grow.decision.reason == "risk:funding_spike_pause"


def test_margin_critical_while_the_block_is_stale_still_reduces() -> None:
    """A thin margin 25 % under water and a stale block: the emergency reduction passes the
    data guard, reduce-only, to a smaller hedge of the same sign."""
    thin = venue(D(-10), margin=D(7_000), mark=D(2500))
    p = plan(reads(D(-10), snapshot(D(10), age_s=900), v=thin))
    assert p.view.margin_assessment.level == "critical"
    assert p.decision.action == "rebalance"
    assert p.decision.reduce_only
    assert p.decision.reason.startswith("margin_critical")
    after = D(-10) + signed(p.decision.order_side, p.decision.order_amount_base)
    assert D(-10) < after <= 0


def test_protect_only_without_a_snapshot_holds_a_healthy_hedge() -> None:
    """No chain snapshot and nothing emergency: hold with an unknown delta, no order."""
    p = plan(reads(D(-10), None))
    assert (p.decision.action, p.decision.reason) == ("hold", "chain_unreadable")
    assert p.decision.delta_base.is_nan()
    assert p.view.gate.reasons == ("chain_unreadable",)
    assert p.limit_price is None


@pytest.mark.parametrize(
    ("kill", "operator"),
    [(FLATTEN, OperatorState()), (OFF, REDUCING)],
    ids=["kill-switch-flatten", "operator-flatten"],
)
def test_protect_only_flatten_closes_the_hedge(
    kill: KillSwitchState, operator: OperatorState
) -> None:
    """No chain snapshot, flatten by the switch or the operator: a reduce-only buy of the
    whole short; the block bookkeeping is left alone."""
    guard = GuardState(last_block=99, stalled_ticks=0)
    p = plan(reads(D(-10), None, kill=kill), operator=operator, guard=guard)
    assert p.decision.action == "rebalance"
    assert p.decision.reduce_only
    assert (p.decision.order_side, p.decision.order_amount_base) == (Side.BUY, D(10))
    assert p.guard_state.last_block == 99


def test_protect_only_margin_critical_reduces_and_freeze_holds() -> None:
    """No chain snapshot: margin critical reduces toward the safe size; a freeze allows
    nothing at all."""
    thin = venue(D(-10), margin=D(7_000), mark=D(2500))
    p = plan(reads(D(-10), None, v=thin))
    assert p.decision.action == "rebalance"
    assert p.decision.reduce_only
    assert p.decision.order_side is Side.BUY
    frozen = plan(reads(D(-10), None, kill=FREEZE))
    assert frozen.decision.action == "hold"
    assert frozen.limit_price is None


def test_protect_only_never_grows_or_keeps_the_rebalance_request() -> None:
    """No chain snapshot: a pending rebalance_now is not used up (it needs a delta)."""
    operator = OperatorState(rebalance_requested=True)
    p = plan(reads(D(-10), None), operator=operator)
    assert p.decision.action == "hold"
    assert p.operator_state.rebalance_requested is True
    used = plan(reads(D(-10), snapshot(D(10))), operator=operator)
    assert used.operator_state.rebalance_requested is False


def test_a_pending_order_blocks_any_new_one() -> None:
    """An outcome still unknown: the planned trade is skipped (order_pending)."""
    p = plan(replace(reads(D(0), snapshot(D(10))), pending=True))
    assert (p.decision.action, p.decision.reason) == ("skip", "order_pending")
    assert p.guard_state.orders_at == ()


def test_the_operator_hedge_ratio_and_threshold_apply() -> None:
    """Ratio 0.5 halves the target; a threshold override of 6 base holds a drift of 5."""
    half = plan(reads(D(0), snapshot(D(10))), operator=OperatorState(hedge_ratio=D("0.5")))
    assert half.decision.target_base == D(-5)
    assert half.decision.order_amount_base == D(5)
    wide = OperatorState(threshold_set=True, threshold_base=D(6))
    held = plan(reads(D(-5), snapshot(D(10))), operator=wide)
    assert (held.decision.action, held.decision.reason) == ("hold", "inside_band")


def test_the_first_order_of_a_day_sets_the_day_baseline() -> None:
    """The day-loss guard's baseline is set when a tick of a new UTC day sizes an order."""
    p = plan(reads(D(0), snapshot(D(10))))
    assert p.guard_state.day is not None
    assert p.guard_state.day_start_net == 0


# apply_command -----------------------------------------------------------------------------

PAUSE = Pause(id="1", command="pause")
RESUME = Resume(id="2", command="resume")
FLAT = Flatten(id="3", command="flatten", params=FlattenParams(confirm=True))
NOW_CMD = RebalanceNow(id="4", command="rebalance_now")
RATIO = SetHedgeRatio(id="5", command="set_hedge_ratio", params=HedgeRatioParams(value=D("0.7")))
BAND = SetThreshold(id="6", command="set_threshold", params=ThresholdParams(base=D(2)))
STATES = [OperatorState(), HALTED, REDUCING]
IDS = ["active", "halted", "reducing"]


@pytest.mark.parametrize("state", STATES, ids=IDS)
def test_pause_halts_but_a_flatten_stays_reducing(state: OperatorState) -> None:
    """Pause: active and halted become halted; reducing stays reducing (old flattening)."""
    after = apply_command(state, PAUSE, OFF, POLICY)
    assert isinstance(after, OperatorState)
    expected = TradingState.REDUCING if state is REDUCING else TradingState.HALTED
    assert after.trading_state is expected
    assert after.paused


@pytest.mark.parametrize("state", STATES, ids=IDS)
def test_flatten_reduces_from_every_state(state: OperatorState) -> None:
    """Flatten: reducing from anywhere; the wire flags are paused and flattening."""
    after = apply_command(state, FLAT, OFF, POLICY)
    assert isinstance(after, OperatorState)
    assert after.trading_state is TradingState.REDUCING
    assert (after.paused, after.flattening) == (True, True)


@pytest.mark.parametrize("state", STATES, ids=IDS)
def test_resume_is_active_unless_the_kill_switch_is_engaged(state: OperatorState) -> None:
    """Resume: active from any state; refused while the kill switch is engaged (freeze or
    flatten), naming the mode, the source and how to clear it."""
    after = apply_command(state, RESUME, OFF, POLICY)
    assert isinstance(after, OperatorState)
    assert after.trading_state is TradingState.ACTIVE
    for kill in (FREEZE, FLATTEN):
        refused = apply_command(state, RESUME, kill, POLICY)
        assert refused == OperatorRejection(
            f"kill switch engaged ({kill.mode}, cli): clear it with "
            "`hedgebot kill --config F clear`"
        )


@pytest.mark.parametrize("state", STATES, ids=IDS)
def test_rebalance_now_only_while_active(state: OperatorState) -> None:
    """rebalance_now: requested while active; refused while halted or reducing."""
    after = apply_command(state, NOW_CMD, OFF, POLICY)
    if state.trading_state is TradingState.ACTIVE:
        assert isinstance(after, OperatorState)
        assert after.rebalance_requested
    else:
        assert after == OperatorRejection("trading is paused: resume first")


@pytest.mark.parametrize("state", STATES, ids=IDS)
@pytest.mark.parametrize("kill", [OFF, FREEZE, FLATTEN], ids=["off", "freeze", "flatten"])
def test_ratio_and_threshold_apply_in_every_state(
    state: OperatorState, kill: KillSwitchState
) -> None:
    """set_hedge_ratio and set_threshold change only their override, whatever the state
    and the switch; the threshold only for a threshold policy."""
    ratio = apply_command(state, RATIO, kill, POLICY)
    assert ratio == replace(state, hedge_ratio=D("0.7"))
    band = apply_command(state, BAND, kill, POLICY)
    assert band == replace(state, threshold_set=True, threshold_base=D(2))
    assert isinstance(band, OperatorState)
    assert effective_policy(POLICY, band) == ThresholdPolicy(threshold_base=D(2))


def test_set_threshold_is_refused_for_a_policy_without_one() -> None:
    """Another policy class has no threshold to set."""
    from bot.core.policy import IntervalPolicy

    policy = IntervalPolicy(interval_s=3600)
    refused = apply_command(OperatorState(), BAND, OFF, policy)
    assert refused == OperatorRejection("policy IntervalPolicy has no threshold")


@pytest.mark.parametrize("state", STATES, ids=IDS)
@pytest.mark.parametrize("kill", [OFF, FREEZE, FLATTEN], ids=["off", "freeze", "flatten"])
def test_the_gate_sees_the_strictest_of_switch_and_operator(
    state: OperatorState, kill: KillSwitchState
) -> None:
    """Flatten from either wins over freeze, freeze over off; halted alone is off (it is
    the paused hold of the gate, not a kill mode)."""
    mode = effective_mode(state, kill)
    if kill.mode == "flatten" or state is REDUCING:
        assert mode == "flatten"
    else:
        assert mode == kill.mode


@pytest.mark.parametrize(
    "state", [*STATES, OperatorState(TradingState.HALTED, D("0.5"), True, None, D("0.02"))]
)
def test_the_operator_record_round_trips_without_the_one_shot_request(
    state: OperatorState,
) -> None:
    """The stored record reads back as the same state; rebalance_now is never persisted."""
    assert OperatorState.from_record(state.to_record()) == state
    requested = replace(state, rebalance_requested=True)
    assert OperatorState.from_record(requested.to_record()) == state
    assert OperatorState.from_record(None) == OperatorState()


def test_every_command_is_covered() -> None:
    """Each command name of the wire schema has a case here."""
    from typing import get_args

    from bot.telemetry.commands import CommandName

    covered: list[Command] = [PAUSE, RESUME, FLAT, NOW_CMD, RATIO, BAND]
    assert sorted(c.command for c in covered) == sorted(get_args(CommandName))
