"""Ports: the only surfaces the engine knows. Adapters implement them."""

from __future__ import annotations

from typing import Protocol

from bot.domain import (
    AccountBalance,
    ChainSnapshot,
    Fill,
    FundingPayment,
    MarketQuote,
    MarketRules,
    Order,
    OrderIntent,
    PerpPosition,
)


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
