"""What ``hedgebot monitor`` and ``hedgebot cmd`` share: broker options, client, output."""

from __future__ import annotations

import argparse
import os
import ssl
import uuid

import aiomqtt
from rich.console import Console
from rich.text import Text

from bot.errors import ConfigError
from bot.safety import mask_url
from bot.telemetry.settings import MqttSettings, broker_url_problem

DEFAULT_URL = "mqtt://127.0.0.1:1883"
EXIT_OK, EXIT_REJECTED, EXIT_TIMEOUT, EXIT_UNREACHABLE, EXIT_USAGE = 0, 1, 2, 3, 4


def broker_url(flag: str | None) -> tuple[str, str]:
    """The broker URL to use and where it came from: ``--mqtt-url``, else ``env MQTT_URL``,
    else the default (named as such), so a refusal points at what the user set."""
    if flag:
        return flag, "--mqtt-url"
    from_env = os.environ.get("MQTT_URL") or None
    if from_env:
        return from_env, "env MQTT_URL"
    return DEFAULT_URL, "the default broker URL"


def broker_client(
    url: str, username: str | None, password: str | None, source: str = "--mqtt-url"
) -> aiomqtt.Client:
    """Raises ``ConfigError`` naming ``source`` (never showing the URL's secrets) for a URL we
    do not accept."""
    problem = broker_url_problem(url)
    if problem is not None:
        raise ConfigError(f"{source} {mask_url(url)}: {problem}")
    settings = MqttSettings(url=url)
    return aiomqtt.Client(
        settings.host,
        settings.port,
        username=username,
        password=password,
        identifier=f"hedgebot-cli-{uuid.uuid4().hex[:12]}",
        tls_context=ssl.create_default_context() if settings.tls else None,
        timeout=10,
    )


def say(console: Console, line: str, style: str | None = None) -> None:
    """Print ``line`` literally (it may hold peer text: no markup, no emoji codes)."""
    console.print(Text(line, style=style or ""))


def add_broker_options(parser: argparse.ArgumentParser) -> None:
    """--mqtt-url, --prefix and --username (the password only from $MQTT_PASSWORD)."""
    parser.add_argument(
        "--mqtt-url",
        default=None,
        help=f"broker URL, mqtt://host:port or mqtts:// (default: $MQTT_URL or {DEFAULT_URL}); "
        "no user:password@ in it: use --username and $MQTT_PASSWORD",
    )
    parser.add_argument("--prefix", default="hedgebot", help="topic prefix before the bot id")
    parser.add_argument(
        "--username",
        default=os.environ.get("MQTT_USERNAME") or None,
        help="broker user (default $MQTT_USERNAME); the password is read from $MQTT_PASSWORD",
    )
