"""A venue's clock between its dated answers (bot/exchange/ccxt/dialect.py ``VenueClock``) and
Hyperliquid's funding time from it (``HyperliquidDialect.dated_by_clock``). Times in unix ms."""

from __future__ import annotations

import pytest

from bot.errors import VenueDataError
from bot.exchange.ccxt.dialect import HyperliquidDialect, VenueClock, VenueDialect

HOUR = 3_600_000
T = 1_796_000_000_000 - 1_796_000_000_000 % HOUR + 1_000_000  # 1,000 s past an hour


def test_unknown_until_a_dated_answer() -> None:
    assert VenueClock().now_ms(T, HOUR) is None


def test_the_offset_of_the_last_answer_carries_the_bots_clock() -> None:
    clock = VenueClock()
    clock.saw(T + 2_500, T)  # the venue 2.5 s ahead
    assert clock.now_ms(T + 10_000, HOUR) == T + 12_500
    clock.saw(T + 20_000 - 100, T + 20_000)  # now 0.1 s behind
    assert clock.now_ms(T + 30_000, HOUR) == T + 29_900


def test_an_old_offset_or_a_clock_gone_back_is_unknown() -> None:
    clock = VenueClock(max_age_ms=600_000)
    clock.saw(T, T)
    assert clock.now_ms(T + 600_000, HOUR) == T + 600_000
    assert clock.now_ms(T + 600_001, HOUR) is None
    assert clock.now_ms(T - 1, HOUR) is None


@pytest.mark.parametrize("into", [0, 1, 4_999, HOUR - 4_999, HOUR - 1])
def test_near_the_boundary_is_unknown(into: int) -> None:
    """Within the guard of a funding time a few ms of drift could name the wrong hour."""
    hour_start = T - T % HOUR
    clock = VenueClock(max_age_ms=2 * HOUR, guard_ms=5_000)
    clock.saw(hour_start + 10_000, hour_start + 10_000)
    at = hour_start + HOUR + into if into < HOUR // 2 else hour_start + into
    assert clock.now_ms(at, HOUR) is None


def test_outside_the_guard_is_known() -> None:
    hour_start = T - T % HOUR
    clock = VenueClock(guard_ms=5_000)
    clock.saw(hour_start + 5_000, hour_start + 5_000)
    assert clock.now_ms(hour_start + 5_000, HOUR) == hour_start + 5_000


def test_hyperliquid_dates_funding_by_the_clock_its_books_set() -> None:
    dialect = HyperliquidDialect()
    raw = {"markPrice": 2000.0}
    assert dialect.dated_by_clock(raw, T) is None  # no book seen yet: read one
    dialect.saw_book({"timestamp": T + 3_000}, T)
    dated = dialect.dated_by_clock(raw, T + 60_000)
    assert dated is not None
    assert dated["timestamp"] == T + 63_000
    next_hour = (T + 63_000) // HOUR * HOUR + HOUR
    assert dated["fundingTimestamp"] == next_hour
    # the same as the book-dated answer at that venue time
    assert dialect.funding_answer(raw, {"timestamp": T + 63_000}) == dated


def test_a_book_without_its_time_is_a_read_error() -> None:
    with pytest.raises(VenueDataError):
        HyperliquidDialect().saw_book({"timestamp": None}, T)


def test_other_venues_need_no_book() -> None:
    raw = {"markPrice": 2000.0}
    assert VenueDialect().dated_by_clock(raw, T) is raw
