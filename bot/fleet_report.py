"""``hedgebot report --store-url``: PnL attribution per bot and in total from a shared store.

Each bot's parts are exactly its own ``hedgebot report`` (:func:`bot.report.load_report` over
that bot's records, read-only); the total is their sum, part by part, in ``Decimal``, so it
equals the sum of the bots' own reports to the last digit. ``since`` narrows every bot to
the change of its cumulative parts from its last tick before ``since`` to its last tick (the
attribution is path-dependent, so the replay always starts at each bot's first tick). That
baseline tick is shown (its block and time): ``store compact`` may have thinned the ticks
before ``since``, and keeps each UTC day's last, so a ``since`` at a UTC day start gives the
same figures before and after compaction and any other is explained by its baseline.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import MAX_PREC, Context, Decimal, localcontext
from typing import Any

from pydantic import ValidationError

from bot.display import COSTS_NOTE, fmt_quote, json_decimal, pnl_contributions
from bot.errors import StoreError
from bot.report import EXIT_NO_DATA, EXIT_OK, REPORT_WIDTH, PnlReport, load_report
from bot.store.pg_names import pg_schema_name
from bot.store.postgres import PostgresStore
from bot.store.settings import StoreConfig

__all__ = [
    "BotPnl",
    "FleetReport",
    "SinceBaseline",
    "load_fleet_report",
    "parse_since",
    "run_fleet_report",
]

EXIT_ERROR = 2  # bad input, or a store that cannot be read
EXACT = Context(prec=MAX_PREC)  # sums and differences of finite decimals, never rounded


@dataclass(frozen=True, slots=True)
class SinceBaseline:
    """The tick a ``--since`` window is measured from: the bot's last stored tick recorded
    before ``since`` (block, record time in epoch seconds)."""

    block: int
    timestamp_s: float

    def summary(self) -> dict[str, Any]:
        """JSON-ready: ``block``, ``timestamp_s`` and ``time`` (ISO 8601 UTC)."""
        return {"block": self.block, "timestamp_s": self.timestamp_s, "time": _iso(self)}


@dataclass(frozen=True, slots=True)
class BotPnl:
    """One bot's attribution: cumulative parts (quote) over its ticks in the window;
    ``ticks`` counts the stored snapshots in it (``store compact`` thins old ones);
    ``baseline`` is the tick a ``since`` window starts after (None: no ``since``, or no
    tick stored before it, so the window is the whole history)."""

    bot_id: str
    ticks: int
    parts: dict[str, Decimal]
    baseline: SinceBaseline | None = None


@dataclass(frozen=True, slots=True)
class FleetReport:
    """Every reported bot, and the part-by-part total (quote); ``since_s`` the window's
    start (None: each bot's whole history)."""

    bots: tuple[BotPnl, ...]
    total: dict[str, Decimal]
    since_s: float | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-ready: money as exact decimal strings; with ``since``, each bot's
        ``since_baseline`` (:meth:`SinceBaseline.summary`, null: none before it)."""
        bots: dict[str, Any] = {}
        for b in self.bots:
            row: dict[str, Any] = {"ticks": b.ticks}
            row.update((k, json_decimal(v)) for k, v in b.parts.items())
            if self.since_s is not None:
                row["since_baseline"] = None if b.baseline is None else b.baseline.summary()
            bots[b.bot_id] = row
        return {"bots": bots, "total": {k: json_decimal(v) for k, v in self.total.items()}}


def _iso(baseline: SinceBaseline) -> str:
    return datetime.fromtimestamp(baseline.timestamp_s, UTC).isoformat().replace("+00:00", "Z")


SINCE_AHEAD_S = 86400.0  # --since may be at most a day ahead of this host's clock


def parse_since(text: str, now_s: float | None = None) -> float:
    """``--since``: an ISO date or date-time (UTC unless it says otherwise) or epoch
    seconds, as epoch seconds. ``ValueError`` naming the accepted forms for anything else:
    unparsable text, ``nan``/``inf``, or a moment more than a day after ``now_s`` (default:
    this host's clock), which would report nothing."""
    now_s = time.time() if now_s is None else now_s
    try:
        since = float(text)
    except ValueError:
        since = None
    if since is None:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"--since {text[:80]!r}: give a UTC date (2026-11-29), date-time "
                "(2026-11-29T12:00) or epoch seconds"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        since = moment.timestamp()
    if not math.isfinite(since):
        raise ValueError(f"--since {text[:80]!r}: not a finite time")
    if since > now_s + SINCE_AHEAD_S:
        raise ValueError(
            f"--since {text[:80]!r}: more than a day in the future (this host's clock says "
            f"{datetime.fromtimestamp(now_s, UTC):%Y-%m-%d %H:%M} UTC)"
        )
    return since


def _window(report: PnlReport, since_s: float | None) -> tuple[int, dict[str, Decimal]]:
    """(ticks, parts) of ``report`` from ``since_s`` on (all of it when None); ``report``
    was read with ``cut_s=since_s`` (its ``cut``: the last tick before it)."""
    final = report.final.as_dict()
    ticks = report.ticks or len(report.points)
    if since_s is None or report.cut is None:
        return ticks - report.ticks_before_cut, final
    base = report.cut.breakdown.as_dict()
    with localcontext(EXACT):
        return ticks - report.ticks_before_cut, {name: final[name] - base[name] for name in final}


async def load_fleet_report(
    config: StoreConfig, bots: Sequence[str] = (), since_s: float | None = None
) -> FleetReport:
    """Read every bot of the shared store (or only ``bots``), each read-only as itself.
    ``StoreError`` when the database cannot be read or a named bot has no record."""
    url = config.url
    if url is None:
        raise StoreError("a fleet report needs a PostgreSQL store URL")
    password = None if config.password is None else config.password.get_secret_value()

    async def open_as(bot_id: str) -> PostgresStore:
        return await PostgresStore.open(
            url,
            bot_id,
            path=config.path,
            schema=config.pg_schema,
            password=password,
            timeout_s=config.timeout_s,
            read_only=True,
        )

    if not bots:
        probe = await open_as("fleet-report")
        try:
            bots = await probe.fleet_bot_ids()
        finally:
            await probe.close()
    rows: list[BotPnl] = []
    for bot_id in bots:
        store = await open_as(bot_id)
        try:
            report = await load_report(store, cut_s=since_s)  # streamed: bounded memory
        finally:
            await store.close()
        if report is None:
            raise StoreError(f"bot {bot_id} has no snapshots in {store.where}")
        ticks, parts = _window(report, since_s)
        cut = None if since_s is None else report.cut
        baseline = None if cut is None else SinceBaseline(cut.block, cut.timestamp_s)
        rows.append(BotPnl(bot_id, ticks, parts, baseline))
    total: dict[str, Decimal] = {}
    with localcontext(EXACT):  # no rounding: the total is the bots' sum to the last digit
        for row in rows:
            for name, value in row.parts.items():
                total[name] = total.get(name, Decimal(0)) + value
    return FleetReport(tuple(rows), total, since_s)


def print_fleet(report: FleetReport, console: Any = None) -> None:
    """Net PnL and its parts, one column per bot and the total, quote to cents."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="hedgebot fleet PnL attribution")
    table.add_column("part")
    for bot in report.bots:
        table.add_column(bot.bot_id, justify="right")
    table.add_column("total", justify="right")
    columns = [*(b.parts for b in report.bots), report.total]
    shown = [dict((name, c) for name, _, c in pnl_contributions(col)) for col in columns]
    for name, label, _ in pnl_contributions(report.total):
        table.add_row(label, *(fmt_quote(col[name]) for col in shown))
    table.add_section()
    table.add_row("net PnL", *(fmt_quote(col["net_pnl_quote"]) for col in columns))
    table.add_row("ticks (stored)", *(str(b.ticks) for b in report.bots), "")
    console = console or Console(width=max(REPORT_WIDTH, 24 + 14 * len(columns)))
    console.print(table)
    console.print(f"note: {COSTS_NOTE}")
    for line in since_lines(report):
        console.print(line, soft_wrap=True)  # one line each, whatever the width


def since_lines(report: FleetReport) -> list[str]:
    """One line per bot saying the tick its ``--since`` window starts after (none without
    ``since``)."""
    if report.since_s is None:
        return []
    since = datetime.fromtimestamp(report.since_s, UTC).strftime("%Y-%m-%d %H:%M:%S")
    lines = []
    for bot in report.bots:
        base = bot.baseline
        lines.append(
            f"since {since} UTC: {bot.bot_id} from its first tick (none stored before)"
            if base is None
            else f"since {since} UTC: {bot.bot_id} from block {base.block} at "
            f"{datetime.fromtimestamp(base.timestamp_s, UTC):%Y-%m-%d %H:%M:%S} UTC "
            "(its last stored tick before)"
        )
    return lines


def run_fleet_report(
    url: str,
    *,
    schema: str = "public",
    bots: Sequence[str] = (),
    since: str | None = None,
    as_json: bool = False,
) -> int:
    """``hedgebot report --store-url``: print the fleet report; the exit code (0; 1: no bot to
    report, as ``report``; 2: bad input or a store that cannot be read)."""
    try:
        password = os.environ.get("HEDGEBOT_STORE__PASSWORD")  # or libpq's PGPASSWORD
        config = StoreConfig(url=url, pg_schema=pg_schema_name(schema), password=password)
        since_s = None if since is None else parse_since(since)
        report = asyncio.run(load_fleet_report(config, bots, since_s))
    except ValidationError as exc:
        print(f"report: {exc.errors()[0]['msg']}", file=sys.stderr)  # noqa: T201
        return EXIT_ERROR
    except (ValueError, StoreError) as exc:
        print(f"report: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_ERROR
    if not report.bots:
        print("report: no bot has a record in this store yet", file=sys.stderr)  # noqa: T201
        return EXIT_NO_DATA
    if as_json:
        print(json.dumps(report.summary()))  # noqa: T201
    else:
        print_fleet(report)
    return EXIT_OK
