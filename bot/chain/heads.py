"""New block heads by polling ``eth_blockNumber``; the newer block wins.

When several blocks arrive between two polls only the newest is yielded, and the skipped
ones are counted: a tick for an old block is worthless once a newer one exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Self

from web3 import AsyncWeb3

from bot.chain.answers import AnswerRejected, hex_bytes, quantity
from bot.chain.rpc import rpc_request
from bot.errors import ChainError
from bot.safety import describe_exc

__all__ = ["BlockInfo", "HeadPoller", "block_info", "latest_block", "poll_heads"]

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """Number, unix timestamp and hash (``0x``-hex) of one block."""

    number: int
    timestamp: int
    hash: str


async def latest_block(w3: AsyncWeb3[Any], *, timeout_s: float = 10.0) -> int:
    """The newest block number the node knows."""
    number = await rpc_request(w3, "eth_blockNumber", timeout_s=timeout_s)
    try:
        return quantity(number, "eth_blockNumber", hex_only=True)
    except AnswerRejected as exc:
        raise ChainError(f"eth_blockNumber: malformed answer: {exc}") from exc


async def block_info(w3: AsyncWeb3[Any], number: int, *, timeout_s: float = 10.0) -> BlockInfo:
    """Timestamp and hash of block ``number``; ``ChainError`` when the node lacks it or
    answers a number or timestamp outside ``0..2**63-1`` or a hash that is not 32 bytes.

    One raw ``eth_getBlockByNumber`` (header only): the answer is range-checked by the
    transport (``bot.chain.answers``) and here, without web3's formatters (half the cost)."""
    block: Any = await rpc_request(
        w3, "eth_getBlockByNumber", hex(number), False, timeout_s=timeout_s
    )
    if block is None:
        raise ChainError(f"eth_getBlockByNumber({number}): the node does not have block {number}")
    try:
        return BlockInfo(
            number=quantity(block["number"], "block number"),
            timestamp=quantity(block["timestamp"], "block timestamp"),
            hash="0x" + hex_bytes(block["hash"], "block hash", length=32).hex(),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ChainError(f"block {number}: malformed answer: {describe_exc(exc)}") from exc


class HeadPoller:
    """``async for number in HeadPoller(w3)``: each newer block number, newest only.

    A failed poll raises ``ChainError`` from ``__anext__``; the poller stays usable, so the
    caller may log it and keep iterating. Iteration ends only when ``stop`` is set. With
    ``heartbeat_s``, a chain that stops producing blocks gets its last block handed out again
    every ``heartbeat_s``, so the engine still ticks: the stale-chain guards trip and alert,
    and venue-side protection (kill switch, margin actions) keeps running.
    """

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        *,
        poll_interval_s: float = 1.0,
        request_timeout_s: float = 10.0,
        start_after: int | None = None,
        stop: asyncio.Event | None = None,
        sleep: Sleep = asyncio.sleep,
        heartbeat_s: float | None = None,
    ) -> None:
        if poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")
        if heartbeat_s is not None and heartbeat_s <= 0:
            raise ValueError("heartbeat_s must be positive")
        self._heartbeat_s = heartbeat_s
        self._yielded_at = time.monotonic()
        self.repeats = 0  # times the last block was handed out again by the heartbeat
        self._w3 = w3
        self._interval_s = poll_interval_s
        self._timeout_s = request_timeout_s
        self._sleep = sleep
        self._stop = stop
        self._last = start_after
        self.skipped = 0  # blocks that arrived but were superseded before being yielded

    @property
    def last_yielded(self) -> int | None:
        """The newest block number handed out (or ``start_after``)."""
        return self._last

    def __aiter__(self) -> Self:
        return self

    def _stopped(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _pause(self) -> None:
        if self._stop is None:
            await self._sleep(self._interval_s)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._interval_s):
                await self._stop.wait()

    async def __anext__(self) -> int:
        while True:
            if self._stopped():
                raise StopAsyncIteration
            newest = await latest_block(self._w3, timeout_s=self._timeout_s)
            if self._last is None or newest > self._last:
                if self._last is not None:
                    self.skipped += newest - self._last - 1
                self._last = newest
                self._yielded_at = time.monotonic()
                return newest
            if (
                self._heartbeat_s is not None
                and time.monotonic() - self._yielded_at >= self._heartbeat_s
            ):
                self.repeats += 1
                self._yielded_at = time.monotonic()
                return self._last
            await self._pause()


def poll_heads(
    w3: AsyncWeb3[Any],
    poll_interval_s: float,
    stop: asyncio.Event | None = None,
    *,
    request_timeout_s: float = 10.0,
    heartbeat_s: float | None = None,
) -> HeadPoller:
    """New block numbers every ``poll_interval_s`` until ``stop`` is set (newest only); the
    last block again every ``heartbeat_s`` while the chain produces none."""
    return HeadPoller(
        w3,
        poll_interval_s=poll_interval_s,
        request_timeout_s=request_timeout_s,
        stop=stop,
        heartbeat_s=heartbeat_s,
    )
