"""``hedgebot store compact``: thin old snapshots to the retention interval, losing no PnL.

Only snapshots are ever removed. Those recorded within ``store.retention.full_days`` of the
newest one stay; older ones are thinned to the first of each ``retention.interval_s``
bucket. Whatever the bucket, a snapshot the PnL replay (``bot.report``) needs is kept: the
first and the last, the one at each intent's block, and the last one at or before each fill
and funding payment, so the replay attributes every record to the same snapshot and mark as
before. Between kept snapshots the perp position then does not change, so the hedge's
mark-to-market telescopes and every other part depends only on the end points
(``bot.core.pnl``): the totals are unchanged to the last digit. Each UTC day's last
snapshot is kept too: it is the baseline of ``report --since`` at the next day's start
(00:00 UTC, so every week's and month's start as well), whose window is then unchanged to
the last digit as well. Both are checked, not assumed: the replay runs (streamed, a page
of rows at a time) over the full and the thinned history, and a difference in the totals
or in any day's baseline removes nothing (``StoreError``).

``--dry-run`` opens the store read-only (no lock, no schema created or migrated) and says
what a real run would remove; a real run takes the bot's lock like the daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import json
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.display import json_decimal
from bot.errors import StoreError
from bot.instance_lock import InstanceLock, lock_path_for
from bot.replay_store import stream_report
from bot.report import PnlReport
from bot.store.base import RecordStore
from bot.store.settings import RetentionConfig

__all__ = ["CompactResult", "add_subcommand", "compact", "thinned"]

_DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class CompactResult:
    """What a compaction removed (or, with ``dry_run``, would remove)."""

    snapshots: int  # stored before
    kept: int
    removed: int
    cutoff_s: float | None  # snapshots recorded before this time were thinned (None: none)
    dry_run: bool


def thinned(
    index: Sequence[tuple[int, float, int]],
    retention: RetentionConfig,
    protected: Iterable[int],
) -> list[int]:
    """Row ids to remove from ``index`` ((id, record time s, block), oldest first): those
    older than ``retention.full_days`` before the newest, except the first of each
    ``retention.interval_s`` bucket and the ``protected`` ids."""
    if not index:
        return []
    cutoff = max(ts for _, ts, _ in index) - retention.full_days * _DAY_S
    keep = set(protected) | {index[0][0], index[-1][0]}
    seen_buckets: set[int] = set()
    remove = []
    for row_id, ts, _ in index:
        if ts >= cutoff:
            continue
        bucket = math.floor(ts / retention.interval_s)
        if bucket not in seen_buckets:
            seen_buckets.add(bucket)
            continue
        if row_id not in keep:
            remove.append(row_id)
    return remove


def _protected(
    index: Sequence[tuple[int, float, int]], intent_blocks: Iterable[int], times_ms: Iterable[int]
) -> set[int]:
    """Snapshots the replay attributes records to: the first at each intent's block, and
    the last recorded at or before each fill's and funding payment's venue time."""
    first_at: dict[int, int] = {}
    for row_id, _, block in index:
        first_at.setdefault(block, row_id)
    kept = {first_at[b] for b in intent_blocks if b in first_at}
    record_ms = [ts * 1000.0 for _, ts, _ in index]
    for t in times_ms:
        i = bisect.bisect_right(record_ms, float(t)) - 1
        if i >= 0:
            kept.add(index[i][0])
    return kept


def _day_ends(index: Sequence[tuple[int, float, int]]) -> set[int]:
    """Each UTC day's last snapshot (the last one of the history included): the baseline
    of ``report --since`` at the next day's 00:00 UTC (the last tick recorded before it)."""
    ends = set()
    for (row_id, ts, _), (_, next_ts, _) in itertools.pairwise(index):
        if math.floor(ts / _DAY_S) != math.floor(next_ts / _DAY_S):
            ends.add(row_id)
    if index:
        ends.add(index[-1][0])
    return ends


def _utc_day(timestamp_s: float) -> str:
    return datetime.fromtimestamp(timestamp_s, UTC).strftime("%Y-%m-%d")


def _invariants(report: PnlReport | None) -> dict[str, Any]:
    """What compaction must not change: every PnL part, the hedge and the records used, and
    the baseline of ``report --since`` at each UTC day start (``since <day>``: the block,
    time and cumulative parts of the last tick before it; the sample keeps each day's last
    point, ``bot.report_model.PointSample``)."""
    if report is None:
        return {}
    parts = {k: json_decimal(v) for k, v in report.final.as_dict().items()}
    checked: dict[str, Any] = {
        **parts,
        "hedge_base": json_decimal(report.points[-1].hedge_base),
        "opening_hedge_base": json_decimal(report.opening_hedge_base),
        "fills": report.fills_used,
        "funding_payments": report.funding_used,
    }
    for point, successor in itertools.pairwise(report.points):
        following = math.floor(point.timestamp_s / _DAY_S) + 1
        if math.floor(successor.timestamp_s / _DAY_S) >= following:
            breakdown = {k: json_decimal(v) for k, v in point.breakdown.as_dict().items()}
            since = _utc_day(following * _DAY_S)
            checked[f"since {since}"] = (point.block, point.timestamp_s, breakdown)
    return checked


