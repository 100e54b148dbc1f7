"""The ``PerpExchange`` contract: every venue implementation behaves the same to the engine.

Each test runs once per venue of ``contract_venues.VENUES`` (paper, paper on live market
data, ccxt + the Binance emulator, ...). It drives the adapter the engine uses and checks
the venue's own records. A venue that genuinely cannot do something skips, naming itself
and the missing feature.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

import pytest
from contract_venues import LEVERAGE, MARK, VenueUnderTest

from bot import errors
from bot.domain import MarketRules, OrderStatus, Side

pytestmark = pytest.mark.integration


def steps(rules: MarketRules, amount: Decimal) -> Decimal:
    """``amount`` floored to the venue's amount step."""
    return (amount / rules.amount_step).to_integral_value(rounding=ROUND_FLOOR) * rules.amount_step


async def test_start_sets_leverage_and_isolated_margin(venue: VenueUnderTest) -> None:
    """The configured leverage and margin mode are the venue's after start, and again after
    a restart asking for another leverage; the position reports it."""
    assert (venue.sim.leverage, venue.sim.margin_mode) == (LEVERAGE, "isolated")
    exchange = await venue.restart(leverage=7)
    assert (venue.sim.leverage, venue.sim.margin_mode) == (7, "isolated")
    await exchange.submit(venue.intent("lev", Side.SELL, "1"))
    assert (await exchange.position()).leverage == 7


async def test_rules_and_quote_are_the_venues(venue: VenueUnderTest) -> None:
    """Market rules are the venue's (a price on the adapter's tick is one the venue takes:
    Hyperliquid's 5 significant figures make 0.1 at 2000); the quote carries its mark,
    funding rate, a next funding time ahead and a bid below the ask."""
    await venue.set_funding_rate(Decimal("0.0003"))
    rules = await venue.exchange.market_rules()
    own = venue.sim.rules()
    assert rules.amount_step == own.amount_step
    assert rules.price_tick % own.price_tick == 0
    assert (rules.min_amount, rules.min_notional) == (own.min_amount, own.min_notional)
    quote = await venue.exchange.quote()
    assert (quote.mark_price, quote.funding_rate) == (MARK, Decimal("0.0003"))
    assert quote.bid is not None
    assert quote.ask is not None
    assert quote.bid < quote.ask
    assert quote.next_funding_ts > quote.timestamp


async def test_order_book_adds_the_books_bid_and_ask_to_the_ticks_mark(
    venue: VenueUnderTest,
) -> None:
    """``order_book(mark_quote)``: the same mark, funding and times, with the bid and ask
    ``quote`` reads (what sizing needs; the mark is not read again)."""
    lean = await venue.exchange.mark_quote()
    booked = await venue.exchange.order_book(lean)
    full = await venue.exchange.quote()
    assert (booked.mark_price, booked.funding_rate) == (lean.mark_price, lean.funding_rate)
    assert (booked.next_funding_ts, booked.timestamp) == (lean.next_funding_ts, lean.timestamp)
    assert (booked.bid, booked.ask) == (full.bid, full.ask)
    assert booked.bid is not None
    assert booked.ask is not None
    assert booked.bid < booked.ask


async def test_open_grow_shrink_flatten(venue: VenueUnderTest) -> None:
    """A short is opened, grown, reduced and flattened (reduce-only); the fills say so and
    the wallet moves by realized PnL less fees (to the venue's rounding of quote amounts)."""
    exchange = venue.exchange
    start = await exchange.balance()
    opened = await exchange.submit(venue.intent("open", Side.SELL, "1.0"))
    assert (opened.status, opened.filled_base) == (OrderStatus.FILLED, Decimal("1.0"))
    assert (await exchange.position()).size_base == Decimal("-1.0")
    await exchange.submit(venue.intent("grow", Side.SELL, "0.5", limit_price=Decimal(1900)))
    assert (await exchange.position()).size_base == Decimal("-1.5")
    shrunk = await exchange.submit(venue.intent("shrink", Side.BUY, "0.5", reduce_only=True))
    assert shrunk.reduce_only
    assert (await exchange.position()).size_base == Decimal("-1.0")
    flat = venue.intent("flat", Side.BUY, "1.0", reduce_only=True, limit_price=Decimal(2100))
    await exchange.submit(flat)
    assert (await exchange.position()).size_base == 0

    fills = await exchange.fills(0)
    labels = ("open", "grow", "shrink", "flat")
    assert [f.client_order_id for f in fills] == [venue.client_id(x) for x in labels]
    assert sum(f.amount_base for f in fills) == Decimal("3.0")
    assert all(f.fee_quote > 0 for f in fills)
    end = await exchange.balance()
    booked = sum(f.realized_pnl - f.fee_quote for f in fills)
    assert abs(end.wallet_balance - start.wallet_balance - booked) <= venue.quote_precision * len(
        fills
    )


