"""Telemetry for a daemon: the broker settings (checked before anything starts), the MQTT
publisher/command subscriber and the Prometheus metrics server."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import structlog

from bot.config import Settings
from bot.engine import CommandSource, EngineTelemetry
from bot.errors import ConfigError
from bot.ports import Clock
from bot.safety import mask_url
from bot.telemetry.auth import operator_key_from_env
from bot.telemetry.bridge import TelemetryBridge
from bot.telemetry.commands import CommandValidator
from bot.telemetry.inbox import CommandLedger
from bot.telemetry.metrics import Metrics, MetricsServer
from bot.telemetry.mqtt import MqttTelemetry
from bot.telemetry.settings import MqttSettings, broker_url_problem

if TYPE_CHECKING:
    from bot.telemetry.dashboard.daemon import DaemonDashboard

__all__ = ["MQTT_URL_ENV", "build_telemetry", "mqtt_url_source", "resolve_mqtt"]

log = structlog.get_logger("hedgebot.app")

MQTT_URL_ENV = "MQTT_URL"


def mqtt_url_source(mqtt_url: str | None, environ: Mapping[str, str]) -> tuple[str | None, str]:
    """The broker URL that overrides the config and where it came from: ``--mqtt-url``, else
    ``env MQTT_URL``; ``(None, "mqtt.url")`` when neither is set (the config's own)."""
    if mqtt_url:
        return mqtt_url, "--mqtt-url"
    from_env = environ.get(MQTT_URL_ENV) or None
    if from_env:
        return from_env, f"env {MQTT_URL_ENV}"
    return None, "mqtt.url"


def resolve_mqtt(
    settings: Settings, mqtt_url: str | None, source: str = "--mqtt-url"
) -> MqttSettings | None:
    """The broker settings to use: the config's ``mqtt`` section with ``mqtt_url`` (from
    ``source``) over its URL; None when no broker is configured.

    Raises ``ConfigError`` naming ``source`` (never the URL's secrets) for a URL we do not
    accept. Pure: starts nothing, so ``run`` can refuse before binding a port or a file.
    """
    if not mqtt_url:
        return settings.mqtt
    problem = broker_url_problem(mqtt_url)
    if problem is not None:
        raise ConfigError(f"{source} {mask_url(mqtt_url)}: {problem}")
    base = settings.mqtt or MqttSettings()
    return base.model_copy(update={"url": mqtt_url})


async def build_telemetry(
    stack: AsyncExitStack,
    settings: Settings,
    clock: Clock,
    mqtt_url: str | None,
    metrics_port: int | None,
    applied_command_ids: Iterable[str] | Mapping[str, str] | None = None,
    *,
    any_free_port: bool = False,
    mqtt_url_source: str = "--mqtt-url",
    ledger: CommandLedger | None = None,
    dashboard: DaemonDashboard | None = None,
) -> tuple[EngineTelemetry | None, CommandSource | None]:
    """MQTT publisher/command subscriber and Prometheus metrics, as configured.

    ``mqtt_url`` (from ``mqtt_url_source``) overrides the config's broker URL;
    ``metrics_port`` the config's metrics port. Both are closed by ``stack``. Every setting is
    checked before anything starts: a bad URL or operator key is a ``ConfigError`` with no
    port bound. A metrics port that is taken is a ``ConfigError`` naming it, or
    (``any_free_port``, for the demo) a free port. ``ledger`` records command ids used up
    before the engine saw them. ``dashboard``: the bot page, served on the metrics port, fed
    by the bridge; its command hub becomes the command source (in front of MQTT's).
    """
    mqtt_settings = resolve_mqtt(settings, mqtt_url, mqtt_url_source)
    operator_key = operator_key_from_env(os.environ) if mqtt_settings is not None else None
    metrics: Metrics | None = None
    if settings.metrics.enabled or metrics_port is not None:
        metrics = Metrics(max_tick_age_s=settings.metrics.max_tick_age_s, clock=clock)
        port = settings.metrics.port if metrics_port is None else metrics_port
        await _serve_metrics(stack, metrics, settings.metrics.host, port, any_free_port, dashboard)
    mqtt: MqttTelemetry | None = None
    if mqtt_settings is not None:
        mqtt = MqttTelemetry(
            mqtt_settings,
            settings.bot_id,
            validator=CommandValidator(
                applied_command_ids or (),
                operator_key=operator_key,
                max_age_s=mqtt_settings.command_max_age_s,
            ),
            errors=metrics,
            clock=clock,
            ledger=ledger,
        )
        await mqtt.start()
        stack.push_async_callback(mqtt.stop)
    if dashboard is not None and metrics is not None:
        bridge = TelemetryBridge(mqtt, metrics, clock, feed=dashboard.feed)
        return bridge, dashboard.commands_for(mqtt)
    if mqtt is None and metrics is None:
        return None, None
    return TelemetryBridge(mqtt, metrics, clock), mqtt


async def _serve_metrics(
    stack: AsyncExitStack,
    metrics: Metrics,
    host: str,
    port: int,
    any_free_port: bool,
    dashboard: DaemonDashboard | None = None,
) -> None:
    server = MetricsServer(metrics, host=host, port=port, pages=dashboard)
    try:
        await server.start()
    except OSError as exc:
        if not any_free_port:
            raise ConfigError(
                f"metrics.port: cannot listen on {host}:{port} ({exc.strerror}); choose "
                "another (HEDGEBOT_METRICS__PORT) or set metrics.enabled: false"
            ) from exc
        log.warning("metrics.port_taken", port=port, fallback="a free port")
        server = MetricsServer(metrics, host=host, port=0, pages=dashboard)
        await server.start()
    stack.push_async_callback(server.stop)
    log.info("metrics.listening", host=host, port=server.port)
