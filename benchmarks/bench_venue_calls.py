"""REST requests per tick on the ccxt path (issue 16 item 2, the lean venue cadence): a real
anvil pool, the real ccxt client against the Binance emulator (``binance``) and the
Hyperliquid emulator (``hyperliquid``), every request counted by the client
(``bot.exchange.ccxt.calls.RestCalls``).

After the opening hedge and the tick after it, ``QUIET`` quiet ticks 2 s apart (a new block,
no price move: the balance is re-read every 30 s, fills every 60 s, so the mean is a little
above the typical tick), then ``TRADING`` ticks that each trade (the pool swings
+-``SWING``). Figures: ``venue_rest_calls_per_quiet_tick`` (median) and ``_mean``,
``venue_rest_calls_per_trading_tick`` (median), for Binance; ``..._hyperliquid`` the same for
Hyperliquid; ``..._streaming`` the same for Binance in the streaming mode
(``exchange.streaming: true``: ccxt.pro's mark-price and user-data streams from the emulator,
REST as the fallback; each tick waits until the stream delivered the tick's mark, as a live
bot's stream is ahead of the next block). The calls of the last trading tick are printed.
Counts, not times: nothing here depends on the machine.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from bot.app import build_bot
from bot.clock import ManualClock
from bot.config import Settings
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.ccxt.calls import RestCalls
from bot.exchange.ccxt.streaming import StreamingCcxtExchange, ccxt_exchange
from bot.exchange.emulators.binance_usdm import start_emulator
from bot.exchange.emulators.binance_usdm.wire import emulator_ccxt_settings
from bot.exchange.paper import venue_params
from bot.exchange.stream_settings import StreamSettings
from bot.logging import configure_logging
from bot.ports import PerpExchange
from bot.sim.anvil import Anvil
from bot.sim.demo_venues import DemoVenue, demo_settings, open_demo_exchange
from bot.sim.localnet import EMULATOR_KEY, EMULATOR_SECRET, LocalWorld, local_settings, start_world

QUIET = 60
TRADING = 10
SWING = Decimal("0.08")
TICK_S = 2.0

STREAM_SYNC_S = 10.0  # a stream that has not delivered the tick's mark by then: an error
# figure suffix -> the venue path it measures ("streaming": the emulator, streaming mode)
PATHS: dict[str, DemoVenue | Literal["streaming"]] = {
    "": "emulator",
    "_hyperliquid": "hyperliquid",
    "_streaming": "streaming",
}


class TickCalls:
    """The endpoint labels of each tick's requests (``RestCalls.recent``)."""

    def __init__(self, rest: RestCalls) -> None:
        self.rest = rest
        self._at = rest.total

    def begin(self) -> None:
        self._at = self.rest.total

    def end(self) -> list[str]:
        sent = self.rest.total - self._at
        if sent > RestCalls.RECENT:
            raise RuntimeError(f"{sent} requests in one tick: more than the log keeps")
        return list(self.rest.recent)[len(self.rest.recent) - sent :]


async def _streaming_exchange(
    stack: AsyncExitStack, settings: Settings, clock: ManualClock
) -> tuple[StreamingCcxtExchange, Callable[[Decimal], Awaitable[None]]]:
    """The Binance emulator (in this process, closed with ``stack``), the ccxt adapter on it
    in the streaming mode, and a coroutine that moves the mark and returns once the stream
    delivered it."""
    params = venue_params(settings.exchange)
    handle = await start_emulator("127.0.0.1", 0, EMULATOR_KEY, EMULATOR_SECRET, params, clock)
    stack.push_async_callback(handle.close)
    rest = emulator_ccxt_settings(
        handle.url, settings.exchange, EMULATOR_KEY, EMULATOR_SECRET, timeout_ms=10_000
    )
    stream = StreamSettings(ws_url=handle.ccxt_ws_urls()["linear"])
    exchange = ccxt_exchange(rest, stream, clock)
    assert isinstance(exchange, StreamingCcxtExchange)
    state = exchange.stream_state

    async def set_mark(price: Decimal) -> None:
        handle.set_mark(price)
        if not state.market_open:  # before start, or the stream is down: REST reads it
            return
        venue_mark = handle.venue.quote().mark_price  # ``price`` on the venue's tick
        async with asyncio.timeout(STREAM_SYNC_S):
            while (mark := state.mark()) is None or Decimal(str(mark["markPrice"])) != venue_mark:  # noqa: ASYNC110 - polls the adapter's state
                await asyncio.sleep(0.005)

    return exchange, set_mark


