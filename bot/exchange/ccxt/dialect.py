"""What differs per venue in how the adapter sends and reads orders (its order "dialect").

``VenueDialect`` is what every venue the adapter knows speaks: text client ids
(``hb-<bot hash>-<block>-<seq>``), the core's IOC limit price as is, ccxt's own status.
``HyperliquidDialect`` (``exchange_id: hyperliquid``):

- client ids are 128-bit hex (``0x`` + 32 hex, ``bot.exchange.client_ids.hex_client_id``),
  translated back to the text id on every answer, so the ledger and the store see one id;
- an order needs a price (ccxt sends a market order as a limit 5 % away): a market intent is
  refused, and the IOC cap is rounded to the venue's price rule, never looser: at most 5
  significant figures and ``6 - szDecimals`` decimals (Hyperliquid API docs, "Tick and lot
  size"), buys down and sells up;
- funding is paid every hour on the hour and its time is not reported (ccxt derives it from
  the host clock): the next funding time is the next full hour of the venue's clock, the
  time its L2 book answer carries; between book reads that clock is the bot's plus the
  offset the last book showed (:class:`VenueClock`), so a quiet tick needs no book, except
  near the hour or when the offset is old;
- an IOC answer that filled comes back from ccxt with ``status: None`` (the venue's
  ``filled`` entry carries no status): filled in full is ``closed``, partly is ``canceled``
  with its fill (the venue cancels an IOC's rest at once);
- the liquidated user's fill has no cloid but a ``liquidation`` object: its client id is
  ``(liquidation <oid>)`` (:mod:`bot.exchange.venue_liquidations`), never looked up.

``dialect_for(exchange_id)`` picks one; a new venue with another id rule is a new subclass.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from bot import errors
from bot.domain import OrderIntent, Side
from bot.exchange.ccxt.fields import timestamp_ms
from bot.exchange.client_ids import hex_client_id, text_client_id
from bot.exchange.venue_liquidations import hyperliquid_liquidation_id

__all__ = [
    "HyperliquidDialect",
    "VenueClock",
    "VenueDialect",
    "dialect_for",
    "hyperliquid_price",
]

_SIGNIFICANT_FIGURES = 5
_MAX_PRICE_DECIMALS = 6  # perps: price decimals <= 6 - szDecimals
_HOUR_MS = 3_600_000


class VenueClock:
    """A venue's clock (unix ms) as the bot's clock plus the offset its last dated answer
    showed. :meth:`now_ms` answers only while that offset is at most ``max_age_ms`` old (bot
    time), the bot's clock has not gone back, and the venue's time is not within ``guard_ms``
    of a ``period_ms`` boundary (there, a drift of a few ms could name the wrong funding
    time): else None, and the caller reads a dated answer."""

    def __init__(self, max_age_ms: int = 600_000, guard_ms: int = 5_000) -> None:
        self.max_age_ms = max_age_ms
        self.guard_ms = guard_ms
        self._offset_ms: int | None = None
        self._at_ms = 0

    def saw(self, venue_ms: int, local_ms: int) -> None:
        """The venue said ``venue_ms`` when the bot's clock read ``local_ms``."""
        self._offset_ms, self._at_ms = venue_ms - local_ms, local_ms

    def now_ms(self, local_ms: int, period_ms: int) -> int | None:
        """The venue's time at the bot's ``local_ms``, or None when unknown (see the class)."""
        if self._offset_ms is None or not 0 <= local_ms - self._at_ms <= self.max_age_ms:
            return None
        venue_ms = local_ms + self._offset_ms
        into = venue_ms % period_ms
        if into < self.guard_ms or period_ms - into < self.guard_ms:
            return None
        return venue_ms


