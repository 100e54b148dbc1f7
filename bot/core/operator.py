"""The operator's state of one bot and the pure application of commands to it. Pure.

One value, :class:`OperatorState`, replaces the ``paused``/``flattening`` booleans and the
``hedge_ratio``/``threshold`` meta keys: a :class:`TradingState` in NautilusTrader's terms
(``halted``: no orders at all; ``reducing``: only reduce-only orders toward flat; ``active``:
hedging) plus the run-time overrides of the hedge ratio and the threshold band. It is stored
as one record (:meth:`OperatorState.to_record`); :func:`apply_command` is the only way it
changes from a command, and every change is a ``trading_state.changed`` event in the shell.

The kill-switch file stays its own source (it works while the bot is stopped): the state
the gate sees is :func:`effective_mode`, the strictest of the two.

One kill/clear story, whatever the channel (CLI ``hedgebot kill``, the flag file, the
dashboard, MQTT): after a flatten nothing re-hedges until the operator says ``resume``.
An MQTT ``flatten`` is ``reducing`` until ``resume``; a kill-switch flatten seen by the bot
halts the operator once per flatten episode (:func:`after_kill_switch`), so clearing the
switch leaves the bot paused until ``resume``. A freeze only blocks orders while engaged:
cleared, the bot returns to the state it was in before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from bot.core.killswitch import KillSwitchState, combine_modes
from bot.core.policy import HedgePolicy, ThresholdPolicy
from bot.core.risk import KillMode
from bot.telemetry.commands import (
    Command,
    Flatten,
    Pause,
    RebalanceNow,
    Resume,
    SetHedgeRatio,
    SetThreshold,
)

__all__ = [
    "KILL_FLATTEN_CAUSE",
    "OperatorRejection",
    "OperatorState",
    "TradingState",
    "after_kill_switch",
    "apply_command",
    "effective_mode",
    "effective_policy",
]


class TradingState(StrEnum):
    """What the operator allows: all orders, reductions toward flat only, or none."""

    ACTIVE = "active"
    REDUCING = "reducing"  # flatten: reduce-only orders to 0, then stays there
    HALTED = "halted"  # pause: no policy orders (emergency reductions still run)


@dataclass(frozen=True, slots=True)
class OperatorState:
    """The operator's mode and overrides; ``None`` overrides mean "as configured".

    ``threshold_base``/``threshold_fraction`` apply only when ``threshold_set``.
    ``rebalance_requested`` is one-shot (``rebalance_now``): consumed by the next tick and
    never persisted.
    """

    trading_state: TradingState = TradingState.ACTIVE
    hedge_ratio: Decimal | None = None
    threshold_set: bool = False
    threshold_base: Decimal | None = None
    threshold_fraction: Decimal | None = None
    rebalance_requested: bool = False

    @property
    def paused(self) -> bool:
        """No policy trading (``halted`` or ``reducing``): the wire's ``paused`` flag."""
        return self.trading_state is not TradingState.ACTIVE

    @property
    def flattening(self) -> bool:
        """Reducing toward flat: the wire's ``flattening`` flag."""
        return self.trading_state is TradingState.REDUCING

    def to_record(self) -> str:
        """The persisted form (JSON text; Decimals as strings; the one-shot flag left out)."""
        body = {
            "trading_state": self.trading_state.value,
            "hedge_ratio": _text(self.hedge_ratio),
            "threshold_set": self.threshold_set,
            "threshold_base": _text(self.threshold_base),
            "threshold_fraction": _text(self.threshold_fraction),
        }
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_record(cls, record: str | None) -> OperatorState:
        """The state :meth:`to_record` wrote; ``None`` (a new store) is the default state.

        Raises ``ValueError`` for a record that does not parse (a damaged store is not
        silently read as ``active``).
        """
        if record is None:
            return cls()
        body = json.loads(record)
        if not isinstance(body, dict):
            raise ValueError(f"operator state record is not an object: {record[:80]!r}")
        return cls(
            trading_state=TradingState(body["trading_state"]),
            hedge_ratio=_decimal(body.get("hedge_ratio")),
            threshold_set=bool(body.get("threshold_set", False)),
            threshold_base=_decimal(body.get("threshold_base")),
            threshold_fraction=_decimal(body.get("threshold_fraction")),
        )


