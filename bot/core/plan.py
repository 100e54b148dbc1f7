"""The plan of one tick: observe -> decide -> gate, once, from one value of reads. Pure.

:func:`plan_tick` turns everything a tick read (:class:`Reads`) and the states kept between
ticks (:class:`bot.core.gate.GuardState`, ``PolicyState``,
:class:`bot.core.operator.OperatorState`) into a :class:`TickPlan`: the final decision, the
order guards' breaches, the alerts to raise, the margin view (reused by the state message)
and the next states. No asyncio, no I/O: the engine's ``act`` places the planned order and
``account`` keeps what the venue answered.

A tick whose chain read failed is the same plan with ``Reads.snapshot`` ``None`` (the
protect-only case): the LP delta is unknown (``NaN``, :func:`bot.core.protect.unknown_delta_hold`)
and a blocking ``chain_unreadable`` breach leaves only the emergency reductions
(kill-switch or operator flatten, margin critical) to trade, each reduce-only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from bot.core.gate import (
    GuardLimits,
    GuardState,
    MarginView,
    RiskView,
    VenueRead,
    check_order,
    day_pnl,
    observe,
    observe_venue,
    record_order,
    transitions,
)
from bot.core.killswitch import KillSwitchState
from bot.core.operator import OperatorState, effective_mode, effective_policy
from bot.core.policy import HedgePolicy, PolicyInputs, PolicyState, decide
from bot.core.protect import unknown_delta_hold
from bot.core.risk import Breach, RiskInputs
from bot.core.trading_gate import reduce_toward
from bot.domain import ChainSnapshot, Decision, MarketQuote, MarketRules, Side
from bot.events import Alert

__all__ = [
    "HedgeSettings",
    "PlanLimits",
    "Reads",
    "TickPlan",
    "plan_tick",
    "slippage_cap",
]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class HedgeSettings:
    """Configured hedge parameters: ratio (fraction of the LP delta) and IOC slippage cap."""

    hedge_ratio: Decimal
    max_slippage_bps: Decimal


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """Everything configured that the plan needs besides the policy and the market rules."""

    guard: GuardLimits
    hedge: HedgeSettings


@dataclass(frozen=True, slots=True)
class Reads:
    """Everything one tick read. ``snapshot`` ``None``: the chain could not be read
    (``chain_error`` says why). ``net_pnl_quote`` is the attribution's net PnL before the
    tick (0 before the first), for the day-loss guard; ``pending`` True when an order's
    outcome is still unknown (no new order then)."""

    now_s: float
    block: int
    venue: VenueRead
    kill: KillSwitchState
    net_pnl_quote: Decimal
    snapshot: ChainSnapshot | None = None
    chain_error: str = "chain unreadable"
    pending: bool = False


@dataclass(frozen=True, slots=True)
class TickPlan:
    """The gated decision of one tick and the states after it.

    ``guard_state`` already counts the planned order toward the rate limit. The policy
    state to keep depends on the order's outcome: :meth:`policy_state_after`.
    ``limit_price`` is the IOC slippage cap of the planned order (None without one).
    """

    decision: Decision
    view: RiskView
    breaches: tuple[Breach, ...]
    alerts: tuple[Alert, ...]
    margin: MarginView
    guard_state: GuardState
    operator_state: OperatorState
    limit_price: Decimal | None
    policy_before: PolicyState
    policy_traded: PolicyState
    policy_wanted_trade: bool

    @property
    def places_order(self) -> bool:
        """True when the plan sends an order."""
        return self.decision.action == "rebalance"

    def policy_state_after(self, *, filled: bool) -> PolicyState:
        """The policy state to keep: the traded one after a fill; a trade gated away (or not
        filled) leaves the state as it was; a hold or skip of the policy's own is kept."""
        if self.places_order:
            return self.policy_traded if filled else self.policy_before
        return self.policy_before if self.policy_wanted_trade else self.policy_traded


