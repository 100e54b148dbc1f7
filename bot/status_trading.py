"""What may trade, from the store's records (for ``hedgebot status``). Pure.

The running bot publishes its trading state in MQTT ``state`` (``bot.core.trading_status``);
``status`` works without it, from what the store kept: the operator's state record, the
kill-switch file and the ``alert`` events of the risk guards (``risk.<rule>`` when a rule
trips, ``risk.cleared`` when it clears) and of the chains (``chain.unreadable`` when one of
several chains cannot be read: only protective reductions run; ``chain.readable`` when it
reads again). Reasons are the state message's words, from the
same function (:func:`bot.core.trading_status.control_reasons`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.core.killswitch import KillSwitchState
from bot.core.operator import OperatorState, TradingState
from bot.core.trading_status import control_reasons
from bot.safety import printable

__all__ = [
    "chain_reason",
    "chains_unreadable",
    "guard_effect",
    "guard_reason",
    "trading_summary",
    "tripped_guards",
]

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


def chains_unreadable(
    alerts: list[dict[str, Any]], started_s: float | None = None
) -> list[dict[str, Any]]:
    """The chains unreadable now, from the stored ``alert`` events (oldest first): a
    ``chain.unreadable`` naming a chain in ``entries`` with no later ``chain.readable`` for
    it. An episode told before ``started_s`` (unix s, the running daemon's start) is dropped:
    that run re-tells a chain still unreadable. Each ``{"chain", "since", "detail"}``."""
    down: dict[str, dict[str, Any]] = {}
    for event in alerts:
        name = event.get("alert")
        chains = [str(c) for c in event.get("entries") or () if isinstance(c, str)]
        if name == "chain.readable":
            for chain in chains:
                down.pop(chain, None)
        elif name == "chain.unreadable":
            detail = event.get("detail")
            for chain in chains:
                down.setdefault(
                    chain,
                    {
                        "chain": chain,
                        "since": float(event["ts"]),
                        "detail": None if detail is None else str(detail),
                    },
                )
    return [d for d in down.values() if started_s is None or d["since"] >= started_s]


def chain_reason(down: dict[str, Any]) -> str:
    """``chain arb unreadable since 2026-03-01 12:00:00Z (only protective reductions):
    <detail>``, the detail bounded and escaped."""
    since = datetime.fromtimestamp(down["since"], UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    head = f"chain {printable(down['chain'], 32)} unreadable since {since}"
    detail = down.get("detail")
    tail = f": {printable(str(detail), 120)}" if detail else ""
    return f"{head} (only protective reductions){tail}"


def guard_effect(rule: str) -> TradingState:
    """What a tripped rule allows: a warning nothing less than ``active``, an emergency
    reduction or funding pause ``reducing``, any other (data or order) guard ``halted``."""
    if rule.startswith(_INFO_RULES):
        return TradingState.ACTIVE
    if rule.startswith(_REDUCING_RULES):
        return TradingState.REDUCING
    return TradingState.HALTED


_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


def guard_reason(guard: dict[str, Any]) -> str:
    """``guard max_order_notional: order notional 77641.36 exceeds 1000`` (the detail the
    guard tripped with, as ``/healthz`` shows it), or ``guard <name>`` without one."""
    detail = guard.get("detail")
    name = printable(str(guard["name"]), 40)
    return f"guard {name}" if not detail else f"guard {name}: {printable(str(detail), 120)}"


def trading_summary(
    operator: OperatorState,
    kill: KillSwitchState,
    guards: list[dict[str, Any]],
    operator_cause: str | None = None,
    chains_down: Sequence[dict[str, Any]] = (),
) -> tuple[TradingState, list[str]]:
    """The strictest of the operator (pause halts, flatten reduces), the kill switch (freeze
    halts, flatten reduces) and the tripped guards (:func:`guard_effect`), with the reasons
    in the state message's words (``paused by operator``, ``venue refused authentication —
    fix keys, then resume``, ``kill switch freeze (cli)``, ``guard daily_loss: <detail>``);
    ``operator_cause`` (the cause of the trading state's last change,
    :func:`bot.core.trading_status.last_state_cause`) names why the operator state is not
    active (:func:`bot.core.trading_status.operator_reason`); ``chains_down``
    (:func:`chains_unreadable`) reduces: only protective reductions run while a chain of
    several cannot be read."""
    states = [operator.trading_state]
    reasons = control_reasons(operator, kill, operator_cause)
    if kill.engaged:
        states.append(TradingState.HALTED if kill.mode == "freeze" else TradingState.REDUCING)
    for guard in guards:
        effect = guard_effect(guard["name"])
        if guard["name"] in _KILL_RULES or effect is TradingState.ACTIVE:
            continue
        states.append(effect)
        reasons.append(guard_reason(guard))
    for down in chains_down:
        states.append(TradingState.REDUCING)
        reasons.append(chain_reason(down))
    return max(states, key=_RANK.__getitem__), reasons
