"""``hedgebot store compact``: thin old snapshots to the retention interval, losing no PnL.

Only snapshots are ever removed. Those recorded within ``store.retention.full_days`` of the
newest one stay; older ones are thinned to the first of each ``retention.interval_s``
bucket. Whatever the bucket, a snapshot the PnL replay (``bot.report``) needs is kept: the
first and the last, the one at each intent's block, and the last one at or before each fill
and funding payment, so the replay attributes every record to the same snapshot and mark as
before. Between kept snapshots the perp position then does not change, so the hedge's
mark-to-market telescopes and every other part depends only on the end points
(``bot.core.pnl``): the totals are unchanged to the last digit. That is checked, not
assumed: the replay runs over the full and the thinned history, and a difference removes
nothing (``StoreError``).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.display import json_decimal
from bot.errors import StoreError
from bot.instance_lock import InstanceLock, lock_path_for
from bot.report import PnlReport, build_report
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


def _totals(report: PnlReport | None) -> dict[str, Any]:
    """What compaction must not change: every PnL part, the hedge and the records used."""
    if report is None:
        return {}
    parts = {k: json_decimal(v) for k, v in report.final.as_dict().items()}
    return {
        **parts,
        "hedge_base": json_decimal(report.points[-1].hedge_base),
        "opening_hedge_base": json_decimal(report.opening_hedge_base),
        "fills": report.fills_used,
        "funding_payments": report.funding_used,
    }


async def compact(
    store: RecordStore, retention: RetentionConfig, *, dry_run: bool = False
) -> CompactResult:
    """Thin ``store``'s old snapshots (module docstring). Raises ``StoreError`` when the
    store cannot be read or written, or when the thinned history would change the report's
    totals (then nothing is removed)."""
    index = await store.snapshot_index()
    fills, funding = await store.read_fills(), await store.read_funding()
    intent_blocks = await store.intent_blocks()
    times = [f.timestamp for f in fills] + [p.timestamp for p in funding]
    remove = thinned(index, retention, _protected(index, intent_blocks.values(), times))
    cutoff = index[-1][1] - retention.full_days * _DAY_S if index else None
    result = CompactResult(len(index), len(index) - len(remove), len(remove), cutoff, dry_run)
    if not remove:
        return result
    snapshots, decisions = await store.read_snapshots(), await store.read_decisions()
    gone = set(remove)
    snapshots = snapshots[: len(index)]  # append-only: rows recorded since are after these
    kept_snapshots = [
        s for (row_id, _, _), s in zip(index, snapshots, strict=True) if row_id not in gone
    ]
    before = _totals(build_report(snapshots, decisions, fills, funding, intent_blocks))
    after = _totals(build_report(kept_snapshots, decisions, fills, funding, intent_blocks))
    if before != after:
        changed = sorted(k for k in before if before[k] != after.get(k))
        raise StoreError(
            f"compaction would change the PnL report ({', '.join(changed)}): nothing removed"
        )
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
        store = await open_store(settings)
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
        "store.retention.interval_s; the PnL report's totals stay exactly the same",
    )
    p.add_argument("--config", required=True, help="the YAML config whose store is compacted")
    p.add_argument(
        "--dry-run", action="store_true", help="say what would be removed; remove nothing"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_command)
