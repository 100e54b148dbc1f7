"""``CcxtPerpExchange`` on Hyperliquid: the real ccxt ``hyperliquid`` client against the
emulator over HTTP. Hex client ids, IOC caps, statuses, fills, funding, builder fee, keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from emulator_support import (
    HL_MASTER,
    HL_STRANGER,
    HL_SYMBOL,
    hyperliquid_settings,
    running_hyperliquid,
    started_hyperliquid_exchange,
    venue_clock,
)

from bot import errors
from bot.clock import ManualClock
from bot.domain import OrderIntent, OrderStatus, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.ccxt.settings import BuilderFee
from bot.exchange.client_ids import (
    client_id_prefix,
    client_order_id,
    hex_client_id,
    hex_client_id_prefix,
)
from bot.exchange.emulators.hyperliquid import CCXT_BUILDER, HyperliquidHandle

pytestmark = pytest.mark.integration

BOT = "hl-adapter-test"


def intent(
    seq: int, side: Side, amount: str, cap: str, *, reduce_only: bool = False
) -> OrderIntent:
    """An IOC intent of this test's bot at block 100 with ``cap`` as its slippage limit."""
    return OrderIntent(
        client_order_id(BOT, 100, seq),
        HL_SYMBOL,
        side,
        Decimal(amount),
        reduce_only,
        Decimal(cap),
    )


@pytest.fixture
def clock() -> ManualClock:
    return venue_clock()


@pytest.fixture
async def hl(clock: ManualClock) -> AsyncIterator[HyperliquidHandle]:
    async with running_hyperliquid(clock) as handle:
        yield handle


@pytest.fixture
async def exchange(hl: HyperliquidHandle, clock: ManualClock) -> AsyncIterator[CcxtPerpExchange]:
    async with started_hyperliquid_exchange(hl, clock) as started:
        yield started


