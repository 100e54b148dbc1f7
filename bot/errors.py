"""Domain exceptions: one stable class per cause, mapped once in the adapter that sees them."""

from __future__ import annotations


class HedgebotError(Exception):
    """Base of every error hedgebot raises on purpose."""


class ConfigError(HedgebotError):
    """The configuration is invalid; the message names each bad field."""


class ChainError(HedgebotError):
    """Reading the chain failed (RPC down, timeout, bad response)."""


class StaleChainData(ChainError):
    """The block is too old or did not advance."""


class PositionReadError(ChainError):
    """A configured LP position could not be read or no longer exists for the owner."""


class ExchangeError(HedgebotError):
    """Base of venue errors."""


class VenueDataError(ExchangeError):
    """A venue answer the bot cannot trust: a needed field missing, null, non-finite, not a
    number, of the wrong sign, or inconsistent with the rest of its row. Never read as zero."""


class ExchangeUnavailable(ExchangeError):
    """Network error, timeout or maintenance: retryable, nothing known about side effects."""


class RateLimited(ExchangeUnavailable):
    """The venue asked us to slow down; ``retry_after_s`` when it said how long."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InsufficientMargin(ExchangeError):
    """The venue refused the order for lack of margin."""


class InvalidOrder(ExchangeError):
    """The venue refused the order as malformed (size, min notional, reduce-only, ...)."""


class MinNotionalError(InvalidOrder):
    """Order notional below the venue minimum."""


class ReduceOnlyRejected(InvalidOrder):
    """A reduce-only order would have increased the position."""


class OrderNotFound(ExchangeError):
    """The venue does not know this order id."""


class OrderOutcomeUnknown(ExchangeError):
    """An order was sent but its outcome is unknown (timeout, disconnect after submit)."""

    def __init__(self, message: str, client_order_id: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


class OrderNotPlaced(ExchangeError):
    """An order whose outcome was unknown was confirmed absent after a grace period: nothing
    was placed, and it is not re-sent (the next tick decides again from the venue)."""

    def __init__(self, message: str, client_order_id: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


class AuthenticationError(ExchangeError):
    """API key or signature refused."""


class StoreError(HedgebotError):
    """The store cannot be written: the bot refuses to trade without it."""


class StoreUnreachable(StoreError):
    """The store's server cannot be reached now (connection refused, timed out or lost, no
    pooled connection): it may come back, so ``hedgebot run`` waits for it, also at start."""
