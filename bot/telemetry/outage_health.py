"""``/healthz``, ``/readyz`` and ``/metrics`` while the store is down and no engine runs.

A store outage ends the engine's session, and with it the session's metrics server
(``bot.store_outage``). So that the port does not close while the daemon is correctly
waiting for its database (an orchestrator would then kill a process that is doing the right
thing, or never start one whose database is late), :class:`StoreOutageHealth` serves the same
port between sessions, from the outage's start until the store answers again (or the daemon
stops or gives up); the next session's server takes the port back.

What it answers (docs/deploy.md, "Probes"):

* ``/healthz`` (liveness) **200**: the process is alive and retrying, nothing to restart.
  Body ``{"status": "waiting", "store": "unreachable since <ISO-8601 UTC>", "store_error",
  "outage_s", "probes_failed", "max_attempts", "trading": "stopped"}``.
* ``/readyz`` (readiness) **503** with the same body and ``"status": "unready"``: the bot
  does not hedge without its record.
* ``/metrics``: ``hedgebot_store_up 0`` and ``hedgebot_store_outage_seconds`` (seconds since
  the outage began). The engine's metrics come back with the next session.

Once ``max_attempts`` probes failed the daemon exits 1 (``--store-retries``) and the port
closes: liveness then fails as it should.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from bot.errors import StoreError
from bot.safety import describe_exc
from bot.telemetry.metrics import Health, MetricsServer

__all__ = ["StoreOutageHealth"]

_log = structlog.get_logger("hedgebot.telemetry.outage_health")


@dataclass
class _Outage:
    since_s: float
    error: str
    max_attempts: int
    probes_failed: int = 0


class StoreOutageHealth:
    """The health answer of a daemon waiting for its store, served on ``host:port`` while an
    outage lasts (an ``OutageWatch`` of ``bot.store_outage.supervise``).

    ``now`` is the wall clock in unix seconds (a test may pass its own). A port that cannot be
    bound is logged (``health.outage_port_unavailable``) and the wait goes on without it: the
    outage itself must never end the daemon sooner.
    """

    def __init__(self, host: str, port: int, *, now: Callable[[], float] = time.time) -> None:
        self.host = host
        self.requested_port = port
        self._now = now
        self._outage: _Outage | None = None
        self._server: MetricsServer | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        self._store_up = Gauge(
            "hedgebot_store_up",
            "0 while the store cannot be reached (served only during an outage)",
            registry=self.registry,
        )
        self._outage_s = Gauge(
            "hedgebot_store_outage_seconds",
            "Seconds since the store outage began",
            registry=self.registry,
        )

    @property
    def port(self) -> int | None:
        """The bound port while serving, else None."""
        return None if self._server is None else self._server.port

    async def begin(self, error: StoreError, max_attempts: int) -> None:
        """Start answering for the outage that ``error`` began (idempotent per outage)."""
        self._outage = _Outage(self._now(), describe_exc(error), max_attempts)
        if self._server is not None:
            return
        server = MetricsServer(self, host=self.host, port=self.requested_port)
        try:
            await server.start()
        except OSError as exc:
            _log.warning(
                "health.outage_port_unavailable",
                host=self.host,
                port=self.requested_port,
                error=exc.strerror or str(exc),
            )
            return
        self._server = server
        _log.info("health.serving_outage", host=self.host, port=server.port)

    def probe_failed(self, attempt: int, error: StoreError) -> None:
        """Count a failed probe; the body carries the latest error."""
        if self._outage is not None:
            self._outage.probes_failed = attempt
            self._outage.error = describe_exc(error)

    async def end(self) -> None:
        """Stop answering (the port is free for the next session's server)."""
        self._outage = None
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    def _body(self, status: str) -> dict[str, Any]:
        outage = self._outage
        if outage is None:  # between end() and the server's close: say so, never "ok"
            return {"status": status, "store": "unknown (engine restarting)"}
        since = datetime.fromtimestamp(outage.since_s, UTC).isoformat(timespec="seconds")
        return {
            "status": status,
            "store": f"unreachable since {since.replace('+00:00', 'Z')}",
            "store_error": outage.error,
            "outage_s": round(max(0.0, self._now() - outage.since_s), 3),
            "probes_failed": outage.probes_failed,
            "max_attempts": outage.max_attempts,
            "trading": "stopped: no orders until the store is back and reconciled",
        }

    def health(self) -> Health:
        """Liveness: 200, the process is waiting as it should."""
        return Health(True, self._body("waiting"))

    def readiness(self) -> Health:
        """Readiness: 503, no hedging without the record."""
        return Health(False, self._body("unready"))

    def exposition(self) -> bytes:
        """``hedgebot_store_up 0`` and the outage's age, Prometheus text format."""
        if self._outage is not None:
            self._store_up.set(0)
            self._outage_s.set(max(0.0, self._now() - self._outage.since_s))
        else:
            self._store_up.set(float("nan"))
            self._outage_s.set(float("nan"))
        return generate_latest(self.registry)
