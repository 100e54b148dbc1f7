"""Every decision in the audit trail on SQLite and PostgreSQL: a quiet hold repeating the last
decision extends that row's run (last block, last time, count) instead of adding a row, and
the readers (runs, the total, the dashboard's history) count each run as that many
decisions; a store from before the runs (schema version 2) reads as runs of one."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from store_backends import BACKENDS, Backend, backend_for

from bot.domain import ChainSnapshot, Decision, PositionExposure
from bot.errors import StoreError
from bot.report import run_report
from bot.store.base import RecordStore
from bot.store.decision_runs import KeptRows, keep_tick
from bot.store.migrations import MIGRATIONS
from bot.store.snapshot_policy import KeptTick, SnapshotPolicy
from bot.telemetry.dashboard.history import history_series

pytestmark = pytest.mark.integration

D = Decimal
T0 = 1_700_000_000.0
ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from backend_for(request.param, tmp_path)


def _snapshot(block: int, delta: str = "10") -> ChainSnapshot:
    lp = PositionExposure("lp", "v2", D(delta), D(20000), D(40000), D(delta), D(0), D(2000))
    return ChainSnapshot(block, int(T0) + block, f"0x{block:064x}", D(2000), (lp,))


def _hold(reason: str = "inside band", target: str = "-10") -> Decision:
    return Decision("hold", reason, D(10), D(target), D(-10), D(0), D("0.5"), mark_price=D(2001))


async def _tick(
    store: RecordStore, kept: KeptTick, block: int, decision: Decision, delta: str = "10"
) -> KeptRows:
    async with store.transaction():
        return await keep_tick(
            store, kept, T0 + block, block, _snapshot(block, delta), decision, traded=False
        )


async def test_quiet_repeats_extend_one_row_and_count_as_decisions(
    store_backend: Backend,
) -> None:
    """100 ticks: a first hold, 49 quiet repeats (delta and target within the 1e-3
    tolerance, within the 60 s interval) take one row; a new reason opens a second run, a
    target beyond the tolerance a third, the interval's snapshot a fourth. The total is 100
    decisions in 4 rows, each run's first and last block as ticked."""
    store = await store_backend.open()
    try:
        store.snapshot_policy = SnapshotPolicy(D("0.001"), 60.0)
        kept, rows = KeptTick(), []
        for block in range(100):
            if block < 50:
                decision, delta = _hold(target="-10.005"), "10.005"
            elif block < 55:
                decision, delta = _hold("paused"), "10"
            else:
                decision, delta = _hold("paused", target="-10.02"), "10"
            step = await _tick(store, kept, block, decision, delta)
            kept = step.kept
            rows.append(step.decision_row)
        runs = await store.read_decision_runs()
        assert rows.count("new") == 4
        assert [(r.first_block, r.last_block, r.count) for r in runs] == [
            (0, 49, 50),
            (50, 54, 5),
            (55, 59, 5),
            (60, 99, 40),
        ]
        assert rows[60] == "new"  # the 60 s heartbeat snapshot brings its decision's row
        assert [r.decision.reason for r in runs] == ["inside band", "paused", "paused", "paused"]
        assert runs[0].first_ts == T0
        assert runs[0].last_ts == T0 + 49
        assert await store.decision_total() == 100
        assert await store.count("decisions") == 4
        last = await store.last_decision_run()
        assert last is not None
        assert (last.last_block, last.last_ts) == (99, T0 + 99)
        assert store_backend.rows("SELECT MAX(block) FROM decisions") == [(60,)]
        since = await store.read_decision_runs(since_ts=T0 + 58)
        assert [r.first_block for r in since] == [55, 60]
    finally:
        await store.close()


async def test_a_restart_opens_a_new_run_and_a_rebalance_never_extends(
    store_backend: Backend,
) -> None:
    """A restarted engine (``KeptTick()``) writes its first decision as a new row even when
    it repeats the stored one; a rebalance always has its own row."""
    store = await store_backend.open()
    try:
        kept = (await _tick(store, KeptTick(), 1, _hold())).kept
        kept = (await _tick(store, kept, 2, _hold())).kept
        assert (await _tick(store, KeptTick(), 3, _hold())).decision_row == "new"
        trade = replace(_hold("drift beyond band"), action="rebalance")
        first = await _tick(store, kept, 4, trade)
        again = await _tick(store, first.kept, 5, trade)
        assert (first.decision_row, again.decision_row) == ("new", "new")
        runs = await store.read_decision_runs()
        assert [(r.first_block, r.count) for r in runs] == [(1, 2), (3, 1), (4, 1), (5, 1)]
        assert await store.decision_total() == 5
    finally:
        await store.close()


