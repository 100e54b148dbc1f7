"""`hedgebot run` as a user runs it: a subprocess against `hedgebot localnet` and a real broker.

One `localnet` (anvil + Uniswap V2 + a market stepping a simulated day every 0.5 s, so nearly
every block moves the LP delta out of the band) serves the module; each test runs its own
daemon with a fresh store, venue and topic prefix. Uses ``MQTT_URL`` when it is set and
reachable, else a mosquitto of our own; the broker-restart test always runs its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest
import yaml
from mqtt_support import Seen, ack_sig, operator_env, own_broker, recording, signed, stop_own
from prometheus_client.parser import text_string_to_metric_families

from bot.sim.mosquitto import Broker, free_port

pytestmark = pytest.mark.integration

HEDGEBOT = [sys.executable, "-m", "bot"]
UNREACHABLE_BROKER = "mqtt://127.0.0.1:1"  # in the config file: only an override can work


# ---- the world: localnet and a broker ---------------------------------------------------------


@dataclass
class Localnet:
    """A running `hedgebot localnet`."""

    out: Path
    proc: asyncio.subprocess.Process


@pytest.fixture(scope="module")
async def localnet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Localnet]:
    """`hedgebot localnet` with a block (one simulated day of market) every 0.5 s."""
    out = tmp_path_factory.mktemp("daemon-localnet")
    with (out / "localnet.log").open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            *HEDGEBOT,
            "localnet",
            "--out",
            str(out),
            "--block-interval-s",
            "0.5",
            "--step-seconds",
            "86400",
            stdout=log_file,
            stderr=log_file,
        )
    try:
        async with asyncio.timeout(60):
            while not (out / "localnet.json").exists():
                assert proc.returncode is None, (out / "localnet.log").read_text()
                await asyncio.sleep(0.1)
        yield Localnet(out, proc)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)


def _own_broker(port: int | None = None) -> Broker:
    return own_broker(port=port)


@pytest.fixture
def broker(mqtt_broker: Broker) -> Broker:
    """The session's broker (``MQTT_URL`` or our own mosquitto)."""
    return mqtt_broker


@pytest.fixture
async def prefix(broker: Broker) -> AsyncIterator[str]:
    """A topic prefix no other test uses; its retained messages are cleared afterwards."""
    unique = f"hedgebot-daemon-test/{uuid.uuid4().hex[:10]}"
    yield unique
    with contextlib.suppress(aiomqtt.MqttError):
        async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
            for kind in ("status", "state"):
                await client.publish(f"{unique}/daemon/{kind}", b"", qos=1, retain=True)


# ---- the daemon --------------------------------------------------------------------------------


@dataclass
class Daemon:
    """A `hedgebot run` subprocess with its own store, venue and log."""

    workdir: Path
    config: Path
    proc: asyncio.subprocess.Process | None = None
    metrics_port: int = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / "daemon.log"

    async def start(self, mqtt_url: str, *, via: str = "--mqtt-url") -> None:
        """Run the daemon; the broker URL comes from ``--mqtt-url`` or the env variable ``via``
        (``MQTT_URL``, or ``HEDGEBOT_MQTT__URL`` as docker-compose sets it)."""
        env = operator_env(
            {k: v for k, v in os.environ.items() if k not in ("MQTT_URL", "HEDGEBOT_MQTT__URL")}
        )
        env["PYTHONUNBUFFERED"] = "1"
        args = [*HEDGEBOT, "run", "--config", str(self.config)]
        if via == "--mqtt-url":
            args += ["--mqtt-url", mqtt_url]
        else:
            env[via] = mqtt_url
        with self.log_path.open("ab") as log_file:
            self.proc = await asyncio.create_subprocess_exec(
                *args, stdout=log_file, stderr=log_file, env=env
            )

    def log_events(self) -> list[dict[str, Any]]:
        """The daemon's structlog lines (JSON), in order."""
        events = []
        for line in self.log_path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                obj = json.loads(line)
                if isinstance(obj, dict) and "event" in obj:
                    events.append(obj)
        return events

    def logged(self, event: str) -> int:
        return sum(1 for e in self.log_events() if e["event"] == event)

    async def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 20) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), timeout_s)
        return code

    def store(self) -> sqlite3.Connection:
        """Read-only view of the daemon's store."""
        uri = f"file:{self.workdir / 'hedgebot.sqlite'}?mode=ro"
        return sqlite3.connect(uri, uri=True)

    def count(self, sql: str) -> int:
        with contextlib.closing(self.store()) as db:
            return int(db.execute(sql).fetchone()[0])

    def venue_orders(self) -> int:
        return len(json.loads((self.workdir / "venue.json").read_text())["orders"])


