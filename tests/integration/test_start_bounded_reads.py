"""Engine start-up on a real anvil pool and the paper venue reads no tick table whole (issue 19
review item 1): the PnL comes from the checkpoint the previous run kept plus the ticks after
it, page by page, and equals the full replay of the store."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_restart_reconcile import tick_at, world

from bot.app import build_bot
from bot.replay_store import stream_report
from bot.sim.anvil import Anvil
from bot.store.meta import MetaKey

pytestmark = pytest.mark.integration


async def test_restart_folds_only_the_ticks_after_the_kept_checkpoint(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Run 1 ticks through price moves (trades, fills) and stops; run 2's start keeps a
    checkpoint, ticks three more times; run 3's start (every read counted through the real
    store) reads the snapshot and decision tables only by page, row or aggregate, at most the
    ticks after the checkpoint, and its PnL state is the full replay's."""
    async with world(anvil_node, tmp_path, "paper") as w:
        first = await w.bot()
        try:
            for move in ("1.05", "0.95", "1.1", "1.0", "0.9"):
                await tick_at(w, first, w.chain.target_price * Decimal(move))
        finally:
            await first.close()
        second = await w.bot()
        try:
            assert await second.store.get_meta(MetaKey.PNL_CHECKPOINT) is not None
            for move in ("1.02", "0.98", "1.04"):
                await tick_at(w, second, w.chain.target_price * Decimal(move))
        finally:
            await second.close()

        third = await build_bot(w.settings, clock=w.clock, exchange=w.adapter())
        try:
            full = await stream_report(third.store)
            assert full is not None
            seen: list[tuple[str, int]] = []
            fetch = third.store._fetch

            async def counting(template: str, **values: Any) -> list[tuple[Any, ...]]:
                rows = await fetch(template, **values)
                seen.append((template, len(rows)))
                return rows

            third.store._fetch = counting  # type: ignore[method-assign]
            await third.engine.start()
            assert third.engine.pnl == full.final_state
        finally:
            await third.close()
    tick_reads = [(sql, n) for sql, n in seen if re.search(r"FROM (snapshots|decisions)\b", sql)]
    assert tick_reads
    for sql, _ in tick_reads:
        assert re.search(r"LIMIT|COUNT\(|MIN\(", sql), sql
    snapshot_rows = sum(n for sql, n in tick_reads if "body FROM snapshots" in sql)
    assert 1 <= snapshot_rows <= 3 + 1  # the ticks after the checkpoint and its successor
