"""OrderLedger over the real ccxt binanceusdm client and the emulator: lost responses, rate
limits, start-up reconciliation and the running position check, with the venue's own order
log as the witness. (Ported from the former OrderManager: its exceptions are now the
ledger's PlaceResult values.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import (
    SYMBOL,
    EmulatorHandle,  # wherever the emulator package lives
    raw_ccxt_client,
    started_exchange,
)
from structlog.testing import capture_logs

from bot import errors
from bot.clock import ManualClock
from bot.domain import Order, OrderIntent, OrderStatus, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.ledger import (
    LedgerSettings,
    NotPlaced,
    OnMismatch,
    OrderLedger,
    Placed,
    Rejected,
    Unknown,
    client_order_id,
)
from bot.store.meta import Meta, MetaKey
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

BOT = "om-test"


class RecordedSleep:
    """Stands in for asyncio.sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def exchange(emulator: EmulatorHandle, clock: ManualClock) -> AsyncIterator[CcxtPerpExchange]:
    """The ccxt adapter on the emulator, with a short timeout for the dropped-response tests."""
    async with started_exchange(emulator, clock, timeout_ms=500) as started:
        yield started


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """An empty store."""
    opened = await SqliteStore.open(tmp_path / "store.sqlite")
    yield opened
    await opened.close()


async def opened_ledger(
    exchange: CcxtPerpExchange,
    store: SqliteStore,
    clock: ManualClock,
    *,
    sleep: RecordedSleep | None = None,
    on_mismatch: OnMismatch = "pause",
    settings: LedgerSettings | None = None,
) -> OrderLedger:
    """A ledger of bot ``BOT`` on the emulator and ``store``, opened (sequence, pending)."""
    ledger = OrderLedger(
        exchange,
        store,
        BOT,
        clock,
        settings=settings,
        on_mismatch=on_mismatch,
        sleep=sleep or RecordedSleep(),
    )
    await ledger.open()
    return ledger


def placed_order(result: object) -> Order:
    """The order of a ``Placed`` result (fails the test for any other outcome)."""
    assert isinstance(result, Placed), result
    return result.order


def intent(seq: int, side: Side, amount: str, *, reduce_only: bool = False) -> OrderIntent:
    limit = Decimal(1900) if side is Side.SELL else Decimal(2100)
    return OrderIntent(
        client_order_id=client_order_id(BOT, 100, seq),
        symbol=SYMBOL,
        side=side,
        amount_base=Decimal(amount),
        reduce_only=reduce_only,
        limit_price=limit,
    )


def venue_orders(emulator: EmulatorHandle, client_id: str) -> int:
    return sum(1 for o in emulator.venue.order_log() if o.client_order_id == client_id)


@pytest.mark.parametrize("mode", ["reset", "delay"])
async def test_lost_response_is_resolved_by_client_id_not_resent(
    exchange: CcxtPerpExchange,
    emulator: EmulatorHandle,
    store: SqliteStore,
    clock: ManualClock,
    mode: str,
) -> None:
    """An order accepted by the venue whose response is lost (reset or slower than the
    timeout) comes back from place() as the one order found by its client id."""
    ledger = await opened_ledger(exchange, store, clock)
    lost = intent(1, Side.SELL, "0.5")
    emulator.drop_next_order_response("reset" if mode == "reset" else "delay", delay_s=1.5)
    order = placed_order(await ledger.place(lost))
    assert order.client_order_id == lost.client_order_id
    assert order.status is OrderStatus.FILLED
    assert order.filled_base == Decimal("0.5")
    assert venue_orders(emulator, lost.client_order_id) == 1
    assert len(emulator.venue.order_log()) == 1
    assert ledger.pending_intents() == ()
    assert (await exchange.position()).size_base == Decimal("-0.5")
    assert await store.unresolved_intents() == []  # recorded FILLED in the same step


