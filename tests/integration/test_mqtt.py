"""MqttTelemetry, ``hedgebot monitor`` and ``hedgebot cmd`` against real brokers.

Every contract test runs twice: on Mosquitto (``MQTT_URL`` when it is set and reachable, else
our own ``mosquitto`` on a free port) and on NATS server's MQTT listener (our own
``nats-server`` with JetStream). The restart test runs its own broker of each kind, the
password test its own Mosquitto.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import aiomqtt
import pytest
from mqtt_support import TEST_OPERATOR_KEY, Seen, ack_sig, recording, signed, stop_own
from mqtt_support import own_broker as _own_broker
from nats_support import both_brokers
from rich.console import Console
from structlog.testing import capture_logs

from bot.sim.mosquitto import Broker, free_port
from bot.sim.nats import nats_available, restart_nats, start_nats
from bot.telemetry.commands import CommandValidator
from bot.telemetry.messages import EventMessage, StateMessage
from bot.telemetry.monitor import monitor, send_command
from bot.telemetry.mqtt import MqttSettings, MqttTelemetry

pytestmark = pytest.mark.integration

# the MQTT contract holds on Mosquitto and on NATS server's MQTT listener
mqtt_broker = both_brokers()

REPO = Path(__file__).resolve().parents[2]


def _password_broker(username: str, password: str) -> Broker:
    """A broker that accepts only ``username``/``password`` (no anonymous clients)."""
    passwd = shutil.which("mosquitto_passwd")
    if passwd is None:
        pytest.skip("mosquitto_passwd is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="hedgebot-passwd-"))
    workdir.chmod(0o755)
    password_file = workdir / "passwd"
    subprocess.run([passwd, "-b", "-c", str(password_file), username, password], check=True)
    password_file.chmod(0o644)
    return _own_broker(f"password_file {password_file}\n", anonymous=False)


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait until ``condition()`` holds, polling every 20 ms."""
    for _ in range(int(timeout_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


@pytest.fixture
async def prefix(mqtt_broker: Broker) -> AsyncIterator[str]:
    """A topic prefix no other test uses; its retained messages are cleared afterwards."""
    unique = f"hedgebot-test/{uuid.uuid4().hex[:10]}"
    yield unique
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port, timeout=5) as client:
        await client.subscribe(f"{unique}/#")
        retained: set[str] = set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.2):
                async for message in client.messages:
                    if message.retain:
                        retained.add(str(message.topic))
        for topic in retained:
            await client.publish(topic, b"", qos=1, retain=True)


def _settings(broker: Broker, prefix: str, **overrides: object) -> MqttSettings:
    fields: dict[str, object] = {
        "url": broker.url,
        "topic_prefix": prefix + "/{bot_id}",
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.5,
        "keepalive_s": 5,
        "timeout_s": 3,
        "client_id": f"hb-{uuid.uuid4().hex[:12]}",
    }
    fields.update(overrides)
    return MqttSettings.model_validate(fields)


def _keyed() -> CommandValidator:
    """The validator of a bot started with the test operator key."""
    return CommandValidator(operator_key=TEST_OPERATOR_KEY)


async def _publish(broker: Broker, topic: str, payload: bytes) -> None:
    async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
        await client.publish(topic, payload, qos=1)


def _state(bot_id: str, block: int) -> StateMessage:
    return StateMessage(
        bot_id=bot_id,
        block=block,
        timestamp=int(time.time()),
        price=Decimal("2000.5"),
        delta_base=Decimal("1.25"),
        target_base=Decimal("-1.25"),
        hedge_base=Decimal("-1.2"),
        drift_base=Decimal("0.05"),
        band_base=Decimal("0.1"),
    )


def _is(
    topic: str, payload: bytes | None = None, *, retain: bool | None = None
) -> Callable[[Seen], bool]:
    def match(seen: Seen) -> bool:
        return (
            seen.topic == topic
            and (payload is None or seen.payload == payload)
            and (retain is None or seen.retain == retain)
        )

    return match


def _state_block(topic: str, block: int, *, retain: bool | None = None) -> Callable[[Seen], bool]:
    def match(seen: Seen) -> bool:
        return (
            seen.topic == topic
            and (retain is None or seen.retain == retain)
            and json.loads(seen.payload)["block"] == block
        )

    return match


# ---- tests -----------------------------------------------------------------------------------


async def test_late_subscriber_sees_retained_status_and_state(
    mqtt_broker: Broker, prefix: str
) -> None:
    """A subscriber arriving after the fact gets status=online and the latest state, retained."""
    async with MqttTelemetry(_settings(mqtt_broker, prefix), "bot1") as telemetry:
        assert await telemetry.wait_connected(5)
        topics = telemetry.topics
        async with recording(mqtt_broker, topics.state) as live:
            telemetry.publish_state(_state("bot1", 1))
            telemetry.publish_state(_state("bot1", 2))
            await live.wait_for(_state_block(topics.state, 2))
        async with recording(mqtt_broker, f"{prefix}/bot1/#") as late:
            await late.wait_for(_is(topics.status, b"online", retain=True))
            seen = await late.wait_for(_is(topics.state, retain=True))
            body = json.loads(seen.payload)
            assert body["block"] == 2
            assert body["price"] == "2000.5"
            assert body["schema_version"] == 1


