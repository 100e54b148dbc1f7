"""The benchmarks still run (a handful of iterations; no figure is judged here: speed goals
live in `make bench`, never in tests)."""

from __future__ import annotations

import pytest

from benchmarks import bench_latency

pytestmark = pytest.mark.integration


def test_latency_benchmark_reports_every_stage() -> None:
    """`bench_latency` drives ordering ticks through ccxt + emulator and names each figure."""
    figures = bench_latency.run(ticks=5)
    stages = ("tick_to_ack", "chain_read", "market_read", "decision", "order_round_trip")
    assert set(figures) == {f"latency_{s}_{q}" for s in stages for q in ("median", "p99")}
    assert all(f["unit"] == "ms" for f in figures.values())
    assert all(f["value"] > 0 for f in figures.values())
