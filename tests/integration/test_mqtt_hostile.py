"""Hostile peers on the broker (issue 12.1, 12.3, 12.4, 12.5): real Mosquitto and NATS server
brokers, no mocks."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
import uuid
from collections.abc import AsyncIterator

import aiomqtt
import pytest
from mqtt_support import TEST_OPERATOR_KEY, ack_sig, clear_retained, recording, signed
from nats_support import both_brokers
from rich.console import Console
from structlog.testing import capture_logs

from bot.errors import ConfigError
from bot.sim.mosquitto import Broker
from bot.telemetry.auth import OperatorKey
from bot.telemetry.commands import CommandValidator
from bot.telemetry.monitor import monitor, send_command
from bot.telemetry.mqtt import MqttSettings, MqttTelemetry

pytestmark = pytest.mark.integration

# the MQTT contract holds on Mosquitto and on NATS server's MQTT listener
mqtt_broker = both_brokers()

SECRET = "s3cret-broker-pw"


@pytest.fixture
async def prefix(mqtt_broker: Broker) -> AsyncIterator[str]:
    """A topic prefix no other test uses; retained commands left on it are cleared after."""
    unique = f"hedgebot-hostile/{uuid.uuid4().hex[:10]}"
    yield unique
    await clear_retained(mqtt_broker, unique)


def _settings(broker: Broker, prefix: str) -> MqttSettings:
    return MqttSettings(
        url=broker.url,
        topic_prefix=prefix + "/{bot_id}",
        reconnect_min_s=0.1,
        reconnect_max_s=0.5,
        keepalive_s=5,
        timeout_s=3,
        client_id=f"hb-{uuid.uuid4().hex[:12]}",
    )


def _keyed() -> CommandValidator:
    return CommandValidator(operator_key=TEST_OPERATOR_KEY)


async def _publish(broker: Broker, topic: str, payload: bytes, *, retain: bool = False) -> None:
    async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
        await client.publish(topic, payload, qos=1, retain=retain)


async def test_hostile_commands_are_refused_and_the_channel_stays_up(
    mqtt_broker: Broker, prefix: str
) -> None:
    """Deep, huge, unsigned, forged, stale, replayed-elsewhere and NaN commands each get one
    bounded rejection ack; the client never disconnects and a valid command still arrives."""
    async with MqttTelemetry(
        _settings(mqtt_broker, prefix), "bot1", validator=_keyed()
    ) as telemetry:
        assert await telemetry.wait_connected(5)
        cmd, acks_topic = telemetry.topics.cmd, telemetry.topics.cmd_ack
        other_bot = f"{prefix}/bot2/cmd"
        hostile = [
            (b"[" * 80_000 + b"]" * 80_000, None, "too large: 160000 bytes (limit 4096)"),
            (b'{"id":"h","command":"' + b"x" * (20 << 20) + b'"}', None, "too large: "),
            (signed(cmd, {"id": "\ud800", "command": "pause"}), "\\ud800", "id: must be print"),
            (json.dumps({"id": "u", "command": "pause"}).encode(), "u", "unsigned command"),
            (signed(other_bot, {"id": "o", "command": "pause"}), "o", "bad signature"),
            (
                signed(cmd, {"id": "s", "command": "pause"}, ts=int(time.time()) - 3600),
                "s",
                "stale",
            ),
            (
                signed(cmd, {"id": "n", "command": "set_threshold", "params": {"base": "NaN"}}),
                "n",
                "params.base: must be a finite number",
            ),
        ]
        async with recording(mqtt_broker, acks_topic) as acks:
            for payload, _, _ in hostile:
                await _publish(mqtt_broker, cmd, payload)
            for _, command_id, reason in hostile:
                seen = await acks.wait_for(
                    lambda s, i=command_id, r=reason: (
                        s.json()["id"] == i and s.json()["reason"].startswith(r)
                    )
                )
                assert seen.json()["status"] == "rejected"
            assert all(len(m.payload) < 1024 for m in acks.messages)
            await _publish(mqtt_broker, cmd, signed(cmd, {"id": "fine", "command": "pause"}))
            async with asyncio.timeout(5):
                command = await telemetry.commands.get()
        assert command.id == "fine"
        assert telemetry.connected
        assert telemetry.connect_errors == 0
        assert telemetry.refused_commands == len(hostile)


async def test_acks_are_signed_over_their_body(mqtt_broker: Broker, prefix: str) -> None:
    """Every ack, ok or rejected, carries the bot's HMAC over its fields and its topic."""
    async with MqttTelemetry(
        _settings(mqtt_broker, prefix), "bot1", validator=_keyed()
    ) as telemetry:
        assert await telemetry.wait_connected(5)
        topics = telemetry.topics
        async with recording(mqtt_broker, topics.cmd_ack) as acks:
            await _publish(mqtt_broker, topics.cmd, b"{broken")
            seen = (await acks.wait_for(lambda s: s.json()["id"] is None)).json()
        body = {k: v for k, v in seen.items() if k != "sig"}
        assert seen["sig"] == ack_sig(topics.cmd_ack, body)
        assert TEST_OPERATOR_KEY.verify(topics.cmd_ack, seen)
        assert not TEST_OPERATOR_KEY.verify(topics.cmd_ack, {**seen, "status": "ok"})


