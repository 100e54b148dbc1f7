"""A trade's fills are read by the ticks after it (issue 16's lean cadence): a daemon stopped
right after the trading tick, before any later tick, books them when it starts again, once,
on the real stack (anvil + the real ccxt ``binanceusdm`` client against the emulator)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import API_KEY, API_SECRET

from bot.app import build_bot
from bot.clock import ManualClock
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import start_emulator
from bot.exchange.emulators.binance_usdm.wire import emulator_ccxt_settings
from bot.exchange.paper import venue_params
from bot.sim.anvil import Anvil
from bot.sim.localnet import local_settings, start_world

pytestmark = pytest.mark.integration


async def test_fills_of_the_last_trade_are_booked_after_a_restart(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    async with start_world(anvil_node.rpc_url, seed=5, base_is_token0=True) as world:
        clock = ManualClock(float(world.start_timestamp))
        settings = local_settings(world, tmp_path, bot_id="restart-fills")
        emulator = await start_emulator(
            "127.0.0.1", 0, API_KEY, API_SECRET, venue_params(settings.exchange), clock
        )
        emulator.set_mark(world.target_price)

        def exchange() -> CcxtPerpExchange:
            return CcxtPerpExchange(
                emulator_ccxt_settings(emulator.url, settings.exchange, API_KEY, API_SECRET),
                clock,
            )

        try:
            bot = await build_bot(settings, clock=clock, exchange=exchange())
            try:
                await bot.engine.start()
                assert await bot.engine.tick(await bot.chain.latest_block()) is not None
                await bot.engine.tick((await world.driver.move_to(world.target_price)).block_number)
                step = await world.driver.move_to(world.target_price * Decimal("1.08"))
                clock.advance(2)
                emulator.set_mark(step.target_price)
                report = await bot.engine.tick(step.block_number)  # trades; fills not read yet
                assert report is not None
                assert report.order is not None
                booked_before_stop = await bot.store.count("fills")
            finally:
                await bot.close()  # stopped right after the trading tick
            venue_fills = len(emulator.venue.order_log())
            again = await build_bot(settings, clock=clock, exchange=exchange())
            try:
                await again.engine.start()  # reconciles with the venue
                clock.advance(2)
                step = await world.driver.move_to(step.target_price)
                assert await again.engine.tick(step.block_number) is not None
                clock.advance(2)
                step = await world.driver.move_to(step.target_price)
                assert await again.engine.tick(step.block_number) is not None
                booked = await again.store.count("fills")
                own = await again.store.read_fills(own=True)
                venue = await again.exchange.fills(0)
            finally:
                await again.close()
        finally:
            await emulator.close()
    assert venue_fills == 2  # the opening hedge and the trade
    assert booked_before_stop == 1  # the trade's fill was not read before the stop
    assert booked == len(venue) == 2  # booked after the restart, once
    assert sorted(f.trade_id for f in own) == sorted(f.trade_id for f in venue)
