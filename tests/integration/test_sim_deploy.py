"""anvil runner and local deployment: real UniswapV2Factory pair, both token orderings."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import AsyncWeb3

from bot.chain.rpc import connect, load_abi, rpc_request
from bot.sim.anvil import ANVIL_DEV_KEYS, Anvil, AnvilError, AnvilOptions, find_anvil
from bot.sim.deploy import DeploymentSpec, LocalDeployment, deploy_local

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("base_is_token0", [True, False])
async def test_deploys_pair_in_requested_token_order(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any], base_is_token0: bool
) -> None:
    """The pair's token0 is the base or the quote token as asked, seeded at the spec price."""
    spec = DeploymentSpec(
        price_quote_per_base=Decimal(1500),
        depth_base=Decimal(10),
        base_is_token0=base_is_token0,
        second_lp_fraction=Decimal("0.4"),
    )
    d = await deploy_local(fresh_chain.rpc_url, spec)
    assert d.base_is_token0 is base_is_token0
    pair = w3.eth.contract(address=d.pair, abi=load_abi("uniswap_v2_pair"))
    assert await pair.functions.token0().call() == d.token0
    assert await pair.functions.token1().call() == d.token1
    assert d.token0 == (d.base_token if base_is_token0 else d.quote_token)
    r0, r1, _ = await pair.functions.getReserves().call()
    base_raw, quote_raw = (r0, r1) if base_is_token0 else (r1, r0)
    assert base_raw == 10 * 10**18
    assert quote_raw == 15_000 * 10**6
    supply = await pair.functions.totalSupply().call()
    lp = await pair.functions.balanceOf(d.lp_account).call()
    second = await pair.functions.balanceOf(d.second_lp_account).call()
    assert lp + second + 1000 == supply  # 1000 = MINIMUM_LIQUIDITY locked at address(0)
    assert abs(Decimal(second) / Decimal(supply) - Decimal("0.4")) < Decimal("0.000001")


async def test_deployment_round_trips_through_localnet_json(
    localnet: LocalDeployment, tmp_path: Path
) -> None:
    """localnet.json holds every address and the dev keys that match the accounts."""
    path = tmp_path / "localnet.json"
    localnet.write(path)
    loaded = LocalDeployment.read(path)
    assert loaded == localnet
    assert Account.from_key(loaded.lp_private_key).address == loaded.lp_account
    assert Account.from_key(loaded.trader_private_key).address == loaded.trader_account
    assert loaded.chain_id == 31337
    assert len({loaded.pair, loaded.factory, loaded.weth, loaded.multicall}) == 4


async def test_weth_wraps_ether(fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]) -> None:
    """WETH9 mints on deposit and reports its ether balance as total supply."""
    from bot.sim.compile import compiled_contracts

    weth = w3.eth.contract(address=fresh_chain.weth, abi=compiled_contracts()["WETH9"].abi)
    tx = await weth.functions.deposit().transact({"from": fresh_chain.trader_account, "value": 5})
    await w3.eth.wait_for_transaction_receipt(tx)
    assert await weth.functions.balanceOf(fresh_chain.trader_account).call() == 5
    assert await weth.functions.totalSupply().call() == 5


async def test_missing_anvil_binary_says_run_npm_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without node_modules the error tells the user to run `npm ci`."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AnvilError, match="npm ci"):
        find_anvil(tmp_path)
    with pytest.raises(AnvilError, match="npm ci"):
        await Anvil(AnvilOptions(binary=tmp_path / "anvil")).start()


async def test_anvil_without_automine_mines_on_demand() -> None:
    """`no_mining` starts a node that only mines on evm_mine; stop() ends the process."""
    node = Anvil(AnvilOptions(no_mining=True))
    async with node:
        assert node.running
        w3 = connect(node.rpc_url)
        assert await w3.eth.chain_id == 31337
        assert await rpc_request(w3, "anvil_getAutomine") is False
        assert (await w3.eth.accounts)[0] == Account.from_key(ANVIL_DEV_KEYS[0]).address
        before = await w3.eth.block_number
        await rpc_request(w3, "evm_mine")
        assert await w3.eth.block_number == before + 1
        await w3.provider.disconnect()
    assert not node.running


async def test_anvil_interval_mining() -> None:
    """With block_time_s the node mines on its own, without transactions."""
    async with Anvil(AnvilOptions(block_time_s=0.2)) as node:
        w3 = connect(node.rpc_url)
        assert await rpc_request(w3, "anvil_getAutomine") is False
        first = await w3.eth.block_number
        for _ in range(50):
            if await w3.eth.block_number > first:
                break
            await asyncio.sleep(0.05)
        assert await w3.eth.block_number > first
        await w3.provider.disconnect()
