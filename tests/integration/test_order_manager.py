"""OrderManager over the real ccxt binanceusdm client and the emulator: lost responses, rate
limits and start-up reconciliation, with the venue's own order log as the witness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import (
    SYMBOL,
    raw_ccxt_client,
    started_exchange,
)

from bot import errors
from bot.clock import ManualClock
from bot.domain import OrderIntent, OrderStatus, Side
from bot.exchange.ccxt_perp import CcxtPerpExchange
from bot.exchange.emulator import EmulatorHandle
from bot.exchange.orders import OrderManager, client_order_id
from bot.exchange.reconcile import BASELINE_META_KEY
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
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, mode: str
) -> None:
    """An order accepted by the venue whose response is lost (reset or slower than the
    timeout) comes back from execute() as the one order found by its client id."""
    manager = OrderManager(exchange, sleep=RecordedSleep())
    lost = intent(1, Side.SELL, "0.5")
    emulator.drop_next_order_response("reset" if mode == "reset" else "delay", delay_s=1.5)
    order = await manager.execute(lost)
    assert order.client_order_id == lost.client_order_id
    assert order.status is OrderStatus.FILLED
    assert order.filled_base == Decimal("0.5")
    assert venue_orders(emulator, lost.client_order_id) == 1
    assert len(emulator.venue.order_log()) == 1
    assert manager.pending == {}
    assert (await exchange.position()).size_base == Decimal("-0.5")


async def test_unknown_outcome_of_an_order_never_placed_is_confirmed_absent_not_resent(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """A 503 answered without creating the order is an unknown outcome: the manager looks the
    client id up over a growing grace period, finds nothing and raises OrderNotPlaced. It
    never sends the order again (it used to re-send at once when the first look-up missed)."""
    sleep = RecordedSleep()
    manager = OrderManager(exchange, sleep=sleep, resolve_backoff_s=0.01)
    never = intent(1, Side.SELL, "0.5")
    emulator.fail_next_order(status=503)
    with pytest.raises(errors.OrderNotPlaced) as caught:
        await manager.execute(never)
    assert caught.value.client_order_id == never.client_order_id
    assert sleep.waits == [0.01, 0.02, 0.04]  # absent at all absent_checks + 1 look-ups
    assert venue_orders(emulator, never.client_order_id) == 0
    assert emulator.venue.order_log() == []  # the fault is one-shot: a re-send would be here
    assert manager.pending == {}
    assert (await exchange.position()).size_base == 0

    fresh = intent(2, Side.SELL, "0.5")
    order = await manager.execute(fresh)  # nothing pending blocks the next decision
    assert order.status is OrderStatus.FILLED
    assert [o.client_order_id for o in emulator.venue.order_log()] == [fresh.client_order_id]


async def test_rate_limited_submit_waits_retry_after_and_places_once(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """Two 429s with Retry-After 3 s: the manager waits 3 s twice, then the order goes once."""
    sleep = RecordedSleep()
    manager = OrderManager(exchange, sleep=sleep)
    emulator.rate_limit_next(2, retry_after_s=3)
    placed = intent(1, Side.SELL, "0.5")
    order = await manager.execute(placed)
    assert sleep.waits == [3, 3]
    assert order.status is OrderStatus.FILLED
    assert venue_orders(emulator, placed.client_order_id) == 1


async def test_rate_limit_longer_than_max_wait_is_raised_not_slept(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """A Retry-After beyond max_wait_s fails the attempt (the next tick retries); no order."""
    sleep = RecordedSleep()
    manager = OrderManager(exchange, sleep=sleep, max_wait_s=5)
    emulator.rate_limit_next(1, retry_after_s=60)
    placed = intent(1, Side.SELL, "0.5")
    with pytest.raises(errors.RateLimited):
        await manager.execute(placed)
    assert sleep.waits == []
    assert venue_orders(emulator, placed.client_order_id) == 0
    assert manager.pending == {}


async def test_rate_limited_lookup_backs_off_then_resolves(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """The look-up after a lost response honours a 429's Retry-After, then finds the order."""
    sleep = RecordedSleep()
    manager = OrderManager(exchange, sleep=sleep)
    lost = intent(1, Side.SELL, "0.5")
    emulator.drop_next_order_response("reset")
    with pytest.raises(errors.OrderOutcomeUnknown):
        await exchange.submit(lost)
    manager.pending[lost.client_order_id] = lost
    with pytest.raises(errors.OrderOutcomeUnknown, match="unresolved"):
        await manager.execute(intent(2, Side.SELL, "0.5"))  # nothing new while unknown
    emulator.rate_limit_next(1, retry_after_s=2)
    report = await manager.resolve_pending()
    assert sleep.waits == [2]
    assert [o.client_order_id for o in report.resolved] == [lost.client_order_id]
    assert manager.pending == {}
    assert len(emulator.venue.order_log()) == 1


