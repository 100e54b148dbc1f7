"""Paper trading on live market data: the paper venue reads a venue's public endpoints through
the real ccxt client (no keys) and fills locally against that book. The live venues here are
the Binance USD-M and Hyperliquid emulators over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import MARK, SYMBOL, venue_clock

from bot import errors
from bot.clock import ManualClock
from bot.config import ExchangeConfig, PaperVenueConfig
from bot.domain import OrderIntent, OrderStatus, Side
from bot.exchange.emulators.binance_usdm import EmulatorHandle
from bot.exchange.emulators.hyperliquid import start_hyperliquid_emulator
from bot.exchange.market_data_settings import MarketDataSettings
from bot.exchange.paper import PaperExchange

pytestmark = pytest.mark.integration

HL_SYMBOL = "ETH/USDC:USDC"
HL_MASTER = "0x" + "11" * 20


def live_config(tmp_path: Path, market: MarketDataSettings, **paper: Decimal) -> ExchangeConfig:
    """A paper exchange section on live market data, state in ``tmp_path``."""
    return ExchangeConfig(
        kind="paper",
        symbol=SYMBOL,
        paper=PaperVenueConfig(
            state_path=tmp_path / "venue.json",
            market_data=market,
            amount_step=Decimal("0.1"),  # the live market's rules replace these
            price_tick=Decimal(1),
            **paper,
        ),
    )


def binance_market(emulator: EmulatorHandle) -> MarketDataSettings:
    """Public binanceusdm data from the emulator."""
    return MarketDataSettings(
        exchange_id="binanceusdm", symbol=SYMBOL, urls=emulator.ccxt_urls(), timeout_ms=3000
    )


@asynccontextmanager
async def live_paper(config: ExchangeConfig, clock: ManualClock) -> AsyncIterator[PaperExchange]:
    """A started paper exchange on live data; closed on exit."""
    paper = PaperExchange.from_config(config, clock)
    await paper.start()
    try:
        yield paper
    finally:
        await paper.close()


def sell(client_id: str, amount: str, limit: str | None = None) -> OrderIntent:
    return OrderIntent(
        client_id, SYMBOL, Side.SELL, Decimal(amount), False, Decimal(limit) if limit else None
    )


async def test_rules_mark_funding_and_fills_come_from_the_live_binance_market(
    emulator: EmulatorHandle, clock: ManualClock, tmp_path: Path
) -> None:
    """Rules from exchangeInfo, the mark/funding/next funding time from premiumIndex, a sell
    filled at the live best bid with the paper taker fee; the live venue itself trades
    nothing (its own order log stays empty)."""
    emulator.set_mark(Decimal("2345.67"))
    emulator.set_funding_rate(Decimal("0.0003"))
    live = emulator.venue.quote()
    assert live.bid is not None
    config = live_config(tmp_path, binance_market(emulator), taker_fee_bps=Decimal(4))
    async with live_paper(config, clock) as paper:
        rules = await paper.market_rules()
        assert (rules.amount_step, rules.price_tick) == (Decimal("0.001"), Decimal("0.01"))
        assert rules.min_notional == emulator.venue.rules().min_notional
        quote = await paper.quote()
        assert (quote.mark_price, quote.funding_rate) == (Decimal("2345.67"), Decimal("0.0003"))
        assert (quote.bid, quote.ask) == (live.bid, live.ask)
        assert quote.next_funding_ts == live.next_funding_ts

        order = await paper.submit(sell("p-1", "1.5"))
        assert order.status is OrderStatus.FILLED
        assert order.average_price == live.bid
        assert order.fee_quote == Decimal("1.5") * live.bid * Decimal(4) / Decimal(10_000)
        assert (await paper.position()).size_base == Decimal("-1.5")
    assert emulator.venue.order_log() == []


async def test_order_larger_than_the_live_book_is_a_partial_fill(
    emulator: EmulatorHandle, clock: ManualClock, tmp_path: Path
) -> None:
    """The emulator's book holds 1000 base a side: a sell of 1200 fills 1000, the rest
    expires (PARTIALLY_FILLED), and the position is what filled."""
    config = live_config(tmp_path, binance_market(emulator), initial_balance=Decimal(10**8))
    async with live_paper(config, clock) as paper:
        order = await paper.submit(sell("big", "1200"))
        assert order.status is OrderStatus.PARTIALLY_FILLED
        assert order.filled_base == Decimal(1000)
        assert (await paper.position()).size_base == Decimal(-1000)


async def test_live_read_failures_are_errors_never_a_stale_or_zero_fill(
    emulator: EmulatorHandle, clock: ManualClock, tmp_path: Path
) -> None:
    """A failed mark/funding read raises and leaves the mark where it was; a failed book read
    before an order raises ExchangeUnavailable and places nothing."""
    async with live_paper(live_config(tmp_path, binance_market(emulator)), clock) as paper:
        before = (await paper.quote()).mark_price
        emulator.set_mark(Decimal(2100))
        emulator.fail_next_request("GET", "/fapi/v1/premiumIndex")
        with pytest.raises(errors.ExchangeUnavailable):
            await paper.quote()
        assert (await paper.position()).mark_price == before
        emulator.fail_next_request("GET", "/fapi/v1/depth")
        with pytest.raises(errors.ExchangeUnavailable):
            await paper.submit(sell("no-book", "1.0"))
        assert paper.venue.order_log() == []
        assert (await paper.quote()).mark_price == Decimal(2100)


async def test_funding_settles_at_the_live_venues_time_and_rate(
    emulator: EmulatorHandle, clock: ManualClock, tmp_path: Path
) -> None:
    """A paper short receives the live rate at the live venue's next funding time, on the
    live mark; the paper state after a restart keeps it."""
    emulator.set_funding_rate(Decimal("0.0002"))
    config = live_config(tmp_path, binance_market(emulator))
    async with live_paper(config, clock) as paper:
        next_funding = (await paper.quote()).next_funding_ts
        await paper.submit(sell("f-1", "2.0"))
        emulator.advance_clock(next_funding - clock.now() + 1)  # shared clock: both venues
        await paper.quote()
        payments = await paper.funding_payments(0)
    assert [(p.timestamp, p.rate, p.position_base) for p in payments] == [
        (next_funding * 1000, Decimal("0.0002"), Decimal("-2.0"))
    ]
    assert payments[0].amount_quote == Decimal("2.0") * MARK * Decimal("0.0002")
    async with live_paper(config, clock) as again:
        assert await again.funding_payments(0) == payments
        assert (await again.position()).size_base == Decimal("-2.0")


async def test_live_hyperliquid_market_public_info(tmp_path: Path) -> None:
    """The Hyperliquid emulator's public /info as the live market: its rules (0.0001 step,
    $10 minimum), hourly funding, and a fill at its best bid."""
    clock = venue_clock()
    handle = await start_hyperliquid_emulator("127.0.0.1", 0, HL_MASTER, clock)
    handle.set_mark(MARK)
    try:
        live = handle.emulator.venue.quote()
        market = MarketDataSettings(
            exchange_id="hyperliquid", symbol=HL_SYMBOL, sandbox=True, urls=handle.ccxt_urls()
        )
        async with live_paper(live_config(tmp_path, market), clock) as paper:
            rules = await paper.market_rules()
            assert (rules.amount_step, rules.min_notional) == (Decimal("0.0001"), Decimal(10))
            quote = await paper.quote()
            assert quote.mark_price == MARK
            assert quote.next_funding_ts - quote.timestamp <= 3600
            assert paper.venue.params.funding_interval_s == 3600
            order = await paper.submit(sell("hl-1", "0.5"))
            assert (order.status, order.average_price) == (OrderStatus.FILLED, live.bid)
            with pytest.raises(errors.MinNotionalError):
                await paper.submit(sell("hl-tiny", "0.004"))
    finally:
        await handle.close()
