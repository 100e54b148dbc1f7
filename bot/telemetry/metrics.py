"""Prometheus exposition, ``/healthz`` (liveness) and ``/readyz`` (readiness).

Metrics live in a registry owned by one ``Metrics`` object (no global registry), so several
bots or tests in one process never collide. ``/healthz`` answers 200 while the last
successful tick is younger than ``max_tick_age_s`` and 503 with a JSON reason otherwise; its
body also says what may trade (``trading_state``: active | reducing | halted, or null before
the first state), why (``trading_reasons``) and which risk guards are tripped since when
(``guards_tripped``), from the last published state. ``paused`` is true whenever the bot is
not ``active`` (an operator pause, a kill-switch freeze or flatten, a blocking guard).
While an engine session runs ``/readyz`` answers as ``/healthz``; during a store outage the
port is served by ``bot.telemetry.outage_health`` instead (``/healthz`` 200, ``/readyz`` 503).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

import structlog
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from bot.clock import WallClock
from bot.domain import OrderStatus
from bot.ports import Clock
from bot.telemetry.messages import GuardTrip, PnlParts, StateMessage, TradingStateName
from bot.telemetry.settings import MetricsSettings

__all__ = [
    "Health",
    "HealthSource",
    "Metrics",
    "MetricsServer",
    "MetricsSettings",
    "RestCallCounts",
    "TradingView",
    "assess_health",
    "count_venue_calls",
]

_log = structlog.get_logger("hedgebot.telemetry.metrics")

ErrorSource = Literal["chain", "exchange", "broker"]
OrderOutcome = Literal["filled", "partially_filled", "rejected", "expired", "canceled", "unknown"]

_TICK_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


_TRADING_LEVEL = {"active": 0, "reducing": 1, "halted": 2}
# every label value is from a fixed set: a value from outside it (an event's text) is "other",
# so no input can grow a label set (PnL parts are PnlParts' fields, sources ErrorSource's)
_ORDER_LABELS = frozenset(status.value for status in OrderStatus)
_ERROR_LABELS = frozenset(("chain", "exchange", "broker"))


@dataclass(frozen=True, slots=True)
class Health:
    """The answer of ``/healthz``."""

    ok: bool
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TradingView:
    """What may trade, as the last state said: ``state`` None before any state (or from a
    bot older than the field: then ``paused`` is the state's own flag)."""

    state: TradingStateName | None = None
    reasons: tuple[str, ...] = ()
    guards: tuple[GuardTrip, ...] = ()
    paused: bool = False

    @classmethod
    def of(cls, message: StateMessage) -> TradingView:
        """The trading fields of a state message; ``paused`` unless ``active``."""
        state = message.trading_state
        paused = message.paused if state is None else state != "active"
        return cls(state, message.trading_reasons, message.guards_tripped, paused)

    def body(self) -> dict[str, Any]:
        """The ``/healthz`` fields: ``paused``, ``trading_state``, ``trading_reasons``,
        ``guards_tripped`` (each ``{"name", "since" (unix s or null), "detail"}``)."""
        return {
            "paused": self.paused,
            "trading_state": self.state,
            "trading_reasons": list(self.reasons),
            "guards_tripped": [g.model_dump(mode="json") for g in self.guards],
        }


def assess_health(
    now_s: float,
    last_tick_s: float | None,
    max_tick_age_s: float,
    *,
    paused: bool = False,
    trading: TradingView | None = None,
) -> Health:
    """Healthy while the last successful tick is younger than ``max_tick_age_s``; the body
    carries the trading state (``trading``, else only ``paused``). Trading that is halted
    or reducing is still healthy: the bot is working, it is told not to hedge."""
    view = trading if trading is not None else TradingView(paused=paused)
    if last_tick_s is None:
        return Health(
            False, {"status": "unhealthy", "reason": "no successful tick yet", **view.body()}
        )
    age_s = max(0.0, now_s - last_tick_s)
    body: dict[str, Any] = {"last_tick_age_s": round(age_s, 3), **view.body()}
    if age_s > max_tick_age_s:
        reason = f"last successful tick {age_s:.1f}s ago (max {max_tick_age_s:g}s)"
        return Health(False, {"status": "unhealthy", "reason": reason, **body})
    return Health(True, {"status": "ok", **body})


class RestCallCounts(Protocol):
    """REST requests a venue client sent so far, per endpoint label (a bounded set; counts
    only grow): ``bot.exchange.ccxt.calls.RestCalls``."""

    def by_endpoint(self) -> Mapping[str, int]:
        """Requests so far per endpoint label."""
        ...


class _VenueCallsCollector(Collector):
    """``hedgebot_venue_rest_calls_total{endpoint}``, read from the client's own counts at
    each scrape (never reset, so a Prometheus counter as is)."""

    def __init__(self, calls: RestCallCounts) -> None:
        self._calls = calls

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "hedgebot_venue_rest_calls",
            "REST requests sent to the venue, by endpoint (retries included)",
            labels=["endpoint"],
        )
        for endpoint, count in sorted(self._calls.by_endpoint().items()):
            family.add_metric([endpoint], count)
        yield family

    def describe(self) -> Iterator[CounterMetricFamily]:
        return iter(())  # collected at scrape time: the label set is not known up front


