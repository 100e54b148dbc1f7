"""Soak: the engine over many ticks against the local stack, RSS every 1,000 ticks.

A real anvil with the real Uniswap V2 pair (``bot.sim.localnet``) and the bot built as
``hedgebot run`` builds it (SQLite store with its snapshot policy), trading through:

* ``emulator`` (the default, what ``make soak`` runs): the real ccxt ``binanceusdm`` client
  against the Binance USD-M emulator served by ``hedgebot emulator`` in its own process (so
  the venue's own order book keeping is not this process's memory), on the wall clock; the
  emulator's mark follows the pool (``POST /_emulator/mark``);
* ``paper``: the in-process paper venue (part of the daemon in paper mode), on the blocks'
  clock.

Every ``MOVE_EVERY``-th tick follows a swap to a seeded random-walk price (so deltas,
decisions and, now and then, orders change); the ticks between are on empty blocks
``QUIET_BLOCK_S`` apart (a pool is quiet most blocks: on Arbitrum's 0.25 s blocks, nearly
all). The process's resident set size (``VmRSS``) is read every 1,000 ticks; the growth is
measured from the end of the warm-up (the first fifth of the run) to the end.

``make soak`` runs ``SOAK_TICKS`` (100,000, long): ``soak_rss_growth_pct`` and
``soak_rss_peak_mb``, printed and merged into ``bench/results.json`` (where ``make bench``
keeps them). ``make bench`` runs ``SHORT_TICKS``: ``soak_short_rss_growth_pct`` and
``soak_short_rss_peak_mb``. Each figure's unit says how many ticks on which venue. Prints
figures, never asserts.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiohttp

from benchmarks.results import RESULTS, write_results
from bot.app import build_bot
from bot.chain.rpc import connect, rpc_request
from bot.clock import ManualClock, WallClock
from bot.config import Settings
from bot.errors import ChainError
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm.wire import emulator_ccxt_settings
from bot.logging import configure_logging
from bot.sim.anvil import Anvil
from bot.sim.demo_venues import open_demo_exchange
from bot.sim.localnet import EMULATOR_KEY, EMULATOR_SECRET, LocalWorld, local_settings, start_world

SoakVenue = Literal["emulator", "paper"]
_T = TypeVar("_T")
SHORT_TICKS = 3_000  # part of `make bench`
SOAK_TICKS = 100_000
SAMPLE_EVERY = int(os.environ.get("HEDGEBOT_SOAK_SAMPLE_EVERY", "1000"))
STEP = 0.01  # relative price step per move (random walk, kept within ±5 % of the start)
MOVE_EVERY = int(os.environ.get("HEDGEBOT_SOAK_MOVE_EVERY", "4"))  # a swap every 4th block
QUIET_BLOCK_S = 2  # chain seconds between a quiet block and the one before


def rss_bytes() -> int:
    """This process's resident set size (Linux ``/proc/self/status``; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


async def soak(ticks: int, venue: SoakVenue = "emulator") -> list[tuple[int, int]]:
    """(ticks done, RSS bytes) every ``SAMPLE_EVERY`` ticks."""
    samples: list[tuple[int, int]] = []
    rng = random.Random(16)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        async with (
            Anvil() as node,
            start_world(node.rpc_url, seed=5, step_seconds=QUIET_BLOCK_S) as world,
            AsyncExitStack() as stack,
        ):
            base = local_settings(world, Path(tmp), bot_id="soak")
            clock: ManualClock | WallClock
            set_mark: Callable[[Decimal], Awaitable[None]]
            if venue == "paper":
                clock = ManualClock(float(world.start_timestamp))
                exchange, set_paper_mark = await open_demo_exchange(
                    stack, "paper", world, base, clock, Path(tmp)
                )

                async def paper_mark(price: Decimal) -> None:
                    set_paper_mark(price)

                set_mark = paper_mark
            else:
                clock = WallClock()
                exchange, set_mark = await _emulator_process(stack, world, base, clock)
            bot = await build_bot(base, clock=clock, exchange=exchange)
            try:
                await bot.engine.start()
                start = world.target_price
                level = 1.0
                w3 = connect(node.rpc_url)
                block, block_ts = 0, 0
                for n in range(1, ticks + 1):
                    if n == 1 or n % MOVE_EVERY == 0:
                        level = min(1.05, max(0.95, level * (1 + rng.gauss(0.0, STEP))))
                        price = start * Decimal(str(round(level, 6)))
                        step = await _harness(partial(world.driver.move_to, price))
                        block, block_ts = step.block_number, step.block_timestamp
                        await set_mark(step.target_price)
                    else:  # an empty block: no swap
                        block_ts += QUIET_BLOCK_S
                        block, block_ts = await _harness(partial(_mine_empty, w3, block_ts))
                    if isinstance(clock, ManualClock):
                        clock.set(float(block_ts))
                    await bot.engine.tick(block)
                    if n % SAMPLE_EVERY == 0:
                        samples.append((n, rss_bytes()))
                        print(
                            f"# soak ({venue}): {n:>7,} ticks  RSS {samples[-1][1] / 1e6:8.1f} MB",
                            file=sys.stderr,
                            flush=True,
                        )
                stats = bot.engine.stats
                print(
                    f"# soak ({venue}): {stats.ticks:,} ticks completed, {stats.rebalances:,} "
                    f"rebalances, {stats.errors:,} failed ticks",
                    file=sys.stderr,
                    flush=True,
                )
            finally:
                await bot.close()
    return samples


