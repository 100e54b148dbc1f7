"""``make bench``: run every benchmark module, print a table, write bench/results.json
(merged with the figures of earlier runs this one did not produce: ``benchmarks.results``).

Benchmarks print figures and never assert on time (timed asserts are flaky on shared CI).
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any

from benchmarks.results import RESULTS, write_results

MODULES = [
    "bench_backtest",
    "bench_v3_read",
    "bench_multichain",
    "bench_latency",
    "bench_block_ack",
    "bench_venues",
    "bench_venue_calls",
    "bench_store",
    "bench_store_growth",
    "bench_store_start",  # 200,000 snapshots: replay time and peak RSS at start-up
    "bench_soak",  # SHORT_TICKS here; `make soak` runs the 100,000-tick soak
    "bench_fleet_mqtt",
    "bench_fleet_positions",
]


def main() -> int:
    """Run the benchmarks named on the command line, or all of them."""
    wanted = sys.argv[1:] or MODULES
    results: dict[str, dict[str, Any]] = {}
    for name in wanted:
        started = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        figures = module.run()
        results.update(figures)
        print(f"# {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    width = max((len(k) for k in results), default=10)
    print(f"{'benchmark':<{width}}  {'value':>14}  unit")
    for key, figure in results.items():
        value = figure["value"]
        shown = f"{value:,.3f}" if isinstance(value, float) else f"{value:,}"
        print(f"{key:<{width}}  {shown:>14}  {figure['unit']}")
    kept = write_results(results)
    print(f"wrote {RESULTS}", file=sys.stderr)
    if kept:
        print(f"kept from earlier runs: {', '.join(kept)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
