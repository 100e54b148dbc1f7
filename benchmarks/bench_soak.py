"""Soak: the engine over many ticks against the local stack, RSS every 1,000 ticks.

A real anvil with the real Uniswap V2 pair (``bot.sim.localnet``), the in-process paper venue
and the bot built as ``hedgebot run`` builds it (SQLite store with its snapshot policy). Every
``MOVE_EVERY``-th tick follows a swap to a seeded random-walk price (so deltas, decisions and,
now and then, orders change); the ticks between are on empty blocks ``QUIET_BLOCK_S`` apart (a
pool is quiet most blocks: on Arbitrum's 0.25 s blocks, nearly all), with the engine's clock
set to each block's time. The process's resident
set size (``VmRSS``) is read every 1,000 ticks; ``soak_rss_growth_pct`` is its growth from
the end of the warm-up (the first fifth of the run) to the end. ``make bench`` runs
``SHORT_TICKS`` (the figure's unit says how many); ``make soak`` runs ``SOAK_TICKS``
(100,000, long). Prints figures, never asserts.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.app import build_bot
from bot.chain.rpc import connect, rpc_request
from bot.clock import ManualClock
from bot.logging import configure_logging
from bot.sim.anvil import Anvil
from bot.sim.demo_venues import demo_settings, open_demo_exchange
from bot.sim.localnet import local_settings, start_world

SHORT_TICKS = 3_000  # part of `make bench`
SOAK_TICKS = 100_000
SAMPLE_EVERY = int(os.environ.get("HEDGEBOT_SOAK_SAMPLE_EVERY", "1000"))
STEP = 0.002  # relative price step per move (random walk, kept within ±5 % of the start)
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


async def soak(ticks: int) -> list[tuple[int, int]]:
    """(ticks done, RSS bytes) every ``SAMPLE_EVERY`` ticks."""
    samples: list[tuple[int, int]] = []
    rng = random.Random(16)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        async with (
            Anvil() as node,
            start_world(node.rpc_url, seed=5) as world,
            AsyncExitStack() as stack,
        ):
            clock = ManualClock(float(world.start_timestamp))
            base = local_settings(world, Path(tmp), bot_id="soak")
            settings = demo_settings(base, "paper")
            exchange, set_mark = await open_demo_exchange(
                stack, "paper", world, settings, clock, Path(tmp)
            )
            bot = await build_bot(settings, clock=clock, exchange=exchange)
            try:
                await bot.engine.start()
                start = world.target_price
                level = 1.0
                w3 = connect(node.rpc_url)
                block, block_ts = 0, 0
                for n in range(1, ticks + 1):
                    if n == 1 or n % MOVE_EVERY == 0:
                        level = min(1.05, max(0.95, level * (1 + rng.gauss(0.0, STEP))))
                        step = await world.driver.move_to(start * Decimal(str(round(level, 6))))
                        block, block_ts = step.block_number, step.block_timestamp
                        set_mark(step.target_price)
                    else:  # an empty block: no swap
                        block_ts += QUIET_BLOCK_S
                        await rpc_request(w3, "anvil_setNextBlockTimestamp", block_ts)
                        await rpc_request(w3, "evm_mine")
                        block += 1
                    clock.set(float(block_ts))
                    await bot.engine.tick(block)
                    if n % SAMPLE_EVERY == 0:
                        samples.append((n, rss_bytes()))
                        print(
                            f"# soak: {n:>7,} ticks  RSS {samples[-1][1] / 1e6:8.1f} MB",
                            file=sys.stderr,
                            flush=True,
                        )
            finally:
                await bot.close()
    return samples


def figures(samples: list[tuple[int, int]], ticks: int) -> dict[str, dict[str, Any]]:
    """Growth after warm-up (the first fifth) and the peak, from ``samples``."""
    warm = [rss for n, rss in samples if n >= ticks // 5]
    if len(warm) < 2 or warm[0] == 0:
        return {}  # unknown is not zero
    growth = (warm[-1] - warm[0]) / warm[0] * 100
    return {
        "soak_rss_growth_pct": {
            "value": round(growth, 2),
            "unit": f"% RSS growth after warm-up over {ticks:,} ticks (goal < 5)",
        },
        "soak_rss_peak_mb": {
            "value": round(max(rss for _, rss in samples) / 1e6, 1),
            "unit": f"MB resident, {ticks:,} ticks",
        },
    }


def run(ticks: int = SHORT_TICKS) -> dict[str, dict[str, Any]]:
    """The figures of this module (``make bench``: ``SHORT_TICKS``)."""
    configure_logging("warning", "json")
    samples = asyncio.run(soak(ticks))
    return figures(samples, ticks)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else SOAK_TICKS
    for key, figure in run(count).items():
        print(f"{key}: {figure['value']} {figure['unit']}")
    os._exit(0)
