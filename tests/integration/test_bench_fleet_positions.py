"""The many-positions benchmark still runs end to end on a small book (no figure is judged
here: speed goals live in `make bench`, never in tests)."""

from __future__ import annotations

import pytest

from benchmarks import bench_fleet_positions

pytestmark = pytest.mark.integration


def test_one_engine_reads_and_hedges_every_v2_and_v3_position_of_the_book() -> None:
    """6 V3 NFTs and 6 V2 owners in one engine: every tick reads all 12 (the benchmark raises
    otherwise), in one batched eth_call set, and every figure is named and measured."""
    figures = bench_fleet_positions.run(v3_count=6, v2_count=6, ticks=4)
    prefix = "fleet_12_positions"
    names = ("ticks_per_s", "tick_median", "tick_p99", "tick_cpu_mean", "cpu_per_position")
    assert set(figures) == {f"{prefix}_{n}" for n in (*names, "eth_calls", "orders")}
    assert all(figures[f"{prefix}_{n}"]["value"] > 0 for n in names)
    assert figures[f"{prefix}_cpu_per_position"]["unit"] == "ms CPU per position per tick"
    assert 1 <= figures[f"{prefix}_eth_calls"]["value"] <= 3
    assert 0 <= figures[f"{prefix}_orders"]["value"] <= 4
