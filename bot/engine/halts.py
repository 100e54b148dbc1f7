"""Venue faults that halt trading until an operator resumes.

Each is one critical alert and a stored ``trading_state`` change (through
:class:`~bot.engine.control.OperatorControl`); the tick that met it fails:

* ``order.illegal_answer`` - the venue answered for an unsettled intent what no venue should
  (``IllegalVenueAnswer``; the ledger left the intent unsettled): cause
  ``illegal_venue_answer``;
* ``venue.authentication_refused`` - the venue refused the API key or signature while running
  (key revoked, API wallet removed), on a read or on an order (the ledger booked that order
  ``Rejected``: nothing was placed, nothing to look up): cause ``authentication_refused``.
  Retrying cannot help, so no order is tried until an operator has fixed the key and sent
  ``resume``; while halted for it a repeated refusal (the tick's reads go on) fails its tick
  with ``tick.failed`` and no new alert. The same refusal at start ends ``hedgebot run``
  with the error (``Engine.start`` lets ``AuthenticationError`` propagate).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.engine.control import OperatorControl
from bot.engine.sink import EventFanOut
from bot.errors import AuthenticationError
from bot.events import Alert
from bot.exchange.intent_tracker import IllegalVenueAnswer
from bot.ports import PerpExchange

__all__ = [
    "AUTHENTICATION_REFUSED_CAUSE",
    "HALTING_FAULTS",
    "HaltingFault",
    "VenueHalts",
    "venue_name",
]

HaltingFault = IllegalVenueAnswer | AuthenticationError
HALTING_FAULTS = (IllegalVenueAnswer, AuthenticationError)
AUTHENTICATION_REFUSED_CAUSE = "authentication_refused"


@runtime_checkable
class NamedVenue(Protocol):
    """A venue adapter that knows its venue's name (``CcxtPerpExchange``: the ccxt id)."""

    @property
    def venue_id(self) -> str: ...


def venue_name(exchange: PerpExchange) -> str:
    """The venue's name for alerts: its ``venue_id``, else the adapter's class name."""
    if isinstance(exchange, NamedVenue):
        return exchange.venue_id
    return type(exchange).__name__


class VenueHalts:
    """Turns a halting fault into its alert and the operator's halt (see the module doc)."""

    def __init__(self, events: EventFanOut, control: OperatorControl, venue: str) -> None:
        self._events = events
        self._control = control
        self.venue = venue
        self._halted_for_authentication = False

    async def halt(self, block: int, exc: HaltingFault, error: str) -> bool:
        """Alert ``exc`` (``error``: its bounded text) and halt trading; True when an alert
        went out (it is the failure's log line), False for an authentication refusal while
        already halted for one. ``StoreError`` from storing the halt propagates."""
        if isinstance(exc, IllegalVenueAnswer):
            self._events.emit(
                Alert.of(
                    "order.illegal_answer",
                    block=block,
                    client_order_id=exc.client_order_id,
                    answer=exc.answer,
                    error=error,
                    action="halted",
                )
            )
            await self._control.set_paused(True, "illegal_venue_answer")
            return True
        if self._halted_for_authentication and self._control.state.paused:
            return False
        self._events.emit(
            Alert.of(
                "venue.authentication_refused",
                block=block,
                venue=self.venue,
                message=(
                    f"{self.venue}: authentication refused; trading halted until an "
                    "operator fixes the key and resumes"
                ),
                error=error,
                action="halted",
            )
        )
        await self._control.set_paused(True, AUTHENTICATION_REFUSED_CAUSE)
        self._halted_for_authentication = True
        return True