async def test_retained_command_is_refused_and_deleted_from_the_broker(
    mqtt_broker: Broker, prefix: str
) -> None:
    """A signed command left retained is refused on arrival, never queued, and cleared."""
    cmd = f"{prefix}/bot1/cmd"
    await _publish(mqtt_broker, cmd, signed(cmd, {"id": "kept", "command": "pause"}), retain=True)
    with capture_logs() as logs:
        async with (
            recording(mqtt_broker, f"{prefix}/bot1/cmd/ack") as acks,
            MqttTelemetry(_settings(mqtt_broker, prefix), "bot1", validator=_keyed()) as telemetry,
        ):
            assert await telemetry.wait_connected(5)
            refused = (await acks.wait_for(lambda s: s.json()["id"] is None)).json()
            assert refused["reason"] == "retained commands are refused"
            await asyncio.sleep(0.2)
            assert telemetry.commands.empty()
    assert any(e["event"] == "command.retained_cleared" for e in logs)
    async with recording(mqtt_broker, cmd) as late:  # nothing retained is left
        with pytest.raises(TimeoutError):
            await late.wait_for(lambda s: s.retain, 1.0)


async def test_cmd_believes_only_acks_signed_with_the_operator_key(
    mqtt_broker: Broker, prefix: str
) -> None:
    """A forger answering first with an unsigned or wrongly signed ``ok`` is ignored (exit 2);
    the bot's signed ack is believed (exit 0)."""
    forger_key = OperatorKey("forger-key-0123456789abcdef0123456789")
    cmd, ack_topic = f"{prefix}/bot1/cmd", f"{prefix}/bot1/cmd/ack"

    async def forger() -> None:
        async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port, timeout=5) as client:
            await client.subscribe(cmd, qos=1)
            async for message in client.messages:
                command_id = json.loads(bytes(message.payload))["id"]  # type: ignore[arg-type]
                ack = {"schema_version": 1, "id": command_id, "status": "ok", "reason": None}
                await client.publish(ack_topic, json.dumps(ack).encode(), qos=1)
                forged = forger_key.signed(ack_topic, ack)
                await client.publish(ack_topic, json.dumps(forged).encode(), qos=1)

    task = asyncio.create_task(forger())
    await asyncio.sleep(0.3)
    console = Console(file=io.StringIO(), record=True, width=200)
    try:
        code = await send_command(
            mqtt_broker.url,
            prefix,
            "bot1",
            "pause",
            {},
            timeout_s=1.5,
            operator_key=TEST_OPERATOR_KEY,
            console=console,
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert code == 2
    assert "timeout: no ack from bot1" in console.export_text()

    async with MqttTelemetry(
        _settings(mqtt_broker, prefix), "bot1", validator=_keyed()
    ) as telemetry:
        assert await telemetry.wait_connected(5)

        async def engine() -> None:
            command = await telemetry.commands.get()
            await telemetry.ack(command.id, True)

        applier = asyncio.create_task(engine())
        code = await send_command(
            mqtt_broker.url,
            prefix,
            "bot1",
            "pause",
            {},
            timeout_s=5,
            operator_key=TEST_OPERATOR_KEY,
            console=console,
        )
        await applier
    assert code == 0


async def test_cmd_without_operator_key_exits_4() -> None:
    """``hedgebot cmd`` with no key says which variable to set and sends nothing."""
    console = Console(file=io.StringIO(), record=True)
    code = await send_command(
        "mqtt://127.0.0.1:1", "hedgebot", "b", "pause", {}, timeout_s=1, console=console
    )
    assert code == 4


async def test_broker_url_credentials_are_refused_and_never_shown(
    mqtt_broker: Broker, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``user:pass@`` in a broker URL: refused with a message that names the fix, not the
    password, by the daemon's telemetry (however the URL arrived), ``cmd`` and ``monitor``."""
    url = f"mqtt://bot:{SECRET}@{mqtt_broker.host}:{mqtt_broker.port}"
    settings = _settings(mqtt_broker, prefix).model_copy(update={"url": url})  # as --mqtt-url
    with pytest.raises(ConfigError) as refused:
        MqttTelemetry(settings, "bot1")
    assert SECRET not in str(refused.value)
    assert "mqtt.username" in str(refused.value)
    assert f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}/…" in str(refused.value)
    with pytest.raises(ValueError, match="credentials in the broker URL") as invalid:
        MqttSettings(url=url)
    assert SECRET not in str(invalid.value)

    with capture_logs() as logs:
        code = await send_command(
            url, prefix, "bot1", "pause", {}, timeout_s=1, operator_key=TEST_OPERATOR_KEY
        )
        assert code == 4
        assert await monitor(url, prefix, once=True, duration_s=0.2) == 4
    printed = capsys.readouterr()
    assert "credentials in the broker URL are not used" in printed.err
    assert SECRET not in printed.out + printed.err
    assert all(SECRET not in json.dumps(e, default=str) for e in logs)


async def test_start_warns_about_no_operator_key_and_an_anonymous_broker(
    mqtt_broker: Broker, prefix: str
) -> None:
    """Without a key every command is refused, said once at start; no username: a warning
    naming the risk."""
    with capture_logs() as logs:
        async with MqttTelemetry(_settings(mqtt_broker, prefix), "bot1") as telemetry:
            assert await telemetry.wait_connected(5)
            async with recording(mqtt_broker, telemetry.topics.cmd_ack) as acks:
                await _publish(
                    mqtt_broker,
                    telemetry.topics.cmd,
                    signed(telemetry.topics.cmd, {"id": "k", "command": "pause"}),
                )
                refused = (await acks.wait_for(lambda s: s.json()["id"] == "k")).json()
    assert refused["reason"].startswith("commands are disabled: the bot has no operator key")
    events = [e["event"] for e in logs]
    assert events.count("command.auth_disabled") == 1
    anonymous = [e for e in logs if e["event"] == "mqtt.anonymous_broker"]
    assert len(anonymous) == 1
    assert "any client that reaches this broker" in anonymous[0]["risk"]
