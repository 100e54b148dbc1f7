"""One ``newHeads`` endpoint's standing: its heads waiting for the HTTP node, what it
delivered, what was refused, and the penalty that bounds what a misbehaving peer can cost the
HTTP node the ticks read from.

Waiting heads (:class:`PendingHeads`): an endpoint's heads the HTTP node lacks yet are kept by
block number (at most ``max_numbers`` numbers, two hashes each; a later head never displaces
one kept). Each number is asked again after ``recheck_s`` doubling to ``recheck_max_s`` and
refused once ``settle_s`` passed without the node having it. Lowest number first: when the
node lacks one it lacks the higher ones too, so a round costs one request per settled number
plus one.

Strikes: every refused head is one; after the n-th the endpoint's heads are dropped unread
for ``min_s × 2**(n-1)`` seconds, at most ``max_s`` (the reconnection backoff's schedule).
Good heads do not clear them: they halve for every ``2 × max_s`` without a refusal, so a
peer mixing real and bogus heads climbs the schedule.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog

from bot.chain.heads import BlockInfo
from bot.safety import describe_exc

__all__ = ["ConfirmedHashes", "PendingHeads", "WsEndpoint", "penalty_s"]

log = structlog.get_logger("hedgebot.chain.heads")

_MAX_DOUBLINGS = 30  # 2**30 × any sane min_s is past every max_s
HASHES_PER_NUMBER = 2  # a waiting number keeps its first two hashes (a reorg's, or a lie's)


def penalty_s(strikes: int, min_s: float, max_s: float) -> float:
    """Seconds an endpoint's heads are ignored after its ``strikes``-th standing strike
    (``strikes`` ≥ 1): ``min_s`` doubling per strike, capped at ``max_s``."""
    return min(min_s * (1 << min(strikes - 1, _MAX_DOUBLINGS)), max_s)


def _power_of_two(count: int) -> bool:
    return count > 0 and count & (count - 1) == 0


@dataclass
class _Waiting:
    """One block number's waiting heads and its recheck schedule (monotonic seconds)."""

    heads: list[BlockInfo]
    deadline: float  # refused when the node still lacks the number then
    next_at: float  # asked again then
    delay_s: float  # the wait before the recheck after next


class PendingHeads:
    """An endpoint's heads the HTTP node lacks yet, by block number (see the module doc).

    Times are monotonic seconds. ``ValueError`` for a non-positive bound."""

    def __init__(
        self, *, max_numbers: int, settle_s: float, recheck_s: float, recheck_max_s: float
    ) -> None:
        if max_numbers < 1 or min(settle_s, recheck_s, recheck_max_s) <= 0:
            raise ValueError("pending-head bounds must be positive")
        self._max = max_numbers
        self._settle_s = settle_s
        self._recheck = (recheck_s, max(recheck_s, recheck_max_s))
        self._by_number: dict[int, _Waiting] = {}

    def __len__(self) -> int:
        return len(self._by_number)

    def add(self, head: BlockInfo, now: float) -> bool:
        """Keep ``head``; True when its number is new here (ask for it now). A head whose
        number already has two hashes, or over ``max_numbers`` numbers, is dropped (False)."""
        waiting = self._by_number.get(head.number)
        if waiting is not None:
            if len(waiting.heads) < HASHES_PER_NUMBER and head not in waiting.heads:
                waiting.heads.append(head)
            return False
        if len(self._by_number) >= self._max:
            return False
        self._by_number[head.number] = _Waiting(
            [head], deadline=now + self._settle_s, next_at=now, delay_s=self._recheck[0]
        )
        return True

    def due(self, now: float) -> list[int]:
        """The numbers to ask for at ``now``, lowest first."""
        return sorted(n for n, w in self._by_number.items() if w.next_at <= now)

    def next_due(self) -> float | None:
        """When the next number is to be asked for; None when nothing waits."""
        return min((w.next_at for w in self._by_number.values()), default=None)

    def lacking(self, number: int, now: float) -> list[BlockInfo]:
        """The node lacks ``number`` (so every higher one too): reschedule it and the higher
        ones due, and return (and drop) the heads of those past their deadline, to be refused."""
        expired: list[BlockInfo] = []
        for n in [n for n in self._by_number if n >= number]:
            waiting = self._by_number[n]
            if now >= waiting.deadline:
                expired.extend(self._by_number.pop(n).heads)
            elif n == number or waiting.next_at <= now:
                waiting.next_at = min(now + waiting.delay_s, waiting.deadline)
                waiting.delay_s = min(waiting.delay_s * 2, self._recheck[1])
        return expired

    def settle(self, number: int, known_hash: str) -> tuple[BlockInfo | None, list[BlockInfo]]:
        """The node has ``number`` with ``known_hash``: drop the number and return the head
        that matches it (None when none does) and the ones it refutes."""
        waiting = self._by_number.pop(number, None)
        heads = waiting.heads if waiting is not None else []
        match = next((h for h in heads if h.hash == known_hash), None)
        return match, [h for h in heads if h.hash != known_hash]

    def drop(self, number: int) -> list[BlockInfo]:
        """Forget ``number``; its heads."""
        waiting = self._by_number.pop(number, None)
        return waiting.heads if waiting is not None else []


