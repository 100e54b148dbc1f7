"""What placing an order came to: the sum type the engine branches on."""

from __future__ import annotations

from dataclasses import dataclass

from bot import errors
from bot.domain import Order, OrderIntent

__all__ = ["NotPlaced", "PlaceResult", "Placed", "Rejected", "Unknown"]


@dataclass(frozen=True, slots=True)
class Placed:
    """The venue has the order (maybe partly filled, or an IOC that expired)."""

    intent: OrderIntent
    order: Order


@dataclass(frozen=True, slots=True)
class Rejected:
    """The venue refused it, or it was never sent: nothing was placed."""

    intent: OrderIntent
    error: errors.ExchangeError


@dataclass(frozen=True, slots=True)
class NotPlaced:
    """An unknown outcome confirmed absent after the grace period; never re-sent."""

    intent: OrderIntent
    reason: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """Still unsettled; :meth:`OrderLedger.settle_pending` resolves it before any new order."""

    intent: OrderIntent
    error: errors.OrderOutcomeUnknown


PlaceResult = Placed | Rejected | NotPlaced | Unknown
