"""Acks bound to their message, ids used up once verified, retained commands seen as such
(issue 12 follow-up, items 1, 2 and 6): real Mosquitto and NATS server brokers, a real SQLite
store, no mocks."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
from mqtt_support import TEST_OPERATOR_KEY, clear_retained, recording, signed
from nats_support import both_brokers
from rich.console import Console
from structlog.testing import capture_logs

from bot.clock import ManualClock
from bot.sim.mosquitto import Broker, free_port
from bot.store.sqlite import SqliteStore
from bot.telemetry.commands import CommandValidator
from bot.telemetry.monitor import send_command
from bot.telemetry.mqtt import MqttSettings, MqttTelemetry
from bot.telemetry.peers import find_live_instance

pytestmark = pytest.mark.integration

# the MQTT contract holds on Mosquitto and on NATS server's MQTT listener
mqtt_broker = both_brokers()


@pytest.fixture
async def prefix(mqtt_broker: Broker) -> AsyncIterator[str]:
    """A topic prefix no other test uses; anything retained on it is cleared after."""
    unique = f"hedgebot-binding/{uuid.uuid4().hex[:10]}"
    yield unique
    await clear_retained(mqtt_broker, unique)


def _settings(host: str, port: int, prefix: str) -> MqttSettings:
    return MqttSettings(
        url=f"mqtt://{host}:{port}",
        topic_prefix=prefix + "/{bot_id}",
        reconnect_min_s=0.1,
        reconnect_max_s=0.5,
        keepalive_s=5,
        timeout_s=3,
        client_id=f"hb-{uuid.uuid4().hex[:12]}",
    )


async def _publish(broker: Broker, topic: str, payload: bytes, *, retain: bool = False) -> None:
    async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
        await client.publish(topic, payload, qos=1, retain=retain)


@contextlib.asynccontextmanager
async def _racer(broker: Broker, cmd: str) -> AsyncIterator[list[bytes]]:
    """Re-publishes every command it sees on ``cmd`` at once, three ways: byte-identical, with
    a wrong ``sig``, and re-formatted (same signature, other bytes). Yields what it sent."""
    sent: list[bytes] = []
    ready = asyncio.Event()

    async def run() -> None:
        async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
            await client.subscribe(cmd, qos=1)
            ready.set()
            async for message in client.messages:
                payload = bytes(message.payload)  # type: ignore[arg-type]
                if payload in sent or not payload:
                    continue
                body = json.loads(payload)
                copies = [
                    payload,
                    json.dumps({**body, "sig": "0" * 64}).encode(),
                    json.dumps(body, indent=2).encode(),
                ]
                sent.extend(copies)
                for copy in copies:
                    await client.publish(cmd, copy, qos=1)

    task = asyncio.create_task(run())
    await ready.wait()
    try:
        yield sent
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await task


async def test_cmd_believes_only_the_ack_bound_to_its_own_message(
    mqtt_broker: Broker, prefix: str
) -> None:
    """A peer re-publishes the operator's command (same bytes, wrong sig, re-formatted) before
    the engine acks: the bot answers the forged copy with a signed rejection bound to that
    copy, answers no copy with a rejection of the original, and ``cmd`` prints ok, exit 0; the
    engine got the command once."""
    settings = _settings(mqtt_broker.host, mqtt_broker.port, prefix)
    validator = CommandValidator(operator_key=TEST_OPERATOR_KEY)
    applied: list[str] = []
    async with MqttTelemetry(settings, "bot1", validator=validator) as telemetry:
        assert await telemetry.wait_connected(5)
        topics = telemetry.topics

        console = Console(file=io.StringIO(), record=True, width=300)
        async with (
            _racer(mqtt_broker, topics.cmd) as copies,
            recording(mqtt_broker, topics.cmd_ack) as acks,
        ):

            async def engine() -> None:
                command = await telemetry.commands.get()
                # ack only once the forged copy's signed rejection is out, before our ok
                await acks.wait_for(lambda s: s.json()["status"] == "rejected")
                await asyncio.sleep(0.3)  # and the other copies were handled
                applied.append(command.id)
                await telemetry.ack(command.id, True)

            applier = asyncio.create_task(engine())
            code = await send_command(
                mqtt_broker.url,
                prefix,
                "bot1",
                "pause",
                {},
                timeout_s=8,
                operator_key=TEST_OPERATOR_KEY,
                console=console,
            )
            await applier
            await acks.wait_for(lambda s: s.json()["status"] == "ok", after=0)
            await asyncio.sleep(0.3)  # the copies' answers, if any more
        assert code == 0
        printed = console.export_text()
        assert "ok: pause applied" in printed
        assert "rejected" not in printed
        assert len(applied) == 1
        assert telemetry.commands.empty()
        original = copies[0]
        ref = {
            name: hashlib.sha256(raw).hexdigest()
            for name, raw in zip(("original", "forged", "reformatted"), copies, strict=True)
        }
        answers = [seen.json() for seen in acks.messages]
        assert all(TEST_OPERATOR_KEY.verify(topics.cmd_ack, a) for a in answers)
        command_id = json.loads(original)["id"]
        assert all(a["id"] == command_id for a in answers)
        bound_to_original = [a for a in answers if a["ref"] == ref["original"]]
        assert [a["status"] for a in bound_to_original] in (["ok"], ["ok", "ok"])
        forged_answers = [a for a in answers if a["ref"] == ref["forged"]]
        assert forged_answers == [
            {**forged_answers[0], "status": "rejected", "reason": "bad signature"}
        ]
        assert all(a["status"] == "ok" for a in answers if a["ref"] == ref["reformatted"])
        assert validator.status(command_id) == "applied"


async def test_refused_command_is_never_applied_later_not_even_after_a_restart(
    mqtt_broker: Broker, prefix: str, tmp_path: Path
) -> None:
    """A signed command with ts = now+75 s is refused as stale and its id used up, recorded in
    the store: the same bytes 20 s later, and again after a restart, are refused."""
    settings = _settings(mqtt_broker.host, mqtt_broker.port, prefix)
    clock = ManualClock(float(int(time.time())))
    cmd = f"{prefix}/bot1/cmd"
    raw = signed(cmd, {"id": "later", "command": "pause"}, ts=int(clock.now()) + 75)
    store = await SqliteStore.open(tmp_path / "store.sqlite")
    try:
        validator = CommandValidator(operator_key=TEST_OPERATOR_KEY, clock=clock)
        async with (
            MqttTelemetry(settings, "bot1", validator=validator, ledger=store) as telemetry,
            recording(mqtt_broker, telemetry.topics.cmd_ack) as acks,
        ):
            assert await telemetry.wait_connected(5)
            await _publish(mqtt_broker, cmd, raw)
            stale = (await acks.wait_for(lambda s: s.json()["id"] == "later")).json()
            assert stale["status"] == "rejected"
            assert stale["reason"].startswith("stale command: ts is +75 s from the bot's clock")
            clock.advance(20)  # ts is now 55 s ahead: inside the window, and it used to pass
            await _publish(mqtt_broker, cmd, raw)
            again = await acks.wait_for(lambda s: s.json()["id"] == "later", after=1)
            assert again.json()["status"] == "rejected"
            await asyncio.sleep(0.3)
            assert telemetry.commands.empty()
        assert await store.command_statuses() == {"later": "rejected"}
    finally:
        await store.close()

    store = await SqliteStore.open(tmp_path / "store.sqlite")  # the restart
    try:
        statuses = await store.command_statuses()
        validator = CommandValidator(statuses, operator_key=TEST_OPERATOR_KEY, clock=clock)
        async with (
            MqttTelemetry(settings, "bot1", validator=validator, ledger=store) as telemetry,
            recording(mqtt_broker, telemetry.topics.cmd_ack) as acks,
        ):
            assert await telemetry.wait_connected(5)
            await _publish(mqtt_broker, cmd, raw)
            after = (await acks.wait_for(lambda s: s.json()["id"] == "later")).json()
            assert after["status"] == "rejected"
            assert after["reason"] == "duplicate id 'later': command already rejected"
            await asyncio.sleep(0.3)
            assert telemetry.commands.empty()
    finally:
        await store.close()


async def test_retained_command_published_while_online_is_refused_and_deleted(
    mqtt_broker: Broker, prefix: str, request: pytest.FixtureRequest
) -> None:
    """MQTT 5 with retain-as-published: a signed command published retained while the bot is
    subscribed is refused at once (never queued, its id used up) and cleared from the broker."""
    if request.node.callspec.params.get("mqtt_broker") == "nats":
        pytest.skip("NATS server speaks MQTT 3.1.1 only: see the 3.1.1 replay test below")
    settings = _settings(mqtt_broker.host, mqtt_broker.port, prefix)
    validator = CommandValidator(operator_key=TEST_OPERATOR_KEY)
    cmd = f"{prefix}/bot1/cmd"
    with capture_logs() as logs:
        async with (
            MqttTelemetry(settings, "bot1", validator=validator) as telemetry,
            recording(mqtt_broker, telemetry.topics.cmd_ack) as acks,
        ):
            assert await telemetry.wait_connected(5)
            assert telemetry.mqtt5
            raw = signed(cmd, {"id": "live-kept", "command": "pause"})
            await _publish(mqtt_broker, cmd, raw, retain=True)
            refused = (await acks.wait_for(lambda s: s.json()["status"] == "rejected")).json()
            assert refused["reason"] == "retained commands are refused"
            assert refused["ref"] == hashlib.sha256(raw).hexdigest()
            await asyncio.sleep(0.3)
            assert telemetry.commands.empty()
            assert validator.status("live-kept") == "refused"
    assert any(e["event"] == "command.retained_cleared" for e in logs)
    async with recording(mqtt_broker, cmd) as late:  # nothing retained is left
        with pytest.raises(TimeoutError):
            await late.wait_for(lambda s: s.retain, 1.0)


@contextlib.asynccontextmanager
async def _v311_only_front(broker: Broker) -> AsyncIterator[int]:
    """A port in front of the real broker that refuses MQTT 5 CONNECTs (reason 132,
    unsupported protocol version) and passes 3.1.1 sessions through. Yields the port."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readexactly(1)
        length, shift, raw_length = 0, 0, b""
        while True:
            byte = await reader.readexactly(1)
            raw_length += byte
            length |= (byte[0] & 0x7F) << shift
            shift += 7
            if not byte[0] & 0x80:
                break
        body = await reader.readexactly(length)
        if body[6] == 5:  # protocol level after the "MQTT" name
            writer.write(b"\x20\x03\x00\x84\x00")
            await writer.drain()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(broker.host, broker.port)
        up_writer.write(head + raw_length + body)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_broker_refusing_mqtt5_falls_back_to_311_with_a_warning(
    mqtt_broker: Broker, prefix: str
) -> None:
    """A broker that refuses MQTT 5 gets MQTT 3.1.1 and a warning naming what is lost; commands
    still work."""
    validator = CommandValidator(operator_key=TEST_OPERATOR_KEY)
    with capture_logs() as logs:
        async with _v311_only_front(mqtt_broker) as port:
            settings = _settings("127.0.0.1", port, prefix)
            async with MqttTelemetry(settings, "bot1", validator=validator) as telemetry:
                assert await telemetry.wait_connected(10)
                assert not telemetry.mqtt5
                cmd = telemetry.topics.cmd
                await _publish(mqtt_broker, cmd, signed(cmd, {"id": "v3", "command": "pause"}))
                async with asyncio.timeout(5):
                    command = await telemetry.commands.get()
                assert command.id == "v3"
    warned = [e for e in logs if e["event"] == "mqtt.v5_refused"]
    assert len(warned) == 1
    assert "without its retain flag" in warned[0]["risk"]