def slippage_cap(
    side: Side, quote: MarketQuote, max_slippage_bps: Decimal, tick: Decimal
) -> Decimal:
    """IOC limit price: the worse of best bid/ask and mark, moved by the slippage cap.

    Buys round the cap down and sells round it up to the price tick, so the cap is never
    looser than configured.
    """
    factor = max_slippage_bps / Decimal(10_000)
    if side is Side.BUY:
        ref = max(quote.mark_price, quote.ask or quote.mark_price)
        raw = ref * (1 + factor)
        return (raw / tick).to_integral_value(rounding=ROUND_DOWN) * tick
    ref = min(quote.mark_price, quote.bid or quote.mark_price)
    raw = ref * (1 - factor)
    return (raw / tick).to_integral_value(rounding=ROUND_UP) * tick


def _reduces_at_least_to(decision: Decision, hedge_base: Decimal, target_base: Decimal) -> bool:
    """True when the policy's own reduce-only order already shrinks the hedge to
    ``|target_base|`` or below: an emergency reduction never leaves more hedge than the
    policy would."""
    if decision.action != "rebalance" or not decision.reduce_only:
        return False
    signed = (
        decision.order_amount_base
        if decision.order_side is Side.BUY
        else -decision.order_amount_base
    )
    return abs(hedge_base + signed) <= abs(target_base)


@dataclass(frozen=True, slots=True)
class _Gating:
    """What the gate of one tick works with."""

    view: RiskView
    inputs: RiskInputs
    rules: MarketRules
    cfg: GuardLimits
    halted: bool
    net_pnl_quote: Decimal


def _skip(decision: Decision, reasons: tuple[str, ...]) -> Decision:
    return replace(decision, action="skip", reason="risk:" + ",".join(reasons))


def _gate(
    decision: Decision, g: _Gating, state: GuardState
) -> tuple[Decision, tuple[Breach, ...], GuardState]:
    """Emergency reductions, the operator's halt, then the order guards."""
    gate, hedge_base = g.view.gate, g.inputs.hedge_base
    if gate.target_override_base is not None:
        # an emergency reduction (flatten, margin critical) runs even while halted; the
        # policy's own reduction stands when it already goes at least as far
        if not _reduces_at_least_to(decision, hedge_base, gate.target_override_base):
            decision = reduce_toward(
                decision,
                hedge_base,
                gate.target_override_base,
                g.inputs.mark_price,
                g.rules,
                gate.reasons[0],
            )
    elif g.halted and decision.action == "rebalance":
        return replace(decision, action="hold", reason="paused"), (), state
    if decision.action != "rebalance":
        return decision, (), state
    assert decision.order_side is not None
    pnl_today, state = day_pnl(state, g.inputs.now_s, g.net_pnl_quote)
    order = (decision.order_side, decision.order_amount_base)
    order_gate, breaches = check_order(g.view, g.inputs, g.cfg, order, pnl_today)
    if not order_gate.allow_orders:
        return _skip(decision, order_gate.reasons), breaches, state
    if order_gate.reduce_only and not decision.reduce_only:
        coerced = replace(decision, reduce_only=True)
        if not _reduces_at_least_to(coerced, hedge_base, hedge_base):
            return _skip(decision, order_gate.reasons), breaches, state  # only reductions
        decision = coerced
    return decision, breaches, state


def _risk_alerts(
    view: RiskView, breaches: tuple[Breach, ...], state: GuardState, now_s: float
) -> tuple[tuple[Alert, ...], GuardState]:
    """``risk.<rule>`` once when a rule trips and ``risk.cleared`` once when it clears."""
    current: dict[str, str] = {b.rule: b.message for b in view.data_breaches}
    current.update({b.rule: b.message for b in breaches if b.severity == "block"})
    if view.margin_assessment.level != "ok":
        current[f"margin_{view.margin_assessment.level}"] = view.margin_assessment.message
    if view.funding.spike:
        current["funding_spike"] = view.funding.message
    if view.counterparty is not None:
        current["counterparty_cap"] = view.counterparty.message
    if view.kill.engaged:
        current[f"kill_switch_{view.kill.mode}"] = view.kill.reason or view.kill.mode
    tripped, cleared, state = transitions(state, current, now_s)
    alerts = [
        Alert.of(f"risk.{rule}", message=message, blocks_trading=view.trading_blocked)
        for rule, message in tripped.items()
    ]
    alerts.extend(Alert.of("risk.cleared", rule=rule) for rule in cleared)
    return tuple(alerts), state