def make_daemon(
    localnet: Localnet, workdir: Path, prefix: str, *, max_tick_age_s: float = 120.0
) -> Daemon:
    """Copy localnet's config with this test's store, venue, MQTT prefix and metrics port."""
    workdir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = yaml.safe_load((localnet.out / "config.yaml").read_text())
    config["bot_id"] = "daemon"
    config["store"] = {"path": str(workdir / "hedgebot.sqlite")}
    config["exchange"]["paper"]["state_path"] = str(workdir / "venue.json")
    config["logging"] = {"level": "info", "format": "json"}
    config["mqtt"] = {
        "url": UNREACHABLE_BROKER,
        "topic_prefix": prefix + "/{bot_id}",
        "client_id": f"hb-daemon-{uuid.uuid4().hex[:10]}",
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.5,
        "keepalive_s": 5,
        "timeout_s": 3,
    }
    metrics_port = free_port()
    config["metrics"] = {"port": metrics_port, "max_tick_age_s": max_tick_age_s}
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return Daemon(workdir=workdir, config=path, metrics_port=metrics_port)


@pytest.fixture
async def daemons() -> AsyncIterator[list[Daemon]]:
    """Daemons a test started; any still running are killed at the end."""
    started: list[Daemon] = []
    yield started
    for daemon in started:
        if daemon.proc is not None and daemon.proc.returncode is None:
            daemon.proc.kill()
            await daemon.proc.wait()


# ---- a subscriber that records what it sees -----------------------------------------------------


async def publish(broker: Broker, topic: str, payload: bytes) -> None:
    async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
        await client.publish(topic, payload, qos=1)


def on(topic: str, match: Callable[[Any], bool] = lambda _: True) -> Callable[[Seen], bool]:
    """A message on ``topic`` whose JSON payload satisfies ``match``."""

    def test(seen: Seen) -> bool:
        if seen.topic != topic:
            return False
        try:
            body = seen.json()
        except json.JSONDecodeError:
            return False
        return bool(match(body))

    return test


def status(topic: str, value: bytes, *, retain: bool | None = None) -> Callable[[Seen], bool]:
    def test(seen: Seen) -> bool:
        return (
            seen.topic == topic
            and seen.payload == value
            and (retain is None or seen.retain is retain)
        )

    return test


