"""V2 amounts equal what the real ``burn`` pays, with the protocol fee switched on (issue 11.4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from web3 import AsyncWeb3

from bot.chain.rpc import rpc_request
from bot.chain.uniswap_v2 import V2PoolReader
from bot.core.amm import raw_share, to_units, v2_exposure
from bot.sim.compile import compiled_contracts, uniswap_v2_artifact
from bot.sim.deploy import LocalDeployment, Transactor
from bot.sim.market import MarketDriver

pytestmark = pytest.mark.integration

FEE_TO = "0x000000000000000000000000000000000000fee0"  # the protocol fee recipient


def contract(w3: AsyncWeb3[Any], address: str, abi: Any) -> Any:
    return w3.eth.contract(address=w3.to_checksum_address(address), abi=abi)


async def real_burn(w3: AsyncWeb3[Any], d: LocalDeployment, owner: str) -> tuple[int, int]:
    """What ``burn`` pays ``owner`` for all its LP tokens now: transfer + burn, then revert."""
    pair = contract(w3, d.pair, uniswap_v2_artifact("UniswapV2Pair").abi)
    snapshot = await rpc_request(w3, "evm_snapshot")
    try:
        tx = await Transactor.create(w3)
        balance = await pair.functions.balanceOf(owner).call()
        await tx.send("lp to pair", pair.functions.transfer(d.pair, balance), owner)
        amount0, amount1 = await pair.functions.burn(owner).call({"from": owner})
        return int(amount0), int(amount1)
    finally:
        assert await rpc_request(w3, "evm_revert", snapshot) is True


async def add_liquidity(w3: AsyncWeb3[Any], d: LocalDeployment, owner: str, base: int) -> None:
    """Mint ``base`` raw base (and the matching quote) into the pair for ``owner``."""
    tx = await Transactor.create(w3)
    token_abi = compiled_contracts()["TestToken"].abi
    pair = contract(w3, d.pair, uniswap_v2_artifact("UniswapV2Pair").abi)
    r0, r1, _ = await pair.functions.getReserves().call()
    amounts = (base, base * r1 // r0) if d.base_is_token0 else (base * r0 // r1, base)
    for token, amount in zip((d.token0, d.token1), amounts, strict=True):
        erc20 = contract(w3, token, token_abi)
        await tx.send("mint", erc20.functions.mint(owner, amount), owner)
        await tx.send("fund pair", erc20.functions.transfer(d.pair, amount), owner)
    await tx.send("pair.mint", pair.functions.mint(owner), owner)


async def set_fee_to(w3: AsyncWeb3[Any], d: LocalDeployment, fee_to: str) -> None:
    factory = contract(w3, d.factory, uniswap_v2_artifact("UniswapV2Factory").abi)
    tx = await Transactor.create(w3)
    await tx.send(
        "setFeeTo", factory.functions.setFeeTo(w3.to_checksum_address(fee_to)), d.deployer_account
    )


def raw_amounts(d: LocalDeployment, amount_base: Decimal, amount_quote: Decimal) -> tuple[int, int]:
    base = int(amount_base.scaleb(d.base_decimals))
    quote = int(amount_quote.scaleb(d.quote_decimals))
    return (base, quote) if d.base_is_token0 else (quote, base)


async def test_amounts_equal_burn_with_the_fee_switch_on(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """feeTo set, a mint, swaps: amounts include the pending fee mint and equal burn to the wei."""
    d = fresh_chain
    await set_fee_to(w3, d, FEE_TO)
    await add_liquidity(w3, d, d.lp_account, 10**18)  # the first mint with feeTo sets kLast
    async with await MarketDriver.create(d, step_s=60) as driver:
        for price in (Decimal(2600), Decimal(1500), Decimal(2400), Decimal(1700)):
            await driver.move_to(price)
    block = await w3.eth.block_number
    reader = V2PoolReader(w3, d.pair, multicall=d.multicall)
    read = await reader.read(block, d.lp_account)
    assert read.fee_on is True
    assert read.k_last > 0
    exposure = v2_exposure(read, d.base_is_token0, "lp")
    burned = await real_burn(w3, d, d.lp_account)
    assert raw_amounts(d, exposure.amount_base, exposure.amount_quote) == burned
    assert exposure.delta_base == exposure.amount_base
    # the naive share (balance x reserve / supply) overstates what burn pays
    naive_base = raw_share(read.reserve0 if d.base_is_token0 else read.reserve1,
                           read.lp_balance, read.total_supply)  # fmt: skip
    assert to_units(naive_base, d.base_decimals) > exposure.amount_base


async def test_fee_switched_off_again_and_donations(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """feeTo back to zero (kLast still set) mints nothing; donated, unsynced tokens are paid."""
    d = fresh_chain
    await set_fee_to(w3, d, FEE_TO)
    await add_liquidity(w3, d, d.lp_account, 10**18)
    async with await MarketDriver.create(d, step_s=60) as driver:
        await driver.move_to(Decimal(2500))
    await set_fee_to(w3, d, "0x" + "0" * 40)
    base = contract(w3, d.base_token, compiled_contracts()["TestToken"].abi)
    tx = await Transactor.create(w3)
    await tx.send("mint", base.functions.mint(d.trader_account, 3 * 10**18), d.trader_account)
    await tx.send("donate", base.functions.transfer(d.pair, 3 * 10**18), d.trader_account)
    block = await w3.eth.block_number
    for batched in (d.multicall, None):
        read = await V2PoolReader(w3, d.pair, multicall=batched).read(block, d.lp_account)
        assert read.fee_on is False
        assert read.k_last > 0
        exposure = v2_exposure(read, d.base_is_token0, "lp")
        assert raw_amounts(d, exposure.amount_base, exposure.amount_quote) == await real_burn(
            w3, d, d.lp_account
        )
