"""The order book read on its own: best bid/ask for the slippage cap of an order about to be
sized, added to the mark quote the tick already read (one request, no second funding read)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.domain import MarketQuote
from bot.errors import VenueDataError
from bot.exchange.ccxt.calls import CcxtCalls
from bot.exchange.ccxt.fields import agrees, mapping
from bot.exchange.ccxt.parse import _MARK_TO_BOOK, best_prices

__all__ = ["read_book", "with_book"]

BOOK_DEPTH = 5  # levels asked for: the best bid/ask is all the cap needs


async def read_book(calls: CcxtCalls, symbol: str) -> Mapping[str, Any]:
    """The venue's order book of ``symbol`` (ccxt ``fetch_order_book``, one request).
    Raises the mapped ``ExchangeError``s of ``calls``; ``VenueDataError`` for a non-mapping."""
    return mapping(await calls.call(calls.api().fetch_order_book, symbol, BOOK_DEPTH), "book")


def with_book(quote: MarketQuote, book: Mapping[str, Any], *, symbol: str) -> MarketQuote:
    """``quote`` with the book's best bid/ask. Raises ``VenueDataError`` for an empty or
    crossed book, or a mark more than 10 % off the book's mid (as ``parse.quote_from_ccxt``)."""
    bid, ask = best_prices(book, f"{symbol} order book")
    if not agrees(quote.mark_price, (bid + ask) / 2, _MARK_TO_BOOK):
        raise VenueDataError(f"{symbol}: mark {quote.mark_price} far from the book {bid}/{ask}")
    return replace(quote, bid=bid, ask=ask)
