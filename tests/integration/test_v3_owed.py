"""Withdrawn but uncollected V3 liquidity stays in the hedge; fees are fee growth only (11.3).

Oracles are the real contracts on anvil: the principal is what ``decreaseLiquidity`` /
``pool.burn`` returned, the fees are what ``collect`` paid on a poke just before the
withdrawal (no swap in between, so no fee growth), the total is a static ``collect`` after.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from v3_support import MAX_UINT128, npm_contract, pool_contract, raw, transact
from web3 import AsyncWeb3

from bot.chain.rpc import rpc_request
from bot.chain.uniswap_v3 import V3PositionReader
from bot.config import V3PositionConfig
from bot.domain import PositionExposure
from bot.sim.deploy_v3 import DEADLINE, V3Deployment
from bot.sim.localnet_v3 import V3MarketDriver

pytestmark = pytest.mark.integration

Pair = tuple[int, int]


def reader_for(w3: AsyncWeb3[Any], d: V3Deployment, config: V3PositionConfig) -> V3PositionReader:
    return V3PositionReader(
        w3, [config], base_token=d.base_token, quote_token=d.quote_token, multicall=d.multicall
    )


def raw_pairs(e: PositionExposure, d: V3Deployment) -> tuple[Pair, Pair]:
    """((amount0, amount1), (fees0, fees1)) in raw units."""
    base, quote = raw(e.amount_base, d.base_decimals), raw(e.amount_quote, d.quote_decimals)
    fee_b, fee_q = raw(e.fees_base, d.base_decimals), raw(e.fees_quote, d.quote_decimals)
    if d.base_is_token0:
        return (base, quote), (fee_b, fee_q)
    return (quote, base), (fee_q, fee_b)


def plus(a: Pair, b: Pair) -> Pair:
    return a[0] + b[0], a[1] + b[1]


def minus(a: Pair, b: Pair) -> Pair:
    return a[0] - b[0], a[1] - b[1]


def base_of(pair: Pair, d: V3Deployment) -> int:
    return pair[0] if d.base_is_token0 else pair[1]


async def accrue_fees(driver: V3MarketDriver) -> None:
    for price in (Decimal(2150), Decimal(1900), Decimal(2040)):
        await driver.move_to(price)


async def nft_collect(w3: AsyncWeb3[Any], d: V3Deployment, block: int | str = "latest") -> Pair:
    """What ``collect(max, max)`` pays the LP now (pokes first when liquidity is left)."""
    params = (d.token_id, d.lp_account, MAX_UINT128, MAX_UINT128)
    paid = (
        await npm_contract(w3, d)
        .functions.collect(params)
        .call({"from": d.lp_account}, block_identifier=block)
    )
    return int(paid[0]), int(paid[1])


async def nft_decrease(w3: AsyncWeb3[Any], d: V3Deployment, liquidity: int, block: int) -> Pair:
    """What ``decreaseLiquidity(liquidity)`` returns at ``block`` (a static call)."""
    if liquidity == 0:
        return 0, 0
    fn = npm_contract(w3, d).functions.decreaseLiquidity((d.token_id, liquidity, 0, 0, DEADLINE))
    paid = await fn.call({"from": d.lp_account}, block_identifier=block)
    return int(paid[0]), int(paid[1])


@pytest.mark.parametrize("fraction", [1, 2], ids=["full", "half"])
async def test_nft_withdrawn_principal_stays_in_amounts_and_delta(
    v3: V3Deployment, v3_driver: V3MarketDriver, w3: AsyncWeb3[Any], fraction: int
) -> None:
    """decreaseLiquidity without collect: principal in amounts/value/delta, fees unchanged."""
    d = v3
    await accrue_fees(v3_driver)
    npm = npm_contract(w3, d)
    liquidity = int((await npm.functions.positions(d.token_id).call())[7])
    withdrawn = liquidity // fraction
    before = await w3.eth.block_number
    fees_before = await nft_collect(w3, d, before)  # fee growth folded in by the withdrawal
    principal = await nft_decrease(w3, d, withdrawn, before)
    assert sum(fees_before) > 0
    fn = npm.functions.decreaseLiquidity((d.token_id, withdrawn, 0, 0, DEADLINE))
    await transact(w3, "decrease", fn, d.lp_account)
    block = await w3.eth.block_number
    reader = reader_for(
        w3, d, V3PositionConfig(id="lp", kind="v3", position_manager=d.position_manager,
                                token_id=d.token_id)
    )  # fmt: skip
    (exposure,) = (await reader.read(block)).positions
    amounts, fees = raw_pairs(exposure, d)
    remaining = liquidity - withdrawn
    in_range = await nft_decrease(w3, d, remaining, block)
    assert fees == fees_before
    assert amounts == plus(principal, in_range)
    assert plus(principal, fees) == await nft_collect(w3, d, block)
    assert exposure.delta_base == exposure.amount_base
    assert exposure.value_quote == exposure.amount_base * exposure.price + exposure.amount_quote
    assert base_of(principal, d) > 0
    if fraction == 1:
        assert exposure.liquidity == 0
        assert exposure.gamma == 0
        assert raw(exposure.delta_base, d.base_decimals) == base_of(principal, d)

    # later swaps: the principal does not move with the price; fees grow on what is left
    await v3_driver.move_to(Decimal(2080))
    later = await w3.eth.block_number
    (exposure,) = (await reader.read(later)).positions
    amounts, fees = raw_pairs(exposure, d)
    assert amounts == plus(principal, await nft_decrease(w3, d, remaining, later))
    assert fees == minus(await nft_collect(w3, d, later), principal)
    assert fees[0] >= fees_before[0]
    assert fees[1] >= fees_before[1]
    if fraction == 1:
        assert fees == fees_before


async def test_collect_after_withdrawal_clears_the_principal(
    v3: V3Deployment, v3_driver: V3MarketDriver, w3: AsyncWeb3[Any]
) -> None:
    """A part collect takes principal first; a full collect leaves fee growth only."""
    d = v3
    await accrue_fees(v3_driver)
    npm = npm_contract(w3, d)
    reader = reader_for(
        w3, d, V3PositionConfig(id="lp", kind="v3", position_manager=d.position_manager,
                                token_id=d.token_id)
    )  # fmt: skip
    await reader.read(await w3.eth.block_number)  # tokens owed 0 here: the split anchors
    liquidity = int((await npm.functions.positions(d.token_id).call())[7])
    half = liquidity // 2
    before = await w3.eth.block_number
    principal = await nft_decrease(w3, d, half, before)
    fn = npm.functions.decreaseLiquidity((d.token_id, half, 0, 0, DEADLINE))
    await transact(w3, "decrease", fn, d.lp_account)
    part = (principal[0] // 3, principal[1] // 3)
    params = (d.token_id, d.lp_account, part[0], part[1])
    await transact(w3, "collect part", npm.functions.collect(params), d.lp_account)
    block = await w3.eth.block_number
    (exposure,) = (await reader.read(block)).positions
    amounts, fees = raw_pairs(exposure, d)
    left = minus(principal, part)
    assert amounts == plus(left, await nft_decrease(w3, d, liquidity - half, block))
    assert fees == minus(await nft_collect(w3, d, block), left)
    everything = (d.token_id, d.lp_account, MAX_UINT128, MAX_UINT128)
    await transact(w3, "collect all", npm.functions.collect(everything), d.lp_account)
    block = await w3.eth.block_number
    (exposure,) = (await reader.read(block)).positions
    amounts, fees = raw_pairs(exposure, d)
    assert fees == (0, 0)
    assert amounts == await nft_decrease(w3, d, liquidity - half, block)


@pytest.mark.parametrize("fraction", [1, 2], ids=["full", "half"])
async def test_pool_position_burned_not_collected_stays_in_the_hedge(
    v3: V3Deployment, v3_driver: V3MarketDriver, w3: AsyncWeb3[Any], fraction: int
) -> None:
    """pool.burn without collect on a directly owned position: same split as the NFT."""
    d = v3
    await accrue_fees(v3_driver)
    owner = d.position_manager  # owns the pool position; impersonated to burn and collect
    pool = pool_contract(w3, d)
    lower, upper = d.tick_lower, d.tick_upper
    config = V3PositionConfig(
        id="direct", kind="v3", pool=d.pool, owner=owner, tick_lower=lower, tick_upper=upper
    )
    await rpc_request(w3, "anvil_impersonateAccount", owner)
    await rpc_request(w3, "anvil_setBalance", owner, hex(10**18))
    try:
        reader = reader_for(w3, d, config)
        (start,) = (await reader.read(await w3.eth.block_number)).positions
        assert start.liquidity is not None
        withdrawn = start.liquidity // fraction
        snapshot = await rpc_request(w3, "evm_snapshot")
        await transact(w3, "poke", pool.functions.burn(lower, upper, 0), owner)
        collect = pool.functions.collect(owner, lower, upper, MAX_UINT128, MAX_UINT128)
        fees_before = tuple(int(v) for v in await collect.call({"from": owner}))
        assert await rpc_request(w3, "evm_revert", snapshot) is True
        burned = await pool.functions.burn(lower, upper, withdrawn).call({"from": owner})
        principal = (int(burned[0]), int(burned[1]))
        await transact(w3, "burn", pool.functions.burn(lower, upper, withdrawn), owner)
        block = await w3.eth.block_number
        (exposure,) = (await reader.read(block)).positions
        amounts, fees = raw_pairs(exposure, d)
        rest = start.liquidity - withdrawn
        in_range: Pair = (0, 0)
        if rest:
            left = await pool.functions.burn(lower, upper, rest).call({"from": owner})
            in_range = (int(left[0]), int(left[1]))
        paid = await collect.call({"from": owner})
        assert fees == fees_before
        assert amounts == plus(principal, in_range)
        assert plus(principal, fees) == (int(paid[0]), int(paid[1]))
        assert exposure.delta_base == exposure.amount_base
    finally:
        await rpc_request(w3, "anvil_stopImpersonatingAccount", owner)
