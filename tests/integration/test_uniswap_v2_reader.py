"""V2PoolReader against the real pair: equals direct calls, pinned to its block, batched."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from web3 import AsyncWeb3

from bot.chain.rpc import connect, load_abi
from bot.chain.uniswap_v2 import V2PoolReader
from bot.errors import ChainError
from bot.sim.deploy import LocalDeployment
from bot.sim.market import MarketDriver

pytestmark = pytest.mark.integration


async def direct_read(
    w3: AsyncWeb3[Any], d: LocalDeployment, owner: str, block: int
) -> tuple[int, ...]:
    pair = w3.eth.contract(address=d.pair, abi=load_abi("uniswap_v2_pair"))
    r0, r1, _ = await pair.functions.getReserves().call(block_identifier=block)
    supply = await pair.functions.totalSupply().call(block_identifier=block)
    balance = await pair.functions.balanceOf(owner).call(block_identifier=block)
    return r0, r1, supply, balance


@pytest.mark.parametrize("batched", [True, False], ids=["multicall", "single-calls"])
async def test_read_equals_direct_calls_and_stays_pinned(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any], batched: bool
) -> None:
    """A read of block N equals direct calls at N, and still does after a later swap."""
    d = fresh_chain
    reader = V2PoolReader(w3, d.pair, multicall=d.multicall if batched else None)
    pinned = await w3.eth.block_number
    before = await reader.read(pinned, d.lp_account)
    assert (before.reserve0, before.reserve1, before.total_supply, before.lp_balance) == (
        await direct_read(w3, d, d.lp_account, pinned)
    )
    assert before.token0.symbol == "ETH"
    assert before.token0.decimals == 18
    assert before.token1.symbol == "USDT"
    assert before.token1.decimals == 6
    assert 0 < before.lp_balance < before.total_supply

    async with await MarketDriver.create(d, step_s=60) as driver:
        step = await driver.move_to(Decimal(2300))
    assert step.block_number > pinned
    later = await reader.read(step.block_number, d.lp_account)
    assert later.reserve0 < before.reserve0
    assert later.reserve1 > before.reserve1
    assert await reader.read(pinned, d.lp_account) == before


async def test_read_many_covers_each_holder(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """Both LP holders are read in one batch; their balances plus the locked 1000 are the supply."""
    d = fresh_chain
    assert d.second_lp_account is not None
    reader = V2PoolReader(w3, d.pair, multicall=d.multicall)
    block = await w3.eth.block_number
    lp, second = await reader.read_many(block, [d.lp_account, d.second_lp_account])
    assert lp.lp_balance + second.lp_balance + 1000 == lp.total_supply
    # 75/25 split of sqrt(x*y); the 1000 locked units came off the first (LP) mint.
    assert abs(lp.lp_balance + 1000 - 3 * second.lp_balance) <= 3


async def test_one_eth_call_per_block_after_first_read(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """With Multicall, a read costs exactly one eth_call once token metadata is cached."""
    d = fresh_chain
    methods: list[str] = []
    provider: Any = w3.provider
    original = provider.make_request

    async def counting(method: str, params: Any) -> Any:
        methods.append(method)
        return await original(method, params)

    provider.make_request = counting
    try:
        reader = V2PoolReader(w3, d.pair, multicall=d.multicall)
        block = await w3.eth.block_number
        await reader.read(block, d.lp_account)
        methods.clear()
        await reader.read(block, d.lp_account)
    finally:
        provider.make_request = original
    assert methods == ["eth_call"]


async def test_failures_become_chain_errors(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """A non-pair address or a dead node raise ChainError, never a raw web3/aiohttp error."""
    d = fresh_chain
    block = await w3.eth.block_number
    with pytest.raises(ChainError):
        await V2PoolReader(w3, d.lp_account, multicall=d.multicall).read(block, d.lp_account)
    with pytest.raises(ChainError):
        await V2PoolReader(w3, d.weth).read(block, d.lp_account)
    dead = connect("http://127.0.0.1:9", request_timeout_s=1.0)
    try:
        with pytest.raises(ChainError):
            await V2PoolReader(dead, d.pair, request_timeout_s=1.0).read(block, d.lp_account)
    finally:
        await dead.provider.disconnect()
