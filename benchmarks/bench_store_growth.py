"""Store bytes per day at 4 blocks per second, one V2 and one V3 position (issue 16, item 3).

One simulated hour of ticks at 4 blocks/s (14,400 ticks) is written through the store's own
methods to a SQLite file, with the store's snapshot policy deciding, tick by tick, which
snapshot and decision rows are kept (``bot.store.snapshot_policy``, the defaults of the
``store`` section, through ``bot.store.decision_runs.keep_tick``: exactly what
``AccountSteps`` runs, a quiet repeat extending its decision run's row). The pool price is a
seeded random walk of 60 % annual volatility per block; the positions' amounts, value, delta
and gamma come from ``bot.core.amm`` / ``bot.core.v3`` (V2: 10 base + 20,000 quote; V3: a
±10 % range); a rebalance (write-ahead intent, order update, fill) is written whenever the hedge
drifts more than 2 % from the delta, as the threshold policy would. The figure is the
file's used pages after the hour, less the empty store's, times 24.
``store_bytes_per_day_every_tick`` is the same over 1,440 ticks with every snapshot and
decision kept (the store before the policy), times 240. Prints figures, never asserts.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tempfile
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.core.amm import v2_delta, v2_gamma, v2_value
from bot.core.v3 import v3_amounts, v3_delta, v3_gamma
from bot.domain import (
    ChainSnapshot,
    Decision,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    PositionExposure,
    Side,
)
from bot.store.decision_runs import keep_tick
from bot.store.snapshot_policy import KeptTick, SnapshotPolicy
from bot.store.sqlite import SqliteStore

BLOCKS_PER_S = 4
HOUR_TICKS = 3600 * BLOCKS_PER_S
EVERY_TICK_TICKS = HOUR_TICKS // 10
SIGMA_PER_BLOCK = 0.6 / (365 * 86400 * BLOCKS_PER_S) ** 0.5
SYMBOL = "ETH/USDT:USDT"
D = Decimal
V2_L = D(20000).sqrt() * 10  # 10 base + 20,000 quote at 2000
V3_L, V3_LOW, V3_HIGH = D(5000), D(2000) / D("1.1"), D(2000) * D("1.1")


def _snapshot(block: int, price: Decimal, fees: Decimal) -> ChainSnapshot:
    v2_base = v2_delta(V2_L, price)
    v2 = PositionExposure(
        "v2:pair",
        "v2",
        v2_base,
        v2_base * price,
        v2_value(V2_L, price),
        v2_base,
        v2_gamma(V2_L, price),
        price,
        fees_quote=fees,
    )
    base, quote = v3_amounts(V3_L, price, V3_LOW, V3_HIGH)
    v3 = PositionExposure(
        "v3:4242",
        "v3",
        base,
        quote,
        base * price + quote,
        v3_delta(V3_L, price, V3_LOW, V3_HIGH),
        v3_gamma(V3_L, price, V3_LOW, V3_HIGH),
        price,
        fees_base=fees / price,
        fees_quote=fees,
        tick_lower=75_000,
        tick_upper=77_000,
        liquidity=5_000 * 10**18,
        protocol="uniswap_v3",
    )
    return ChainSnapshot(
        block, 1_700_000_000 + block // BLOCKS_PER_S, f"0x{block:064x}", price, (v2, v3)
    )


def _decision(snapshot: ChainSnapshot, hedge: Decimal, price: Decimal) -> Decision:
    delta = snapshot.delta_base
    drift = hedge + delta
    band = abs(delta) * D("0.02")
    if abs(drift) <= band:
        return Decision("hold", "inside band", delta, -delta, hedge, drift, band, mark_price=price)
    side = Side.SELL if drift > 0 else Side.BUY
    return Decision(
        "rebalance",
        "drift beyond band",
        delta,
        -delta,
        hedge,
        drift,
        band,
        side,
        abs(drift),
        mark_price=price,
    )


async def _trade(store: SqliteStore, ts: float, block: int, d: Decision) -> None:
    assert d.order_side is not None
    cid = f"hb-{block}-1"
    intent = OrderIntent(cid, SYMBOL, d.order_side, d.order_amount_base, False, d.mark_price)
    await store.record_intent(ts, block, intent)
    order = Order(
        cid,
        f"x{block}",
        SYMBOL,
        d.order_side,
        d.order_amount_base,
        d.order_amount_base,
        d.mark_price,
        OrderStatus.FILLED,
        False,
    )
    await store.record_order(ts, order)
    fee = d.order_amount_base * (d.mark_price or D(0)) * D("0.0004")
    await store.record_fill(
        Fill(
            f"t{block}",
            cid,
            f"x{block}",
            SYMBOL,
            d.order_side,
            d.order_amount_base,
            d.mark_price or D(0),
            fee,
            D(0),
            int(ts * 1000),
        )
    )


def _used_bytes(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


async def simulate(path: Path, ticks: int, policy: SnapshotPolicy) -> tuple[int, int, int]:
    """Write ``ticks`` ticks; (bytes added, snapshots kept, decisions kept)."""
    store = await SqliteStore.open(path)
    await store.close()
    empty = _used_bytes(path)
    store = await SqliteStore.open(path)
    store.snapshot_policy = policy
    rng = random.Random(16)
    price, hedge, fees = D(2000), D(0), D(0)
    kept, snapshots, decisions = KeptTick(), 0, 0
    try:
        for n in range(ticks):
            block, ts = 20_000_000 + n, 1_700_000_000 + n / BLOCKS_PER_S
            price = (price * D(1 + rng.gauss(0.0, SIGMA_PER_BLOCK))).quantize(D("0.000001"))
            fees += D("0.0003")
            snapshot = _snapshot(block, price, fees)
            decision = _decision(snapshot, hedge, price)
            async with store.transaction():
                traded = decision.action == "rebalance"
                if traded:
                    await _trade(store, ts, block, decision)
                    hedge = -snapshot.delta_base
                rows = await keep_tick(store, kept, ts, block, snapshot, decision, traded=traded)
                kept = rows.kept
                snapshots += rows.snapshot_kept
                decisions += rows.decision_row == "new"
    finally:
        await store.close()
    return _used_bytes(path) - empty, snapshots, decisions


def run() -> dict[str, dict[str, Any]]:
    """The figures of this module (``python -m benchmarks bench_store_growth``)."""
    with tempfile.TemporaryDirectory() as tmp:
        policy = SnapshotPolicy()
        added, snapshots, decisions = asyncio.run(
            simulate(Path(tmp) / "p.sqlite", HOUR_TICKS, policy)
        )
        every, _, _ = asyncio.run(
            simulate(Path(tmp) / "e.sqlite", EVERY_TICK_TICKS, SnapshotPolicy(D(0), 0.0))
        )
    per_day = 86400 * BLOCKS_PER_S
    return {
        "store_bytes_per_day_at_4_blocks_per_s": {
            "value": round(added * per_day / HOUR_TICKS / 1e6, 2),
            "unit": f"MB/day, V2+V3, snapshot policy defaults (tolerance {policy.tolerance}, "
            f"interval {policy.interval_s:g} s), 1 h simulated x 24 (goal < 20)",
        },
        "store_snapshots_kept_per_hour_at_4_blocks_per_s": {
            "value": snapshots,
            "unit": f"of {HOUR_TICKS} ticks ({decisions} decision rows; every tick's "
            "decision counted in them, a quiet repeat extending its run)",
        },
        "store_bytes_per_day_every_tick": {
            "value": round(every * per_day / EVERY_TICK_TICKS / 1e6, 1),
            "unit": "MB/day, V2+V3, every snapshot and decision kept (before the policy)",
        },
    }


if __name__ == "__main__":
    for key, figure in run().items():
        print(f"{key}: {figure['value']} {figure['unit']}")