async def test_extending_without_a_row_is_refused(store_backend: Backend) -> None:
    """No decision row yet: the extension raises ``StoreError`` and writes nothing."""
    store = await store_backend.open()
    try:
        with pytest.raises(StoreError, match="no decision row to extend"):
            await store.extend_decision_run(T0, 1)
        assert await store.decision_total() == 0
        assert await store.last_decision_run() is None
    finally:
        await store.close()


async def test_a_version_2_store_reads_as_runs_of_one_and_then_extends(
    store_backend: Backend,
) -> None:
    """Rows written before the runs (schema 2) are runs of one after the migration (their
    last block and time are their own); the newest then extends like any run."""
    old = await store_backend.open(migrations=MIGRATIONS[:2])
    try:
        for block in (7, 8):
            await old.record_decision(T0 + block, block, _hold())
    finally:
        await old.close()
    store = await store_backend.open()
    try:
        assert store_backend.rows("SELECT MAX(version) FROM schema_version") == [
            (MIGRATIONS[-1].version,)
        ]
        runs = await store.read_decision_runs()
        assert [(r.first_block, r.last_block, r.count, r.last_ts) for r in runs] == [
            (7, 7, 1, T0 + 7),
            (8, 8, 1, T0 + 8),
        ]
        await store.extend_decision_run(T0 + 9, 9)
        assert await store.decision_total() == 3
        last = await store.last_decision_run()
        assert last is not None
        assert (last.first_block, last.last_block, last.count) == (8, 9, 2)
    finally:
        await store.close()


async def test_the_dashboard_history_counts_and_draws_every_decision(
    store_backend: Backend,
) -> None:
    """The page's history: 30 decisions in 2 rows; a run draws at its first and last
    tick, so the delta chart spans to the last decision."""
    store = await store_backend.open()
    try:
        kept = KeptTick()
        for block in range(30):
            kept = (await _tick(store, kept, block, _hold("paused" if block >= 20 else "x"))).kept
        history = await history_series(store, "all")
        assert history["decisions"] == {"count": 30, "rows": 2}
        assert history["positions"]["block"] == [0, 19, 20, 29]
        assert history["positions"]["t"][-1] == T0 + 29
        one_hour = await history_series(store, "1h")
        assert one_hour["decisions"]["count"] == 30
    finally:
        await store.close()


async def test_the_report_counts_every_decision(
    store_backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``hedgebot report``: 25 decisions in 2 rows are 25 decisions, in the JSON and the
    table."""
    store = await store_backend.open(bot_id="runs-report")
    try:
        kept = KeptTick()
        for block in range(25):
            kept = (await _tick(store, kept, block, _hold("paused" if block >= 10 else "x"))).kept
    finally:
        await store.close()
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "bot_id": "runs-report",
                "chain": {"rpc_urls": ["http://127.0.0.1:8545"]},
                "positions": [{"id": "lp", "kind": "v2", "pool": "0x" + "a" * 40, "owner": ADDR}],
                "hedge_asset": {"base_token": "0x" + "b" * 40, "quote_token": "0x" + "c" * 40},
                "store": store_backend.store_config(),
            }
        )
    )
    assert await asyncio.to_thread(run_report, config, None, True) == 0
    assert json.loads(capsys.readouterr().out)["decisions"] == 25
    assert await asyncio.to_thread(run_report, config) == 0
    assert re.search(r"decisions\s*│?\s*25\b", capsys.readouterr().out)


async def test_the_newest_decision_is_the_last_repeat_of_its_run(store_backend: Backend) -> None:
    """``last_decision`` (``fleet status``'s newest decision): the run's last block and time,
    not its head's."""
    store = await store_backend.open()
    try:
        kept = KeptTick()
        for block in range(5):
            kept = (await _tick(store, kept, block, _hold())).kept
        newest = await store.last_decision()
        assert newest is not None
        assert newest[:2] == (T0 + 4, 4)
        assert newest[2].reason == "inside band"
    finally:
        await store.close()