class Metrics:
    """The bot's Prometheus metrics; the engine calls the ``observe_*`` methods."""

    def __init__(self, *, max_tick_age_s: float = 120.0, clock: Clock | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.max_tick_age_s = max_tick_age_s
        self._clock: Clock = clock if clock is not None else WallClock()
        self.last_tick_s: float | None = None
        self.trading = TradingView()
        self._venue_calls: _VenueCallsCollector | None = None
        ns = "hedgebot"
        reg = self.registry

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, namespace=ns, registry=reg)

        self.delta_base = gauge("delta_base", "LP delta plus wallet base, base units")
        self.hedge_base = gauge("hedge_base", "Perp position, base units (negative = short)")
        self.target_base = gauge("target_base", "Target perp position, base units")
        self.drift_base = gauge("drift_base", "Hedge minus target, base units")
        self.margin_ratio = gauge("margin_ratio", "Margin ratio of the hedge position")
        self.liquidation_distance_pct = gauge(
            "liquidation_distance_pct", "Distance from mark to liquidation price, percent"
        )
        self.price = gauge("price", "Pool price, quote per base")
        self.block = gauge("block", "Last processed block number")
        self.paused_gauge = gauge(
            "paused", "1 while trading is not active (operator, kill switch or a guard)"
        )
        self.trading_state_gauge = gauge(
            "trading_state", "0 active, 1 reducing (reduce-only), 2 halted; NaN unknown"
        )
        self.guards_tripped_gauge = gauge("guards_tripped", "Risk guards tripped now")
        self.pnl_quote = Gauge(
            "pnl_quote", "PnL attribution, quote units", ["part"], namespace=ns, registry=reg
        )
        self.orders_total = Counter(
            "orders_total", "Orders by outcome", ["outcome"], namespace=ns, registry=reg
        )
        self.errors_total = Counter(
            "errors_total", "Errors by source", ["source"], namespace=ns, registry=reg
        )
        self.ticks_total = Counter("ticks_total", "Ticks run", namespace=ns, registry=reg)
        self.skipped_blocks_total = Counter(
            "skipped_blocks_total",
            "Blocks skipped because a tick was running",
            namespace=ns,
            registry=reg,
        )
        self.tick_latency_seconds = Histogram(
            "tick_latency_seconds",
            "Time from block seen to tick done",
            namespace=ns,
            registry=reg,
            buckets=_TICK_BUCKETS_S,
        )
        for source in ("chain", "exchange", "broker"):
            self.errors_total.labels(source=source)
        for part in PnlParts.model_fields:
            self.pnl_quote.labels(part=part)

    def count_venue_calls(self, calls: RestCallCounts) -> None:
        """Expose ``calls`` as ``hedgebot_venue_rest_calls_total{endpoint}`` (once per
        registry; a second call is ignored)."""
        if self._venue_calls is None:
            self._venue_calls = _VenueCallsCollector(calls)
            self.registry.register(self._venue_calls)

    def observe_tick(self, latency_s: float, *, ok: bool = True) -> None:
        """One tick finished (failed ones count too); a successful one refreshes ``/healthz``."""
        self.ticks_total.inc()
        self.tick_latency_seconds.observe(latency_s)
        if ok:
            self.last_tick_s = self._clock.now()

    def observe_state(self, state: StateMessage) -> None:
        """Set every gauge from the state published for this tick."""
        self.block.set(state.block)
        self.price.set(float(state.price))
        self.delta_base.set(float(state.delta_base))
        self.hedge_base.set(float(state.hedge_base))
        self.target_base.set(float(state.target_base))
        self.drift_base.set(float(state.drift_base))
        _set_optional(self.margin_ratio, state.margin_ratio)
        _set_optional(self.liquidation_distance_pct, state.liquidation_distance_pct)
        self.trading = TradingView.of(state)
        self.paused_gauge.set(1 if self.trading.paused else 0)
        level = _TRADING_LEVEL.get(state.trading_state or "")
        self.trading_state_gauge.set(float("nan") if level is None else level)
        self.guards_tripped_gauge.set(len(state.guards_tripped))
        for part, value in state.pnl.model_dump().items():
            self.pnl_quote.labels(part=part).set(float(value))

    def observe_order(self, outcome: OrderOutcome | str) -> None:
        """Count one order by its final outcome (an ``OrderStatus`` value; any other text is
        counted as ``other``: the label set stays fixed)."""
        label = str(outcome)
        self.orders_total.labels(outcome=label if label in _ORDER_LABELS else "other").inc()

    def observe_error(self, source: ErrorSource) -> None:
        """Count one error from the chain, the exchange or the broker (anything else:
        ``other``)."""
        self.errors_total.labels(source=source if source in _ERROR_LABELS else "other").inc()

    def observe_skipped_blocks(self, count: int = 1) -> None:
        """Count blocks skipped because a tick was still running."""
        if count > 0:
            self.skipped_blocks_total.inc(count)

    def health(self) -> Health:
        """What ``/healthz`` answers now."""
        return assess_health(
            self._clock.now(), self.last_tick_s, self.max_tick_age_s, trading=self.trading
        )

    def readiness(self) -> Health:
        """What ``/readyz`` answers now: the same as ``/healthz`` while a session runs."""
        return self.health()

    @property
    def paused(self) -> bool:
        """True while the last state said trading is not active."""
        return self.trading.paused

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)


