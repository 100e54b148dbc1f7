"""Someone else's fill on the bot's account is never booked as the bot's: the venue history
stores it as foreign (``fills.own`` = 0), it is in no PnL (store totals, the report's replay
inputs, the live attribution's new fills). The position check reports it once (the bot
pauses per ``exchange.on_mismatch``) and from then on it is part of the record (expected =
baseline + every stored fill, own and foreign): later checks and a restart are clean.

Real ccxt ``binanceusdm`` against the emulator over HTTP; the real SQLite store, and both
backends for the migration of existing rows."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import SYMBOL, raw_ccxt_client, started_exchange
from store_backends import BACKENDS, Backend, backend_for, pg_sql
from structlog.testing import capture_logs
from test_order_manager import intent, opened_ledger, placed_order

from bot.clock import ManualClock
from bot.domain import Fill, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import EmulatorHandle
from bot.exchange.ledger import OrderLedger
from bot.replay_store import replay_inputs
from bot.store.migrations import MIGRATIONS
from bot.store.sqlite import SqliteStore
from bot.venue_history import VenueHistory

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


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each backend (PostgreSQL: a schema of this test's own)."""
    yield from backend_for(request.param, tmp_path)


async def someone_trades(
    emulator: EmulatorHandle, clock: ManualClock, side: str, amount: float, cid: str
) -> None:
    """A market order on the bot's account under a client id of no intent of the bot, a
    second after the last venue event."""
    clock.advance(1.0)
    async with raw_ccxt_client(emulator) as client:
        await client.create_order(SYMBOL, "market", side, amount, None, {"clientOrderId": cid})


async def history_step(history: VenueHistory, store: SqliteStore) -> list[Fill]:
    """The engine's history step: read the venue's fills, store them in one transaction,
    advance the cursor once committed; the fills handed to the attribution."""
    batch = await history.fetch_fills()
    async with store.transaction():
        own, funding = await history.record(batch)
    history.committed(batch, own, funding)
    return history.take()[0]


async def own_sell_then_foreign_sell(
    exchange: CcxtPerpExchange,
    emulator: EmulatorHandle,
    store: SqliteStore,
    clock: ManualClock,
) -> tuple[OrderLedger, VenueHistory, Fill, Fill]:
    """The bot sells 0.5 (stored, checked ok); someone sells 0.3 on the account, and the
    history stores it: (ledger, history, own fill, foreign fill)."""
    history = VenueHistory(exchange, store)
    await history.load(clock.now())
    ledger = await opened_ledger(exchange, store, clock, on_mismatch="pause")
    clock.advance(1.0)
    own_order = placed_order(await ledger.place(intent(1, Side.SELL, "0.5")))
    [own] = await history_step(history, store)
    assert own.client_order_id == own_order.client_order_id
    assert (await ledger.check_position((await exchange.position()).size_base)).ok

    await someone_trades(emulator, clock, "sell", 0.3, "someone-1")
    with capture_logs() as logs:
        attributed = await history_step(history, store)
    assert attributed == []  # no trade of the bot's: nothing for its PnL or fill events
    [foreign] = await store.read_fills(own=False)
    assert foreign.client_order_id == "someone-1"
    assert foreign.amount_base == Decimal("0.3")
    logged = [e for e in logs if e["event"] == "fill.foreign"]
    assert [(e["trade_id"], e["amount_base"]) for e in logged] == [(foreign.trade_id, "0.3")]
    return ledger, history, own, foreign


