"""The real ccxt binanceusdm client, through CcxtPerpExchange, against the Binance emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import (
    MARK,
    SYMBOL,
    raw_ccxt_client,
    running_emulator,
    settings_for,
    started_exchange,
)
from structlog.testing import capture_logs

from bot import errors
from bot.clock import ManualClock
from bot.domain import OrderIntent, OrderStatus, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import EmulatorHandle
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def exchange(emulator: EmulatorHandle, clock: ManualClock) -> AsyncIterator[CcxtPerpExchange]:
    """The adapter, started against the emulator."""
    async with started_exchange(emulator, clock) as started:
        yield started


def intent(
    client_id: str,
    side: Side,
    amount: str,
    *,
    reduce_only: bool = False,
    limit_price: str | None = None,
) -> OrderIntent:
    return OrderIntent(
        client_order_id=client_id,
        symbol=SYMBOL,
        side=side,
        amount_base=Decimal(amount),
        reduce_only=reduce_only,
        limit_price=Decimal(limit_price) if limit_price is not None else None,
    )


def orders_with_id(emulator: EmulatorHandle, client_id: str) -> int:
    return sum(1 for o in emulator.venue.order_log() if o.client_order_id == client_id)


async def test_ccxt_start_reports_accepted_settings_and_rules(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """start() applies leverage and margin mode and reads rules from exchangeInfo."""
    assert exchange.account_setup is not None
    assert exchange.account_setup.leverage == 5
    assert exchange.account_setup.margin_mode == "isolated"
    assert emulator.venue.margin_mode == "isolated"
    rules = await exchange.market_rules()
    venue_rules = emulator.venue.rules()
    assert rules.amount_step == venue_rules.amount_step
    assert rules.price_tick == venue_rules.price_tick
    assert rules.min_amount == venue_rules.min_amount
    assert rules.min_notional == venue_rules.min_notional


async def test_ccxt_quote_has_mark_funding_and_book(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """quote() carries the venue's mark, funding rate and a bid below the ask."""
    emulator.set_funding_rate(Decimal("0.0003"))
    quote = await exchange.quote()
    assert quote.mark_price == MARK
    assert quote.funding_rate == Decimal("0.0003")
    assert quote.bid is not None
    assert quote.ask is not None
    assert quote.bid < quote.ask
    assert quote.next_funding_ts > quote.timestamp


