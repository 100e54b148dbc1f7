"""The per-venue tick-to-ack benchmark runs every path, Hyperliquid's included (a handful of
ticks; no figure is judged here: speed goals live in `make bench`, never in tests)."""

from __future__ import annotations

import pytest

from benchmarks import bench_venues

pytestmark = pytest.mark.integration


def test_venue_latency_benchmark_names_every_path() -> None:
    """`bench_venues` places an order on every tick through paper, ccxt+Binance emulator and
    ccxt+Hyperliquid emulator and reports median and p99 for each, under distinct names."""
    figures = bench_venues.run(ticks=5)
    paths = ("paper", "binance", "hyperliquid")
    assert set(figures) == {
        f"latency_tick_to_ack_{q}_{p}" for p in paths for q in ("median", "p99")
    }
    assert all(f["unit"] == "ms" and f["value"] > 0 for f in figures.values())
