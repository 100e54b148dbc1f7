"""Clocks an emulator can move from outside (the admin ``advance`` switch).

``ManualClock`` (``bot.clock``) stands still until advanced: tests. ``OffsetClock`` runs on
the wall clock plus an offset that ``advance`` grows: the standalone ``hedgebot emulator``,
where an operator or a test in another process makes funding times pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from bot.ports import Clock

__all__ = ["MAX_ADVANCE_S", "AdvancingClock", "OffsetClock", "advance_clock"]

MAX_ADVANCE_S = 10 * 365 * 86400  # the largest single advance the admin API accepts (10 years)


class AdvancingClock(Clock, Protocol):
    """A clock an emulator can move forward (``ManualClock``, ``OffsetClock``)."""

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (>= 0)."""
        ...


class OffsetClock:
    """Wall time plus an offset that only grows: ``now() = wall() + offset_s``."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self.offset_s = 0.0

    def now(self) -> float:
        """Unix time in seconds, ``offset_s`` ahead of the wall clock."""
        return self._wall() + self.offset_s

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``; raises ``ValueError`` for a negative value."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        self.offset_s += seconds


def advance_clock(clock: Clock, seconds: float) -> None:
    """Advance ``clock`` when it can be moved; ``TypeError`` naming the clock otherwise."""
    advance = getattr(clock, "advance", None)
    if advance is None:
        raise TypeError(f"the emulator's clock cannot be advanced ({type(clock).__name__})")
    advance(seconds)
