"""Every decision in the audit trail at a small cost: runs of quiet repeats.

A decision row (``decisions``) is the head of a run: the decision itself, its block and
record time, plus ``last_block``, ``last_ts`` and ``run_count`` (schema version 3). A quiet
tick whose decision repeats the head within the snapshot policy's tolerance
(:meth:`bot.store.snapshot_policy.SnapshotPolicy.same_run`) extends the newest row instead
of adding one: the run then stands for ``run_count`` decisions, taken at ``block`` ..
``last_block``. A row from before version 3 (``last_block`` NULL) is a run of one.

Readers count a run as that many decisions (:meth:`DecisionRunRecords.decision_total`,
:meth:`DecisionRunRecords.read_decision_runs`); ``read_decisions`` still lists one entry per
row (the run's head), which is what the PnL replay needs (a kept snapshot always has its
own decision row at its block).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.domain import ChainSnapshot, Decision
from bot.errors import StoreError
from bot.records import decision_from
from bot.store.snapshot_policy import KeptTick

if TYPE_CHECKING:
    from bot.store.base import RecordStore

__all__ = [
    "RUNS_POSTGRESQL",
    "RUNS_SQLITE",
    "DecisionRun",
    "DecisionRunRecords",
    "KeptRows",
    "keep_tick",
]

# Schema version 3 (bot.store.migrations): constant defaults only, so adding the columns
# rewrites no row on either backend (SQLite's ADD COLUMN, PostgreSQL 11+'s fast default).
RUNS_SQLITE = """
ALTER TABLE decisions ADD COLUMN last_block INTEGER;
ALTER TABLE decisions ADD COLUMN last_ts REAL;
ALTER TABLE decisions ADD COLUMN run_count INTEGER NOT NULL DEFAULT 1
"""

RUNS_POSTGRESQL = """
ALTER TABLE decisions ADD COLUMN IF NOT EXISTS last_block BIGINT,
  ADD COLUMN IF NOT EXISTS last_ts DOUBLE PRECISION,
  ADD COLUMN IF NOT EXISTS run_count BIGINT NOT NULL DEFAULT 1
"""

_RUN_COLUMNS = (
    "ts, block, COALESCE(last_ts, ts), COALESCE(last_block, block), run_count, body FROM decisions"
)


@dataclass(frozen=True, slots=True)
class DecisionRun:
    """One decision row: ``decision`` taken at ``first_block`` (record time ``first_ts``,
    seconds) and repeated by quiet ticks through ``last_block`` (``last_ts``): ``count``
    decisions in all (1: no repeat)."""

    first_ts: float
    first_block: int
    last_ts: float
    last_block: int
    count: int
    decision: Decision


def _run_from(row: tuple[Any, ...]) -> DecisionRun:
    return DecisionRun(
        float(row[0]),
        int(row[1]),
        float(row[2]),
        int(row[3]),
        int(row[4]),
        decision_from(json.loads(row[5])),
    )


class DecisionRunRecords(ABC):
    """Writes and reads of decision runs, through the backend's ``_execute``/``_fetch``."""

    @abstractmethod
    async def _execute(self, template: str, **values: Any) -> int:
        """One statement of a dialect template; rows changed."""

    @abstractmethod
    async def _fetch(self, template: str, **values: Any) -> list[tuple[Any, ...]]:
        """Every row of one dialect template."""

    async def extend_decision_run(self, ts: float, block: int) -> None:
        """Count one more decision in the newest decision row: a quiet repeat at ``block``
        (record time ``ts``, seconds). Raises ``StoreError`` when there is no row to extend
        (the caller writes a run's head first) or the store cannot be written."""
        changed = await self._execute(
            "UPDATE decisions SET last_block = :block, last_ts = :ts, "
            "run_count = run_count + 1 WHERE {bot_is}id = "
            "(SELECT MAX(id) FROM decisions WHERE {bot_is}1 = 1)",
            block=block,
            ts=ts,
        )
        if changed != 1:
            raise StoreError("no decision row to extend: a run starts with its own row")

    async def read_decision_runs(self, since_ts: float | None = None) -> list[DecisionRun]:
        """The decision rows as runs, oldest first; ``since_ts``: only runs whose last
        decision is at or after that record time (seconds)."""
        if since_ts is None:
            rows = await self._fetch("SELECT " + _RUN_COLUMNS + " WHERE {bot_is}1 = 1 ORDER BY id")
        else:
            rows = await self._fetch(
                "SELECT " + _RUN_COLUMNS + " WHERE {bot_is}COALESCE(last_ts, ts) >= :since "
                "ORDER BY id",
                since=since_ts,
            )
        return [_run_from(row) for row in rows]

    async def last_decision_run(self) -> DecisionRun | None:
        """The newest decision row as a run (its last tick is the bot's last decision);
        None: no decision yet."""
        rows = await self._fetch(
            "SELECT " + _RUN_COLUMNS + " WHERE {bot_is}1 = 1 ORDER BY id DESC LIMIT 1"
        )
        return _run_from(rows[0]) if rows else None

    async def decision_total(self) -> int:
        """How many decisions the store accounts for: every run counted as its length (an
        aggregate; rows are fewer when quiet holds repeat)."""
        rows = await self._fetch(
            "SELECT COALESCE(SUM(run_count), 0) FROM decisions WHERE {bot_is}1 = 1"
        )
        return int(rows[0][0]) if rows else 0


@dataclass(frozen=True, slots=True)
class KeptRows:
    """What one tick wrote: ``kept`` (the policy's new comparison base), whether its
    snapshot got a row, and its decision's row: ``new`` or ``extend`` (a quiet repeat)."""

    kept: KeptTick
    snapshot_kept: bool
    decision_row: str


async def keep_tick(
    store: RecordStore,
    kept: KeptTick,
    now_s: float,
    block: int,
    snapshot: ChainSnapshot,
    decision: Decision,
    *,
    traded: bool,
) -> KeptRows:
    """Write one tick's snapshot and decision as ``store.snapshot_policy`` keeps them (in
    the caller's transaction): the snapshot when the policy keeps it; the decision as a new
    row, or as one more repeat of the last run. ``kept`` is the base the policy compares
    with (the last call's ``KeptRows.kept``; ``KeptTick()`` at start, so a restarted engine
    opens a new run). Raises ``StoreError`` when the store cannot be written."""
    policy = store.snapshot_policy
    reason = policy.snapshot_reason(kept, snapshot, now_s, traded=traded)
    if reason is not None:
        await store.record_snapshot(now_s, snapshot)
        kept = KeptTick(snapshot, now_s, kept.decision)
    if policy.keeps_decision(kept, decision, snapshot_kept=reason is not None):
        await store.record_decision(now_s, block, decision)
        return KeptRows(
            KeptTick(kept.snapshot, kept.recorded_s, decision), reason is not None, "new"
        )
    await store.extend_decision_run(now_s, block)
    return KeptRows(kept, reason is not None, "extend")
