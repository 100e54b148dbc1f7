"""``OrderManager``: deterministic client ids, resolution of unknown outcomes, reconciliation.

Rules (ARCHITECTURE.md, "Exchange truth" and "Idempotency"):

* every order comes from an intent whose client id is a pure function of (bot, block, seq);
* a submit that times out or disconnects after sending is *unknown*, never failed: it is
  resolved by asking the venue for that client id before anything else is sent;
* while any intent is unresolved, no new order is placed (``OrderOutcomeUnknown``);
* an intent the venue provably never saw is re-sent with the *same* client id, so even a
  venue that did see it refuses the copy;
* a rate-limited submit is retried with the same client id after the venue's ``Retry-After``
  (or an exponential backoff), unless the venue asks for a longer wait than ``max_wait_s``;
* at start the venue's position, open orders and recent fills are reconciled with the store
  (:mod:`bot.exchange.reconcile`); ``on_mismatch`` decides between adopting the venue's truth
  and staying paused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import structlog

from bot import errors
from bot.domain import TERMINAL_STATUSES, Order, OrderIntent, OrderStatus
from bot.exchange.reconcile import (
    BASELINE_META_KEY,
    OnMismatch,
    ReconcileStore,
    StartupReconciliation,
    compare,
)
from bot.ports import PerpExchange

__all__ = [
    "OrderManager",
    "ReconcileReport",
    "StartupReconciliation",
    "client_id_prefix",
    "client_order_id",
]

log = structlog.get_logger("hedgebot.orders")

_CLIENT_ID_MAX = 36  # Binance's limit; also fits Bybit/OKX


def client_id_prefix(bot_id: str) -> str:
    """``hb-<bot hash>-``: what every client order id of this bot starts with."""
    return f"hb-{hashlib.sha256(bot_id.encode()).hexdigest()[:8]}-"


def client_order_id(bot_id: str, block: int, seq: int) -> str:
    """``hb-<bot hash>-<block>-<seq>``: unique per bot and tick, the same on every retry."""
    cid = f"{client_id_prefix(bot_id)}{block}-{seq}"
    if len(cid) > _CLIENT_ID_MAX:
        raise ValueError(f"client order id {cid} longer than {_CLIENT_ID_MAX}")
    return cid


@dataclass
class ReconcileReport:
    """What start-up reconciliation found for the store's unresolved intents."""

    resolved: list[Order] = field(default_factory=list)
    never_seen: list[OrderIntent] = field(default_factory=list)
    unknown: list[OrderIntent] = field(default_factory=list)


