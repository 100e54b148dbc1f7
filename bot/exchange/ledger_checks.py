"""The ledger's comparisons with the venue: start-up reconciliation and the running check.

I/O around the pure comparisons of :mod:`bot.exchange.position_check`. Both record what they
saw in one store transaction: the fills they classified (a :class:`CheckedMark`: the venue
millisecond ``POSITION_CHECKED_MS`` and the trade ids from it on, ``CHECKED_TRADE_IDS``, so
each fill is classified once and a foreign one reported once) and, when adopting, the venue's
position as the new baseline with the venue millisecond it counts from and the trade ids of
that millisecond it already contains (``BASELINE_TRADE_IDS``) and the client-id sequence of
the newest order it contains (``BASELINE_SEQ``: the ledger's filled orders no fill of which
reached the account count in later expectations only after it,
:func:`~bot.exchange.position_check.unfilled_own_orders`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import structlog

from bot.domain import Fill, Order
from bot.exchange.client_ids import client_id_prefix, seq_of
from bot.exchange.place_results import NotPlaced, Placed, PlaceResult
from bot.exchange.position_check import (
    CheckedMark,
    OnMismatch,
    PositionCheck,
    StartupReconciliation,
    adopted_baseline,
    check_running,
    compare,
    counted_fills,
    unfilled_own_orders,
)
from bot.store.meta import Meta, MetaField, MetaKey

if TYPE_CHECKING:
    from bot.exchange.ledger import OrderLedger

__all__ = [
    "BASELINE_SEQ",
    "BASELINE_TRADE_IDS",
    "CHECKED_TRADE_IDS",
    "check_running_position",
    "reconcile_venue",
]

log = structlog.get_logger("hedgebot.ledger")


def _trade_ids_field(key: MetaKey) -> MetaField[frozenset[str]]:
    """A set of trade ids stored under ``key`` as a sorted JSON list (none: the key is
    deleted); reading raises ``ValueError`` naming the key when it is not a list of strings."""

    def decode(text: str) -> frozenset[str]:
        value = json.loads(text) if text else []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key.value} is not a JSON list of trade ids")
        return frozenset(value)

    def encode(ids: frozenset[str]) -> str:
        return json.dumps(sorted(ids)) if ids else ""

    return MetaField(key, decode, encode, frozenset())


# The fills of the adopted baseline's own millisecond that it already contains
# (position_check.adopted_baseline); absent in stores adopted before it was kept: none.
BASELINE_TRADE_IDS = _trade_ids_field(MetaKey.POSITION_BASELINE_TRADE_IDS)
# The fills from POSITION_CHECKED_MS on that a check classified (CheckedMark.after_check);
# absent in stores checked before they were kept: none (the older mark reads as it did).
CHECKED_TRADE_IDS = _trade_ids_field(MetaKey.POSITION_CHECKED_TRADE_IDS)
# The newest own order (client-id sequence) an adopted baseline contains; absent (never
# adopted, or adopted before it was kept): 0, every order's recorded fill is checked.
BASELINE_SEQ = MetaField(MetaKey.POSITION_BASELINE_SEQ, int, str, 0)


async def reconcile_venue(
    ledger: OrderLedger,
    settled: Sequence[PlaceResult],
    rule: OnMismatch,
    fills_since_ms: int | None,
) -> StartupReconciliation:
    """After the stored intents are ``settled``: cancel this bot's resting orders, then
    compare the venue's position, open orders and fills since ``fills_since_ms`` (default:
    the store's cursor) with the store (:func:`~bot.exchange.position_check.compare`)."""
    store, exchange = ledger.store, ledger.exchange
    intent_ids = set((await store.intent_blocks()).keys())
    open_orders = await exchange.open_orders()
    cancelled = await _cancel_own(ledger, open_orders, intent_ids)
    cursor = fills_since_ms if fills_since_ms is not None else await _fill_cursor(ledger)
    after_ms = await store.get(Meta.POSITION_BASELINE_AFTER_MS)
    inside = await store.get(BASELINE_TRADE_IDS)
    checked = await _checked_mark(ledger, cursor)
    position = await exchange.position()
    stored, venue_fills = await store.read_fills(), await exchange.fills(cursor)
    unfilled = await _unfilled(ledger, [*stored, *venue_fills])
    findings = compare(
        own_prefix=client_id_prefix(ledger.bot_id),
        baseline_base=await store.get(Meta.POSITION_BASELINE),
        stored_fills=stored,
        intent_ids=intent_ids,
        venue_position_base=position.size_base,
        venue_open_orders=open_orders,
        venue_fills=venue_fills,
        checked=checked,
        baseline_after_ms=after_ms,
        baseline_trade_ids=inside,
        unfilled=unfilled,
    )
    seen, _ = counted_fills(stored, venue_fills, after_ms, inside)
    action: Literal["ok", "adopted", "paused"] = "ok"
    if not findings.ok:
        action = "adopted" if rule == "adopt" else "paused"
    await _record_check(
        ledger, seen, position.size_base, checked, cursor, adopt=action == "adopted"
    )
    log.info(
        "orders.reconciled_at_start",
        resolved=sum(isinstance(r, Placed) for r in settled),
        never_seen=sum(isinstance(r, NotPlaced) for r in settled),
        cancelled=len(cancelled),
        venue_position_base=str(findings.venue_position_base),
        expected_position_base=str(findings.expected_position_base),
        mismatches=len(findings.mismatches),
        action=action,
    )
    return StartupReconciliation(
        findings=findings,
        resolved=tuple(r.order for r in settled if isinstance(r, Placed)),
        never_seen=tuple(r.intent for r in settled if isinstance(r, NotPlaced)),
        cancelled=cancelled,
        action=action,
    )


