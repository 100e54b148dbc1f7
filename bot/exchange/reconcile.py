"""Start-up reconciliation: the venue's position, open orders and recent fills against the store.

The venue is the truth for positions and orders, the store for intents (ARCHITECTURE.md,
"Exchange truth"). The store expects the position ``baseline + Σ signed fills`` (stored fills
plus the venue's recent fills not stored yet, which the next tick will record); anything the
store cannot explain is a mismatch:

* the venue position differs from that expectation (trades by someone else, a lost store);
* a recent fill whose client id is no intent of this bot;
* an open order of this bot the store never recorded, or anyone else's open order.

Open orders of this bot (client id ``hb-<bot hash>-``) are cancelled before anything is
compared, whether or not the store knew them: the bot trades IOC only, so a resting order of
its own is stale (priced on an old mark), and the next tick decides afresh from the venue's
position under a new client id, so nothing is ever duplicated. Other open orders are reported
and left alone. On a mismatch ``adopt`` moves the baseline so the store agrees with the venue
from now on; ``pause`` leaves the record as it is and the engine stays paused until an operator
resumes (a later start finds the same mismatch until it is adopted once).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from bot.domain import Fill, Order, OrderIntent, OrderStatus, Side

__all__ = [
    "BASELINE_META_KEY",
    "Findings",
    "OnMismatch",
    "ReconcileStore",
    "StartupReconciliation",
    "compare",
    "signed_amount",
]

OnMismatch = Literal["adopt", "pause"]
BASELINE_META_KEY = "position_baseline_base"


class ReconcileStore(Protocol):
    """The part of the store start-up reconciliation reads and writes."""

    async def get_meta(self, key: str) -> str | None:
        """A meta value, or None."""
        ...

    async def set_meta(self, key: str, value: str) -> None:
        """Set a meta value."""
        ...

    async def unresolved_intents(self) -> list[OrderIntent]:
        """Intents whose outcome the store does not know."""
        ...

    async def intent_blocks(self) -> dict[str, int]:
        """Block of every recorded intent, by client order id."""
        ...

    async def record_order(self, ts: float, order: Order) -> None:
        """Append an order update."""
        ...

    async def mark_intent(self, client_order_id: str, status: OrderStatus) -> None:
        """Set an intent's status."""
        ...

    async def read_fills(self) -> list[Fill]:
        """Every stored fill."""
        ...


def signed_amount(fill: Fill) -> Decimal:
    """The fill's change to the position: + for a buy, - for a sell."""
    return fill.amount_base if fill.side is Side.BUY else -fill.amount_base


@dataclass(frozen=True, slots=True)
class Findings:
    """What the comparison found; ``mismatches`` are human-readable, one per discrepancy."""

    venue_position_base: Decimal
    expected_position_base: Decimal
    own_open_orders: tuple[Order, ...]
    foreign_open_orders: tuple[Order, ...]
    unknown_fills: tuple[Fill, ...]
    mismatches: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the store explains everything the venue reports."""
        return not self.mismatches


def compare(
    *,
    own_prefix: str,
    baseline_base: Decimal,
    stored_fills: Sequence[Fill],
    intent_ids: Iterable[str],
    venue_position_base: Decimal,
    venue_open_orders: Sequence[Order],
    venue_fills: Sequence[Fill],
) -> Findings:
    """Pure comparison of the venue's state with the store's record (see the module doc)."""
    known_intents = frozenset(intent_ids)
    stored_ids = {f.trade_id for f in stored_fills}
    unstored = [f for f in venue_fills if f.trade_id not in stored_ids]
    expected = baseline_base + sum(
        (signed_amount(f) for f in (*stored_fills, *unstored)), Decimal(0)
    )
    own = tuple(o for o in venue_open_orders if o.client_order_id.startswith(own_prefix))
    foreign = tuple(o for o in venue_open_orders if not o.client_order_id.startswith(own_prefix))
    unknown_fills = tuple(f for f in unstored if f.client_order_id not in known_intents)
    mismatches: list[str] = []
    if expected != venue_position_base:
        mismatches.append(f"position: venue {venue_position_base}, store expects {expected}")
    for fill in unknown_fills:
        mismatches.append(
            f"fill {fill.trade_id} ({fill.side.value} {fill.amount_base} @ {fill.price}) of "
            f"order {fill.client_order_id}, which is no intent of this bot"
        )
    for order in own:
        if order.client_order_id not in known_intents:
            mismatches.append(f"open order {order.client_order_id} is unknown to the store")
    for order in foreign:
        mismatches.append(
            f"open order {order.client_order_id} ({order.side.value} {order.amount_base}) "
            "was not placed by this bot"
        )
    return Findings(
        venue_position_base=venue_position_base,
        expected_position_base=expected,
        own_open_orders=own,
        foreign_open_orders=foreign,
        unknown_fills=unknown_fills,
        mismatches=tuple(mismatches),
    )


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
    action: Literal["ok", "adopted", "paused"]
