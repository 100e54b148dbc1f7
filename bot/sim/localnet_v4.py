"""The local V4 world: the real V4 contracts on anvil and a market that swaps through the pool.

``start_world_v4`` deploys (``bot.sim.deploy_v4``) and yields a ``LocalWorld`` of kind "v4"
whose driver moves the pool along a seeded GBM path like the V3 driver (one block per step,
``step_s`` apart): each step is one ``PoolSwapTest.swap`` by the trader with
``sqrtPriceLimitX96`` at the target, so the swap stops exactly on the target price; the pool's
state is read through ``StateView.getSlot0``. Native ETH pools are swapped with ``msg.value``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, cast

from web3 import AsyncWeb3

from bot.chain.rpc import checksum, guarded, rpc_request
from bot.sim.deploy_v4 import V4Deployment, V4DeploymentSpec, deploy_v4, uniswap_v4_artifact
from bot.sim.localnet_v3 import V3MarketDriver
from bot.sim.market import SeededGbm

if TYPE_CHECKING:
    from bot.sim.localnet import LocalWorld

__all__ = ["V4MarketDriver", "position_config", "start_world_v4"]

_TIMEOUT_S = 10.0
_GAS_SWAP = 1_000_000
_SWAP_IN = 10**30  # exact input the trader offers; the price limit stops the swap first
_NATIVE_FUNDS = 10**30  # wei the trader holds in a native-ETH world (anvil_setBalance)


class V4MarketDriver(V3MarketDriver):
    """Moves a V4 pool to the price path, one mined block per ``step()``."""

    def __init__(
        self, w3: AsyncWeb3[Any], deployment: Any, path: SeededGbm, *, step_s: int
    ) -> None:
        if step_s < 1:
            raise ValueError("step_s must be at least 1 second")
        self._w3 = w3
        self._d = deployment  # a V4Deployment: the V3 driver reads only the shared fields
        self._v4: V4Deployment = deployment
        self._path = path
        self._step_s = step_s
        self._target = Decimal(repr(path.price))
        self._view = w3.eth.contract(
            address=checksum(deployment.state_view), abi=uniswap_v4_artifact("StateView").abi
        )
        self._swapper = w3.eth.contract(
            address=checksum(deployment.swap_router), abi=uniswap_v4_artifact("PoolSwapTest").abi
        )

    async def _fund_trader(self) -> None:
        """``deploy_v4`` funded and approved the trader's tokens; native ETH is topped up."""
        if self._v4.native:
            funds = hex(_NATIVE_FUNDS)
            await rpc_request(self._w3, "anvil_setBalance", self._v4.trader_account, funds)

    async def pool_state(
        self, block: int | Literal["latest"] = "latest"
    ) -> tuple[Decimal, int, int]:
        """(price quote per base, tick, sqrtPriceX96) of the pool, through StateView."""
        pid = bytes.fromhex(self._v4.pool_id[2:])
        slot0 = await guarded(
            "stateView.getSlot0",
            self._view.functions.getSlot0(pid).call(block_identifier=block),
            _TIMEOUT_S,
        )
        sqrt_price, tick = int(slot0[0]), int(slot0[1])
        return self._price(sqrt_price), tick, sqrt_price

    async def _send_swap(self, zero_for_one: bool, target: int) -> Any:
        d = self._v4
        value = _SWAP_IN // 10**6 if d.native and zero_for_one else 0  # 10^24 wei
        amount = value or _SWAP_IN
        fn = self._swapper.functions.swap(
            d.key.as_tuple(), (zero_for_one, -amount, target), (False, False), b""
        )
        return await guarded(
            "poolSwapTest.swap",
            fn.transact(cast(Any, {"from": d.trader_account, "gas": _GAS_SWAP, "value": value})),
            _TIMEOUT_S,
        )


def position_config(d: V4Deployment, position_id: str = "lp-v4") -> dict[str, Any]:
    """The bot's position entry for the deployed LP NFT (``V4PositionConfig`` fields)."""
    return {
        "id": position_id,
        "kind": "v4",
        "position_manager": d.position_manager,
        "state_view": d.state_view,
        "token_id": d.token_id,
        "owner": d.lp_account,
    }


@contextlib.asynccontextmanager
async def start_world_v4(
    rpc_url: str,
    *,
    sigma: float = 0.9,
    step_seconds: int = 600,
    seed: int = 7,
    start_price: Decimal = Decimal(2000),
    base_is_token0: bool | None = None,
) -> AsyncIterator[LocalWorld]:
    """Deploy the V4 world on the node at ``rpc_url`` and yield it with its market driver."""
    from bot.sim.localnet import LocalWorld

    spec = V4DeploymentSpec(price_quote_per_base=start_price, base_is_token0=base_is_token0)
    deployment = await deploy_v4(rpc_url, spec)
    driver = await V4MarketDriver.create(
        cast(Any, deployment),
        sigma_annual=sigma,
        step_s=step_seconds,
        seed=seed,
        start_price=start_price,
    )
    async with driver:
        step = await driver.step()
        yield LocalWorld(
            kind="v4",
            rpc_url=rpc_url,
            deployment=cast(Any, deployment),  # LocalDeployment-like: multicall, tokens, chain id
            driver=cast(Any, driver),  # MarketDriver-like: target_price, step()
            start_price=start_price,
            start_timestamp=step.block_timestamp,
            position_config=position_config(deployment),
            addresses=json.loads(deployment.to_json()),
        )
