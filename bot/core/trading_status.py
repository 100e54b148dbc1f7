"""What may trade now, for people: operator, kill switch and guards together. Pure.

:func:`trading_status` folds the operator's :class:`~bot.core.operator.TradingState`, the kill
switch as read and the tick's risk verdicts (:class:`~bot.core.gate.RiskView`, the order
guards' breaches, the tripped rules of :class:`~bot.core.gate.GuardState`) into the strictest
state (NautilusTrader's terms): ``halted`` (no order can pass), ``reducing`` (only reduce-only
orders toward flat or a safe size) or ``active``, with the reasons in words and every tripped
guard. It decides nothing: :func:`bot.core.plan.plan_tick` gates the orders; this is what the
state message shows (``trading_state``, ``trading_reasons``, ``guards_tripped``).

The reasons' words live here, once, for MQTT ``state``, ``/healthz``, the monitor and
``hedgebot status`` (:mod:`bot.status_trading`): an operator state that is not ``active``
is explained by the cause of the change that set it (the ``trading_state`` event's
``cause``, :func:`last_state_cause`), naming the way out: ``paused by operator``, ``flatten
by operator``, ``venue refused authentication — fix keys, then resume``, ``kill switch
flatten (file) — clear, then resume`` (:func:`operator_reason`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.gate import GuardState, RiskView
from bot.core.killswitch import KillSwitchState
from bot.core.operator import KILL_FLATTEN_CAUSE, OperatorState, TradingState
from bot.core.risk import Breach

__all__ = [
    "HALT_CAUSE_REASONS",
    "OPERATOR_PAUSE_REASON",
    "TradingStatus",
    "TrippedGuard",
    "control_reasons",
    "kill_reason",
    "last_state_cause",
    "operator_reason",
    "trading_status",
]

_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_KILL_RULES = ("kill_switch_freeze", "kill_switch_flatten")

OPERATOR_PAUSE_REASON = "paused by operator"
HALT_CAUSE_REASONS: dict[str, str] = {
    "authentication_refused": "venue refused authentication — fix keys, then resume",
    "illegal_venue_answer": "illegal venue answer — check the account, then resume",
    "position_mismatch": "position mismatch — check the account, then resume",
    "venue_liquidation": "liquidated by the venue — check the account, then resume",
}
"""The reason of a halt the bot made itself, by the ``trading_state`` change's cause
(``bot.engine.halts``, ``bot.engine.position_watch``); any other cause of a halt is an
operator's pause (``pause`` over MQTT, the dashboard, ``hedgebot cmd``)."""


def kill_reason(kill: KillSwitchState) -> str:
    """``kill switch freeze (cli)``: the engaged switch's mode and source (``file`` when the
    flag file names none)."""
    return f"kill switch {kill.mode} ({kill.source or 'file'})"


def operator_reason(
    operator: OperatorState, kill: KillSwitchState, cause: str | None
) -> str | None:
    """Why the operator's state is not ``active``, naming the way out, from ``cause`` (the
    cause of the change that set it, :func:`last_state_cause`); None while ``active``.

    ``reducing``: ``flatten by operator``. ``halted``: a kill-switch flatten's pause is
    ``kill switch flatten (<source>) — clear, then resume`` while the switch is engaged,
    ``paused after a kill switch flatten — resume to trade`` once cleared; a halt the bot
    made is :data:`HALT_CAUSE_REASONS`; anything else ``paused by operator``."""
    if operator.trading_state is TradingState.ACTIVE:
        return None
    if operator.trading_state is TradingState.REDUCING:
        return "flatten by operator"
    if cause == KILL_FLATTEN_CAUSE:
        if kill.engaged and kill.mode == "flatten":
            return f"{kill_reason(kill)} — clear, then resume"
        return "paused after a kill switch flatten — resume to trade"
    return HALT_CAUSE_REASONS.get(cause or "", OPERATOR_PAUSE_REASON)


def last_state_cause(changes: Iterable[Mapping[str, Any]]) -> str | None:
    """The cause of the last change of the trading state among ``changes`` (the stored
    ``trading_state`` events, oldest first: ``previous``, ``current``, ``cause``); a change
    of the hedge ratio or the threshold alone keeps the state's cause. None when no change
    of the state is recorded."""
    cause = None
    for change in changes:
        if change.get("previous") != change.get("current"):
            found = change.get("cause")
            cause = None if found is None else str(found)
    return cause


def control_reasons(operator: OperatorState, kill: KillSwitchState, cause: str | None) -> list[str]:
    """The operator's (:func:`operator_reason`) and the engaged kill switch's
    (:func:`kill_reason`) reasons; a switch already named by the operator's reason (a
    flatten's pause) is not named twice."""
    reason = operator_reason(operator, kill, cause)
    reasons = [] if reason is None else [reason]
    if kill.engaged and not (reason or "").startswith(kill_reason(kill)):
        reasons.append(kill_reason(kill))
    return reasons


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
    cause: str | None = None,
) -> TradingStatus:
    """The strictest of the operator's state, the kill switch (``freeze`` halts, ``flatten``
    reduces) and the guards (a blocking data or order guard halts, an emergency reduction or
    a funding pause reduces). Reasons: :func:`operator_reason` (``cause``: the cause of the
    operator state's last change), ``kill switch <mode> (<source>)``, ``guard <rule>``."""
    states = [operator.trading_state]
    reasons = control_reasons(operator, kill, cause)
    if kill.engaged:
        states.append(TradingState.HALTED if kill.mode == "freeze" else TradingState.REDUCING)
    guard_state, rules = _guard_state(view, breaches)
    if guard_state is not TradingState.ACTIVE:
        states.append(guard_state)
        reasons.extend(f"guard {rule}" for rule in rules)
    since = dict(guard.tripped_at)
    trips = tuple(
        TrippedGuard(rule, since.get(rule), message or None) for rule, message in guard.active
    )
    return TradingStatus(max(states, key=_RANK.__getitem__), tuple(reasons), trips)