async def test_order_below_min_notional_is_refused_and_leaves_nothing(
    venue: VenueUnderTest,
) -> None:
    """An order worth less than the venue's minimum notional raises MinNotionalError; the
    venue has no such order and no position."""
    rules = await venue.exchange.market_rules()
    assert rules.min_notional > 0
    amount = max(rules.min_amount, steps(rules, rules.min_notional / 2 / MARK))
    tiny = venue.intent("tiny", Side.SELL, amount)
    with pytest.raises(errors.MinNotionalError):
        await venue.exchange.submit(tiny)
    assert venue.orders_with_id(tiny.client_order_id) == []
    assert (await venue.exchange.position()).size_base == 0


async def test_reduce_only_without_a_position_is_refused(venue: VenueUnderTest) -> None:
    """A reduce-only order with no position raises ReduceOnlyRejected and fills nothing."""
    with pytest.raises(errors.ReduceOnlyRejected):
        await venue.exchange.submit(venue.intent("ro", Side.BUY, "0.5", reduce_only=True))
    assert (await venue.exchange.position()).size_base == 0


async def test_order_beyond_the_collateral_is_insufficient_margin(venue: VenueUnderTest) -> None:
    """An order ten times the wallet's notional raises InsufficientMargin and fills nothing."""
    rules = await venue.exchange.market_rules()
    balance = await venue.exchange.balance()
    whale = venue.intent("whale", Side.SELL, steps(rules, balance.wallet_balance * 10 / MARK))
    with pytest.raises(errors.InsufficientMargin):
        await venue.exchange.submit(whale)
    assert (await venue.exchange.position()).size_base == 0


async def test_dropped_response_is_unknown_found_by_client_id_and_never_duplicated(
    venue: VenueUnderTest,
) -> None:
    """An accepted order whose answer is lost raises OrderOutcomeUnknown; it is found by its
    client id, and sending it again never makes a second order."""
    venue.drop_next_order_response()
    lost = venue.intent("lost", Side.SELL, "0.5")
    with pytest.raises(errors.OrderOutcomeUnknown) as caught:
        await venue.exchange.submit(lost)
    assert caught.value.client_order_id == lost.client_order_id
    found = await venue.exchange.fetch_order(lost.client_order_id)
    assert found is not None
    assert (found.status, found.filled_base) == (OrderStatus.FILLED, Decimal("0.5"))
    try:
        again = await venue.exchange.submit(lost)
    except errors.ExchangeError:
        pass  # a venue may refuse the duplicate instead of answering with the first
    else:
        assert again.exchange_order_id == found.exchange_order_id
    assert len(venue.orders_with_id(lost.client_order_id)) == 1
    assert (await venue.exchange.position()).size_base == Decimal("-0.5")


async def test_partial_ioc_fill_is_reported_and_read_back(venue: VenueUnderTest) -> None:
    """An IOC the venue fills only in part is PARTIALLY_FILLED with what filled, the
    position is that amount, and a look-up by client id agrees."""
    venue.partial_fill_next_ioc(Decimal("0.5"))
    order = await venue.exchange.submit(
        venue.intent("ioc", Side.SELL, "1.0", limit_price=Decimal(1900))
    )
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert Decimal(0) < order.filled_base < Decimal("1.0")
    assert (await venue.exchange.position()).size_base == -order.filled_base
    fetched = await venue.exchange.fetch_order(order.client_order_id)
    assert fetched is not None
    assert (fetched.status, fetched.filled_base) == (order.status, order.filled_base)


