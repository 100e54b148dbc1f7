"""What ``hedgebot demo`` shows a person: progress on stderr and the summary on stdout.

Progress: one line per ``blocks // 20`` blocks and one per rebalance (marked ``*``, with the
hedge before and after: ``0.000>-75.038``; the drift is always after the tick), above a
progress bar for the run (the bar only in a terminal). The summary is a table in 80 columns,
numbers rounded for display (``bot.display``); the URLs, the work dir and the full
``hedgebot report`` command are printed after it, whole, never cut to the table's width.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bot.display import COSTS_NOTE, fmt_base, fmt_price, fmt_quote, pnl_contributions
from bot.engine import TickReport

__all__ = ["DemoProgress", "progress_line", "render_summary", "summary_lines"]

SUMMARY_WIDTH = 80


def progress_line(report: TickReport, step: Decimal | None) -> str:
    """One block in at most 80 columns, every figure as the tick left it: the hedge (a
    rebalance shows ``before>after``) and the drift from target after the tick's order;
    ``*`` marks a rebalance, and a hold for a reason other than being inside the band names
    it (``paused``, a guard...)."""
    d = report.decision
    rebalanced = d.action == "rebalance"
    after = report.position.size_base
    hedge = fmt_base(after, step)
    if rebalanced:
        hedge = f"{fmt_base(d.hedge_base, step)}>{hedge}"
    drift = fmt_base(after - d.target_base, step)
    line = (
        f"{'*' if rebalanced else ' '} block {report.block:>4} "
        f"price {fmt_price(report.snapshot.price):>7} "
        f"delta {fmt_base(d.delta_base, step):>7} hedge {hedge:>8} "
        f"drift {drift:>6}/{fmt_base(d.band_base, step)}"
    )
    if not rebalanced and d.reason != "inside_band":
        line += f" {d.action}: {d.reason}"
    return line


class DemoProgress:
    """Progress lines and a bar on stderr; silent when ``enabled`` is False (``--json``)."""

    def __init__(self, blocks: int, *, enabled: bool, console: Console | None = None) -> None:
        self._enabled = enabled
        self._every = max(1, blocks // 20)
        self._console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]demo"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("blocks"),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
            disable=not enabled,
        )
        self._task = self._progress.add_task("blocks", total=blocks)
        self.step: Decimal | None = None  # the venue's amount step, once known

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def say(self, line: str) -> None:
        """A line above the bar (literal text, never markup)."""
        if self._enabled:
            self._progress.console.print(Text(line), soft_wrap=True)

    def block(self, index: int, report: TickReport | None) -> None:
        """Block ``index`` (0 = the opening tick) done: a line every N blocks and per rebalance."""
        if index > 0:
            self._progress.advance(self._task)
        if report is None:
            return
        if index % self._every == 0 or report.decision.action == "rebalance":
            self.say(progress_line(report, self.step))


def _table(summary: dict[str, Any]) -> Table:
    table = Table(title="hedgebot demo", show_header=False, caption=COSTS_NOTE)
    table.add_column("what")
    table.add_column("value", justify="right")
    pnl = {name: Decimal(value) for name, value in summary["pnl"].items()}
    step = Decimal(summary["amount_step_base"]) if summary.get("amount_step_base") else None
    rows: list[tuple[str, str]] = [
        (
            "blocks / pool / venue",
            f"{summary['blocks']} / {summary['pool_kind']} / {summary['exchange']}",
        ),
        ("price", f"{fmt_price(summary['start_price'])} -> {fmt_price(summary['final_price'])}"),
        ("rebalances / tick errors", f"{summary['rebalances']} / {summary['errors']}"),
        (
            "final delta / hedge (base)",
            f"{fmt_base(summary['final_delta_base'], step)} / "
            f"{fmt_base(summary['final_hedge_base'], step)}",
        ),
        (
            "final drift / band (base)",
            f"{fmt_base(summary['final_drift_base'], step)} / "
            f"{fmt_base(summary['band_base'], step)} "
            f"({'within' if summary['within_band'] else 'OUTSIDE'})",
        ),
        (
            "LP value start -> end",
            f"{fmt_quote(summary['lp_value_start_quote'])} -> "
            f"{fmt_quote(summary['lp_value_end_quote'])}",
        ),
        (
            "LP + hedge / unhedged LP",
            f"{fmt_quote(summary['hedged_value_quote'])} / "
            f"{fmt_quote(summary['unhedged_value_quote'])}",
        ),
    ]
    for key, value in rows:
        table.add_row(key, value)
    table.add_section()
    for _, label, contribution in pnl_contributions(pnl):
        table.add_row(f"PnL: {label}", fmt_quote(contribution))
    if "net_pnl_quote" in pnl:
        table.add_row("PnL: net", fmt_quote(pnl["net_pnl_quote"]))
    return table


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The lines after the table: endpoints, work dir, logs and the report command, whole."""
    lines = [
        f"MQTT:      {summary['mqtt_url'] or 'off'}",
        f"metrics:   {summary.get('metrics_url') or 'off'}",
        f"dashboard: {summary.get('dashboard_url') or 'off'}  (served while the demo runs)",
    ]
    if summary.get("workdir_kept"):
        lines.append(f"work dir:  {summary['workdir']} (kept)")
        if summary.get("log_file"):
            lines.append(f"logs:      {summary['log_file']}")
        lines.append(f"report:    {summary['report_command']}")
    else:
        lines.append(f"work dir:  {summary['workdir']} (removed at exit)")
        lines.append("report:    rerun with --workdir DIR to keep the store, then")
        lines.append("           hedgebot report --config DIR/config.yaml")
    return lines


def render_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """Print the summary table (80 columns) and :func:`summary_lines` to stdout."""
    console = console or Console(width=min(SUMMARY_WIDTH, Console().width))
    console.print(_table(summary))
    console.file.flush()
    for line in summary_lines(summary):
        print(line, file=console.file if console.file is not None else sys.stdout)
