"""When a tick runs the ledger's position check, and what a mismatch does.

The check (:meth:`bot.exchange.ledger.OrderLedger.check_position`) reads every stored fill
and the venue's recent fills, so it does not run on every tick: it runs every
``POSITION_CHECK_EVERY_TICKS`` completed ticks, and on any tick whose venue position is not
the last one plus the bot's own fills settled since (someone else traded the account, or the
venue closed part of it). That comparison uses the position the tick already read, before
the plan (:meth:`PositionWatch.on_read`: a ``pause`` stops that tick's trade), and again the
one after the tick's own order (:meth:`PositionWatch.after_tick`): a quiet tick makes no
extra venue call.

A new mismatch is the alert ``position.mismatch`` (logged by the ledger); under
``exchange.on_mismatch: pause`` it halts trading (cause ``position_mismatch``); ``adopt``
took the venue's position as the ledger's baseline. When some of its foreign fills are the
venue liquidating the account (:mod:`bot.exchange.venue_liquidations`) the critical alert
``position.liquidated`` names them too (:func:`liquidation_alert`, also raised by the
start-up reconciliation), and a halt's cause is ``venue_liquidation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from bot.domain import Fill, Order, Side
from bot.engine.control import OperatorControl
from bot.engine.halts import venue_name
from bot.engine.sink import EventFanOut
from bot.events import Alert
from bot.exchange.ledger import POSITION_CHECK_EVERY_TICKS, OrderLedger
from bot.exchange.venue_liquidations import liquidation_summary

__all__ = ["LIQUIDATION_CAUSE", "PositionWatch", "liquidation_alert", "mismatch_cause"]

LIQUIDATION_CAUSE = "venue_liquidation"


def liquidation_alert(liquidations: Sequence[Fill], venue: str, action: str) -> Alert | None:
    """The critical alert ``position.liquidated`` for the venue's liquidation fills just
    classified (None when there are none): their trade and client order ids, the side, the
    amount closed (base units, and its signed change to the position), each fill's price
    (quote per base), the venue, the check's ``action`` and one line for a person."""
    summary = liquidation_summary(liquidations)
    if summary is None:
        return None
    return Alert.of(
        "position.liquidated",
        venue=venue,
        symbol=summary.symbol,
        trade_ids=list(summary.trade_ids),
        client_order_ids=list(summary.client_order_ids),
        side=summary.side,
        amount_base=str(summary.amount_base),
        net_base=str(summary.net_base),
        prices=[str(p) for p in summary.prices],
        action=action,
        message=summary.message(venue, action),
    )


def mismatch_cause(liquidations: Sequence[Fill]) -> str:
    """The cause of a mismatch's halt: ``venue_liquidation`` when the venue liquidated the
    account, else ``position_mismatch``."""
    return LIQUIDATION_CAUSE if liquidations else "position_mismatch"


class PositionWatch:
    """The running position check's cadence and its consequences for one bot."""

    def __init__(self, ledger: OrderLedger, events: EventFanOut, control: OperatorControl) -> None:
        self._ledger = ledger
        self._events = events
        self._control = control
        self._ticks_since_check = 0
        self._last_position_base: Decimal | None = None  # after the last completed tick
        self._own_since_base = Decimal(0)  # signed own fills settled since then

    def start(self, venue_position_base: Decimal) -> None:
        """The venue's position (base units) once start-up reconciliation is done."""
        self._last_position_base = venue_position_base
        self._own_since_base = Decimal(0)

    def own_order(self, order: Order) -> None:
        """An order of this bot settled: its fills (+ buy, - sell) move the position."""
        filled = order.filled_base
        self._own_since_base += filled if order.side is Side.BUY else -filled

    def moved(self, venue_position_base: Decimal) -> bool:
        """The venue's position is not the last one plus own fills since (unknown before
        the first: False)."""
        last = self._last_position_base
        return last is not None and venue_position_base != last + self._own_since_base

    async def on_read(self, venue_position_base: Decimal) -> None:
        """The tick's venue position as read (base units, after earlier orders settled):
        when it moved without own fills, check now, before the plan. ``ExchangeError`` /
        ``StoreError`` from the check propagate with nothing advanced."""
        if self.moved(venue_position_base):
            await self._check(venue_position_base)
            self._ticks_since_check = 0
            self.start(venue_position_base)

    async def after_tick(self, venue_position_base: Decimal) -> None:
        """A completed tick's venue position (base units, after its orders settled and its
        fills were stored): run the check when due. ``ExchangeError``/``StoreError`` from the
        check propagate with nothing advanced (the next tick checks again)."""
        due = self._ticks_since_check + 1 >= POSITION_CHECK_EVERY_TICKS
        if due or self.moved(venue_position_base):
            await self._check(venue_position_base)
            self._ticks_since_check = 0
        else:
            self._ticks_since_check += 1
        self.start(venue_position_base)

    async def _check(self, venue_position_base: Decimal) -> None:
        check = await self._ledger.check_position(venue_position_base)
        if check.ok or check.repeated:
            return
        liquidated = liquidation_alert(
            check.liquidations, venue_name(self._ledger.exchange), check.action
        )
        if liquidated is not None:
            self._events.emit(liquidated)
        self._events.emit(
            Alert.of(
                "position.mismatch",
                logged=False,
                venue_position_base=str(check.venue_position_base),
                expected_position_base=str(check.expected_position_base),
                foreign_fills=[f.trade_id for f in check.foreign_fills],
                action=check.action,
            )
        )
        if check.action == "paused":
            await self._control.set_paused(True, mismatch_cause(check.liquidations))
