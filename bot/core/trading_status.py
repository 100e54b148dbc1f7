"""What may trade now, for people: operator, kill switch and guards together. Pure.

:func:`trading_status` folds the operator's :class:`~bot.core.operator.TradingState`, the kill
switch as read and the tick's risk verdicts (:class:`~bot.core.gate.RiskView`, the order
guards' breaches, the tripped rules of :class:`~bot.core.gate.GuardState`) into the strictest
state (NautilusTrader's terms): ``halted`` (no order can pass), ``reducing`` (only reduce-only
orders toward flat or a safe size) or ``active``, with the reasons in words and every tripped
guard. It decides nothing: :func:`bot.core.plan.plan_tick` gates the orders; this is what the
state message shows (``trading_state``, ``trading_reasons``, ``guards_tripped``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.gate import GuardState, RiskView
from bot.core.killswitch import KillSwitchState
from bot.core.operator import OperatorState, TradingState
from bot.core.risk import Breach

__all__ = ["TradingStatus", "TrippedGuard", "trading_status"]

_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_OPERATOR_REASON = {
    TradingState.HALTED: "paused by operator",
    TradingState.REDUCING: "flatten by operator",
}
_KILL_RULES = ("kill_switch_freeze", "kill_switch_flatten")


@dataclass(frozen=True, slots=True)
class TrippedGuard:
    """One tripped rule: its id, when it tripped (unix s; None when not seen by this
    process) and its message."""

    name: str
    since: float | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class TradingStatus:
    """The strictest trading state now, why (for people), and every tripped guard."""

    state: TradingState
    reasons: tuple[str, ...]
    guards: tuple[TrippedGuard, ...]


def _guard_state(view: RiskView, breaches: tuple[Breach, ...]) -> tuple[TradingState, list[str]]:
    """The state the guards alone allow, and the rules that restrict it (kill switch aside)."""
    blocking = [b.rule for b in breaches if b.severity == "block"]
    gate = view.gate
    if view.trading_blocked or blocking:
        rules = [*gate.reasons, *(b.rule for b in view.data_breaches if b.severity == "block")]
        state = TradingState.HALTED
    elif gate.reduce_only:
        rules, state = list(gate.reasons), TradingState.REDUCING
    else:
        return TradingState.ACTIVE, []
    rules.extend(blocking)
    return state, [r for r in dict.fromkeys(rules) if r not in _KILL_RULES]


def trading_status(
    operator: OperatorState,
    kill: KillSwitchState,
    view: RiskView,
    breaches: tuple[Breach, ...],
    guard: GuardState,
) -> TradingStatus:
    """The strictest of the operator's state, the kill switch (``freeze`` halts, ``flatten``
    reduces) and the guards (a blocking data or order guard halts, an emergency reduction or
    a funding pause reduces). Reasons: ``paused by operator``, ``flatten by operator``,
    ``kill switch <mode> (<source>)``, ``guard <rule>``."""
    states = [operator.trading_state]
    reasons = []
    if operator.trading_state in _OPERATOR_REASON:
        reasons.append(_OPERATOR_REASON[operator.trading_state])
    if kill.engaged:
        states.append(TradingState.HALTED if kill.mode == "freeze" else TradingState.REDUCING)
        reasons.append(f"kill switch {kill.mode} ({kill.source or 'file'})")
    guard_state, rules = _guard_state(view, breaches)
    if guard_state is not TradingState.ACTIVE:
        states.append(guard_state)
        reasons.extend(f"guard {rule}" for rule in rules)
    since = dict(guard.tripped_at)
    trips = tuple(
        TrippedGuard(rule, since.get(rule), message or None) for rule, message in guard.active
    )
    return TradingStatus(max(states, key=_RANK.__getitem__), tuple(reasons), trips)
