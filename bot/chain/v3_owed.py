"""Withdrawn principal still owed to a V3 position, from its withdrawal and collect logs.

Why logs: ``tokensOwed`` (NFT or pool position) holds principal and fees as one number, and
nothing readable at the block separates them (``feeGrowthInsideLast`` is overwritten by the
withdrawal, and the liquidity withdrawn is gone). The principal added is exactly the amounts
of the ``DecreaseLiquidity`` (NFT) or ``Burn`` (pool) events, so those logs, with the
``Collect`` logs that took tokens out, are the only exact source; ``bot.core.v3_owed`` folds
them. The logs are fetched only while ``tokensOwed`` is non-zero and only when the position's
state changed since the last split (a swap changes nothing here), from the last block read
with ``tokensOwed == 0`` (where the principal owed is 0) or the chain's ``log_from_block``:
most blocks cost no extra call. The queries are ``eth_getLogs`` filtered by address and indexed
topics over ranges of at most ``log_chunk_blocks`` (``bot.chain.log_ranges``), so a node that
caps the range of one query still answers; logs deeper than ``log_reorg_depth`` below the
block read are kept once read (each later split queries only newer blocks), newer ones are
read again. A node that refuses a range anyway makes the position unreadable, never guessed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak
from web3 import AsyncWeb3

from bot.chain.log_ranges import LogWindow, block_ranges, get_logs_chunked
from bot.core.v3_owed import OwedEvent, principal_owed
from bot.core.v3_position import V3PositionState
from bot.errors import ChainError, PositionReadError
from bot.safety import safe_str

__all__ = ["OwedSource", "OwedSplitter"]


def _topic(signature: str) -> str:
    return "0x" + keccak(signature.encode()).hex()


_NPM_DECREASE = _topic("DecreaseLiquidity(uint256,uint128,uint256,uint256)")
_NPM_COLLECT = _topic("Collect(uint256,address,uint256,uint256)")
_POOL_BURN = _topic("Burn(address,int24,int24,uint128,uint256,uint256)")
_POOL_COLLECT = _topic("Collect(address,address,int24,int24,uint128,uint128)")


def _word(value: int) -> str:
    """An indexed int/uint/address topic: the value as a two's-complement 32-byte word."""
    return "0x" + (value % (1 << 256)).to_bytes(32, "big").hex()


@dataclass(frozen=True, slots=True)
class OwedSource:
    """Where one position's withdrawals and collects are logged, and how to filter them."""

    address: str  # the NonfungiblePositionManager or the pool
    withdraw_topic: str
    collect_topic: str
    indexed: tuple[str, ...]  # topics 1.. identifying the position

    @classmethod
    def nft(cls, npm: str, token_id: int) -> OwedSource:
        """An NPM NFT: ``DecreaseLiquidity``/``Collect`` with ``tokenId`` indexed."""
        return cls(npm, _NPM_DECREASE, _NPM_COLLECT, (_word(token_id),))

    @classmethod
    def pool_position(cls, pool: str, owner: str, tick_lower: int, tick_upper: int) -> OwedSource:
        """A position owned directly in the pool: ``Burn``/``Collect`` by owner and ticks."""
        indexed = (_word(int(owner, 16)), _word(tick_lower), _word(tick_upper))
        return cls(pool, _POOL_BURN, _POOL_COLLECT, indexed)

    def event(self, log: Any) -> OwedEvent:
        """One log as an ``OwedEvent``; both layouts carry amount0, amount1 in data words 1, 2."""
        data = bytes(log["data"])
        topic0 = "0x" + bytes(log["topics"][0]).hex()
        amount0, amount1 = (int.from_bytes(data[i : i + 32], "big") for i in (32, 64))
        order = (int(log["blockNumber"]), int(log["logIndex"]))
        if topic0 == self.withdraw_topic:
            return OwedEvent(order=order, kind="withdraw", amount0=amount0, amount1=amount1)
        return OwedEvent(order=order, kind="collect", amount0=amount0, amount1=amount1)


@dataclass(frozen=True, slots=True)
class _Scanned:
    """The final logs of one position read so far: ``start..settled_to`` (inclusive)."""

    start: int
    settled_to: int
    events: tuple[OwedEvent, ...] = ()

    def from_start(self, start: int) -> _Scanned:
        """The same scan seen from ``start`` (an anchor moved forward), or a new one."""
        if start == self.start:
            return self
        if start < self.start:
            return _Scanned(start, start - 1)
        kept = tuple(e for e in self.events if e.order[0] >= start)
        return _Scanned(start, max(self.settled_to, start - 1), kept)


