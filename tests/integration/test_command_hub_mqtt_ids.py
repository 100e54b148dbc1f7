"""The dashboard's command hub routes an ack by the ids it issued itself, never by how an id
looks: a signed MQTT command called ``web-123`` is applied and acked on the broker (issue 18
review 2 item 4: it was applied and its ack dropped as a page's)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import aiomqtt
import pytest
from mqtt_support import TEST_OPERATOR_KEY, recording, signed

from bot.sim.mosquitto import Broker
from bot.telemetry.commands import CommandValidator
from bot.telemetry.dashboard.command_hub import CommandHub
from bot.telemetry.mqtt import MqttSettings, MqttTelemetry

pytestmark = pytest.mark.integration


@pytest.fixture
def hub_prefix() -> str:
    """A topic prefix no other test uses (nothing here is retained)."""
    return f"hedgebot-test-hubids/{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def telemetry(mqtt_broker: Broker, hub_prefix: str) -> AsyncIterator[MqttTelemetry]:
    settings = MqttSettings.model_validate(
        {
            "url": mqtt_broker.url,
            "topic_prefix": hub_prefix + "/{bot_id}",
            "reconnect_min_s": 0.1,
            "reconnect_max_s": 0.5,
            "keepalive_s": 5,
            "timeout_s": 3,
            "client_id": f"hb-{uuid.uuid4().hex[:12]}",
        }
    )
    validator = CommandValidator(operator_key=TEST_OPERATOR_KEY)
    async with MqttTelemetry(settings, "bot1", validator=validator) as channel:
        assert await channel.wait_connected(5)
        yield channel


@pytest.mark.parametrize("command_id", ["web-123", f"web-{uuid.uuid4().hex}"])
async def test_an_mqtt_command_whose_id_starts_with_web_gets_its_ack(
    mqtt_broker: Broker, telemetry: MqttTelemetry, command_id: str
) -> None:
    """Through the hub (as ``hedgebot run`` with a dashboard wires it) a signed MQTT command
    ``web-…`` reaches the engine's queue and the engine's ack reaches the broker."""
    hub = CommandHub("bot1")
    hub.attach(telemetry)
    topics = telemetry.topics
    async with recording(mqtt_broker, topics.cmd_ack) as acks:
        body = {"id": command_id, "command": "set_threshold", "params": {"base": "0.5"}}
        async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port, timeout=5) as client:
            await client.publish(topics.cmd, signed(topics.cmd, body), qos=1)
        async with asyncio.timeout(5):
            command = await hub.commands.get()
        assert command.id == command_id
        await hub.ack(command.id, True)
        seen = await acks.wait_for(lambda s: json.loads(s.payload)["id"] == command_id)
    assert json.loads(seen.payload)["status"] == "ok"


async def test_a_page_command_forgotten_by_the_hub_is_still_never_acked_on_mqtt(
    mqtt_broker: Broker, telemetry: MqttTelemetry
) -> None:
    """The hub's own id, acked after the page stopped waiting, is still the hub's: no MQTT
    ack carries it (the control for the routing above)."""
    hub = CommandHub("bot1")
    hub.attach(telemetry)
    page = await hub.submit("pause", {}, wait_s=0)
    taken = hub.commands.get_nowait()
    assert taken.id == page.id
    async with recording(mqtt_broker, telemetry.topics.cmd_ack) as acks:
        await hub.ack(page.id, True)
        await hub.ack(page.id, True)  # the late, second ack: forgotten by _pending
        marker = {"id": "mqtt-marker", "command": "pause", "params": {}}
        async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port, timeout=5) as client:
            await client.publish(telemetry.topics.cmd, signed(telemetry.topics.cmd, marker))
        async with asyncio.timeout(5):
            await hub.commands.get()
        await hub.ack("mqtt-marker", True)
        await acks.wait_for(lambda s: json.loads(s.payload)["id"] == "mqtt-marker")
    assert [json.loads(s.payload)["id"] for s in acks.on(telemetry.topics.cmd_ack)] == [
        "mqtt-marker"
    ]
