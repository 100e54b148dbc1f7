"""A real Mosquitto broker for the MQTT tests: ``MQTT_URL`` when set and reachable, else one of
our own on a free port (``bot.sim.mosquitto``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from bot.sim.mosquitto import Broker, mosquitto_available, reachable, start_broker


def own_broker(extra_conf: str = "", anonymous: bool = True, port: int | None = None) -> Broker:
    """A mosquitto of our own (skips the test where mosquitto is not installed)."""
    if not mosquitto_available():
        pytest.skip("mosquitto is not installed")
    return start_broker(extra_conf, anonymous=anonymous, port=port)


def stop_own(broker: Broker) -> None:
    """Stop a broker from :func:`own_broker` and remove its files."""
    broker.stop()
    if broker.workdir is not None:
        shutil.rmtree(broker.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[Broker]:
    """``MQTT_URL`` when set and reachable, else a mosquitto of our own for the session."""
    url = os.environ.get("MQTT_URL")
    if url:
        parts = urlsplit(url)
        if (
            parts.scheme == "mqtt"
            and parts.hostname
            and reachable(parts.hostname, parts.port or 1883)
        ):
            yield Broker(parts.hostname, parts.port or 1883)
            return
    broker = own_broker()
    try:
        yield broker
    finally:
        stop_own(broker)
