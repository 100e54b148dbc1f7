"""``/metrics`` and ``/healthz`` over real HTTP (bot/telemetry/metrics.py)."""

from __future__ import annotations

import aiohttp
import pytest

from bot.clock import ManualClock
from bot.telemetry.metrics import Metrics, MetricsServer

pytestmark = pytest.mark.integration


async def test_metrics_and_healthz_over_http() -> None:
    """GET /metrics serves the exposition; /healthz turns 200 after a tick and 503 when stale."""
    clock = ManualClock(1_000.0)
    metrics = Metrics(max_tick_age_s=30, clock=clock)
    async with MetricsServer(metrics, "127.0.0.1", 0) as server, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{server.port}"
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 503
            assert (await response.json())["reason"] == "no successful tick yet"
        metrics.observe_tick(0.12)
        metrics.observe_order("filled")
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "ok"
        async with http.get(f"{base}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = await response.text()
            assert "hedgebot_ticks_total 1.0" in text
            assert 'hedgebot_orders_total{outcome="filled"} 1.0' in text
            assert "hedgebot_tick_latency_seconds_bucket" in text
        clock.advance(31)
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 503
            body = await response.json()
            assert body["status"] == "unhealthy"
            assert "31.0s ago" in body["reason"]
