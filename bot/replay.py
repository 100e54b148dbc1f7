"""The PnL replay of the stored ticks, folded one snapshot at a time: bounded memory.

``hedgebot report``, ``status``, ``fleet status`` and the engine's start-up all need the
attribution of :mod:`bot.core.pnl` over every stored tick. :class:`ReplayFold` applies the
report's rules (``bot.report``) to one snapshot at a time: a fill belongs to the first
snapshot of its intent's block, else (like every funding payment) to the last snapshot
recorded at or before its venue time; a tick's mark is its decision's, else the pool price;
the opening hedge is the first decision of the first snapshot's block, else the fills before
the first snapshot. It keeps the state, the first and last point, and a bounded sample of
the series (:class:`PointSample`), never the whole history. Fills, funding and intents are
held whole: they grow with trades, not with ticks.

A fold stopped after a snapshot that is not the last is a :class:`ReplayCheckpoint`
(JSON-ready): resuming from it and folding the snapshots after it gives the same state as
folding everything (:mod:`bot.replay_store` checks that the records it covers are
unchanged before trusting it).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bot.core.pnl import (
    Attribution,
    observation_from_snapshot,
    signed_amount_base,
    step,
)
from bot.domain import ChainSnapshot, Fill, FundingPayment
from bot.report_model import PnlReport, PointSample, ReportPoint

__all__ = [
    "MAX_POINTS",
    "PnlReport",
    "PointSample",
    "ReplayCheckpoint",
    "ReplayFold",
    "ReplayInputs",
    "ReportPoint",
]

MAX_POINTS = 2000  # points a streamed report keeps for its chart (plus each UTC day's last)


@dataclass(frozen=True, slots=True)
class ReplayInputs:
    """What the fold needs besides the tick tables: the bot's own fills and the funding
    (each by venue time), each intent's block by client id, and the id of the first
    snapshot at each intent block that has one."""

    fills: Sequence[Fill]
    funding: Sequence[FundingPayment]
    intent_blocks: Mapping[str, int]
    first_snapshot_at: Mapping[int, int]

    def snapshot_of(self, fill: Fill) -> int | None:
        """The snapshot id a fill belongs to by its intent's block; None: by time."""
        block = self.intent_blocks.get(fill.client_order_id)
        return None if block is None else self.first_snapshot_at.get(block)

    def folded_digest(self, snapshot_id: int, boundary_ms: float) -> str:
        """A digest of the fills and funding a fold through ``snapshot_id`` has taken (or
        left before the window): by intent, up to that snapshot; by time, before
        ``boundary_ms`` (the next snapshot's record time)."""
        ids = []
        for fill in self.fills:
            sid = self.snapshot_of(fill)
            if (sid is not None and sid <= snapshot_id) or (
                sid is None and fill.timestamp < boundary_ms
            ):
                ids.append("f:" + fill.trade_id)
        ids += ["p:" + p.id for p in self.funding if p.timestamp < boundary_ms]
        return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ReplayCheckpoint:
    """A fold stopped after snapshot ``snapshot_id`` (``snapshots`` rows up to it), whose
    successor was recorded at ``boundary_ms``; ``decision_id`` is the last decision read
    and ``mark`` the mark of the snapshot's block; ``folded`` the digest of the fills and
    funding taken (:meth:`ReplayInputs.folded_digest`)."""

    snapshot_id: int
    snapshots: int
    boundary_ms: float
    decision_id: int
    block: int
    mark: Decimal | None
    folded: str
    state: Attribution
    first: ReportPoint
    last: ReportPoint
    ticks: int
    opening_hedge_base: Decimal
    fills_used: int
    funding_used: int
    notes: tuple[str, ...]


@dataclass(slots=True)
class _Pending:
    snapshot_id: int
    ts: float
    snapshot: ChainSnapshot
    mark: Decimal | None
    decision_id: int


@dataclass(slots=True)
class _Window:
    """What the window left out and what it noticed (the report's notes)."""

    prior_fills: int = 0
    early_funding: int = 0
    marks_missing: bool = False
    wallet_base: bool = False
    opening_note: str | None = None

    def notes(self) -> tuple[str, ...]:
        notes = ["gas not recorded (no on-chain actions yet)"]
        if self.marks_missing:
            notes.append("ticks without a recorded mark are valued at the pool price")
        if self.opening_note is not None:
            notes.append(self.opening_note)
        if self.prior_fills:
            notes.append(
                f"{self.prior_fills} fill(s) before the first snapshot left out of the window"
            )
        if self.early_funding:
            notes.append(
                f"{self.early_funding} funding payment(s) before the first snapshot left out"
            )
        if self.wallet_base:
            notes.append("base held outside the pools (wallet_base) is not attributed")
        return tuple(notes)


