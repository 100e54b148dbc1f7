"""Local chain fixtures: one anvil + deployment per session, a fresh EVM state per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from web3 import AsyncWeb3

from bot.chain.rpc import connect, rpc_request
from bot.sim.anvil import Anvil
from bot.sim.deploy import DeploymentSpec, LocalDeployment, deploy_local

# The session pool: 1000 base at 2000 quote/base; the LP holds 75% of the supply, a second
# holder 25% (less the 1000 units Uniswap locks), so the bot's share is never 100%.
SESSION_SPEC = DeploymentSpec(
    price_quote_per_base=Decimal(2000),
    depth_base=Decimal(1000),
    base_is_token0=True,
    second_lp_fraction=Decimal("0.25"),
)


@pytest.fixture(scope="session")
async def anvil_node() -> AsyncIterator[Anvil]:
    """One automining anvil for the whole session."""
    async with Anvil() as node:
        yield node


@pytest.fixture(scope="session")
async def localnet(anvil_node: Anvil) -> LocalDeployment:
    """Tokens, WETH9, Multicall, UniswapV2Factory and a seeded pair, deployed once."""
    return await deploy_local(anvil_node.rpc_url, SESSION_SPEC)


@pytest.fixture
async def w3(localnet: LocalDeployment) -> AsyncIterator[AsyncWeb3[Any]]:
    """A connection to the session node."""
    client = connect(localnet.rpc_url)
    yield client
    await client.provider.disconnect()


@pytest.fixture
async def fresh_chain(
    localnet: LocalDeployment, w3: AsyncWeb3[Any]
) -> AsyncIterator[LocalDeployment]:
    """The session deployment, with every state change of the test reverted afterwards."""
    snapshot = await rpc_request(w3, "evm_snapshot")
    try:
        yield localnet
    finally:
        assert await rpc_request(w3, "evm_revert", snapshot) is True


# V3 deployments (both token orders) and their per-test fixtures live in v3_support.py.
from emulator_support import clock, emulator  # noqa: E402, F401 - per-test emulator fixtures
from mqtt_support import mqtt_broker  # noqa: E402, F401 - a session fixture
from nats_support import nats_broker  # noqa: E402, F401 - one nats-server per session
from v3_support import v3, v3_driver, v3_worlds  # noqa: E402, F401