async def test_retained_command_on_mqtt311_is_applied_once_and_refused_on_replay(
    mqtt_broker: Broker, prefix: str
) -> None:
    """MQTT 3.1.1 (NATS server; any broker without MQTT 5) forwards a retained command to a
    live subscriber without its flag: it is handled as live, applied once, and the broker's
    copy, replayed with the flag to the next subscription (a restarted bot, its id not in any
    ledger), is refused, deleted and never applied twice."""
    cmd = f"{prefix}/bot1/cmd"
    raw = signed(cmd, {"id": "kept-311", "command": "pause"})
    async with _v311_only_front(mqtt_broker) as port:
        settings = _settings("127.0.0.1", port, prefix)
        validator = CommandValidator(operator_key=TEST_OPERATOR_KEY)
        async with MqttTelemetry(settings, "bot1", validator=validator) as telemetry:
            assert await telemetry.wait_connected(10)
            assert not telemetry.mqtt5
            await _publish(mqtt_broker, cmd, raw, retain=True)
            async with asyncio.timeout(5):
                command = await telemetry.commands.get()
            assert command.id == "kept-311"
        restarted = CommandValidator(operator_key=TEST_OPERATOR_KEY)
        with capture_logs() as logs:
            async with (
                MqttTelemetry(settings, "bot1", validator=restarted) as telemetry,
                recording(mqtt_broker, telemetry.topics.cmd_ack) as acks,
            ):
                assert await telemetry.wait_connected(10)
                refused = (await acks.wait_for(lambda s: s.json()["status"] == "rejected")).json()
                assert refused["reason"] == "retained commands are refused"
                assert refused["ref"] == hashlib.sha256(raw).hexdigest()
                await asyncio.sleep(0.3)
                assert telemetry.commands.empty()
    assert any(e["event"] == "command.retained_cleared" for e in logs)
    async with recording(mqtt_broker, cmd) as late:  # nothing retained is left
        with pytest.raises(TimeoutError):
            await late.wait_for(lambda s: s.retain, 1.0)


