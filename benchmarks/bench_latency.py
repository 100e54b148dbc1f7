"""Tick-to-order-acknowledged latency against the local emulator, split by stage.

``venue`` selects the path (``bench_venues`` compares them): ``binance`` (default, the figures
below), ``paper`` (the in-process venue) or ``hyperliquid`` (ccxt ``hyperliquid`` against the
Hyperliquid emulator, agent-signed, as ``hedgebot demo --exchange hyperliquid`` opens it).

A real anvil with the real Uniswap V2 pair, the Binance USD-M emulator on localhost and the
bot built as ``hedgebot run`` builds it, trading through the unmodified ccxt ``binanceusdm``
client. Every tick follows a swap that moves the pool price, so every tick places an IOC order.
The chain reader and the exchange adapter are wrapped to time each call:

* chain read — ``ChainReader.snapshot`` (one batched ``eth_call`` + the core math);
* market read — the venue reads before the order (mark/funding/book, position, balance);
  the read step runs the chain read and the first venue reads at once, so these two overlap;
* decision — everything else up to the order (policy, risk guards, write-ahead of the
  intent): the time to the order less the time when any read was in flight;
* order round trip — ``submit`` until the venue's acknowledgement is parsed.

Tick-to-ack is from the start of the tick to that acknowledgement. The swaps that move the
pool happen between ticks and are not timed. Prints figures, never asserts on time.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.app import build_bot
from bot.clock import ManualClock
from bot.config import Settings
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import start_emulator
from bot.exchange.emulators.binance_usdm.wire import emulator_ccxt_settings
from bot.exchange.paper import venue_params
from bot.logging import configure_logging
from bot.sim.anvil import Anvil
from bot.sim.demo_venues import DemoVenue, demo_settings, open_demo_exchange
from bot.sim.localnet import LocalWorld, local_settings, start_world

TICKS = 200
WARMUP = 5
SWING = Decimal("0.01")  # the pool alternates between +1% and -1% (small: the daily-loss guard)
KEY, SECRET = "bench-key", "bench-secret"


@dataclass
class TickTimes:
    """What one tick spent where (seconds)."""

    chain_read: float = 0.0
    market_read: float = 0.0
    order_round_trip: float = 0.0
    started: float = 0.0
    submit_started: float | None = None
    acknowledged: float | None = None
    reads: list[tuple[float, float]] = field(default_factory=list)  # (start, end) before submit

    def reading_s(self) -> float:
        """How long any read was in flight (the union of the read intervals)."""
        total, reach = 0.0, float("-inf")
        for start, end in sorted(self.reads):
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total


@dataclass
class Recorder:
    """Collects the calls of the current tick."""

    current: TickTimes = field(default_factory=TickTimes)


class TimedChain:
    """A ChainReader that records how long ``snapshot`` takes."""

    def __init__(self, inner: Any, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    async def snapshot(self, block_number: int) -> Any:
        started = time.perf_counter()
        try:
            return await self._inner.snapshot(block_number)
        finally:
            ended = time.perf_counter()
            self._recorder.current.chain_read += ended - started
            self._recorder.current.reads.append((started, ended))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TimedExchange:
    """A PerpExchange that records venue reads before the order and the order round trip."""

    def __init__(self, inner: Any, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    async def submit(self, intent: Any) -> Any:
        now = self._recorder.current
        now.submit_started = time.perf_counter()
        try:
            return await self._inner.submit(intent)
        finally:
            now.acknowledged = time.perf_counter()
            now.order_round_trip += now.acknowledged - now.submit_started

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await attr(*args, **kwargs)
            finally:
                if self._recorder.current.submit_started is None:
                    ended = time.perf_counter()
                    self._recorder.current.market_read += ended - started
                    self._recorder.current.reads.append((started, ended))

        return timed


def _percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


async def _open_venue(
    stack: AsyncExitStack,
    venue: DemoVenue,
    world: LocalWorld,
    settings: Settings,
    clock: ManualClock,
    workdir: Path,
) -> tuple[Any, Callable[[Decimal], None]]:
    """The venue of the benchmarked path and its mark setter (closed with ``stack``)."""
    if venue != "emulator":
        return await open_demo_exchange(stack, venue, world, settings, clock, workdir)
    emulator = await start_emulator(
        "127.0.0.1", 0, KEY, SECRET, venue_params(settings.exchange), clock
    )
    stack.push_async_callback(emulator.close)
    exchange = CcxtPerpExchange(
        emulator_ccxt_settings(emulator.url, settings.exchange, KEY, SECRET, timeout_ms=10_000),
        clock,
    )
    return exchange, emulator.set_mark


async def _bench(ticks: int, venue: DemoVenue = "emulator") -> list[TickTimes]:
    recorder = Recorder()
    samples: list[TickTimes] = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        async with (
            Anvil() as node,
            start_world(node.rpc_url, seed=3) as world,
            AsyncExitStack() as stack,
        ):
            clock = ManualClock(float(world.start_timestamp))
            settings = demo_settings(local_settings(world, Path(tmp), bot_id="bench"), venue)
            exchange, set_mark = await _open_venue(stack, venue, world, settings, clock, Path(tmp))
            bot = await build_bot(settings, clock=clock, exchange=exchange)
            try:
                await bot.engine.start()
                set_mark(world.target_price)
                engine = bot.engine
                engine.chain = TimedChain(engine.chain, recorder)
                timed = TimedExchange(exchange, recorder)
                engine.exchange = timed
                engine.ledger.venue.exchange = timed
                await engine.set_threshold(Decimal("0.01"), None)
                start = world.target_price
                for i in range(ticks + WARMUP):
                    price = start * (1 + SWING if i % 2 == 0 else 1 - SWING)
                    step = await world.driver.move_to(price)
                    clock.set(float(step.block_timestamp))
                    set_mark(step.target_price)
                    recorder.current = TickTimes(started=time.perf_counter())
                    report = await engine.tick(step.block_number)
                    if report is None or report.order is None:
                        raise RuntimeError(
                            f"tick {i} placed no order: {engine.stats.last_error or report}"
                        )
                    if i >= WARMUP:
                        samples.append(recorder.current)
            finally:
                await bot.close()
    return samples


def _figures(samples: list[TickTimes]) -> dict[str, list[float]]:
    stages: dict[str, Callable[[TickTimes], float]] = {
        "tick_to_ack": lambda t: (t.acknowledged or 0.0) - t.started,
        "chain_read": lambda t: t.chain_read,
        "market_read": lambda t: t.market_read,
        "decision": lambda t: (t.submit_started or 0.0) - t.started - t.reading_s(),
        "order_round_trip": lambda t: t.order_round_trip,
    }
    return {name: [fn(t) * 1000 for t in samples] for name, fn in stages.items()}


def run(ticks: int = TICKS) -> dict[str, dict[str, Any]]:
    """Median and p99 of tick-to-ack latency and its stages over ``ticks`` ordering ticks."""
    configure_logging("warning", "console")  # one log line per order would be timed too
    samples = _figures(asyncio.run(_bench(ticks)))
    print(f"tick -> order acknowledged, {ticks} ticks, ccxt binanceusdm -> local emulator")
    print(f"{'stage':<18} {'median ms':>10} {'p99 ms':>10}")
    figures: dict[str, dict[str, Any]] = {}
    for name, values in samples.items():
        median, p99 = statistics.median(values), _percentile(values, 99)
        print(f"{name:<18} {median:>10.2f} {p99:>10.2f}")
        figures[f"latency_{name}_median"] = {"value": median, "unit": "ms"}
        figures[f"latency_{name}_p99"] = {"value": p99, "unit": "ms"}
    return figures


if __name__ == "__main__":
    run()