@dataclass(slots=True)
class _Progress:
    """The fold's running totals."""

    state: Attribution | None = None
    opening: Decimal = Decimal(0)
    first: ReportPoint | None = None
    last: ReportPoint | None = None
    ticks: int = 0
    fills_used: int = 0
    funding_used: int = 0
    cut: ReportPoint | None = None
    ticks_before_cut: int = 0
    extra_notes: tuple[str, ...] = field(default=())


class ReplayFold:
    """The report's replay, one snapshot at a time (pure: the caller reads the store).

    Feed snapshots in record order with :meth:`add` (the tick's mark and the hedge of the
    first decision at its block, when one was recorded), then :meth:`finish`. A snapshot
    is applied when its successor arrives (its time-assigned fills and funding end there).
    """

    def __init__(
        self,
        inputs: ReplayInputs,
        *,
        max_points: int | None = MAX_POINTS,
        cut_s: float | None = None,
        resume: ReplayCheckpoint | None = None,
    ) -> None:
        self._inputs = inputs
        self._cut_s = cut_s
        self._sample = PointSample(max_points)
        self._by_snapshot: dict[int, list[Fill]] = {}
        timed: list[Fill] = []
        after = -1 if resume is None else resume.snapshot_id
        boundary = None if resume is None else resume.boundary_ms
        for fill in inputs.fills:
            sid = inputs.snapshot_of(fill)
            if sid is None and (boundary is None or fill.timestamp >= boundary):
                timed.append(fill)
            elif sid is not None and sid > after:
                self._by_snapshot.setdefault(sid, []).append(fill)
        self._timed_fills = deque(sorted(timed, key=lambda f: (f.timestamp, f.trade_id)))
        self._funding = deque(
            sorted(
                (p for p in inputs.funding if boundary is None or p.timestamp >= boundary),
                key=lambda p: (p.timestamp, p.id),
            )
        )
        self._pending: _Pending | None = None
        self._window = _Window()
        self._progress = _Progress()
        self._checkpoint: ReplayCheckpoint | None = None
        if resume is not None:
            self._resume(resume)

    def _resume(self, checkpoint: ReplayCheckpoint) -> None:
        p = self._progress
        p.state, p.opening = checkpoint.state, checkpoint.opening_hedge_base
        p.first, p.last, p.ticks = checkpoint.first, checkpoint.last, checkpoint.ticks
        p.fills_used, p.funding_used = checkpoint.fills_used, checkpoint.funding_used
        p.extra_notes = checkpoint.notes
        self._sample.add(0, checkpoint.first)
        if checkpoint.ticks > 1:
            self._sample.add(checkpoint.ticks - 1, checkpoint.last)

    @property
    def checkpoint(self) -> ReplayCheckpoint | None:
        """The fold after the last applied snapshot (None before one was applied)."""
        return self._checkpoint

    def add(
        self,
        snapshot_id: int,
        ts: float,
        snapshot: ChainSnapshot,
        mark: Decimal | None,
        opening_hedge: Decimal | None = None,
        decision_id: int = 0,
    ) -> None:
        """Take the next stored snapshot (record time ``ts`` in seconds) with its block's
        mark; ``opening_hedge`` is read only for the very first snapshot of the history;
        ``decision_id`` is the last decision read when the mark was found."""
        if self._pending is not None:
            self._apply(ts * 1000.0)
        elif self._progress.state is None:
            self._open(ts * 1000.0, snapshot, opening_hedge)
        self._pending = _Pending(snapshot_id, ts, snapshot, mark, decision_id)

    def _open(self, first_ms: float, snapshot: ChainSnapshot, hedge: Decimal | None) -> None:
        prior = Decimal(0)
        while self._timed_fills and self._timed_fills[0].timestamp < first_ms:
            prior += signed_amount_base(self._timed_fills.popleft())
            self._window.prior_fills += 1
        while self._funding and self._funding[0].timestamp < first_ms:
            self._funding.popleft()
            self._window.early_funding += 1
        if hedge is None:
            hedge = prior
            self._window.opening_note = (
                f"no decision for block {snapshot.block_number}: opening hedge {prior} "
                "from earlier fills"
            )
        self._progress.opening = hedge
        self._progress.state = Attribution.opening(hedge)

    def _take_until(self, boundary_ms: float | None) -> tuple[list[Fill], list[FundingPayment]]:
        fills: list[Fill] = []
        funding: list[FundingPayment] = []
        while self._timed_fills and (
            boundary_ms is None or self._timed_fills[0].timestamp < boundary_ms
        ):
            fills.append(self._timed_fills.popleft())
        while self._funding and (boundary_ms is None or self._funding[0].timestamp < boundary_ms):
            funding.append(self._funding.popleft())
        return fills, funding

    def _apply(self, boundary_ms: float | None) -> None:
        tick, p = self._pending, self._progress
        assert tick is not None  # add() sets both
        assert p.state is not None
        timed, funding = self._take_until(boundary_ms)
        fills = sorted(
            [*self._by_snapshot.pop(tick.snapshot_id, ()), *timed],
            key=lambda f: (f.timestamp, f.trade_id),
        )
        snap = tick.snapshot
        self._window.marks_missing |= tick.mark is None
        self._window.wallet_base |= snap.wallet_base != 0
        obs = observation_from_snapshot(
            snap, tick.mark or snap.price, fills, funding, timestamp_s=tick.ts
        )
        p.state = step(p.state, obs)
        point = ReportPoint(
            timestamp_s=tick.ts,
            block=snap.block_number,
            price=snap.price,
            lp_value_quote=obs.lp_value_quote,
            fees_uncollected_quote=obs.fees_uncollected_quote,
            hedge_base=p.state.position_base,
            breakdown=p.state.breakdown(),
        )
        self._sample.add(p.ticks, point)
        p.first = p.first or point
        p.last = point
        p.ticks += 1
        p.fills_used += len(fills)
        p.funding_used += len(funding)
        if self._cut_s is not None and tick.ts < self._cut_s:
            p.cut, p.ticks_before_cut = point, p.ticks_before_cut + 1
        if boundary_ms is not None:
            self._checkpoint = self._make_checkpoint(tick, boundary_ms)

    def _make_checkpoint(self, tick: _Pending, boundary_ms: float) -> ReplayCheckpoint:
        p = self._progress
        assert p.state is not None  # _apply() sets them first
        assert p.first is not None
        assert p.last is not None
        return ReplayCheckpoint(
            snapshot_id=tick.snapshot_id,
            snapshots=0,  # the store's row count up to it: bot.replay_store sets it
            boundary_ms=boundary_ms,
            decision_id=tick.decision_id,
            block=tick.snapshot.block_number,
            mark=tick.mark,
            folded=self._inputs.folded_digest(tick.snapshot_id, boundary_ms),
            state=p.state,
            first=p.first,
            last=p.last,
            ticks=p.ticks,
            opening_hedge_base=p.opening,
            fills_used=p.fills_used,
            funding_used=p.funding_used,
            notes=self.notes(),
        )

    def notes(self) -> tuple[str, ...]:
        """What the replay could not attribute so far, said rather than guessed."""
        mine = self._window.notes()
        return (*mine, *(n for n in self._progress.extra_notes if n not in mine))

    def finish(self) -> PnlReport | None:
        """Apply the last snapshot and return the report; None when none was added."""
        if self._pending is not None:
            self._apply(None)
            self._pending = None
        p = self._progress
        if p.state is None or p.last is None:
            return None
        return PnlReport(
            points=self._sample.points(),
            opening_hedge_base=p.opening,
            fills_used=p.fills_used,
            funding_used=p.funding_used,
            notes=self.notes(),
            final_state=p.state,
            ticks=p.ticks,
            cut=p.cut,
            ticks_before_cut=p.ticks_before_cut,
        )


def fold_lists(
    snapshots: Iterable[tuple[float, ChainSnapshot]],
    marks: Mapping[int, Decimal],
    opening_hedges: Mapping[int, Decimal],
    inputs: ReplayInputs,
) -> PnlReport | None:
    """Fold in-memory records (snapshot ids are their 0-based positions): every point kept."""
    fold = ReplayFold(inputs, max_points=None)
    for index, (ts, snap) in enumerate(snapshots):
        block = snap.block_number
        fold.add(index, ts, snap, marks.get(block), opening_hedges.get(block))
    return fold.finish()
