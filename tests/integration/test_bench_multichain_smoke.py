"""``bench_multichain`` still runs with a handful of positions (its figures are judged in
``make bench``, never here) and names each figure."""

from __future__ import annotations

import pytest

from benchmarks import bench_multichain

pytestmark = pytest.mark.integration


def test_multichain_benchmark_reads_every_position_on_both_chains() -> None:
    """8 positions (2 per chain and protocol): every figure named, one batched eth_call per
    chain and protocol per tick (the bench itself checks both chains' positions are read)."""
    figures = bench_multichain.run(positions=8, repeats=2)
    assert set(figures) == {
        "multichain_read_8_positions_ms",
        "multichain_read_8_positions_ms_p99",
        "multichain_read_8_positions_eth_calls",
        "multichain_8_positions_setup_s",
    }
    assert figures["multichain_read_8_positions_eth_calls"]["value"] == 4  # 2 chains x V3, V4
    assert figures["multichain_read_8_positions_ms"]["unit"].startswith("ms per tick")


def test_multichain_benchmark_refuses_a_count_it_cannot_spread_evenly() -> None:
    """A position count that is not a multiple of 4 (2 chains x 2 protocols) is refused."""
    with pytest.raises(ValueError, match="multiple of 4"):
        bench_multichain.run(positions=10)