async def test_a_foreign_fill_is_stored_as_foreign_and_counts_in_no_pnl(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """The foreign sell's fee is not the bot's: the store's totals and the report's replay
    inputs hold the bot's own fill only, and a second sync books nothing twice."""
    _, history, own, foreign = await own_sell_then_foreign_sell(exchange, emulator, store, clock)
    assert foreign.fee_quote > 0
    assert await store.read_fills(own=True) == [own]
    assert {f.trade_id for f in await store.read_fills()} == {own.trade_id, foreign.trade_id}
    totals = await store.totals()
    assert totals["fees_quote"] == own.fee_quote
    assert totals["realized_pnl_quote"] == own.realized_pnl
    assert list((await replay_inputs(store)).fills) == [own]
    assert await history_step(history, store) == []
    assert await store.read_fills(own=False) == [foreign]


async def assert_no_pnl_of(store: SqliteStore, own: Fill, foreign: Fill) -> None:
    """The store's totals and the report's replay inputs hold ``own`` only; ``foreign`` is
    kept as someone else's."""
    totals = await store.totals()
    assert totals["fees_quote"] == own.fee_quote
    assert totals["realized_pnl_quote"] == own.realized_pnl
    assert list((await replay_inputs(store)).fills) == [own]
    assert foreign in await store.read_fills(own=False)


async def test_a_foreign_fill_is_reported_once_then_part_of_the_record(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """The check reports the foreign sell once and pauses (venue -0.8, the bot's record
    without it -0.5); the next check counts it (expected -0.8): clean, nothing logged; a
    restart is clean too. Through all of it the foreign fill counts in no PnL."""
    ledger, _, own, foreign = await own_sell_then_foreign_sell(exchange, emulator, store, clock)
    venue = (await exchange.position()).size_base
    assert venue == Decimal("-0.8")
    with capture_logs() as logs:
        found = await ledger.check_position(venue)
        again = await ledger.check_position(venue)
    assert found.foreign_fills == (foreign,)
    assert found.action == "paused"
    assert not found.ok
    assert found.expected_position_base == Decimal("-0.5")
    assert again.ok, again
    assert again.action == "ok"
    assert again.foreign_fills == ()
    assert again.expected_position_base == Decimal("-0.8")
    mismatches = [e for e in logs if e["event"] == "position.mismatch"]
    assert [e["foreign_fills"] for e in mismatches] == [[foreign.trade_id]]

    restart = await (await opened_ledger(exchange, store, clock)).reconcile_at_start()
    assert restart.action == "ok", restart.findings.mismatches
    assert restart.findings.expected_position_base == Decimal("-0.8")
    await assert_no_pnl_of(store, own, foreign)


async def test_a_foreign_fill_that_trades_back_is_reported_once_too(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """Someone buys the 0.3 back: that buy is reported once too (the record, with the
    first foreign sell, expects -0.8; the venue is back at -0.5), then both are in the
    record and the checks and a restart are clean; neither counts in PnL."""
    ledger, history, own, foreign = await own_sell_then_foreign_sell(
        exchange, emulator, store, clock
    )
    first = await ledger.check_position((await exchange.position()).size_base)
    assert first.action == "paused"

    await someone_trades(emulator, clock, "buy", 0.3, "someone-2")
    assert await history_step(history, store) == []
    venue = (await exchange.position()).size_base
    back = await ledger.check_position(venue)
    assert venue == Decimal("-0.5")
    assert [f.client_order_id for f in back.foreign_fills] == ["someone-2"]
    assert back.action == "paused"
    assert back.expected_position_base == Decimal("-0.8")
    settled = await ledger.check_position(venue)
    assert settled.ok, settled
    assert settled.expected_position_base == Decimal("-0.5")
    restart = await (await opened_ledger(exchange, store, clock)).reconcile_at_start()
    assert restart.action == "ok", restart.findings.mismatches
    await assert_no_pnl_of(store, own, foreign)
    assert len(await store.read_fills(own=False)) == 2


def fill_body(trade_id: str, cid: str, fee: str) -> str:
    return (
        f'{{"amount_base": "0.5", "client_order_id": "{cid}", "exchange_order_id": "1", '
        f'"fee_quote": "{fee}", "price": "2000", "realized_pnl": "0", "side": "sell", '
        f'"symbol": "ETH/USDT:USDT", "timestamp": 1500, "trade_id": "{trade_id}"}}'
    )


async def test_migration_classifies_existing_fills_by_the_stored_intents(
    store_backend: Backend,
) -> None:
    """A store at schema 1 holding the bot's fill (of a stored intent) and someone else's
    (no intent) migrates: the first stays own, the second becomes foreign, and the totals
    count only the first. On PostgreSQL another bot's intent with that client id does not
    make it own (the rule is per bot)."""
    v1 = MIGRATIONS[:1]
    await (await store_backend.open(migrations=v1)).close()
    own_body, foreign_body = (
        fill_body("t1", "hb-aaaa-10-1", "0.4"),
        fill_body("t2", "someone-1", "0.7"),
    )
    if store_backend.schema is None:
        with closing(sqlite3.connect(store_backend.file)) as db:
            db.execute("INSERT INTO intents VALUES('hb-aaaa-10-1', 1.0, 10, 'filled', '{}')")
            db.execute("INSERT INTO fills VALUES('t1', 1500, 'hb-aaaa-10-1', ?)", (own_body,))
            db.execute("INSERT INTO fills VALUES('t2', 1600, 'someone-1', ?)", (foreign_body,))
            db.commit()
    else:
        schema = store_backend.schema
        for bot, cid in (("hedgebot", "hb-aaaa-10-1"), ("other", "someone-1")):
            pg_sql(
                "INSERT INTO intents(bot_id, client_order_id, ts, block, status, body) "
                "VALUES(%s, %s, 1.0, 10, 'filled', '{}')",
                (bot, cid),
                schema,
            )
        for trade_id, ts, cid, body in (
            ("t1", 1500, "hb-aaaa-10-1", own_body),
            ("t2", 1600, "someone-1", foreign_body),
        ):
            pg_sql(
                "INSERT INTO fills(bot_id, trade_id, ts, client_order_id, body) "
                "VALUES('hedgebot', %s, %s, %s, %s)",
                (trade_id, ts, cid, body),
                schema,
            )
    store = await store_backend.open()
    try:
        assert [f.trade_id for f in await store.read_fills(own=True)] == ["t1"]
        assert [f.trade_id for f in await store.read_fills(own=False)] == ["t2"]
        assert (await store.totals())["fees_quote"] == Decimal("0.4")
    finally:
        await store.close()
