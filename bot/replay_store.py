"""The PnL replay read from a store in pages, and its checkpoint kept in the store's meta.

:func:`stream_report` folds every stored snapshot through :class:`bot.replay.ReplayFold`,
reading snapshots and decisions ``page_rows`` at a time by row id (keyset paging): memory
stays bounded whatever the history's length. :func:`resume_report` starts from the
checkpoint the engine keeps (:data:`MetaKey.PNL_CHECKPOINT`) and folds only the snapshots
after it, once the checkpoint is shown to still describe the store: the same number of
snapshots up to it (``store compact`` removes some), the same successor, and the same fills
and funding before it (a fill recorded late for an old tick); else it folds from the first
snapshot. Either way the result equals the full replay's state.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Collection
from dataclasses import replace
from decimal import Decimal

import structlog

from bot.domain import Decision
from bot.records import decode, to_json
from bot.replay import MAX_POINTS, PnlReport, ReplayCheckpoint, ReplayFold, ReplayInputs
from bot.store.base import RecordStore
from bot.store.meta import MetaKey

__all__ = [
    "PAGE_ROWS",
    "replay_inputs",
    "resume_report",
    "save_checkpoint",
    "stream_report",
]

log = structlog.get_logger("hedgebot.replay")

PAGE_ROWS = 1000  # snapshots (and decisions) read per query


async def replay_inputs(store: RecordStore) -> ReplayInputs:
    """The stored fills (the report's fill query), the funding, the intents' blocks and
    the first snapshots at those blocks."""
    intent_blocks = await store.intent_blocks()
    return ReplayInputs(
        fills=await store.read_fills(own=True),  # someone else's fills are no PnL of ours
        funding=await store.read_funding(),
        intent_blocks=intent_blocks,
        first_snapshot_at=await store.first_snapshot_at_intent_blocks(),
    )


class _Decisions:
    """A cursor over the decisions by row id: the marks and first hedges of the blocks up
    to the current snapshot's (older blocks are dropped)."""

    def __init__(self, store: RecordStore, after_id: int, page_rows: int) -> None:
        self._store = store
        self._read_after = after_id
        self._page_rows = page_rows
        self._buffer: deque[tuple[int, int, Decision]] = deque()
        self._done = False
        self.position = after_id  # the last decision taken
        self.marks: dict[int, Decimal] = {}
        self.openings: dict[int, Decimal] = {}

    async def upto(self, block: int) -> None:
        """Take every decision (in row order) until the first of a later block."""
        for seen in [b for b in self.marks if b < block]:
            del self.marks[seen]
        for seen in [b for b in self.openings if b < block]:
            del self.openings[seen]
        while True:
            if not self._buffer:
                if self._done:
                    return
                page = await self._store.decision_page(self._read_after, self._page_rows)
                self._done = len(page) < self._page_rows
                if not page:
                    return
                self._read_after = page[-1][0]
                self._buffer.extend(page)
            row_id, row_block, decision = self._buffer[0]
            if row_block > block:
                return
            self._buffer.popleft()
            self.position = row_id
            if decision.mark_price is not None:
                self.marks[row_block] = decision.mark_price
            self.openings.setdefault(row_block, decision.hedge_base)


async def _feed(
    store: RecordStore,
    fold: ReplayFold,
    after_id: int,
    decisions: _Decisions,
    page_rows: int,
    *,
    leave_out: Collection[int] = frozenset(),
    through_id: int | None = None,
) -> None:
    """Every snapshot after row id ``after_id`` (through ``through_id``; None: the last)
    into ``fold``, a page at a time, except the row ids in ``leave_out``."""
    while True:
        page = await store.snapshot_page(after_id, page_rows)
        for row_id, ts, snapshot in page:
            if through_id is not None and row_id > through_id:
                return
            if row_id in leave_out:
                continue
            block = snapshot.block_number
            await decisions.upto(block)
            fold.add(
                row_id,
                ts,
                snapshot,
                decisions.marks.get(block),
                decisions.openings.get(block),
                decisions.position,
            )
        if len(page) < page_rows:
            return
        after_id = page[-1][0]


async def stream_report(
    store: RecordStore,
    *,
    max_points: int | None = MAX_POINTS,
    cut_s: float | None = None,
    page_rows: int = PAGE_ROWS,
    leave_out: Collection[int] = frozenset(),
    through_id: int | None = None,
) -> PnlReport | None:
    """The report over every stored snapshot, streamed (``points`` a sample of at most
    about ``max_points`` plus each UTC day's last; ``cut`` the last tick before ``cut_s``);
    None when the store holds no snapshot. ``leave_out`` (row ids) and ``through_id`` (the
    last row id taken) replay a history without some snapshots, as ``store compact`` would
    leave it, without removing them. ``StoreError`` when the store cannot be read."""
    fold = ReplayFold(await replay_inputs(store), max_points=max_points, cut_s=cut_s)
    decisions = _Decisions(store, 0, page_rows)
    await _feed(store, fold, 0, decisions, page_rows, leave_out=leave_out, through_id=through_id)
    return fold.finish()


async def _valid_checkpoint(store: RecordStore, inputs: ReplayInputs) -> ReplayCheckpoint | None:
    """The stored checkpoint when the records it covers are unchanged, else None."""
    text = await store.get_meta(MetaKey.PNL_CHECKPOINT)
    if text is None:
        return None
    try:
        checkpoint = decode(ReplayCheckpoint, json.loads(text))
    except ValueError as exc:  # a record of an older shape or a damaged one: fold it all
        log.warning("replay.checkpoint_unreadable", error=str(exc)[:200])
        return None
    reason = None
    if await store.snapshots_through(checkpoint.snapshot_id) != checkpoint.snapshots:
        reason = "snapshots removed"
    else:
        successor = await store.next_snapshot_time(checkpoint.snapshot_id)
        if successor is None or successor * 1000.0 != checkpoint.boundary_ms:
            reason = "next snapshot changed"
        elif inputs.folded_digest(checkpoint.snapshot_id, checkpoint.boundary_ms) != (
            checkpoint.folded
        ):
            reason = "fills or funding recorded for folded ticks"
    if reason is not None:
        log.info("replay.checkpoint_stale", reason=reason, snapshot_id=checkpoint.snapshot_id)
        return None
    return checkpoint


async def resume_report(
    store: RecordStore, *, page_rows: int = PAGE_ROWS
) -> tuple[PnlReport | None, ReplayCheckpoint | None]:
    """(the report's final state, first and last tick; the checkpoint to keep now): from
    the stored checkpoint when it holds, else from the first snapshot. Reads the snapshots
    after the checkpoint only, a page at a time; the report's ``points`` are its first and
    last tick. ``StoreError`` when the store cannot be read."""
    inputs = await replay_inputs(store)
    checkpoint = await _valid_checkpoint(store, inputs)
    fold = ReplayFold(inputs, max_points=2, resume=checkpoint)
    decisions = _Decisions(store, 0 if checkpoint is None else checkpoint.decision_id, page_rows)
    if checkpoint is not None and checkpoint.mark is not None:
        decisions.marks[checkpoint.block] = checkpoint.mark
    after = 0 if checkpoint is None else checkpoint.snapshot_id
    await _feed(store, fold, after, decisions, page_rows)
    report = fold.finish()
    kept = fold.checkpoint
    if kept is not None:
        kept = replace(kept, snapshots=await store.snapshots_through(kept.snapshot_id))
    return report, kept


async def save_checkpoint(store: RecordStore, checkpoint: ReplayCheckpoint) -> None:
    """Keep ``checkpoint`` in the store's meta (one row, replaced)."""
    await store.set_meta(MetaKey.PNL_CHECKPOINT, to_json(checkpoint))
