"""The mark a flat position is valued at: the one the tick's quote just read, never an old one.

A venue lists no position row when flat, so the flat position's mark comes from the
funding-rate answer. The quote of the same tick read it a moment before; reading it again
cost one REST call per quiet tick. :class:`SeenMark` keeps the last mark with the host's
monotonic time of its read, and hands it out only within ``max_age_s`` (1 s: the same tick);
older, it is unknown and the caller reads it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from bot.domain import PerpPosition

__all__ = ["SeenMark", "flat_position"]


class SeenMark:
    """The last mark read (quote per base) and when (host monotonic seconds)."""

    def __init__(
        self, max_age_s: float = 1.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age_s = max_age_s
        self._monotonic = monotonic
        self._mark: Decimal | None = None
        self._at = 0.0

    def saw(self, mark: Decimal) -> None:
        """A mark just read from the venue."""
        self._mark, self._at = mark, self._monotonic()

    def fresh(self) -> Decimal | None:
        """The last mark when read within ``max_age_s``, else None (unknown: read it)."""
        if self._mark is None or self._monotonic() - self._at > self.max_age_s:
            return None
        return self._mark


def flat_position(symbol: str, mark: Decimal, leverage: int) -> PerpPosition:
    """No position on ``symbol``: size 0 at ``mark`` (quote per base)."""
    return PerpPosition(
        symbol=symbol,
        size_base=Decimal(0),
        entry_price=Decimal(0),
        mark_price=mark,
        unrealized_pnl=Decimal(0),
        margin=Decimal(0),
        liquidation_price=None,
        leverage=leverage,
    )
