"""Block -> order acknowledged: how long after anvil mines a block that moves the pool the
venue acknowledges the hedge order it calls for, with streamed heads and with polling.

One anvil with the real Uniswap V2 pair, the Binance USD-M emulator on localhost (the real
ccxt ``binanceusdm`` client) and the bot built as ``hedgebot run`` builds it, its engine
running its own loop (``Engine.run``) on the daemon's head source (``open_heads``):

* ``streamed`` — ``chain.ws_urls`` set to anvil's WebSocket (``newHeads``), the poller kept as
  fallback at the default ``poll_interval_s``;
* ``polling`` — no ``ws_urls``: ``eth_blockNumber`` every default ``poll_interval_s`` (1 s).

Each sample queues a swap that moves the pool by ±1 % (threshold 0.01 base, so every block
calls for an order) and mines it with ``evm_mine`` (automine off); the clock starts when
``evm_mine`` is sent and stops when ``submit`` returns the venue's acknowledgement of that
block's order. Each block is mined once the engine has finished the previous tick and waits
for a head, and nothing else runs in the harness meanwhile (the swap's receipts are checked
after the ack). In polling mode each swap first waits a seeded random fraction of the poll
interval, so the blocks fall at every phase of the poller. Also printed: block -> head handed
to the engine, and the share of streamed heads the subscription saw first. Both modes run in
one process, one after the other, on the same chain, venue and bot. Prints figures, never
asserts on time.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from web3 import AsyncWeb3

from benchmarks.bench_latency import _open_venue, _percentile
from bot.app import build_bot
from bot.chain.rpc import connect, rpc_request
from bot.chain.ws_heads import HeadSource, StreamedHeads, open_heads
from bot.clock import ManualClock
from bot.config import ChainConfig
from bot.engine import Engine
from bot.logging import configure_logging
from bot.sim.anvil import Anvil
from bot.sim.localnet import LocalWorld, local_settings, start_world
from bot.sim.market import MarketDriver, SeededGbm, swap_to_price

Mode = Literal["streamed", "polling"]
WARMUP = 5
SWING = Decimal("0.01")
HANG_S = 30.0  # a sample that takes longer is a failure, not a figure
STEP_S = 600  # chain seconds per block
DEFAULT_POLL_S: float = ChainConfig.model_fields["poll_interval_s"].default


class BenchDriver(MarketDriver):
    """``MarketDriver.move_to`` without its reads after the mine: the swap is queued (automine
    off), ``evm_mine`` sent, and nothing else runs in this process until the order is
    acknowledged; the receipts are checked afterwards (:meth:`check_mined`)."""

    async def mine_swap(self, price: Decimal, block_timestamp: int) -> Mined:
        """Queue the swap to ``price``, mine it at ``block_timestamp``; the block's number and
        when ``evm_mine`` was sent (``perf_counter``)."""
        w3 = self._w3
        swap = swap_to_price(*await self.reserves(), self._raw_target(price))
        if swap is None:
            raise RuntimeError(f"no swap moves the pool to {price}")
        hashes = await self._send_swap(self._deployment.trader_account, swap)
        block = int(await rpc_request(w3, "eth_blockNumber"), 16) + 1
        await rpc_request(w3, "anvil_setNextBlockTimestamp", block_timestamp)
        mined_at = time.perf_counter()
        await rpc_request(w3, "evm_mine")
        return Mined(block, mined_at, hashes)

    async def check_mined(self, mined: Mined) -> None:
        """Every transaction of the swap succeeded in ``mined.block``."""
        for tx_hash in mined.tx_hashes:
            receipt: Any = await self._w3.eth.get_transaction_receipt(tx_hash)
            if receipt["status"] != 1 or receipt["blockNumber"] != mined.block:
                raise RuntimeError(f"swap not mined in block {mined.block}: {receipt}")


@dataclass(frozen=True)
class Mined:
    """One mined swap."""

    block: int
    mined_at: float  # perf_counter when evm_mine was sent
    tx_hashes: list[Any]


@dataclass
class Acks:
    """The acknowledgement of each block's order, and when each head reached the engine."""

    acked: dict[int, float] = field(default_factory=dict)
    heads: dict[int, float] = field(default_factory=dict)
    sources: dict[int, HeadSource | None] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # the engine awaits a head