@dataclass
class WsEndpoint:
    """One WebSocket endpoint's state; only ``label`` is ever shown."""

    url: str
    label: str
    index: int
    pending: PendingHeads
    accepted: int = 0  # heads accepted on the current connection (new or on the known chain)
    delivered: int = 0  # new blocks it delivered on the current connection that checked out
    rejected: int = 0  # heads refused, ever
    ignored: int = 0  # heads dropped unread while penalised, ever
    dropped: int = 0  # connections lost, ever
    last_error: str = ""  # the cause of the last lost connection
    connects: int = 0
    live: bool = False  # subscribed now
    strikes: int = 0  # standing strikes (refusals, halved per quiet period)
    last_refusal: float = 0.0  # monotonic seconds
    ignored_until: float = 0.0  # monotonic seconds; heads before then are dropped unread
    waiter: asyncio.Task[None] | None = None  # the one task asking for waiting heads again
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one request in flight

    def penalised(self, now: float) -> bool:
        """Whether a head arriving at ``now`` (monotonic s) is to be dropped unread (counted)."""
        if now < self.ignored_until:
            self.ignored += 1
            return True
        return False

    def accept(self, *, new: bool) -> None:
        """Count an accepted head; ``new``: a block no source had reported when it came (only
        that resets the reconnection backoff; the strikes only decay with time)."""
        self.accepted += 1
        self.delivered += new

    def refuse(self, exc: Exception, now: float, min_s: float, max_s: float) -> None:
        """Count a refused head and start the penalty: the standing strikes, halved for each
        ``2 × max_s`` since the last refusal, plus one. Logged on the 1st, 2nd, 4th, 8th, ...
        refusal of this endpoint (``heads.ws_rejected``)."""
        if self.strikes:
            self.strikes >>= min(int((now - self.last_refusal) / (2 * max_s)), _MAX_DOUBLINGS)
        self.rejected += 1
        self.strikes += 1
        self.last_refusal = now
        ignore_s = penalty_s(self.strikes, min_s, max_s)
        self.ignored_until = max(self.ignored_until, now + ignore_s)
        if _power_of_two(self.rejected):
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

    def lost(self, error: str, retry_in_s: float) -> None:
        """Count a lost connection; logged on the 1st, 2nd, 4th, 8th, ... of this endpoint and
        whenever the cause differs from the last one (``heads.ws_dropped``, ``error`` masked)."""
        self.dropped += 1
        news, self.last_error = error != self.last_error, error
        if news or _power_of_two(self.dropped):
            log.warning(
                "heads.ws_dropped",
                endpoint=self.label,
                index=self.index,
                error=error,
                heads=self.accepted,
                new_blocks=self.delivered,
                dropped=self.dropped,
                retry_in_s=retry_in_s,
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

    def get(self, number: int) -> str | None:
        """The hash confirmed for ``number``; None when none is known (not kept, or never)."""
        return self._by_number.get(number)

    def matches(self, head: BlockInfo) -> bool:
        """Whether ``head`` is a block the HTTP node confirmed with that very hash."""
        return self._by_number.get(head.number) == head.hash
