"""Session V3 deployments (both token orders) on the session anvil, and contract helpers.

Import the fixtures into a test module (``from tests.integration.v3_support import ...``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from web3 import AsyncWeb3

from bot.chain.rpc import connect, rpc_request
from bot.sim.anvil import Anvil
from bot.sim.deploy import Transactor
from bot.sim.deploy_v3 import (
    DEADLINE,
    V3Deployment,
    V3DeploymentSpec,
    deploy_v3,
    uniswap_v3_artifact,
)
from bot.sim.localnet_v3 import V3MarketDriver

MAX_UINT128 = 2**128 - 1


@pytest.fixture(scope="session")
async def v3_worlds(anvil_node: Anvil) -> dict[bool, V3Deployment]:
    """A V3 pool with base as token0 and one with base as token1, deployed once."""
    return {
        order: await deploy_v3(anvil_node.rpc_url, V3DeploymentSpec(base_is_token0=order))
        for order in (True, False)
    }


@pytest.fixture(params=[True, False], ids=["base0", "base1"])
async def v3(
    request: pytest.FixtureRequest, v3_worlds: dict[bool, V3Deployment]
) -> AsyncIterator[V3Deployment]:
    """One V3 deployment per token order, with the test's state changes reverted after."""
    d = v3_worlds[bool(request.param)]
    w3 = connect(d.rpc_url)
    snapshot = await rpc_request(w3, "evm_snapshot")
    try:
        yield d
    finally:
        assert await rpc_request(w3, "evm_revert", snapshot) is True
        await w3.provider.disconnect()


@pytest.fixture
async def v3_driver(v3: V3Deployment) -> AsyncIterator[V3MarketDriver]:
    """A market driver on the test's pool (no path: tests use ``move_to``)."""
    async with await V3MarketDriver.create(v3, step_s=60) as driver:
        yield driver


def npm_contract(w3: AsyncWeb3[Any], d: V3Deployment) -> Any:
    """The full NonfungiblePositionManager contract (state-changing functions too)."""
    abi = uniswap_v3_artifact("NonfungiblePositionManager").abi
    return w3.eth.contract(address=w3.to_checksum_address(d.position_manager), abi=abi)


def pool_contract(w3: AsyncWeb3[Any], d: V3Deployment) -> Any:
    """The full UniswapV3Pool contract."""
    abi = uniswap_v3_artifact("UniswapV3Pool").abi
    return w3.eth.contract(address=w3.to_checksum_address(d.pool), abi=abi)


async def static_decrease_and_collect(
    w3: AsyncWeb3[Any], d: V3Deployment, token_id: int, owner: str, block: int
) -> tuple[tuple[int, int], tuple[int, int]]:
    """(decreaseLiquidity of all liquidity, collect(max, max)) as eth_calls from the owner."""
    npm = npm_contract(w3, d)
    liquidity = (await npm.functions.positions(token_id).call(block_identifier=block))[7]
    amounts = (0, 0)
    if liquidity > 0:
        amounts = await npm.functions.decreaseLiquidity((token_id, liquidity, 0, 0, DEADLINE)).call(
            {"from": owner}, block_identifier=block
        )
    fees = await npm.functions.collect((token_id, owner, MAX_UINT128, MAX_UINT128)).call(
        {"from": owner}, block_identifier=block
    )
    return (int(amounts[0]), int(amounts[1])), (int(fees[0]), int(fees[1]))


def raw(amount: Decimal, decimals: int) -> int:
    """A human amount back in raw units; must be exact."""
    scaled = amount.scaleb(decimals)
    assert scaled == scaled.to_integral_value(), amount
    return int(scaled)


async def transact(w3: AsyncWeb3[Any], what: str, fn: Any, sender: str) -> Any:
    """Send and require success."""
    tx = await Transactor.create(w3)
    return await tx.send(what, fn, sender)
