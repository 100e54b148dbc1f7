"""V4 PositionManager actions as ``modifyLiquidities`` takes them, and the liquidity a pair of
amounts buys: v4-periphery's ``Actions`` library, ``CalldataDecoder`` layouts and
``LiquidityAmounts.getLiquidityForAmounts``. Pure encoders for the local world and the tests.
"""

from __future__ import annotations

from eth_abi.abi import encode

from bot.chain.v4_calls import PoolKey
from bot.core.v3 import get_sqrt_ratio_at_tick

__all__ = [
    "Actions",
    "decrease_params",
    "liquidity_for_amounts",
    "mint_params",
    "modify_liquidities_data",
    "pair_params",
]

_MAX_U128 = 2**128 - 1


class Actions:
    """v4-periphery ``Actions`` library: the action bytes of ``modifyLiquidities``."""

    INCREASE_LIQUIDITY = 0x00
    DECREASE_LIQUIDITY = 0x01
    MINT_POSITION = 0x02
    BURN_POSITION = 0x03
    SETTLE_PAIR = 0x0D
    TAKE_PAIR = 0x11
    CLOSE_CURRENCY = 0x12
    SWEEP = 0x14


def liquidity_for_amounts(
    sqrt_price_x96: int, tick_lower: int, tick_upper: int, amount0: int, amount1: int
) -> int:
    """v4-periphery ``LiquidityAmounts.getLiquidityForAmounts``: the most liquidity that
    ``amount0``/``amount1`` (raw units) pay for in ``[tick_lower, tick_upper)`` at the price."""
    sqrt_a, sqrt_b = get_sqrt_ratio_at_tick(tick_lower), get_sqrt_ratio_at_tick(tick_upper)
    q96 = 1 << 96

    def for0(a: int, b: int) -> int:
        return amount0 * (a * b // q96) // (b - a)

    def for1(a: int, b: int) -> int:
        return amount1 * q96 // (b - a)

    if sqrt_price_x96 <= sqrt_a:
        return for0(sqrt_a, sqrt_b)
    if sqrt_price_x96 < sqrt_b:
        return min(for0(sqrt_price_x96, sqrt_b), for1(sqrt_a, sqrt_price_x96))
    return for1(sqrt_a, sqrt_b)


def modify_liquidities_data(actions: list[tuple[int, bytes]]) -> bytes:
    """``unlockData`` of ``modifyLiquidities``: ``abi.encode(bytes actions, bytes[] params)``."""
    return encode(["bytes", "bytes[]"], [bytes(a for a, _ in actions), [p for _, p in actions]])


def mint_params(key: PoolKey, lower: int, upper: int, liquidity: int, owner: str) -> bytes:
    """MINT_POSITION params: (PoolKey, int24, int24, uint256 liquidity, uint128 amount0Max,
    uint128 amount1Max, address owner, bytes hookData)."""
    return encode(
        ["(address,address,uint24,int24,address)", "int24", "int24", "uint256", "uint128",
         "uint128", "address", "bytes"],
        [key.as_tuple(), lower, upper, liquidity, _MAX_U128, _MAX_U128, owner, b""],
    )  # fmt: skip


def pair_params(key: PoolKey, *extra: str) -> bytes:
    """SETTLE_PAIR (currency0, currency1) or TAKE_PAIR (currency0, currency1, recipient)."""
    return encode(["address"] * (2 + len(extra)), [key.currency0, key.currency1, *extra])


def decrease_params(token_id: int, liquidity: int) -> bytes:
    """DECREASE_LIQUIDITY params: (tokenId, liquidity, amount0Min, amount1Min, hookData)."""
    return encode(
        ["uint256", "uint256", "uint128", "uint128", "bytes"], [token_id, liquidity, 0, 0, b""]
    )
