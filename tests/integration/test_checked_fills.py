"""Every fill is classified once, as the bot's own or as someone else's, by trade id: a
foreign fill the venue reports in the same millisecond as an own fill a check already saw
is still reported (once), never counted as the bot's own. Real ccxt ``binanceusdm`` against
the emulator, the real SQLite store; the venue's clock does not move between the fills."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import SYMBOL, raw_ccxt_client, started_exchange
from structlog.testing import capture_logs
from test_order_manager import intent, opened_ledger, placed_order, sync_fills

from bot.clock import ManualClock
from bot.domain import Fill, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import EmulatorHandle
from bot.exchange.ledger import OrderLedger
from bot.exchange.ledger_checks import CHECKED_TRADE_IDS
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


async def someone_sells_now(emulator: EmulatorHandle, amount: float) -> None:
    """A sell on the bot's account under a client id of no intent, at the venue's current
    millisecond (the clock is not moved)."""
    async with raw_ccxt_client(emulator) as client:
        await client.create_order(
            SYMBOL, "market", "sell", amount, None, {"clientOrderId": "someone-1"}
        )


async def own_fill_checked(
    exchange: CcxtPerpExchange, store: SqliteStore, clock: ManualClock
) -> tuple[OrderLedger, Fill]:
    """A ledger whose own 0.5 sell filled, was stored and passed a running check."""
    ledger = await opened_ledger(exchange, store, clock, on_mismatch="pause")
    own = placed_order(await ledger.place(intent(1, Side.SELL, "0.5")))
    await sync_fills(exchange, store)
    first = await ledger.check_position((await exchange.position()).size_base)
    assert first.ok, first
    fill = next(f for f in await exchange.fills(0) if f.client_order_id == own.client_order_id)
    assert await store.get(Meta.POSITION_CHECKED_MS) == fill.timestamp
    assert await store.get(CHECKED_TRADE_IDS) == frozenset({fill.trade_id})
    return ledger, fill


@pytest.mark.parametrize("stored_before_check", [False, True])
async def test_a_foreign_fill_in_a_checked_fills_millisecond_is_reported_once(
    exchange: CcxtPerpExchange,
    emulator: EmulatorHandle,
    store: SqliteStore,
    clock: ManualClock,
    stored_before_check: bool,
) -> None:
    """The bot's own 0.5 sell is checked; someone then sells 0.3 in that same venue
    millisecond. The next check reports it as foreign (venue -0.8, the bot's record -0.5,
    paused), whether or not the history stored it first; the check after that does not
    report it again, and a restarted ledger's reconciliation finds nothing left to report."""
    ledger, own = await own_fill_checked(exchange, store, clock)
    await someone_sells_now(emulator, 0.3)
    foreign = next(f for f in await exchange.fills(0) if f.client_order_id == "someone-1")
    assert foreign.timestamp == own.timestamp
    if stored_before_check:
        await sync_fills(exchange, store)

    venue = (await exchange.position()).size_base
    with capture_logs() as logs:
        found = await ledger.check_position(venue)
        await sync_fills(exchange, store)
        again = await ledger.check_position(venue)
    assert venue == Decimal("-0.8")
    assert found.action == "paused"
    assert [f.trade_id for f in found.foreign_fills] == [foreign.trade_id]
    assert found.expected_position_base == Decimal("-0.5")
    mismatches = [e for e in logs if e["event"] == "position.mismatch"]
    assert [e["foreign_fills"] for e in mismatches] == [[foreign.trade_id]]
    assert again.ok, again
    assert again.foreign_fills == ()
    assert await store.get(CHECKED_TRADE_IDS) == frozenset({own.trade_id, foreign.trade_id})

    restarted = await opened_ledger(exchange, store, clock, on_mismatch="pause")
    reconciled = await restarted.reconcile_at_start()
    assert reconciled.findings.unknown_fills == ()
    assert reconciled.action == "ok", reconciled.findings.mismatches


async def test_an_own_fill_in_a_reported_foreign_fills_millisecond_is_own(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """The other order: someone's 0.3 sell is reported; the bot's 0.2 sell in that same venue
    millisecond is its own (no second report), and the record then predicts the venue's
    -1.0."""
    ledger, _ = await own_fill_checked(exchange, store, clock)
    await someone_sells_now(emulator, 0.3)
    found = await ledger.check_position((await exchange.position()).size_base)
    assert [f.client_order_id for f in found.foreign_fills] == ["someone-1"]

    own = placed_order(await ledger.place(intent(2, Side.SELL, "0.2")))
    fills = await exchange.fills(0)
    assert len({f.timestamp for f in fills}) == 1  # all three in one venue millisecond
    with capture_logs() as logs:
        before_sync = await ledger.check_position((await exchange.position()).size_base)
        await sync_fills(exchange, store)
        after_sync = await ledger.check_position((await exchange.position()).size_base)
    for check in (before_sync, after_sync):
        assert check.ok, check
        assert check.expected_position_base == Decimal("-1.0")
    assert [e for e in logs if e["event"] == "position.mismatch"] == []
    assert await store.get(CHECKED_TRADE_IDS) == frozenset(f.trade_id for f in fills)
    assert own.client_order_id in {f.client_order_id for f in fills}


async def test_a_foreign_fill_stored_but_never_checked_is_reported_at_start(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """Someone sells 0.3 in the millisecond of the bot's checked own fill, and the history
    stores it before the bot stops (no check in between): the restarted ledger's
    reconciliation reports it (stored is not checked) and pauses."""
    await own_fill_checked(exchange, store, clock)
    await someone_sells_now(emulator, 0.3)
    await sync_fills(exchange, store)
    foreign = next(f for f in await store.read_fills() if f.client_order_id == "someone-1")

    restarted = await opened_ledger(exchange, store, clock, on_mismatch="pause")
    reconciled = await restarted.reconcile_at_start()
    assert [f.trade_id for f in reconciled.findings.unknown_fills] == [foreign.trade_id]
    assert reconciled.action == "paused"
    assert any("someone-1" in m for m in reconciled.findings.mismatches)


async def test_a_check_that_saw_no_fill_still_marks_where_it_looked(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """A first check sees no fill; someone sells 0.3, then the bot sells 0.5 a second later,
    and the history stores both (its cursor passes the foreign fill): the next check still
    reports the foreign fill, since the first check recorded where it looked."""
    await store.set(Meta.FILLS_SINCE_MS, int(clock.now() * 1000))
    ledger = await opened_ledger(exchange, store, clock, on_mismatch="pause")
    quiet = await ledger.check_position((await exchange.position()).size_base)
    assert quiet.ok, quiet
    assert await store.get(Meta.POSITION_CHECKED_MS) == int(clock.now() * 1000)

    clock.advance(1.0)
    await someone_sells_now(emulator, 0.3)
    clock.advance(1.0)
    placed_order(await ledger.place(intent(1, Side.SELL, "0.5")))
    await sync_fills(exchange, store)
    foreign = next(f for f in await store.read_fills() if f.client_order_id == "someone-1")
    assert foreign.timestamp < (await store.get(Meta.FILLS_SINCE_MS) or 0)

    found = await ledger.check_position((await exchange.position()).size_base)
    assert [f.trade_id for f in found.foreign_fills] == [foreign.trade_id]
    assert found.expected_position_base == Decimal("-0.5")
    assert found.action == "paused"
