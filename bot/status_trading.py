"""What may trade, from the store's records (for ``hedgebot status``). Pure.

The running bot publishes its trading state in MQTT ``state`` (``bot.core.trading_status``);
``status`` works without it, from what the store kept: the operator's state record, the
kill-switch file and the ``alert`` events of the risk guards (``risk.<rule>`` when a rule
trips, ``risk.cleared`` when it clears). Reasons use the state message's words.
"""

from __future__ import annotations

from typing import Any

from bot.core.killswitch import KillSwitchState
from bot.core.operator import OperatorState, TradingState

__all__ = ["guard_effect", "trading_summary", "tripped_guards"]

# rules that restrict to reduce-only (an emergency reduction or a funding pause); a warning
# restricts nothing; every other tripped rule blocks orders (a data or order guard)
_REDUCING_RULES = ("margin_critical", "funding_spike")
_INFO_RULES = ("margin_warn",)
_KILL_RULES = ("kill_switch_freeze", "kill_switch_flatten")


def tripped_guards(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The risk rules tripped and not cleared, from the stored ``alert`` events (oldest
    first): ``risk.<rule>`` trips a rule (``since`` its time, unix s), ``risk.cleared``
    with ``rule`` clears it. Each ``{"name", "since", "detail", "blocks_trading"}``."""
    active: dict[str, dict[str, Any]] = {}
    for event in alerts:
        name = str(event.get("alert", ""))
        if not name.startswith("risk."):
            continue
        if name == "risk.cleared":
            active.pop(str(event.get("rule", "")), None)
            continue
        rule = name.removeprefix("risk.")
        if rule not in active:
            message = event.get("message")
            active[rule] = {
                "name": rule,
                "since": float(event["ts"]),
                "detail": None if message is None else str(message),
                "blocks_trading": bool(event.get("blocks_trading", False)),
            }
    return list(active.values())


def guard_effect(rule: str) -> TradingState:
    """What a tripped rule allows: a warning nothing less than ``active``, an emergency
    reduction or funding pause ``reducing``, any other (data or order) guard ``halted``."""
    if rule.startswith(_INFO_RULES):
        return TradingState.ACTIVE
    if rule.startswith(_REDUCING_RULES):
        return TradingState.REDUCING
    return TradingState.HALTED


_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


def trading_summary(
    operator: OperatorState, kill: KillSwitchState, guards: list[dict[str, Any]]
) -> tuple[TradingState, list[str]]:
    """The strictest of the operator (pause halts, flatten reduces), the kill switch (freeze
    halts, flatten reduces) and the tripped guards (:func:`guard_effect`), with the reasons
    in the state message's words (``paused by operator``, ``kill switch freeze (cli)``,
    ``guard daily_loss``)."""
    states = [operator.trading_state]
    reasons = []
    if operator.trading_state is TradingState.HALTED:
        reasons.append("paused by operator")
    elif operator.trading_state is TradingState.REDUCING:
        reasons.append("flatten by operator")
    if kill.engaged:
        states.append(TradingState.HALTED if kill.mode == "freeze" else TradingState.REDUCING)
        reasons.append(f"kill switch {kill.mode} ({kill.source or 'file'})")
    for guard in guards:
        effect = guard_effect(guard["name"])
        if guard["name"] in _KILL_RULES or effect is TradingState.ACTIVE:
            continue
        states.append(effect)
        reasons.append(f"guard {guard['name']}")
    return max(states, key=_RANK.__getitem__), reasons