async def test_start_sets_leverage_and_isolated_margin(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    """Start reads the market rules and sets 5x isolated in one updateLeverage."""
    rules = await exchange.market_rules()
    assert (rules.symbol, rules.amount_step, rules.min_notional) == (
        HL_SYMBOL,
        Decimal("0.0001"),
        Decimal(10),
    )
    assert exchange.account_setup is not None
    assert (exchange.account_setup.leverage, exchange.account_setup.margin_mode) == (5, "isolated")
    await exchange.submit(intent(1, Side.SELL, "0.1", "1990"))
    position = await exchange.position()
    assert position.leverage == 5
    assert position.margin == pytest.approx(Decimal("0.1") * position.entry_price / 5)


async def test_open_grow_shrink_flatten_with_hex_cloids(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    """Every order reaches the venue under the 128-bit hex form of its text id, fills at
    once (ccxt's status None read as filled) and moves the position -0.5, -0.75, -0.5, 0."""
    steps = [
        (intent(1, Side.SELL, "0.5", "1990"), Decimal("-0.5")),
        (intent(2, Side.SELL, "0.25", "1990"), Decimal("-0.75")),
        (intent(3, Side.BUY, "0.25", "2010", reduce_only=True), Decimal("-0.5")),
        (intent(4, Side.BUY, "0.5", "2010", reduce_only=True), Decimal(0)),
    ]
    for sent, expected in steps:
        order = await exchange.submit(sent)
        assert order.client_order_id == sent.client_order_id
        assert order.status is OrderStatus.FILLED
        assert order.filled_base == sent.amount_base
        assert (await exchange.position()).size_base == expected
    venue_ids = [o.client_order_id for o in hl.emulator.venue.order_log()]
    assert venue_ids == [hex_client_id(sent.client_order_id) for sent, _ in steps]
    assert all(v.startswith(hex_client_id_prefix(BOT)) and len(v) == 34 for v in venue_ids)


async def test_order_found_by_client_id_with_its_average(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    """fetch_order by our text id asks the venue by cloid; the venue's orderStatus has no
    average price, so it comes from the order's own fills; an unknown id is None."""
    placed = await exchange.submit(intent(1, Side.SELL, "0.5", "1990"))
    found = await exchange.fetch_order(placed.client_order_id)
    assert found is not None
    assert (found.client_order_id, found.exchange_order_id) == (
        placed.client_order_id,
        placed.exchange_order_id,
    )
    assert (found.status, found.filled_base) == (OrderStatus.FILLED, Decimal("0.5"))
    assert found.average_price == placed.average_price
    assert await exchange.fetch_order(client_order_id(BOT, 100, 99)) is None


async def test_ioc_cap_is_rounded_to_the_venue_rule_never_looser(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    """A sell cap of 1990.03 goes out as 1990.1 (up: 5 significant figures), a buy cap of
    2010.07 as 2010.0 (down); both are accepted by the venue's tick check."""
    await exchange.submit(intent(1, Side.SELL, "0.1", "1990.03"))
    await exchange.submit(intent(2, Side.BUY, "0.1", "2010.07", reduce_only=True))
    rows = hl.emulator.state()["orders"]
    assert [r["order"]["limitPx"] for r in rows] == ["1990.1", "2010.0"]


async def test_market_intent_is_refused_before_sending(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    """Hyperliquid has no market order: an intent without a cap is InvalidOrder, unsent."""
    market = OrderIntent(client_order_id(BOT, 100, 1), HL_SYMBOL, Side.SELL, Decimal("0.1"), False)
    with pytest.raises(errors.InvalidOrder, match="needs a price"):
        await exchange.submit(market)
    assert hl.emulator.venue.order_log() == []


async def test_partial_ioc_is_partially_filled(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    """Half an IOC fills: the answer reads PARTIALLY_FILLED with 0.25 of 0.5."""
    hl.admin("partial_fill_next_ioc", {"fraction": "0.5"})
    order = await exchange.submit(intent(1, Side.SELL, "0.5", "1990"))
    assert (order.status, order.filled_base) == (OrderStatus.PARTIALLY_FILLED, Decimal("0.25"))
    assert (await exchange.position()).size_base == Decimal("-0.25")


async def test_refusals_map_to_domain_errors(exchange: CcxtPerpExchange) -> None:
    """Reduce-only without a position, under $10 (MinNotionalError, from the one table of
    Hyperliquid texts: ccxt raises it as InvalidOrder) and an IOC that cannot match get the
    domain errors the ledger branches on."""
    with pytest.raises(errors.ReduceOnlyRejected):
        await exchange.submit(intent(1, Side.BUY, "0.1", "2010", reduce_only=True))
    with pytest.raises(errors.MinNotionalError, match=r"minimum value of \$10"):
        await exchange.submit(intent(2, Side.SELL, "0.004", "1990"))
    with pytest.raises(errors.InvalidOrder, match="could not immediately match"):
        await exchange.submit(intent(3, Side.BUY, "0.1", "1900"))


async def test_dropped_answer_is_unknown_then_found_once(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    """The venue accepts the order and the connection drops: OrderOutcomeUnknown, then the
    order is found by its client id and the venue holds it once."""
    hl.admin("drop_next_order", {"mode": "reset"})
    sent = intent(1, Side.SELL, "0.1", "1990")
    with pytest.raises(errors.OrderOutcomeUnknown):
        await exchange.submit(sent)
    found = await exchange.fetch_order(sent.client_order_id)
    assert found is not None
    assert found.filled_base == Decimal("0.1")
    assert [o.client_order_id for o in hl.emulator.venue.order_log()] == [
        hex_client_id(sent.client_order_id)
    ]


async def test_fills_and_hourly_funding(hl: HyperliquidHandle, exchange: CcxtPerpExchange) -> None:
    """A 0.5 short pays the 4.5 bp taker fee under its text id; an emulator hour later the
    funding 0.5 · 2000 · 0.0000125 = 0.0125 is received, with its rate and position."""
    start_ms = int(hl.emulator.clock.now() * 1000) - 1000
    order = await exchange.submit(intent(1, Side.SELL, "0.5", "1990"))
    hl.advance_clock(3600)
    fills = await exchange.fills(start_ms)
    assert [f.client_order_id for f in fills] == [order.client_order_id]
    assert order.average_price is not None
    expected_fee = Decimal("0.5") * order.average_price * Decimal("0.00045")
    assert fills[0].fee_quote == expected_fee.quantize(Decimal("0.000001"))
    funding = await exchange.funding_payments(start_ms)
    assert len(funding) == 1
    assert (funding[0].amount_quote, funding[0].rate, funding[0].position_base) == (
        Decimal("0.0125"),
        Decimal("0.0000125"),
        Decimal("-0.5"),
    )
    assert funding[0].mark_price == Decimal(2000)


async def test_resting_own_order_listed_under_its_text_id_and_cancelled(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    """A resting order with this bot's hex cloid is listed under the text id (the prefix
    restart reconciliation looks for) and cancels by it."""
    text_id = client_order_id(BOT, 100, 7)
    client = exchange._calls.api()
    await client.create_order(
        HL_SYMBOL,
        "limit",
        "buy",
        0.01,
        1900,
        {"timeInForce": "Gtc", "clientOrderId": hex_client_id(text_id)},
    )
    listed = await exchange.open_orders()
    assert [o.client_order_id for o in listed] == [text_id]
    assert listed[0].client_order_id.startswith(client_id_prefix(BOT))
    await exchange.cancel(text_id)
    assert await exchange.open_orders() == []


async def test_no_builder_and_no_referrer_by_default(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    """hedgebot never approves or attaches a builder nor sets a referrer on its own: the
    emulator saw no approval, no referrer and no builder field on any order."""
    await exchange.submit(intent(1, Side.SELL, "0.2", "1990"))
    await exchange.submit(intent(2, Side.BUY, "0.2", "2010", reduce_only=True))
    state = hl.emulator.state()
    assert state["builder_fields_seen"] == [None, None]
    assert state["builder_approvals"] == {}
    assert state["referrer_attempts"] == []


async def test_no_builder_even_with_the_master_key(
    hl: HyperliquidHandle, clock: ManualClock
) -> None:
    """With the master key (which ccxt would use to approve its own builder) still none."""
    async with started_hyperliquid_exchange(hl, clock, agent=HL_MASTER) as exchange:
        await exchange.submit(intent(1, Side.SELL, "0.2", "1990"))
    state = hl.emulator.state()
    assert state["builder_fields_seen"] == [None]
    assert state["builder_approvals"] == {}


async def test_configured_builder_is_approved_attached_and_booked(
    hl: HyperliquidHandle, clock: ManualClock
) -> None:
    """A configured builder (1 bp) is approved once at start, rides on every order
    (f = 10 tenths of a bp) and its fee is added to each fill's fee."""
    builder = BuilderFee(CCXT_BUILDER, Decimal(1))
    settings = hyperliquid_settings(hl, agent=HL_MASTER, builder=builder)
    exchange = CcxtPerpExchange(settings, clock)
    await exchange.start()
    try:
        start_ms = int(hl.emulator.clock.now() * 1000) - 1000
        order = await exchange.submit(intent(1, Side.SELL, "0.5", "1990"))
        fills = await exchange.fills(start_ms)
    finally:
        await exchange.close()
    state = hl.emulator.state()
    assert state["builder_approvals"] == {CCXT_BUILDER: 10}
    assert state["builder_fields_seen"] == [{"b": CCXT_BUILDER, "f": 10}]
    assert order.average_price is not None
    notional = Decimal("0.5") * order.average_price
    taker = (notional * Decimal("0.00045")).quantize(Decimal("0.000001"))
    assert fills[0].fee_quote == taker + notional * Decimal("0.0001")


async def test_unknown_key_is_an_authentication_error_at_start(
    hl: HyperliquidHandle, clock: ManualClock
) -> None:
    """A key that is neither the account's nor an approved agent's: the venue refuses the
    first signed action (updateLeverage) and start raises AuthenticationError once."""
    exchange = CcxtPerpExchange(hyperliquid_settings(hl, agent=HL_STRANGER), clock)
    with pytest.raises(errors.AuthenticationError, match="does not exist"):
        await exchange.start()
    assert hl.emulator.venue.order_log() == []


async def test_closing_fill_carries_the_venues_closed_pnl(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    """A short of 0.5 closed 10 lower: the closing fill's realized PnL is the venue's
    userFills closedPnl ((entry - exit) x 0.5; fees are booked apart), the opening fill's
    0 as the venue reports it, never a default."""
    start_ms = int(hl.emulator.clock.now() * 1000) - 1000
    await exchange.submit(intent(1, Side.SELL, "0.5", "1990"))
    hl.set_mark(Decimal(1990))
    await exchange.submit(intent(2, Side.BUY, "0.5", "2000", reduce_only=True))
    fills = await exchange.fills(start_ms)
    assert [f.realized_pnl for f in fills] == [v.realized_pnl for v in hl.emulator.venue.fills(0)]
    opening, closing = fills
    assert opening.realized_pnl == 0
    assert closing.realized_pnl == (opening.price - closing.price) * Decimal("0.5") != 0


async def test_next_funding_time_follows_the_venue_clock(hl: HyperliquidHandle) -> None:
    """The next funding time is the next full hour of the venue's clock (its L2 book's
    time), not the bot's: the venue is moved 3 h 20 min ahead of the adapter's clock."""
    bot_clock = ManualClock(t=hl.emulator.clock.now())
    hl.advance_clock(3 * 3600 + 1200)
    async with started_hyperliquid_exchange(hl, bot_clock) as exchange:
        quote = await exchange.quote()
    venue_s = int(hl.emulator.clock.now())
    assert quote.next_funding_ts == (venue_s // 3600 + 1) * 3600
    assert quote.next_funding_ts > (int(bot_clock.now()) // 3600 + 3) * 3600
    assert quote.timestamp == venue_s
