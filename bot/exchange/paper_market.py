"""Live market data for the paper venue: a real venue's public endpoints through ccxt, no keys.

``exchange.paper.market_data`` (:class:`MarketDataSettings`) names the venue and symbol. At
start the market's rules (amount step, price tick, minimum amount and notional) are read
from ccxt's markets; every quote reads the funding-rate structure (mark, index, funding rate,
next funding time) and the order book, and every order reads the book again right before it
fills (``fetch_funding_rate`` / ``fetch_order_book``: both public). The paper venue then
fills locally against that book with its configured taker fee (``venue_book.walk_book``:
an order larger than the book is a partial fill, the rest expires).

Unknown is never zero: a failed or implausible read raises (``ExchangeUnavailable``,
``RateLimited``, ``VenueDataError``) and the paper venue keeps its last state; the engine
trades nothing that tick and reports the failure.

The live venue's clock is not the host's: ``VenueClock`` is the time the live venue's last
answer carried (its order book's timestamp), and the paper venue runs on it, so funding
settles at the live venue's funding times whatever the host clock says. Hyperliquid's next
funding time is the next full hour of that time (``HyperliquidDialect.funding_answer``, the
same correction the ccxt adapter applies; ccxt derives it from the host clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt
from ccxt.base.decimal_to_precision import TICK_SIZE

from bot import errors
from bot.domain import MarketQuote, MarketRules
from bot.exchange.ccxt import parse
from bot.exchange.ccxt.calls import CcxtCalls
from bot.exchange.ccxt.client import build_client
from bot.exchange.ccxt.dialect import VenueDialect, dialect_for
from bot.exchange.ccxt.fields import mapping, required
from bot.exchange.ccxt.http import bounded_session
from bot.exchange.ccxt.settings import CcxtPerpSettings
from bot.exchange.market_data_settings import MarketDataSettings
from bot.exchange.venue_book import OrderBook
from bot.ports import Clock

__all__ = ["LiveMarket", "LiveMarketData", "VenueClock", "book_from_ccxt"]

_INTERVALS_S = {"1h": 3600, "4h": 4 * 3600, "8h": 8 * 3600}


class VenueClock:
    """The live venue's time (``bot.ports.Clock``): the timestamp of its last answer read
    whole (ms precision), never moving back; before any answer, the host ``fallback``."""

    def __init__(self, fallback: Clock) -> None:
        self._fallback = fallback
        self._ms: int | None = None

    def now(self) -> float:
        """Unix seconds of the live venue's last answer (the host's before the first)."""
        return self._fallback.now() if self._ms is None else self._ms / 1000

    def saw(self, venue_ms: int) -> None:
        """The live venue answered at ``venue_ms`` (Unix ms); an older time is ignored."""
        if self._ms is None or venue_ms > self._ms:
            self._ms = venue_ms


@dataclass(frozen=True, slots=True)
class LiveMarket:
    """One read of the live venue: its quote and its order book."""

    quote: MarketQuote
    book: OrderBook


def book_from_ccxt(
    raw: Mapping[str, Any], *, contract_size: Decimal, symbol: str, now_ms: int
) -> OrderBook:
    """An ``OrderBook`` (base units) from a ccxt order book: both sides present, every level
    ``[price > 0, amount >= 0]``, not crossed (``parse.best_prices``). Raises
    ``VenueDataError``."""
    what = f"{symbol} order book"
    parse.best_prices(raw, what)
    sides = []
    for side in ("bids", "asks"):
        levels = []
        for index, level in enumerate(raw[side]):
            where = f"{what} {side}[{index}]"
            price = required({"price": level[0]}, "price", where, sign="positive")
            amount = required({"amount": level[1]}, "amount", where, sign="non_negative")
            levels.append((price, amount * contract_size))
        sides.append(tuple(levels))
    timestamp = raw.get("timestamp")
    stamp = int(timestamp) if isinstance(timestamp, int) and timestamp > 0 else now_ms
    return OrderBook(bids=sides[0], asks=sides[1], timestamp_ms=stamp)


class LiveMarketData:
    """A real venue's public market data for one symbol (ccxt, no credentials).

    ``start`` loads the market and returns its rules; ``read`` the quote and book;
    ``read_book`` the book alone. Every failure is a mapped ``bot.errors.ExchangeError``.
    """

    def __init__(self, settings: MarketDataSettings, symbol: str, clock: Clock) -> None:
        self.settings = settings
        self._clock = clock
        self._ccxt = CcxtPerpSettings(
            exchange_id=settings.exchange_id,
            symbol=settings.symbol or symbol,
            sandbox=settings.sandbox,
            urls=dict(settings.urls),
            timeout_ms=settings.timeout_ms,
            enable_rate_limit=True,
            sync_time=False,
        )
        self._calls = CcxtCalls(self._ccxt)
        self._session: aiohttp.ClientSession | None = None
        self._symbol = self._ccxt.symbol
        self._contract_size = Decimal(1)
        self.funding_interval_s: int | None = None  # the venue's, once a quote said it
        self.clock = VenueClock(clock)  # the live venue's time, moved by every read
        self._dialect = VenueDialect()  # how the venue dates funding (after start)

    @property
    def source(self) -> str:
        """``exchange_id symbol`` of the live market (for logs and notes)."""
        return f"{self._ccxt.exchange_id} {self._symbol}"

    async def start(self) -> MarketRules:
        """Build the public client and load markets; the symbol's rules (the live venue's
        symbol). Raises ``ConfigError`` for an unknown exchange or a symbol that is not a
        linear perpetual there, and the mapped ``ExchangeError`` when it cannot be read."""
        client = build_client(self._ccxt)
        self._calls.client = client
        self._session = client.session = bounded_session(self._ccxt.max_response_bytes)
        client.own_session = False
        try:
            await self._calls.call(client.load_markets)
            try:
                market = mapping(client.market(self._ccxt.symbol), "market")
            except ccxt.BadSymbol as exc:
                raise errors.ConfigError(
                    f"market_data: {self._ccxt.exchange_id} has no market {self._ccxt.symbol}"
                ) from exc
            if not (market.get("swap") and market.get("linear")):
                raise errors.ConfigError(f"market_data: {self.source} is not a linear perpetual")
            self._symbol = str(market["symbol"])
            self._dialect = dialect_for(self._ccxt.exchange_id, market)
            self._contract_size = parse.contract_size_of(market, self._symbol)
            return parse.rules_from_market(
                market,
                symbol=self._symbol,
                contract_size=self._contract_size,
                precision_mode="tick" if client.precisionMode == TICK_SIZE else "decimals",
            )
        except BaseException:
            await self.close()
            raise

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    async def _raw_book(self) -> Mapping[str, Any]:
        client = self._calls.api()
        depth = self.settings.book_depth
        return mapping(
            await self._calls.call(client.fetch_order_book, self._symbol, depth), "order book"
        )

    def _book(self, raw: Mapping[str, Any]) -> OrderBook:
        return book_from_ccxt(
            raw, contract_size=self._contract_size, symbol=self._symbol, now_ms=self._now_ms()
        )

    async def read_book(self) -> OrderBook:
        """The order book now, ``book_depth`` levels a side. Raises ``VenueDataError`` for a
        one-sided or crossed book or a bad level. Moves ``clock`` to the book's time."""
        book = self._book(await self._raw_book())
        self.clock.saw(book.timestamp_ms)
        return book

    async def read(self) -> LiveMarket:
        """Mark, index, funding rate, next funding time and the book, read one after the
        other (a failed read leaves no request in flight).

        Raises ``VenueDataError`` for a missing or implausible field (``parse.quote_from_ccxt``:
        a mark far from the book, a one-sided or crossed book, a funding time long past;
        Hyperliquid: a book without a time). The venue's dialect dates the funding
        (``VenueDialect.funding_answer``); once all of it parsed, ``clock`` moves to the
        book's time."""
        client = self._calls.api()
        funding = mapping(
            await self._calls.call(client.fetch_funding_rate, self._symbol), "funding rate"
        )
        raw_book = await self._raw_book()
        funding = self._dialect.funding_answer(funding, raw_book)
        quote = parse.quote_from_ccxt(funding, raw_book, symbol=self._symbol, now_ms=self._now_ms())
        book = self._book(raw_book)
        self.funding_interval_s = _INTERVALS_S.get(str(funding.get("interval")))
        self.clock.saw(book.timestamp_ms)
        return LiveMarket(quote, book)

    async def close(self) -> None:
        """Close the client and its session."""
        client, self._calls.client = self._calls.client, None
        session, self._session = self._session, None
        try:
            if client is not None:
                await client.close()
        finally:
            if session is not None:
                await session.close()