class AckedExchange:
    """A PerpExchange that records when the venue acknowledged each block's order."""

    def __init__(self, inner: Any, acks: Acks) -> None:
        self._inner = inner
        self._acks = acks

    async def submit(self, intent: Any) -> Any:
        answer = await self._inner.submit(intent)
        block = int(intent.client_order_id.rsplit("-", 2)[1])  # hb-<bot>-<block>-<seq>
        self._acks.acked.setdefault(block, time.perf_counter())
        self._acks.changed.set()
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TimedHeads:
    """The head source as the engine sees it, noting when each head was handed out."""

    def __init__(self, inner: AsyncIterator[int], acks: Acks) -> None:
        self._inner = inner
        self._acks = acks

    def __aiter__(self) -> TimedHeads:
        return self

    async def __anext__(self) -> int:
        self._acks.idle.set()
        try:
            number = await anext(self._inner)
        finally:
            self._acks.idle.clear()
        self._acks.heads.setdefault(number, time.perf_counter())
        source = self._inner.last_source if isinstance(self._inner, StreamedHeads) else None
        self._acks.sources.setdefault(number, source)
        return number


@dataclass
class Samples:
    """Milliseconds per sample."""

    block_to_ack: list[float] = field(default_factory=list)
    block_to_head: list[float] = field(default_factory=list)
    by_subscription: int = 0


@dataclass
class Rig:
    """The market side of the benchmark: the driver, its timed connection, the venue's mark
    and the bot's clock."""

    world: LocalWorld
    driver: BenchDriver
    clock: ManualClock
    set_mark: Callable[[Decimal], None]
    price: Decimal
    timestamp: int
    acks: Acks = field(default_factory=Acks)
    rng: random.Random = field(default_factory=lambda: random.Random(16))

    async def sample(self, mode: Mode) -> Mined:
        """One swap in a new block, waited for until its order is acknowledged."""
        up = len(self.acks.acked) % 2 == 0
        self.price *= 1 + SWING if up else 1 - SWING
        async with asyncio.timeout(HANG_S):
            await self.acks.idle.wait()  # the last tick is over: the next block finds it idle
        if mode == "polling":
            await asyncio.sleep(self.rng.uniform(0, DEFAULT_POLL_S))
        self.timestamp += STEP_S
        self.clock.set(float(self.timestamp))  # the block's own time, set before it exists
        self.set_mark(self.price)
        mined = await self.driver.mine_swap(self.price, self.timestamp)
        async with asyncio.timeout(HANG_S):
            while mined.block not in self.acks.acked:
                self.acks.changed.clear()
                await self.acks.changed.wait()
        await self.driver.check_mined(mined)
        return mined

    def chain(self, mode: Mode) -> ChainConfig:
        """The bot's chain section as a user would write it: the default poll interval, plus
        anvil's WebSocket (served on its HTTP port) when streamed."""
        url = self.world.rpc_url
        ws = [url.replace("http://", "ws://", 1)] if mode == "streamed" else []
        return ChainConfig(rpc_urls=[url], ws_urls=ws)


