"""The real ccxt binanceusdm client, through CcxtPerpExchange, against an emulator that answers
badly: rows ccxt cannot size, refused start-up calls, a host clock ahead of the venue, deeply
nested and oversized bodies. Each answer is a read error or a logged refusal, never a crash
and never a position read as flat."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from decimal import Decimal

import ccxt
import ccxt.async_support as ccxt_async
import pytest
from emulator_support import (
    API_KEY,
    API_SECRET,
    MARK,
    SYMBOL,
    raw_ccxt_client,
    running_emulator,
    settings_for,
    started_exchange,
)
from structlog.testing import capture_logs

from bot import errors
from bot.clock import ManualClock, WallClock
from bot.domain import OrderIntent, OrderStatus, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import EmulatorHandle
from bot.safety import DEFAULT_RECURSION_LIMIT, restore_recursion_limit

pytestmark = pytest.mark.integration

POSITION_RISK = "/fapi/v3/positionRisk"
# ccxt estimates `contracts` from notional, mark or liquidation price when positionAmt is
# missing; with all four gone it reports exactly the row: contracts None, side short
NULL_CONTRACTS = {"positionAmt": None, "markPrice": None, "liquidationPrice": None}


@pytest.fixture(autouse=True)
def sane_recursion_limit() -> Iterator[None]:
    """What the daemon's CLI does at start: the C JSON decoder must raise, not overflow."""
    restore_recursion_limit()
    yield
    assert sys.getrecursionlimit() == DEFAULT_RECURSION_LIMIT


@pytest.fixture
async def exchange(emulator: EmulatorHandle, clock: ManualClock) -> AsyncIterator[CcxtPerpExchange]:
    """The adapter, started against the emulator."""
    async with started_exchange(emulator, clock) as started:
        yield started


def sell(client_id: str, amount: str) -> OrderIntent:
    return OrderIntent(client_id, SYMBOL, Side.SELL, Decimal(amount), reduce_only=False)


# ------------------------------------------------------------ position rows


