"""One bot hedging 1,000 positions: ticks/s and CPU time per position per tick.

A real anvil with the real Uniswap V3 contracts (``start_world(pool_kind="v3")``: the pool,
its NonfungiblePositionManager and a market driver that swaps the pool along a seeded GBM
path) plus a real Uniswap V2 factory and pair on the same two tokens. The LP holds 500 V3 NFT
positions of varied ranges (minted as in ``bench_v3_read``) and its V2 liquidity is spread
over 500 owners (one V2 position each). One engine, built as ``hedgebot run`` builds it
(``build_bot``) on the in-process paper venue, hedges all 1,000 as one book.

Each tick follows one market step (a swap in the V3 pool and a new block, not timed); the
tick is timed in wall time (``perf_counter``) and in this process's CPU time
(``process_time``: the bot's own work, reads parsed, core math, store writes, its JSON log
lines rendered at info as the daemon logs them; anvil runs in its own process and is not
counted). The market steps an hour of GBM (σ 0.9) per block so that ranges are crossed and
the hedge trades on most ticks; the block time of the chain the figure is held against is
the 2 seconds of ``BLOCK_TIME_MS``. Figures: ticks/s over the timed ticks, the median and
p99 tick in ms against one block of a 2-second chain, CPU ms per tick and per position per
tick, eth_calls per tick and the orders placed. Prints figures, never asserts on time.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from benchmarks.bench_v3_read import _mint_many
from bot.app import build_bot
from bot.chain.rpc import checksum, connect
from bot.clock import ManualClock
from bot.config import Settings
from bot.logging import configure_logging
from bot.sim.anvil import Anvil
from bot.sim.compile import compiled_contracts, uniswap_v2_artifact
from bot.sim.deploy import Transactor
from bot.sim.localnet import LocalWorld, local_config, start_world

V3_POSITIONS = 500
V2_POSITIONS = 500
TICKS = 30
WARMUP = 3
BLOCK_TIME_MS = 2000.0  # one block of a 2-second chain
V2_DEPTH_BASE = 100  # whole base units in the V2 pair (quote at the world's start price)


def _owner(index: int) -> str:
    """A deterministic address for V2 owner ``index`` (holds LP tokens, needs no key)."""
    return str(checksum("0x" + hashlib.sha256(f"bench-owner-{index}".encode()).hexdigest()[:40]))


async def _deploy_v2_pair(w3: Any, world: LocalWorld, owners: int) -> tuple[str, list[str]]:
    """A V2 factory and pair on the world's two tokens, seeded at its start price, the LP
    tokens spread evenly over ``owners`` addresses (the LP account keeps the first share)."""
    d: Any = world.deployment
    tx = await Transactor.create(w3)
    token_abi = compiled_contracts()["TestToken"].abi
    factory_art = uniswap_v2_artifact("UniswapV2Factory")
    factory_address = await tx.deploy(factory_art, d.deployer_account, d.deployer_account)
    factory = w3.eth.contract(address=checksum(factory_address), abi=factory_art.abi)
    await tx.send(
        "createPair", factory.functions.createPair(d.base_token, d.quote_token), d.deployer_account
    )
    pair = str(checksum(await factory.functions.getPair(d.base_token, d.quote_token).call()))
    pair_c = w3.eth.contract(address=pair, abi=uniswap_v2_artifact("UniswapV2Pair").abi)
    amounts = {
        d.base_token: V2_DEPTH_BASE * 10**d.base_decimals,
        d.quote_token: int(V2_DEPTH_BASE * world.start_price * 10**d.quote_decimals),
    }
    lp = d.lp_account
    for token, amount in amounts.items():
        contract = w3.eth.contract(address=checksum(token), abi=token_abi)
        await tx.send("mint", contract.functions.mint(lp, amount), lp)
        await tx.send("fund pair", contract.functions.transfer(pair, amount), lp)
    await tx.send("pair.mint", pair_c.functions.mint(lp), lp)
    share = int(await pair_c.functions.balanceOf(lp).call()) // owners
    holders = [str(checksum(lp))] + [_owner(i) for i in range(1, owners)]
    for holder in holders[1:]:
        await tx.send("lp share", pair_c.functions.transfer(holder, share), lp)
    return pair, holders


def _settings(
    world: LocalWorld, workdir: Path, pair: str, owners: list[str], ids: list[int]
) -> Settings:
    """The bot's config: every V3 NFT and V2 owner as a position, a paper venue deep enough
    for the whole book's hedge."""
    d: Any = world.deployment
    data = local_config(world, workdir, bot_id="bench-fleet")
    data["chain"]["request_timeout_s"] = 60.0
    data["positions"] = [
        {"id": f"v3-{token_id}", "kind": "v3", "position_manager": d.position_manager,
         "token_id": token_id}
        for token_id in ids
    ] + [
        {"id": f"v2-{i}", "kind": "v2", "pool": pair, "owner": owner}
        for i, owner in enumerate(owners)
    ]  # fmt: skip
    data["exchange"]["paper"]["initial_balance"] = "1000000000"
    # the book's hedge is ~350 base (~0.7 M quote): the default notional caps would block it
    data["risk"] = {
        "max_order_notional_quote": "100000000",
        "max_position_notional_quote": "100000000",
    }
    return Settings(**data)


