"""How the simulated venue prices a taker (market or IOC) order (pure).

Offline, against the mark with a size-dependent slippage (``model_fill_price``). Paper
trading on live market data fills the bot's orders against the real venue's public book
instead: a buy lifts the asks from the best price up, a sell hits the bids from the best
price down, each level at its own price, until the order is filled, the book runs out or
the next level is beyond the order's limit. What does not fill expires, as an IOC's rest
does on a real venue: an order larger than the book (or than the depth within its limit)
is a **partial fill**, never a fill at an invented price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from bot.domain import Side
from bot.exchange.venue_account import BPS, ZERO, VenueParams, round_to

__all__ = [
    "BookFill",
    "OrderBook",
    "model_fill_price",
    "slippage_bps",
    "taker_fill",
    "walk_book",
]


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Levels as ``(price_quote_per_base, amount_base)``: bids best (highest) first, asks
    best (lowest) first; ``timestamp_ms`` when the venue (or the reader) took it."""

    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    timestamp_ms: int

    def depth_base(self, side: Side) -> Decimal:
        """Base a taker order of ``side`` could fill against the whole book."""
        levels = self.asks if side is Side.BUY else self.bids
        return sum((amount for _, amount in levels), ZERO)


@dataclass(frozen=True, slots=True)
class BookFill:
    """What a taker order fills: ``amount_base`` (a multiple of the step, 0 when nothing
    crosses) at ``average_price`` (volume-weighted over the levels taken; None when 0)."""

    amount_base: Decimal
    average_price: Decimal | None


def walk_book(
    book: OrderBook,
    side: Side,
    amount_base: Decimal,
    limit_price: Decimal | None,
    amount_step: Decimal,
) -> BookFill:
    """Fill a taker order of ``amount_base`` against ``book``, best level first.

    A buy takes asks priced at or below ``limit_price`` (any, when None), a sell bids at or
    above it. The filled amount is floored to a multiple of ``amount_step`` (the last level
    taken gives only what the step allows); the average price is the volume-weighted price
    of what filled (``sum(p_i · q_i) / sum(q_i)``).
    """
    levels = book.asks if side is Side.BUY else book.bids
    remaining = (amount_base / amount_step).to_integral_value(rounding=ROUND_FLOOR) * amount_step
    filled = ZERO
    cost = ZERO
    for price, available in levels:
        if remaining <= 0:
            break
        if limit_price is not None and (
            price > limit_price if side is Side.BUY else price < limit_price
        ):
            break
        take = min(remaining, available)
        filled += take
        cost += take * price
        remaining -= take
    stepped = (filled / amount_step).to_integral_value(rounding=ROUND_FLOOR) * amount_step
    if stepped <= 0:
        return BookFill(ZERO, None)
    if stepped < filled:  # the step cut the last level taken: price only what fills
        cost -= (filled - stepped) * _last_price_taken(levels, filled)
    return BookFill(stepped, cost / stepped)


def _last_price_taken(levels: tuple[tuple[Decimal, Decimal], ...], filled: Decimal) -> Decimal:
    """The price of the level where a fill of ``filled`` base ends."""
    taken = ZERO
    for price, available in levels:
        taken += available
        if taken >= filled:
            return price
    return levels[-1][0]


def slippage_bps(params: VenueParams, amount_base: Decimal) -> Decimal:
    """Slippage of a market order of ``amount_base`` against the mark, in bps:
    ``slippage_bps_base + slippage_bps_per_base · amount_base`` (the venue's linear model)."""
    return params.slippage_bps_base + params.slippage_bps_per_base * amount_base


def model_fill_price(params: VenueParams, mark: Decimal, side: Side, amount: Decimal) -> Decimal:
    """The mark moved against the taker by the slippage model, rounded away from the taker's
    favour to the price tick."""
    factor = slippage_bps(params, amount) / BPS
    if side is Side.BUY:
        return round_to(mark * (1 + factor), params.price_tick, ROUND_CEILING)
    return round_to(mark * (1 - factor), params.price_tick, ROUND_FLOOR)


def taker_fill(
    book: OrderBook | None,
    mark: Decimal,
    params: VenueParams,
    side: Side,
    amount: Decimal,
    limit: Decimal | None,
) -> tuple[Decimal, Decimal]:
    """``(price, amount that fills now)`` of a taker order: against ``book``'s levels when
    there is one (``walk_book``; price = the mark when nothing fills), else at
    ``model_fill_price``, all or nothing against ``limit``."""
    if book is not None:
        fill = walk_book(book, side, amount, limit, params.amount_step)
        return fill.average_price or mark, fill.amount_base
    price = model_fill_price(params, mark, side, amount)
    crosses = limit is None or (price <= limit if side is Side.BUY else price >= limit)
    return price, amount if crosses else ZERO