async def _retain(broker: Broker, base: str, status: bytes, state: dict[str, object]) -> None:
    async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
        await client.publish(f"{base}/status", status, qos=1, retain=True)
        await client.publish(f"{base}/state", json.dumps(state).encode(), qos=1, retain=True)


@pytest.mark.parametrize(
    ("status", "age_s", "host", "pid", "live"),
    [
        (b"online", 5.0, "other-host", 4242, True),  # running elsewhere
        (b"online", 61.0, "other-host", 4242, False),  # stale: older than 2 heartbeats
        (b"offline", 5.0, "other-host", 4242, False),  # stopped cleanly or its will fired
        (b"online", 5.0, socket.gethostname(), 2**22 + 7, False),  # this host, process gone
        (b"online", 5.0, socket.gethostname(), os.getpid(), True),  # this host, still running
    ],
)
async def test_broker_check_tells_a_live_instance_from_a_stale_online(
    mqtt_broker: Broker,
    prefix: str,
    status: bytes,
    age_s: float,
    host: str,
    pid: int,
    live: bool,
) -> None:
    """Retained ``online`` + a state younger than max_age_s from a running process, signed with
    the operator key, is a live instance, named; anything else is ignored (with a warning when
    ``online``)."""
    clock = ManualClock(1_800_000_000.0)
    state = {"bot_id": "bot1", "block": 580, "published_at": clock.now() - age_s}
    state = TEST_OPERATOR_KEY.signed(f"{prefix}/bot1/state", {**state, "host": host, "pid": pid})
    await _retain(mqtt_broker, f"{prefix}/bot1", status, state)
    settings = _settings(mqtt_broker.host, mqtt_broker.port, prefix)
    with capture_logs() as logs:
        found = await find_live_instance(
            settings, "bot1", max_age_s=60, clock=clock, operator_key=TEST_OPERATOR_KEY
        )
    if live:
        assert found is not None
        assert str(found) == (
            f"bot bot1 is running on host {host} pid {pid}: online on broker "
            f"{mqtt_broker.host}:{mqtt_broker.port}, its state published 5 s ago, block 580"
        )
    else:
        assert found is None
    warned = [e for e in logs if e["event"] == "instance.stale_online_ignored"]
    assert len(warned) == (1 if status == b"online" and not live else 0)


async def test_broker_check_with_no_broker_goes_on_with_a_warning() -> None:
    """An unreachable broker does not block the start: a warning, no live instance."""
    settings = _settings("127.0.0.1", free_port(), "p")
    with capture_logs() as logs:
        found = await find_live_instance(
            settings, "bot1", max_age_s=60, clock=ManualClock(), operator_key=TEST_OPERATOR_KEY
        )
    assert found is None
    assert [e["event"] for e in logs] == ["instance.broker_check_skipped"]
