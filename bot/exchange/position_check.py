"""Does the store explain the venue? Pure comparisons for start-up and while running.

The venue is the truth for positions and orders, the store for intents (ARCHITECTURE.md,
"Exchange truth"). The store expects the position ``baseline + Σ signed fills``: the fills
counted are the stored ones (the bot's own and someone else's alike) plus the venue's recent
fills not stored yet (the next sync records them), each trade id at most once, and, when a
baseline was adopted, only those the adopted position does not contain: after
``baseline_after_ms``, or at that very millisecond and not among ``baseline_trade_ids`` (the
fills of that millisecond the adoption saw).

Safety net (:func:`unfilled_own_orders`): an own order the ledger recorded as filled (the
venue answered "filled N") of which no fill reached the account (none stored, none in the
venue's fills the check itself reads; e.g. an agent key trading another master's account)
counts in the expectation with the ledger's amount, so the account that did not move is a
mismatch. The bound is that read: every check reads the venue's fills after the order
settled, and a venue's own fill is on its account when it answers "filled". Orders of an
adopted baseline (sequence up to ``baseline_seq``) are in it already.

* :func:`compare` (start-up): anything the store cannot explain is a mismatch: the position
  differs from that expectation; a fill no check classified yet whose client id is no
  intent of this bot; an
  open order of this bot the store never recorded, or anyone else's open order.
* :func:`check_running` (every few ticks): fills no check classified yet whose client id is
  no intent of this bot are someone else's trades; they and any unexplained position change
  make a mismatch. ``expected_position_base`` is what the bot's own record predicts, so the
  alert shows the venue's number against the bot's.

Every fill is classified once, as the bot's own or as someone else's: a :class:`CheckedMark`
says which fills a check already classified, by venue millisecond and, from that
millisecond on, by trade id (a fill the venue reports late in a millisecond a check already
saw is still classified, :meth:`CheckedMark.after_check`).

A foreign fill is reported once (``position.mismatch``; the engine pauses or adopts per
``exchange.on_mismatch``; a fill of the venue's liquidation is also named as one,
``position.liquidated``: :attr:`PositionCheck.liquidations`, :attr:`Findings.liquidations`)
and from then on it is part of the record: the expectation counts it, so later checks and a
restart are clean. It is stored as foreign (the fills table's
``own`` = 0, ``bot.venue_history``), so it never counts in PnL, fees or ``fill`` events: the
position record counts every fill on the account, the PnL only the bot's trades. ``pause``
leaves the baseline alone and the bot waits for an operator; ``adopt`` takes the venue's
position as the new baseline, containing exactly the fills seen (:func:`adopted_baseline`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from bot.domain import Fill, Order, OrderIntent, Side
from bot.exchange.client_ids import seq_of
from bot.exchange.venue_liquidations import liquidation_fills

__all__ = [
    "CheckedMark",
    "Findings",
    "OnMismatch",
    "PositionCheck",
    "StartupReconciliation",
    "adopted_baseline",
    "check_running",
    "compare",
    "counted_fills",
    "signed_amount",
    "unfilled_own_orders",
]

OnMismatch = Literal["adopt", "pause"]
Action = Literal["ok", "adopted", "paused"]


def signed_amount(fill: Fill) -> Decimal:
    """The fill's change to the position: + for a buy, - for a sell."""
    return fill.amount_base if fill.side is Side.BUY else -fill.amount_base


def unfilled_own_orders(
    orders: Mapping[str, Order], fills: Iterable[Fill], baseline_seq: int = 0
) -> tuple[Order, ...]:
    """The bot's orders (``orders``: the ledger's newest record of each, by client id) that
    the venue answered as (partly) filled but of which not one fill is among ``fills`` (every
    stored fill and the venue's fills since the cursor), leaving out those of an adopted
    baseline (sequence up to ``baseline_seq``); oldest sequence first."""
    with_fills = {f.client_order_id for f in fills}
    return tuple(
        sorted(
            (
                order
                for cid, order in orders.items()
                if order.filled_base > 0 and cid not in with_fills and seq_of(cid) > baseline_seq
            ),
            key=lambda order: seq_of(order.client_order_id),
        )
    )


def _order_total(orders: Iterable[Order]) -> Decimal:
    """The position change the ledger recorded for ``orders``: + bought, - sold (base)."""
    return sum(
        (o.filled_base if o.side is Side.BUY else -o.filled_base for o in orders), Decimal(0)
    )


