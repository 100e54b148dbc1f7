"""MarketDriver: real swaps through the V2 pair track the price path, one block per step."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from web3 import AsyncWeb3

from bot.sim.deploy import DeploymentSpec, LocalDeployment, deploy_local
from bot.sim.market import MarketDriver

pytestmark = pytest.mark.integration

TOLERANCE = Decimal("0.001")


async def test_pool_follows_path_each_step(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any]
) -> None:
    """Each step mines one block step_s later with the pool within 0.1% of the target."""
    start_block = await w3.eth.block_number
    async with await MarketDriver.create(
        fresh_chain, sigma_annual=3.0, step_s=600, seed=11
    ) as driver:
        assert driver.target_price == Decimal(2000)
        previous = await w3.eth.get_block("latest")
        for i in range(12):
            step = await driver.step()
            assert step.block_number == start_block + i + 1
            assert step.block_timestamp == previous["timestamp"] + 600 + i * 600
            assert step.target_price == driver.target_price
            assert abs(step.pool_price / step.target_price - 1) < TOLERANCE
            assert (
                abs(await driver.pool_price(step.block_number) / step.target_price - 1) < TOLERANCE
            )


async def test_large_moves_with_quote_as_token0(fresh_chain: LocalDeployment) -> None:
    """With the inverted ordering, big jumps up and down still land within 0.1%."""
    d = await deploy_local(
        fresh_chain.rpc_url,
        DeploymentSpec(depth_base=Decimal(50), base_is_token0=False),
    )
    async with await MarketDriver.create(d, step_s=12) as driver:
        for target in (Decimal(2600), Decimal(1400), Decimal("1999.5"), Decimal(9000)):
            step = await driver.move_to(target)
            assert step.swap is not None
            assert abs(step.pool_price / target - 1) < TOLERANCE
