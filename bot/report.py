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
import bisect
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import Settings, load_config
from bot.core.pnl import (
    Attribution,
    PnlBreakdown,
    observation_from_snapshot,
    signed_amount_base,
    step,
)
from bot.display import COSTS_NOTE, fmt_base, fmt_price, fmt_quote, json_decimal
from bot.domain import ChainSnapshot, Decision, Fill, FundingPayment
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


@dataclass(frozen=True, slots=True)
class ReportPoint:
    """One tick of the rebuilt attribution (cumulative parts)."""

    timestamp_s: float
    block: int
    price: Decimal
    lp_value_quote: Decimal
    fees_uncollected_quote: Decimal
    hedge_base: Decimal
    breakdown: PnlBreakdown


@dataclass(frozen=True, slots=True)
class PnlReport:
    """The attribution over every stored tick, plus what the window left out."""

    points: tuple[ReportPoint, ...]
    opening_hedge_base: Decimal
    fills_used: int
    funding_used: int
    notes: tuple[str, ...]
    final_state: Attribution  # to resume live attribution after a restart

    @property
    def final(self) -> PnlBreakdown:
        """Cumulative parts at the last tick."""
        return self.points[-1].breakdown

    def summary(self) -> dict[str, Any]:
        """Flat JSON-ready summary; money as exact decimal strings (``json_decimal``: no
        exponent, zero ``"0"``). Each PnL part is its own magnitude as attributed, in the
        sign of ``bot.core.pnl.PARTS``: gains and losses signed, costs (``trading_fees_quote``,
        ``slippage_quote``, ``gas_quote``) positive amounts paid that ``net_pnl_quote``
        subtracts; the table shows every part as its signed contribution instead."""
        first, last = self.points[0], self.points[-1]
        head: dict[str, Any] = {
            "ticks": len(self.points),
            "first_block": first.block,
            "last_block": last.block,
            "start_price": json_decimal(first.price),
            "end_price": json_decimal(last.price),
            "start_lp_value_quote": json_decimal(first.lp_value_quote),
            "end_lp_value_quote": json_decimal(last.lp_value_quote),
            "opening_hedge_base": json_decimal(self.opening_hedge_base),
            "hedge_base": json_decimal(last.hedge_base),
            "fills": self.fills_used,
            "funding_payments": self.funding_used,
        }
        parts = {name: json_decimal(value) for name, value in self.final.as_dict().items()}
        return {**head, **parts, "notes": list(self.notes)}


def _opening_hedge(
    first: ChainSnapshot, decisions: Sequence[tuple[float, int, Decision]], prior: Sequence[Fill]
) -> tuple[Decimal, str | None]:
    for _, block, decision in decisions:
        if block == first.block_number:
            return decision.hedge_base, None
    opening = sum((signed_amount_base(f) for f in prior), Decimal(0))
    return opening, (
        f"no decision for block {first.block_number}: opening hedge {opening} from earlier fills"
    )


def _notes(
    snapshots: Sequence[tuple[float, ChainSnapshot]],
    marks_missing: bool,
    opening_note: str | None,
    prior_fills: int,
    early_funding: int,
) -> list[str]:
    """What the replay could not attribute, said in the report rather than guessed."""
    notes = ["gas not recorded (no on-chain actions yet)"]
    if marks_missing:
        notes.append("ticks without a recorded mark are valued at the pool price")
    if opening_note is not None:
        notes.append(opening_note)
    if prior_fills:
        notes.append(f"{prior_fills} fill(s) before the first snapshot left out of the window")
    if early_funding:
        notes.append(f"{early_funding} funding payment(s) before the first snapshot left out")
    if any(snap.wallet_base != 0 for _, snap in snapshots):
        notes.append("base held outside the pools (wallet_base) is not attributed")
    return notes


