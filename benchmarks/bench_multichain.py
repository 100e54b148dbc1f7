"""Several chains, one tick: 1,000 positions over 2 chains x (Uniswap V3 + V4), read and valued.

Two anvils with different chain ids (31337, 42161), each with the real V3 contracts and the
real V4 ``PoolManager``/``PositionManager``/``StateView`` on the same test tokens (base token1
on one chain, token0 on the other). ``POSITIONS // 4`` NFTs of varied ranges are minted in
each protocol on each chain, 50 per transaction (V3: ``NonfungiblePositionManager.
multicall`` of ``mint``; V4: one ``modifyLiquidities`` of 50 ``MINT_POSITION`` and one
``SETTLE_PAIR``). The timed call is the daemon's own ``MultiChainReader.snapshot`` over a
config listing every NFT by token id: both chains concurrently, each one block-pinned
batched read (Multicall ``tryAggregate``) plus the core valuation of every position, with warm
caches (the steady state). The other chain's head is noted as the head stream notes it.
Prints figures (median and p99 over ``REPEATS`` ticks), never asserts on time.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from decimal import Decimal
from typing import Any

from benchmarks.bench_v3_read import _mint_many as mint_v3_positions
from bot.chain.multichain import MultiChainReader
from bot.chain.rpc import checksum, connect
from bot.clock import WallClock
from bot.config import Settings
from bot.core.v3 import get_tick_at_sqrt_ratio
from bot.sim.anvil import Anvil, AnvilOptions
from bot.sim.deploy import Transactor
from bot.sim.deploy_v3 import V3Deployment, V3DeploymentSpec, deploy_v3
from bot.sim.deploy_v4 import (
    DEADLINE,
    V4Deployment,
    V4DeploymentSpec,
    deploy_v4,
    uniswap_v4_artifact,
)
from bot.sim.v4_actions import Actions, mint_params, modify_liquidities_data, pair_params

__all__ = ["POSITIONS", "run"]

POSITIONS = 1000  # over 2 chains x (V3 + V4): a quarter each
MINTS_PER_TX = 50
REPEATS = 50
CHAINS = (("a", 31_337, True), ("b", 42_161, False))  # name, chain id, base is token0


async def mint_v4_positions(w3: Any, d: V4Deployment, count: int) -> list[int]:
    """``count`` V4 NFTs for the LP around the pool's price, widths 1..50 tick spacings,
    ``MINTS_PER_TX`` per ``modifyLiquidities``; their token ids (sequential)."""
    tx = await Transactor.create(w3)
    posm = w3.eth.contract(
        address=checksum(d.position_manager), abi=uniswap_v4_artifact("PositionManager").abi
    )
    view = w3.eth.contract(address=checksum(d.state_view), abi=uniswap_v4_artifact("StateView").abi)
    sqrt_price = (await view.functions.getSlot0(d.pool_id).call())[0]
    here = get_tick_at_sqrt_ratio(sqrt_price) // d.tick_spacing
    first_id = int(await posm.functions.nextTokenId().call())
    rng = random.Random(2)
    key = d.key
    for start in range(0, count, MINTS_PER_TX):
        actions = []
        for _ in range(min(MINTS_PER_TX, count - start)):
            lower = (here + rng.randint(-60, 10)) * d.tick_spacing
            upper = lower + rng.randint(1, 50) * d.tick_spacing
            params = mint_params(key, lower, upper, 10**12, d.lp_account)
            actions.append((Actions.MINT_POSITION, params))
        actions.append((Actions.SETTLE_PAIR, pair_params(key)))
        fn = posm.functions.modifyLiquidities(modify_liquidities_data(actions), DEADLINE)
        await tx.send("posm.modifyLiquidities", fn, d.lp_account, gas=29_000_000)
    return list(range(first_id, first_id + count))


async def _deploy_chain(
    node: Anvil, base_is_token0: bool, per_protocol: int
) -> tuple[V3Deployment, V4Deployment, list[int], list[int]]:
    """One chain's V3 and V4 deployments (V4 on the V3 pool's tokens) and the minted ids."""
    v3 = await deploy_v3(node.rpc_url, V3DeploymentSpec(base_is_token0=base_is_token0))
    v4 = await deploy_v4(node.rpc_url, V4DeploymentSpec(tokens=(v3.base_token, v3.quote_token)))
    w3 = connect(node.rpc_url, request_timeout_s=60.0)
    try:
        v3_ids = await mint_v3_positions(w3, v3, per_protocol)
        v4_ids = await mint_v4_positions(w3, v4, per_protocol)
    finally:
        await w3.provider.disconnect()
    return v3, v4, v3_ids, v4_ids


def _chain_positions(
    name: str, v3: V3Deployment, v4: V4Deployment, v3_ids: list[int], v4_ids: list[int]
) -> list[dict[str, Any]]:
    v3_rows = [
        {"id": f"{name}-v3-{i}", "kind": "v3", "chain": name,
         "position_manager": v3.position_manager, "token_id": i}
        for i in v3_ids
    ]  # fmt: skip
    v4_rows = [
        {"id": f"{name}-v4-{i}", "kind": "v4", "chain": name,
         "position_manager": v4.position_manager, "state_view": v4.state_view, "token_id": i}
        for i in v4_ids
    ]  # fmt: skip
    return v3_rows + v4_rows


def settings_for(
    nodes: dict[str, Anvil], worlds: dict[str, tuple[V3Deployment, V4Deployment, Any, Any]]
) -> Settings:
    """One bot's config over both chains: every minted NFT listed by token id."""
    positions: list[dict[str, Any]] = []
    for name, (v3, v4, v3_ids, v4_ids) in worlds.items():
        positions += _chain_positions(name, v3, v4, v3_ids, v4_ids)
    first = next(iter(worlds.values()))[0]
    chains = {
        name: {
            "rpc_urls": [nodes[name].rpc_url],
            "multicall": world[0].multicall,
            "request_timeout_s": 60,
            "read_timeout_s": 120,
        }
        for name, world in worlds.items()
    }
    return Settings(
        bot_id="bench-multichain",
        chains=chains,
        positions=positions,
        hedge_asset={
            "base_token": first.base_token,
            "quote_token": first.quote_token,
            "chains": {
                name: {"base_token": w[0].base_token, "quote_token": w[0].quote_token}
                for name, w in worlds.items()
            },
        },
        exchange={"kind": "paper"},
    )


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def _time_ticks(settings: Settings, repeats: int) -> dict[str, Any]:
    """Time ``repeats`` warm snapshots of every chain; the eth_calls per tick."""
    reader = MultiChainReader(settings, WallClock())
    eth_calls = [0]
    for slot in reader.chains.values():
        provider: Any = slot.reader.w3.provider
        original = provider.make_request

        async def counting(method: str, params: Any, _original: Any = original) -> Any:
            eth_calls[0] += method == "eth_call"
            return await _original(method, params)

        provider.make_request = counting
    try:
        for name, slot in reader.chains.items():
            reader.note_head(name, await slot.reader.latest_block())
        block = reader.head(reader.primary)
        assert block is not None
        first = await reader.snapshot(block)  # the immutable facts, read once
        calls_before = eth_calls[0]
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            snap = await reader.snapshot(block)
            times.append(time.perf_counter() - started)
        calls = (eth_calls[0] - calls_before) / repeats
    finally:
        await reader.close()
    assert snap.positions == first.positions
    return {"times": times, "positions": len(snap.positions), "eth_calls": calls, "snap": snap}