async def test_events_are_published_and_counted(mqtt_broker: Broker, prefix: str) -> None:
    """Events reach the broker while connected; events while disconnected are dropped."""
    telemetry = MqttTelemetry(_settings(mqtt_broker, prefix), "bot1")
    telemetry.publish_event(EventMessage(type="alert", ts=1.0, data={"msg": "before start"}))
    assert telemetry.dropped_events == 1
    async with telemetry:
        assert await telemetry.wait_connected(5)
        async with recording(mqtt_broker, telemetry.topics.events) as rec:
            telemetry.publish_event(
                EventMessage(type="fill", ts=2.0, data={"price": Decimal("1999.99")})
            )
            seen = await rec.wait_for(_is(telemetry.topics.events))
            body = json.loads(seen.payload)
            assert body["type"] == "fill"
            assert body["data"]["price"] == "1999.99"
    assert telemetry.dropped_events == 1


async def test_full_event_queue_drops_and_counts(mqtt_broker: Broker, prefix: str) -> None:
    """publish_event never blocks: past event_queue_size new events are dropped and counted."""
    settings = _settings(mqtt_broker, prefix, event_queue_size=2)
    async with MqttTelemetry(settings, "bot1") as telemetry:
        assert await telemetry.wait_connected(5)
        async with recording(mqtt_broker, telemetry.topics.events) as rec:
            for n in range(5):  # no await in between: the publisher cannot drain meanwhile
                telemetry.publish_event(EventMessage(type="alert", ts=float(n), data={"n": n}))
            assert telemetry.dropped_events == 3
            await rec.wait_for(lambda s: json.loads(s.payload)["data"]["n"] == 1)
            await asyncio.sleep(0.1)
            assert [json.loads(m.payload)["data"]["n"] for m in rec.messages] == [0, 1]


async def test_clean_stop_publishes_offline_retained(mqtt_broker: Broker, prefix: str) -> None:
    """Stopping publishes status=offline, retained for anyone who looks later."""
    telemetry = MqttTelemetry(_settings(mqtt_broker, prefix), "bot1")
    await telemetry.start()
    assert await telemetry.wait_connected(5)
    async with recording(mqtt_broker, telemetry.topics.status) as rec:
        await rec.wait_for(_is(telemetry.topics.status, b"online"))
        await telemetry.stop()
        await rec.wait_for(_is(telemetry.topics.status, b"offline"))
    assert telemetry.status == "stopped"
    async with recording(mqtt_broker, telemetry.topics.status) as late:
        await late.wait_for(_is(telemetry.topics.status, b"offline", retain=True))


