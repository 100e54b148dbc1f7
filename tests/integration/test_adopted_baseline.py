"""An adopted baseline is told apart from later fills by trade id: an own fill in the same
venue millisecond as the adopted foreign one still counts, so it is not re-alerted as a
mismatch, now or after a restart. Real ccxt ``binanceusdm`` against the emulator, the real
SQLite store; the venue's clock does not move between the two fills."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import raw_ccxt_client, started_exchange
from structlog.testing import capture_logs
from test_order_manager import intent, opened_ledger, placed_order, sync_fills

from bot.clock import ManualClock
from bot.domain import Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import EmulatorHandle
from bot.exchange.ledger_checks import BASELINE_TRADE_IDS
from bot.store.meta import Meta
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def exchange(emulator: EmulatorHandle, clock: ManualClock) -> AsyncIterator[CcxtPerpExchange]:
    """The ccxt adapter on the emulator."""
    async with started_exchange(emulator, clock) as started:
        yield started


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """An empty store."""
    opened = await SqliteStore.open(tmp_path / "store.sqlite")
    yield opened
    await opened.close()


async def test_an_own_fill_in_the_adopted_fills_millisecond_still_counts(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """Someone sells 0.3 on the account (after the bot's own 0.5 sell); the check adopts the
    venue's -0.8. In that same venue millisecond the bot sells 0.2 more: the next check
    expects -1.0 (the venue's number), no second position.mismatch; a restarted ledger's
    reconciliation agrees."""
    ledger = await opened_ledger(exchange, store, clock, on_mismatch="adopt")
    placed_order(await ledger.place(intent(1, Side.SELL, "0.5")))
    await sync_fills(exchange, store)
    clock.advance(1.0)
    async with raw_ccxt_client(emulator) as client:
        await client.create_order(
            "ETH/USDT:USDT", "market", "sell", 0.3, None, {"clientOrderId": "someone-1"}
        )
    adopted = await ledger.check_position((await exchange.position()).size_base)
    assert adopted.action == "adopted"
    assert [f.client_order_id for f in adopted.foreign_fills] == ["someone-1"]

    own = placed_order(await ledger.place(intent(2, Side.SELL, "0.2")))  # same millisecond
    fills = await exchange.fills(0)
    foreign_ms = next(f.timestamp for f in fills if f.client_order_id == "someone-1")
    own_ms = next(f.timestamp for f in fills if f.client_order_id == own.client_order_id)
    assert own_ms == foreign_ms
    assert await store.get(Meta.POSITION_BASELINE_AFTER_MS) == foreign_ms
    assert await store.get(Meta.POSITION_BASELINE) == Decimal("-0.8")
    inside = await store.get(BASELINE_TRADE_IDS)
    assert {f.trade_id for f in fills if f.client_order_id == "someone-1"} == inside

    venue = (await exchange.position()).size_base
    with capture_logs() as logs:
        before_sync = await ledger.check_position(venue)  # the own fill not stored yet
        await sync_fills(exchange, store)
        after_sync = await ledger.check_position(venue)
    assert venue == Decimal("-1.0")
    for check in (before_sync, after_sync):
        assert check.ok, check
        assert check.expected_position_base == Decimal("-1.0")
    assert [e for e in logs if e["event"] == "position.mismatch"] == []

    restarted = await opened_ledger(exchange, store, clock, on_mismatch="pause")
    reconciled = await restarted.reconcile_at_start()
    assert reconciled.action == "ok"
    assert reconciled.findings.expected_position_base == Decimal("-1.0")
