"""The start-up broker check believes only a signed state (issue 12 review 2 item 1): anyone on
an anonymous broker could retain ``online`` and a fresh unsigned state naming "host attacker"
and so keep ``hedgebot run`` from ever starting. Real Mosquitto, real daemons on localnet."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml
from daemon_support import running_localnet, start_bot
from mqtt_support import TEST_OPERATOR_KEY, clear_retained, operator_env, recording
from mqtt_support import mqtt_broker as mqtt_broker  # a session fixture
from structlog.testing import capture_logs

from bot.clock import ManualClock
from bot.fleet_status import load_fleet_status
from bot.sim.mosquitto import Broker
from bot.telemetry.auth import OperatorKey
from bot.telemetry.commands import CommandValidator
from bot.telemetry.messages import StateMessage
from bot.telemetry.monitor import MonitorView
from bot.telemetry.mqtt import MqttSettings, MqttTelemetry
from bot.telemetry.peers import find_live_instance

pytestmark = pytest.mark.integration

NOW = 1_800_000_000.0
OTHER_KEY = OperatorKey("another-operator-key-0123456789abcdef0123")


@pytest.fixture
async def prefix(mqtt_broker: Broker) -> AsyncIterator[str]:
    """A topic prefix no other test uses; what is retained on it is cleared after."""
    unique = f"hedgebot-forged/{uuid.uuid4().hex[:10]}"
    yield unique
    await clear_retained(mqtt_broker, unique)


def _settings(broker: Broker, prefix: str) -> MqttSettings:
    return MqttSettings(
        url=f"mqtt://{broker.host}:{broker.port}",
        topic_prefix=prefix + "/{bot_id}",
        reconnect_min_s=0.1,
        reconnect_max_s=0.5,
        keepalive_s=5,
        timeout_s=3,
        client_id=f"hb-{uuid.uuid4().hex[:12]}",
    )


async def _retain(broker: Broker, base: str, state: dict[str, Any]) -> None:
    async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
        await client.publish(f"{base}/status", b"online", qos=1, retain=True)
        await client.publish(f"{base}/state", json.dumps(state).encode(), qos=1, retain=True)


def _fresh(bot_id: str = "bot1") -> dict[str, Any]:
    return {"bot_id": bot_id, "published_at": NOW - 5, "host": "attacker", "pid": 4242, "block": 1}


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
        published_at=time.time(),
        host="genuine-host",
        pid=4242,
    )


@pytest.mark.parametrize(
    "forge",
    [
        "unsigned",
        "other key",
        "copied from another bot",
        "signed, other bot id",
        "sig changed field",
    ],
)
async def test_a_forged_fresh_state_does_not_refuse_a_start(
    mqtt_broker: Broker, prefix: str, forge: str
) -> None:
    """A fresh retained state that is unsigned, signed with another key, signed for another
    bot's topic, naming another bot, or altered after signing is not a live instance: the check
    answers None with one ``mqtt.forged_instance`` warning."""
    base = f"{prefix}/bot1"
    state = _fresh()
    if forge == "other key":
        state = OTHER_KEY.signed(f"{base}/state", state)
    elif forge == "copied from another bot":
        state = TEST_OPERATOR_KEY.signed(f"{prefix}/bot2/state", state)
    elif forge == "signed, other bot id":
        state = TEST_OPERATOR_KEY.signed(f"{base}/state", _fresh("bot2"))
    elif forge == "sig changed field":
        state = {**TEST_OPERATOR_KEY.signed(f"{base}/state", state), "host": "elsewhere"}
    await _retain(mqtt_broker, base, state)
    with capture_logs() as logs:
        found = await find_live_instance(
            _settings(mqtt_broker, prefix),
            "bot1",
            max_age_s=60,
            clock=ManualClock(NOW),
            operator_key=TEST_OPERATOR_KEY,
        )
    assert found is None
    warned = [e for e in logs if e["event"] == "mqtt.forged_instance"]
    assert len(warned) == 1
    assert warned[0]["bot_id"] == "bot1"
    assert "starting anyway" in warned[0]["reason"]


async def test_without_an_operator_key_no_state_refuses_a_start(
    mqtt_broker: Broker, prefix: str
) -> None:
    """Without a key nothing can be verified: even a genuinely signed fresh state is only the
    warning ``mqtt.unverified_instance``, and the start goes on."""
    base = f"{prefix}/bot1"
    await _retain(mqtt_broker, base, TEST_OPERATOR_KEY.signed(f"{base}/state", _fresh()))
    with capture_logs() as logs:
        found = await find_live_instance(
            _settings(mqtt_broker, prefix),
            "bot1",
            max_age_s=60,
            clock=ManualClock(NOW),
            operator_key=None,
        )
    assert found is None
    assert [e["event"] for e in logs] == ["mqtt.unverified_instance"]


async def test_the_daemon_signs_its_retained_state_and_readers_take_it(
    mqtt_broker: Broker, prefix: str
) -> None:
    """With an operator key the published state carries a ``sig`` over its ``state`` topic; the
    start check believes it, and the monitor and fleet status read it as before."""
    telemetry = MqttTelemetry(
        _settings(mqtt_broker, prefix),
        "bot1",
        validator=CommandValidator(operator_key=TEST_OPERATOR_KEY),
    )
    topic = f"{prefix}/bot1/state"
    async with telemetry, recording(mqtt_broker, topic) as rec:
        assert await telemetry.wait_connected(10)
        telemetry.publish_state(_state("bot1", 7))
        seen = await rec.wait_for(lambda s: s.topic == topic)
        payload = seen.json()
        assert TEST_OPERATOR_KEY.verify(topic, payload)
        assert not OTHER_KEY.verify(topic, payload)
        assert not TEST_OPERATOR_KEY.verify(f"{prefix}/bot2/state", payload)
        found = await find_live_instance(
            _settings(mqtt_broker, prefix),
            "bot1",
            max_age_s=60,
            clock=ManualClock(payload["published_at"] + 1),
            operator_key=TEST_OPERATOR_KEY,
        )
        assert found is not None
        assert found.host == "genuine-host"
        assert found.block == 7
        view = MonitorView(prefix=prefix)
        view.apply(topic, seen.payload, time.time())
        assert view.bots["bot1"].state is not None
        assert view.bots["bot1"].state.block == 7
        rows = await load_fleet_status(
            None, mqtt_url=f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}", prefix=prefix
        )
        assert [(r.bot_id, r.block, r.source) for r in rows] == [("bot1", 7, "mq")]


def _run_second(config: Path, workdir: Path, bot_id: str) -> tuple[int, str]:
    """``hedgebot run`` of ``bot_id`` with a store and host lock directory of its own (another
    machine, as far as file locks go); its exit code and stderr once it stopped."""
    import subprocess

    data = yaml.safe_load(config.read_text())
    data["store"] = {"path": str(workdir / "second.sqlite")}
    data["exchange"]["paper"]["state_path"] = str(workdir / "second-venue.json")
    data["metrics"] = {"enabled": False}
    second = workdir / "second.yaml"
    second.write_text(yaml.safe_dump(data, sort_keys=False))
    env = operator_env({**os.environ, "HEDGEBOT_LOCK_DIR": str(workdir / "locks2")})
    env.pop("MQTT_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(second)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stderr


async def test_run_starts_despite_a_forged_state_and_a_genuine_one_still_refuses(
    mqtt_broker: Broker, prefix: str, tmp_path: Path
) -> None:
    """``hedgebot run`` starts and ticks although the broker holds a forged fresh ``online`` +
    state for its bot id (warning ``mqtt.forged_instance`` in its log); once it runs, its signed
    state refuses a second ``run`` of that bot id (exit 1 naming this host and its pid)."""
    bot_id = f"forged-{uuid.uuid4().hex[:6]}"
    (tmp_path / "ln").mkdir()
    async with running_localnet(tmp_path / "ln") as (localnet, _proc):
        forged = {**_fresh(bot_id), "published_at": time.time()}  # fresh for 2 heartbeats
        await _retain(mqtt_broker, f"{prefix}/{bot_id}", forged)
        topic = f"{prefix}/{bot_id}/state"
        async with recording(mqtt_broker, topic) as rec:
            bot = await start_bot(localnet, tmp_path / "bot", bot_id, mqtt_broker, prefix)
            try:
                genuine = await rec.wait_for(
                    lambda s: TEST_OPERATOR_KEY.verify(topic, s.json()), 90
                )
            except BaseException:
                await bot.proc.stop()
                raise
        try:
            assert genuine.json()["pid"] == bot.proc.proc.pid
            log = bot.proc.log.read_text()
            assert "mqtt.forged_instance" in log
            assert "InstanceLocked" not in log
            code, stderr = await asyncio.to_thread(
                _run_second, bot.config, tmp_path / "bot", bot_id
            )
            assert code == 1, stderr
            assert (
                f"InstanceLocked: bot {bot_id} is running on host {socket.gethostname()} "
                f"pid {bot.proc.proc.pid}"
            ) in stderr
        finally:
            await bot.proc.stop()
