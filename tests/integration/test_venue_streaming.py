"""The streaming venue mode (issue 16 item 2) on the real stack: a real anvil pool, the real
ccxt ``binanceusdm`` (REST) and ccxt.pro ``binanceusdm`` (WebSocket) clients against the Binance
emulator, every REST request counted (``RestCalls``).

The same price path in REST mode and in streaming mode ends with the same position and the same
fills and fees; a quiet tick in streaming mode sends no REST request; a stream closed mid-run
makes the bot read over REST (never the stale cache), then it subscribes again, and no fill is
lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
from emulator_support import API_KEY, API_SECRET

from bot.app import Bot, build_bot
from bot.clock import ManualClock
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.ccxt.streaming import StreamingCcxtExchange, ccxt_exchange
from bot.exchange.emulators.binance_usdm import EmulatorHandle, start_emulator
from bot.exchange.emulators.binance_usdm.wire import emulator_ccxt_settings
from bot.exchange.paper import venue_params
from bot.exchange.stream_settings import StreamSettings
from bot.sim.anvil import Anvil
from bot.sim.localnet import LocalWorld, local_settings, start_world

pytestmark = pytest.mark.integration

_T = TypeVar("_T")
_FUNDING_S = 8 * 3600
_SYNC_S = 10.0  # a stream that has not caught up by then fails the test (a sync, not a speed goal)
# the price path as multiples of the start price; repeated values are quiet blocks
PATH = ["1", "1", "1.06", "1.06", "0.95", "0.95", "1.02", "1", "1.09", "1.09", "1.09"]


@dataclass
class Rig:
    """A bot on a fresh pool trading through the emulator, in REST or streaming mode."""

    world: LocalWorld
    emulator: EmulatorHandle
    bot: Bot
    clock: ManualClock

    @property
    def exchange(self) -> CcxtPerpExchange:
        assert isinstance(self.bot.exchange, CcxtPerpExchange)
        return self.bot.exchange

    @property
    def streaming(self) -> StreamingCcxtExchange | None:
        exchange = self.bot.exchange
        return exchange if isinstance(exchange, StreamingCcxtExchange) else None

    async def calls_of(self, work: Awaitable[_T]) -> tuple[_T, list[str]]:
        """``work``'s result and the endpoint labels of the REST requests it sent."""
        rest = self.exchange.rest_calls
        before = rest.total
        result = await work
        sent = rest.total - before
        return result, list(rest.recent)[len(rest.recent) - sent :] if sent else []

    async def step(self, factor: str, seconds: float = 3.0, *, synced: bool = True) -> list[str]:
        """The pool and the mark to ``factor`` x the start price in a new block, the clock
        ``seconds`` on; in streaming mode (``synced``) the streamed mark caught up; one tick;
        its requests."""
        step = await self.world.driver.move_to(self.world.start_price * Decimal(factor))
        self.clock.advance(seconds)
        self.emulator.set_mark(step.target_price)
        if synced:
            await self.streamed_mark(step.target_price)
        report, calls = await self.calls_of(self.bot.engine.tick(step.block_number))
        assert report is not None, self.bot.engine.stats.last_error
        return calls

    async def streamed_mark(self, mark: Decimal) -> None:
        """In streaming mode, wait until the stream delivered ``mark`` (no-op in REST mode)."""
        if self.streaming is not None:
            state = self.streaming.stream_state
            await until(lambda: (m := state.mark()) is not None and Decimal(m["markPrice"]) == mark)


async def until(condition: Callable[[], bool]) -> None:
    """Wait for ``condition`` (polled), failing after ``_SYNC_S``."""
    async with asyncio.timeout(_SYNC_S):
        while not condition():  # noqa: ASYNC110 - a plain predicate on the adapter's state
            await asyncio.sleep(0.01)


@asynccontextmanager
async def rig(anvil_node: Anvil, tmp_path: Path, *, streaming: bool) -> AsyncIterator[Rig]:
    """A fresh V2 pool (seed 5), the emulator on a clock 60 s after a funding time (both
    modes settle the same funding), a started bot in the chosen mode."""
    mode = "stream" if streaming else "rest"
    async with AsyncExitStack() as stack:
        world = await stack.enter_async_context(
            start_world(anvil_node.rpc_url, seed=5, base_is_token0=True)
        )
        start = world.start_timestamp - world.start_timestamp % _FUNDING_S + 60
        clock = ManualClock(float(start))
        (tmp_path / mode).mkdir()
        settings = local_settings(world, tmp_path / mode, bot_id=f"stream-{mode}")
        emulator = await start_emulator(
            "127.0.0.1", 0, API_KEY, API_SECRET, venue_params(settings.exchange), clock
        )
        stack.push_async_callback(emulator.close)
        ccxt_settings = emulator_ccxt_settings(emulator.url, settings.exchange, API_KEY, API_SECRET)
        stream = StreamSettings(
            ws_url=emulator.ccxt_ws_urls()["linear"], backoff_s=0.05, backoff_max_s=0.2
        )
        exchange = ccxt_exchange(ccxt_settings, stream if streaming else None, clock)
        bot = await build_bot(settings, clock=clock, exchange=exchange)
        stack.push_async_callback(bot.close)
        await bot.engine.start()
        emulator.set_mark(world.target_price)
        yield Rig(world, emulator, bot, clock)


