"""Which ticks' snapshots and decisions the store keeps (pure: no I/O, no clock).

A tick's chain snapshot is about 2 KB per position; kept every block it is the store's
growth (hundreds of MB a day at 4 blocks/s). :class:`SnapshotPolicy` keeps a snapshot only
when it says something the last kept one does not:

* ``first``      nothing kept yet (this engine's first snapshot);
* ``traded``     the tick's decision trades, or the tick brought new fills or funding (the
                 report attributes them to a kept snapshot and its mark);
* ``positions``  the set of positions changed, or one's liquidity, range (ticks) or
                 in-range flag changed, or the snapshot carries moves or notices;
* ``delta`` / ``value``  the total delta (base) or the total LP value (quote) moved by more
                 than ``tolerance`` relative to the kept snapshot's (any move from zero);
* ``interval``   ``interval_s`` seconds passed since the kept one (a heartbeat).

A decision gets its own row with every kept snapshot, when it trades, and when it differs
from the head of the last decision run (action, reason, notes, order side, or target, hedge or
band beyond ``tolerance``). Any other decision is a quiet repeat of that run: it extends the
run's row (its last block, last record time and count, :mod:`bot.store.decision_runs`), so
every decision is accounted for and a quiet hour adds no row.
The PnL replay (``bot.report``) is exact over such a history: between kept snapshots the
perp position does not change, so the hedge's mark-to-market telescopes, and every other
part depends only on the first and last snapshot (``bot.core.pnl``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.domain import ChainSnapshot, Decision

__all__ = ["KeptTick", "SnapshotPolicy"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class KeptTick:
    """What the policy compares a new tick with: the last kept snapshot and its record time
    (seconds), and the head of the last decision run (the decision its row holds)."""

    snapshot: ChainSnapshot | None = None
    recorded_s: float = 0.0
    decision: Decision | None = None


def _position_shape(snapshot: ChainSnapshot) -> dict[str, tuple[object, ...]]:
    return {
        p.id: (p.liquidity, p.tick_lower, p.tick_upper, p.in_range, p.location)
        for p in snapshot.positions
    }


def _moved(before: Decimal, after: Decimal, tolerance: Decimal) -> bool:
    """``after`` differs from ``before`` by more than ``tolerance`` of ``|before|``."""
    if before == _ZERO:
        return after != _ZERO
    return abs(after - before) > tolerance * abs(before)


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    """Keep a snapshot on change beyond ``tolerance`` (relative, e.g. ``1e-3``), on trades,
    and at least every ``interval_s`` seconds (module docstring). ``tolerance`` 0 and
    ``interval_s`` 0 keep every tick's snapshot, as before this policy."""

    tolerance: Decimal = Decimal("0.001")
    interval_s: float = 60.0

    def snapshot_reason(
        self, kept: KeptTick, snapshot: ChainSnapshot, now_s: float, *, traded: bool
    ) -> str | None:
        """Why ``snapshot`` (record time ``now_s``, seconds) is kept, or None to skip it."""
        last = kept.snapshot
        if last is None:
            return "first"
        if traded:
            return "traded"
        if snapshot.moves or snapshot.notices or _position_shape(snapshot) != _position_shape(last):
            return "positions"
        if _moved(last.delta_base, snapshot.delta_base, self.tolerance):
            return "delta"
        last_value = sum((p.value_quote for p in last.positions), _ZERO)
        value = sum((p.value_quote for p in snapshot.positions), _ZERO)
        if _moved(last_value, value, self.tolerance):
            return "value"
        if now_s - kept.recorded_s >= self.interval_s:
            return "interval"
        return None

    def same_run(self, head: Decision, decision: Decision) -> bool:
        """``decision`` repeats the run headed by ``head``: not a rebalance, the same action,
        reason, notes and order side, and target, hedge and band (base) within ``tolerance``
        of the head's (relative; any move from zero differs)."""
        if decision.action == "rebalance" or head.action == "rebalance":
            return False
        same = (decision.action, decision.reason, decision.notes, decision.order_side) == (
            head.action,
            head.reason,
            head.notes,
            head.order_side,
        )
        return same and not any(
            _moved(before, after, self.tolerance)
            for before, after in (
                (head.target_base, decision.target_base),
                (head.hedge_base, decision.hedge_base),
                (head.band_base, decision.band_base),
            )
        )

    def keeps_decision(self, kept: KeptTick, decision: Decision, *, snapshot_kept: bool) -> bool:
        """Whether ``decision`` gets its own row: with a kept snapshot, when it trades, or
        when it is no repeat of the last run (:meth:`same_run`); otherwise it extends the
        run's row (``RecordStore.extend_decision_run``)."""
        head = kept.decision
        if snapshot_kept or head is None:
            return True
        return not self.same_run(head, decision)