async def _mine_empty(w3: Any, timestamp: int) -> tuple[int, int]:
    """One empty block at ``timestamp`` (or the next second anvil allows); its number and
    time."""
    head = await w3.eth.get_block("latest")
    timestamp = max(timestamp, int(head["timestamp"]) + 1)  # a retried step moves time on
    await rpc_request(w3, "anvil_setNextBlockTimestamp", timestamp)
    await rpc_request(w3, "evm_mine")
    return int(head["number"]) + 1, timestamp


async def _harness(step: Callable[[], Awaitable[_T]], attempts: int = 3) -> _T:
    """The harness's own chain step (a swap, a mined block), tried again after a
    ``ChainError`` (anvil slow to answer on a loaded machine): a hiccup of the harness
    must not end a 100,000-tick run. The bot's ticks are not retried (it handles its
    failures itself, counted in ``stats.errors``)."""
    for attempt in range(1, attempts + 1):
        try:
            return await step()
        except ChainError as exc:
            if attempt == attempts:
                raise
            print(f"# soak: harness step failed ({exc}); again", file=sys.stderr, flush=True)
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable")


async def _emulator_process(
    stack: AsyncExitStack, world: LocalWorld, settings: Settings, clock: WallClock
) -> tuple[CcxtPerpExchange, Callable[[Decimal], Awaitable[None]]]:
    """``hedgebot emulator`` in its own process (stopped with ``stack``), the ccxt adapter
    pointed at it, and a coroutine that moves its mark."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "emulator", "--port", str(port),
        "--api-key", EMULATOR_KEY, "--api-secret", EMULATOR_SECRET,
        "--mark-price", str(world.target_price),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip

    async def stop() -> None:
        if process.returncode is None:
            process.terminate()
            await process.wait()

    stack.push_async_callback(stop)
    url = f"http://127.0.0.1:{port}"
    session = await stack.enter_async_context(aiohttp.ClientSession())
    for _ in range(200):  # up to 20 s for the emulator to listen
        try:
            async with session.get(f"{url}/_emulator/state") as answer:
                if answer.status == 200:
                    break
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError(f"the emulator on port {port} did not start")
    exchange = CcxtPerpExchange(
        emulator_ccxt_settings(url, settings.exchange, EMULATOR_KEY, EMULATOR_SECRET),
        clock,
    )

    async def set_mark(price: Decimal) -> None:
        async with session.post(f"{url}/_emulator/mark", json={"price": str(price)}) as answer:
            if answer.status != 200:
                raise RuntimeError(f"emulator mark: HTTP {answer.status} {await answer.text()}")

    return exchange, set_mark


def figures(
    samples: list[tuple[int, int]], ticks: int, venue: SoakVenue = "emulator", name: str = "soak"
) -> dict[str, dict[str, Any]]:
    """``<name>_rss_growth_pct`` after warm-up (the first fifth) and ``<name>_rss_peak_mb``,
    from ``samples``; {} when fewer than two samples follow the warm-up."""
    warm = [rss for n, rss in samples if n >= ticks // 5]
    if len(warm) < 2 or warm[0] == 0:
        return {}  # unknown is not zero
    growth = (warm[-1] - warm[0]) / warm[0] * 100
    return {
        f"{name}_rss_growth_pct": {
            "value": round(growth, 2),
            "unit": f"% RSS growth after warm-up over {ticks:,} ticks, {venue} (goal < 5)",
        },
        f"{name}_rss_peak_mb": {
            "value": round(max(rss for _, rss in samples) / 1e6, 1),
            "unit": f"MB resident, {ticks:,} ticks, {venue}",
        },
    }


def run(
    ticks: int = SHORT_TICKS, venue: SoakVenue = "emulator", name: str = "soak_short"
) -> dict[str, dict[str, Any]]:
    """The figures of this module (``make bench``: ``SHORT_TICKS`` on the emulator)."""
    configure_logging("warning", "json")
    samples = asyncio.run(soak(ticks, venue))
    return figures(samples, ticks, venue, name)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else SOAK_TICKS
    chosen = sys.argv[2] if len(sys.argv) > 2 else "emulator"
    if chosen not in ("emulator", "paper"):
        raise SystemExit(f"venue must be emulator or paper, not {chosen!r}")
    measured = run(count, "paper" if chosen == "paper" else "emulator", name="soak")
    for key, figure in measured.items():
        print(f"{key}: {figure['value']} {figure['unit']}")
    if measured:
        write_results(measured)
        print(f"merged into {RESULTS}", file=sys.stderr)
    os._exit(0)