async def _cancel_own(
    ledger: OrderLedger, open_orders: Sequence[Order], intent_ids: set[str]
) -> tuple[Order, ...]:
    """Cancel this bot's resting orders (it trades IOC only: a resting one is stale) and
    record those the store knows. Anyone else's orders are left alone."""
    prefix = client_id_prefix(ledger.bot_id)
    cancelled: list[Order] = []
    for order in open_orders:
        cid = order.client_order_id
        if not cid.startswith(prefix):
            continue
        final = await ledger.venue.cancel(order)
        cancelled.append(final)
        if ledger.tracker.get(cid) is not None:
            await ledger.apply_answer(cid, final)
        if cid in intent_ids:
            await ledger.store.record_order(ledger.clock.now(), final)
        log.warning(
            "order.cancelled_at_start",
            client_order_id=cid,
            status=final.status.value,
            filled_base=str(final.filled_base),
        )
    return tuple(cancelled)


async def check_running_position(
    ledger: OrderLedger,
    venue_position_base: Decimal,
    last_mismatch: tuple[Decimal, Decimal] | None,
) -> PositionCheck:
    """One running check (see :meth:`OrderLedger.check_position`); ``last_mismatch`` is
    the (venue, expected) pair already reported, logged again only when it changes."""
    store = ledger.store
    cursor = await _fill_cursor(ledger)
    after_ms = await store.get(Meta.POSITION_BASELINE_AFTER_MS)
    inside = await store.get(BASELINE_TRADE_IDS)
    checked = await _checked_mark(ledger, cursor)
    stored, venue_fills = await store.read_fills(), await ledger.exchange.fills(cursor)
    counted, _ = counted_fills(stored, venue_fills, after_ms, inside)
    unfilled = await _unfilled(ledger, [*stored, *venue_fills])
    check = check_running(
        baseline_base=await store.get(Meta.POSITION_BASELINE),
        counted=counted,
        intent_ids=(await store.intent_blocks()).keys(),
        checked=checked,
        venue_position_base=venue_position_base,
        on_mismatch=ledger.on_mismatch,
        unfilled=unfilled,
    )
    numbers = (check.venue_position_base, check.expected_position_base)
    if not check.ok:
        repeated = last_mismatch == numbers and not check.foreign_fills
        check = PositionCheck(
            *numbers, check.foreign_fills, check.action, repeated, check.unfilled_orders
        )
        if not repeated:
            log.warning(
                "position.mismatch",
                venue_position_base=str(numbers[0]),
                expected_position_base=str(numbers[1]),
                foreign_fills=[f.trade_id for f in check.foreign_fills],
                unfilled_orders=[o.client_order_id for o in check.unfilled_orders],
                action=check.action,
            )
    await _record_check(
        ledger, counted, venue_position_base, checked, cursor, adopt=check.action == "adopted"
    )
    return check


async def _unfilled(ledger: OrderLedger, fills: Sequence[Fill]) -> tuple[Order, ...]:
    """The ledger's filled own orders no fill of which is among ``fills`` (after the
    adopted baseline's orders)."""
    orders = await ledger.store.read_last_orders()
    return unfilled_own_orders(orders, fills, await ledger.store.get(BASELINE_SEQ))


async def _fill_cursor(ledger: OrderLedger) -> int:
    """The venue time from which fills are not stored yet (the history's cursor)."""
    return await ledger.store.get(Meta.FILLS_SINCE_MS) or 0


async def _checked_mark(ledger: OrderLedger, cursor: int) -> CheckedMark:
    """The fills a check already classified; before any check: those before the cursor."""
    checked_ms = await ledger.store.get(Meta.POSITION_CHECKED_MS)
    ids = await ledger.store.get(CHECKED_TRADE_IDS)
    return CheckedMark(cursor if checked_ms is None else checked_ms, ids)


async def _record_check(
    ledger: OrderLedger,
    seen: Sequence[Fill],
    venue_position_base: Decimal,
    checked: CheckedMark,
    cursor: int,
    *,
    adopt: bool,
) -> None:
    """Record what a check classified (every fill ``seen``) and an adopted baseline, in one
    transaction. The mark is written even when nothing was seen: absent, it would read as
    the cursor of a later check, past fills stored in between and never classified."""
    store = ledger.store
    mark = checked.after_check(seen, cursor)
    async with store.transaction():
        await store.set(Meta.POSITION_CHECKED_MS, mark.after_ms)
        await store.set(CHECKED_TRADE_IDS, mark.trade_ids)
        if adopt:
            baseline, after_ms, inside = adopted_baseline(venue_position_base, seen, cursor)
            await store.set(Meta.POSITION_BASELINE, baseline)
            await store.set(Meta.POSITION_BASELINE_AFTER_MS, after_ms)
            await store.set(BASELINE_TRADE_IDS, inside)
            newest = max(map(seq_of, await store.intent_blocks()), default=0)
            await store.set(BASELINE_SEQ, newest)  # its orders are in the venue's number