def build_report(
    snapshots: Sequence[tuple[float, ChainSnapshot]],
    decisions: Sequence[tuple[float, int, Decision]],
    fills: Sequence[Fill],
    funding: Sequence[FundingPayment],
    intent_blocks: dict[str, int],
) -> PnlReport:
    """Replay the attribution over stored records; ``snapshots`` must not be empty."""
    if not snapshots:
        raise ValueError("no snapshots to report on")
    times_ms = [ts * 1000.0 for ts, _ in snapshots]
    index_of_block: dict[int, int] = {}
    for i, (_, snap) in enumerate(snapshots):
        index_of_block.setdefault(snap.block_number, i)

    def tick_of(cid: str | None, timestamp_ms: int) -> int:
        if cid is not None and intent_blocks.get(cid) in index_of_block:
            return index_of_block[intent_blocks[cid]]
        return bisect.bisect_right(times_ms, float(timestamp_ms)) - 1

    fills_at: dict[int, list[Fill]] = {}
    prior: list[Fill] = []
    for fill in fills:
        i = tick_of(fill.client_order_id, fill.timestamp)
        if i < 0:
            prior.append(fill)
        else:
            fills_at.setdefault(i, []).append(fill)
    funding_at: dict[int, list[FundingPayment]] = {}
    early_funding = 0
    for payment in funding:
        i = tick_of(None, payment.timestamp)
        if i < 0:
            early_funding += 1
        else:
            funding_at.setdefault(i, []).append(payment)

    marks = {block: d.mark_price for _, block, d in decisions if d.mark_price is not None}
    opening, note = _opening_hedge(snapshots[0][1], decisions, prior)
    notes = _notes(snapshots, len(marks) < len(index_of_block), note, len(prior), early_funding)
    state = Attribution.opening(opening)
    points = []
    for i, (ts, snap) in enumerate(snapshots):
        mark = marks.get(snap.block_number, snap.price)
        obs = observation_from_snapshot(
            snap, mark, fills_at.get(i, ()), funding_at.get(i, ()), timestamp_s=ts
        )
        state = step(state, obs)
        points.append(
            ReportPoint(
                timestamp_s=ts,
                block=snap.block_number,
                price=snap.price,
                lp_value_quote=obs.lp_value_quote,
                fees_uncollected_quote=obs.fees_uncollected_quote,
                hedge_base=state.position_base,
                breakdown=state.breakdown(),
            )
        )
    return PnlReport(
        points=tuple(points),
        opening_hedge_base=opening,
        fills_used=sum(len(v) for v in fills_at.values()),
        funding_used=sum(len(v) for v in funding_at.values()),
        notes=tuple(notes),
        final_state=state,
    )


async def load_report(store: RecordStore) -> PnlReport | None:
    """The report over everything in ``store``; None when it holds no snapshot."""
    snapshots = await store.read_snapshots()
    if not snapshots:
        return None
    return build_report(
        snapshots,
        await store.read_decisions(),
        await store.read_fills(),
        await store.read_funding(),
        await store.intent_blocks(),
    )


# --- output -------------------------------------------------------------------------------

REPORT_WIDTH = 80


def print_table(report: PnlReport, console: Any = None) -> None:
    """Cumulative parts as a table in 80 columns, quote amounts to cents; every part is shown
    as its signed contribution to net PnL (costs negative, ``bot.display.COSTS_NOTE``)."""
    from rich.console import Console

    from bot.pnl_table import pnl_table

    first, last = report.points[0], report.points[-1]
    final = report.final
    title = f"hedgebot PnL attribution, blocks {first.block}..{last.block}"
    table = pnl_table(title, final.as_dict(), final.net_pnl_quote)
    table.add_section()
    table.add_row("ticks", str(len(report.points)))
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


async def _read(settings: Settings) -> PnlReport | None:
    store = await open_store(settings, read_only=True)  # a report writes nothing
    try:
        return await load_report(store)
    finally:
        await store.close()


def run_report(config: Path, out: Path | None = None, as_json: bool = False) -> int:
    """Build, print and optionally plot the report of the store named in ``config``."""
    settings = load_config(config, require_secrets=False)  # reads the store only
    path = settings.store.path
    if settings.store.url is None and not path.is_file():
        print(f"report: no store at {path}: nothing to report", file=sys.stderr)  # noqa: T201
        return EXIT_NO_DATA
    report = asyncio.run(_read(settings))
    if report is None:
        print(f"report: store {path} has no snapshots yet: nothing to report", file=sys.stderr)  # noqa: T201
        return EXIT_NO_DATA
    if out is not None:
        plot_report(report, out)
    if as_json:
        print(json.dumps(report.summary()))  # noqa: T201
    else:
        print_table(report)
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
        "(default: since each bot's first tick)",
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
