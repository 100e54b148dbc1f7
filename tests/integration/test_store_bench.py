"""The store benchmark still runs on both backends (a few iterations; no figure is judged:
speed goals live in `make bench`, never in tests)."""

from __future__ import annotations

import pytest
from store_backends import require_pg

from benchmarks import bench_store

pytestmark = pytest.mark.integration


def test_store_benchmark_names_both_backends_figures() -> None:
    """`bench_store` writes through SQLite and PostgreSQL and reports each rate."""
    require_pg()
    figures = bench_store.run(writes=20, ticks=10)
    backends = ("sqlite", "postgresql")
    kinds = {"writes": "writes/s", "tick_transactions": "tx/s"}
    assert set(figures) == {f"store_{b}_{k}" for b in backends for k in kinds}
    for backend in backends:
        for kind, unit in kinds.items():
            figure = figures[f"store_{backend}_{kind}"]
            assert figure["unit"] == unit
            assert figure["value"] > 0
