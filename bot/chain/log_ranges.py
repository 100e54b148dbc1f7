"""Bounded ``eth_getLogs``: block ranges of at most ``chunk_blocks`` (public RPCs cap the range
of one query, some at 10,000 blocks, some at 500), each query guarded by a timeout.

Shared by the log readers (V4 discovery's ``Transfer`` logs, V3 withdrawn-principal logs) so
none sends an unbounded ``fromBlock 0 .. block`` query a capped node refuses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from web3 import AsyncWeb3

from bot.chain.rpc import guarded

__all__ = ["DEFAULT_CHUNK_BLOCKS", "LogWindow", "block_ranges", "get_logs", "get_logs_chunked"]

DEFAULT_CHUNK_BLOCKS = 10_000  # the common public-RPC cap


@dataclass(frozen=True, slots=True)
class LogWindow:
    """Where and how a log reader scans: from ``from_block``, ranges of at most
    ``chunk_blocks``, logs deeper than ``reorg_depth`` below the block read taken as final
    (read once, cached)."""

    from_block: int = 0
    chunk_blocks: int = DEFAULT_CHUNK_BLOCKS
    reorg_depth: int = 64

    @classmethod
    def of(cls, chain: Any) -> LogWindow:
        """The window of a chain section (``log_from_block``, ``log_chunk_blocks``,
        ``log_reorg_depth`` of ``bot.config_chains.ChainConfig``)."""
        return cls(chain.log_from_block, chain.log_chunk_blocks, chain.log_reorg_depth)


def block_ranges(start: int, end: int, chunk_blocks: int) -> Iterator[tuple[int, int]]:
    """``(low, high)`` inclusive ranges covering ``start..end`` in order, each at most
    ``chunk_blocks`` long (none when ``end < start``)."""
    for low in range(max(start, 0), end + 1, chunk_blocks):
        yield low, min(low + chunk_blocks - 1, end)


async def get_logs(
    w3: AsyncWeb3[Any],
    address: str,
    topics: Sequence[Any],
    start: int,
    end: int,
    timeout_s: float,
) -> list[Any]:
    """The logs of one ``eth_getLogs`` query over ``start..end``; ``ChainError`` (the mapped
    RPC error or a timeout) when the node refuses or does not answer."""
    query = {"address": address, "fromBlock": start, "toBlock": end, "topics": list(topics)}
    return list(await guarded("eth_getLogs", w3.eth.get_logs(cast(Any, query)), timeout_s))


async def get_logs_chunked(
    w3: AsyncWeb3[Any],
    address: str,
    topics: Sequence[Any],
    start: int,
    end: int,
    *,
    chunk_blocks: int,
    timeout_s: float,
) -> list[Any]:
    """The logs over ``start..end`` in ranges of at most ``chunk_blocks`` blocks, in block
    order; ``ChainError`` as :func:`get_logs` on the first range refused."""
    logs: list[Any] = []
    for low, high in block_ranges(start, end, chunk_blocks):
        logs += await get_logs(w3, address, topics, low, high, timeout_s)
    return logs
