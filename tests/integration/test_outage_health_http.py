"""``/healthz``, ``/readyz`` and ``/metrics`` over real HTTP while the store is down
(bot/telemetry/outage_health.py), and ``/readyz`` of a running session (metrics.py)."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from bot.clock import ManualClock
from bot.errors import StoreUnreachable
from bot.telemetry.metrics import Metrics, MetricsServer
from bot.telemetry.outage_health import StoreOutageHealth

pytestmark = pytest.mark.integration

START_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_outage_answers_live_but_not_ready_then_frees_the_port() -> None:
    """During an outage /healthz is 200 (waiting: liveness must not kill it), /readyz 503,
    both naming since when the store is unreachable, the last error and the probes; after
    end() the same port is free for the next session's server."""
    clock = ManualClock(START_S)
    port = _free_port()
    health = StoreOutageHealth("127.0.0.1", port, now=clock.now)
    await health.begin(StoreUnreachable("store db cannot be used: connection refused"), 20)
    try:
        assert health.port == port
        clock.advance(42)
        health.probe_failed(3, StoreUnreachable("store db cannot be used: timeout expired"))
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{port}"
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
                live = await response.json()
            async with http.get(f"{base}/readyz") as response:
                assert response.status == 503
                ready = await response.json()
            async with http.get(f"{base}/metrics") as response:
                text = await response.text()
        assert live["status"] == "waiting"
        assert ready["status"] == "unready"
        for body in (live, ready):
            assert body["store"] == "unreachable since 2026-01-01T00:00:00Z"
            error = "StoreUnreachable: store db cannot be used: timeout expired"
            assert body["store_error"] == error
            assert body["outage_s"] == 42.0
            assert (body["probes_failed"], body["max_attempts"]) == (3, 20)
            assert body["trading"].startswith("stopped")
        assert "hedgebot_store_up 0.0" in text
        assert "hedgebot_store_outage_seconds 42.0" in text
    finally:
        await health.end()
    assert health.port is None
    metrics = Metrics(max_tick_age_s=30, clock=clock)
    async with MetricsServer(metrics, "127.0.0.1", port) as server:  # the port is free again
        assert server.port == port


async def test_a_taken_port_does_not_end_the_wait() -> None:
    """The port held by something else: begin() logs and returns (no exception), serving
    nothing; the daemon keeps waiting for its store."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = int(holder.getsockname()[1])
        health = StoreOutageHealth("127.0.0.1", port)
        await health.begin(StoreUnreachable("connection refused"), 5)
        assert health.port is None
        assert health.health().ok  # still answers in-process
        await health.end()


async def test_readyz_follows_healthz_while_a_session_runs() -> None:
    """In a session /readyz answers as /healthz: 503 before the first tick, 200 after it."""
    clock = ManualClock(1_000.0)
    metrics = Metrics(max_tick_age_s=30, clock=clock)
    async with MetricsServer(metrics, "127.0.0.1", 0) as server, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{server.port}"
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 503
            assert (await response.json())["reason"] == "no successful tick yet"
        metrics.observe_tick(0.1)
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "ok"