async def run_path(anvil_node: Anvil, tmp_path: Path, *, streaming: bool) -> dict[str, object]:
    """``PATH`` in one mode: the venue's position and fills, the stored fills and fees."""
    async with rig(anvil_node, tmp_path, streaming=streaming) as r:
        for factor in PATH:
            await r.step(factor)
        position = r.emulator.venue.position()
        venue_fills = r.emulator.venue.fills(0)
        stored = await r.bot.store.read_fills()
        last = await r.exchange.position()
    return {
        "position": (position.size_base, position.entry_price),
        "read_size": last.size_base,  # the entry comes through ccxt's float
        "venue_fills": [(f.side, f.amount_base, f.price, f.fee_quote) for f in venue_fills],
        "stored_fills": [(f.side, f.amount_base, f.price, f.fee_quote) for f in stored],
        "fees": sum((f.fee_quote for f in stored), Decimal(0)),
    }


async def test_streaming_mode_reaches_the_same_position_and_fees_as_rest_mode(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The same price path (pool and mark), once over REST and once streaming: the same
    orders filled at the same prices with the same fees, the same position at the end."""
    rest = await run_path(anvil_node, tmp_path, streaming=False)
    streamed = await run_path(anvil_node, tmp_path, streaming=True)
    assert len(rest["venue_fills"]) >= 3  # type: ignore[arg-type]  # the path trades
    assert rest["fees"] > 0  # type: ignore[operator]
    assert streamed == rest
    assert (rest["read_size"], streamed["read_size"]) == (rest["position"][0],) * 2  # type: ignore[index]


async def test_a_quiet_streaming_tick_sends_no_rest_request(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Opened and settled, the stream holding the mark and the position: five quiet ticks
    send no REST request (REST mode: premiumIndex and positionRisk each)."""
    async with rig(anvil_node, tmp_path, streaming=True) as r:
        assert "order" in await r.step("1")
        await r.step("1")  # the fills of the opening order; the position read over REST
        assert r.streaming is not None
        state = r.streaming.stream_state
        await r.step("1")
        await until(lambda: state.has_position)
        quiet = [await r.step("1") for _ in range(5)]
        frames = state.frames
    assert quiet == [[]] * 5
    assert frames > 0


async def test_a_dropped_stream_falls_back_to_rest_then_resubscribes_without_losing_a_fill(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Streams up, the emulator closes every socket and refuses new ones: ticks read the mark
    and the position over REST (an order placed meanwhile fills and is stored); streams
    allowed again: the bot subscribes again and quiet ticks are lean again; the store holds
    every venue fill and the bot's position is the venue's."""
    async with rig(anvil_node, tmp_path, streaming=True) as r:
        assert r.streaming is not None
        state = r.streaming.stream_state
        for _ in range(3):
            await r.step("1")
        await until(lambda: state.has_position)
        r.emulator.refuse_streams()
        assert await r.emulator.drop_streams() >= 2
        await until(lambda: not state.market_open and not state.account_open)
        outage_quiet = await r.step("1", synced=False)
        outage_trade = await r.step("1.08", synced=False)
        r.emulator.refuse_streams(False)
        await until(lambda: state.market_open and state.account_open)
        await r.step("1.08")  # the fills after the order; the position re-seeded over REST
        await r.step("1.08")
        await until(lambda: state.has_position)
        lean = [await r.step("1.08") for _ in range(3)]
        venue_ids = [f.trade_id for f in r.emulator.venue.fills(0)]
        stored_ids = [f.trade_id for f in await r.bot.store.read_fills()]
        position = await r.exchange.position()
        venue_position = r.emulator.venue.position()
    assert outage_quiet[:2] == ["premiumIndex", "positionRisk"]
    assert "order" in outage_trade
    assert lean == [[]] * 3
    assert len(venue_ids) == 2
    assert sorted(stored_ids) == sorted(venue_ids)
    assert position.size_base == venue_position.size_base
