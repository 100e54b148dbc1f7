"""The V4 NFTs an owner holds, from the PositionManager's ``Transfer`` logs.

V4's PositionManager (solmate ERC721) has no enumeration, so the token ids an owner holds are
folded from ``Transfer(from, to, id)`` logs (all three indexed) where ``from`` or ``to`` is the
owner: scanned once from the configured start block, then followed incrementally. The reader
calls :meth:`TransferFollower.held` only when the block's ``balanceOf(owner)`` or an
``ownerOf`` of a known id disagrees with what it holds (both are in the block's batch), so a
quiet block costs no ``eth_getLogs``.

Bounded and reorg-safe: every ``eth_getLogs`` spans at most ``chunk_blocks`` blocks; logs
deeper than ``reorg_depth`` blocks below the block read are folded into a settled set and
never read again (the cursor), the newer ones are read afresh on every scan and applied on
top, so a log a reorg removed is never kept. The result is checked against ``balanceOf`` at the
block: a mismatch (a node whose logs lag its state, a reorg deeper than ``reorg_depth``) is a
``PositionReadError``, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_utils.crypto import keccak
from web3 import AsyncWeb3

from bot.chain.log_ranges import block_ranges, get_logs
from bot.errors import ChainError, PositionReadError
from bot.safety import safe_str

__all__ = ["TRANSFER_TOPIC", "TransferFollower", "fold_transfers"]

TRANSFER_TOPIC = "0x" + keccak(b"Transfer(address,address,uint256)").hex()
REORG_DEPTH = 64  # blocks; deeper logs are taken as final (default of chain.log_reorg_depth)


def _address_topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def _transfer(log: Any) -> tuple[tuple[int, int], str, str, int]:
    """((block, log index), from, to, token id) of one Transfer log (lower-case addresses)."""
    topics = [bytes(t) for t in log["topics"]]
    if len(topics) != 4:
        raise ChainError(f"Transfer log with {len(topics)} topics (expected 4: all indexed)")
    sender, receiver = ("0x" + t[12:].hex() for t in topics[1:3])
    order = (int(log["blockNumber"]), int(log["logIndex"]))
    return order, sender, receiver, int.from_bytes(topics[3], "big")


def fold_transfers(held: Iterable[int], logs: Iterable[Any], owner: str) -> set[int]:
    """The token ids ``owner`` holds after ``logs`` (any order; applied by block and log
    index) starting from ``held``. Pure."""
    ids = set(held)
    who = owner.lower()
    for _, sender, receiver, token_id in sorted(map(_transfer, logs)):
        if sender == who:
            ids.discard(token_id)
        if receiver == who:
            ids.add(token_id)
    return ids


class TransferFollower:
    """Token ids one owner holds on one PositionManager, followed through its logs."""

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        position_manager: str,
        owner: str,
        *,
        from_block: int = 0,
        chunk_blocks: int = 10_000,
        reorg_depth: int = REORG_DEPTH,
        timeout_s: float = 10.0,
    ) -> None:
        self._w3 = w3
        self._manager = position_manager
        self._owner = owner
        self._chunk = chunk_blocks
        self._depth = reorg_depth
        self._timeout_s = timeout_s
        self._settled: set[int] = set()
        self._settled_to = from_block - 1  # the cursor: logs up to here are folded
        self.scans = 0  # eth_getLogs calls made (for tests and the docs' cost figures)

    @property
    def cursor(self) -> int:
        """The last block whose logs are folded for good."""
        return self._settled_to

    async def held(self, block: int, balance: int) -> list[int]:
        """The ids the owner holds at ``block``, ascending; ``balance`` is its
        ``balanceOf`` at that block. Raises ``PositionReadError`` when the logs cannot be
        read or do not add up to ``balance``."""
        final = block - self._depth
        if final > self._settled_to:
            logs = await self._logs(self._settled_to + 1, final)
            self._settled = fold_transfers(self._settled, logs, self._owner)
            self._settled_to = final
        recent = await self._logs(max(self._settled_to + 1, 0), block)
        ids = sorted(fold_transfers(self._settled, recent, self._owner))
        if len(ids) != balance:
            raise PositionReadError(
                f"V4 NFTs of {self._owner} on {self._manager}: Transfer logs up to block "
                f"{block} give {len(ids)}, balanceOf gives {balance}; not read (logs lagging "
                "or a reorg deeper than the cursor)"
            )
        return ids

    async def _logs(self, start: int, end: int) -> list[Any]:
        owner = _address_topic(self._owner)
        logs: list[Any] = []
        for low, high in block_ranges(start, end, self._chunk):
            queries: list[list[str | None]] = [
                [TRANSFER_TOPIC, owner],
                [TRANSFER_TOPIC, None, owner],
            ]
            for topics in queries:
                logs += await self._get_logs(low, high, topics)
        return logs

    async def _get_logs(self, start: int, end: int, topics: list[str | None]) -> list[Any]:
        self.scans += 1
        try:
            return await get_logs(self._w3, self._manager, topics, start, end, self._timeout_s)
        except ChainError as exc:
            raise PositionReadError(
                f"V4 NFTs of {self._owner}: Transfer logs {start}..{end} of {self._manager} "
                f"unreadable: {safe_str(exc)}"
            ) from exc
