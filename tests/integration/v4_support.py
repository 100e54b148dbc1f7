"""Session V4 deployments on the session anvil (both token orders, native ETH, a hooked pool)
and the contract actions the V4 tests take: swaps through v4-core's PoolSwapTest and
DECREASE_LIQUIDITY + TAKE_PAIR through the PositionManager, measured at a fresh recipient.
"""

from __future__ import annotations

from typing import Any

from web3 import AsyncWeb3

from bot.chain.rpc import checksum, rpc_request
from bot.core.v3 import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from bot.sim.compile import compiled_contracts
from bot.sim.deploy import Transactor
from bot.sim.deploy_v4 import DEADLINE, V4Deployment, V4DeploymentSpec, uniswap_v4_artifact
from bot.sim.v4_actions import Actions, decrease_params, modify_liquidities_data, pair_params

WORLDS = {
    "base0": V4DeploymentSpec(base_is_token0=True),
    "base1": V4DeploymentSpec(base_is_token0=False),
    "native": V4DeploymentSpec(native_base=True),
    "hooked": V4DeploymentSpec(base_is_token0=False, hooked=True),
}


def posm(w3: AsyncWeb3[Any], d: V4Deployment) -> Any:
    """The full PositionManager contract."""
    abi = uniswap_v4_artifact("PositionManager").abi
    return w3.eth.contract(address=checksum(d.position_manager), abi=abi)


def state_view(w3: AsyncWeb3[Any], d: V4Deployment) -> Any:
    """The full StateView contract."""
    return w3.eth.contract(address=checksum(d.state_view), abi=uniswap_v4_artifact("StateView").abi)


async def swap(
    w3: AsyncWeb3[Any],
    d: V4Deployment,
    zero_for_one: bool,
    amount_in: int,
    limit: int | None = None,
) -> None:
    """An exact-input swap by the trader through PoolSwapTest, stopping at ``limit``."""
    router = w3.eth.contract(
        address=checksum(d.swap_router), abi=uniswap_v4_artifact("PoolSwapTest").abi
    )
    if limit is None:
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    fn = router.functions.swap(
        d.key.as_tuple(), (zero_for_one, -amount_in, limit), (False, False), b""
    )
    value = amount_in if d.native and zero_for_one else 0
    if value:  # the trader pays native ETH as value: give it enough (plus gas)
        await rpc_request(w3, "anvil_setBalance", d.trader_account, hex(value + 10**21))
    tx = await Transactor.create(w3)
    await tx.send("swap", fn, d.trader_account, value=value)


async def move_to_sqrt_price(w3: AsyncWeb3[Any], d: V4Deployment, target: int) -> None:
    """Swap the pool to exactly ``target`` (a huge exact input bounded by the price limit)."""
    current = int((await state_view(w3, d).functions.getSlot0(d.pool_id).call())[0])
    if target != current:
        big = 10**30 if not d.native else 10**24
        await swap(w3, d, target < current, big, target)


async def balances(w3: AsyncWeb3[Any], d: V4Deployment, who: str) -> tuple[int, int]:
    """(currency0, currency1) balances of ``who``, raw units (native: wei)."""
    token_abi = compiled_contracts()["TestToken"].abi
    out = []
    for currency in (d.currency0, d.currency1):
        if int(currency, 16) == 0:
            out.append(int(await w3.eth.get_balance(checksum(who))))
        else:
            token = w3.eth.contract(address=checksum(currency), abi=token_abi)
            out.append(int(await token.functions.balanceOf(who).call()))
    return out[0], out[1]


async def decrease_and_take(
    w3: AsyncWeb3[Any], d: V4Deployment, token_id: int, liquidity: int, owner: str
) -> tuple[int, int]:
    """What DECREASE_LIQUIDITY(``liquidity``) + TAKE_PAIR pays, measured at a fresh recipient
    (no gas paid there), in an anvil snapshot that is reverted: (paid0, paid1) raw units."""
    recipient = checksum("0x" + "5e" * 20)
    snapshot = await rpc_request(w3, "evm_snapshot")
    try:
        before = await balances(w3, d, recipient)
        actions = [
            (Actions.DECREASE_LIQUIDITY, decrease_params(token_id, liquidity)),
            (Actions.TAKE_PAIR, pair_params(d.key, recipient)),
        ]
        fn = posm(w3, d).functions.modifyLiquidities(modify_liquidities_data(actions), DEADLINE)
        tx = await Transactor.create(w3)
        await tx.send("decrease + take", fn, owner)
        after = await balances(w3, d, recipient)
    finally:
        assert await rpc_request(w3, "evm_revert", snapshot) is True
    return after[0] - before[0], after[1] - before[1]
