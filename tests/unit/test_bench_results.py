"""``bench/results.json`` keeps the figures of earlier runs a run did not produce (``make
soak``'s 100,000-tick figures beside ``make bench``'s), and a run's own figures replace
theirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.results import write_results

pytestmark = pytest.mark.unit


def test_a_run_replaces_its_own_figures_and_keeps_the_others(tmp_path: Path) -> None:
    out = tmp_path / "bench" / "results.json"
    soak = {"soak_rss_growth_pct": {"value": 0.9, "unit": "% over 100,000 ticks"}}
    assert write_results(soak, out) == []
    bench = {
        "soak_short_rss_growth_pct": {"value": 0.2, "unit": "% over 3,000 ticks"},
        "latency_block_to_ack_p99": {"value": 17.3, "unit": "ms"},
    }
    assert write_results(bench, out) == ["soak_rss_growth_pct"]
    again = {"latency_block_to_ack_p99": {"value": 18.0, "unit": "ms"}}
    assert write_results(again, out) == ["soak_rss_growth_pct", "soak_short_rss_growth_pct"]
    assert json.loads(out.read_text()) == {
        "latency_block_to_ack_p99": {"value": 18.0, "unit": "ms"},
        "soak_rss_growth_pct": {"value": 0.9, "unit": "% over 100,000 ticks"},
        "soak_short_rss_growth_pct": {"value": 0.2, "unit": "% over 3,000 ticks"},
    }


@pytest.mark.parametrize(
    "earlier",
    ["{not json", "[1, 2]", '{"a": 1, "b": {"value": 1}}', ""],
    ids=["broken", "list", "shapeless", "empty"],
)
def test_a_malformed_earlier_file_is_replaced_not_merged(tmp_path: Path, earlier: str) -> None:
    out = tmp_path / "results.json"
    out.write_text(earlier)
    figure = {"x": {"value": 1, "unit": "requests"}}
    assert write_results(figure, out) == []
    assert json.loads(out.read_text()) == figure