async def test_unknown_outcome_of_an_order_never_placed_is_confirmed_absent_not_resent(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """A 503 answered without creating the order is an unknown outcome: the ledger looks the
    client id up over a growing grace period, finds nothing and returns NotPlaced. It never
    sends the order again (it used to re-send at once when the first look-up missed)."""
    sleep = RecordedSleep()
    ledger = await opened_ledger(
        exchange, store, clock, sleep=sleep, settings=LedgerSettings(resolve_backoff_s=0.01)
    )
    never = intent(1, Side.SELL, "0.5")
    emulator.fail_next_order(status=503)
    result = await ledger.place(never)
    assert isinstance(result, NotPlaced)
    assert result.intent.client_order_id == never.client_order_id
    assert sleep.waits == [0.01, 0.02, 0.04]  # absent at all absent_checks + 1 look-ups
    assert venue_orders(emulator, never.client_order_id) == 0
    assert emulator.venue.order_log() == []  # the fault is one-shot: a re-send would be here
    assert ledger.pending_intents() == ()
    assert (await exchange.position()).size_base == 0
    assert await store.unresolved_intents() == []  # recorded rejected: nothing was placed

    fresh = intent(2, Side.SELL, "0.5")
    order = placed_order(await ledger.place(fresh))  # nothing pending blocks the next one
    assert order.status is OrderStatus.FILLED
    assert [o.client_order_id for o in emulator.venue.order_log()] == [fresh.client_order_id]


async def test_rate_limited_submit_waits_retry_after_and_places_once(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """Two 429s with Retry-After 3 s: the ledger waits 3 s twice, then the order goes once."""
    sleep = RecordedSleep()
    ledger = await opened_ledger(exchange, store, clock, sleep=sleep)
    emulator.rate_limit_next(2, retry_after_s=3)
    placed = intent(1, Side.SELL, "0.5")
    order = placed_order(await ledger.place(placed))
    assert sleep.waits == [3, 3]
    assert order.status is OrderStatus.FILLED
    assert venue_orders(emulator, placed.client_order_id) == 1


async def test_rate_limit_longer_than_max_wait_is_raised_not_slept(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """A Retry-After beyond max_wait_s fails the attempt (the next tick retries); no order:
    the result is Rejected carrying the RateLimited error."""
    sleep = RecordedSleep()
    ledger = await opened_ledger(
        exchange, store, clock, sleep=sleep, settings=LedgerSettings(max_wait_s=5)
    )
    emulator.rate_limit_next(1, retry_after_s=60)
    placed = intent(1, Side.SELL, "0.5")
    result = await ledger.place(placed)
    assert isinstance(result, Rejected)
    assert isinstance(result.error, errors.RateLimited)
    assert sleep.waits == []
    assert venue_orders(emulator, placed.client_order_id) == 0
    assert ledger.pending_intents() == ()


async def test_rate_limited_lookup_backs_off_then_resolves(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """The look-up of an unknown outcome honours a 429's Retry-After, then finds the order;
    nothing new is placed while it is unknown."""
    sleep = RecordedSleep()
    lost = intent(1, Side.SELL, "0.5")
    await store.record_intent(clock.now(), 100, lost)
    emulator.drop_next_order_response("reset")
    with pytest.raises(errors.OrderOutcomeUnknown):
        await exchange.submit(lost)
    await store.mark_intent(lost.client_order_id, OrderStatus.UNKNOWN)
    ledger = await opened_ledger(exchange, store, clock, sleep=sleep)  # restores it pending
    with pytest.raises(errors.OrderOutcomeUnknown, match="unresolved"):
        await ledger.place(intent(2, Side.SELL, "0.5"))  # nothing new while unknown
    emulator.rate_limit_next(1, retry_after_s=2)
    results = await ledger.settle_pending()
    assert sleep.waits == [2]
    assert [placed_order(r).client_order_id for r in results] == [lost.client_order_id]
    assert ledger.pending_intents() == ()
    assert len(emulator.venue.order_log()) == 1


async def test_reconcile_stored_intents_resolves_sent_and_drops_never_seen(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """Stored unresolved intents: the one the venue accepted is resolved to its order, the
    one it never saw is NotPlaced and is not sent."""
    sent, unsent = intent(1, Side.SELL, "0.5"), intent(2, Side.SELL, "0.7")
    for stored in (sent, unsent):
        await store.record_intent(clock.now(), 100, stored)
    emulator.drop_next_order_response("reset")
    with pytest.raises(errors.OrderOutcomeUnknown):
        await exchange.submit(sent)
    ledger = await opened_ledger(exchange, store, clock)
    results = await ledger.settle_pending()
    assert [r.order.client_order_id for r in results if isinstance(r, Placed)] == [
        sent.client_order_id
    ]
    assert [r.intent for r in results if isinstance(r, NotPlaced)] == [unsent]
    assert [r for r in results if isinstance(r, Unknown)] == []
    assert venue_orders(emulator, unsent.client_order_id) == 0
    assert len(emulator.venue.order_log()) == 1
    assert await store.unresolved_intents() == []


async def test_start_reconciliation_cancels_own_resting_order_and_keeps_position(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """An open position and a resting order of this bot (both in the store): the order is
    cancelled and recorded, the position agrees with the store, nothing is placed."""
    ledger = await opened_ledger(exchange, store, clock)
    opening = intent(1, Side.SELL, "1.0")
    placed_order(await ledger.place(opening))  # write-ahead intent + recorded outcome
    for fill in await exchange.fills(0):
        await store.record_fill(fill)
    resting = OrderIntent(client_order_id(BOT, 101, 2), SYMBOL, Side.BUY, Decimal("0.4"),
                          True, Decimal(1500))  # fmt: skip
    await store.record_intent(clock.now(), 101, resting)
    async with raw_ccxt_client(emulator) as client:
        await client.create_order(
            SYMBOL, "limit", "buy", 0.4, 1500,
            {"timeInForce": "GTC", "clientOrderId": resting.client_order_id, "reduceOnly": True},
        )  # fmt: skip
    assert [o.client_order_id for o in await exchange.open_orders()] == [resting.client_order_id]

    restarted = await opened_ledger(exchange, store, clock)
    result = await restarted.reconcile_at_start(fills_since_ms=0)
    assert result.action == "ok"
    assert result.findings.mismatches == ()
    assert [o.status for o in result.cancelled] == [OrderStatus.CANCELED]
    assert await exchange.open_orders() == []
    assert await store.unresolved_intents() == []
    assert (await exchange.position()).size_base == Decimal("-1.0")
    assert len(emulator.venue.order_log()) == 2  # the opening and the cancelled one, no more
    assert restarted.pending_intents() == ()


async def test_start_reconciliation_mismatch_pauses_or_adopts(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """A trade the store knows nothing about: 'pause' reports it and changes nothing; 'adopt'
    reports it once and moves the baseline so the next start agrees with the venue."""
    async with raw_ccxt_client(emulator) as client:
        await client.create_order(
            SYMBOL, "market", "sell", 0.8, None, {"clientOrderId": "manual-1"}
        )
        await client.create_order(
            SYMBOL, "limit", "sell", 0.1, 2500, {"timeInForce": "GTC", "clientOrderId": "manual-2"}
        )
    pausing = await opened_ledger(exchange, store, clock, on_mismatch="pause")
    paused = await pausing.reconcile_at_start(fills_since_ms=0)
    assert paused.action == "paused"
    assert paused.findings.venue_position_base == Decimal("-0.8")
    assert paused.findings.expected_position_base == Decimal("-0.8")  # explained by the fill
    assert [f.client_order_id for f in paused.findings.unknown_fills] == ["manual-1"]
    assert [o.client_order_id for o in paused.findings.foreign_open_orders] == ["manual-2"]
    assert len(paused.findings.mismatches) == 2
    assert await store.get_meta(MetaKey.POSITION_BASELINE) is None
    assert [o.client_order_id for o in await exchange.open_orders()] == ["manual-2"]  # untouched

    # with the store's fill cursor past that fill only the position speaks: 0 against -0.8
    adopting = await opened_ledger(exchange, store, clock, on_mismatch="adopt")
    cursor = int(emulator.venue.fills(0)[-1].timestamp) + 1
    adopted = await adopting.reconcile_at_start(fills_since_ms=cursor)
    assert adopted.action == "adopted"
    assert adopted.findings.mismatches[0] == "position: venue -0.8, store expects 0"
    assert await store.get_meta(MetaKey.POSITION_BASELINE) == "-0.8"
    async with raw_ccxt_client(emulator) as client:
        await client.cancel_order(None, SYMBOL, {"clientOrderId": "manual-2"})
    again = await adopting.reconcile_at_start(fills_since_ms=cursor)
    assert again.action == "ok"
    assert again.findings.mismatches == ()


async def sync_fills(exchange: CcxtPerpExchange, store: SqliteStore) -> None:
    """What the engine's history step does each tick: store the venue's fills, move the cursor."""
    fills = await exchange.fills(0)
    for fill in fills:
        await store.record_fill(fill)
    await store.set(Meta.FILLS_SINCE_MS, max(f.timestamp for f in fills))


async def someone_else_sells(emulator: EmulatorHandle, clock: ManualClock, amount: float) -> None:
    """An order on the bot's account through the venue's HTTP API with the same key, under a
    client id without the bot's prefix, a second after the bot's last check."""
    clock.advance(1.0)  # the venue's clock
    async with raw_ccxt_client(emulator) as client:
        await client.create_order(
            SYMBOL, "market", "sell", amount, None, {"clientOrderId": "someone-1"}
        )


@pytest.mark.parametrize("on_mismatch", ["pause", "adopt"])
async def test_running_position_check_reports_someone_elses_trade(
    exchange: CcxtPerpExchange,
    emulator: EmulatorHandle,
    store: SqliteStore,
    clock: ManualClock,
    on_mismatch: OnMismatch,
) -> None:
    """While running, a trade on the account by someone else is position.mismatch with the
    venue's and the bot's numbers, once; 'pause' leaves the baseline (the engine pauses),
    'adopt' records the venue's position as the new baseline. The bot's own later trades
    keep agreeing with the record either way."""
    ledger = await opened_ledger(exchange, store, clock, on_mismatch=on_mismatch)
    placed_order(await ledger.place(intent(1, Side.SELL, "0.5")))
    await sync_fills(exchange, store)
    first = await ledger.check_position((await exchange.position()).size_base)
    assert first.ok
    assert first.action == "ok"
    assert first.expected_position_base == Decimal("-0.5")

    await someone_else_sells(emulator, clock, 0.3)
    venue = (await exchange.position()).size_base
    with capture_logs() as logs:
        check = await ledger.check_position(venue)
    assert venue == Decimal("-0.8")
    assert check.venue_position_base == Decimal("-0.8")
    assert check.expected_position_base == Decimal("-0.5")
    assert [f.client_order_id for f in check.foreign_fills] == ["someone-1"]
    assert check.action == ("paused" if on_mismatch == "pause" else "adopted")
    alerts = [e for e in logs if e["event"] == "position.mismatch"]
    assert len(alerts) == 1
    assert alerts[0]["venue_position_base"] == "-0.8"
    assert alerts[0]["expected_position_base"] == "-0.5"
    if on_mismatch == "adopt":
        assert await store.get(Meta.POSITION_BASELINE) == Decimal("-0.8")
    else:
        assert await store.get_meta(MetaKey.POSITION_BASELINE) is None

    await sync_fills(exchange, store)  # the next tick stores the foreign fill too
    after = await ledger.check_position(venue)
    assert after.ok  # reported once; the record now explains the venue
    clock.advance(1.0)  # the bot's next order is a later tick (fills are cut at venue ms)
    placed_order(await ledger.place(intent(2, Side.BUY, "0.2", reduce_only=True)))
    await sync_fills(exchange, store)
    own = await ledger.check_position((await exchange.position()).size_base)
    assert own.ok
    assert own.expected_position_base == Decimal("-0.6")


async def test_running_position_check_survives_a_restart(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """A foreign trade found by a check is not reported again by the next start's
    reconciliation once adopted (baseline and checked cursor are in the store)."""
    ledger = await opened_ledger(exchange, store, clock, on_mismatch="adopt")
    placed_order(await ledger.place(intent(1, Side.SELL, "0.5")))
    await sync_fills(exchange, store)
    await someone_else_sells(emulator, clock, 0.3)
    adopted = await ledger.check_position((await exchange.position()).size_base)
    assert adopted.action == "adopted"
    await sync_fills(exchange, store)
    restarted = await opened_ledger(exchange, store, clock, on_mismatch="pause")
    result = await restarted.reconcile_at_start()
    assert result.action == "ok"
    assert result.findings.mismatches == ()
    assert result.findings.expected_position_base == Decimal("-0.8")