async def test_ccxt_open_grow_shrink_flatten(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """A short is opened, grown, reduced and flattened; fills and position follow."""
    start_balance = await exchange.balance()
    opened = await exchange.submit(intent("h-open", Side.SELL, "1.0"))
    assert opened.status == OrderStatus.FILLED
    assert opened.filled_base == Decimal("1.0")
    assert (await exchange.position()).size_base == Decimal("-1.0")

    await exchange.submit(intent("h-grow", Side.SELL, "0.5", limit_price="1900"))
    assert (await exchange.position()).size_base == Decimal("-1.5")

    shrunk = await exchange.submit(intent("h-shrink", Side.BUY, "0.5", reduce_only=True))
    assert shrunk.reduce_only
    assert (await exchange.position()).size_base == Decimal("-1.0")

    await exchange.submit(intent("h-flat", Side.BUY, "1.0", reduce_only=True, limit_price="2100"))
    flat = await exchange.position()
    assert flat.size_base == 0
    assert flat.mark_price == MARK

    fills = await exchange.fills(0)
    assert [f.client_order_id for f in fills] == ["h-open", "h-grow", "h-shrink", "h-flat"]
    assert sum(f.amount_base for f in fills) == Decimal("3.0")
    assert all(f.fee_quote > 0 for f in fills)
    end_balance = await exchange.balance()
    realized = sum(f.realized_pnl - f.fee_quote for f in fills)
    assert end_balance.wallet_balance == start_balance.wallet_balance + realized


async def test_ccxt_min_notional_rejected(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """An order below the minimum notional raises MinNotionalError and creates nothing."""
    rules = await exchange.market_rules()
    with pytest.raises(errors.MinNotionalError):
        await exchange.submit(intent("tiny", Side.SELL, str(rules.min_amount)))
    assert orders_with_id(emulator, "tiny") == 0
    assert (await exchange.position()).size_base == 0


async def test_ccxt_reduce_only_without_position_rejected(exchange: CcxtPerpExchange) -> None:
    """A reduce-only order with no position raises ReduceOnlyRejected."""
    with pytest.raises(errors.ReduceOnlyRejected):
        await exchange.submit(intent("ro", Side.BUY, "0.5", reduce_only=True))


async def test_ccxt_insufficient_margin(exchange: CcxtPerpExchange) -> None:
    """An order far beyond the collateral raises InsufficientMargin."""
    balance = await exchange.balance()
    too_big = (balance.wallet_balance * 10 / MARK).quantize(Decimal("0.001"))
    with pytest.raises(errors.InsufficientMargin):
        await exchange.submit(intent("whale", Side.SELL, str(too_big)))


async def test_ccxt_dropped_response_is_unknown_then_found(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """An accepted order whose response is lost is OrderOutcomeUnknown, found by client id."""
    emulator.drop_next_order_response("reset")
    lost = intent("lost-1", Side.SELL, "0.5")
    with pytest.raises(errors.OrderOutcomeUnknown) as caught:
        await exchange.submit(lost)
    assert caught.value.client_order_id == "lost-1"

    found = await exchange.fetch_order("lost-1")
    assert found is not None
    assert found.status == OrderStatus.FILLED
    assert found.filled_base == Decimal("0.5")
    retried = await exchange.submit(lost)  # idempotent: the venue refuses a second order
    assert retried.exchange_order_id == found.exchange_order_id
    assert orders_with_id(emulator, "lost-1") == 1
    assert (await exchange.position()).size_base == Decimal("-0.5")


async def test_ccxt_response_slower_than_timeout_is_unknown(
    emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """A response slower than the client timeout is OrderOutcomeUnknown; the order exists."""
    async with started_exchange(emulator, clock, timeout_ms=300) as exchange:
        emulator.drop_next_order_response("delay", delay_s=1.0)
        with pytest.raises(errors.OrderOutcomeUnknown):
            await exchange.submit(intent("slow-1", Side.SELL, "0.5"))
        found = await exchange.fetch_order("slow-1")
    assert found is not None
    assert found.filled_base == Decimal("0.5")
    assert orders_with_id(emulator, "slow-1") == 1


async def test_ccxt_unknown_client_id_is_none(exchange: CcxtPerpExchange) -> None:
    """fetch_order returns None for an id the venue never saw."""
    assert await exchange.fetch_order("never-sent") is None


async def test_ccxt_rate_limited(exchange: CcxtPerpExchange, emulator: EmulatorHandle) -> None:
    """HTTP 429 / -1003 becomes RateLimited with the venue's Retry-After; then it recovers."""
    emulator.rate_limit_next(1, retry_after_s=7)
    with pytest.raises(errors.RateLimited) as caught:
        await exchange.position()
    assert caught.value.retry_after_s == 7
    assert (await exchange.position()).size_base == 0


async def test_ccxt_rate_limited_order_is_not_created(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """A 429 on submit raises RateLimited (not unknown) and the venue has no such order."""
    emulator.rate_limit_next(1)
    with pytest.raises(errors.RateLimited):
        await exchange.submit(intent("rl-1", Side.SELL, "0.5"))
    assert orders_with_id(emulator, "rl-1") == 0


async def test_ccxt_bad_secret_is_authentication_error(
    emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """A wrong API secret fails start() with AuthenticationError."""
    adapter = CcxtPerpExchange(settings_for(emulator, secret="not-the-secret"), clock)
    with pytest.raises(errors.AuthenticationError, match="Signature"):
        await adapter.start()


async def test_ccxt_unknown_api_key_is_authentication_error(
    emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """An unknown API key fails start() with AuthenticationError."""
    adapter = CcxtPerpExchange(settings_for(emulator, key="someone-else"), clock)
    with pytest.raises(errors.AuthenticationError, match="API-key"):
        await adapter.start()


async def test_ccxt_ioc_partial_fill(exchange: CcxtPerpExchange, emulator: EmulatorHandle) -> None:
    """A forced partial IOC fill reports PARTIALLY_FILLED with the filled amount."""
    emulator.partial_fill_next_ioc(Decimal("0.5"))
    order = await exchange.submit(intent("ioc-1", Side.SELL, "1.0", limit_price="1900"))
    assert order.status == OrderStatus.PARTIALLY_FILLED
    assert Decimal(0) < order.filled_base < Decimal("1.0")
    assert (await exchange.position()).size_base == -order.filled_base
    fetched = await exchange.fetch_order("ioc-1")
    assert fetched is not None
    assert fetched.status == OrderStatus.PARTIALLY_FILLED


async def test_ccxt_ioc_beyond_cap_expires(exchange: CcxtPerpExchange) -> None:
    """An IOC whose slippage cap is below the market fills nothing and expires."""
    order = await exchange.submit(intent("ioc-cap", Side.BUY, "1.0", limit_price="1500"))
    assert order.status == OrderStatus.EXPIRED
    assert order.filled_base == 0
    assert (await exchange.position()).size_base == 0


async def test_ccxt_funding_payment(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """Funding on a short with a positive rate is credited, with rate, mark and size."""
    await exchange.submit(intent("fund-open", Side.SELL, "2.0"))
    since_ms = int(clock.now() * 1000)
    emulator.set_funding_rate(Decimal("0.0001"))
    emulator.advance_clock(8 * 3600 + 1)
    payments = await exchange.funding_payments(since_ms)
    assert len(payments) == 1
    payment = payments[0]
    assert payment.rate == Decimal("0.0001")
    assert payment.amount_quote > 0
    assert payment.position_base == Decimal("-2.0")
    assert payment.mark_price == MARK


async def test_ccxt_venue_down_before_submit_is_unavailable(clock: ManualClock) -> None:
    """Connection refused before an order is ExchangeUnavailable, not OrderOutcomeUnknown."""
    async with running_emulator(clock) as handle:
        adapter = CcxtPerpExchange(settings_for(handle), clock)
        await adapter.start()
    try:
        with pytest.raises(errors.ExchangeUnavailable):  # also drops the stale keep-alive
            await adapter.position()
        with pytest.raises(errors.ExchangeUnavailable) as caught:
            await adapter.submit(intent("down-1", Side.SELL, "0.5"))
        assert not isinstance(caught.value, errors.OrderOutcomeUnknown)
    finally:
        await adapter.close()


async def test_ccxt_funding_on_position_at_funding_time_never_double_counted(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, clock: ManualClock, tmp_path: Path
) -> None:
    """Resizing between funding times: each payment is on the size held at its funding time,
    and polling the venue again (overlapping windows) stores no payment twice."""
    rate, mark = Decimal("0.0001"), MARK
    emulator.set_funding_rate(rate)
    first_funding = (await exchange.quote()).next_funding_ts
    if first_funding - clock.now() < 1800:  # the venue clock starts at wall time: when that
        # is under half an hour before a funding time, start just after it (flat: no payment)
        emulator.advance_clock(first_funding - clock.now() + 60)
        first_funding = (await exchange.quote()).next_funding_ts
    since_ms = int(clock.now() * 1000)
    await exchange.submit(intent("f-open", Side.SELL, "2.0"))
    emulator.advance_clock(first_funding - clock.now() - 600)  # ten minutes before funding
    await exchange.submit(intent("f-grow", Side.SELL, "1.0"))
    await exchange.submit(intent("f-shrink", Side.BUY, "1.5", reduce_only=True))
    emulator.advance_clock(1200)  # funding settles on -1.5
    await exchange.submit(intent("f-grow2", Side.SELL, "1.0"))
    emulator.advance_clock(8 * 3600)  # and the next one on -2.5

    store = await SqliteStore.open(tmp_path / "store.sqlite")
    try:
        stored = 0
        for window_start in (since_ms, since_ms, first_funding * 1000 - 1):  # overlapping polls
            for payment in await exchange.funding_payments(window_start):
                stored += await store.record_funding(payment)
        payments = await exchange.funding_payments(since_ms)
        totals = await store.totals()
    finally:
        await store.close()
    assert [p.position_base for p in payments] == [Decimal("-1.5"), Decimal("-2.5")]
    assert [p.timestamp for p in payments] == [
        first_funding * 1000,
        (first_funding + 8 * 3600) * 1000,
    ]
    assert [p.amount_quote for p in payments] == [Decimal("1.5") * mark * rate,
                                                   Decimal("2.5") * mark * rate]  # fmt: skip
    assert stored == 2
    assert totals["funding_quote"] == Decimal("4.0") * mark * rate


async def test_ccxt_gtc_order_rests_is_listed_cancelled_and_fills_when_reached(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """A GTC limit away from the mark rests: open_orders lists it, cancel removes it; another
    fills at its price once the mark gets there."""
    async with raw_ccxt_client(emulator) as client:
        for cid, price in (("gtc-1", 2200), ("gtc-2", 2300)):
            await client.create_order(
                SYMBOL, "limit", "sell", 0.5, price, {"timeInForce": "GTC", "clientOrderId": cid}
            )
    resting = await exchange.open_orders()
    assert [(o.client_order_id, o.status) for o in resting] == [
        ("gtc-1", OrderStatus.OPEN),
        ("gtc-2", OrderStatus.OPEN),
    ]
    await exchange.cancel("gtc-2")
    with pytest.raises(errors.OrderNotFound):
        await exchange.cancel("gtc-2")
    emulator.set_mark(Decimal(2250))
    assert await exchange.open_orders() == []
    filled = await exchange.fetch_order("gtc-1")
    cancelled = await exchange.fetch_order("gtc-2")
    assert filled is not None
    assert cancelled is not None
    assert (filled.status, filled.average_price) == (OrderStatus.FILLED, Decimal(2200))
    assert cancelled.status == OrderStatus.CANCELED
    assert (await exchange.position()).size_base == Decimal("-0.5")


async def test_ccxt_liquidation_fill_is_readable(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """A liquidation by the venue shows up as a fill of its own closing order, so reading
    fills keeps working after it (it used to fail with 'order not found')."""
    await exchange.submit(intent("liq-open", Side.SELL, "1.0"))
    position = await exchange.position()
    assert position.liquidation_price is not None
    emulator.set_mark(position.liquidation_price * Decimal("1.05"))
    assert (await exchange.position()).size_base == 0
    assert emulator.venue.liquidations == 1
    fills = await exchange.fills(0)
    assert fills[0].client_order_id == "liq-open"
    closing = fills[-1]
    assert closing.client_order_id.startswith("autoclose-")
    assert closing.side == Side.BUY
    assert closing.amount_base == Decimal("1.0")


async def test_ccxt_market_id_symbol_is_normalised_and_position_read(
    emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """A market id ("ETHUSDT") as the configured symbol still reads the venue's short: the
    adapter works on the unified symbol (position() used to report flat)."""
    adapter = CcxtPerpExchange(settings_for(emulator, symbol="ETHUSDT"), clock)
    await adapter.start()
    try:
        rules = await adapter.market_rules()
        opened = await adapter.submit(
            replace(intent("id-open", Side.SELL, "1.0"), symbol=rules.symbol)
        )
        position = await adapter.position()
        fills = await adapter.fills(0)
    finally:
        await adapter.close()
    assert position.size_base == Decimal("-1.0")
    assert rules.symbol == position.symbol == opened.symbol == SYMBOL
    assert [(f.client_order_id, f.symbol) for f in fills] == [("id-open", SYMBOL)]


async def test_ccxt_position_rows_for_another_symbol_are_an_error_not_flat(
    exchange: CcxtPerpExchange,
) -> None:
    """Open position rows none of which is the hedge symbol raise ExchangeError naming them,
    never a flat position (which would make the bot sell the hedge again)."""
    await exchange.submit(intent("other-open", Side.SELL, "1.0"))
    exchange._symbol = "BTC/USDT:USDT"  # a venue answering under a name we do not recognise
    exchange._calls.api().markets["BTC/USDT:USDT"] = exchange._calls.api().markets[SYMBOL]
    with pytest.raises(errors.ExchangeError, match="ETH/USDT:USDT"):
        await exchange.position()


async def test_ccxt_fills_after_restart_find_an_order_created_before_the_window(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle, clock: ManualClock
) -> None:
    """After a restart (empty order cache) fills(since=fill time) ties a fill to its order even
    though the order was created before that time (allOrders filters on creation time)."""
    async with raw_ccxt_client(emulator) as client:
        await client.create_order(
            SYMBOL, "limit", "sell", 0.5, 2200, {"timeInForce": "GTC", "clientOrderId": "rest-1"}
        )
    emulator.advance_clock(90)
    emulator.set_mark(Decimal(2250))
    fill_ms = emulator.venue.fills(0)[-1].timestamp
    order = await exchange.fetch_order("rest-1")
    assert order is not None
    assert order.timestamp < fill_ms  # created 90 s before it filled
    async with started_exchange(emulator, clock) as restarted:
        fills = await restarted.fills(fill_ms)
    assert [(f.client_order_id, f.amount_base, f.timestamp) for f in fills] == [
        ("rest-1", Decimal("0.5"), fill_ms)
    ]


async def test_ccxt_fee_in_another_asset_is_booked_as_zero_with_a_warning(
    exchange: CcxtPerpExchange,
) -> None:
    """A fee paid in BNB does not break fills(): it counts as 0 quote and is logged."""
    with capture_logs() as logs:
        bnb = exchange._fee_quote({"cost": 0.0012, "currency": "BNB"})
        usdt = exchange._fee_quote({"cost": 0.5, "currency": "USDT"})
    assert (bnb, usdt) == (Decimal(0), Decimal("0.5"))
    assert [(e["event"], e["currency"], e["amount"]) for e in logs] == [
        ("fill.fee_not_in_quote", "BNB", "0.0012")
    ]


async def test_ccxt_duplicate_client_id_with_failed_lookup_is_unknown(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """A duplicate client id whose follow-up lookup fails is OrderOutcomeUnknown (the order
    may exist), not InvalidOrder (which would mark the intent rejected)."""
    first = intent("dup-1", Side.SELL, "0.5")
    await exchange.submit(first)
    emulator.rate_limit_next(1, after=1)  # the order is refused as a duplicate; its lookup 429s
    with pytest.raises(errors.OrderOutcomeUnknown) as caught:
        await exchange.submit(first)
    assert caught.value.client_order_id == "dup-1"
    assert "duplicate" in str(caught.value).lower()
    assert orders_with_id(emulator, "dup-1") == 1
    assert (await exchange.position()).size_base == Decimal("-0.5")


async def test_ccxt_503_on_submit_is_an_unknown_outcome_with_nothing_placed(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """A 503 (-1007, execution status unknown) answered instead of placing the order reaches
    the bot as OrderOutcomeUnknown for that client id; the venue holds no such order, and the
    next order goes through normally."""
    emulator.fail_next_order(status=503)
    with pytest.raises(errors.OrderOutcomeUnknown) as caught:
        await exchange.submit(intent("e503-1", Side.SELL, "0.5"))
    assert caught.value.client_order_id == "e503-1"
    assert "-1007" in str(caught.value)
    assert await exchange.fetch_order("e503-1") is None
    assert emulator.venue.order_log() == []
    assert emulator.faults.fail_next == []  # one-shot
    placed = await exchange.submit(intent("e503-2", Side.SELL, "0.5"))
    assert placed.status == OrderStatus.FILLED
    assert [o.client_order_id for o in emulator.venue.order_log()] == ["e503-2"]


async def test_ccxt_failed_income_read_is_unavailable_and_places_nothing(
    exchange: CcxtPerpExchange, emulator: EmulatorHandle
) -> None:
    """fail_next_request on GET /fapi/v1/income fails exactly one funding read."""
    emulator.fail_next_request("GET", "/fapi/v1/income", status=503)
    with pytest.raises(errors.ExchangeUnavailable):
        await exchange.funding_payments(0)
    assert await exchange.funding_payments(0) == []