async def _run_mode(
    mode: Mode, count: int, engine: Engine, w3: AsyncWeb3[Any], rig: Rig
) -> Samples:
    """``count`` blocks (after the warm-up), each ticked by the engine's own loop on
    ``mode``'s heads."""
    acks = rig.acks
    samples = Samples()
    stop = asyncio.Event()
    async with open_heads(w3, rig.chain(mode)) as heads:
        running = asyncio.create_task(engine.run(TimedHeads(heads, acks), stop))
        try:
            if isinstance(heads, StreamedHeads):
                async with asyncio.timeout(HANG_S):
                    while heads.subscriptions == 0:  # noqa: ASYNC110 - a counter, not an event
                        await asyncio.sleep(0.01)
            for i in range(count + WARMUP):
                mined = await rig.sample(mode)
                if i < WARMUP:
                    continue
                samples.block_to_ack.append((acks.acked[mined.block] - mined.mined_at) * 1000)
                samples.block_to_head.append((acks.heads[mined.block] - mined.mined_at) * 1000)
                samples.by_subscription += acks.sources.get(mined.block) is HeadSource.WS
        except TimeoutError:
            raise RuntimeError(
                f"{mode}: no order acknowledged: {engine.stats.last_error}"
            ) from None
        finally:
            stop.set()
            await asyncio.wait_for(running, HANG_S)
    return samples


async def _bench(counts: dict[Mode, int]) -> dict[Mode, Samples]:
    results: dict[Mode, Samples] = {}
    with tempfile.TemporaryDirectory(prefix="bench-block-ack-") as tmp:
        async with (
            Anvil() as node,
            start_world(node.rpc_url, seed=3) as world,
            AsyncExitStack() as stack,
        ):
            clock = ManualClock(float(world.start_timestamp))
            settings = local_settings(world, Path(tmp), bot_id="bench")
            exchange, set_mark = await _open_venue(
                stack, "emulator", world, settings, clock, Path(tmp)
            )
            w3 = connect(world.rpc_url)
            stack.push_async_callback(w3.provider.disconnect)
            path = SeededGbm(start_price=float(world.target_price), sigma_annual=0, step_s=STEP_S)
            driver = BenchDriver(w3, world.deployment, path, step_s=STEP_S, automine=False)
            await rpc_request(w3, "evm_setAutomine", False)  # blocks only when the bench mines
            rig = Rig(world, driver, clock, set_mark, world.target_price, world.start_timestamp)
            bot = await build_bot(settings, clock=clock, exchange=exchange)
            try:
                await bot.engine.start()
                set_mark(world.target_price)
                acked = AckedExchange(exchange, rig.acks)
                bot.engine.exchange = acked
                bot.engine.ledger.venue.exchange = acked
                await bot.engine.set_threshold(Decimal("0.01"), None)
                for mode, count in counts.items():
                    results[mode] = await _run_mode(mode, count, bot.engine, bot.chain.w3, rig)
            finally:
                await bot.close()
    return results


def run(streamed: int = 200, polling: int = 100) -> dict[str, dict[str, Any]]:
    """Median and p99 of block -> ack over ``streamed`` and ``polling`` samples, one run."""
    configure_logging("warning", "console")  # one log line per order would be timed too
    results = asyncio.run(_bench({"streamed": streamed, "polling": polling}))
    print("block mined -> order acknowledged, ccxt binanceusdm -> local emulator")
    print(f"{'mode':<9} {'samples':>7} {'ack med':>8} {'ack p99':>8} {'head med':>9} {'by ws':>6}")
    figures: dict[str, dict[str, Any]] = {}
    for mode, samples in results.items():
        median = statistics.median(samples.block_to_ack)
        p99 = _percentile(samples.block_to_ack, 99)
        head = statistics.median(samples.block_to_head)
        share = 100 * samples.by_subscription / len(samples.block_to_ack)
        print(
            f"{mode:<9} {len(samples.block_to_ack):>7} {median:>8.2f} {p99:>8.2f} "
            f"{head:>9.2f} {share:>5.0f}%"
        )
        figures[f"latency_block_to_ack_median_{mode}"] = {"value": median, "unit": "ms"}
        figures[f"latency_block_to_ack_p99_{mode}"] = {"value": p99, "unit": "ms"}
        figures[f"latency_block_to_head_median_{mode}"] = {"value": head, "unit": "ms"}
    return figures


if __name__ == "__main__":
    run()