@dataclass(frozen=True, slots=True)
class OperatorRejection:
    """Why a command cannot apply now (the text is the ``cmd/ack`` reason)."""

    reason: str


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def apply_command(
    state: OperatorState, command: Command, kill: KillSwitchState, policy: HedgePolicy
) -> OperatorState | OperatorRejection:
    """The state after ``command``, or why it is refused.

    ``pause`` halts (a flatten in progress stays ``reducing``); ``flatten`` reduces to flat
    and stays there; ``resume`` returns to ``active`` unless the kill switch is engaged;
    ``rebalance_now`` is refused unless ``active``; ``set_threshold`` only for a threshold
    policy.
    """
    if isinstance(command, Pause):
        if state.trading_state is TradingState.REDUCING:
            return state
        return replace(state, trading_state=TradingState.HALTED)
    if isinstance(command, Resume):
        if kill.engaged:
            return OperatorRejection(
                f"kill switch engaged ({kill.mode}, {kill.source}): clear it with "
                "`hedgebot kill --config F clear`"
            )
        return replace(state, trading_state=TradingState.ACTIVE)
    if isinstance(command, Flatten):
        return replace(state, trading_state=TradingState.REDUCING)
    if isinstance(command, RebalanceNow):
        if state.paused:
            return OperatorRejection("trading is paused: resume first")
        return replace(state, rebalance_requested=True)
    if isinstance(command, SetHedgeRatio):
        return replace(state, hedge_ratio=command.params.value)
    return _set_threshold(state, command, policy)


def _set_threshold(
    state: OperatorState, command: SetThreshold, policy: HedgePolicy
) -> OperatorState | OperatorRejection:
    if not isinstance(policy, ThresholdPolicy):
        return OperatorRejection(f"policy {type(policy).__name__} has no threshold")
    return replace(
        state,
        threshold_set=True,
        threshold_base=command.params.base,
        threshold_fraction=command.params.fraction,
    )


KILL_FLATTEN_CAUSE = "kill_switch_flatten"
"""The cause of the operator change :func:`after_kill_switch` makes (the event's ``cause``)."""


def after_kill_switch(
    state: OperatorState, kill: KillSwitchState, *, flatten_seen: bool = False
) -> OperatorState:
    """The operator state once the bot has seen the kill switch ``kill`` (as read now;
    ``flatten_seen``: a flatten episode began since the last call and was seen by a tick, so
    a flatten cleared between two reads still counts; the shell passes it once per episode,
    edge-triggered (``bot.engine.control``), never from a stale guard level, or a ``resume``
    accepted after the clear would be undone).

    A flatten halts an ``active`` operator (``reducing``/``halted`` stay as they are): the
    switch reduces the hedge while engaged, and clearing it leaves the bot paused until
    ``resume`` instead of re-selling the full hedge. A freeze, or no switch, changes nothing.
    """
    flatten = kill.mode == "flatten" or flatten_seen
    if flatten and state.trading_state is TradingState.ACTIVE:
        return replace(state, trading_state=TradingState.HALTED)
    return state


def effective_mode(state: OperatorState, kill: KillSwitchState) -> KillMode:
    """The strictest of the kill switch and the operator: ``reducing`` is a flatten."""
    operator: KillMode = "flatten" if state.flattening else "off"
    return combine_modes(kill.mode, operator)


def effective_policy(policy: HedgePolicy, state: OperatorState) -> HedgePolicy:
    """The configured policy with the operator's threshold override applied."""
    if state.threshold_set and isinstance(policy, ThresholdPolicy):
        return replace(
            policy,
            threshold_base=state.threshold_base,
            threshold_fraction=state.threshold_fraction,
        )
    return policy
