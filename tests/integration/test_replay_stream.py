"""The PnL replay streamed from a real store (SQLite file and PostgreSQL schema): a page of
rows at a time, equal to the in-memory replay; the start-up's checkpoint folds only the rows
after it, equals the full replay, and is refused when the records it covers changed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from store_backends import BACKENDS, Backend, backend_for
from test_report import SYMBOL, decision, snapshot

from bot.domain import Fill, FundingPayment, OrderIntent, Side
from bot.replay_store import resume_report, save_checkpoint, stream_report
from bot.report import build_report
from bot.store.base import RecordStore

pytestmark = pytest.mark.integration

D = Decimal


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from backend_for(request.param, tmp_path)


def _price(block: int) -> str:
    return str(2000 + (block * 37) % 101 - 50)


async def record_ticks(store: RecordStore, first: int, count: int) -> None:
    """``count`` ticks from block ``first`` (record time = block seconds): a decision with a
    mark on most ticks (none on every 7th), a rebalance with an own fill every 5th, a manual
    fill (no intent: by time) every 11th, funding every 9th."""
    for block in range(first, first + count):
        ts = float(block)
        await store.record_snapshot(ts, snapshot(block, _price(block), "1", "2000"))
        if block % 7:
            d = decision("-1", "rebalance" if block % 5 == 0 else "hold")
            mark = D(_price(block)) + D("0.5")
            await store.record_decision(ts, block, replace_mark(d, mark))
        if block % 5 == 0:
            cid = f"hb-{block}-1"
            await store.record_intent(
                ts, block, OrderIntent(cid, SYMBOL, Side.SELL, D("0.1"), False, D(1))
            )
            await store.record_fill(
                Fill(
                    f"t{block}",
                    cid,
                    "x",
                    SYMBOL,
                    Side.SELL,
                    D("0.1"),
                    D(_price(block)),
                    D("0.03"),
                    D(0),
                    block * 1000 + 200,
                )
            )
        if block % 11 == 0:
            await store.record_fill(
                Fill(
                    f"m{block}",
                    "manual",
                    "y",
                    SYMBOL,
                    Side.BUY,
                    D("0.05"),
                    D(_price(block)),
                    D("0.01"),
                    D(0),
                    block * 1000 + 500,
                )
            )
        if block % 9 == 0:
            await store.record_funding(
                FundingPayment(
                    f"f{block}", SYMBOL, D("0.7"), D("0.0001"), D(-1), D(2000), block * 1000 + 300
                )
            )


def replace_mark(d: Any, mark: D) -> Any:
    from dataclasses import replace

    return replace(d, mark_price=mark)


async def in_memory(store: RecordStore) -> Any:
    return build_report(
        await store.read_snapshots(),
        await store.read_decisions(),
        await store.read_fills(),
        await store.read_funding(),
        await store.intent_blocks(),
    )


def count_reads(store: RecordStore) -> list[tuple[str, int]]:
    """Wrap the real store's reads: each query's SQL and how many rows it returned."""
    seen: list[tuple[str, int]] = []
    fetch: Callable[..., Awaitable[list[tuple[Any, ...]]]] = store._fetch

    async def counting(template: str, **values: Any) -> list[tuple[Any, ...]]:
        rows = await fetch(template, **values)
        seen.append((template, len(rows)))
        return rows

    store._fetch = counting  # type: ignore[method-assign]
    return seen


def tick_table_reads(seen: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(sql, n) for sql, n in seen if re.search(r"FROM (snapshots|decisions)\b", sql)]


def test_streamed_replay_equals_the_in_memory_replay(store_backend: Backend) -> None:
    """Pages of 7 rows over 60 ticks with fills by intent and by time, funding, a fill and a
    payment before the first snapshot and ticks without a mark: the same final state, the
    same summary except the chart's sample, which keeps the first and last tick."""

    async def run() -> None:
        store = await store_backend.open()
        try:
            await store.record_fill(
                Fill(
                    "early", "manual", "z", SYMBOL, Side.SELL, D("0.2"), D(2000), D(0), D(0), 50_000
                )
            )
            await store.record_funding(
                FundingPayment("f-early", SYMBOL, D(1), D(0), D(0), D(1), 60_000)
            )
            await record_ticks(store, 100, 60)
            full = await in_memory(store)
            streamed = await stream_report(store, max_points=10, page_rows=7)
        finally:
            await store.close()
        assert streamed is not None
        assert streamed.final_state == full.final_state
        assert streamed.final == full.final
        assert streamed.summary() == full.summary()
        assert streamed.ticks == 60
        assert len(streamed.points) <= 2 * 10 + 1
        assert streamed.points[0] == full.points[0]
        assert streamed.points[-1] == full.points[-1]
        assert streamed.fills_used == full.fills_used

    asyncio.run(run())


