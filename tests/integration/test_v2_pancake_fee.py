"""``protocol_fee: pancake``: V2 amounts equal a real ``burn`` on a pair minting PancakeSwap's
protocol-fee share, to the wei (issue 11 item 4).

No PancakeSwap V2 core package is available offline, so the pair is
``bot/sim/contracts/PancakeV2Fee.sol``: the repo's Uniswap V2 pair and factory ported to solc
0.8 with ONLY ``_mintFee``'s share changed to PancakeSwap's (PancakePair.sol:
``totalSupply·(rootK − rootKLast)·8 / (rootK·17 + rootKLast·8)``). It is not PancakeSwap's
deployed bytecode (its swap fee stays Uniswap's 0.3%).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_v2_protocol_fee import FEE_TO, add_liquidity, raw_amounts, real_burn
from web3 import AsyncWeb3

from bot.chain.reader import LpChainReader
from bot.config import load_config
from bot.domain import PositionExposure
from bot.sim.compile import compiled_contracts
from bot.sim.deploy import LocalDeployment, Transactor
from bot.sim.market import MarketDriver

pytestmark = pytest.mark.integration


async def pancake_pair(w3: AsyncWeb3[Any], d: LocalDeployment) -> LocalDeployment:
    """``d`` with its pair and factory replaced by a new PancakeV2Fee pair of the same tokens,
    ``feeTo`` set, seeded by the LP (100 base at the session price) and the second holder."""
    contracts = compiled_contracts()
    tx = await Transactor.create(w3)
    factory_address = await tx.deploy(
        contracts["PancakeV2FeeFactory"], d.deployer_account, d.deployer_account
    )
    factory = w3.eth.contract(address=factory_address, abi=contracts["PancakeV2FeeFactory"].abi)
    await tx.send(
        "setFeeTo", factory.functions.setFeeTo(w3.to_checksum_address(FEE_TO)), d.deployer_account
    )
    await tx.send(
        "createPair", factory.functions.createPair(d.base_token, d.quote_token), d.deployer_account
    )
    pair = await factory.functions.getPair(d.base_token, d.quote_token).call()
    pancake = dataclasses.replace(d, factory=factory_address, pair=pair)
    token_abi = contracts["TestToken"].abi
    amounts = {d.base_token: 100 * 10**18, d.quote_token: 200_000 * 10**6}
    for token, amount in amounts.items():
        erc20 = w3.eth.contract(address=w3.to_checksum_address(token), abi=token_abi)
        await tx.send("mint", erc20.functions.mint(d.lp_account, amount), d.lp_account)
        await tx.send("fund pair", erc20.functions.transfer(pair, amount), d.lp_account)
    pair_c = w3.eth.contract(address=pair, abi=contracts["PancakeV2FeePair"].abi)
    await tx.send("pair.mint", pair_c.functions.mint(d.lp_account), d.lp_account)
    assert d.second_lp_account is not None
    await add_liquidity(w3, pancake, d.second_lp_account, 30 * 10**18)
    return pancake


def snapshot_config(tmp_path: Path, d: LocalDeployment, protocol_fee: str | None) -> Path:
    """A bot config for the LP's position on ``d``'s pair (``protocol_fee`` None: omitted)."""
    position = {"id": "lp", "kind": "v2", "pool": d.pair, "owner": d.lp_account}
    if protocol_fee is not None:
        position["protocol_fee"] = protocol_fee
    data = {
        "bot_id": "pancake-fee",
        "chain": {"rpc_urls": [d.rpc_url], "multicall": d.multicall},
        "positions": [position],
        "hedge_asset": {"base_token": d.base_token, "quote_token": d.quote_token},
        "store": {"path": str(tmp_path / "hedgebot.sqlite")},
    }
    path = tmp_path / f"{protocol_fee}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def snapshot_position(w3: AsyncWeb3[Any], config: Path, block: int) -> PositionExposure:
    """The configured position as the bot's chain reader values it at ``block``."""
    snapshot = await LpChainReader(w3, load_config(config)).snapshot(block)
    (position,) = snapshot.positions
    return position


async def test_pancake_share_equals_burn_to_the_wei(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any], tmp_path: Path
) -> None:
    """feeTo set, mints, swaps on a pair minting PancakeSwap's share: ``protocol_fee: pancake``
    snapshot amounts equal what burn pays; Uniswap's share (the default) does not."""
    d = await pancake_pair(w3, fresh_chain)
    async with await MarketDriver.create(d, step_s=60) as driver:
        for price in (Decimal(2600), Decimal(1500), Decimal(2400), Decimal(1700)):
            await driver.move_to(price)
    await add_liquidity(w3, d, d.lp_account, 10**18)  # a mint: _mintFee runs, kLast re-set
    async with await MarketDriver.create(d, step_s=60) as driver:
        for price in (Decimal(2900), Decimal(2100)):
            await driver.move_to(price)
    block = await w3.eth.block_number
    burned = await real_burn(w3, d, d.lp_account)

    pancake = await snapshot_position(w3, snapshot_config(tmp_path, d, "pancake"), block)
    assert raw_amounts(d, pancake.amount_base, pancake.amount_quote) == burned
    assert pancake.delta_base == pancake.amount_base

    for uniswap_config in (None, "uniswap"):  # the default is Uniswap's share
        uniswap = await snapshot_position(w3, snapshot_config(tmp_path, d, uniswap_config), block)
        # Uniswap mints less (1/6 < 8/25 of the growth): a smaller supply, larger amounts
        wrong_base, wrong_quote = raw_amounts(d, uniswap.amount_base, uniswap.amount_quote)
        assert wrong_base > burned[0]
        assert wrong_quote > burned[1]
