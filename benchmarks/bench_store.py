"""Store writes per second, SQLite vs PostgreSQL, in the same run.

Two figures per backend, through the store's own methods (``RecordStore``):

* ``writes`` — one write-ahead intent per call, each committed before it returns (what the
  act step does before every order);
* ``tick transactions`` — one tick's account writes in one ``store.transaction()``: a chain
  snapshot, a decision, an event and a meta cursor.

SQLite is a file in a temporary directory (WAL, ``synchronous=FULL``); PostgreSQL is the
server at ``HEDGEBOT_BENCH_PG_URL`` (default: the local one) in a schema made for the run and
dropped after it. Where no server answers, the PostgreSQL figures are left out (unknown is
not zero). Prints figures, never asserts on time.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from bot.domain import ChainSnapshot, Decision, OrderIntent, PositionExposure, Side
from bot.store.base import RecordStore
from bot.store.meta import Meta
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore

PG_URL = os.environ.get("HEDGEBOT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
WRITES = 2000
TICKS = 500
D = Decimal
_Measure = Callable[[int, int], Coroutine[Any, Any, tuple[float, float] | None]]


def _snapshot(block: int) -> ChainSnapshot:
    lp = PositionExposure("lp1", "v2", D(1), D(2000), D(4000), D(1), D(0), D(2000))
    return ChainSnapshot(block, 1_700_000_000 + block, f"0x{block:064x}", D(2000), (lp,))


def _decision() -> Decision:
    return Decision("hold", "inside band", D(1), D(-1), D(-1), D(0), D("0.05"))


async def _rate(count: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Calls of ``one`` per second over ``count`` calls (after 20 warm-up calls)."""
    for n in range(20):
        await one(-1 - n)
    started = time.perf_counter()
    for n in range(count):
        await one(n)
    return count / (time.perf_counter() - started)


async def _measure(store: RecordStore, writes: int, ticks: int) -> tuple[float, float]:
    async def intent(n: int) -> None:
        cid = f"hb-bench-{n}"
        await store.record_intent(
            1.0, n, OrderIntent(cid, "ETH/USDT:USDT", Side.SELL, D(1), False, D(1990))
        )

    async def tick(n: int) -> None:
        async with store.transaction():
            await store.record_snapshot(float(n), _snapshot(n + 100))
            await store.record_decision(float(n), n + 100, _decision())
            await store.record_event(float(n), "decision", {"block": n + 100})
            await store.set(Meta.FILLS_SINCE_MS, n + 1000)

    return await _rate(writes, intent), await _rate(ticks, tick)


async def _sqlite(writes: int, ticks: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="hedgebot-bench-store-") as tmp:
        store = await SqliteStore.open(Path(tmp) / "bench.sqlite")
        try:
            return await _measure(store, writes, ticks)
        finally:
            await store.close()


def _pg(sql: str) -> None:
    with closing(psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)) as conn:
        conn.execute(sql.encode())


async def _postgresql(writes: int, ticks: int) -> tuple[float, float] | None:
    schema = f"hb_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        _pg(f"CREATE SCHEMA {schema}")
    except psycopg.Error as exc:
        print(
            f"# bench_store: PostgreSQL at {PG_URL} not usable ({exc}): left out", file=sys.stderr
        )
        return None
    try:
        store = await PostgresStore.open(PG_URL, "bench", path=Path("bench"), schema=schema)
        try:
            return await _measure(store, writes, ticks)
        finally:
            await store.close()
    finally:
        _pg(f"DROP SCHEMA {schema} CASCADE")


def run(writes: int = WRITES, ticks: int = TICKS) -> dict[str, dict[str, Any]]:
    """The figures: committed writes/s and tick transactions/s on each backend."""
    figures: dict[str, dict[str, Any]] = {}
    backends: list[tuple[str, _Measure]] = [
        ("sqlite", _sqlite),
        ("postgresql", _postgresql),
    ]
    for name, measure in backends:
        rates = asyncio.run(measure(writes, ticks))
        if rates is None:
            continue
        figures[f"store_{name}_writes"] = {"value": round(rates[0], 1), "unit": "writes/s"}
        figures[f"store_{name}_tick_transactions"] = {"value": round(rates[1], 1), "unit": "tx/s"}
    return figures
