"""Ports: the only surfaces the engine knows. Adapters implement them."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot.domain import (
    AccountBalance,
    ChainSnapshot,
    Decision,
    Fill,
    FundingPayment,
    MarketQuote,
    MarketRules,
    Order,
    OrderIntent,
    OrderStatus,
    PerpPosition,
)

if TYPE_CHECKING:
    from bot.events import Event


class Clock(Protocol):
    """Injected time source; tests drive it, production reads the wall clock."""

    def now(self) -> float:
        """Unix time in seconds."""
        ...


class ChainReader(Protocol):
    """Reads LP positions from chain, pinned to a block."""

    async def latest_block(self) -> int:
        """The newest block number the node knows."""
        ...

    async def snapshot(self, block_number: int) -> ChainSnapshot:
        """Pool state and every configured position at exactly ``block_number``."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class PerpExchange(Protocol):
    """A USD-margined linear perpetual venue (paper venue or ccxt).

    Reads never return a default on failure: a failed read raises, so an unknown position is
    never mistaken for a flat one.
    """

    async def start(self) -> None:
        """Load markets, apply leverage and margin mode."""
        ...

    async def close(self) -> None:
        """Release connections and persist state."""
        ...

    async def market_rules(self) -> MarketRules:
        """Precision and limits of the hedge symbol."""
        ...

    async def quote(self) -> MarketQuote:
        """Mark, index, funding rate, best bid/ask when known."""
        ...

    async def mark_quote(self) -> MarketQuote:
        """Mark, index and funding rate with the fewest requests (bid/ask may be None): the
        read of every tick; ``quote`` adds the book before an order is sized."""
        ...

    async def order_book(self, quote: MarketQuote) -> MarketQuote:
        """``quote`` (this tick's ``mark_quote``) with the best bid/ask of the book, read with
        the fewest requests (one on ccxt; none in process): sizing an order reads only the
        book, never the mark again. ``VenueDataError`` for an empty book or one far from
        the mark."""
        ...

    async def position(self) -> PerpPosition:
        """The open position (size 0 when flat)."""
        ...

    async def balance(self) -> AccountBalance:
        """Quote collateral."""
        ...

    async def submit(self, intent: OrderIntent) -> Order:
        """Send an order; raises ``OrderOutcomeUnknown`` when the outcome is not known."""
        ...

    async def fetch_order(self, client_order_id: str) -> Order | None:
        """The order with this client id, or None when the venue never saw it."""
        ...

    async def open_orders(self) -> list[Order]:
        """Resting orders on the hedge symbol."""
        ...

    async def cancel(self, client_order_id: str) -> None:
        """Cancel a resting order."""
        ...

    async def fills(self, since_ms: int) -> list[Fill]:
        """Our executions since ``since_ms``."""
        ...

    async def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """Funding credited/debited since ``since_ms``."""
        ...


class Store(Protocol):
    """The bot's durable record (SQLite today): what the engine writes and restores.

    Every method raises ``StoreError`` when the store cannot be read or written; the engine
    never trades without its record.
    """

    @property
    def path(self) -> Path:
        """Where the store lives (the kill switch file defaults to beside it)."""
        ...

    async def check_writable(self) -> None:
        """Raise ``StoreError`` unless a write would succeed now."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Group the writes of the block: all commit at its end or none (rolled back when
        the block raises); nested use joins the outer one. ``StoreError`` when the commit
        fails. The engine writes a tick's account step in one."""
        ...

    async def get_meta(self, key: str) -> str | None:
        """One meta value, or None when unset."""
        ...

    async def set_meta(self, key: str, value: str) -> None:
        """Set one meta value."""
        ...

    async def record_snapshot(self, ts: float, snapshot: ChainSnapshot) -> None:
        """The chain snapshot a tick decided on."""
        ...

    async def record_decision(self, ts: float, block: int, decision: Decision) -> None:
        """The gated decision of a tick."""
        ...

    async def record_intent(self, ts: float, block: int, intent: OrderIntent) -> None:
        """Write-ahead: the order about to be sent."""
        ...

    async def record_order(self, ts: float, order: Order) -> None:
        """What the venue answered for an intent."""
        ...

    async def mark_intent(self, client_order_id: str, status: OrderStatus) -> None:
        """Set an intent's status without a venue order (rejected, unknown)."""
        ...

    async def intent_count(self) -> int:
        """How many intents were ever written (the client-id sequence)."""
        ...

    async def record_fill(self, fill: Fill, *, own: bool = True) -> bool:
        """Store a fill once (by trade id), as the bot's own or someone else's (``own``);
        False when it was already known."""
        ...

    async def record_funding(self, payment: FundingPayment) -> bool:
        """Store a funding payment once (by id); False when it was already known."""
        ...

    async def record_event(self, ts: float, event_type: str, body: dict[str, Any]) -> None:
        """One event row (alerts, range changes, trading-state changes)."""
        ...

    async def record_command(
        self, ts: float, command_id: str, command: str, status: str, body: dict[str, Any]
    ) -> None:
        """One operator command and its outcome."""
        ...

    async def read_funding(self) -> list[FundingPayment]:
        """Every funding payment stored."""
        ...


class EventSink(Protocol):
    """Where the typed events of a tick go: one fan-out to log, MQTT, store and metrics."""

    def emit(self, event: Event) -> None:
        """Deliver one event now; never raises into the tick (a failed delivery is counted)."""
        ...