async def test_reconcile_stored_intents_resolves_sent_and_drops_never_seen(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """Stored unresolved intents: the one the venue accepted is resolved to its order, the
    one it never saw is reported never_seen and is not sent."""
    manager = OrderManager(exchange, sleep=RecordedSleep())
    sent, unsent = intent(1, Side.SELL, "0.5"), intent(2, Side.SELL, "0.7")
    emulator.drop_next_order_response("reset")
    with pytest.raises(errors.OrderOutcomeUnknown):
        await exchange.submit(sent)
    report = await manager.reconcile([sent, unsent])
    assert [o.client_order_id for o in report.resolved] == [sent.client_order_id]
    assert report.never_seen == [unsent]
    assert report.unknown == []
    assert venue_orders(emulator, unsent.client_order_id) == 0
    assert len(emulator.venue.order_log()) == 1


async def test_start_reconciliation_cancels_own_resting_order_and_keeps_position(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore, clock: ManualClock
) -> None:
    """An open position and a resting order of this bot (both in the store): the order is
    cancelled and recorded, the position agrees with the store, nothing is placed."""
    manager = OrderManager(exchange, sleep=RecordedSleep())
    opening = intent(1, Side.SELL, "1.0")
    await store.record_intent(clock.now(), 100, opening)
    await store.record_order(clock.now(), await manager.execute(opening))
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

    restarted = OrderManager(exchange, sleep=RecordedSleep())
    result = await restarted.reconcile_at_start(store, bot_id=BOT, fills_since_ms=0, now=1.0)
    assert result.action == "ok"
    assert result.findings.mismatches == ()
    assert [o.status for o in result.cancelled] == [OrderStatus.CANCELED]
    assert await exchange.open_orders() == []
    assert await store.unresolved_intents() == []
    assert (await exchange.position()).size_base == Decimal("-1.0")
    assert len(emulator.venue.order_log()) == 2  # the opening and the cancelled one, no more


async def test_start_reconciliation_mismatch_pauses_or_adopts(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, store: SqliteStore
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
    pausing = OrderManager(exchange, on_mismatch="pause")
    paused = await pausing.reconcile_at_start(store, bot_id=BOT, fills_since_ms=0, now=1.0)
    assert paused.action == "paused"
    assert paused.findings.venue_position_base == Decimal("-0.8")
    assert paused.findings.expected_position_base == Decimal("-0.8")  # explained by the fill
    assert [f.client_order_id for f in paused.findings.unknown_fills] == ["manual-1"]
    assert [o.client_order_id for o in paused.findings.foreign_open_orders] == ["manual-2"]
    assert len(paused.findings.mismatches) == 2
    assert await store.get_meta(BASELINE_META_KEY) is None
    assert [o.client_order_id for o in await exchange.open_orders()] == ["manual-2"]  # untouched

    # with the store's fill cursor past that fill only the position speaks: 0 against -0.8
    adopting = OrderManager(exchange, on_mismatch="adopt")
    cursor = int(emulator.venue.fills(0)[-1].timestamp) + 1
    adopted = await adopting.reconcile_at_start(store, bot_id=BOT, fills_since_ms=cursor, now=2.0)
    assert adopted.action == "adopted"
    assert adopted.findings.mismatches[0] == "position: venue -0.8, store expects 0"
    assert await store.get_meta(BASELINE_META_KEY) == "-0.8"
    async with raw_ccxt_client(emulator) as client:
        await client.cancel_order(None, SYMBOL, {"clientOrderId": "manual-2"})
    again = await adopting.reconcile_at_start(store, bot_id=BOT, fills_since_ms=cursor, now=3.0)
    assert again.action == "ok"
    assert again.findings.mismatches == ()