def _observe(
    reads: Reads, state: GuardState, operator: OperatorState, limits: PlanLimits
) -> tuple[RiskView, RiskInputs, GuardState]:
    ratio = operator.hedge_ratio if operator.hedge_ratio is not None else limits.hedge.hedge_ratio
    kill = (reads.kill, effective_mode(operator, reads.kill))
    if reads.snapshot is None:
        view, inputs = observe_venue(
            state,
            limits.guard,
            reads.now_s,
            reads.venue,
            kill,
            chain_error=reads.chain_error,
            hedge_ratio=ratio,
        )
        return view, inputs, state
    return observe(state, limits.guard, reads.now_s, reads.snapshot, reads.venue, kill, ratio)


def _decide(
    reads: Reads,
    view: RiskView,
    policy_state: PolicyState,
    operator: OperatorState,
    limits: PlanLimits,
    policy: HedgePolicy,
    rules: MarketRules,
) -> tuple[Decision, PolicyState]:
    """The policy's decision; a hold at the hedge with an unknown delta without a snapshot."""
    position, quote = reads.venue.position, reads.venue.quote
    snapshot = reads.snapshot
    if snapshot is None:
        return unknown_delta_hold(
            position.size_base, quote.mark_price, "chain_unreadable"
        ), policy_state
    ratio = operator.hedge_ratio if operator.hedge_ratio is not None else limits.hedge.hedge_ratio
    inputs = PolicyInputs(
        now_s=reads.now_s,
        price=quote.mark_price,
        delta_base=snapshot.delta_base,
        gamma=sum((p.gamma for p in snapshot.positions), _ZERO),
        hedge_base=position.size_base,
        hedge_ratio=view.gate.hedge_ratio_override or ratio,
        limit_prices=(
            slippage_cap(Side.BUY, quote, limits.hedge.max_slippage_bps, rules.price_tick),
            slippage_cap(Side.SELL, quote, limits.hedge.max_slippage_bps, rules.price_tick),
        ),
    )
    return decide(
        effective_policy(policy, operator),
        policy_state,
        inputs,
        rules,
        force=operator.rebalance_requested,
    )


def plan_tick(
    reads: Reads,
    guard_state: GuardState,
    policy_state: PolicyState,
    operator_state: OperatorState,
    limits: PlanLimits,
    policy: HedgePolicy,
    rules: MarketRules,
) -> TickPlan:
    """One tick's gated decision and the states after it (see the module docstring).

    Raises what the policy's inputs raise for impossible reads (``ValueError`` for a
    non-positive mark); the engine fails that tick only.
    """
    view, inputs, guard = _observe(reads, guard_state, operator_state, limits)
    wanted, traded = _decide(reads, view, policy_state, operator_state, limits, policy, rules)
    gating = _Gating(view, inputs, rules, limits.guard, operator_state.paused, reads.net_pnl_quote)
    decision, breaches, guard = _gate(wanted, gating, guard)
    if decision.action == "rebalance" and reads.pending:
        decision = replace(decision, action="skip", reason="order_pending")
    alerts, guard = _risk_alerts(view, breaches, guard, reads.now_s)
    limit_price = None
    if decision.action == "rebalance":
        assert decision.order_side is not None
        guard = record_order(guard, reads.now_s)
        limit_price = slippage_cap(
            decision.order_side,
            reads.venue.quote,
            limits.hedge.max_slippage_bps,
            rules.price_tick,
        )
    operator_after = operator_state
    if reads.snapshot is not None:
        operator_after = replace(operator_state, rebalance_requested=False)
    return TickPlan(
        decision=decision,
        view=view,
        breaches=breaches,
        alerts=alerts,
        margin=view.margin,
        guard_state=guard,
        operator_state=operator_after,
        limit_price=limit_price,
        policy_before=policy_state,
        policy_traded=traded,
        policy_wanted_trade=wanted.action == "rebalance",
    )
