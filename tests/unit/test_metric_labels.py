"""Prometheus label sets are fixed: no text from an event, a venue or a peer adds a series."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.domain import OrderStatus
from bot.telemetry.metrics import Metrics

pytestmark = pytest.mark.unit


def _labels(metrics: Metrics, family_name: str, label: str) -> set[str]:
    text = metrics.exposition().decode()
    return {
        sample.labels[label]
        for family in text_string_to_metric_families(text)
        if family.name == family_name
        for sample in family.samples
        if label in sample.labels
    }


def test_order_outcomes_and_error_sources_are_fixed_sets() -> None:
    """1,000 distinct unknown order statuses and error sources are counted as ``other``: the
    label sets are the order statuses, the three sources, and ``other``."""
    metrics = Metrics()
    for status in OrderStatus:
        metrics.observe_order(status.value)
    for n in range(1000):
        metrics.observe_order(f"weird-{n}")
        metrics.observe_error(f"peer-{n}")  # type: ignore[arg-type]
    metrics.observe_error("chain")
    outcomes = _labels(metrics, "hedgebot_orders", "outcome")
    assert outcomes == {s.value for s in OrderStatus} | {"other"}
    assert _labels(metrics, "hedgebot_errors", "source") == {"chain", "exchange", "broker", "other"}
    text = metrics.exposition().decode()
    assert 'hedgebot_orders_total{outcome="other"} 1000.0' in text
    assert 'hedgebot_errors_total{source="other"} 1000.0' in text
