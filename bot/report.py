"""``hedgebot report``: PnL attribution rebuilt from the store, as a table, JSON and a chart.

The store keeps chain snapshots, decisions, intents, fills and funding, but no perp mark, no
gas and no fee collections, so the report values the hedge at the pool price of each
snapshot (slippage is then measured against the pool price) and counts gas and collected
fees as zero. Fills belong to the tick whose intent created them (intent block), else to the
last snapshot recorded at or before the fill time; funding goes by time. Fills and funding
from before the first snapshot are outside the window (the opening hedge is the first
decision's ``hedge_base``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import Settings, load_config
from bot.display import COSTS_NOTE, fmt_base, fmt_price, fmt_quote
from bot.domain import ChainSnapshot, Decision, Fill, FundingPayment
from bot.replay import PnlReport, ReplayInputs, ReportPoint, fold_lists
from bot.report_chart import plot_report
from bot.store import RecordStore, open_store

__all__ = [
    "PnlReport",
    "ReportPoint",
    "add_subcommand",
    "build_report",
    "load_report",
    "plot_report",
    "run_report",
]

EXIT_OK = 0
EXIT_NO_DATA = 1


def build_report(
    snapshots: Sequence[tuple[float, ChainSnapshot]],
    decisions: Sequence[tuple[float, int, Decision]],
    fills: Sequence[Fill],
    funding: Sequence[FundingPayment],
    intent_blocks: dict[str, int],
) -> PnlReport:
    """Replay the attribution over in-memory records (every point kept; the same fold as
    :func:`load_report`, :class:`bot.replay.ReplayFold`); ``snapshots`` must not be empty.
    ``fills`` are the ones that count."""
    if not snapshots:
        raise ValueError("no snapshots to report on")
    first_at: dict[int, int] = {}
    for i, (_, snap) in enumerate(snapshots):
        first_at.setdefault(snap.block_number, i)
    marks = {block: d.mark_price for _, block, d in decisions if d.mark_price is not None}
    openings: dict[int, Decimal] = {}
    for _, block, decision in decisions:
        openings.setdefault(block, decision.hedge_base)
    inputs = ReplayInputs(fills, funding, intent_blocks, first_at)
    report = fold_lists(snapshots, marks, openings, inputs)
    assert report is not None  # snapshots is not empty
    return report


async def load_report(store: RecordStore, *, cut_s: float | None = None) -> PnlReport | None:
    """The report over everything in ``store``, streamed a page of rows at a time (memory
    bounded whatever the history: ``points`` is a sample with the first and last tick and
    each UTC day's last; ``cut`` the last tick before ``cut_s``); None when it holds no
    snapshot. The fills it counts are ``bot.replay_store.replay_inputs``'s."""
    from bot.replay_store import stream_report

    return await stream_report(store, cut_s=cut_s)


# --- output -------------------------------------------------------------------------------

REPORT_WIDTH = 80


def print_table(report: PnlReport, console: Any = None, decisions: int | None = None) -> None:
    """Cumulative parts as a table in 80 columns, quote amounts to cents; every part is shown
    as its signed contribution to net PnL (costs negative, ``bot.display.COSTS_NOTE``);
    ``decisions``: how many decisions the store accounts for (a run of quiet repeats counts
    as its length, ``bot.store.decision_runs``), shown when given."""
    from rich.console import Console

    from bot.pnl_table import pnl_table

    first, last = report.points[0], report.points[-1]
    final = report.final
    title = f"hedgebot PnL attribution, blocks {first.block}..{last.block}"
    table = pnl_table(title, final.as_dict(), final.net_pnl_quote)
    table.add_section()
    table.add_row("ticks (stored)", str(report.ticks or len(report.points)))
    if decisions is not None:
        table.add_row("decisions", f"{decisions:,}")
    table.add_row("time (UTC)", f"{_utc(first.timestamp_s)} -> {_utc(last.timestamp_s)}")
    table.add_row("price", f"{fmt_price(first.price)} -> {fmt_price(last.price)}")
    table.add_row(
        "LP value", f"{fmt_quote(first.lp_value_quote)} -> {fmt_quote(last.lp_value_quote)}"
    )
    table.add_row(
        "hedge (base)", f"{fmt_base(report.opening_hedge_base)} -> {fmt_base(last.hedge_base)}"
    )
    table.add_row("hedge realised (venue)", fmt_quote(final.hedge_realized_quote))
    console = console or Console(width=min(REPORT_WIDTH, Console().width))
    console.print(table)
    console.print(f"note: {COSTS_NOTE}")
    for note in report.notes:
        console.print(f"note: {note}")


def _utc(timestamp_s: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp_s, UTC).strftime("%Y-%m-%d %H:%M")
    except (ValueError, OverflowError, OSError):
        return "?"


async def _read(settings: Settings) -> tuple[PnlReport | None, int]:
    """The report and the number of decisions the store accounts for (an aggregate)."""
    store = await open_store(settings, read_only=True)  # a report writes nothing
    try:
        return await load_report(store), await store.decision_total()
    finally:
        await store.close()


def run_report(config: Path, out: Path | None = None, as_json: bool = False) -> int:
    """Build, print and optionally plot the report of the store named in ``config``."""
    settings = load_config(config, require_secrets=False)  # reads the store only
    path = settings.store.path
    if settings.store.url is None and not path.is_file():
        print(f"report: no store at {path}: nothing to report", file=sys.stderr)  # noqa: T201
        return EXIT_NO_DATA
    report, decisions = asyncio.run(_read(settings))
    if report is None:
        print(f"report: store {path} has no snapshots yet: nothing to report", file=sys.stderr)  # noqa: T201
        return EXIT_NO_DATA
    if out is not None:
        plot_report(report, out)
    if as_json:
        print(json.dumps({**report.summary(), "decisions": decisions}))  # noqa: T201
    else:
        print_table(report, decisions=decisions)
        if out is not None:
            print(f"chart: {out}")  # noqa: T201
    return EXIT_OK


def _command(args: argparse.Namespace) -> int:
    if args.fleet_store is not None:
        from bot.fleet_report import run_fleet_report

        return run_fleet_report(
            args.fleet_store,
            schema=args.pg_schema,
            bots=args.bot or (),
            since=args.since,
            as_json=args.json,
        )
    if args.config is None:
        print("report: give --config F (one bot) or --store-url URL (a fleet)", file=sys.stderr)  # noqa: T201
        return 2
    out: Path | None = None
    if not args.no_chart:
        out = (
            Path(args.out)
            if args.out
            else load_config(Path(args.config), require_secrets=False).store.path.with_name(
                "report.png"
            )
        )
    return run_report(Path(args.config), out, as_json=args.json)


def add_subcommand(subparsers: Any) -> None:
    """Register ``report`` on an argparse subparsers object; sets ``args.func``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="PnL attribution from the store: table, JSON, chart"
    )
    p.add_argument("--config", help="the YAML config whose store is reported (one bot)")
    p.add_argument(
        "--store-url",
        dest="fleet_store",  # checked by StoreConfig (postgresql://, no password), not as a web URL
        metavar="URL",
        default=None,
        help="a fleet's PostgreSQL store (postgresql://user@host:port/db, password from env): "
        "each bot's PnL and the total (default: none, report --config's bot)",
    )
    p.add_argument(
        "--bot",
        action="append",
        metavar="ID",
        help="with --store-url: report this bot (repeat; default: every bot in the store)",
    )
    p.add_argument(
        "--since",
        metavar="WHEN",
        default=None,
        help="with --store-url: PnL from this UTC date/time or epoch seconds on "
        "(default: since each bot's first tick), measured from each bot's last stored tick "
        "before it, which the output names (since_baseline in --json): store compact keeps "
        "each UTC day's last tick, so a UTC day start (2026-11-29) reports the same figures "
        "before and after compaction",
    )
    p.add_argument(
        "--pg-schema",
        default="public",
        help="with --store-url: the schema of the tables (default: public)",
    )
    p.add_argument(
        "--out",
        metavar="FILE.png",
        default=None,
        help="chart path (default: report.png beside the store)",
    )
    p.add_argument("--no-chart", action="store_true", help="print only, write no PNG")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_command)
