"""Start-up cost of a long history (issue 19, item 1): time and peak memory of the PnL replay.

A SQLite store holds ``SNAPSHOTS`` (200,000) kept snapshots of a V2 and a V3 position with a
decision each (marks), a rebalance (intent + fill) every 100 ticks and funding every 2,400
(rows inserted in bulk through ``sqlite3`` with the store's own JSON bodies, after the
store's migrations). Each figure is one fresh subprocess (``resource.getrusage`` peak RSS,
so one measurement never inherits another's heap):

* ``store_start_full_replay_*``: the start-up before the fix, every row read into lists and
  replayed (``build_report`` over ``read_snapshots``/``read_decisions``/...);
* ``store_start_streamed_*``: ``load_report``'s streamed replay (report, status, a first
  start without a checkpoint): pages of 1,000 rows;
* ``store_start_checkpoint_*``: ``Engine.start``'s replay (``resume_report``) with the
  checkpoint the running engine keeps, 3,600 ticks (15 min at 4 blocks/s: its interval)
  behind the newest snapshot;
* ``store_start_imports_rss_mib``: the same subprocess doing nothing but the imports.

Prints figures, never asserts.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.domain import (
    ChainSnapshot,
    Decision,
    Fill,
    FundingPayment,
    OrderIntent,
    OrderStatus,
    PositionExposure,
    Side,
)
from bot.records import to_json
from bot.store.sqlite import SqliteStore

SNAPSHOTS = int(os.environ.get("BENCH_STORE_START_SNAPSHOTS", "200000"))
AFTER_CHECKPOINT = 3600
SYMBOL = "ETH/USDT:USDT"

_PROBE = r"""
import asyncio, json, resource, sys, time
from pathlib import Path
from bot.store.sqlite import SqliteStore
from bot.report import build_report, load_report
from bot.replay_store import resume_report

async def measure(mode: str, path: Path) -> None:
    store = await SqliteStore.open(path, read_only=True)
    try:
        if mode == "full_replay":
            build_report(await store.read_snapshots(), await store.read_decisions(),
                         await store.read_fills(), await store.read_funding(),
                         await store.intent_blocks())
        elif mode == "streamed":
            await load_report(store)
        elif mode == "checkpoint":
            await resume_report(store)
    finally:
        await store.close()