class OrderManager:
    """Places orders through a ``PerpExchange`` without ever losing or duplicating one."""

    def __init__(
        self,
        exchange: PerpExchange,
        *,
        resolve_attempts: int = 5,
        resolve_backoff_s: float = 0.2,
        submit_attempts: int = 3,
        max_wait_s: float = 10.0,
        absent_checks: int = 3,
        on_mismatch: OnMismatch = "pause",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.exchange = exchange
        self.resolve_attempts = resolve_attempts
        self.resolve_backoff_s = resolve_backoff_s
        self.submit_attempts = submit_attempts
        self.max_wait_s = max_wait_s
        self.absent_checks = absent_checks
        self.on_mismatch: OnMismatch = on_mismatch
        self._sleep = sleep
        self.pending: dict[str, OrderIntent] = {}

    @staticmethod
    def client_order_id(bot_id: str, block: int, seq: int) -> str:
        """See :func:`client_order_id`."""
        return client_order_id(bot_id, block, seq)

    async def _lookup(self, client_id: str) -> Order | None:
        """Ask the venue for ``client_id``, retrying transient failures with backoff."""
        delay = self.resolve_backoff_s
        last: errors.ExchangeError | None = None
        for _ in range(self.resolve_attempts):
            try:
                return await self.exchange.fetch_order(client_id)
            except errors.RateLimited as exc:
                last = exc
                await self._sleep(min(exc.retry_after_s or delay, self.max_wait_s))
            except errors.ExchangeUnavailable as exc:
                last = exc
                await self._sleep(delay)
            delay *= 2
        raise errors.OrderOutcomeUnknown(
            f"order {client_id} still unknown after {self.resolve_attempts} look-ups: {last}",
            client_id,
        )

    async def resolve_pending(self) -> ReconcileReport:
        """Look up every pending (unknown) order; raise ``OrderOutcomeUnknown`` if one stays so.

        A pending intent the venue never saw is dropped, not re-sent: the market has moved
        since it was decided, and the next tick decides again from the venue's position.
        """
        report = await self.reconcile(list(self.pending.values()))
        for order in report.resolved:
            self.pending.pop(order.client_order_id, None)
            log.info(
                "order.resolved", client_order_id=order.client_order_id, status=order.status.value
            )
        for intent in report.never_seen:
            self.pending.pop(intent.client_order_id, None)
            log.warning("order.never_seen", client_order_id=intent.client_order_id)
        if report.unknown:
            ids = ", ".join(i.client_order_id for i in report.unknown)
            raise errors.OrderOutcomeUnknown(
                f"orders still unknown: {ids}", report.unknown[0].client_order_id
            )
        return report

    async def _send(self, intent: OrderIntent) -> Order:
        """Submit, waiting out rate limits; the same client id on every attempt."""
        delay = self.resolve_backoff_s
        for attempt in range(1, self.submit_attempts + 1):
            try:
                return await self.exchange.submit(intent)
            except errors.RateLimited as exc:
                wait = exc.retry_after_s if exc.retry_after_s is not None else delay
                if attempt == self.submit_attempts or wait > self.max_wait_s:
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

    async def _confirm(self, client_id: str) -> Order | None:
        """The order with ``client_id`` in a terminal state, or None once it was absent at
        ``absent_checks`` look-ups spread over a growing grace period (a venue may show an
        accepted order late). A non-terminal order is looked up again the same way; one
        that stays open raises ``OrderOutcomeUnknown``."""
        delay = self.resolve_backoff_s
        order: Order | None = None
        for check in range(self.absent_checks + 1):
            order = await self._lookup(client_id)
            if order is not None and order.status in TERMINAL_STATUSES:
                return order
            if check < self.absent_checks:
                await self._sleep(delay)
                delay *= 2
        if order is None:
            return None
        raise errors.OrderOutcomeUnknown(
            f"order {client_id} still {order.status.value} after {self.absent_checks} checks",
            client_id,
        )

    async def _submit_once(self, intent: OrderIntent) -> Order:
        """Submit once. A refusal (invalid, margin, rate limit, never connected) is raised as
        it is; any other failure, a cancellation included, leaves the intent pending as an
        unknown outcome. An unknown outcome is resolved by client id; an order confirmed
        absent is ``OrderNotPlaced``, never re-sent blindly."""
        cid = intent.client_order_id
        try:
            order = await self._send(intent)
        except (errors.InvalidOrder, errors.InsufficientMargin, errors.ExchangeUnavailable):
            raise  # refused before anything was placed (RateLimited is ExchangeUnavailable)
        except errors.OrderOutcomeUnknown:
            log.warning("order.outcome_unknown", client_order_id=cid)
            self.pending[cid] = intent
        except BaseException:
            self.pending[cid] = intent  # resolved by client id before any new order
            raise
        else:
            if order.status in TERMINAL_STATUSES:
                return order
            self.pending[cid] = intent
        order_or_none = await self._confirm(cid)
        self.pending.pop(cid, None)
        if order_or_none is None:
            log.warning("order.not_placed", client_order_id=cid)
            raise errors.OrderNotPlaced(f"order {cid} was never placed", cid)
        return order_or_none

    async def execute(self, intent: OrderIntent) -> Order:
        """Place ``intent`` once; unknown outcomes are resolved before returning.

        Raises ``OrderOutcomeUnknown`` (the intent stays pending) when the venue cannot tell,
        and the venue's refusal (``InvalidOrder``, ``InsufficientMargin``) as it is.
        """
        if self.pending:
            raise errors.OrderOutcomeUnknown(
                "earlier orders are unresolved: call resolve_pending() first",
                next(iter(self.pending)),
            )
        return await self._submit_once(intent)

    async def reconcile(
        self, intents: Sequence[OrderIntent], *, open_is_unknown: bool = True
    ) -> ReconcileReport:
        """Find each unresolved intent on the venue by its client id.

        An order still working on the venue stays unknown (looked up again before trading),
        unless ``open_is_unknown`` is False: at start-up this bot's resting orders are
        cancelled right after, and their final state recorded then.
        """
        report = ReconcileReport()
        for intent in intents:
            try:
                order = await self._lookup(intent.client_order_id)
            except errors.OrderOutcomeUnknown:
                report.unknown.append(intent)
                self.pending[intent.client_order_id] = intent
                continue
            if order is None:
                report.never_seen.append(intent)
            elif open_is_unknown and order.status not in TERMINAL_STATUSES:
                report.unknown.append(intent)  # still working: look again before trading
                self.pending[intent.client_order_id] = intent
            else:
                report.resolved.append(order)
        return report

    async def reconcile_at_start(
        self, store: ReconcileStore, *, bot_id: str, fills_since_ms: int, now: float
    ) -> StartupReconciliation:
        """Settle stored intents, cancel this bot's resting orders, compare with the venue.

        See :mod:`bot.exchange.reconcile`. Raises ``OrderOutcomeUnknown`` when a stored
        intent cannot be resolved (the engine must not trade on a guess).
        """
        report = await self.reconcile(await store.unresolved_intents(), open_is_unknown=False)
        for order in report.resolved:
            await store.record_order(now, order)
        for intent in report.never_seen:
            await store.mark_intent(intent.client_order_id, OrderStatus.REJECTED)
        if report.unknown:
            ids = ", ".join(i.client_order_id for i in report.unknown)
            raise errors.OrderOutcomeUnknown(
                f"stored orders still unknown: {ids}", report.unknown[0].client_order_id
            )
        prefix = client_id_prefix(bot_id)
        intent_ids = set((await store.intent_blocks()).keys())
        open_orders = await self.exchange.open_orders()
        cancelled: list[Order] = []
        for order in open_orders:
            if not order.client_order_id.startswith(prefix):
                continue
            final = await self._cancel(order)
            cancelled.append(final)
            if order.client_order_id in intent_ids:
                await store.record_order(now, final)
            log.warning(
                "order.cancelled_at_start",
                client_order_id=order.client_order_id,
                status=final.status.value,
                filled_base=str(final.filled_base),
            )
        baseline = Decimal(await store.get_meta(BASELINE_META_KEY) or "0")
        position = await self.exchange.position()
        findings = compare(
            own_prefix=prefix,
            baseline_base=baseline,
            stored_fills=await store.read_fills(),
            intent_ids=intent_ids,
            venue_position_base=position.size_base,
            venue_open_orders=open_orders,
            venue_fills=await self.exchange.fills(fills_since_ms),
        )
        action: Literal["ok", "adopted", "paused"] = "ok"
        if not findings.ok:
            if self.on_mismatch == "adopt":
                gap = findings.venue_position_base - findings.expected_position_base
                await store.set_meta(BASELINE_META_KEY, str(baseline + gap))
                action = "adopted"
            else:
                action = "paused"
        log.info(
            "orders.reconciled_at_start",
            resolved=len(report.resolved),
            never_seen=len(report.never_seen),
            cancelled=len(cancelled),
            venue_position_base=str(findings.venue_position_base),
            expected_position_base=str(findings.expected_position_base),
            mismatches=len(findings.mismatches),
            action=action,
        )
        return StartupReconciliation(
            findings=findings,
            resolved=tuple(report.resolved),
            never_seen=tuple(report.never_seen),
            cancelled=tuple(cancelled),
            action=action,
        )

    async def _cancel(self, order: Order) -> Order:
        """Cancel a resting order; its final state as the venue reports it afterwards."""
        # OrderNotFound: filled or expired meanwhile; the venue's record below says which
        with contextlib.suppress(errors.OrderNotFound):
            await self.exchange.cancel(order.client_order_id)
        final = await self._lookup(order.client_order_id)
        if final is None:
            raise errors.ExchangeError(f"open order {order.client_order_id} vanished on cancel")
        return final
