"""V3 read latency: one batched read (one Multicall eth_call) + the core math, per block.

Deploys the real V3 contracts on a local anvil, mints 1000 NFT positions of varied ranges for
the LP (50 mints per ``NonfungiblePositionManager.multicall`` transaction) and times
``V3PositionReader.read`` for 1, 100 and 1000 positions with warm caches (the steady state:
one eth_call per block). Prints figures, never asserts on time.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from typing import Any

from bot.chain.rpc import checksum, connect
from bot.chain.uniswap_v3 import V3PositionReader
from bot.config import V3PositionConfig
from bot.core.v3 import get_tick_at_sqrt_ratio
from bot.sim.anvil import Anvil
from bot.sim.compile import compiled_contracts
from bot.sim.deploy import Transactor
from bot.sim.deploy_v3 import DEADLINE, V3Deployment, deploy_v3, uniswap_v3_artifact

SIZES = (1, 100, 1000)
MINTS_PER_TX = 50
REPEATS = 7


async def _mint_many(w3: Any, d: V3Deployment, count: int) -> list[int]:
    """``count`` LP positions around the price, widths 1..50 tick spacings; their token ids."""
    tx = await Transactor.create(w3)
    token_abi = compiled_contracts()["TestToken"].abi
    npm = w3.eth.contract(
        address=checksum(d.position_manager),
        abi=uniswap_v3_artifact("NonfungiblePositionManager").abi,
    )
    pool = w3.eth.contract(address=checksum(d.pool), abi=uniswap_v3_artifact("UniswapV3Pool").abi)
    for token in (d.token0, d.token1):
        contract = w3.eth.contract(address=checksum(token), abi=token_abi)
        await tx.send("mint", contract.functions.mint(d.lp_account, 10**40), d.lp_account)
        await tx.send("approve", contract.functions.approve(npm.address, 2**256 - 1), d.lp_account)
    sqrt_price = (await pool.functions.slot0().call())[0]
    here = get_tick_at_sqrt_ratio(sqrt_price) // d.tick_spacing
    rng = random.Random(1)
    first_id = d.token_id + 1  # a fresh deployment: ids are sequential
    for start in range(0, count, MINTS_PER_TX):
        calls = []
        for _ in range(min(MINTS_PER_TX, count - start)):
            lower = (here + rng.randint(-60, 10)) * d.tick_spacing
            upper = lower + rng.randint(1, 50) * d.tick_spacing
            params = (d.token0, d.token1, d.fee, lower, upper, 10**18, 10**10, 0, 0,
                      d.lp_account, DEADLINE)  # fmt: skip
            calls.append(npm.encode_abi("mint", args=[params]))
        await tx.send("npm.multicall", npm.functions.multicall(calls), d.lp_account, gas=29_000_000)
    return list(range(first_id, first_id + count))


async def _bench() -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    async with Anvil() as node:
        d = await deploy_v3(node.rpc_url)
        w3 = connect(node.rpc_url, request_timeout_s=60.0)
        try:
            token_ids = await _mint_many(w3, d, max(SIZES))
            eth_calls = [0]
            provider: Any = w3.provider
            original = provider.make_request

            async def counting(method: str, params: Any) -> Any:
                eth_calls[0] += method == "eth_call"
                return await original(method, params)

            provider.make_request = counting
            block = await w3.eth.block_number
            for size in SIZES:
                configs = [
                    V3PositionConfig(
                        id=f"p{i}", kind="v3", position_manager=d.position_manager, token_id=i
                    )
                    for i in token_ids[:size]
                ]
                reader = V3PositionReader(
                    w3,
                    configs,
                    base_token=d.base_token,
                    quote_token=d.quote_token,
                    multicall=d.multicall,
                    request_timeout_s=60.0,
                )
                read = await reader.read(block)  # warm the immutable caches
                assert len(read.positions) == size
                times = []
                calls_before = eth_calls[0]
                for _ in range(REPEATS):
                    started = time.perf_counter()
                    await reader.read(block)
                    times.append(time.perf_counter() - started)
                figures[f"v3_read_{size}_positions_median"] = {
                    "value": statistics.median(times) * 1000,
                    "unit": "ms per block (batched read + core)",
                }
                figures[f"v3_read_{size}_positions_eth_calls"] = {
                    "value": (eth_calls[0] - calls_before) // REPEATS,
                    "unit": "eth_calls per block",
                }
        finally:
            await w3.provider.disconnect()
    return figures


def run() -> dict[str, dict[str, Any]]:
    """Median wall time of one warm read of 1, 100 and 1000 V3 positions on local anvil."""
    return asyncio.run(_bench())


if __name__ == "__main__":
    for name, figure in run().items():
        print(f"{name:<40} {figure['value']:>10,.2f}  {figure['unit']}")
