"""SQLite store: write-ahead intents, idempotent fills/funding, refusal when not writable."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain import Fill, FundingPayment, Order, OrderIntent, OrderStatus, Side
from bot.errors import StoreError
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration


def intent(cid: str) -> OrderIntent:
    return OrderIntent(cid, "ETH/USDT:USDT", Side.SELL, Decimal("0.5"), False, Decimal(1990))


async def test_unresolved_intents_until_outcome_recorded(tmp_path: Path) -> None:
    """An intent stays unresolved until an order update with a terminal status arrives."""
    store = await SqliteStore.open(tmp_path / "s.sqlite")
    await store.record_intent(1.0, 10, intent("a"))
    await store.record_intent(1.0, 10, intent("b"))
    await store.mark_intent("b", OrderStatus.UNKNOWN)
    assert [i.client_order_id for i in await store.unresolved_intents()] == ["a", "b"]
    order = Order(
        "a",
        "1",
        "ETH/USDT:USDT",
        Side.SELL,
        Decimal("0.5"),
        Decimal("0.5"),
        Decimal(2000),
        OrderStatus.FILLED,
        False,
    )
    await store.record_order(2.0, order)
    await store.close()
    reopened = await SqliteStore.open(tmp_path / "s.sqlite")
    unresolved = await reopened.unresolved_intents()
    assert [i.client_order_id for i in unresolved] == ["b"]
    assert unresolved[0].limit_price == Decimal(1990)
    assert await reopened.intent_count() == 2
    await reopened.close()


async def test_fills_and_funding_recorded_once(tmp_path: Path) -> None:
    """Re-reading the same fills and funding from the venue never double counts."""
    store = await SqliteStore.open(tmp_path / "s.sqlite")
    fill = Fill(
        "t1",
        "a",
        "1",
        "ETH/USDT:USDT",
        Side.SELL,
        Decimal(1),
        Decimal(2000),
        Decimal("1.0"),
        Decimal(0),
        1000,
    )
    pay = FundingPayment(
        "f1", "ETH/USDT:USDT", Decimal("0.2"), Decimal("0.0001"), Decimal(-1), Decimal(2000), 2000
    )
    assert await store.record_fill(fill) is True
    assert await store.record_fill(fill) is False
    assert await store.record_funding(pay) is True
    assert await store.record_funding(pay) is False
    totals = await store.totals()
    assert totals == {
        "fees_quote": Decimal("1.0"),
        "funding_quote": Decimal("0.2"),
        "realized_pnl_quote": Decimal(0),
    }
    await store.close()


async def test_disk_full_is_store_error(tmp_path: Path) -> None:
    """SQLITE_FULL (a full disk, here a capped page count) surfaces as StoreError."""
    store = await SqliteStore.open(tmp_path / "s.sqlite")
    await store._db.execute("PRAGMA max_page_count = 1")

    async def fill_up() -> None:
        for n in range(200):
            await store.record_intent(1.0, n, intent(f"c{n}"))

    with pytest.raises(StoreError, match="full"):
        await fill_up()
    await store.close()


async def test_store_path_is_a_directory_refused(tmp_path: Path) -> None:
    """A path that cannot hold a database is refused with the path in the message."""
    bad = tmp_path / "dir.sqlite"
    bad.mkdir()
    with pytest.raises(StoreError, match=r"dir\.sqlite"):
        await SqliteStore.open(bad)