async def eventually(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Wait until ``condition()`` holds (the daemon's log or store), polling every 50 ms."""
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def retained(broker: Broker, base: str, kind: str) -> Seen:
    """What a subscriber arriving now gets on ``base/kind`` (must be retained)."""
    async with recording(broker, f"{base}/{kind}") as late:
        return await late.wait_for(lambda s: s.topic == f"{base}/{kind}" and s.retain, 5)


async def http_get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition keyed by (name, sorted labels)."""
    values = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


# ---- tests -------------------------------------------------------------------------------------


async def test_daemon_publishes_status_state_events_metrics_and_stops_cleanly(
    localnet: Localnet, broker: Broker, prefix: str, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """`run --mqtt-url` publishes retained online + state, events and metrics; SIGTERM: offline."""
    daemon = make_daemon(localnet, tmp_path / "bot", prefix, max_tick_age_s=1.5)
    daemons.append(daemon)
    base = f"{prefix}/daemon"
    async with recording(broker, f"{base}/#") as seen:
        await daemon.start(broker.url)
        await seen.wait_for(status(f"{base}/status", b"online"))
        await seen.wait_for(on(f"{base}/events", lambda e: e["type"] == "order"))
        await seen.wait_for(on(f"{base}/events", lambda e: e["type"] == "fill"))
        await seen.wait_for(on(f"{base}/events", lambda e: e["type"] == "decision"))
        await seen.wait_for(on(f"{base}/state", lambda s: s["hedge_base"] != "0"))

        # a subscriber arriving now gets both retained messages
        assert (await retained(broker, base, "status")).payload == b"online"
        state = (await retained(broker, base, "state")).json()
        assert state["bot_id"] == "daemon"
        assert state["block"] > 0
        assert Decimal(state["price"]) > 0
        (position,) = state["positions"]
        assert position["kind"] == "v2"
        assert Decimal(position["delta_base"]) > 0
        assert Decimal(state["delta_base"]) == Decimal(position["delta_base"])
        assert Decimal(state["target_base"]) == -Decimal(state["delta_base"])  # ratio 1
        assert Decimal(state["hedge_base"]) < 0  # short hedge placed
        assert set(state["pnl"]) >= {"lp_fees", "il", "hedge", "funding", "trading_fees", "net"}
        assert Decimal(state["pnl"]["trading_fees"]) > 0
        assert state["paused"] is False
        assert Decimal(state["liquidation_distance_pct"]) > 0  # short: liquidation above mark
        assert Decimal(state["liquidation_price"]) > Decimal(state["mark_price"])
        assert 0 < Decimal(state["margin_ratio"]) < 1

        order = next(m.json() for m in seen.messages if on(f"{base}/events")(m))
        assert order["schema_version"] == 1
        orders = [
            m.json()["data"]
            for m in seen.messages
            if on(f"{base}/events", lambda e: e["type"] == "order")(m)
        ]
        assert orders[0]["status"] == "filled"
        assert orders[0]["side"] == "sell"

        # /metrics and /healthz
        metrics_url = f"http://127.0.0.1:{daemon.metrics_port}"
        code, text = await http_get(f"{metrics_url}/metrics")
        assert code == 200
        values = samples(text)
        for name in (
            "hedgebot_delta_base",
            "hedgebot_hedge_base",
            "hedgebot_target_base",
            "hedgebot_drift_base",
            "hedgebot_margin_ratio",
            "hedgebot_liquidation_distance_pct",
            "hedgebot_block",
            "hedgebot_paused",
        ):
            assert (name, ()) in values, name
        assert values[("hedgebot_delta_base", ())] > 0
        assert values[("hedgebot_hedge_base", ())] < 0
        assert values[("hedgebot_liquidation_distance_pct", ())] > 0
        assert 0 < values[("hedgebot_margin_ratio", ())] < 1
        for part in ("lp_fees", "il", "hedge", "funding", "trading_fees", "slippage", "net"):
            assert ("hedgebot_pnl_quote", (("part", part),)) in values
        assert values[("hedgebot_pnl_quote", (("part", "trading_fees"),))] > 0
        assert values[("hedgebot_orders_total", (("outcome", "filled"),))] >= 1
        assert values[("hedgebot_tick_latency_seconds_count", ())] >= 1
        assert ("hedgebot_tick_latency_seconds_bucket", (("le", "0.5"),)) in values
        code, body = await http_get(f"{metrics_url}/healthz")
        assert code == 200, body
        assert json.loads(body)["status"] == "ok"

        # no new blocks (the market process is frozen): /healthz turns 503, then recovers
        localnet.proc.send_signal(signal.SIGSTOP)
        try:
            for _ in range(100):
                code, body = await http_get(f"{metrics_url}/healthz")
                if code == 503:
                    break
                await asyncio.sleep(0.1)
            assert code == 503, body
            health = json.loads(body)
            assert health["status"] == "unhealthy"
            assert "last successful tick" in health["reason"]
            assert "(max 1.5s)" in health["reason"]
        finally:
            localnet.proc.send_signal(signal.SIGCONT)
        for _ in range(100):
            code, body = await http_get(f"{metrics_url}/healthz")
            if code == 200:
                break
            await asyncio.sleep(0.1)
        assert code == 200, body

        # SIGTERM: the daemon itself publishes offline (retained) and exits 0
        assert await daemon.stop(signal.SIGTERM) == 0
        await seen.wait_for(status(f"{base}/status", b"offline"))
    statuses = [m.payload for m in seen.messages if m.topic == f"{base}/status"]
    assert statuses[-1] == b"offline"
    assert (await retained(broker, base, "status")).payload == b"offline"
    assert daemon.logged("engine.stopped") == 1
    assert daemon.logged("mqtt.stopped") == 1  # clean disconnect, not the Last Will


async def test_commands_pause_trading_and_bad_commands_change_nothing(
    localnet: Localnet, broker: Broker, prefix: str, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Malformed / out-of-range commands are refused with a reason; `pause` stops all orders."""
    daemon = make_daemon(localnet, tmp_path / "bot", prefix)
    daemons.append(daemon)
    base = f"{prefix}/daemon"
    acks = f"{base}/cmd/ack"
    events = f"{base}/events"
    async with recording(broker, f"{base}/#") as seen:
        await daemon.start(broker.url)
        await seen.wait_for(on(events, lambda e: e["type"] == "order"), 20)

        await publish(broker, f"{base}/cmd", b'{"id": "bad-1", "command": "pause"')
        malformed = (await seen.wait_for(on(acks, lambda a: a["id"] is None))).json()
        assert malformed["status"] == "rejected"
        assert malformed["reason"].startswith("malformed JSON: ")

        ratio_command = signed(
            f"{base}/cmd",
            b'{"id": "ratio-1", "command": "set_hedge_ratio", "params": {"value": 5}}',
        )
        await publish(broker, f"{base}/cmd", ratio_command)
        ratio = (await seen.wait_for(on(acks, lambda a: a["id"] == "ratio-1"))).json()
        expected_ratio_ack = {
            "schema_version": 1,
            "id": "ratio-1",
            "status": "rejected",
            "reason": "params.value: must be <= 3",
            "ref": hashlib.sha256(ratio_command).hexdigest(),  # bound to the message it answers
        }
        assert ratio == {**expected_ratio_ack, "sig": ack_sig(acks, expected_ratio_ack)}
        rejected_event = await seen.wait_for(
            on(events, lambda e: e["type"] == "command" and e["data"]["id"] == "ratio-1")
        )
        assert rejected_event.json()["data"]["status"] == "rejected"

        # nothing changed: two more ticks still hedge at ratio 1, unpaused, nothing recorded
        block_now = max(m.json()["block"] for m in seen.messages if m.topic == f"{base}/state")
        later = (
            await seen.wait_for(on(f"{base}/state", lambda s: s["block"] >= block_now + 2))
        ).json()
        assert Decimal(later["target_base"]) == -Decimal(later["delta_base"])
        assert later["paused"] is False
        # the signed, refused command's id is used up and recorded, nothing else changed
        # (before the issue-12 follow-up, item 2, its id stayed free and nothing was recorded)
        assert daemon.count("SELECT COUNT(*) FROM commands") == 1
        assert daemon.count("SELECT COUNT(*) FROM commands WHERE id = 'ratio-1'") == 1
        assert daemon.count("SELECT COUNT(*) FROM commands WHERE status = 'rejected'") == 1
        assert daemon.count("SELECT COUNT(*) FROM meta WHERE key = 'hedge_ratio'") == 0

        # pause: ok ack, a `command` event, state shows paused
        await publish(
            broker, f"{base}/cmd", signed(f"{base}/cmd", b'{"id": "pause-1", "command": "pause"}')
        )
        ok = (await seen.wait_for(on(acks, lambda a: a["id"] == "pause-1"))).json()
        assert ok["status"] == "ok"
        assert ok["reason"] is None
        applied = (
            await seen.wait_for(
                on(events, lambda e: e["type"] == "command" and e["data"]["id"] == "pause-1")
            )
        ).json()
        assert applied["data"]["status"] == "ok"
        paused_state = (await seen.wait_for(on(f"{base}/state", lambda s: s["paused"]))).json()
        intents = daemon.count("SELECT COUNT(*) FROM intents")
        venue_orders = daemon.venue_orders()
        assert intents >= 1
        assert venue_orders == intents

        # the market keeps moving the delta past the band, yet no order goes out
        def outside_band(s: dict[str, Any]) -> bool:
            return (
                s["paused"]
                and s["block"] > paused_state["block"]
                and abs(Decimal(s["drift_base"])) > Decimal(s["band_base"])
            )

        drifted = (await seen.wait_for(on(f"{base}/state", outside_band), 20)).json()
        await seen.wait_for(on(f"{base}/state", lambda s: s["block"] >= drifted["block"] + 2))
        assert daemon.count("SELECT COUNT(*) FROM intents") == intents
        assert daemon.venue_orders() == venue_orders
        assert daemon.count("SELECT COUNT(*) FROM decisions WHERE reason = 'paused'") >= 1
        assert daemon.count("SELECT MAX(block) FROM intents") < paused_state["block"]

        # the same id again is refused
        await publish(
            broker, f"{base}/cmd", signed(f"{base}/cmd", b'{"id": "pause-1", "command": "pause"}')
        )
        await seen.wait_for(on(acks, lambda a: a["id"] == "pause-1" and a["status"] == "rejected"))
        duplicate = [m.json() for m in seen.messages if on(acks, lambda a: a["id"] == "pause-1")(m)]
        assert duplicate[-1]["reason"] == "duplicate id 'pause-1': command already applied"
    assert await daemon.stop() == 0
    with contextlib.closing(daemon.store()) as db:
        rows = db.execute("SELECT id, command, status FROM commands").fetchall()
    assert sorted(rows) == [("pause-1", "pause", "ok"), ("ratio-1", "set_hedge_ratio", "rejected")]


async def test_sigkill_leaves_last_will_and_restart_refuses_applied_command_ids(
    localnet: Localnet, broker: Broker, prefix: str, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """SIGKILL: the broker publishes the LWT `offline`; after restart (MQTT_URL from env) the
    pause persists, its id stays refused, and `hedgebot cmd` resumes trading."""
    daemon = make_daemon(localnet, tmp_path / "bot", prefix)
    daemons.append(daemon)
    base = f"{prefix}/daemon"
    acks = f"{base}/cmd/ack"
    async with recording(broker, f"{base}/#") as seen:
        await daemon.start(broker.url, via="MQTT_URL")
        await seen.wait_for(on(f"{base}/state"))
        await publish(
            broker, f"{base}/cmd", signed(f"{base}/cmd", b'{"id": "pause-k", "command": "pause"}')
        )
        await seen.wait_for(on(acks, lambda a: a["id"] == "pause-k" and a["status"] == "ok"))
        await seen.wait_for(on(f"{base}/state", lambda s: s["paused"]))
        before_kill = len(seen.messages)

        assert await daemon.stop(signal.SIGKILL) == -signal.SIGKILL
        await seen.wait_for(status(f"{base}/status", b"offline"), 10)
        assert daemon.logged("engine.stopping") == 0  # no clean shutdown ran
        assert daemon.logged("mqtt.stopped") == 0
        assert (await retained(broker, base, "status")).payload == b"offline"

        await daemon.start(broker.url, via="MQTT_URL")
        await seen.wait_for(status(f"{base}/status", b"online"), after=before_kill)
        restarted = await seen.wait_for(on(f"{base}/state"), after=before_kill)
        assert restarted.json()["paused"] is True  # persisted in the store

        await publish(
            broker, f"{base}/cmd", signed(f"{base}/cmd", b'{"id": "pause-k", "command": "pause"}')
        )
        refused = await seen.wait_for(
            on(acks, lambda a: a["id"] == "pause-k" and a["status"] == "rejected")
        )
        assert refused.json()["reason"] == "duplicate id 'pause-k': command already applied"

        cli = await asyncio.create_subprocess_exec(
            *HEDGEBOT,
            "cmd",
            "daemon",
            "resume",
            "--mqtt-url",
            broker.url,
            "--prefix",
            prefix,
            "--timeout",
            "10",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=operator_env(),
        )
        out, err = await asyncio.wait_for(cli.communicate(), 20)
        assert cli.returncode == 0, (out + err).decode()
        assert out.decode().startswith("ok: resume applied (id ")
        await seen.wait_for(on(f"{base}/state", lambda s: not s["paused"]), after=before_kill)
        assert await daemon.stop() == 0
    with contextlib.closing(daemon.store()) as db:
        rows = db.execute("SELECT command, status FROM commands ORDER BY ts").fetchall()
    assert rows == [("pause", "ok"), ("resume", "ok")]


async def test_broker_restart_mid_run_daemon_keeps_ticking_and_resumes_publishing(
    localnet: Localnet, prefix: str, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Broker stopped while the daemon runs: ticks go on; once it is back, state flows again.

    The broker URL comes from ``HEDGEBOT_MQTT__URL``, as the compose file passes it."""
    own = _own_broker()
    try:
        daemon = make_daemon(localnet, tmp_path / "bot", prefix)
        daemons.append(daemon)
        base = f"{prefix}/daemon"
        async with recording(own, f"{base}/#") as seen:
            await daemon.start(own.url, via="HEDGEBOT_MQTT__URL")
            first = (await seen.wait_for(on(f"{base}/state"))).json()

        own.stop()
        await eventually(lambda: daemon.logged("mqtt.disconnected") >= 1)
        ticks = daemon.logged("tick.completed")
        await eventually(lambda: daemon.logged("tick.completed") >= ticks + 3)
        last_block_while_down = max(
            e["block"] for e in daemon.log_events() if e["event"] == "tick.completed"
        )
        assert daemon.proc is not None
        assert daemon.proc.returncode is None

        own.start()
        own.wait_listening()
        async with recording(own, f"{base}/#") as seen:
            await seen.wait_for(status(f"{base}/status", b"online"))
            after = (
                await seen.wait_for(
                    on(f"{base}/state", lambda s: s["block"] > last_block_while_down)
                )
            ).json()
        assert after["block"] > first["block"]
        assert daemon.logged("mqtt.connected") == 2
        assert await daemon.stop() == 0
    finally:
        stop_own(own)


async def test_state_after_a_rebalance_reports_the_remaining_drift(
    localnet: Localnet, broker: Broker, prefix: str, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """In every published state, drift = hedge - target (what is left after the tick's order)."""
    daemon = make_daemon(localnet, tmp_path / "bot", prefix)
    daemons.append(daemon)
    base = f"{prefix}/daemon"
    async with recording(broker, f"{base}/state") as seen:
        await daemon.start(broker.url)
        state = (await seen.wait_for(on(f"{base}/state", lambda s: s["hedge_base"] != "0"))).json()
    assert await daemon.stop() == 0
    hedge, target = Decimal(state["hedge_base"]), Decimal(state["target_base"])
    assert Decimal(state["drift_base"]) == hedge - target


async def test_hostile_commands_never_crash_the_daemon_nor_drop_its_command_channel(
    localnet: Localnet, broker: Broker, prefix: str, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """An 80,000-level nesting, a 20 MB message and well-formed hostile commands are refused;
    the daemon (whose imports raise the recursion limit) keeps its connection and its ticks,
    and a valid signed command is still applied."""
    daemon = make_daemon(localnet, tmp_path / "bot", prefix)
    daemons.append(daemon)
    base = f"{prefix}/daemon"
    cmd, acks = f"{base}/cmd", f"{base}/cmd/ack"
    nesting = 80_000
    hostile = [
        b"[" * nesting + b"]" * nesting,
        b'{"id":"big","command":"' + b"x" * (20 * 1024 * 1024) + b'"}',
        b'{"id":"d","command":"set_hedge_ratio","params":{"value":' + b"9" * 5000 + b"}}",
        signed(cmd, {"id": "digits", "command": "set_hedge_ratio", "params": {"value": 9**4000}}),
        signed(cmd, {"id": "\ud800", "command": "pause"}),
        signed(cmd, {"id": "nan", "command": "set_hedge_ratio", "params": {"value": "NaN"}}),
        json.dumps({"id": "unsigned", "command": "pause"}).encode(),
    ]
    async with recording(broker, f"{base}/#") as seen:
        await daemon.start(broker.url)
        await seen.wait_for(on(f"{base}/state"), 20)
        for payload in hostile:
            await publish(broker, cmd, payload)
        await seen.wait_for(on(acks, lambda a: a["id"] == "unsigned"))
        assert daemon.proc is not None
        assert daemon.proc.returncode is None  # survived: no segfault, no exit
        refusals = [m for m in seen.messages if m.topic == acks]
        assert len(refusals) == len(hostile)
        assert all(m.json()["status"] == "rejected" for m in refusals)
        assert all(len(m.payload) < 1024 for m in refusals)  # nothing huge echoed back
        reasons = {m.json()["id"]: m.json()["reason"] for m in refusals if m.json()["id"]}
        assert reasons == {
            "digits": "params.value: must be <= 3",
            "\\ud800": "id: must be printable characters only",  # echoed escaped
            "nan": "params.value: must be a finite number",
            "unsigned": "unsigned command: sign it with the operator key (docs/mqtt.md, Signing)",
        }
        too_large = [m.json()["reason"] for m in refusals if m.json()["id"] is None]
        assert len(too_large) == 3  # the nesting, the 20 MB command and the 5,000 digits
        assert all(r.startswith("too large: ") for r in too_large)

        # still listening: a valid signed command is applied, and ticks go on after it
        ticks = daemon.logged("tick.completed")
        await publish(broker, cmd, signed(cmd, {"id": "pause-after", "command": "pause"}))
        ok = (await seen.wait_for(on(acks, lambda a: a["id"] == "pause-after"))).json()
        assert ok["status"] == "ok"
        await eventually(lambda: daemon.logged("tick.completed") >= ticks + 2)
    assert daemon.logged("mqtt.connected") == 1  # the command channel never dropped
    assert daemon.logged("command.receive_failed") == 0
    assert all(len(json.dumps(e)) < 2048 for e in daemon.log_events())  # bounded log lines
    assert await daemon.stop() == 0


async def test_cmd_prints_ok_although_a_peer_races_copies_of_its_command(
    localnet: Localnet, broker: Broker, prefix: str, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """A peer re-publishes the operator's command at once (byte-identical, and with a wrong
    sig): `hedgebot cmd` still prints ok and exits 0, and the daemon applied it once (issue 12
    follow-up, item 1: the copy's signed rejection used to be read as the command's)."""
    daemon = make_daemon(localnet, tmp_path / "bot", prefix)
    daemons.append(daemon)
    base = f"{prefix}/daemon"
    await daemon.start(broker.url)
    async with recording(broker, f"{base}/#") as seen:
        await seen.wait_for(on(f"{base}/state"), 30)
        copies: list[bytes] = []

        async def racer() -> None:
            async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
                await client.subscribe(f"{base}/cmd", qos=1)
                async for message in client.messages:
                    payload = bytes(message.payload)  # type: ignore[arg-type]
                    if payload in copies:
                        continue
                    forged = json.dumps({**json.loads(payload), "sig": "0" * 64}).encode()
                    copies.extend([payload, forged])
                    await client.publish(f"{base}/cmd", forged, qos=1)
                    await client.publish(f"{base}/cmd", payload, qos=1)

        task = asyncio.create_task(racer())
        await asyncio.sleep(0.5)
        try:
            proc = await asyncio.create_subprocess_exec(
                *HEDGEBOT,
                *("cmd", "daemon", "pause", "--prefix", prefix, "--mqtt-url", broker.url),
                env=operator_env(),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task
        assert proc.returncode == 0, out.decode() + err.decode()
        assert out.decode().startswith("ok: pause applied")
        command_id = json.loads(copies[0])["id"]
        forged_ref = hashlib.sha256(copies[1]).hexdigest()
        forged_ack = await seen.wait_for(on(f"{base}/cmd/ack", lambda a: a["ref"] == forged_ref))
        assert forged_ack.json()["reason"] == "bad signature"
        acks = [m.json() for m in seen.on(f"{base}/cmd/ack")]
        ours = [a["status"] for a in acks if a["ref"] == hashlib.sha256(copies[0]).hexdigest()]
        assert ours in (["ok"], ["ok", "ok"])  # a late identical copy gets the same ok again
        assert all(a["id"] == command_id for a in acks)
    assert await daemon.stop() == 0
    assert daemon.logged("command.applied") == 1
    with contextlib.closing(daemon.store()) as db:
        rows = db.execute("SELECT id, command, status FROM commands").fetchall()
    assert rows == [(command_id, "pause", "ok")]
