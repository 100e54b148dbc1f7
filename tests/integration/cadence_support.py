"""A bot on a real anvil pool trading through the real ccxt ``binanceusdm`` client against the
Binance emulator, with the REST requests of each tick listed (``RestCalls.recent``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from emulator_support import API_KEY, API_SECRET

from bot.app import Bot, build_bot
from bot.clock import ManualClock
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.ccxt.calls import RestCalls
from bot.exchange.emulators.binance_usdm import EmulatorHandle, start_emulator
from bot.exchange.emulators.binance_usdm.wire import emulator_ccxt_settings
from bot.exchange.paper import venue_params
from bot.sim.anvil import Anvil
from bot.sim.localnet import LocalWorld, local_settings, start_world

KEY, SECRET = API_KEY, API_SECRET  # those emulator_support.raw_ccxt_client signs with
_T = TypeVar("_T")


@dataclass
class CadenceRig:
    """The world, the venue behind the emulator, the started bot and their shared clock."""

    world: LocalWorld
    emulator: EmulatorHandle
    bot: Bot
    clock: ManualClock

    @property
    def exchange(self) -> CcxtPerpExchange:
        assert isinstance(self.bot.exchange, CcxtPerpExchange)
        return self.bot.exchange

    @property
    def rest(self) -> RestCalls:
        calls: RestCalls = self.exchange.rest_calls
        return calls

    async def calls_of(self, work: Awaitable[_T]) -> tuple[_T, list[str]]:
        """``work``'s result and the endpoint labels of the requests it sent, in order."""
        before = self.rest.total
        result = await work
        sent = self.rest.total - before
        assert sent <= RestCalls.RECENT, f"{sent} requests: more than the log keeps"
        return result, list(self.rest.recent)[len(self.rest.recent) - sent :]

    async def tick(self, block: int | None = None) -> list[str]:
        """One tick on ``block`` (the newest when None) that must complete; its requests."""
        number = block if block is not None else await self.bot.chain.latest_block()
        report, calls = await self.calls_of(self.bot.engine.tick(number))
        assert report is not None, self.bot.engine.stats.last_error
        return calls

    async def quiet_block(self, seconds: float) -> int:
        """A new block with no swap, the clock ``seconds`` on; the block's number."""
        step = await self.world.driver.move_to(self.world.target_price)
        self.clock.advance(seconds)
        return step.block_number

    async def move(self, price: Decimal, seconds: float = 2.0) -> int:
        """Swap the pool to ``price`` in a new block, the clock ``seconds`` on, the mark
        along; the block's number (the chain's own time runs ahead: ages are the clock's)."""
        step = await self.world.driver.move_to(price)
        self.clock.advance(seconds)
        self.emulator.set_mark(step.target_price)
        return step.block_number

    def orders(self) -> int:
        """Orders the venue itself accepted."""
        return len(self.emulator.venue.order_log())


@asynccontextmanager
async def cadence_rig(
    anvil_node: Anvil, tmp_path: Path, **exchange: Any
) -> AsyncIterator[CadenceRig]:
    """A fresh V2 pool, the emulator at the pool's price and a started bot trading on it
    (``exchange``: fields of the ``exchange:`` section set, e.g. ``balance_interval_s``)."""
    async with AsyncExitStack() as stack:
        world = await stack.enter_async_context(
            start_world(anvil_node.rpc_url, seed=5, base_is_token0=True)
        )
        clock = ManualClock(float(world.start_timestamp))
        settings = local_settings(world, tmp_path, bot_id="cadence")
        if exchange:
            venue = settings.exchange.model_copy(update=exchange)
            settings = settings.model_copy(update={"exchange": venue})
        emulator = await start_emulator(
            "127.0.0.1", 0, KEY, SECRET, venue_params(settings.exchange), clock
        )
        stack.push_async_callback(emulator.close)
        adapter = CcxtPerpExchange(
            emulator_ccxt_settings(emulator.url, settings.exchange, KEY, SECRET), clock
        )
        bot = await build_bot(settings, clock=clock, exchange=adapter)
        stack.push_async_callback(bot.close)
        await bot.engine.start()
        emulator.set_mark(world.target_price)
        yield CadenceRig(world, emulator, bot, clock)
