"""The ledger's calls to the venue, each with its retry rule (no state, no store).

* ``lookup``: a client id on the venue, retrying rate limits (the venue's ``Retry-After``,
  capped at ``max_wait_s``) and outages (exponential backoff); ``OrderOutcomeUnknown`` after
  ``resolve_attempts`` failed look-ups.
* ``send``: a submit under the same client id on every attempt, waiting out rate limits
  unless the venue asks for longer than ``max_wait_s`` (then ``RateLimited`` is raised).
* ``confirm``: an order whose outcome was unknown, looked up ``absent_checks + 1`` times over
  a growing grace period (a venue may show an accepted order late); None when it stayed absent.
* ``cancel``: a resting order cancelled, and its final state as the venue reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from bot import errors
from bot.domain import TERMINAL_STATUSES, Order, OrderIntent
from bot.ports import PerpExchange

__all__ = ["LedgerSettings", "Sleep", "VenueCalls"]

log = structlog.get_logger("hedgebot.ledger")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LedgerSettings:
    """Retry and grace-period settings of the ledger (``_s`` in seconds, the rest counts)."""

    resolve_attempts: int = 5
    resolve_backoff_s: float = 0.2
    submit_attempts: int = 3
    max_wait_s: float = 10.0
    absent_checks: int = 3


class VenueCalls:
    """``PerpExchange`` calls with the ledger's retry rules (see the module doc)."""

    def __init__(
        self, exchange: PerpExchange, settings: LedgerSettings, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.exchange = exchange
        self.settings = settings
        self._sleep = sleep

    async def lookup(self, client_id: str) -> Order | None:
        """The venue's order for ``client_id``, or None when it never saw one.

        Raises ``OrderOutcomeUnknown`` when every look-up failed (rate limited, unavailable).
        """
        delay = self.settings.resolve_backoff_s
        last: errors.ExchangeError | None = None
        for _ in range(self.settings.resolve_attempts):
            try:
                return await self.exchange.fetch_order(client_id)
            except errors.RateLimited as exc:
                last = exc
                await self._sleep(min(exc.retry_after_s or delay, self.settings.max_wait_s))
            except errors.ExchangeUnavailable as exc:
                last = exc
                await self._sleep(delay)
            delay *= 2
        raise errors.OrderOutcomeUnknown(
            f"order {client_id} still unknown after {self.settings.resolve_attempts} "
            f"look-ups: {last}",
            client_id,
        )

    async def send(self, intent: OrderIntent) -> Order:
        """Submit ``intent``, waiting out rate limits; the same client id on every attempt.

        Raises what the venue raised: ``RateLimited`` past ``max_wait_s`` or the last attempt,
        ``InvalidOrder``/``InsufficientMargin``/``ExchangeUnavailable`` (refused),
        ``OrderOutcomeUnknown`` (sent, no answer).
        """
        delay = self.settings.resolve_backoff_s
        for attempt in range(1, self.settings.submit_attempts + 1):
            try:
                return await self.exchange.submit(intent)
            except errors.RateLimited as exc:
                wait = exc.retry_after_s if exc.retry_after_s is not None else delay
                if attempt == self.settings.submit_attempts or wait > self.settings.max_wait_s:
                    raise
                log.warning(
                    "order.rate_limited",
                    client_order_id=intent.client_order_id,
                    attempt=attempt,
                    wait_s=wait,
                )
                await self._sleep(wait)
                delay *= 2
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def confirm(self, client_id: str) -> Order | None:
        """The order with ``client_id`` in a terminal state, or None once it was absent at
        every look-up of the grace period. Raises ``OrderOutcomeUnknown`` when it stays
        open (or cannot be looked up)."""
        delay = self.settings.resolve_backoff_s
        order: Order | None = None
        checks = self.settings.absent_checks
        for check in range(checks + 1):
            order = await self.lookup(client_id)
            if order is not None and order.status in TERMINAL_STATUSES:
                return order
            if check < checks:
                await self._sleep(delay)
                delay *= 2
        if order is None:
            return None
        raise errors.OrderOutcomeUnknown(
            f"order {client_id} still {order.status.value} after {checks} checks", client_id
        )

    async def cancel(self, order: Order) -> Order:
        """Cancel a resting order; its final state as the venue reports it afterwards.

        Raises ``ExchangeError`` when the order vanished from the venue's records.
        """
        # OrderNotFound: filled or expired meanwhile; the venue's record below says which
        with contextlib.suppress(errors.OrderNotFound):
            await self.exchange.cancel(order.client_order_id)
        final = await self.lookup(order.client_order_id)
        if final is None:
            raise errors.ExchangeError(f"open order {order.client_order_id} vanished on cancel")
        return final