async def test_last_will_marks_a_killed_bot_offline(mqtt_broker: Broker, prefix: str) -> None:
    """SIGKILL of the publishing process leaves status=offline (the Last Will), retained."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        from bot.telemetry.mqtt import MqttSettings, MqttTelemetry

        async def main() -> None:
            settings = MqttSettings(url=sys.argv[1], topic_prefix=sys.argv[2] + "/{bot_id}")
            telemetry = MqttTelemetry(settings, "victim")
            await telemetry.start()
            if not await telemetry.wait_connected(5):
                sys.exit(3)
            print("connected", flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    status_topic = f"{prefix}/victim/status"
    async with recording(mqtt_broker, status_topic) as rec:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            mqtt_broker.url,
            prefix,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
        )
        try:
            assert proc.stdout is not None
            async with asyncio.timeout(15):
                while (line := await proc.stdout.readline()).strip() != b"connected":
                    assert line, "the bot process exited before connecting"
            await rec.wait_for(_is(status_topic, b"online"))
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        await rec.wait_for(_is(status_topic, b"offline"), timeout_s=10)
    async with recording(mqtt_broker, status_topic) as late:
        await late.wait_for(_is(status_topic, b"offline", retain=True))


async def test_valid_commands_are_queued_and_acked_after_apply(
    mqtt_broker: Broker, prefix: str
) -> None:
    """A valid command lands on the queue; its ack appears only once the engine acks it."""
    async with MqttTelemetry(
        _settings(mqtt_broker, prefix), "bot1", validator=_keyed()
    ) as telemetry:
        assert await telemetry.wait_connected(5)
        topics = telemetry.topics
        async with recording(mqtt_broker, topics.cmd_ack) as acks:
            body = {"id": "c-1", "command": "set_hedge_ratio", "params": {"value": 0.8}}
            sent = signed(topics.cmd, body)
            await _publish(mqtt_broker, topics.cmd, sent)
            async with asyncio.timeout(5):
                command = await telemetry.commands.get()
            assert command.id == "c-1"
            assert command.command == "set_hedge_ratio"
            assert command.params.value == Decimal("0.8")  # type: ignore[union-attr]
            assert acks.on(topics.cmd_ack) == []
            await telemetry.ack(command.id, True)
            seen = await acks.wait_for(_is(topics.cmd_ack))
            expected_ack = {
                "schema_version": 1,
                "id": "c-1",
                "status": "ok",
                "reason": None,
                "ref": hashlib.sha256(sent).hexdigest(),  # bound to the message it answers
            }
            assert json.loads(seen.payload) == {
                **expected_ack,
                "sig": ack_sig(topics.cmd_ack, expected_ack),
            }
            await _publish(
                mqtt_broker, topics.cmd, signed(topics.cmd, b'{"id":"c-2","command":"pause"}')
            )
            async with asyncio.timeout(5):
                refused = await telemetry.commands.get()
            await telemetry.ack(refused.id, False, "already paused")
            seen = await acks.wait_for(lambda s: json.loads(s.payload)["id"] == "c-2")
            assert json.loads(seen.payload)["status"] == "rejected"
            assert json.loads(seen.payload)["reason"] == "already paused"


async def test_bad_commands_are_rejected_and_never_queued(mqtt_broker: Broker, prefix: str) -> None:
    """Malformed, unknown, out-of-range, unknown-field and replayed commands get a reason."""
    async with MqttTelemetry(
        _settings(mqtt_broker, prefix), "bot1", validator=_keyed()
    ) as telemetry:
        assert await telemetry.wait_connected(5)
        topics = telemetry.topics
        async with recording(mqtt_broker, topics.cmd_ack) as acks:
            await _publish(
                mqtt_broker, topics.cmd, signed(topics.cmd, b'{"id":"dup","command":"resume"}')
            )
            async with asyncio.timeout(5):
                applied = await telemetry.commands.get()
            await telemetry.ack(applied.id, True)
            await acks.wait_for(lambda s: json.loads(s.payload)["id"] == "dup")
            cases = [
                (b"{this is not json", None, "malformed JSON"),
                (b'{"id":"u1","command":"launch"}', "u1", "unknown command 'launch'"),
                (
                    b'{"id":"r1","command":"set_hedge_ratio","params":{"value":5}}',
                    "r1",
                    "params.value: must be <= 3",
                ),
                (
                    b'{"id":"f1","command":"pause","params":{"force":true}}',
                    "f1",
                    "params.force: unknown field",
                ),
                (b'{"id":"dup","command":"pause"}', "dup", "already applied"),
                (b'{"command":"pause"}', None, "missing id"),
            ]
            for raw, _, _ in cases:
                is_object = raw.startswith(b'{"')
                await _publish(
                    mqtt_broker, topics.cmd, signed(topics.cmd, raw) if is_object else raw
                )
            for _, command_id, reason in cases:
                seen = await acks.wait_for(
                    lambda s, i=command_id, r=reason: (
                        json.loads(s.payload)["id"] == i
                        and r in (json.loads(s.payload)["reason"] or "")
                    )
                )
                assert json.loads(seen.payload)["status"] == "rejected"
        assert telemetry.commands.empty()


@pytest.fixture
def own_prefix() -> str:
    """A topic prefix for a test that runs its own broker (thrown away with it)."""
    return f"hedgebot-test/{uuid.uuid4().hex[:10]}"


def _restartable(kind: str) -> tuple[Broker, Callable[[], None]]:
    """A broker of our own of ``kind`` and how to start it again after ``stop``."""
    if kind == "mosquitto":
        broker = _own_broker()
        return broker, broker.start
    if not nats_available():
        pytest.skip("nats-server is not installed (scripts/ensure-nats.sh installs it)")
    nats = start_nats()
    return nats, lambda: restart_nats(nats)


@pytest.mark.parametrize("kind", ["mosquitto", "nats"])
async def test_broker_restart_resumes_publishing(own_prefix: str, kind: str) -> None:
    """Broker stopped and restarted: the bot reconnects, republishes online and its state."""
    prefix = own_prefix
    broker, start_again = _restartable(kind)
    try:
        telemetry = MqttTelemetry(_settings(broker, prefix), "bot1")
        async with telemetry:
            assert await telemetry.wait_connected(5)
            telemetry.publish_state(_state("bot1", 10))
            async with recording(broker, telemetry.topics.state) as rec:
                await rec.wait_for(_state_block(telemetry.topics.state, 10))
            broker.stop()
            await eventually(lambda: not telemetry.connected)
            telemetry.publish_state(_state("bot1", 11))  # while down: kept as latest
            telemetry.publish_event(EventMessage(type="alert", ts=0.0))  # while down: dropped
            assert telemetry.dropped_events == 1
            await asyncio.sleep(0.3)
            await asyncio.to_thread(start_again)
            await asyncio.to_thread(broker.wait_listening)
            assert await telemetry.wait_connected(10)
            assert telemetry.connect_errors >= 1
            async with recording(broker, f"{prefix}/bot1/#") as late:
                await late.wait_for(_is(telemetry.topics.status, b"online", retain=True))
                await late.wait_for(_state_block(telemetry.topics.state, 11, retain=True))
                telemetry.publish_state(_state("bot1", 12))
                await late.wait_for(_state_block(telemetry.topics.state, 12))
    finally:
        stop_own(broker)


async def test_wrong_password_is_reported_as_auth_failure(own_prefix: str) -> None:
    """A broker refusing our credentials: mqtt.auth_failed log, status and last_error; retries."""
    prefix = own_prefix
    broker = _password_broker("bot", "right-pw")
    try:
        wrong = _settings(broker, prefix, username="bot", password="wrong-pw")
        with capture_logs() as logs:
            telemetry = MqttTelemetry(wrong, "bot1")
            async with telemetry:
                await eventually(lambda: telemetry.connect_errors >= 2)
                assert not telemetry.connected
                assert telemetry.status == "auth_failed"
                assert telemetry.last_error is not None
                assert "refused credentials" in telemetry.last_error
        failures = [e for e in logs if e["event"] == "mqtt.auth_failed"]
        assert len(failures) >= 2
        assert (
            "authori" in failures[0]["reason"].lower()
            or "password" in failures[0]["reason"].lower()
        )
        assert all("wrong-pw" not in json.dumps(e, default=str) for e in logs)
        right = _settings(broker, prefix, username="bot", password="right-pw")
        async with MqttTelemetry(right, "bot1") as telemetry:
            assert await telemetry.wait_connected(5)
    finally:
        stop_own(broker)


async def test_cmd_cli_exit_codes(mqtt_broker: Broker, prefix: str) -> None:
    """hedgebot cmd: 0 when applied, 1 when rejected, 2 when nobody answers."""
    async with MqttTelemetry(
        _settings(mqtt_broker, prefix), "bot1", validator=_keyed()
    ) as telemetry:
        assert await telemetry.wait_connected(5)

        async def engine() -> None:
            while True:
                command = await telemetry.commands.get()
                await telemetry.ack(command.id, True)

        task = asyncio.create_task(engine())
        console = Console(record=True, width=200)
        try:
            ok = await send_command(
                mqtt_broker.url,
                prefix,
                "bot1",
                "set_hedge_ratio",
                {"value": 0.5},
                timeout_s=5,
                operator_key=TEST_OPERATOR_KEY,
                console=console,
            )
            assert ok == 0
            rejected = await send_command(
                mqtt_broker.url,
                prefix,
                "bot1",
                "flatten",
                {},
                timeout_s=5,
                operator_key=TEST_OPERATOR_KEY,
                console=console,
            )
            assert rejected == 1
            silent = await send_command(
                mqtt_broker.url,
                prefix,
                "nobody",
                "pause",
                {},
                timeout_s=0.5,
                operator_key=TEST_OPERATOR_KEY,
                console=console,
            )
            assert silent == 2
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        text = console.export_text()
        assert "ok: set_hedge_ratio applied" in text
        assert "rejected: params.confirm: required" in text
        assert "timeout: no ack from nobody" in text


async def test_monitor_once_renders_a_frame(mqtt_broker: Broker, prefix: str) -> None:
    """hedgebot monitor --once prints one line per bot and the recent events."""
    async with MqttTelemetry(_settings(mqtt_broker, prefix), "bot7") as telemetry:
        assert await telemetry.wait_connected(5)
        telemetry.publish_state(_state("bot7", 42))
        async with recording(mqtt_broker, telemetry.topics.state) as rec:
            await rec.wait_for(_state_block(telemetry.topics.state, 42))
        console = Console(record=True, width=200)
        code = await monitor(mqtt_broker.url, prefix, once=True, duration_s=0.5, console=console)
        assert code == 0
        text = console.export_text()
        assert "bot7" in text
        assert "online" in text
        assert "1.2500" in text
        assert "42" in text


async def test_cli_reports_unreachable_broker() -> None:
    """Nothing listening: cmd and monitor say so and exit 3 instead of hanging."""
    url = f"mqtt://127.0.0.1:{free_port()}"
    assert (
        await send_command(
            url, "hedgebot", "b", "pause", {}, timeout_s=1, operator_key=TEST_OPERATOR_KEY
        )
        == 3
    )
    assert await monitor(url, "hedgebot", once=True, duration_s=0.2) == 3