async def test_restart_finds_the_open_position_and_the_resting_order(
    venue: VenueUnderTest,
) -> None:
    """After a restart the adapter reads the same position and lists the resting order by
    client id; it can cancel it, and a cancelled order cannot be cancelled twice."""
    await venue.exchange.submit(venue.intent("pos", Side.SELL, "1.0"))
    resting = await venue.place_resting("rest", Side.SELL, "0.5", MARK * Decimal("1.1"))
    exchange = await venue.restart()
    assert (await exchange.position()).size_base == Decimal("-1.0")
    listed = await exchange.open_orders()
    assert [(o.client_order_id, o.status) for o in listed] == [(resting, OrderStatus.OPEN)]
    await exchange.cancel(resting)
    with pytest.raises(errors.OrderNotFound):
        await exchange.cancel(resting)
    cancelled = await exchange.fetch_order(resting)
    assert cancelled is not None
    assert cancelled.status is OrderStatus.CANCELED
    assert await exchange.open_orders() == []


async def test_resting_order_placed_before_a_restart_fills_when_the_mark_reaches_it(
    venue: VenueUnderTest,
) -> None:
    """A resting sell survives the restart and fills at its price once the mark gets there."""
    price = MARK * Decimal("1.1")
    resting = await venue.place_resting("rest-fill", Side.SELL, "0.5", price)
    exchange = await venue.restart()
    await venue.set_mark(price + 1)
    filled = await exchange.fetch_order(resting)
    assert filled is not None
    assert (filled.status, filled.average_price) == (OrderStatus.FILLED, price)
    assert (await exchange.position()).size_base == Decimal("-0.5")


async def test_fills_after_restart_include_orders_from_before_it(venue: VenueUnderTest) -> None:
    """Fills read by a restarted adapter list the orders of the run before and after it,
    in order, with their client ids, sizes and fees."""
    since_ms = int(venue.clock.now() * 1000)
    await venue.exchange.submit(venue.intent("before", Side.SELL, "1.0"))
    await venue.advance(60)
    exchange = await venue.restart()
    await exchange.submit(venue.intent("after", Side.SELL, "0.5"))
    fills = await exchange.fills(since_ms)
    assert [(f.client_order_id, f.amount_base) for f in fills] == [
        (venue.client_id("before"), Decimal("1.0")),
        (venue.client_id("after"), Decimal("0.5")),
    ]
    assert all(f.fee_quote > 0 for f in fills)


async def test_funding_is_paid_on_the_size_held_at_each_funding_time(
    venue: VenueUnderTest,
) -> None:
    """Resizing between funding times: each payment is on the position held at its funding
    time (-size x mark x rate: a short receives a positive rate), at the venue's own times
    (the venue's schedule arranges the test's clock)."""
    rate = Decimal("0.0001")
    await venue.set_funding_rate(rate)
    since_ms = int(venue.clock.now() * 1000)
    first = venue.sim.quote().next_funding_ts
    if first - venue.clock.now() < 900:  # too close to resize before it: wait for the next
        await venue.advance(first - venue.clock.now() + 1)
        first = venue.sim.quote().next_funding_ts
    interval = venue.sim.params.funding_interval_s
    exchange = venue.exchange
    await exchange.submit(venue.intent("f-open", Side.SELL, "2.0"))
    await venue.advance(first - venue.clock.now() - 600)  # ten minutes before funding
    await exchange.submit(venue.intent("f-grow", Side.SELL, "1.0"))
    await exchange.submit(venue.intent("f-shrink", Side.BUY, "1.5", reduce_only=True))
    await venue.advance(1200)  # funding settles on -1.5
    await exchange.submit(venue.intent("f-grow2", Side.SELL, "1.0"))
    await venue.advance(interval)  # and the next one on -2.5
    payments = await exchange.funding_payments(since_ms)
    assert [p.position_base for p in payments] == [Decimal("-1.5"), Decimal("-2.5")]
    assert [p.timestamp for p in payments] == [first * 1000, (first + interval) * 1000]
    assert [p.amount_quote for p in payments] == [
        Decimal("1.5") * MARK * rate,
        Decimal("2.5") * MARK * rate,
    ]
