"""A real NATS server (JetStream on, MQTT listener on a free port) for the MQTT contract tests,
and ``both_brokers``: the contract's tests run once on Mosquitto and once on NATS server.

A test module opts in by overriding the session's ``mqtt_broker`` with both brokers::

    from nats_support import both_brokers
    mqtt_broker = both_brokers()

``nats_broker`` is wired once, in ``tests/integration/conftest.py``, so one nats-server
serves the whole session (a module importing the fixture itself would start its own: pytest
scopes a fixture per place it is defined). Tests keep apart by their own topic prefixes.

NATS speaks MQTT 3.1.1 only (the bot falls back from MQTT 5 with a warning), QoS 0 and 1
(no QoS 2), and keeps retained messages in a JetStream stream (docs/mqtt.md, "Clustered
brokers").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.sim.mosquitto import Broker
from bot.sim.nats import nats_available, start_nats, stop_nats


@pytest.fixture(scope="session")
def nats_broker() -> Iterator[Broker]:
    """A nats-server of our own for the session (skips where it is not installed)."""
    if not nats_available():
        pytest.skip("nats-server is not installed (scripts/ensure-nats.sh installs it)")
    broker = start_nats()
    try:
        yield broker
    finally:
        stop_nats(broker)


def both_brokers() -> Any:
    """A module's ``mqtt_broker`` parametrized over the session's Mosquitto (the conftest's
    ``mqtt_broker``) and ``nats_broker``: every test of the module runs on each."""

    @pytest.fixture(params=["mosquitto", "nats"])
    def mqtt_broker(request: pytest.FixtureRequest, mqtt_broker: Broker) -> Broker:
        if request.param == "mosquitto":
            return mqtt_broker
        nats: Broker = request.getfixturevalue("nats_broker")
        return nats

    return mqtt_broker
