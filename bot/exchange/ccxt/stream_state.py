"""What the venue's streams told the adapter, and when it may be used as current.

Two caches, fed by the stream's frames and by the adapter's REST reads:

* the mark: the last ``markPriceUpdate`` (mark, index, funding rate, next funding time),
  current while its market socket is open and the frame is at most ``max_age_s`` old (host
  monotonic seconds; Binance sends one every second);
* the position: the last one read over REST, current while the user-data socket has stayed
  open since before that read began and no account update, fill or own order came since. A
  stream cannot say everything a REST row says (liquidation price, margin), so it is used as
  the signal that the REST row changed: any account update makes the next read a REST read.
  That read's answer is kept only if nothing happened while it was in flight
  (``rest_read``/``seed``: a generation count). One streamed read in ``reconcile_reads`` is a
  REST read anyway (reconciliation).

A socket closing (or failing) makes both unknown until it is open again and a REST read
re-seeds the position: never stale data used as current. All sizes are bounded: one mark and
one position are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from bot.domain import PerpPosition
from bot.exchange.ccxt.fields import required

__all__ = ["StreamState"]


class StreamState:
    """The streamed mark and the REST-seeded position, with their validity (see module doc)."""

    def __init__(
        self,
        max_age_s: float,
        reconcile_reads: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age_s = max_age_s
        self.reconcile_reads = reconcile_reads
        self._monotonic = monotonic
        self._funding: Mapping[str, Any] | None = None  # a ccxt funding-rate structure
        self._funding_at = 0.0
        self.market_open = False
        self.account_open = False
        self._position: PerpPosition | None = None
        self._generation = 0  # bumped by every event that can change the position
        self._streamed_reads = 0
        self.frames = 0  # frames that reached the caches (a figure for tests and logs)

    # ------------------------------------------------------------------ stream side
    def saw_mark(self, info: Mapping[str, Any]) -> None:
        """A ``markPriceUpdate`` frame (Binance fields ``p`` mark, ``i`` index, ``r`` rate,
        ``T`` next funding ms, ``E`` event ms), kept as a ccxt funding-rate structure."""
        self._funding = {
            "markPrice": info.get("p"),
            "indexPrice": info.get("i"),
            "fundingRate": info.get("r"),
            "fundingTimestamp": info.get("T"),
            "timestamp": info.get("E"),
        }
        self._funding_at = self._monotonic()
        self.frames += 1

    def account_changed(self) -> None:
        """An account update, a fill, an own order or a socket opening: the kept position is
        no longer current, and a REST read in flight is not kept."""
        self._generation += 1
        self._position = None
        self.frames += 1

    def market_socket(self, is_open: bool) -> None:
        """The market socket opened or closed; closed, the mark is unknown."""
        self.market_open = is_open
        if not is_open:
            self._funding = None

    def account_socket(self, is_open: bool) -> None:
        """The user-data socket opened or closed; either way the kept position is dropped
        (what happened while it was closed was not heard)."""
        self.account_open = is_open
        self.account_changed()

    # ------------------------------------------------------------------ adapter side
    def mark(self) -> Mapping[str, Any] | None:
        """The streamed mark as a ccxt funding-rate structure, or None when unknown (socket
        closed, no frame yet, or older than ``max_age_s``)."""
        if not self.market_open or self._funding is None:
            return None
        if self._monotonic() - self._funding_at > self.max_age_s:
            return None
        return self._funding

    def position(self) -> PerpPosition | None:
        """The kept position at the streamed mark, or None when it must be read over REST
        (unknown, changed, mark unknown, or this read is the reconciliation's). Raises
        ``VenueDataError`` for a streamed mark that is not a positive number."""
        funding = self.mark()
        if not self.account_open or self._position is None or funding is None:
            return None
        self._streamed_reads += 1
        if self._streamed_reads >= self.reconcile_reads:
            self._streamed_reads = 0
            return None
        mark = required(funding, "markPrice", "streamed mark", sign="positive")
        kept = self._position
        unrealized = (mark - kept.entry_price) * kept.size_base if kept.size_base else Decimal(0)
        return replace(kept, mark_price=mark, unrealized_pnl=unrealized)

    @property
    def has_position(self) -> bool:
        """Whether a position is kept (a query: counts no read)."""
        return self.account_open and self._position is not None

    def rest_read(self) -> int | None:
        """A REST position read begins: the token ``seed`` needs (None: the socket is not
        open, so the answer cannot be kept)."""
        return self._generation if self.account_open else None

    def seed(self, token: int | None, position: PerpPosition) -> None:
        """Keep ``position`` (read over REST since ``rest_read`` gave ``token``) when nothing
        that could change it happened meanwhile and the socket stayed open."""
        if token is not None and token == self._generation and self.account_open:
            self._position = position
