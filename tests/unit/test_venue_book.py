"""Taker fills against an order book (paper on live market data) and the venue's live
funding schedule: pure, no I/O."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.clock import ManualClock
from bot.domain import OrderIntent, OrderStatus, Side
from bot.exchange.venue import SimVenue, VenueParams
from bot.exchange.venue_book import OrderBook, walk_book

pytestmark = pytest.mark.unit

D = Decimal
STEP = D("0.001")
BOOK = OrderBook(
    bids=((D(1999), D("0.5")), (D(1998), D("1.0")), (D(1990), D("2.0"))),
    asks=((D(2001), D("0.5")), (D(2002), D("1.0")), (D(2010), D("2.0"))),
    timestamp_ms=0,
)


def test_buy_lifts_asks_best_first_at_the_volume_weighted_price() -> None:
    """A buy of 1.0 takes 0.5 at 2001 and 0.5 at 2002: average 2001.5."""
    fill = walk_book(BOOK, Side.BUY, D("1.0"), None, STEP)
    assert fill.amount_base == D("1.0")
    assert fill.average_price == D("2001.5")


def test_sell_hits_bids_down_to_its_limit_and_the_rest_expires() -> None:
    """A sell of 3 limited at 1995 takes the two bids at or above 1995 (1.5) and no more."""
    fill = walk_book(BOOK, Side.SELL, D(3), D(1995), STEP)
    assert fill.amount_base == D("1.5")
    assert fill.average_price == (D("0.5") * 1999 + D("1.0") * 1998) / D("1.5")


def test_order_larger_than_the_book_is_a_partial_fill_of_the_whole_book() -> None:
    """An order beyond the book's depth fills the depth, never at an invented price."""
    fill = walk_book(BOOK, Side.BUY, D(10), None, STEP)
    assert fill.amount_base == BOOK.depth_base(Side.BUY) == D("3.5")
    assert fill.average_price == (D("0.5") * 2001 + D(1) * 2002 + D(2) * 2010) / D("3.5")


def test_limit_below_the_best_ask_fills_nothing() -> None:
    """A buy limited below the best ask fills nothing and has no price."""
    fill = walk_book(BOOK, Side.BUY, D(1), D(2000), STEP)
    assert (fill.amount_base, fill.average_price) == (D(0), None)


def test_fill_is_floored_to_the_step_and_priced_on_what_fills() -> None:
    """Levels finer than the step: the fill is a multiple of the step, priced on it."""
    book = OrderBook(bids=(), asks=((D(2001), D("0.0004")), (D(2002), D("0.0009"))), timestamp_ms=0)
    fill = walk_book(book, Side.BUY, D(1), None, STEP)
    assert fill.amount_base == D("0.001")
    assert fill.average_price == (D("0.0004") * 2001 + D("0.0006") * 2002) / D("0.001")


def test_venue_with_a_book_fills_partially_at_the_book_and_charges_the_taker_fee() -> None:
    """SimVenue fills against its book: a sell beyond the bids' depth is PARTIALLY_FILLED at
    the bids' average, with the taker fee on that notional; the position is what filled."""
    venue = SimVenue(VenueParams(taker_fee_bps=D(5)), ManualClock(t=1_700_000_000.0))
    venue.set_mark(D(2000))
    venue.book = BOOK
    intent = OrderIntent("c-1", "ETH/USDT:USDT", Side.SELL, D(5), False, None)
    order = venue.submit(intent)
    depth = BOOK.depth_base(Side.SELL)
    average = (D("0.5") * 1999 + D("1.0") * 1998 + D("2.0") * 1990) / depth
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert (order.filled_base, order.average_price) == (depth, average)
    assert order.fee_quote == depth * average * D(5) / D(10_000)
    assert venue.position().size_base == -depth


def test_live_funding_schedule_replaces_the_interval_and_settles_at_that_time() -> None:
    """A next funding time from the live venue becomes the venue's; funding settles then, on
    the position held, at the rate it announced; a time already past is ignored."""
    clock = ManualClock(t=1_700_000_000.0)
    venue = SimVenue(VenueParams(funding_interval_s=8 * 3600), clock)
    venue.set_mark(D(2000))
    venue.submit(OrderIntent("c-1", "ETH/USDT:USDT", Side.SELL, D(1), False, None))
    next_s = int(clock.now()) + 600
    venue.set_funding_rate(D("0.0002"), next_s)
    venue.set_funding_rate(D("0.0002"), int(clock.now()) - 5)  # stale: keeps next_s
    assert venue.quote().next_funding_ts == next_s
    clock.advance(601)
    payments = venue.funding_payments(0)
    assert [(p.timestamp, p.rate, p.amount_quote) for p in payments] == [
        (next_s * 1000, D("0.0002"), D(2000) * D("0.0002"))
    ]