async def test_null_contracts_row_is_a_read_error_not_flat(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """ccxt's row {contracts: None, side: short, notional: 2000} raises VenueDataError."""
    await exchange.submit(sell("h-1", "1.0"))
    emulator.corrupt_position_rows(NULL_CONTRACTS)
    async with raw_ccxt_client(emulator) as client:
        (row,) = await client.fetch_positions([SYMBOL])
    assert (row["contracts"], row["side"], row["notional"]) == (None, "short", 2000.0)
    # refused raw, before ccxt estimates: the venue's own size field is the one named
    refused = r"positionRisk\[0\]: positionAmt missing or null"
    with pytest.raises(errors.VenueDataError, match=refused):
        await exchange.position()
    emulator.faults.reset()
    assert (await exchange.position()).size_base == Decimal("-1.0")


async def test_ccxt_estimate_without_position_amt_is_refused(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """Without Binance's positionAmt ccxt estimates 1.008 contracts; the adapter refuses it."""
    await exchange.submit(sell("h-2", "1.0"))
    emulator.corrupt_position_rows(drop=("positionAmt",))
    async with raw_ccxt_client(emulator) as client:
        (row,) = await client.fetch_positions([SYMBOL])
    assert row["contracts"] is not None  # ccxt's guess, not the venue's size
    with pytest.raises(errors.VenueDataError, match="positionAmt missing"):
        await exchange.position()


async def test_position_amt_text_and_nan_are_read_errors(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """positionAmt "abc" or "NaN" is a read error; positionAmt "0" with no position is flat."""
    await exchange.submit(sell("h-3", "1.0"))
    for bad in ("abc", "NaN", "1e400"):
        emulator.faults.reset()
        emulator.corrupt_position_rows({"positionAmt": bad})
        with pytest.raises(errors.ExchangeError):
            await exchange.position()
    emulator.faults.reset()
    assert (await exchange.position()).size_base == Decimal("-1.0")


# ------------------------------------------------------- start-up refusals


async def test_leverage_refused_with_a_position_open_start_goes_on(
    emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """-2027 on set leverage: start succeeds at the venue's leverage (5), logged, and trades."""
    async with started_exchange(emulator, clock) as first:
        await first.submit(sell("big-1", "2.0"))
    emulator.refuse_leverage(-2027)
    adapter = CcxtPerpExchange(replace(settings_for(emulator), leverage=10), clock)
    with capture_logs() as logs:
        await adapter.start()
    try:
        assert adapter.account_setup is not None
        assert adapter.account_setup.leverage == 5
        assert "-2027" in adapter.account_setup.note
        refused = [e for e in logs if e["event"] == "exchange.leverage_refused"]
        assert [(e["wanted"], e["current"]) for e in refused] == [(10, 5)]
        assert (await adapter.position()).leverage == 5
        order = await adapter.submit(sell("big-2", "0.5"))
        assert order.status == OrderStatus.FILLED
    finally:
        await adapter.close()


async def test_margin_type_already_set_is_success(
    emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """A second start gets Binance -4046 "No need to change margin type": that is success."""
    async with started_exchange(emulator, clock):
        pass
    with capture_logs() as logs:
        async with started_exchange(emulator, clock) as second:
            assert second.account_setup is not None
            assert second.account_setup.margin_mode == "isolated"
            assert second.account_setup.note == ""
    assert not [e for e in logs if e["event"] == "exchange.margin_mode_refused"]


# ------------------------------------------------------------------ clock


async def test_host_clock_ahead_start_syncs_and_orders_go_through() -> None:
    """Host 2.5 s ahead: unsynced ccxt gets -1021; the adapter syncs at start and trades."""
    clock = ManualClock(t=time.time() - 2.5)
    async with running_emulator(clock) as emulator:
        emulator.set_host_clock_ahead(2.5)
        async with raw_ccxt_client(emulator) as client:
            with pytest.raises(ccxt.InvalidNonce):
                await client.fetch_balance()
        async with started_exchange(emulator, clock) as exchange:
            order = await exchange.submit(sell("skew-1", "0.5"))
            assert order.status == OrderStatus.FILLED
            assert (await exchange.position()).size_base == Decimal("-0.5")


async def test_clock_skew_switch_alone_refuses_an_unsynced_client_and_the_sync_fixes_it() -> None:
    """Venue on the wall clock, server clock 2.5 s behind the host by the switch alone: /time
    answers the server clock, a raw ccxt client without time sync gets -1021 (InvalidNonce)
    and nothing is placed; the adapter syncs at start and its order fills."""
    clock = WallClock()
    async with running_emulator(clock) as emulator:  # type: ignore[arg-type]
        emulator.set_host_clock_ahead(2.5)
        client = ccxt_async.binanceusdm(
            {
                "apiKey": API_KEY,
                "secret": API_SECRET,
                "options": {"fetchCurrencies": False, "fetchMargins": False},
            }
        )
        client.urls["api"].update(emulator.ccxt_urls())
        try:
            server_ms = await client.fetch_time()
            behind_ms = client.milliseconds() - server_ms
            await client.load_markets()
            with pytest.raises(ccxt.InvalidNonce, match="-1021"):
                await client.create_order(SYMBOL, "market", "sell", 0.5)
        finally:
            await client.close()
        assert 2500 <= behind_ms < 3500
        assert emulator.venue.order_log() == []
        async with started_exchange(emulator, clock) as exchange:  # type: ignore[arg-type]
            order = await exchange.submit(sell("skew-wall-1", "0.5"))
            assert order.status == OrderStatus.FILLED
            assert (await exchange.position()).size_base == Decimal("-0.5")


async def test_timestamp_refusal_resyncs_and_retries_once(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """The venue clock jumps 15 s after start (beyond ccxt's 10 s recvWindow) and the host
    clock is no help: one -1021, a re-sync, and the call succeeds."""
    clock.advance(15)
    emulator.set_host_clock_ahead(30)
    with capture_logs() as logs:
        assert (await exchange.balance()).wallet_balance > 0
        order = await exchange.submit(sell("skew-2", "0.5"))
    assert order.status == OrderStatus.FILLED
    assert [e["event"] for e in logs].count("exchange.timestamp_refused") == 1


# ----------------------------------------------------------- hostile bodies


async def test_deeply_nested_answer_is_a_read_error_and_the_next_call_works(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """80,000 nested arrays from the venue: VenueDataError, no crash, then normal reads."""
    emulator.answer_next_with_deep_json(80_000, path=POSITION_RISK)
    with pytest.raises(errors.VenueDataError, match="nested deeper"):
        await exchange.position()
    assert (await exchange.position()).size_base == 0


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_answer_is_refused_unread(
    emulator: EmulatorHandle, clock: ManualClock, chunked: bool
) -> None:
    """A 4 MiB answer with a 1 MiB limit: VenueDataError naming the limit, then it recovers."""
    adapter = CcxtPerpExchange(
        replace(settings_for(emulator), max_response_bytes=1024 * 1024), clock
    )
    await adapter.start()
    try:
        emulator.answer_next_with_huge_body(4 * 1024 * 1024, path=POSITION_RISK, chunked=chunked)
        with pytest.raises(errors.VenueDataError, match="limit 1048576"):
            await adapter.position()
        assert (await adapter.position()).mark_price == MARK
    finally:
        await adapter.close()


async def test_non_object_answer_is_a_read_error(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """A list where ccxt wants an object (deep JSON of depth 3): an ExchangeError, no crash."""
    emulator.answer_next_with_deep_json(3, path="/fapi/v1/premiumIndex")
    with pytest.raises(errors.ExchangeError):
        await exchange.quote()
    assert (await exchange.quote()).mark_price == MARK


async def test_order_answer_that_cannot_be_read_is_an_unknown_outcome(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """An unreadable answer to an order is OrderOutcomeUnknown (it may exist), not a crash."""
    emulator.answer_next_with_deep_json(80_000, path="/fapi/v1/order")
    with pytest.raises(errors.OrderOutcomeUnknown):
        await exchange.submit(sell("deep-1", "0.5"))