def test_resume_reads_only_the_rows_after_the_checkpoint(store_backend: Backend) -> None:
    """The start-up's replay: with a checkpoint kept after 300 ticks, 20 new ticks are folded
    from 21 snapshot rows (and their decisions); every read of the tick tables is a page
    (LIMIT), one row or an aggregate; the state equals the full replay's."""

    async def run() -> None:
        store = await store_backend.open()
        try:
            await record_ticks(store, 100, 300)
            _, checkpoint = await resume_report(store, page_rows=50)
            assert checkpoint is not None
            await save_checkpoint(store, checkpoint)
            await record_ticks(store, 400, 20)
            full = await in_memory(store)
            seen = count_reads(store)
            resumed, _ = await resume_report(store, page_rows=50)
        finally:
            await store.close()
        assert resumed is not None
        assert resumed.final_state == full.final_state
        assert resumed.ticks == full.ticks == 320
        reads = tick_table_reads(seen)
        for sql, _ in reads:
            assert re.search(r"LIMIT|COUNT\(|MIN\(", sql), sql
        snapshot_rows = sum(n for sql, n in reads if "SELECT id, ts, body FROM snapshots" in sql)
        decision_rows = sum(n for sql, n in reads if "FROM decisions" in sql)
        assert snapshot_rows == 21  # the checkpoint's successor and the 20 new ticks
        assert decision_rows <= 21

    asyncio.run(run())


def test_a_changed_history_refuses_the_checkpoint(store_backend: Backend) -> None:
    """A fill recorded late for a tick the checkpoint folded, or snapshots removed by
    compaction: the checkpoint is not trusted and the replay folds from the first tick, equal
    to the full replay."""

    async def run() -> None:
        store = await store_backend.open()
        try:
            await record_ticks(store, 100, 40)
            _, checkpoint = await resume_report(store)
            assert checkpoint is not None
            await save_checkpoint(store, checkpoint)
            # late: the venue reports a second fill of block 110's intent after the restart
            await store.record_fill(
                Fill(
                    "t110-late",
                    "hb-110-1",
                    "x",
                    SYMBOL,
                    Side.SELL,
                    D("0.4"),
                    D(1990),
                    D("0.2"),
                    D(0),
                    110_900,
                )
            )
            full = await in_memory(store)
            seen = count_reads(store)
            resumed, _ = await resume_report(store)
            assert resumed is not None
            assert resumed.final_state == full.final_state
            assert sum(n for sql, n in tick_table_reads(seen) if "body FROM snapshots" in sql) == 40
            _, checkpoint = await resume_report(store)
            assert checkpoint is not None
            await save_checkpoint(store, checkpoint)
            ids = [row_id for row_id, _, _ in await store.snapshot_index()][1:5]
            assert await store.delete_snapshots(ids) == 4
            resumed, _ = await resume_report(store)
            assert resumed is not None
            assert resumed.final_state == (await in_memory(store)).final_state
            assert resumed.ticks == 36
        finally:
            await store.close()

    asyncio.run(run())
