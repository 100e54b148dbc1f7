"""Telemetry configuration: the ``mqtt`` and ``metrics`` config sections and topic names.

Kept apart from the adapters so ``bot/config.py`` can import them without pulling in aiomqtt,
aiohttp or prometheus-client.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from bot.errors import ConfigError
from bot.telemetry.dashboard.security import allowed_host_entries


class MqttSettings(BaseModel):
    """Broker connection and topic layout (the ``mqtt`` section of the config)."""

    # a URL may carry a password: errors never show the input
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str = "mqtt://127.0.0.1:1883"
    topic_prefix: str = Field(default="hedgebot/{bot_id}", min_length=1)
    username: str | None = None
    password: SecretStr | None = None
    client_id: str | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    reconnect_min_s: Annotated[float, Field(gt=0)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0)] = 30.0
    qos: Literal[0, 1, 2] = 1
    event_queue_size: Annotated[int, Field(ge=1)] = 1000
    command_queue_size: Annotated[int, Field(ge=1)] = 100
    # how far a command's signed ``ts`` may be from the bot's wall clock, either way
    command_max_age_s: Annotated[float, Field(gt=0, le=3600)] = 60.0

    @field_validator("url")
    @classmethod
    def _broker_url(cls, url: str) -> str:
        problem = broker_url_problem(url)
        if problem is not None:
            raise ValueError(problem)
        return url

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        if any(ch in prefix for ch in "+#") or prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError("must not contain + or # nor start/end with /")
        return prefix

    @model_validator(mode="after")
    def _consistent(self) -> MqttSettings:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self

    @property
    def host(self) -> str:
        """Broker host name."""
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """Broker port (1883 for mqtt://, 8883 for mqtts:// unless given)."""
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        """Whether the connection uses TLS."""
        return urlsplit(self.url).scheme == "mqtts" or self.tls_ca is not None


def broker_url_problem(url: str) -> str | None:
    """Why ``url`` is no broker URL we accept, or None. Never echoes the URL (it may hold a
    password): credentials in it are refused, they go in ``username`` and the environment."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        return f"bad broker URL: {exc}"
    if parts.scheme not in ("mqtt", "mqtts"):
        return "must start with mqtt:// or mqtts://"
    if not parts.hostname:
        return "must name a host, e.g. mqtt://127.0.0.1:1883"
    if parts.username is not None or parts.password is not None:
        return (
            "credentials in the broker URL are not used: remove user:password@ and set the "
            "user as mqtt.username (or --username / MQTT_USERNAME) and the password in the "
            "environment (HEDGEBOT_MQTT__PASSWORD, or MQTT_PASSWORD for monitor/cmd)"
        )
    return None


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic names of one bot."""

    base: str

    @classmethod
    def for_bot(cls, topic_prefix: str, bot_id: str) -> Topics:
        """Expand ``{bot_id}`` in the configured prefix."""
        return cls(topic_prefix.format(bot_id=bot_id))

    @property
    def status(self) -> str:
        """Retained ``online``/``offline``; ``offline`` is the Last Will."""
        return f"{self.base}/status"

    @property
    def state(self) -> str:
        """Retained latest ``StateMessage``."""
        return f"{self.base}/state"

    @property
    def events(self) -> str:
        """``EventMessage`` stream."""
        return f"{self.base}/events"

    @property
    def cmd(self) -> str:
        """Commands in."""
        return f"{self.base}/cmd"

    @property
    def cmd_ack(self) -> str:
        """``CommandAck`` out."""
        return f"{self.base}/cmd/ack"


class MetricsSettings(BaseModel):
    """Where ``/metrics`` and ``/healthz`` are served (the ``metrics`` config section)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 9108
    # Host values the dashboard also answers (a port mapping 127.0.0.1:9111, a service name):
    # ``host:port`` exactly, or a name alone on any port; /metrics and /healthz answer any
    allowed_hosts: list[str] = Field(default_factory=list, max_length=64)
    max_tick_age_s: Annotated[float, Field(gt=0)] = 120.0

    @field_validator("allowed_hosts")
    @classmethod
    def _allowed_hosts(cls, values: list[str]) -> list[str]:
        try:
            return sorted(allowed_host_entries(values, "entry"))
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
