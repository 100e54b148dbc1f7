"""The trading gate: every rule together decides what the engine may do this tick. Pure.

Kill switch, margin, funding and the pre-trade guards of :mod:`bot.core.risk` are combined,
first match wins (see :func:`trading_gate`); :func:`reduce_toward` turns a reduce-only target
into the order that gets there. Units as in :mod:`bot.core.risk`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.core.account_rules import FundingAssessment, MarginAssessment
from bot.core.policy import size_order
from bot.core.risk import Breach, KillMode
from bot.domain import Decision, MarketRules

__all__ = ["TradingGate", "reduce_toward", "trading_gate"]

_ZERO = Decimal(0)

# Rules that still apply to an emergency reduction (kill-switch flatten, margin critical):
# the data and limit guards protect new risk, not the way out; the order rate still holds.
_EMERGENCY_BLOCKERS = frozenset({"max_orders_per_minute"})


@dataclass(frozen=True, slots=True)
class TradingGate:
    """What the engine may do this tick, from every rule together.

    ``allow_orders`` False: no order at all. ``reduce_only``: only orders toward
    ``target_override_base`` (0 for flatten), sent reduce-only. ``hedge_ratio_override``
    replaces the configured ratio for the policy. ``reasons`` are the stable rule ids.
    """

    allow_orders: bool
    reduce_only: bool
    target_override_base: Decimal | None
    hedge_ratio_override: Decimal | None
    reasons: tuple[str, ...]


def trading_gate(
    breaches: Sequence[Breach],
    margin: MarginAssessment,
    funding: FundingAssessment,
    kill_mode: KillMode,
) -> TradingGate:
    """Combine the rules; first match wins.

    1. kill switch ``flatten``: reduce-only to 0; 2. kill switch ``freeze``: nothing;
    3. margin critical ``flatten``/``reduce``: reduce-only to the safe size; 4. a blocking
    breach: nothing; 5. funding ``pause``: nothing; 6. funding ``lower_ratio``: ratio override.
    Emergency reductions (1, 3) ignore blocking breaches except the order rate, since stale
    data or a loss limit must never keep the bot in a position it is told to leave. Call it
    once before sizing (with no breaches) for the overrides, and again with the order's
    :func:`check_pre_trade` result.
    """
    blocking = tuple(b.rule for b in breaches if b.severity == "block")
    emergency_blocked = tuple(r for r in blocking if r in _EMERGENCY_BLOCKERS)

    def emergency(target: Decimal, reason: str) -> TradingGate:
        if emergency_blocked:
            return TradingGate(False, True, target, None, (reason, *emergency_blocked))
        return TradingGate(True, True, target, None, (reason,))

    if kill_mode == "flatten":
        return emergency(_ZERO, "kill_switch_flatten")
    if kill_mode == "freeze":
        return TradingGate(False, False, None, None, ("kill_switch_freeze",))
    if margin.action in ("flatten", "reduce") and margin.safe_size_base is not None:
        return emergency(margin.safe_size_base, f"margin_critical_{margin.action}")
    if blocking:
        return TradingGate(False, False, None, None, blocking)
    if funding.action == "pause":
        # no new risk while funding spikes, but shrinking the hedge (which pays) is allowed
        return TradingGate(True, True, None, None, ("funding_spike_pause",))
    if funding.action == "lower_ratio":
        return TradingGate(
            True, False, None, funding.suggested_hedge_ratio, ("funding_spike_lower_ratio",)
        )
    return TradingGate(True, False, None, None, ())


def reduce_toward(
    decision: Decision,
    hedge_base: Decimal,
    target_base: Decimal,
    price: Decimal,
    rules: MarketRules,
    reason: str,
) -> Decision:
    """Replace the policy's decision by a reduce-only order from ``hedge_base`` to ``target_base``.

    For the emergency gates (kill-switch flatten, margin critical): the band and the LP delta
    are ignored; the order only ever makes the position smaller.
    """
    if hedge_base == 0 or abs(hedge_base) <= abs(target_base):
        return replace(decision, action="hold", reason="flat" if hedge_base == 0 else reason)
    sizing = size_order(hedge_base - target_base, hedge_base, price, rules)
    if sizing.refusal is not None:
        return replace(decision, action="skip", reason=f"{reason}_{sizing.refusal}")
    return replace(
        decision,
        action="rebalance",
        reason=reason,
        order_side=sizing.side,
        order_amount_base=sizing.amount_base,
        reduce_only=True,
    )
