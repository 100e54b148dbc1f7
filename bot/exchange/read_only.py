"""Starting a venue for a read-only command: markets and rules loaded, the account untouched.

``PerpExchange.start`` sets leverage and margin mode on the account (and, on Hyperliquid,
approves a configured builder; the paper venue writes its state file). A command that only
reads (``hedgebot status``) must change nothing, so it starts the venue with
``start_read_only`` instead; a venue without one is refused, never started the writing way.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot import errors
from bot.ports import PerpExchange

__all__ = ["ReadOnlyStart", "start_for_reading"]


@runtime_checkable
class ReadOnlyStart(Protocol):
    """A venue that can start without changing the account (``CcxtPerpExchange``,
    ``PaperExchange``)."""

    async def start_read_only(self) -> None:
        """Load markets and rules; set nothing on the account, write nothing."""
        ...


async def start_for_reading(venue: PerpExchange) -> None:
    """Start ``venue`` for reads only (``start_read_only``). Raises ``ExchangeError`` for a
    venue that has no read-only start, and what its start raises."""
    if not isinstance(venue, ReadOnlyStart):
        raise errors.ExchangeError(
            f"{type(venue).__name__} has no read-only start: not started (its start would "
            "change the account)"
        )
    await venue.start_read_only()
