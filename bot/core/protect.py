"""The protect-only tick, pure parts: the decision of a tick that could not read the chain,
and when an unreadable position is alerted. Pure.

When the chain side of a tick fails (``ChainError``, ``PositionReadError``, a late read) the
LP delta is unknown, never zero: the engine still reads the venue and lets only the emergency
reductions of :func:`bot.core.trading_gate.trading_gate` through (kill-switch flatten, operator
flatten, margin critical ``flatten``/``reduce``), each toward a target that needs no delta.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bot.domain import Decision

__all__ = ["UNKNOWN", "UnreadableEpisode", "cause_key", "unknown_delta_hold"]

UNKNOWN = Decimal("NaN")  # any comparison with it raises: an unknown delta can never size an order
_NUMBER = re.compile(r"\b\d+\b")  # block numbers, ranges, token ids; hex addresses stay whole


def unknown_delta_hold(hedge_base: Decimal, mark_price: Decimal, reason: str) -> Decision:
    """A ``hold`` at the current hedge whose LP delta, target, drift and band are ``NaN``.

    It is what the gate starts from when the chain could not be read: only an emergency
    override (:func:`bot.core.trading_gate.reduce_toward`) can turn it into an order, and that order
    only shrinks ``|hedge_base|`` toward a target of the same sign (0 or the margin safe size).
    """
    return Decision(
        action="hold",
        reason=reason,
        delta_base=UNKNOWN,
        target_base=UNKNOWN,
        hedge_base=hedge_base,
        drift_base=UNKNOWN,
        band_base=UNKNOWN,
        mark_price=mark_price,
    )


def cause_key(message: str) -> str:
    """The cause an error message stands for, with its numbers (block heights, log ranges,
    token ids) replaced by ``#``: the same position failing the same way at each block is one
    cause. ``0x`` addresses are kept, so two positions are two causes."""
    return _NUMBER.sub("#", message)


@dataclass
class UnreadableEpisode:
    """Which unreadable cause is being reported, so ``position.unreadable`` is alerted once
    when it starts (or its cause changes) and ``position.readable`` once when it ends."""

    cause: str | None = None

    def failed(self, message: str) -> bool:
        """Record a failed read; True when it starts an episode or changes its cause."""
        key = cause_key(message)
        new = key != self.cause
        self.cause = key
        return new

    def read(self) -> str | None:
        """Record a good read; the cause that ended, or None when nothing was unreadable."""
        ended, self.cause = self.cause, None
        return ended
