"""What the order ledger needs of the store (``SqliteStore`` implements it)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

from bot.domain import Fill, Order, OrderIntent, OrderStatus
from bot.store.meta import MetaField

__all__ = ["LedgerStore"]

T = TypeVar("T")


class LedgerStore(Protocol):
    """The part of the store the ledger reads and writes; raises ``StoreError`` on a failed
    write (the engine stops: it never trades without its record)."""

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Group writes: all of them commit at the end, or none (rolled back on error)."""
        ...

    async def get(self, field: MetaField[T]) -> T:
        """A typed meta value (the field's default when absent)."""
        ...

    async def set(self, field: MetaField[T], value: T) -> None:
        """Store a typed meta value."""
        ...

    async def record_intent(self, ts: float, block: int, intent: OrderIntent) -> None:
        """Write an intent ahead of sending it (status ``new``)."""
        ...

    async def record_order(self, ts: float, order: Order) -> None:
        """Append an order update and move its intent to the order's status (one write)."""
        ...

    async def mark_intent(self, client_order_id: str, status: OrderStatus) -> None:
        """Set an intent's status."""
        ...

    async def unresolved_intents(self) -> list[OrderIntent]:
        """Intents whose outcome the store does not know (``new``, ``unknown``, ``open``)."""
        ...

    async def intent_blocks(self) -> dict[str, int]:
        """Block of every recorded intent, by client order id."""
        ...

    async def intent_count(self) -> int:
        """How many intents were ever recorded."""
        ...

    async def read_fills(self, *, own: bool | None = None) -> list[Fill]:
        """Stored fills by venue time (``own``: None every one, True the bot's own, False
        someone else's)."""
        ...

    async def read_last_orders(self) -> dict[str, Order]:
        """The newest recorded update of each order, by client order id."""
        ...