async def _venue(
    stack: AsyncExitStack,
    venue: DemoVenue | Literal["streaming"],
    world: LocalWorld,
    settings: Settings,
    clock: ManualClock,
    workdir: Path,
) -> tuple[PerpExchange, Callable[[Decimal], Awaitable[None]]]:
    """The venue of one path and an awaitable mark setter."""
    if venue == "streaming":
        return await _streaming_exchange(stack, settings, clock)
    exchange, set_now = await open_demo_exchange(stack, venue, world, settings, clock, workdir)

    async def set_mark(price: Decimal) -> None:
        set_now(price)

    return exchange, set_mark


async def measure(
    venue: DemoVenue | Literal["streaming"], quiet: int = QUIET, trading: int = TRADING
) -> tuple[list[list[str]], list[list[str]]]:
    """The calls of each quiet tick and of each trading tick on ``venue``. The balance is
    read every 30 s, fills every 60 s and by the position check every 20 ticks
    (``bot.exchange.ledger.POSITION_CHECK_EVERY_TICKS``): those are the quiet ticks above 2."""
    with tempfile.TemporaryDirectory(prefix="bench-venue-calls-") as tmp:
        async with (
            Anvil() as node,
            start_world(node.rpc_url, seed=3) as world,
            AsyncExitStack() as stack,
        ):
            clock = ManualClock(float(world.start_timestamp))
            base = local_settings(world, Path(tmp), bot_id="bench-calls")
            settings = demo_settings(base, "emulator" if venue == "streaming" else venue)
            exchange, set_mark = await _venue(stack, venue, world, settings, clock, Path(tmp))
            bot = await build_bot(settings, clock=clock, exchange=exchange)
            stack.push_async_callback(bot.close)
            await bot.engine.start()
            await set_mark(world.target_price)
            if not isinstance(exchange, CcxtPerpExchange):
                raise TypeError(f"{venue}: not a ccxt venue, no REST calls to count")
            calls = TickCalls(exchange.rest_calls)

            async def tick(price: Decimal) -> list[str]:
                step = await world.driver.move_to(price)
                clock.advance(TICK_S)
                await set_mark(step.target_price)
                calls.begin()
                if await bot.engine.tick(step.block_number) is None:
                    raise RuntimeError(f"tick failed: {bot.engine.stats.last_error}")
                return calls.end()

            start = world.target_price
            await tick(start)  # the opening hedge
            await tick(start)  # the tick after an own order reads fills once more
            quiet_calls = [await tick(start) for _ in range(quiet)]
            trading_calls = []
            for i in range(trading):
                price = start * (1 + SWING if i % 2 == 0 else 1 - SWING)
                sent = await tick(price)
                if "order" not in sent and "exchange" not in sent:
                    raise RuntimeError(f"trading tick {i} placed no order: {sent}")
                trading_calls.append(sent)
    return quiet_calls, trading_calls


def run(quiet: int = QUIET, trading: int = TRADING) -> dict[str, dict[str, Any]]:
    """REST requests per quiet and per trading tick, per venue path."""
    configure_logging("warning", "console")
    figures: dict[str, dict[str, Any]] = {}
    print(f"REST requests per tick: {quiet} quiet ticks {TICK_S:g} s apart, {trading} trading")
    for suffix, venue in PATHS.items():
        quiet_calls, trading_calls = asyncio.run(measure(venue, quiet, trading))
        quiet_counts = [len(c) for c in quiet_calls]
        trading_counts = [len(c) for c in trading_calls]
        name = suffix or "_binance"
        print(
            f"{name[1:]:<12} quiet median {statistics.median(quiet_counts):g} "
            f"mean {statistics.fmean(quiet_counts):.3f} "
            f"{dict(Counter(label for c in quiet_calls for label in c))}"
        )
        print(f"{'':<12} trading median {statistics.median(trading_counts):g}: {trading_calls[-1]}")
        figures[f"venue_rest_calls_per_quiet_tick{suffix}"] = {
            "value": statistics.median(quiet_counts),
            "unit": "requests",
        }
        figures[f"venue_rest_calls_per_quiet_tick_mean{suffix}"] = {
            "value": statistics.fmean(quiet_counts),
            "unit": "requests",
        }
        figures[f"venue_rest_calls_per_trading_tick{suffix}"] = {
            "value": statistics.median(trading_counts),
            "unit": "requests",
        }
    return figures


if __name__ == "__main__":
    run()