async def _bench(v3_count: int, v2_count: int, ticks: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-fleet-positions-") as tmp:
        async with (
            Anvil() as node,
            start_world(node.rpc_url, pool_kind="v3", seed=11, step_seconds=3600) as world,
            AsyncExitStack() as stack,
        ):
            w3 = connect(node.rpc_url, request_timeout_s=60.0)
            stack.push_async_callback(w3.provider.disconnect)
            d: Any = world.deployment
            token_ids = [d.token_id] + await _mint_many(w3, d, v3_count - 1)
            pair, owners = await _deploy_v2_pair(w3, world, v2_count)
            settings = _settings(world, Path(tmp), pair, owners, token_ids)
            clock = ManualClock(float(world.start_timestamp))
            exchange, set_mark = await world.open_exchange(
                stack, "paper", settings, clock, Path(tmp)
            )
            bot = await build_bot(settings, clock=clock, exchange=exchange)
            stack.push_async_callback(bot.close)
            calls = _count_eth_calls(bot.engine.chain)
            await bot.engine.start()
            wall: list[float] = []
            cpu: list[float] = []
            orders = 0
            eth_calls_before = 0
            for i in range(WARMUP + ticks):
                step = await world.step()
                clock.set(float(step.block_timestamp))
                set_mark(step.target_price)
                if i == WARMUP:
                    eth_calls_before = calls[0]
                cpu_start, wall_start = time.process_time(), time.perf_counter()
                report = await bot.engine.tick(step.block_number)
                wall_s, cpu_s = time.perf_counter() - wall_start, time.process_time() - cpu_start
                if report is None or report.snapshot is None:
                    raise RuntimeError(f"tick {i} failed: {bot.engine.stats.last_error}")
                if len(report.snapshot.positions) != v3_count + v2_count:
                    raise RuntimeError(f"tick {i} read {len(report.snapshot.positions)} positions")
                if i >= WARMUP:
                    wall.append(wall_s)
                    cpu.append(cpu_s)
                    orders += report.order is not None
            return {
                "wall": wall,
                "cpu": cpu,
                "orders": orders,
                "eth_calls": (calls[0] - eth_calls_before) / ticks,
            }


def _count_eth_calls(chain: Any) -> list[int]:
    """Count the eth_calls the bot's own web3 provider sends (a one-element counter)."""
    counter = [0]
    provider: Any = chain.w3.provider
    original = provider.make_request

    async def counting(method: str, params: Any) -> Any:
        counter[0] += method == "eth_call"
        return await original(method, params)

    provider.make_request = counting
    return counter


def run(
    v3_count: int = V3_POSITIONS, v2_count: int = V2_POSITIONS, ticks: int = TICKS
) -> dict[str, dict[str, Any]]:
    """Ticks/s and CPU ms per position per tick for one bot hedging ``v3_count`` V3 NFT and
    ``v2_count`` V2 positions on local anvil (paper venue)."""
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        # as the daemon logs (JSON at info: range crossings, orders), rendered, not kept
        configure_logging("info", "json", file=devnull)
        try:
            result = asyncio.run(_bench(v3_count, v2_count, ticks))
        finally:
            configure_logging("warning", "console")
    positions = v3_count + v2_count
    wall_ms = [s * 1000 for s in result["wall"]]
    cpu_ms = [s * 1000 for s in result["cpu"]]
    p99 = statistics.quantiles(wall_ms, n=100, method="inclusive")[98]
    median = statistics.median(wall_ms)
    prefix = f"fleet_{positions}_positions"
    figures: dict[str, dict[str, Any]] = {
        f"{prefix}_ticks_per_s": {"value": len(wall_ms) / sum(wall_ms) * 1000, "unit": "ticks/s"},
        f"{prefix}_tick_median": {"value": median, "unit": "ms wall per tick"},
        f"{prefix}_tick_p99": {"value": p99, "unit": "ms wall per tick"},
        f"{prefix}_tick_cpu_mean": {"value": statistics.fmean(cpu_ms), "unit": "ms CPU per tick"},
        f"{prefix}_cpu_per_position": {
            "value": statistics.fmean(cpu_ms) / positions,
            "unit": "ms CPU per position per tick",
        },
        f"{prefix}_eth_calls": {"value": result["eth_calls"], "unit": "eth_calls per tick"},
        f"{prefix}_orders": {"value": result["orders"], "unit": f"orders in {len(wall_ms)} ticks"},
    }
    verdict = "under" if p99 < BLOCK_TIME_MS else "OVER"
    print(
        f"{positions} positions ({v3_count} V3 + {v2_count} V2), {len(wall_ms)} ticks: "
        f"median {median:.1f} ms, p99 {p99:.1f} ms ({verdict} one {BLOCK_TIME_MS:.0f} ms block), "
        f"CPU {statistics.fmean(cpu_ms) / positions:.3f} ms per position per tick"
    )
    return figures


if __name__ == "__main__":
    for name, figure in run().items():
        print(f"{name:<44} {figure['value']:>12,.3f}  {figure['unit']}")