async def _check_unchanged(store: RecordStore, through_id: int, gone: Collection[int]) -> None:
    """Replay the history through row ``through_id`` with and without ``gone``; StoreError
    naming what would differ (at most five items) when anything in :func:`_invariants` does."""
    before = _invariants(await stream_report(store, through_id=through_id))
    after = _invariants(await stream_report(store, through_id=through_id, leave_out=gone))
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        raise StoreError(
            f"compaction would change the PnL report ({', '.join(changed[:5])}{more}): "
            "nothing removed"
        )


async def compact(
    store: RecordStore, retention: RetentionConfig, *, dry_run: bool = False
) -> CompactResult:
    """Thin ``store``'s old snapshots (module docstring); with ``dry_run`` only count them
    (the store may be read-only). Memory: the snapshot index (row id, time, block per row),
    the fills and funding, and a page of rows. Raises ``StoreError`` when the store cannot
    be read or written, or when the thinned history would change the report's totals or a
    UTC day's ``--since`` baseline (then nothing is removed)."""
    index = await store.snapshot_index()
    fills, funding = await store.read_fills(), await store.read_funding()
    intent_blocks = await store.intent_blocks()
    times = [f.timestamp for f in fills] + [p.timestamp for p in funding]
    protected = _protected(index, intent_blocks.values(), times) | _day_ends(index)
    remove = thinned(index, retention, protected)
    cutoff = index[-1][1] - retention.full_days * _DAY_S if index else None
    result = CompactResult(len(index), len(index) - len(remove), len(remove), cutoff, dry_run)
    if not remove:
        return result
    # rows recorded since the index was read (a daemon beside a dry run) are left out of both
    await _check_unchanged(store, index[-1][0], frozenset(remove))
    if not dry_run:
        await store.delete_snapshots(remove)
    return result


# --- command line --------------------------------------------------------------------------


async def _run(config: Path, *, dry_run: bool) -> CompactResult:
    from bot.config import load_config
    from bot.store import open_store

    settings = load_config(config, require_secrets=False)
    if settings.store.url is None and not settings.store.path.is_file():
        raise StoreError(f"no store at {settings.store.path}: nothing to compact")
    with contextlib.ExitStack() as held:
        if settings.store.url is None and not dry_run:  # PostgreSQL: the store's own lock
            path = settings.store.path  # the daemon's lock on it: never beside a live bot
            what = f"store {path} (store compact)"
            held.enter_context(
                InstanceLock.acquire(lock_path_for(path), settings.bot_id, what, str(config))
            )
        # a dry run only reads: no lock, and a store without this hedgebot's schema version
        # is one line (StoreError), never created or migrated
        if settings.store.url is not None and not dry_run:  # an empty schema: refused, as a
            await (await open_store(settings, read_only=True)).close()  # missing SQLite file
        store = await open_store(settings, read_only=dry_run)
        try:
            return await compact(store, settings.store.retention, dry_run=dry_run)
        finally:
            await store.close()


def _command(args: argparse.Namespace) -> int:
    result = asyncio.run(_run(Path(args.config), dry_run=args.dry_run))
    if args.json:
        print(json.dumps(asdict(result)))  # noqa: T201
        return 0
    verb = "would remove" if result.dry_run else "removed"
    print(  # noqa: T201
        f"store compact: {result.snapshots} snapshots, {verb} {result.removed}, "
        f"kept {result.kept}; decisions, intents, orders, fills, funding, commands and "
        "events untouched"
    )
    return 0


def add_subcommand(subparsers: Any) -> None:
    """Register ``store compact`` on an argparse subparsers object; sets ``args.func``."""
    store = subparsers.add_parser("store", help="maintain the store (compact old snapshots)")
    actions = store.add_subparsers(dest="store_action", required=True)
    p: argparse.ArgumentParser = actions.add_parser(
        "compact",
        help="thin snapshots older than store.retention.full_days to one per "
        "store.retention.interval_s, keeping each UTC day's last: the PnL report's totals "
        "and report --since at a UTC day start stay exactly the same; takes the bot's lock "
        "(stop the daemon first)",
    )
    p.add_argument("--config", required=True, help="the YAML config whose store is compacted")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would be removed; remove nothing (read-only: no lock, beside a running "
        "daemon too; no schema created or migrated)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_command)
