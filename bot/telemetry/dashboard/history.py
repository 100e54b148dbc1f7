"""Chart series and the event log for a page, read from the bot's SQLite store.

The PnL parts are the replay of ``hedgebot report`` (``bot.report.load_report``), so the page
and the report cannot disagree; delta, target, hedge, drift and band come from the stored
decisions, each run of quiet repeats drawn across its span and counted as its length.
Numbers are floats here: they only feed charts (exact values stay in the store).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, TypeVar

from bot.domain import Decision
from bot.report import load_report
from bot.store.base import RecordStore
from bot.store.decision_runs import DecisionRun

__all__ = [
    "EVENT_KINDS",
    "RANGES_S",
    "event_log",
    "history_series",
    "kind_of",
    "run_points",
    "window_start",
]

RANGES_S: dict[str, float | None] = {"1h": 3600.0, "6h": 21600.0, "24h": 86400.0, "all": None}
# the log's filters: every type the live feed or the store carries has one (``range.*`` and
# ``position.*`` each share one; ``trading_state``: operator state changes and their cause)
EVENT_KINDS = (
    "decision",
    "order",
    "fill",
    "funding",
    "alert",
    "command",
    "trading_state",
    "range",
    "position",
    "error",
)
# a live event and the store's row of it are stamped by two reads of the clock: the same
# event when type and data are equal and the stamps this close (commands: the same id)
SAME_EVENT_S = 60.0
MAX_POINTS = 2000
MAX_LOG_ROWS = 500

_T = TypeVar("_T")


def window_start(last_s: float | None, range_name: str) -> float | None:
    """The first time shown for ``range_name`` (``1h``/``6h``/``24h``/``all``) ending at
    ``last_s``; None: from the start. Raises ``KeyError`` for an unknown range."""
    span = RANGES_S[range_name]
    if span is None or last_s is None:
        return None
    return last_s - span


def thin(rows: Sequence[_T], max_points: int = MAX_POINTS) -> list[_T]:
    """At most ``max_points`` rows, evenly strided; the last row always kept."""
    if len(rows) <= max_points:
        return list(rows)
    stride = -(-len(rows) // max_points)
    kept = list(rows[::stride])
    if kept[-1] is not rows[-1]:
        kept.append(rows[-1])
    return kept


def run_points(runs: Sequence[DecisionRun]) -> list[tuple[float, int, Decision]]:
    """Chart points of decision runs as (record time, block, decision): a run's first
    decision, and its last when the run repeats (the same values), so a quiet stretch draws
    as a flat line across its whole span, not as one point at its start."""
    points: list[tuple[float, int, Decision]] = []
    for run in runs:
        points.append((run.first_ts, run.first_block, run.decision))
        if run.count > 1:
            points.append((run.last_ts, run.last_block, run.decision))
    return points


def _decision_series(rows: Sequence[tuple[float, int, Decision]]) -> dict[str, list[Any]]:
    return {
        "t": [ts for ts, _, _ in rows],
        "block": [block for _, block, _ in rows],
        "delta": [float(d.delta_base) for _, _, d in rows],
        "target": [float(d.target_base) for _, _, d in rows],
        "hedge": [float(d.hedge_base) for _, _, d in rows],
        "drift": [float(d.drift_base) for _, _, d in rows],
        "band": [float(d.band_base) for _, _, d in rows],
    }


async def history_series(store: RecordStore, range_name: str = "all") -> dict[str, Any]:
    """``{"range", "decisions": {count, rows}, "positions": {t, block, delta, target, hedge,
    drift, band}, "pnl": {t, block, price, <part>...}}``: columns of equal length, time in
    unix seconds (record time), money in quote, sizes in base. ``decisions.count`` is how
    many decisions the runs reaching into the window hold (a run of quiet repeats counts as
    its length, ``bot.store.decision_runs``), ``decisions.rows`` the rows they take. Raises
    ``KeyError`` for an unknown range."""
    last = await store.last_decision_run()
    start = window_start(None if last is None else last.last_ts, range_name)
    runs = await store.read_decision_runs(since_ts=start)
    points = thin([row for row in run_points(runs) if start is None or row[0] >= start])
    report = await load_report(store)
    pnl: dict[str, list[Any]] = {"t": [], "block": [], "price": []}
    if report is not None:
        shown = [p for p in report.points if start is None or p.timestamp_s >= start]
        for point in thin(shown):
            pnl["t"].append(point.timestamp_s)
            pnl["block"].append(point.block)
            pnl["price"].append(float(point.price))
            for name, value in point.breakdown.as_dict().items():
                pnl.setdefault(name, []).append(float(value))
    return {
        "range": range_name,
        "decisions": {"count": sum(run.count for run in runs), "rows": len(runs)},
        "positions": _decision_series(points),
        "pnl": pnl,
    }


def kind_of(event_type: str) -> str:
    """The filter an event type belongs to (``range.exited`` -> ``range``)."""
    head = event_type.split(".", 1)[0]
    return head if head in ("range", "position") else event_type


def _identity(row: dict[str, Any]) -> tuple[str, float]:
    """What makes two log rows the same event, and how far apart their stamps may be."""
    data = row["data"]
    if row["type"] == "command" and isinstance(data.get("id"), str):
        return f"command:{data['id']}", math.inf  # an id is used once, ever
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return f"{row['type']}:{text}", SAME_EVENT_S


def _unseen(live: list[dict[str, Any]], stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The live rows the store does not hold yet: each stored row absorbs at most one live row
    of the same identity within its window, so two real alerts alike both stay."""
    stamps: dict[str, list[float]] = {}
    for row in stored:
        stamps.setdefault(_identity(row)[0], []).append(float(row["ts"]))
    kept = []
    for row in live:
        key, window = _identity(row)
        ts = float(row["ts"])
        candidates = stamps.get(key, [])
        match = min(candidates, key=lambda t: abs(t - ts), default=None)
        if match is not None and abs(match - ts) <= window:
            candidates.remove(match)
            continue
        kept.append(row)
    return kept


def event_log(
    recorded: Sequence[dict[str, Any]],
    live: Sequence[dict[str, Any]],
    kinds: frozenset[str] | None = None,
    commands: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The newest ``MAX_LOG_ROWS`` log rows ``{"ts", "type", "data"}``, newest first: events
    recorded in the store (alerts, range changes, position moves, trading-state changes:
    ``read_events``), the store's operator commands (``recent_commands``, as ``command``
    rows) and the live tail (decisions, orders, fills, funding, and what the store has not
    recorded yet: an event in both is shown once, the store's row), filtered to ``kinds``
    (None: all)."""
    stored = [
        {
            "ts": e["ts"],
            "type": e["type"],
            "data": {k: v for k, v in e.items() if k not in ("ts", "type")},
        }
        for e in recorded
    ]
    stored += [
        {"ts": c["ts"], "type": "command", "data": {k: v for k, v in c.items() if k != "ts"}}
        for c in commands
    ]
    tail = [{"ts": e["ts"], "type": e["type"], "data": e.get("data", {})} for e in live]
    rows = stored + _unseen(tail, stored)
    if kinds is not None:
        rows = [row for row in rows if kind_of(str(row["type"])) in kinds]
    rows.sort(key=lambda row: float(row["ts"]), reverse=True)
    return rows[:MAX_LOG_ROWS]
