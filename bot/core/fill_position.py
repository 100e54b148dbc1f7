"""The hedge position after an own order's fill, from the venue's answer to the order.

A trading tick used to read the position again after its order filled (one more venue request
on the tick that matters most for latency). The venue's answer to the order already says how
much filled and at what average price, so the position after it follows by the venue's own
bookkeeping; the next tick's position read is the check (``bot.engine.position_watch``: a
venue position that is not this one plus the bot's own fills since is a ``position.mismatch``
before that tick's plan).

Rules (Binance USD-M "average entry price" and isolated-margin bookkeeping, Hyperliquid the
same; https://www.binance.com/en/support/faq/how-to-calculate-entry-price-3a55a23768cb416fb404f06ffedde4b2):

* growing (or opening) on one side: entry = size-weighted mean of the old entry and the fill's
  average price; margin grows by the fill's notional / leverage;
* reducing: entry unchanged; margin shrinks in proportion to the size left;
* flipping through flat: entry = the fill's average price; margin = new notional / leverage;
* flat: entry, margin and unrealized PnL 0.

The venue's liquidation price is not known until the next read: it is ``None``, and
:func:`bot.core.gate.margin_view` then uses the isolated formula. Unrealized PnL is
``size · (mark − entry)`` at the mark the tick read.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from bot.domain import Order, PerpPosition, Side

__all__ = ["position_after_fill"]


def position_after_fill(before: PerpPosition, order: Order) -> PerpPosition | None:
    """``before`` (signed base units, short < 0) moved by ``order``'s fill (``filled_base`` at
    ``average_price``, quote per base); ``before`` itself when nothing filled. None when the
    answer cannot say (no positive average price for a fill, or a leverage below 1): the caller
    reads the position from the venue instead (unknown is never guessed)."""
    filled = order.filled_base
    if filled <= 0:
        return before
    price = order.average_price
    if price is None or not price.is_finite() or price <= 0 or before.leverage < 1:
        return None
    signed = filled if order.side is Side.BUY else -filled
    size = before.size_base + signed
    if size == 0:
        zero = Decimal(0)
        return replace(
            before,
            size_base=zero,
            entry_price=zero,
            unrealized_pnl=zero,
            margin=zero,
            liquidation_price=None,
        )
    old = abs(before.size_base)
    leverage = Decimal(before.leverage)
    if before.size_base == 0 or (before.size_base > 0) == (signed > 0):  # opening or growing
        entry = (old * before.entry_price + filled * price) / abs(size)
        margin = before.margin + filled * price / leverage
    elif (before.size_base > 0) == (size > 0):  # reducing, same side
        entry = before.entry_price
        margin = before.margin * abs(size) / old
    else:  # flipped through flat
        entry = price
        margin = abs(size) * price / leverage
    return replace(
        before,
        size_base=size,
        entry_price=entry,
        unrealized_pnl=size * (before.mark_price - entry),
        margin=margin,
        liquidation_price=None,
    )
