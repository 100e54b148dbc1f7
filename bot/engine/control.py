"""The operator state of one bot in the shell: one stored record, every change an event.

:class:`OperatorControl` holds the :class:`~bot.core.operator.OperatorState` the pure plan
reads, stores it (one meta record, ``MetaKey.OPERATOR_STATE``) and emits a
``trading_state.changed`` event on every change. The tick halts through it (a position
mismatch under ``on_mismatch: pause``, a venue answer the ledger cannot apply); the loop
applies operator commands through it between ticks.

The kill-switch latch (:func:`bot.core.operator.after_kill_switch`) is edge-triggered: every
read of the switch (the tick's, and the loop's between ticks) is shown to :meth:`saw_kill` in
order, and a flatten read after anything else starts an *episode* that halts the operator
once. An accepted ``resume`` is therefore never undone by a stale memory of the same
flatten (e.g. after a tick that failed before it could read the switch again).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from bot.core.killswitch import KillSwitchState
from bot.core.operator import (
    KILL_FLATTEN_CAUSE,
    OperatorState,
    TradingState,
    after_kill_switch,
)
from bot.core.trading_status import last_state_cause
from bot.engine.sink import EventFanOut
from bot.events import TradingStateChanged
from bot.store.base import RecordStore
from bot.store.meta import MetaKey

__all__ = ["OperatorControl", "restore_operator"]


class OperatorControl:
    """The operator state of one bot, its record in the store and its change events."""

    def __init__(self, store: RecordStore, events: EventFanOut) -> None:
        self.state = OperatorState()
        self.cause: str | None = None  # the cause of the trading state's last change
        self._store = store
        self._events = events
        self._kill_was_flatten = False  # the last read of the switch was a flatten
        self._flatten_unlatched = False  # a flatten episode began and has not halted us yet

    async def restore(self) -> None:
        """Adopt the stored record (see :func:`restore_operator`) and the cause of its
        trading state (the last stored change of it)."""
        self.state = await restore_operator(self._store)
        self.cause = last_state_cause(await self._store.read_events("trading_state"))

    async def change(self, state: OperatorState, cause: str) -> None:
        """Adopt ``state``; a change is stored (one record) and a ``trading_state.changed``
        event with ``cause``. ``StoreError`` propagates."""
        before, self.state = self.state, state
        if state.trading_state is not before.trading_state:
            self.cause = cause
        persisted = replace(state, rebalance_requested=False)
        if persisted == replace(before, rebalance_requested=False):
            return
        await self._store.set_meta(MetaKey.OPERATOR_STATE, state.to_record())
        threshold = (state.threshold_base, state.threshold_fraction)
        self._events.emit(
            TradingStateChanged(
                previous=before.trading_state.value,
                current=state.trading_state.value,
                cause=cause,
                hedge_ratio=state.hedge_ratio,
                threshold=threshold if state.threshold_set else None,
            )
        )

    async def set_paused(self, paused: bool, cause: str = "pause") -> None:
        """Halt (a flatten in progress stays ``reducing``) or resume trading."""
        if not paused:
            new = TradingState.ACTIVE
        elif self.state.flattening:
            new = TradingState.REDUCING
        else:
            new = TradingState.HALTED
        await self.change(replace(self.state, trading_state=new), cause)

    def saw_kill(self, kill: KillSwitchState) -> None:
        """One read of the kill switch, in the order they were made: a flatten read after
        anything else begins an episode, latched once by :meth:`latch_kill_switch`."""
        flatten = kill.mode == "flatten"
        if flatten and not self._kill_was_flatten:
            self._flatten_unlatched = True
        self._kill_was_flatten = flatten

    async def latch_kill_switch(self, kill: KillSwitchState) -> None:
        """Between ticks, with the switch as read now: a flatten episode seen (now, or by a
        tick since the last call) halts an ``active`` operator, once per episode, so that
        clearing the switch leaves the bot paused until ``resume``."""
        self.saw_kill(kill)
        seen, self._flatten_unlatched = self._flatten_unlatched, False
        latched = after_kill_switch(self.state, kill, flatten_seen=seen)
        if latched is not self.state:
            await self.change(latched, KILL_FLATTEN_CAUSE)


async def restore_operator(store: RecordStore) -> OperatorState:
    """The stored operator record; a store written before it had one keeps its switches
    (``paused``, ``flattening``, ``hedge_ratio``, ``threshold`` meta keys)."""
    record = await store.get_meta(MetaKey.OPERATOR_STATE)
    if record is not None:
        return OperatorState.from_record(record)
    trading = TradingState.ACTIVE
    if await store.get_meta(MetaKey.FLATTENING) == "1":
        trading = TradingState.REDUCING
    elif await store.get_meta(MetaKey.PAUSED) == "1":
        trading = TradingState.HALTED
    ratio = await store.get_meta(MetaKey.HEDGE_RATIO)
    threshold = await store.get_meta(MetaKey.THRESHOLD)
    base, _, fraction = (threshold or "").partition("|")
    return OperatorState(
        trading_state=trading,
        hedge_ratio=None if ratio is None else Decimal(ratio),
        threshold_set=threshold is not None,
        threshold_base=Decimal(base) if base else None,
        threshold_fraction=Decimal(fraction) if fraction else None,
    )
