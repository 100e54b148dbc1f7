"""`bench_block_ack` still runs: both head sources drive the engine to acknowledged orders (a
few samples; no figure is judged here: speed goals live in `make bench`, never in tests)."""

from __future__ import annotations

import pytest

from benchmarks import bench_block_ack

pytestmark = pytest.mark.integration


def test_block_to_ack_benchmark_names_both_modes() -> None:
    """Streamed and polling samples each end in an acknowledged order; every figure is named."""
    figures = bench_block_ack.run(streamed=3, polling=2)
    names = {
        f"latency_block_to_{what}_{q}_{mode}"
        for what, quantiles in (("ack", ("median", "p99")), ("head", ("median",)))
        for q in quantiles
        for mode in ("streamed", "polling")
    }
    assert set(figures) == names
    assert all(f["unit"] == "ms" and f["value"] > 0 for f in figures.values())
