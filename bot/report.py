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
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import load_config
from bot.core.pnl import (
    PARTS,
    Attribution,
    PnlBreakdown,
    observation_from_snapshot,
    signed_amount_base,
    step,
)
from bot.domain import ChainSnapshot, Decision, Fill, FundingPayment
from bot.errors import ConfigError
from bot.store.sqlite import SqliteStore

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
        """Flat JSON-ready summary; money as exact decimal strings."""
        first, last = self.points[0], self.points[-1]
        head: dict[str, Any] = {
            "ticks": len(self.points),
            "first_block": first.block,
            "last_block": last.block,
            "start_price": str(first.price),
            "end_price": str(last.price),
            "start_lp_value_quote": str(first.lp_value_quote),
            "end_lp_value_quote": str(last.lp_value_quote),
            "opening_hedge_base": str(self.opening_hedge_base),
            "hedge_base": str(last.hedge_base),
            "fills": self.fills_used,
            "funding_payments": self.funding_used,
        }
        parts = {name: str(value) for name, value in self.final.as_dict().items()}
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
    notes = ["gas not recorded (no on-chain actions yet)"]
    if len(marks) < len(index_of_block):
        notes.append("ticks without a recorded mark are valued at the pool price")
    opening, note = _opening_hedge(snapshots[0][1], decisions, prior)
    if note is not None:
        notes.append(note)
    if prior:
        notes.append(f"{len(prior)} fill(s) before the first snapshot left out of the window")
    if early_funding:
        notes.append(f"{early_funding} funding payment(s) before the first snapshot left out")
    if any(snap.wallet_base != 0 for _, snap in snapshots):
        notes.append("base held outside the pools (wallet_base) is not attributed")

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


async def load_report(store: SqliteStore) -> PnlReport | None:
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

_LABELS = {
    "lp_hold_pnl_quote": "LP hold (entry amounts × Δprice)",
    "il_quote": "impermanent loss vs hold",
    "lp_fees_quote": "LP fees",
    "hedge_pnl_quote": "hedge PnL at mark",
    "funding_quote": "funding (+ received)",
    "trading_fees_quote": "− trading fees",
    "slippage_quote": "− slippage vs mark",
    "gas_quote": "− gas",
}


def print_table(report: PnlReport) -> None:
    """Cumulative parts as a rich table; costs shown with the sign they enter net."""
    from rich.console import Console
    from rich.table import Table

    first, last = report.points[0], report.points[-1]
    final = report.final
    table = Table(title=f"hedgebot PnL attribution, blocks {first.block}..{last.block}")
    table.add_column("part")
    table.add_column("quote", justify="right")
    for name, sign in PARTS:
        value: Decimal = getattr(final, name)
        table.add_row(_LABELS[name], f"{value if sign > 0 else -value:,.4f}")
    table.add_section()
    table.add_row("net PnL", f"{final.net_pnl_quote:,.4f}")
    table.add_section()
    table.add_row("ticks", str(len(report.points)))
    table.add_row("price", f"{first.price:,.4f} -> {last.price:,.4f}")
    table.add_row("LP value", f"{first.lp_value_quote:,.4f} -> {last.lp_value_quote:,.4f}")
    table.add_row("hedge (base)", f"{report.opening_hedge_base} -> {last.hedge_base}")
    table.add_row("hedge realised (venue)", f"{final.hedge_realized_quote:,.4f}")
    console = Console()
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")


def plot_report(report: PnlReport, out: Path) -> None:
    """Price; LP, hedge and net value; cumulative PnL parts, as one PNG."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError(
            "the chart needs matplotlib: pip install 'hedgebot[report]' (or pass --no-chart)"
        ) from exc

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = report.points
    t0 = points[0].timestamp_s
    hours = [(p.timestamp_s - t0) / 3600.0 for p in points]
    lp_value = [float(p.lp_value_quote) for p in points]
    lp_with_fees = [float(p.lp_value_quote + p.fees_uncollected_quote) for p in points]
    hedge_value = [float(p.breakdown.venue_pnl_quote) for p in points]
    start = float(points[0].lp_value_quote + points[0].fees_uncollected_quote)
    net_value = [start + float(p.breakdown.net_pnl_quote) for p in points]

    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    axes[0].plot(hours, [float(p.price) for p in points], lw=0.8)
    axes[0].set_ylabel("price")
    axes[1].plot(hours, lp_value, lw=0.8, label="LP value")
    axes[1].plot(hours, lp_with_fees, lw=0.8, label="LP value + fees")
    axes[1].plot(hours, net_value, lw=0.8, label="net value (LP + fees + venue PnL)")
    axes[1].set_ylabel("value (quote)")
    axes[1].legend(loc="best")
    hedge_axis = axes[1].twinx()
    hedge_axis.plot(hours, hedge_value, lw=0.8, color="tab:red", label="hedge value (venue PnL)")
    hedge_axis.set_ylabel("hedge value (quote)")
    hedge_axis.legend(loc="lower right")
    for name, sign in PARTS:
        values = [sign * float(getattr(p.breakdown, name)) for p in points]
        if any(values):
            axes[2].plot(hours, values, lw=0.8, label=_LABELS[name])
    net = [float(p.breakdown.net_pnl_quote) for p in points]
    axes[2].plot(hours, net, lw=1.4, color="black", ls="--", label="net")
    axes[2].set_ylabel("cumulative PnL (quote)")
    axes[2].set_xlabel("hours since first snapshot")
    axes[2].legend(loc="best", fontsize="small")
    fig.suptitle(f"hedgebot PnL: {len(points)} ticks, net {float(report.final.net_pnl_quote):,.2f}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


# --- CLI ----------------------------------------------------------------------------------


async def _read(path: Path) -> PnlReport | None:
    store = await SqliteStore.open(path, read_only=True)  # a report writes nothing
    try:
        return await load_report(store)
    finally:
        await store.close()


def run_report(config: Path, out: Path | None = None, as_json: bool = False) -> int:
    """Build, print and optionally plot the report of the store named in ``config``."""
    settings = load_config(config, require_secrets=False)  # reads the store only
    path = settings.store.path
    if not path.is_file():
        print(f"report: no store at {path}: nothing to report", file=sys.stderr)  # noqa: T201
        return EXIT_NO_DATA
    report = asyncio.run(_read(path))
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
    p.add_argument("--config", required=True)
    p.add_argument(
        "--out",
        metavar="FILE.png",
        default=None,
        help="chart path (default: report.png beside the store)",
    )
    p.add_argument("--no-chart", action="store_true", help="print only, write no PNG")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_command)