@dataclass(frozen=True, slots=True)
class _Split:
    fingerprint: tuple[int, ...]
    principal: tuple[int, int]
    block: int


def _fingerprint(state: V3PositionState) -> tuple[int, ...]:
    """What a split depends on: a change in any of these may mean a withdrawal or collect."""
    return (
        state.tokens_owed0,
        state.tokens_owed1,
        state.liquidity,
        state.fee_growth_inside0_last_x128,
        state.fee_growth_inside1_last_x128,
    )


class OwedSplitter:
    """Principal owed per position, cached while the position's state does not change; the
    logs are read in ``window`` ranges, the final ones once."""

    def __init__(
        self, w3: AsyncWeb3[Any], window: LogWindow | None = None, *, timeout_s: float = 10.0
    ) -> None:
        self._w3 = w3
        self._window = window or LogWindow()
        self._timeout_s = timeout_s
        self._anchors: dict[OwedSource, int] = {}  # last block read with tokensOwed == 0
        self._splits: dict[OwedSource, _Split] = {}
        self._scans: dict[OwedSource, _Scanned] = {}
        self.queries = 0  # eth_getLogs calls made (for tests)

    def known(
        self, source: OwedSource, state: V3PositionState, block: int
    ) -> tuple[int, int] | None:
        """(principal0, principal1) at ``block`` when no log is needed (nothing owed, or the
        state unchanged since the last split), else ``None``: then call :meth:`principal`."""
        owed = (state.tokens_owed0, state.tokens_owed1)
        if owed == (0, 0):
            self._anchors[source] = max(block, self._anchors.get(source, block))
            return 0, 0
        known = self._splits.get(source)
        if known is not None and known.fingerprint == _fingerprint(state) and known.block <= block:
            return known.principal
        return None

    async def principal(
        self, label: str, source: OwedSource, state: V3PositionState, block: int
    ) -> tuple[int, int]:
        """(principal0, principal1) of ``state.tokens_owed*`` at ``block``, raw units.

        Raises ``PositionReadError`` naming ``label`` when the logs cannot be read.
        """
        cached = self.known(source, state, block)
        if cached is not None:
            return cached
        owed = (state.tokens_owed0, state.tokens_owed1)
        anchor = self._anchors.get(source)
        start = anchor + 1 if anchor is not None and anchor < block else self._window.from_block
        events = await self._events_since(label, source, start, block)
        principal = principal_owed(events, owed)
        self._splits[source] = _Split(_fingerprint(state), principal, block)
        return principal

    async def principals(
        self, positions: Sequence[tuple[str, OwedSource, V3PositionState]], block: int
    ) -> list[tuple[int, int]]:
        """:meth:`principal` of each ``(label, source, state)``; the logs of those that need
        them are read concurrently, the rest costs no await."""
        found = [self.known(source, state, block) for _, source, state in positions]
        missing = [i for i, principal in enumerate(found) if principal is None]
        fetched = await asyncio.gather(*(self.principal(*positions[i], block) for i in missing))
        for i, principal in zip(missing, fetched, strict=True):
            found[i] = principal
        return [principal or (0, 0) for principal in found]

    async def _events_since(
        self, label: str, source: OwedSource, start: int, block: int
    ) -> list[OwedEvent]:
        """The events of ``start..block``: the final ones from the cache (read once, when they
        become final), the newer ones read now."""
        scan = self._scans.get(source, _Scanned(start, start - 1)).from_start(start)
        final = block - self._window.reorg_depth
        if final > scan.settled_to:
            new = await self._events(label, source, scan.settled_to + 1, final)
            scan = _Scanned(scan.start, final, scan.events + tuple(new))
        self._scans[source] = scan
        recent = await self._events(label, source, max(scan.settled_to + 1, start), block)
        return [*(e for e in scan.events if e.order[0] <= block), *recent]

    async def _events(
        self, label: str, source: OwedSource, start: int, block: int
    ) -> Sequence[OwedEvent]:
        topics = [[source.withdraw_topic, source.collect_topic], *source.indexed]
        window = self._window
        before = len(list(block_ranges(start, block, window.chunk_blocks)))
        try:
            logs = await get_logs_chunked(
                self._w3, source.address, topics, start, block,
                chunk_blocks=window.chunk_blocks, timeout_s=self._timeout_s,
            )  # fmt: skip
        except ChainError as exc:
            raise PositionReadError(
                f"position {label}: withdrawal/collect logs {start}..{block} unreadable "
                f"(ranges of {window.chunk_blocks} blocks, chain.log_chunk_blocks), so its "
                f"tokens owed cannot be split into principal and fees: {safe_str(exc)}"
            ) from exc
        finally:
            self.queries += before
        return [source.event(log) for log in logs]
