"""The local V3 world: the real V3 contracts on anvil and a market that swaps through the pool.

``start_world_v3`` deploys (``bot.sim.deploy_v3``) and yields a ``LocalWorld`` of kind "v3"
whose driver moves the pool along a seeded GBM path: each step is one ``SwapRouter.
exactInputSingle`` with ``sqrtPriceLimitX96`` set to the target, so the swap stops exactly on
the target price, mined alone in a block ``step_s`` seconds after the previous one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, cast

from web3 import AsyncWeb3

from bot.chain.rpc import checksum, connect, guarded, load_abi, rpc_request
from bot.core.v3 import (
    MAX_SQRT_RATIO,
    MIN_SQRT_RATIO,
    price_from_sqrt_price_x96,
    sqrt_price_x96_from_price,
)
from bot.sim.compile import compiled_contracts
from bot.sim.deploy import DeploymentError
from bot.sim.deploy_v3 import DEADLINE, V3Deployment, V3DeploymentSpec, deploy_v3
from bot.sim.market import SeededGbm

if TYPE_CHECKING:
    from bot.sim.localnet import LocalWorld

__all__ = ["V3MarketDriver", "V3MarketStep", "start_world_v3"]

_TIMEOUT_S = 10.0
_GAS_SWAP = 1_000_000
_TRADER_FUNDS = 10**40  # raw units of each token: the router pulls only what a swap needs
_MAX_UINT = 2**256 - 1


@dataclass(frozen=True, slots=True)
class V3MarketStep:
    """What one driver step did."""

    block_number: int
    block_timestamp: int
    target_price: Decimal  # quote per base
    pool_price: Decimal  # quote per base, after the swap
    tick: int
    swapped: bool


class V3MarketDriver:
    """Moves a V3 pool to the price path, one mined block per ``step()``."""

    def __init__(
        self, w3: AsyncWeb3[Any], deployment: V3Deployment, path: SeededGbm, *, step_s: int
    ) -> None:
        if step_s < 1:
            raise ValueError("step_s must be at least 1 second")
        self._w3 = w3
        self._d = deployment
        self._path = path
        self._step_s = step_s
        self._target = Decimal(repr(path.price))
        self._pool = w3.eth.contract(
            address=checksum(deployment.pool), abi=load_abi("uniswap_v3_pool")
        )
        router_abi = [
            {
                "type": "function",
                "name": "exactInputSingle",
                "stateMutability": "payable",
                "inputs": [
                    {
                        "name": "params",
                        "type": "tuple",
                        "components": [
                            {"name": n, "type": t}
                            for n, t in (
                                ("tokenIn", "address"),
                                ("tokenOut", "address"),
                                ("fee", "uint24"),
                                ("recipient", "address"),
                                ("deadline", "uint256"),
                                ("amountIn", "uint256"),
                                ("amountOutMinimum", "uint256"),
                                ("sqrtPriceLimitX96", "uint160"),
                            )
                        ],
                    }
                ],
                "outputs": [{"name": "amountOut", "type": "uint256"}],
            }
        ]
        self._router = w3.eth.contract(address=checksum(deployment.swap_router), abi=router_abi)

    @classmethod
    async def create(
        cls,
        deployment: V3Deployment,
        *,
        sigma_annual: float = 0.9,
        step_s: int = 600,
        seed: int = 7,
        start_price: Decimal | None = None,
    ) -> V3MarketDriver:
        """Connect, fund and approve the trader, start the path at the pool's price."""
        w3 = connect(deployment.rpc_url)
        try:
            driver = cls(
                w3, deployment, SeededGbm(start_price=1.0, sigma_annual=0, step_s=1), step_s=step_s
            )
            price = start_price if start_price is not None else (await driver.pool_state())[0]
            driver._path = SeededGbm(
                start_price=float(price), sigma_annual=sigma_annual, step_s=step_s, seed=seed
            )
            driver._target = Decimal(repr(driver._path.price))
            await driver._fund_trader()
        except BaseException:
            await w3.provider.disconnect()
            raise
        return driver

    async def _fund_trader(self) -> None:
        token_abi = compiled_contracts()["TestToken"].abi
        trader = self._d.trader_account
        for token in (self._d.token0, self._d.token1):
            contract = self._w3.eth.contract(address=checksum(token), abi=token_abi)
            for what, fn in (
                ("mint", contract.functions.mint(trader, _TRADER_FUNDS)),
                ("approve router", contract.functions.approve(self._d.swap_router, _MAX_UINT)),
            ):
                tx_hash = await guarded(what, fn.transact({"from": trader}), _TIMEOUT_S)
                receipt: Any = await guarded(
                    what,
                    self._w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.02),
                    _TIMEOUT_S,
                )
                if receipt["status"] != 1:
                    raise DeploymentError(f"trader {what} reverted")

    @property
    def target_price(self) -> Decimal:
        """The path's current price (quote per base)."""
        return self._target

    async def pool_state(
        self, block: int | Literal["latest"] = "latest"
    ) -> tuple[Decimal, int, int]:
        """(price quote per base, tick, sqrtPriceX96) of the pool."""
        slot0 = await guarded(
            "pool.slot0", self._pool.functions.slot0().call(block_identifier=block), _TIMEOUT_S
        )
        sqrt_price, tick = int(slot0[0]), int(slot0[1])
        return self._price(sqrt_price), tick, sqrt_price

    def _price(self, sqrt_price_x96: int) -> Decimal:
        d = self._d
        return price_from_sqrt_price_x96(
            sqrt_price_x96,
            base_is_token0=d.base_is_token0,
            base_decimals=d.base_decimals,
            quote_decimals=d.quote_decimals,
        )

    async def step(self) -> V3MarketStep:
        """Advance the path one step and move the pool there."""
        return await self.move_to(Decimal(repr(self._path.advance())))

    async def move_to(self, price_quote_per_base: Decimal) -> V3MarketStep:
        """Swap the pool to ``price_quote_per_base`` in one new block (path untouched)."""
        d = self._d
        target = sqrt_price_x96_from_price(
            price_quote_per_base,
            base_is_token0=d.base_is_token0,
            base_decimals=d.base_decimals,
            quote_decimals=d.quote_decimals,
        )
        return await self.move_to_sqrt_price(target, price_quote_per_base)

    async def move_to_sqrt_price(
        self, sqrt_price_x96: int, target_price: Decimal | None = None
    ) -> V3MarketStep:
        """Swap the pool to exactly ``sqrt_price_x96`` (e.g. a tick boundary) in one new block."""
        w3 = self._w3
        target = min(max(sqrt_price_x96, MIN_SQRT_RATIO + 1), MAX_SQRT_RATIO - 1)
        self._target = target_price if target_price is not None else self._price(target)
        _, _, current = await self.pool_state()
        latest: Any = await guarded("eth_getBlockByNumber", w3.eth.get_block("latest"), _TIMEOUT_S)
        automine = bool(await rpc_request(w3, "anvil_getAutomine"))
        tx_hash = None
        if automine:
            await rpc_request(w3, "evm_setAutomine", False)
        try:
            if target != current:
                tx_hash = await self._send_swap(target < current, target)
            await rpc_request(
                w3, "anvil_setNextBlockTimestamp", int(latest["timestamp"]) + self._step_s
            )
            await rpc_request(w3, "evm_mine")
        finally:
            if automine:
                await rpc_request(w3, "evm_setAutomine", True)
        if tx_hash is not None:
            receipt: Any = await guarded(
                "swap receipt", w3.eth.get_transaction_receipt(tx_hash), _TIMEOUT_S
            )
            if receipt["status"] != 1:
                raise DeploymentError(f"market swap reverted (tx 0x{bytes(tx_hash).hex()})")
        block: Any = await guarded("eth_getBlockByNumber", w3.eth.get_block("latest"), _TIMEOUT_S)
        number = int(block["number"])
        price, tick, _ = await self.pool_state(number)
        return V3MarketStep(
            block_number=number,
            block_timestamp=int(block["timestamp"]),
            target_price=self._target,
            pool_price=price,
            tick=tick,
            swapped=tx_hash is not None,
        )

    async def _send_swap(self, zero_for_one: bool, target: int) -> Any:
        """Send (not mine) the trader's swap that stops at ``target``; its tx hash."""
        d = self._d
        token_in, token_out = (d.token0, d.token1) if zero_for_one else (d.token1, d.token0)
        params = (
            token_in, token_out, d.fee, d.trader_account, DEADLINE, _TRADER_FUNDS // 2, 0, target,
        )  # fmt: skip
        return await guarded(
            "router.exactInputSingle",
            self._router.functions.exactInputSingle(params).transact(
                {"from": d.trader_account, "gas": _GAS_SWAP}
            ),
            _TIMEOUT_S,
        )

    async def close(self) -> None:
        """Close the driver's connection."""
        await self._w3.provider.disconnect()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def position_config(d: V3Deployment, position_id: str = "lp-v3") -> dict[str, Any]:
    """The bot's position entry for the deployed LP NFT (``V3PositionConfig`` fields)."""
    return {
        "id": position_id,
        "kind": "v3",
        "position_manager": d.position_manager,
        "token_id": d.token_id,
        "owner": d.lp_account,
    }


@contextlib.asynccontextmanager
async def start_world_v3(
    rpc_url: str,
    *,
    sigma: float = 0.9,
    step_seconds: int = 600,
    seed: int = 7,
    start_price: Decimal = Decimal(2000),
    base_is_token0: bool | None = None,
) -> AsyncIterator[LocalWorld]:
    """Deploy the V3 world on the node at ``rpc_url`` and yield it with its market driver."""
    from bot.sim.localnet import LocalWorld

    spec = V3DeploymentSpec(price_quote_per_base=start_price, base_is_token0=base_is_token0)
    deployment = await deploy_v3(rpc_url, spec)
    driver = await V3MarketDriver.create(
        deployment, sigma_annual=sigma, step_s=step_seconds, seed=seed, start_price=start_price
    )
    async with driver:
        step = await driver.step()
        yield LocalWorld(
            kind="v3",
            rpc_url=rpc_url,
            deployment=cast(Any, deployment),  # LocalDeployment-like: multicall, tokens, chain id
            driver=cast(Any, driver),  # MarketDriver-like: target_price, step()
            start_price=start_price,
            start_timestamp=step.block_timestamp,
            position_config=position_config(deployment),
            addresses=json.loads(deployment.to_json()),
        )