def counted_fills(
    stored_fills: Sequence[Fill],
    venue_fills: Sequence[Fill],
    baseline_after_ms: int | None,
    baseline_trade_ids: frozenset[str] = frozenset(),
) -> tuple[list[Fill], list[Fill]]:
    """(fills the expectation counts, the venue's fills not stored yet): stored first, each
    trade id once, none before ``baseline_after_ms`` (venue ms) and none of that very
    millisecond whose trade id is in ``baseline_trade_ids`` (already in the baseline)."""
    stored_ids = {f.trade_id for f in stored_fills}
    unstored = [f for f in venue_fills if f.trade_id not in stored_ids]
    after = baseline_after_ms or 0
    counted = [
        f
        for f in (*stored_fills, *unstored)
        if f.timestamp > after or (f.timestamp == after and f.trade_id not in baseline_trade_ids)
    ]
    return counted, unstored


@dataclass(frozen=True, slots=True)
class CheckedMark:
    """Which fills a check already classified (as own or foreign): every fill before
    ``after_ms`` (venue ms), and of ``after_ms`` on those whose trade id is in ``trade_ids``.

    A mark stored before the trade ids were kept (``after_ms`` = newest fill checked + 1, no
    ids) reads the same as it did: fills before it checked, the rest not.
    """

    after_ms: int
    trade_ids: frozenset[str] = frozenset()

    def classified(self, fill: Fill) -> bool:
        """True when a check already classified ``fill``."""
        return fill.timestamp < self.after_ms or fill.trade_id in self.trade_ids

    def after_check(self, seen: Sequence[Fill], fills_cursor_ms: int) -> CheckedMark:
        """The mark once a check classified every fill ``seen``.

        It moves to the fill cursor (venue ms): the venue's fills are read from the cursor
        on, by the history and by the checks alike, so no fill before it can still arrive.
        From there every fill seen is listed by trade id, so one the venue reports later in
        a millisecond already seen (or between two seen) is still classified, never counted
        as the bot's own unseen. A mark already past the cursor (a store of the older form)
        stays where it is.
        """
        after_ms = max(self.after_ms, fills_cursor_ms)
        return CheckedMark(after_ms, frozenset(f.trade_id for f in seen if f.timestamp >= after_ms))


def _total(fills: Iterable[Fill]) -> Decimal:
    return sum((signed_amount(f) for f in fills), Decimal(0))


@dataclass(frozen=True, slots=True)
class Findings:
    """What the start-up comparison found; ``mismatches`` are human-readable, one each."""

    venue_position_base: Decimal
    expected_position_base: Decimal
    own_open_orders: tuple[Order, ...]
    foreign_open_orders: tuple[Order, ...]
    unknown_fills: tuple[Fill, ...]
    mismatches: tuple[str, ...]
    unfilled_orders: tuple[Order, ...] = ()  # filled by the venue's word, no fill seen

    @property
    def ok(self) -> bool:
        """True when the store explains everything the venue reports."""
        return not self.mismatches

    @property
    def liquidations(self) -> tuple[Fill, ...]:
        """The unknown fills that are the venue liquidating the account
        (:func:`~bot.exchange.venue_liquidations.is_venue_liquidation`)."""
        return liquidation_fills(self.unknown_fills)


def compare(
    *,
    own_prefix: str,
    baseline_base: Decimal,
    stored_fills: Sequence[Fill],
    intent_ids: Iterable[str],
    venue_position_base: Decimal,
    venue_open_orders: Sequence[Order],
    venue_fills: Sequence[Fill],
    checked: CheckedMark,
    baseline_after_ms: int | None = None,
    baseline_trade_ids: frozenset[str] = frozenset(),
    unfilled: Sequence[Order] = (),
) -> Findings:
    """The venue's state against the store's record at start-up (see the module doc): the
    expectation counts every fill (own and foreign) plus the ledger's amounts of the
    ``unfilled`` own orders; ``checked``: the fills the running checks already classified
    (not reported again)."""
    known_intents = frozenset(intent_ids)
    counted, _ = counted_fills(stored_fills, venue_fills, baseline_after_ms, baseline_trade_ids)
    expected = baseline_base + _total(counted) + _order_total(unfilled)
    own = tuple(o for o in venue_open_orders if o.client_order_id.startswith(own_prefix))
    foreign = tuple(o for o in venue_open_orders if not o.client_order_id.startswith(own_prefix))
    unknown_fills = tuple(
        f for f in counted if not checked.classified(f) and f.client_order_id not in known_intents
    )
    mismatches: list[str] = []
    if expected != venue_position_base:
        mismatches.append(f"position: venue {venue_position_base}, store expects {expected}")
    mismatches.extend(
        f"fill {fill.trade_id} ({fill.side.value} {fill.amount_base} @ {fill.price}) of "
        f"order {fill.client_order_id}, which is no intent of this bot"
        for fill in unknown_fills
    )
    mismatches.extend(
        f"order {order.client_order_id}: the venue said {order.side.value} "
        f"{order.filled_base} filled, but no fill of it reached this account"
        for order in unfilled
    )
    mismatches.extend(
        f"open order {order.client_order_id} is unknown to the store"
        for order in own
        if order.client_order_id not in known_intents
    )
    mismatches.extend(
        f"open order {order.client_order_id} ({order.side.value} {order.amount_base}) "
        "was not placed by this bot"
        for order in foreign
    )
    return Findings(
        venue_position_base=venue_position_base,
        expected_position_base=expected,
        own_open_orders=own,
        foreign_open_orders=foreign,
        unknown_fills=unknown_fills,
        mismatches=tuple(mismatches),
        unfilled_orders=tuple(unfilled),
    )