class VenueDialect:
    """Order ids, prices and statuses as most ccxt venues take and give them."""

    def venue_client_id(self, client_id: str) -> str:
        """The id sent to the venue for our ``client_id``."""
        return client_id

    def own_client_id(self, venue_id: str) -> str:
        """The id the ledger knows for a venue's client id (a foreign id is kept as is)."""
        return venue_id

    def limit_price(self, intent: OrderIntent, tick: Decimal) -> Decimal | None:
        """The price to send for ``intent`` (None: a market order)."""
        del tick
        return intent.limit_price

    def settled_answer(self, raw: Mapping[str, Any], intent: OrderIntent) -> Mapping[str, Any]:
        """ccxt's answer to our submit, with what the venue's answer implies filled in."""
        del intent
        return raw

    def funding_answer(self, raw: Mapping[str, Any], book: Mapping[str, Any]) -> Mapping[str, Any]:
        """ccxt's funding-rate answer as the venue means it when it served ``book`` (ccxt's
        order book, read just after it)."""
        del book
        return raw

    def dated_by_clock(self, raw: Mapping[str, Any], local_ms: int) -> Mapping[str, Any] | None:
        """``funding_answer`` without a book, at the bot's ``local_ms``; None when this venue
        needs its book to date it now."""
        del local_ms
        return raw

    def saw_book(self, book: Mapping[str, Any], local_ms: int) -> None:
        """A book answer read at the bot's ``local_ms`` (a venue dated by its book learns its
        clock from it)."""
        del book, local_ms

    def answer_ids(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        """A ccxt order answer with its client id turned into ours."""
        venue_id = raw.get("clientOrderId")
        if not isinstance(venue_id, str):
            return raw
        own = self.own_client_id(venue_id)
        return raw if own == venue_id else {**raw, "clientOrderId": own}

    def venue_made_client_id(self, trade: Mapping[str, Any]) -> str | None:
        """The client id of a ccxt trade the venue made itself and marks in the trade, not
        in its order (None: the order's client id applies, looked up by order id)."""
        del trade
        return None


def hyperliquid_price(price: Decimal, side: Side, sz_decimals: int) -> Decimal:
    """``price`` rounded to Hyperliquid's perp price rule: at most 5 significant figures and
    ``6 - sz_decimals`` decimals; an integer price is always valid. Buys round down and sells
    up, so a slippage cap is never looser than asked. ``ValueError`` for a price <= 0."""
    if price <= 0:
        raise ValueError(f"price {price} must be positive")
    if price == price.to_integral_value():
        return price
    integer_digits = len(str(int(price))) if price >= 1 else 0
    decimals = min(_MAX_PRICE_DECIMALS - sz_decimals, max(_SIGNIFICANT_FIGURES - integer_digits, 0))
    if price < 1:  # leading zeros after the point do not count as significant
        leading = -price.adjusted() - 1
        decimals = min(_MAX_PRICE_DECIMALS - sz_decimals, leading + _SIGNIFICANT_FIGURES)
    step = Decimal(1).scaleb(-max(decimals, 0))
    rounding = ROUND_DOWN if side is Side.BUY else ROUND_UP
    return (price / step).to_integral_value(rounding=rounding) * step


class HyperliquidDialect(VenueDialect):
    """Hyperliquid through ccxt: hex client ids, a price on every order, IOC statuses."""

    def __init__(self, sz_decimals: int = 0) -> None:
        self.sz_decimals = sz_decimals
        self.venue_clock = VenueClock()

    def venue_client_id(self, client_id: str) -> str:
        """``0x`` + 32 hex digits; ``InvalidOrder`` for an id that is not this bot's shape."""
        try:
            return hex_client_id(client_id)
        except ValueError as exc:
            raise errors.InvalidOrder(f"hyperliquid client id: {exc}") from exc

    def own_client_id(self, venue_id: str) -> str:
        return text_client_id(venue_id)

    def venue_made_client_id(self, trade: Mapping[str, Any]) -> str | None:
        """A liquidated user's fill (a ``liquidation`` object, no cloid) is
        ``(liquidation <oid>)`` (:mod:`bot.exchange.venue_liquidations`)."""
        return hyperliquid_liquidation_id(trade)

    def limit_price(self, intent: OrderIntent, tick: Decimal) -> Decimal:
        """The cap rounded to the venue's rule and to the market's tick, the coarser of the
        two (ccxt rounds to its tick again); ``InvalidOrder`` for a market intent."""
        if intent.limit_price is None:
            raise errors.InvalidOrder(
                "hyperliquid needs a price on every order: send an IOC limit (the slippage cap)"
            )
        price = hyperliquid_price(intent.limit_price, intent.side, self.sz_decimals)
        rounding = ROUND_DOWN if intent.side is Side.BUY else ROUND_UP
        return (price / tick).to_integral_value(rounding=rounding) * tick

    def funding_answer(self, raw: Mapping[str, Any], book: Mapping[str, Any]) -> Mapping[str, Any]:
        """Hyperliquid pays funding every hour on the hour and does not report when: ccxt
        derives ``fundingTimestamp`` from the host clock. Here it is the next full hour of
        the venue's clock, the ``time`` of its L2 book answer (ccxt's book ``timestamp``),
        and that time is the quote's. ``VenueDataError`` when the book carries no time: the
        host's or the bot's clock is not the venue's (a demo's simulated time runs ahead)."""
        venue_ms = timestamp_ms(book.get("timestamp"), "hyperliquid l2Book time")
        return _dated(raw, venue_ms)

    def dated_by_clock(self, raw: Mapping[str, Any], local_ms: int) -> Mapping[str, Any] | None:
        """``funding_answer`` at the venue time :class:`VenueClock` gives for ``local_ms``;
        None when it gives none (no book seen lately, near the hour, the clock went back)."""
        venue_ms = self.venue_clock.now_ms(local_ms, _HOUR_MS)
        return None if venue_ms is None else _dated(raw, venue_ms)

    def saw_book(self, book: Mapping[str, Any], local_ms: int) -> None:
        """The book's ``time`` sets the venue clock's offset (``VenueDataError`` without one)."""
        self.venue_clock.saw(
            timestamp_ms(book.get("timestamp"), "hyperliquid l2Book time"), local_ms
        )

    def settled_answer(self, raw: Mapping[str, Any], intent: OrderIntent) -> Mapping[str, Any]:
        """A filled IOC answer (``status`` None, ``filled`` > 0) for the intent's amount, as
        ``closed`` when all of it filled, else ``canceled`` with its fill
        (``PARTIALLY_FILLED``)."""
        if raw.get("status") is not None or intent.limit_price is None:
            return raw
        filled = _number(raw.get("filled"))
        if filled is None or filled <= 0:
            return raw
        # the venue's "filled" entry has only totalSz, which ccxt also reports as the amount
        ordered = intent.amount_base  # contract size 1 on Hyperliquid
        status = "closed" if filled >= ordered else "canceled"
        return {**raw, "amount": float(ordered), "status": status}


def _dated(raw: Mapping[str, Any], venue_ms: int) -> Mapping[str, Any]:
    """Hyperliquid's funding answer at venue time ``venue_ms``: funded at the next full hour."""
    next_ms = (venue_ms // _HOUR_MS + 1) * _HOUR_MS
    return {**raw, "fundingTimestamp": next_ms, "timestamp": venue_ms}


def _number(value: object) -> Decimal | None:
    """A finite JSON number as Decimal; None for anything else (the parser judges it)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    number = Decimal(str(value))
    return number if number.is_finite() else None


def dialect_for(exchange_id: str, market: Mapping[str, Any]) -> VenueDialect:
    """The dialect of ``exchange_id``; Hyperliquid's reads ``szDecimals`` from the market's
    ``info`` (``VenueDataError`` when it is missing)."""
    if exchange_id != "hyperliquid":
        return VenueDialect()
    info = market.get("info")
    sz = info.get("szDecimals") if isinstance(info, Mapping) else None
    try:
        sz_decimals = int(str(sz))
    except ValueError:
        raise errors.VenueDataError(f"hyperliquid market: szDecimals {sz!r} unreadable") from None
    if not 0 <= sz_decimals <= _MAX_PRICE_DECIMALS:
        raise errors.VenueDataError(f"hyperliquid market: szDecimals {sz_decimals} out of range")
    return HyperliquidDialect(sz_decimals)
