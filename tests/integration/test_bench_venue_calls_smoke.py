"""``bench_venue_calls`` still runs on its three paths (a handful of ticks; its figures are
judged in ``make bench``, never here) and names each figure."""

from __future__ import annotations

import pytest

from benchmarks import bench_venue_calls

pytestmark = pytest.mark.integration


def test_venue_calls_benchmark_counts_every_tick_on_every_venue_path() -> None:
    figures = bench_venue_calls.run(quiet=3, trading=2)
    names = {
        f"venue_rest_calls_per_{kind}{suffix}"
        for kind in ("quiet_tick", "quiet_tick_mean", "trading_tick")
        for suffix in ("", "_hyperliquid", "_streaming")
    }
    assert set(figures) == names
    assert all(f["unit"] == "requests" for f in figures.values())
    assert figures["venue_rest_calls_per_quiet_tick"]["value"] == 2  # mark + position
    assert figures["venue_rest_calls_per_trading_tick"]["value"] > 2  # book, order at least
    # streaming: the mark and the position come from the streams, the order is still REST
    assert figures["venue_rest_calls_per_quiet_tick_streaming"]["value"] == 0
    assert figures["venue_rest_calls_per_trading_tick_streaming"]["value"] >= 2
