"""A ``PerpExchange`` over the real paper venue whose answers a test scripts: an order the
venue accepts and leaves resting, then answers for in a way of its choosing, and reads that
fail while the venue is down. Everything else is the paper adapter's own answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from bot import errors
from bot.domain import MarketQuote, Order, OrderIntent, OrderStatus, Side
from bot.exchange.paper import PaperExchange

LookupAnswer = Callable[[Order], Order]  # the venue's answer, from its true order


@dataclass
class ScriptedVenue:
    """The paper adapter, except: while ``rest_next`` is set, the next order is accepted and
    rests (GTC, far from the mark); ``lookups`` answer the next look-ups from the true order;
    while ``down`` every quote is ``ExchangeUnavailable``."""

    paper: PaperExchange
    rest_next: bool = False
    lookups: list[LookupAnswer] = field(default_factory=list)
    down: bool = False
    refuse_next_submit: bool = False  # the next submit is never sent (venue unavailable)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.paper, name)

    async def submit(self, intent: OrderIntent) -> Order:
        if self.refuse_next_submit:
            self.refuse_next_submit = False
            raise errors.ExchangeUnavailable("scripted: 503 before the order was sent")
        if not self.rest_next:
            return await self.paper.submit(intent)
        self.rest_next = False
        assert intent.limit_price is not None  # the bot caps every order's price
        away = (
            intent.limit_price * Decimal("1.25" if intent.side is Side.SELL else "0.8")
        ).quantize(Decimal(1))
        return self.paper.venue.submit(replace(intent, limit_price=away), time_in_force="GTC")

    async def fetch_order(self, client_order_id: str) -> Order | None:
        true = await self.paper.fetch_order(client_order_id)
        if true is None or not self.lookups:
            return true
        return self.lookups.pop(0)(true)

    async def quote(self) -> MarketQuote:
        if self.down:
            raise errors.ExchangeUnavailable("scripted: venue down")
        return await self.paper.quote()

    async def mark_quote(self) -> MarketQuote:
        return await self.quote()

    async def order_book(self, quote: MarketQuote) -> MarketQuote:
        if self.down:
            raise errors.ExchangeUnavailable("scripted: venue down")
        return await self.paper.order_book(quote)


def rejected_by_the_venue(paper: PaperExchange) -> LookupAnswer:
    """The venue drops the accepted order and reports it REJECTED (as real venues may)."""

    def answer(order: Order) -> Order:
        paper.venue.cancel(order.client_order_id)
        return replace(order, status=OrderStatus.REJECTED)

    return answer


def under_another_client_id(order: Order) -> Order:
    """What no venue should answer: the order of another client id."""
    return replace(order, client_order_id="someone-else-1")
