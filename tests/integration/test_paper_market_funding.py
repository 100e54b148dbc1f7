"""Paper trading on live market data when the live venue's clock is not the bot's: the paper
venue settles funding at the live venue's funding times (its clock, read from its order
book), with the rate it quoted, once, also across a restart. The live venues are the Binance
USD-M and Hyperliquid emulators over HTTP (the real ccxt clients), each on its own clock;
the bot's clock stands still."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import MARK, SYMBOL, running_emulator, running_hyperliquid, venue_clock

from bot.clock import ManualClock
from bot.config import ExchangeConfig, PaperVenueConfig
from bot.domain import FundingPayment, OrderIntent, OrderStatus, Side
from bot.exchange.market_data_settings import MarketDataSettings
from bot.exchange.paper import PaperExchange

pytestmark = pytest.mark.integration

HL_SYMBOL = "ETH/USDC:USDC"
RATE = Decimal("0.0002")
SIZE = Decimal("2.0")


def paper_config(tmp_path: Path, market: MarketDataSettings) -> ExchangeConfig:
    """A paper exchange section on ``market``, state in ``tmp_path``."""
    return ExchangeConfig(
        kind="paper",
        symbol=SYMBOL,
        paper=PaperVenueConfig(state_path=tmp_path / "venue.json", market_data=market),
    )


@asynccontextmanager
async def live_paper(
    config: ExchangeConfig, bot_clock: ManualClock
) -> AsyncIterator[PaperExchange]:
    """A started paper exchange on live data, the bot on ``bot_clock``; closed on exit."""
    paper = PaperExchange.from_config(config, bot_clock)
    await paper.start()
    try:
        yield paper
    finally:
        await paper.close()


def bot_clock() -> ManualClock:
    """The bot's (host's) clock: now, never advanced."""
    return ManualClock(t=float(int(time.time())))


async def short_across_one_funding_time(
    paper: PaperExchange, advance: Callable[[float], None], interval_s: int
) -> int:
    """Sell ``SIZE``, move the live venue's clock just past its next funding time (and less
    than one interval beyond), read a quote; the funding time crossed (Unix s)."""
    quote = await paper.quote()
    assert quote.funding_rate == RATE
    order = await paper.submit(OrderIntent("short-1", quote.symbol, Side.SELL, SIZE, False))
    assert order.status is OrderStatus.FILLED
    next_funding = quote.next_funding_ts
    advance(next_funding - quote.timestamp + 1)
    after = await paper.quote()
    assert after.timestamp > next_funding  # the live venue's time, past its funding time
    assert after.next_funding_ts == next_funding + interval_s
    return next_funding


def assert_one_short_payment(payments: list[FundingPayment], funding_ts: int) -> None:
    """Exactly one payment, at ``funding_ts``, on the short, of ``size × mark × rate``
    received (a short receives a positive rate)."""
    assert [(p.timestamp, p.rate, p.position_base, p.mark_price) for p in payments] == [
        (funding_ts * 1000, RATE, -SIZE, MARK)
    ]
    assert payments[0].amount_quote == SIZE * MARK * RATE
    assert payments[0].amount_quote > 0


async def test_binance_funding_settles_at_the_live_venues_time_once(tmp_path: Path) -> None:
    """The Binance emulator's clock moves 8 h past the bot's: the paper short gets one
    payment at the live funding time with the live rate; a restart and later reads within
    the same interval pay nothing more; the wallet holds it once."""
    venue = venue_clock()
    bot = bot_clock()
    async with running_emulator(venue) as emulator:
        emulator.set_funding_rate(RATE)
        market = MarketDataSettings(
            exchange_id="binanceusdm", symbol=SYMBOL, urls=emulator.ccxt_urls(), timeout_ms=3000
        )
        config = paper_config(tmp_path, market)
        async with live_paper(config, bot) as paper:
            funding_ts = await short_across_one_funding_time(
                paper, emulator.advance_clock, 8 * 3600
            )
            payments = await paper.funding_payments(0)
            wallet = (await paper.balance()).wallet_balance
        assert bot.now() < funding_ts  # the bot's clock never reached it
        assert_one_short_payment(payments, funding_ts)
        async with live_paper(config, bot) as again:
            emulator.advance_clock(3600)
            await again.quote()
            assert await again.funding_payments(0) == payments
            assert (await again.balance()).wallet_balance == wallet
            assert (await again.position()).size_base == -SIZE


async def test_hyperliquid_paper_starts_and_settles_on_the_venues_clock(tmp_path: Path) -> None:
    """The Hyperliquid emulator's clock runs 5 h ahead of the host (ccxt dates its next
    funding from the host clock): the paper venue starts, its next funding time is the next
    full hour of the venue's book time, and an hour later the short gets exactly one
    payment, none more after a restart."""
    venue = venue_clock()
    bot = bot_clock()
    venue.advance(5 * 3600 + 1234.5)
    async with running_hyperliquid(venue) as handle:
        handle.set_funding_rate(RATE)
        market = MarketDataSettings(
            exchange_id="hyperliquid", symbol=HL_SYMBOL, sandbox=True, urls=handle.ccxt_urls()
        )
        config = paper_config(tmp_path, market)
        async with live_paper(config, bot) as paper:
            quote = await paper.quote()
            venue_ms = int(venue.now() * 1000)
            assert quote.next_funding_ts * 1000 == (venue_ms // 3_600_000 + 1) * 3_600_000
            funding_ts = await short_across_one_funding_time(paper, handle.advance_clock, 3600)
            payments = await paper.funding_payments(0)
        assert_one_short_payment(payments, funding_ts)
        async with live_paper(config, bot) as again:
            handle.advance_clock(60)
            await again.quote()
            assert await again.funding_payments(0) == payments
