"""One ``newHeads`` endpoint's standing: what it delivered, what was refused, and the penalty
that bounds what a misbehaving peer can cost the HTTP node the ticks read from.

Every refused head is a strike; after the n-th strike in a row the endpoint's heads are
dropped unread for ``min_s × 2**(n-1)`` seconds, at most ``max_s`` (the reconnection backoff's
schedule). Strikes end when the endpoint delivers an accepted head of a block newer than any
it delivered before, so a peer cannot clear them by repeating an old, known head.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from bot.chain.heads import BlockInfo
from bot.safety import describe_exc

__all__ = ["ConfirmedHashes", "WsEndpoint", "penalty_s"]

log = structlog.get_logger("hedgebot.chain.heads")

_MAX_DOUBLINGS = 30  # 2**30 × any sane min_s is past every max_s


def penalty_s(strikes: int, min_s: float, max_s: float) -> float:
    """Seconds an endpoint's heads are ignored after its ``strikes``-th refusal in a row
    (``strikes`` ≥ 1): ``min_s`` doubling per strike, capped at ``max_s``."""
    return min(min_s * (1 << min(strikes - 1, _MAX_DOUBLINGS)), max_s)


@dataclass
class WsEndpoint:
    """One WebSocket endpoint's state; only ``label`` is ever shown."""

    url: str
    label: str
    index: int
    accepted: int = 0  # heads accepted on the current connection (new or on the known chain)
    rejected: int = 0  # heads refused, ever
    ignored: int = 0  # heads dropped unread while penalised, ever
    connects: int = 0
    live: bool = False  # subscribed now
    strikes: int = 0  # refusals since the endpoint last delivered a newer accepted block
    best: int = -1  # the newest block number accepted from this endpoint
    ignored_until: float = 0.0  # monotonic seconds; heads before then are dropped unread
    waiting: BlockInfo | None = None  # its newest head the HTTP node lacks yet, within the lead
    waiter: asyncio.Task[None] | None = None  # the one task asking for ``waiting`` again

    def penalised(self, now: float) -> bool:
        """Whether a head arriving at ``now`` (monotonic s) is to be dropped unread (counted)."""
        if now < self.ignored_until:
            self.ignored += 1
            return True
        return False

    def accept(self, number: int) -> None:
        """Count an accepted head; a block newer than any before also ends the strikes."""
        self.accepted += 1
        if number > self.best:
            self.best = number
            self.strikes = 0

    def refuse(self, exc: Exception, now: float, min_s: float, max_s: float) -> None:
        """Count a refused head, start the penalty, drop the waiting head; logged on the 1st,
        2nd, 4th, 8th, ... refusal of this endpoint (``heads.ws_rejected``)."""
        self.rejected += 1
        self.strikes += 1
        ignore_s = penalty_s(self.strikes, min_s, max_s)
        self.ignored_until = now + ignore_s
        self.waiting = None
        if self.rejected & (self.rejected - 1) == 0:
            log.warning(
                "heads.ws_rejected",
                endpoint=self.label,
                index=self.index,
                error=describe_exc(exc),
                rejected=self.rejected,
                ignored=self.ignored,
                strikes=self.strikes,
                ignore_s=ignore_s,
            )


class ConfirmedHashes:
    """Hashes the HTTP node confirmed for the newest ``keep`` block numbers seen."""

    def __init__(self, keep: int = 64) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self._keep = keep
        self._by_number: dict[int, str] = {}

    def add(self, head: BlockInfo) -> None:
        """Remember ``head`` as confirmed (a later hash for the same number replaces it)."""
        self._by_number[head.number] = head.hash
        horizon = max(self._by_number) - self._keep
        for number in [n for n in self._by_number if n <= horizon]:
            del self._by_number[number]

    def matches(self, head: BlockInfo) -> bool:
        """Whether ``head`` is a block the HTTP node confirmed with that very hash."""
        return self._by_number.get(head.number) == head.hash
