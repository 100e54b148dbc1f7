"""The V4 reader's parts: ``PoolKey`` and pool ids, the packed ``PositionInfo``, what the
reader tracks and the plan of one block's calls.

Sources: v4-core ``PoolIdLibrary.toId`` (``keccak256(abi.encode(poolKey))``),
v4-periphery ``PositionInfoLibrary`` (``200 bits poolId | 24 bits tickUpper | 24 bits tickLower
| 8 bits hasSubscriber``, from the most significant bit) and v4-core ``Position.
calculatePositionKey`` (the PositionManager owns every NFT's liquidity in the pool, under
``salt = bytes32(tokenId)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from bot.chain.multicall import ContractCall
from bot.chain.rpc import checksum

__all__ = [
    "NATIVE",
    "CallPlan",
    "PoolKey",
    "TrackedNft",
    "decode_position_info",
    "pool_id",
    "token_salt",
]

NATIVE = "0x0000000000000000000000000000000000000000"  # Currency.ADDRESS_ZERO: native ETH
_KEY_TYPES = ["(address,address,uint24,int24,address)"]


@dataclass(frozen=True, slots=True)
class PoolKey:
    """v4-core ``PoolKey``: a pool is its currencies, fee, tick spacing and hooks contract."""

    currency0: str
    currency1: str
    fee: int  # hundredths of a bip; 0x800000 marks a dynamic-fee pool
    tick_spacing: int
    hooks: str  # address(0): no hooks

    @classmethod
    def from_answer(cls, raw: tuple[Any, ...]) -> PoolKey:
        """The key as ``getPoolAndPositionInfo`` returns it (addresses checksummed)."""
        currency0, currency1, fee, spacing, hooks = raw
        return cls(
            checksum(currency0), checksum(currency1), int(fee), int(spacing), checksum(hooks)
        )

    def as_tuple(self) -> tuple[str, str, int, int, str]:
        """The ABI tuple ``(currency0, currency1, fee, tickSpacing, hooks)``."""
        return (self.currency0, self.currency1, self.fee, self.tick_spacing, self.hooks)

    @property
    def hooked(self) -> bool:
        """True when the pool calls a hooks contract."""
        return int(self.hooks, 16) != 0

    @property
    def exists(self) -> bool:
        """False for the all-zero key a PositionManager answers for an unknown token id."""
        return self.tick_spacing != 0


def pool_id(key: PoolKey) -> bytes:
    """``PoolIdLibrary.toId``: ``keccak256(abi.encode(key))``, 32 bytes."""
    return keccak(encode(_KEY_TYPES, [key.as_tuple()]))


def token_salt(token_id: int) -> bytes:
    """``bytes32(tokenId)``: the salt the PositionManager modifies an NFT's liquidity under."""
    return token_id.to_bytes(32, "big")


def _int24(word: int) -> int:
    value = word & 0xFFFFFF
    return value - (1 << 24) if value >= 1 << 23 else value


def decode_position_info(info: int) -> tuple[bytes, int, int, bool]:
    """``PositionInfo`` unpacked: (pool id's first 25 bytes, tick_lower, tick_upper,
    has_subscriber). ``ValueError`` when ``info`` is not a uint256."""
    if not 0 <= info < 1 << 256:
        raise ValueError(f"PositionInfo {info} is not a uint256")
    return (
        (info >> 56).to_bytes(25, "big"),
        _int24(info >> 8),
        _int24(info >> 32),
        bool(info & 0xFF),
    )


@dataclass(frozen=True, slots=True)
class TrackedNft:
    """A V4 NFT being followed: its pool and immutable range, read once."""

    exposure_id: str
    position_manager: str
    state_view: str
    token_id: int
    key: PoolKey
    pool_id: bytes
    tick_lower: int
    tick_upper: int
    owner: str | None  # expected holder (None: whoever held it first)

    @property
    def identity(self) -> tuple[str, int]:
        """The on-chain position: (PositionManager, token id)."""
        return (self.position_manager, self.token_id)


@dataclass(slots=True)
class CallPlan:
    """One block's calls and where each answer lands."""

    calls: list[ContractCall] = field(default_factory=list)
    pools: dict[tuple[str, bytes], int] = field(default_factory=dict)  # -> index of getSlot0
    ticks: dict[tuple[str, bytes, int], int] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)  # exposure id -> getPositionInfo
    owners: dict[str, int] = field(default_factory=dict)  # exposure id -> ownerOf
    counts: dict[str, int] = field(default_factory=dict)  # config id -> balanceOf(owner)

    def add(self, call: ContractCall) -> int:
        """Append ``call``; its index in the answers."""
        self.calls.append(call)
        return len(self.calls) - 1
