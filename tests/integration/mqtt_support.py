"""A real Mosquitto broker for the MQTT tests: ``MQTT_URL`` when set and reachable, else one of
our own on a free port (``bot.sim.mosquitto``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import pytest

from bot.sim.mosquitto import Broker, mosquitto_available, reachable, start_broker
from bot.telemetry.auth import OPERATOR_KEY_ENV, OperatorKey

# the operator key the tests' bots run with (HEDGEBOT_OPERATOR_KEY in a daemon's env)
TEST_OPERATOR_KEY_TEXT = "test-operator-key-0123456789abcdef0123456789abcdef"
TEST_OPERATOR_KEY = OperatorKey(TEST_OPERATOR_KEY_TEXT)


def operator_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with the test operator key set."""
    return {**(os.environ if env is None else env), OPERATOR_KEY_ENV: TEST_OPERATOR_KEY_TEXT}


def signed(topic: str, command: dict[str, Any] | bytes, *, ts: int | None = None) -> bytes:
    """``command`` (a dict, or JSON bytes of an object) as sent by an operator: with ``ts``
    (now unless given) and its ``sig`` over ``topic`` (the bot's ``.../cmd``)."""
    body = json.loads(command) if isinstance(command, bytes) else dict(command)
    body["ts"] = int(time.time()) if ts is None else ts
    return json.dumps(TEST_OPERATOR_KEY.signed(topic, body)).encode()


def ack_sig(ack_topic: str, ack: dict[str, Any]) -> str:
    """The signature the bot must put on ``ack`` (without ``sig``) published on ``ack_topic``."""
    return TEST_OPERATOR_KEY.sign(ack_topic, ack)


async def clear_retained(broker: Broker, prefix: str, bot_id: str = "bot1") -> None:
    """Delete what a test left retained under ``prefix/bot_id`` (status, state, cmd)."""
    with contextlib.suppress(aiomqtt.MqttError):
        async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
            for kind in ("status", "state", "cmd"):
                await client.publish(f"{prefix}/{bot_id}/{kind}", b"", qos=1, retain=True)


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


@dataclass(frozen=True)
class Seen:
    """One message as a subscriber saw it."""

    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class Recorder:
    """Every message on the subscribed topics, in arrival order."""

    messages: list[Seen] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(
        self, match: Callable[[Seen], bool], timeout_s: float = 15.0, *, after: int = 0
    ) -> Seen:
        """The first message from index ``after`` on that ``match``es, waiting for it."""
        async with asyncio.timeout(timeout_s):
            while True:
                for seen in self.messages[after:]:
                    if match(seen):
                        return seen
                self.changed.clear()
                await self.changed.wait()

    def on(self, topic: str) -> list[Seen]:
        """The messages seen on ``topic``."""
        return [m for m in self.messages if m.topic == topic]


@contextlib.asynccontextmanager
async def recording(broker: Broker, *topics: str) -> AsyncIterator[Recorder]:
    """Subscribe to ``topics`` and record until the block ends (a broker going away is fine)."""
    recorder = Recorder()
    client = aiomqtt.Client(broker.host, broker.port, timeout=5)
    await client.__aenter__()
    for topic in topics:
        await client.subscribe(topic, qos=1)

    async def pump() -> None:
        async for message in client.messages:
            payload = message.payload
            assert isinstance(payload, bytes | bytearray)
            recorder.messages.append(Seen(str(message.topic), bytes(payload), message.retain))
            recorder.changed.set()

    task = asyncio.create_task(pump())
    try:
        yield recorder
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await task
        with contextlib.suppress(aiomqtt.MqttError):
            await client.__aexit__(None, None, None)