def count_venue_calls(telemetry: object, exchange: object) -> None:
    """Count ``exchange``'s REST requests (its ``rest_calls``, ccxt venues only) in the
    metrics of ``telemetry`` (its ``metrics``, when it has any); otherwise nothing: a venue
    that counts nothing has no series (unknown is not zero)."""
    metrics = getattr(telemetry, "metrics", None)
    calls = getattr(exchange, "rest_calls", None)
    if isinstance(metrics, Metrics) and calls is not None:
        metrics.count_venue_calls(calls)


def _set_optional(gauge: Gauge, value: Decimal | None) -> None:
    gauge.set(float("nan") if value is None else float(value))


class Pages(Protocol):
    """More routes on the metrics app (the bot dashboard at ``/``)."""

    def mount(self, app: web.Application) -> None:
        """Add routes to ``app`` before it starts."""
        ...

    def bound(self, host: str, port: int) -> None:
        """Told where the server listens once it does."""
        ...


class HealthSource(Protocol):
    """What a ``MetricsServer`` serves: ``Metrics`` in a session, the outage's answer between
    sessions (``bot.telemetry.outage_health.StoreOutageHealth``)."""

    def health(self) -> Health:
        """``/healthz`` (liveness): 200 when ``ok``, else 503."""
        ...

    def readiness(self) -> Health:
        """``/readyz`` (readiness): 200 when ``ok``, else 503."""
        ...

    def exposition(self) -> bytes:
        """``/metrics``: the Prometheus text format."""
        ...


class MetricsServer:
    """A tiny aiohttp server for ``/metrics``, ``/healthz`` and ``/readyz``, and ``pages``
    (the dashboard)."""

    def __init__(
        self,
        metrics: HealthSource,
        host: str = "127.0.0.1",
        port: int = 9108,
        pages: Pages | None = None,
    ) -> None:
        self.metrics = metrics
        self.pages = pages
        self.host = host
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def __aenter__(self) -> MetricsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind and serve; ``port`` holds the bound port (useful with port 0)."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        if self.pages is not None:
            self.pages.mount(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        addresses = runner.addresses
        self.port = int(addresses[0][1]) if addresses else self._requested_port
        if self.pages is not None:
            self.pages.bound(self.host, self.port)
        _log.info("metrics.serving", host=self.host, port=self.port)

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        health = self.metrics.health()
        return web.json_response(health.body, status=200 if health.ok else 503)

    async def _readyz(self, _request: web.Request) -> web.Response:
        ready = self.metrics.readiness()
        return web.json_response(ready.body, status=200 if ready.ok else 503)
