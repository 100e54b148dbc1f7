"""The paper venue over months (review of issue 16, finding 5): its history is bounded, a
quote that only moves the mark writes nothing (the mark is written at most ``MARK_WRITE_S``
late) and a write converts only the records it has not written before.

It used to keep every order, fill and funding payment for ever and, on every tick, build its
whole state and compare it with the last one written (1.8 s and 10.9 MB at 20,000 orders)
and rewrite the file whenever the mark moved; then (second review) every write still rebuilt
all 30,000 records: 1.4 s per order at 10,000 of each. Now it keeps the newest
``HISTORY_LIMIT`` of each (resting orders always) and writes when the account changes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.domain import OrderIntent, OrderStatus, Side
from bot.exchange import paper
from bot.exchange.paper import PaperExchange
from bot.exchange.venue import SimVenue, VenueParams

pytestmark = pytest.mark.integration

LIMIT = 20
START_S = 1_700_000_100.0  # just after a funding time: none settles until the clock moves on
SYMBOL = "ETH/USDT:USDT"


def _intent(n: int, side: Side = Side.SELL, price: Decimal | None = None) -> OrderIntent:
    return OrderIntent(f"hb-{n}", SYMBOL, side, Decimal("0.1"), False, price)


async def _venue(path: Path, clock: ManualClock) -> PaperExchange:
    exchange = PaperExchange(SimVenue(VenueParams(), clock), path)
    await exchange.start()
    return exchange


def _state(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


async def test_history_is_bounded_and_a_restart_keeps_the_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """60 trades with a limit of 20: memory and file hold the newest 20 orders and fills (a
    resting order older than all of them stays), the fills since a recent cursor are whole,
    the position counts every trade, and a restart reads the same."""
    monkeypatch.setattr(paper, "HISTORY_LIMIT", LIMIT)
    clock = ManualClock(START_S)
    path = tmp_path / "venue.json"
    exchange = await _venue(path, clock)
    expired = await exchange.submit(_intent(0, Side.BUY, Decimal(1000)))  # IOC below the mark
    assert expired.status is OrderStatus.EXPIRED
    gtc = exchange.venue.submit(_intent(1, Side.BUY, Decimal(1000)), time_in_force="GTC")
    assert gtc.status is OrderStatus.OPEN
    for n in range(2, 62):  # hb-n fills at START_S + n - 1
        clock.advance(1)
        await exchange.submit(_intent(n))
    cursor_ms = int((START_S + 50) * 1000)
    recent = await exchange.fills(cursor_ms)
    venue = exchange.venue
    assert [f.client_order_id for f in recent] == [f"hb-{n}" for n in range(51, 62)]
    assert len(venue.fills(0)) == LIMIT
    log = [o.client_order_id for o in venue.order_log()]
    assert len(log) == LIMIT
    assert "hb-1" in log  # resting: never forgotten
    assert log[-1] == "hb-61"
    assert expired.client_order_id not in log  # the oldest closed order went first
    position = await exchange.position()
    assert position.size_base == Decimal("-6.0")  # all 60 fills, not only the kept ones
    await exchange.close()
    state = _state(path)
    assert len(state["fills"]) == LIMIT  # type: ignore[arg-type]
    again = await _venue(path, clock)
    assert (await again.position()).size_base == Decimal("-6.0")
    assert [o.client_order_id for o in again.venue.order_log()] == log
    await again.close()


async def test_a_quote_that_only_moves_the_mark_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Marks move every tick: the file is not rewritten for them within ``MARK_WRITE_S``;
    an order, a funding payment, a mark older than that and close each write it."""
    clock = ManualClock(START_S)
    path = tmp_path / "venue.json"
    exchange = await _venue(path, clock)
    await exchange.submit(_intent(1))
    written = path.stat().st_mtime_ns, path.read_bytes()
    for n in range(20):
        exchange.set_reference_price(Decimal(2000 + n))
        clock.advance(1)
        await exchange.quote()
    assert (path.stat().st_mtime_ns, path.read_bytes()) == written
    clock.advance(8 * 3600)  # past a funding time: the short is paid
    await exchange.quote()
    funded = _state(path)
    assert len(funded["funding"]) == 1  # type: ignore[arg-type]
    exchange.set_reference_price(Decimal(2100))
    await exchange.quote()
    assert _state(path)["mark"] == str(funded["mark"])
    monkeypatch.setattr(paper, "MARK_WRITE_S", 0.0)  # the last write is older than that now
    exchange.set_reference_price(Decimal(2101))
    assert Decimal(str(_state(path)["mark"])) == 2101  # a crash restarts from this mark
    exchange.set_reference_price(Decimal(2100))
    await exchange.close()
    assert Decimal(str(_state(path)["mark"])) == 2100


def test_a_write_converts_only_records_it_has_not_written() -> None:
    """The state of 2,000 records, then one more fill and a changed order: the unchanged
    records' plain forms are the ones of the last write (not converted again), the new and
    the changed ones are converted, and the state equals a from-scratch conversion."""
    clock = ManualClock(START_S)
    venue = SimVenue(VenueParams(initial_balance=Decimal(10**9)), clock)
    for n in range(2_000):
        venue.submit(_intent(n, Side.SELL if n % 2 else Side.BUY))
    first = venue.to_state()
    venue.submit(_intent(5_000))
    resting = venue.submit(_intent(5_001, Side.BUY, Decimal(1000)), time_in_force="GTC")
    venue.cancel(resting.client_order_id)  # the order object is replaced by its cancel
    second = venue.to_state()
    assert second["fills"][:2_000] == first["fills"]
    assert all(a is b for a, b in zip(second["fills"], first["fills"], strict=False))
    assert second["orders"][-1]["status"] == "canceled"
    rebuilt = SimVenue(VenueParams(), clock)
    rebuilt.load_state(json.loads(json.dumps(second)))
    assert rebuilt.to_state() == second
