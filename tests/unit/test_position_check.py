"""The running check's mark of classified fills (pure): by venue millisecond and, from the
mark on, by trade id, so each fill is classified once as own or foreign."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain import Fill, Side
from bot.exchange.position_check import CheckedMark, check_running, compare

pytestmark = pytest.mark.unit

OWN = "hb-own-1-1"


def fill(trade_id: str, ts_ms: int, client_id: str = OWN, amount: str = "0.5") -> Fill:
    """A sell of ``amount`` base at 2000 quote per base."""
    return Fill(
        trade_id=trade_id,
        client_order_id=client_id,
        exchange_order_id=f"x-{trade_id}",
        symbol="ETH/USDT:USDT",
        side=Side.SELL,
        amount_base=Decimal(amount),
        price=Decimal(2000),
        fee_quote=Decimal(0),
        realized_pnl=Decimal(0),
        timestamp=ts_ms,
    )


def test_a_fill_is_classified_before_the_mark_or_by_its_trade_id() -> None:
    """Before ``after_ms``: classified; at or after it: only the listed trade ids."""
    mark = CheckedMark(1000, frozenset({"t1"}))
    assert mark.classified(fill("t0", 999))
    assert mark.classified(fill("t1", 1000))
    assert not mark.classified(fill("t2", 1000))
    assert not mark.classified(fill("t3", 1001))


def test_after_check_moves_to_the_cursor_and_lists_what_it_saw_from_there() -> None:
    """The mark moves to the fill cursor; the fills seen at or after it are listed."""
    seen = [fill("t0", 900), fill("t1", 1000), fill("t2", 1000), fill("t3", 1200)]
    mark = CheckedMark(800).after_check(seen, fills_cursor_ms=1000)
    assert mark == CheckedMark(1000, frozenset({"t1", "t2", "t3"}))
    assert not mark.classified(fill("late", 1000))  # reported late in a seen millisecond
    assert not mark.classified(fill("between", 1100))  # or between two seen ones


def test_an_older_mark_past_the_cursor_stays() -> None:
    """A store of the older form (newest checked + 1, no ids) reads as it did."""
    mark = CheckedMark(1001).after_check([fill("t1", 1000)], fills_cursor_ms=1000)
    assert mark == CheckedMark(1001, frozenset())
    assert mark.classified(fill("t1", 1000))


def test_check_running_reports_only_unclassified_foreign_fills() -> None:
    """A foreign fill in a checked millisecond but not among its ids is reported; the own
    fill and the listed foreign one are not; the expectation leaves out only the new one."""
    own, old_foreign = fill("t1", 1000), fill("t2", 1000, "someone-0", "0.1")
    new_foreign = fill("t3", 1000, "someone-1", "0.3")
    check = check_running(
        baseline_base=Decimal(0),
        counted=[own, old_foreign, new_foreign],
        intent_ids=[OWN],
        checked=CheckedMark(1000, frozenset({"t1", "t2"})),
        venue_position_base=Decimal("-0.9"),
        on_mismatch="pause",
    )
    assert check.foreign_fills == (new_foreign,)
    assert check.expected_position_base == Decimal("-0.6")
    assert check.action == "paused"


def test_compare_reports_a_stored_fill_no_check_classified() -> None:
    """At start a stored foreign fill that no check classified is a mismatch; one a check
    classified is not reported again."""
    own, seen_foreign = fill("t1", 1000), fill("t2", 1000, "someone-0", "0.1")
    unseen_foreign = fill("t3", 1000, "someone-1", "0.3")
    findings = compare(
        own_prefix="hb-own-",
        baseline_base=Decimal(0),
        stored_fills=[own, seen_foreign, unseen_foreign],
        intent_ids=[OWN],
        venue_position_base=Decimal("-0.9"),
        venue_open_orders=[],
        venue_fills=[],
        checked=CheckedMark(1000, frozenset({"t1", "t2"})),
    )
    assert findings.unknown_fills == (unseen_foreign,)
    assert findings.expected_position_base == Decimal("-0.9")
    assert len(findings.mismatches) == 1
