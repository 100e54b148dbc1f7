"""MQTT names from the operator (issue 19 review, item 9): ``hedgebot cmd`` refuses a BOT
that is not a bot id before connecting (exit 2, one line, never a traceback), an unusable
``--prefix`` (exit 4); on NATS server's MQTT listener a topic with '.' is reported as the
broker dropping the connection with the reason, never as a stray traceback; ``check-config``
warns about a ``topic_prefix`` that NATS cannot carry."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.config_checks import topic_warnings
from bot.sim.mosquitto import Broker
from bot.sim.nats import nats_available, start_nats, stop_nats

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
KEY = {"HEDGEBOT_OPERATOR_KEY": "k" * 64}


def _closed_port() -> int:
    """A loopback port nothing listens on (a connection attempt would fail: exit 3)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hedgebot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HEDGEBOT_", "MQTT_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )


def _no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert "Future exception was never retrieved" not in done.stderr, done.stderr


@pytest.mark.parametrize("bot", ["r19.b", "r19/#", "r19/+/x", "", "a" * 33, "sp ace"])
def test_cmd_refuses_a_bot_that_is_not_a_bot_id_before_connecting(bot: str) -> None:
    """Exit 2 with one line naming the bot id rule; the broker (a closed port) is never
    tried, which would be exit 3."""
    url = f"mqtt://127.0.0.1:{_closed_port()}"
    done = _hedgebot("cmd", bot, "pause", "--mqtt-url", url, "--timeout", "2", env=KEY)
    assert done.returncode == 2, done.stderr
    assert "is not a bot id" in done.stderr
    assert "A-Z a-z 0-9 _ -" in done.stderr
    assert "cannot reach" not in done.stderr
    _no_traceback(done)


@pytest.mark.parametrize("prefix", ["a/#", "+", "/lead", "trail/", ""])
def test_cmd_refuses_an_unusable_prefix(prefix: str) -> None:
    """A wildcard, an edge '/' or an empty prefix: exit 4, one clear line, no connection."""
    url = f"mqtt://127.0.0.1:{_closed_port()}"
    done = _hedgebot("cmd", "fleet-a", "pause", "--prefix", prefix, "--mqtt-url", url, env=KEY)
    assert done.returncode == 4, done.stderr
    assert "--prefix" in done.stderr
    _no_traceback(done)


@pytest.fixture
def nats() -> Iterator[Broker]:
    if not nats_available():
        pytest.skip("nats-server is not installed")
    broker = start_nats()
    yield broker
    stop_nats(broker)
    if broker.workdir is not None:
        shutil.rmtree(broker.workdir, ignore_errors=True)


def test_cmd_on_nats_with_a_dotted_prefix_says_why_without_a_traceback(nats: Broker) -> None:
    """NATS's MQTT listener closes the connection on 'hb.fleet/...': exit 3, the line says
    the broker dropped the connection and why; no 'Future exception was never retrieved'."""
    done = _hedgebot(
        "cmd", "fleet-a", "pause", "--prefix", "hb.fleet", "--mqtt-url", nats.url,
        "--timeout", "3", env=KEY,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "dropped the connection" in " ".join(done.stderr.split())
    assert "refuses '.'" in " ".join(done.stderr.split())
    _no_traceback(done)


def test_topic_warnings_name_what_nats_cannot_carry() -> None:
    """'.' and ' ' are named; a plain prefix has no warning."""
    assert topic_warnings("hedgebot/fleet-a") == []
    (dotted,) = topic_warnings("hb.fleet/fleet-a")
    assert dotted.startswith("mqtt.topic_prefix: 'hb.fleet/fleet-a' holds '.'")
    assert "NATS" in dotted
    (both,) = topic_warnings("my fleet.x/a")
    assert "a space and '.'" in both


def test_check_config_warns_about_a_prefix_nats_cannot_carry(tmp_path: Path) -> None:
    """``topic_prefix: hb.fleet/{bot_id}`` passes (exit 0: fine on Mosquitto) with a warning
    on stderr naming the prefix and NATS; the default prefix has none."""
    data = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    data["mqtt"] = {"url": "mqtt://127.0.0.1:1883", "topic_prefix": "hb.fleet/{bot_id}"}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    done = _hedgebot("check-config", str(config))
    assert done.returncode == 0, done.stderr
    assert "warning: mqtt.topic_prefix: 'hb.fleet/" in done.stderr
    assert "NATS" in done.stderr
    data["mqtt"]["topic_prefix"] = "hedgebot/{bot_id}"
    config.write_text(yaml.safe_dump(data))
    plain = _hedgebot("check-config", str(config))
    assert plain.returncode == 0, plain.stderr
    assert "warning" not in plain.stderr
