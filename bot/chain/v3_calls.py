"""The V3 reader's parts: pool and position addressing, fast answer decoding, what it tracks
and the plan of one block's calls. Forks address their pools by dialect
(``bot.chain.v3_dialects``); :func:`pool_address` is Uniswap's (and SushiSwap's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from eth_abi.abi import encode
from eth_utils.crypto import keccak

from bot.chain.multicall import ContractCall, encode_call
from bot.chain.rpc import checksum, load_abi
from bot.chain.staked import Holder, RunAll
from bot.chain.v3_owed import OwedSource
from bot.core.v3 import PairDecimals
from bot.core.v3_position import V3PoolState, V3PositionState, V3TickState
from bot.domain import ChainNotice
from bot.errors import PositionReadError

log = structlog.get_logger("hedgebot.chain.uniswap_v3")

__all__ = [
    "POOL_INIT_CODE_HASH",
    "CallPlan",
    "DuplicateNotices",
    "Tracked",
    "TrackedState",
    "decode_static",
    "pair_decimals",
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


async def pair_decimals(
    run_all: RunAll,
    pool_call: Callable[[str, str], ContractCall],
    pools: Sequence[str],
    base_quote: tuple[str, str],
    block: int,
) -> dict[str, PairDecimals]:
    """Token order and decimals of each pool (``pool_call(pool, fn)`` encodes its calls);
    ``PositionReadError`` when a pool does not hold exactly the configured (base, quote)."""
    calls = [pool_call(p, fn) for p in pools for fn in ("token0", "token1")]
    tokens = [checksum(t[0]) for t in await run_all(calls, block)]
    erc20 = load_abi("erc20")
    decimals = await run_all(
        [encode_call("token.decimals", t, erc20, "decimals") for t in tokens], block
    )
    base, quote = base_quote
    out: dict[str, PairDecimals] = {}
    for i, pool in enumerate(pools):
        token0, token1 = tokens[2 * i], tokens[2 * i + 1]
        if {token0, token1} != {base, quote}:
            raise PositionReadError(
                f"pool {pool} holds ({token0}, {token1}), not the configured base/quote "
                f"({base}, {quote})"
            )
        dec0, dec1 = int(decimals[2 * i][0]), int(decimals[2 * i + 1][0])
        base_is_token0 = token0 == base
        out[pool] = PairDecimals(
            base_is_token0=base_is_token0,
            base_decimals=dec0 if base_is_token0 else dec1,
            quote_decimals=dec1 if base_is_token0 else dec0,
        )
    return out


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
    protocol: str = "uniswap_v3"  # its dialect (bot.chain.v3_dialects)
    stakers: tuple[Holder, ...] = ()  # where the owner may have staked the NFT

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
    counts: dict[str, int] = field(default_factory=dict)  # config id -> first discovery check

    def add(self, call: ContractCall) -> int:
        self.calls.append(call)
        return len(self.calls) - 1


class DuplicateNotices:
    """One ``position.duplicate`` notice per pair of config entries reaching one position."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str, tuple[Any, ...]]] = set()
        self._notices: list[ChainNotice] = []

    def report(self, first: str, second: str, t: Tracked) -> None:
        """Entries ``first`` and ``second`` both reach ``t`` (counted once, as ``first``'s)."""
        if (first, second, t.identity) in self._seen:
            return
        self._seen.add((first, second, t.identity))
        where = (
            f"NFT {t.token_id} of {t.npm}"
            if t.npm is not None
            else f"pool {t.pool} owner {t.owner} ticks [{t.tick_lower}, {t.tick_upper}]"
        )
        detail = (
            f"config entries {first} and {second} both reach {where}; it is counted once "
            f"(as {t.exposure_id})"
        )
        log.warning("position.duplicate", entries=[first, second], position=where)
        self._notices.append(ChainNotice("position.duplicate", detail, (first, second)))

    def take(self) -> tuple[ChainNotice, ...]:
        """The notices queued since the last call."""
        notices, self._notices = tuple(self._notices), []
        return notices
