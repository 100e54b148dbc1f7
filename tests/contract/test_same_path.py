"""Issue 14's acceptance: the same engine path (the same pool price path on anvil, the same
bot) through paper, ccxt + Binance emulator and ccxt + Hyperliquid emulator ends with the same
position, to the venue's amount step, and fees that differ only by the venues' fee schedules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import HL_SYMBOL, hyperliquid_settings, running_hyperliquid

from bot.app import build_bot
from bot.clock import ManualClock
from bot.domain import Fill
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import start_emulator
from bot.exchange.emulators.binance_usdm.wire import emulator_ccxt_settings
from bot.exchange.emulators.hyperliquid import hyperliquid_venue_params
from bot.exchange.paper import PaperExchange, venue_params
from bot.exchange.venue import SimVenue, VenueParams
from bot.ports import PerpExchange
from bot.sim.anvil import Anvil
from bot.sim.localnet import local_settings, start_world

pytestmark = pytest.mark.integration

PATH = [Decimal(p) for p in ("2100", "2250", "1900", "1850", "2000", "2300")]
KEY, SECRET = "same-path-key-0123", "same-path-secret-0123"
BPS = Decimal(10_000)


@dataclass(frozen=True)
class PathEnd:
    """Where one venue's run ended: the hedge, the fees the venue charged, its fills."""

    venue: str
    position_base: Decimal
    fees_quote: Decimal
    fills: list[Fill]
    params: VenueParams

    @property
    def notional_quote(self) -> Decimal:
        return sum((f.amount_base * f.price for f in self.fills), Decimal(0))


@pytest.fixture(scope="module")
async def anvil_node() -> AsyncIterator[Anvil]:
    """One automining anvil for the three runs (each deploys its own pool)."""
    async with Anvil() as node:
        yield node


async def run_path(node: Anvil, workdir: Path, venue: str) -> PathEnd:
    """Drive the engine over ``PATH`` on a fresh pool with ``venue``; where it ended."""
    async with AsyncExitStack() as stack:
        world = await stack.enter_async_context(start_world(node.rpc_url, seed=5))
        clock = ManualClock(float(world.start_timestamp))
        settings = local_settings(world, workdir, bot_id="same-path")
        params = venue_params(settings.exchange)
        exchange: PerpExchange
        set_mark: Callable[[Decimal], None]
        if venue == "paper":
            paper = PaperExchange(SimVenue(params, clock), workdir / "venue.json")
            exchange, set_mark = paper, paper.set_reference_price
        elif venue == "binance":
            binance = await start_emulator("127.0.0.1", 0, KEY, SECRET, params, clock)
            stack.push_async_callback(binance.close)
            exchange = CcxtPerpExchange(
                emulator_ccxt_settings(binance.url, settings.exchange, KEY, SECRET),
                clock,
            )
            set_mark = binance.set_mark
        else:
            params = hyperliquid_venue_params()
            hl = await stack.enter_async_context(
                running_hyperliquid(clock, mark=world.target_price, venue_params=params)
            )
            hl_settings = hyperliquid_settings(hl, leverage=settings.exchange.leverage)
            exchange, set_mark = CcxtPerpExchange(hl_settings, clock), hl.set_mark
            settings = settings.model_copy(
                update={"exchange": settings.exchange.model_copy(update={"symbol": HL_SYMBOL})}
            )
        bot = await build_bot(settings, clock=clock, exchange=exchange)
        stack.push_async_callback(bot.close)
        await bot.engine.start()
        set_mark(world.target_price)
        assert await bot.engine.tick(await bot.chain.latest_block()) is not None
        for price in PATH:
            step = await world.driver.move_to(price)
            clock.set(float(step.block_timestamp))
            set_mark(step.target_price)
            report = await bot.engine.tick(step.block_number)
            assert report is not None, bot.engine.stats.last_error
            drift = report.position.size_base - report.decision.target_base
            assert abs(drift) <= report.decision.band_base
        # the last order's fills are read and stored by the tick after it (bot.engine.cadence)
        step = await world.driver.move_to(PATH[-1])
        clock.set(float(step.block_timestamp))
        settled = await bot.engine.tick(step.block_number)
        assert settled is not None, bot.engine.stats.last_error
        assert settled.order is None
        totals = await bot.store.totals()
        position = await bot.exchange.position()
        fills = await bot.exchange.fills(0)
        assert bot.engine.stats.rebalances == 1 + len(PATH) == len(fills)
    return PathEnd(venue, position.size_base, totals["fees_quote"], fills, params)


async def test_same_engine_path_same_position_and_fees_by_schedule(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Paper, Binance emulator and Hyperliquid emulator: the final hedge agrees to the
    coarser amount step; each venue's fees are its taker rate on what it traded, and the
    traded notionals agree to one step per trade, so the fees differ only by the schedule."""
    ends = [
        await run_path(anvil_node, tmp_path / name, name)
        for name in ("paper", "binance", "hyperliquid")
    ]
    paper = ends[0]
    assert paper.position_base < 0
    top_price = max(PATH) * Decimal("1.01")  # the fills' prices, slippage included
    for end in ends:
        rate = end.params.taker_fee_bps / BPS
        assert abs(end.fees_quote - end.notional_quote * rate) <= Decimal("0.000001") * len(
            end.fills
        ), end.venue
        step = max(end.params.amount_step, paper.params.amount_step)
        assert abs(end.position_base - paper.position_base) <= step, end.venue
        notional_slack = step * top_price * len(end.fills)
        assert abs(end.notional_quote - paper.notional_quote) <= notional_slack, end.venue
        by_paper_schedule = end.fees_quote / rate * (paper.params.taker_fee_bps / BPS)
        fee_slack = notional_slack * paper.params.taker_fee_bps / BPS + Decimal("0.0001")
        assert abs(by_paper_schedule - paper.fees_quote) <= fee_slack, end.venue
    assert ends[1].fees_quote == paper.fees_quote  # the same schedule: the same fees
    assert ends[2].fees_quote < paper.fees_quote  # 4.5 bps against 5