mode, path = sys.argv[1], Path(sys.argv[2])
started = time.perf_counter()
asyncio.run(measure(mode, path))
elapsed = time.perf_counter() - started
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_rss_mib": peak_kib / 1024}))
"""


def _snapshot(block: int) -> ChainSnapshot:
    price = Decimal(2000) + Decimal((block * 7919) % 2001 - 1000) / 10
    v2 = PositionExposure(
        "lp-v2", "v2", Decimal(10), Decimal(10) * price, Decimal(20) * price, Decimal(5),
        Decimal("-0.0012"), price, fees_base=Decimal("0.001"), fees_quote=Decimal("2.5"),
    )  # fmt: skip
    v3 = PositionExposure(
        "lp-v3", "v3", Decimal(4), Decimal(9000), Decimal(4) * price + 9000, Decimal("3.2"),
        Decimal("-0.004"), price, tick_lower=69000, tick_upper=78000, liquidity=10**21,
    )  # fmt: skip
    return ChainSnapshot(block, 1_700_000_000 + block, f"0x{block:064x}", price, (v2, v3))


def _rows(first: int, count: int) -> dict[str, list[tuple[Any, ...]]]:
    rows: dict[str, list[tuple[Any, ...]]] = {
        "snapshots": [], "decisions": [], "intents": [], "fills": [], "funding": []
    }  # fmt: skip
    for block in range(first, first + count):
        ts = float(block)
        snap = _snapshot(block)
        rows["snapshots"].append((ts, block, str(snap.price), str(snap.delta_base), to_json(snap)))
        decision = Decision(
            "rebalance" if block % 100 == 0 else "hold", "bench", snap.delta_base,
            -snap.delta_base, -snap.delta_base, Decimal(0), Decimal("0.5"),
            mark_price=snap.price + 1,
        )  # fmt: skip
        rows["decisions"].append((ts, block, decision.action, decision.reason, to_json(decision)))
        if block % 100 == 0:
            cid = f"hb-{block}-1"
            intent = OrderIntent(cid, SYMBOL, Side.SELL, Decimal("0.01"), False, Decimal(1))
            rows["intents"].append((cid, ts, block, OrderStatus.FILLED.value, to_json(intent)))
            fill = Fill(
                f"t{block}", cid, f"x{block}", SYMBOL, Side.SELL, Decimal("0.01"), snap.price,
                Decimal("0.01"), Decimal(0), block * 1000 + 200,
            )  # fmt: skip
            rows["fills"].append((fill.trade_id, fill.timestamp, cid, to_json(fill)))
        if block % 2400 == 0:
            pay = FundingPayment(
                f"f{block}", SYMBOL, Decimal("0.4"), Decimal("0.0001"), Decimal(-8),
                snap.price, block * 1000 + 300,
            )  # fmt: skip
            rows["funding"].append((pay.id, pay.timestamp, str(pay.amount_quote), to_json(pay)))
    return rows


_INSERT = {
    "snapshots": "INSERT INTO snapshots(ts, block, price, delta_base, body) VALUES(?,?,?,?,?)",
    "decisions": "INSERT INTO decisions(ts, block, action, reason, body) VALUES(?,?,?,?,?)",
    "intents": "INSERT INTO intents(client_order_id, ts, block, status, body) VALUES(?,?,?,?,?)",
    "fills": "INSERT INTO fills(trade_id, ts, client_order_id, body) VALUES(?,?,?,?)",
    "funding": "INSERT INTO funding(id, ts, amount_quote, body) VALUES(?,?,?,?)",
}


def _insert(path: Path, first: int, count: int) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        for table, rows in _rows(first, count).items():
            db.executemany(_INSERT[table], rows)


def build_store(path: Path) -> None:
    """The store: all but the last ``AFTER_CHECKPOINT`` ticks, the checkpoint the engine
    would keep there, then the rest."""
    from bot.replay_store import resume_report, save_checkpoint

    async def checkpoint() -> None:
        store = await SqliteStore.open(path)
        try:
            _, kept = await resume_report(store)
            if kept is not None:
                await save_checkpoint(store, kept)
        finally:
            await store.close()

    async def create() -> None:
        await (await SqliteStore.open(path)).close()  # creates and migrates

    asyncio.run(create())
    head = max(2, SNAPSHOTS - AFTER_CHECKPOINT)
    for start in range(0, head, 20_000):
        _insert(path, 1 + start, min(20_000, head - start))
    asyncio.run(checkpoint())
    _insert(path, 1 + head, SNAPSHOTS - head)


def _probe(mode: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def run() -> dict[str, dict[str, Any]]:
    """The figures, one subprocess each."""
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.sqlite"
        build_store(path)
        results["store_start_snapshots"] = {"value": SNAPSHOTS, "unit": "rows"}
        for mode in ("imports", "full_replay", "streamed", "checkpoint"):
            figures = _probe(mode, path)
            if mode == "imports":
                results["store_start_imports_rss_mib"] = {
                    "value": round(figures["peak_rss_mib"], 1), "unit": "MiB"
                }  # fmt: skip
                continue
            results[f"store_start_{mode}_s"] = {"value": round(figures["seconds"], 2), "unit": "s"}
            results[f"store_start_{mode}_rss_mib"] = {
                "value": round(figures["peak_rss_mib"], 1), "unit": "MiB"
            }  # fmt: skip
    return results


if __name__ == "__main__":
    for key, figure in run().items():
        print(f"{key:<36} {figure['value']:>12,} {figure['unit']}")