@dataclass(frozen=True, slots=True)
class PositionCheck:
    """One running check: the venue's position against the bot's own record (base units).

    ``foreign_fills``: fills no check classified before, of orders that are no intent of
    this bot.
    ``action``: ``ok``, ``adopted`` (the venue's position is the new baseline) or ``paused``
    (the engine must stop trading until an operator resumes). ``repeated``: the same mismatch
    as the previous check (already alerted).
    """

    venue_position_base: Decimal
    expected_position_base: Decimal
    foreign_fills: tuple[Fill, ...]
    action: Action
    repeated: bool = False
    unfilled_orders: tuple[Order, ...] = ()  # filled by the venue's word, no fill seen

    @property
    def ok(self) -> bool:
        """True when the record explains the venue's position and nobody else traded."""
        return not self.foreign_fills and self.venue_position_base == self.expected_position_base

    @property
    def liquidations(self) -> tuple[Fill, ...]:
        """The foreign fills that are the venue liquidating the account
        (:func:`~bot.exchange.venue_liquidations.is_venue_liquidation`)."""
        return liquidation_fills(self.foreign_fills)


def check_running(
    *,
    baseline_base: Decimal,
    counted: Sequence[Fill],
    intent_ids: Iterable[str],
    checked: CheckedMark,
    venue_position_base: Decimal,
    on_mismatch: OnMismatch,
    unfilled: Sequence[Order] = (),
) -> PositionCheck:
    """Someone else's fills among those not ``checked`` before, and the position the bot's
    record predicts without them: ``baseline + Σ`` the fills among ``counted`` (from
    :func:`counted_fills`) but those reported now ``+`` the ledger's amounts of the
    ``unfilled`` own orders (:func:`unfilled_own_orders`). A foreign fill reported by an
    earlier check is part of the record and counts."""
    known = frozenset(intent_ids)
    foreign = tuple(
        f for f in counted if not checked.classified(f) and f.client_order_id not in known
    )
    foreign_ids = {f.trade_id for f in foreign}
    record = [f for f in counted if f.trade_id not in foreign_ids]
    expected = baseline_base + _total(record) + _order_total(unfilled)
    clean = not foreign and expected == venue_position_base
    action: Action = "ok" if clean else ("adopted" if on_mismatch == "adopt" else "paused")
    return PositionCheck(
        venue_position_base, expected, foreign, action, unfilled_orders=tuple(unfilled)
    )


def adopted_baseline(
    venue_position_base: Decimal, seen: Sequence[Fill], fills_cursor_ms: int
) -> tuple[Decimal, int, frozenset[str]]:
    """(new baseline in base units, its millisecond, the trade ids of that millisecond in it).

    The venue's position contains every fill ``seen`` so far: later expectations count the
    fills after the newest of them (or after the fill cursor, the later of the two), and of
    that very millisecond only the trade ids not seen, so an own fill in the same
    millisecond as the adopted foreign one is counted, never dropped and re-alerted."""
    boundary_ms = max(max((f.timestamp for f in seen), default=0), fills_cursor_ms)
    inside = frozenset(f.trade_id for f in seen if f.timestamp == boundary_ms)
    return venue_position_base, boundary_ms, inside


@dataclass(frozen=True, slots=True)
class StartupReconciliation:
    """The outcome of start-up reconciliation.

    ``action``: ``ok`` (nothing to fix), ``adopted`` (the venue's truth is the new baseline)
    or ``paused`` (the engine must not trade until an operator resumes).
    """

    findings: Findings
    resolved: tuple[Order, ...]
    never_seen: tuple[OrderIntent, ...]
    cancelled: tuple[Order, ...]
    action: Action
