"""Clocks implementing ``bot.ports.Clock``."""

from __future__ import annotations

import time
from dataclasses import dataclass


class WallClock:
    """The real time."""

    def now(self) -> float:
        """Unix time in seconds."""
        return time.time()


@dataclass
class ManualClock:
    """A clock tests and simulations move by hand."""

    t: float = 1_700_000_000.0

    def now(self) -> float:
        """The time last set."""
        return self.t

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.t += seconds

    def set(self, t: float) -> None:
        """Jump to ``t`` (never backwards)."""
        self.t = max(self.t, t)
