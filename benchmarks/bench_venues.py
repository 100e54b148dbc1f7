"""Tick-to-order-acknowledged latency per venue path, in one run: the in-process paper venue,
ccxt ``binanceusdm`` against the Binance emulator and ccxt ``hyperliquid`` against the
Hyperliquid emulator (``bench_latency`` does the timing; same world, seed and price swings).

Figures ``latency_tick_to_ack_{median,p99}_{paper,binance,hyperliquid}`` (ms). Prints
figures, never asserts on time.
"""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

from benchmarks.bench_latency import TICKS, _bench, _figures, _percentile
from bot.logging import configure_logging
from bot.sim.demo_venues import DemoVenue

# figure suffix -> the venue path (DemoVenue) it measures
PATHS: dict[str, DemoVenue] = {
    "paper": "paper",
    "binance": "emulator",
    "hyperliquid": "hyperliquid",
}


def run(ticks: int = TICKS) -> dict[str, dict[str, Any]]:
    """Median and p99 of tick-to-ack latency over ``ticks`` ordering ticks, per venue path."""
    configure_logging("warning", "console")
    print(f"tick -> order acknowledged per venue path, {ticks} ticks each")
    print(f"{'venue path':<14} {'median ms':>10} {'p99 ms':>10}")
    figures: dict[str, dict[str, Any]] = {}
    for suffix, venue in PATHS.items():
        values = _figures(asyncio.run(_bench(ticks, venue)))["tick_to_ack"]
        median, p99 = statistics.median(values), _percentile(values, 99)
        print(f"{suffix:<14} {median:>10.2f} {p99:>10.2f}")
        figures[f"latency_tick_to_ack_median_{suffix}"] = {"value": median, "unit": "ms"}
        figures[f"latency_tick_to_ack_p99_{suffix}"] = {"value": p99, "unit": "ms"}
    return figures


if __name__ == "__main__":
    run()
