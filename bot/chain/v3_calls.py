"""The V3 reader's parts: pool and position addressing, fast answer decoding, what it tracks
and the plan of one block's calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from bot.chain.multicall import ContractCall
from bot.chain.rpc import checksum
from bot.chain.v3_owed import OwedSource
from bot.core.v3_position import V3PoolState, V3PositionState, V3TickState

__all__ = [
    "POOL_INIT_CODE_HASH",
    "CallPlan",
    "Tracked",
    "TrackedState",
    "decode_static",
    "pool_address",
    "position_key",
]

# v3-periphery PoolAddress.POOL_INIT_CODE_HASH (keccak of the v3-core pool creation code)
POOL_INIT_CODE_HASH = bytes.fromhex(
    "e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"
)


def pool_address(factory: str, token0: str, token1: str, fee: int) -> str:
    """PoolAddress.computeAddress: the CREATE2 address of the (token0, token1, fee) pool."""
    salt = keccak(encode(["address", "address", "uint24"], [token0, token1, fee]))
    digest = keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + POOL_INIT_CODE_HASH)
    return checksum("0x" + digest[12:].hex())


def position_key(owner: str, tick_lower: int, tick_upper: int) -> bytes:
    """PositionKey.compute: keccak256(abi.encodePacked(owner, int24 lower, int24 upper))."""
    packed = bytes.fromhex(owner[2:]) + tick_lower.to_bytes(3, "big", signed=True)
    return keccak(packed + tick_upper.to_bytes(3, "big", signed=True))


def decode_static(call: ContractCall, raw: bytes) -> tuple[Any, ...]:
    """``call``'s answer decoded: flat static words by slicing with eth_abi's range checks
    (``bot.chain.abi_words.static_decoder``), anything else by eth_abi. Addresses come back
    lower-case; ``ChainError`` when the answer is short or a value is out of its type."""
    return call.decode(raw)


@dataclass(frozen=True, slots=True)
class Tracked:
    """A position being followed: where it lives and its immutable range."""

    exposure_id: str
    pool: str
    tick_lower: int
    tick_upper: int
    npm: str | None = None  # NFT positions
    token_id: int | None = None
    owner: str | None = None  # NFT: expected owner (None: whoever held it first); direct: owner

    @property
    def identity(self) -> tuple[Any, ...]:
        """The on-chain position: (NPM, token id) for an NFT, (pool, owner, ticks) direct."""
        if self.npm is not None:
            return (self.npm, self.token_id)
        return (self.pool, self.owner, self.tick_lower, self.tick_upper)


@dataclass(frozen=True, slots=True)
class TrackedState:
    """One tracked position's state at a block, before its exposure is computed."""

    tracked: Tracked
    pool: V3PoolState
    ticks: tuple[V3TickState, V3TickState]
    state: V3PositionState

    def owed_source(self) -> OwedSource:
        """Where the position's withdrawals and collects are logged."""
        t = self.tracked
        if t.npm is not None and t.token_id is not None:
            return OwedSource.nft(t.npm, t.token_id)
        assert t.owner is not None
        return OwedSource.pool_position(t.pool, t.owner, t.tick_lower, t.tick_upper)


@dataclass(slots=True)
class CallPlan:
    """One block's calls and where each answer lands."""

    calls: list[ContractCall] = field(default_factory=list)
    pools: dict[str, int] = field(default_factory=dict)  # pool -> index of slot0
    ticks: dict[tuple[str, int], int] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)  # exposure id -> positions call
    owners: dict[str, int] = field(default_factory=dict)  # exposure id -> ownerOf call
    counts: dict[str, int] = field(default_factory=dict)  # config id -> balanceOf call

    def add(self, call: ContractCall) -> int:
        self.calls.append(call)
        return len(self.calls) - 1