async def _bench(positions: int, repeats: int) -> dict[str, dict[str, Any]]:
    per_protocol = positions // 4
    async with (
        Anvil(AnvilOptions(chain_id=CHAINS[0][1])) as a,
        Anvil(AnvilOptions(chain_id=CHAINS[1][1])) as b,
    ):
        nodes = {CHAINS[0][0]: a, CHAINS[1][0]: b}
        started = time.perf_counter()
        deployed = await asyncio.gather(
            *(_deploy_chain(nodes[name], token0, per_protocol) for name, _, token0 in CHAINS)
        )
        setup_s = time.perf_counter() - started
        worlds = {name: world for (name, _, _), world in zip(CHAINS, deployed, strict=True)}
        measured = await _time_ticks(settings_for(nodes, worlds), repeats)
    times: list[float] = measured["times"]
    count = measured["positions"]
    snap = measured["snap"]
    assert count == 4 * per_protocol, count
    assert {p.chain for p in snap.positions} == {name for name, _, _ in CHAINS}
    assert sum(p.value_quote for p in snap.positions) > Decimal(0)
    label = f"multichain_read_{count}_positions_ms"
    return {
        label: {
            "value": statistics.median(times) * 1000,
            "unit": "ms per tick, median (2 chains x V3+V4, read + valued; goal < 250)",
        },
        f"{label}_p99": {"value": _p99(times) * 1000, "unit": "ms per tick, p99"},
        f"multichain_read_{count}_positions_eth_calls": {
            "value": measured["eth_calls"],
            "unit": "eth_calls per tick (both chains)",
        },
        f"multichain_{count}_positions_setup_s": {
            "value": setup_s,
            "unit": "s to deploy and mint (both chains, concurrently)",
        },
    }


def run(positions: int = POSITIONS, repeats: int = REPEATS) -> dict[str, dict[str, Any]]:
    """Median and p99 wall time of one tick's read of ``positions`` positions spread over 2
    chains x (V3 + V4) (``positions`` a multiple of 4); eth_calls per tick; setup time."""
    if positions <= 0 or positions % 4:
        raise ValueError(f"positions must be a positive multiple of 4, got {positions}")
    return asyncio.run(_bench(positions, repeats))


if __name__ == "__main__":
    for name, figure in run().items():
        print(f"{name:<48} {figure['value']:>10,.2f}  {figure['unit']}")
