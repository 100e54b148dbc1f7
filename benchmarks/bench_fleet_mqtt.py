"""A fleet on one broker: 200 bots' telemetry (the bot's own ``MqttTelemetry``), loopback only.

Each bot has its own id, client id (``hedgebot-<bot_id>``) and topics
(``<prefix>/<bot_id>/...``). A round is one block's burst: every bot publishes its retained
state and one event; the next round starts when a live subscriber (a monitor) has received
all of them. The figure is messages delivered per second over the rounds. (A burst of many
blocks at once overflows Mosquitto's per-subscriber queue, ``max_queued_messages`` 1000 by
default, and a QoS 1 subscriber loses messages: docs/mqtt.md, "Clustered brokers".) Then a late
subscriber (a new connection) must receive every bot's retained latest state and ``online``
status. Runs on Mosquitto and on NATS server (each started here on free loopback ports; a
broker whose binary is missing is left out, not zero). Prints figures, never asserts on time.

``fleet_round`` is also the load test's body (tests/integration/test_mqtt_fleet.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiomqtt

from bot.logging import configure_logging
from bot.sim.mosquitto import Broker, mosquitto_available, start_broker
from bot.sim.nats import nats_available, start_nats, stop_nats
from bot.telemetry.messages import EventMessage, StateMessage
from bot.telemetry.mqtt import MqttSettings, MqttTelemetry

BOTS = 200
ROUNDS = 5
BOUND_S = 120.0  # the whole round is bounded: a broker that stalls fails, never hangs


@dataclass
class FleetResult:
    """What one fleet round saw. ``late_states``: bot id -> block of the retained state a
    late subscriber received; ``late_online``: bot ids whose retained status was online."""

    bots: int
    rounds: int
    delivered_live: int
    elapsed_s: float
    late_states: dict[str, int] = field(default_factory=dict)
    late_online: set[str] = field(default_factory=set)

    @property
    def messages_per_s(self) -> float:
        """Messages the live subscriber received per second of the publishing window."""
        return self.delivered_live / self.elapsed_s if self.elapsed_s > 0 else 0.0


def fleet_bot_id(index: int) -> str:
    """The id of fleet bot ``index`` (also its topic level and client id suffix)."""
    return f"fleet-{index:03d}"


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


def _settings(broker: Broker, prefix: str) -> MqttSettings:
    return MqttSettings(
        url=broker.url,
        topic_prefix=prefix + "/{bot_id}",
        reconnect_min_s=0.2,
        reconnect_max_s=2.0,
        timeout_s=30,
    )


class _Collector:
    """Messages on a subscription, counted and kept by topic (the latest per topic)."""

    def __init__(self) -> None:
        self.count = 0
        self.events = 0
        self.latest: dict[str, tuple[bytes, bool]] = {}
        self.changed = asyncio.Event()

    async def pump(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            data = bytes(payload) if isinstance(payload, bytes | bytearray) else b""
            topic = str(message.topic)
            self.count += 1
            if topic.endswith("/events"):
                self.events += 1
            else:
                self.latest[topic] = (data, message.retain)
            self.changed.set()

    async def until(self, done: Callable[[], bool]) -> None:
        while not done():
            self.changed.clear()
            await self.changed.wait()


@contextlib.asynccontextmanager
async def _subscribed(broker: Broker, *topics: str) -> Any:
    collector = _Collector()
    async with aiomqtt.Client(
        broker.host, broker.port, identifier=f"fleet-watch-{uuid.uuid4().hex[:8]}", timeout=30
    ) as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)
        task = asyncio.create_task(collector.pump(client))
        try:
            yield collector
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


def _block_of(payload: bytes) -> int | None:
    try:
        block = json.loads(payload).get("block")
    except (ValueError, AttributeError):
        return None
    return block if isinstance(block, int) else None


async def _clear(broker: Broker, prefix: str, bot_ids: list[str]) -> None:
    """Delete the fleet's retained status and state from the broker."""
    with contextlib.suppress(aiomqtt.MqttError):
        async with aiomqtt.Client(broker.host, broker.port, timeout=30) as client:
            for bot_id in bot_ids:
                for kind in ("status", "state"):
                    await client.publish(f"{prefix}/{bot_id}/{kind}", b"", qos=1, retain=True)


async def fleet_round(
    broker: Broker, bots: int = BOTS, rounds: int = ROUNDS, prefix: str | None = None
) -> FleetResult:
    """Run ``bots`` telemetry clients on ``broker`` for ``rounds`` states and events each,
    then read every retained state with a late subscriber. Raises ``TimeoutError`` past
    ``BOUND_S``. Leaves nothing retained under ``prefix`` (default: a fresh one)."""
    prefix = prefix or f"hedgebot-fleet/{uuid.uuid4().hex[:8]}"
    bot_ids = [fleet_bot_id(i) for i in range(bots)]
    fleet = [MqttTelemetry(_settings(broker, prefix), bot_id) for bot_id in bot_ids]
    last_block = rounds
    try:
        async with asyncio.timeout(BOUND_S):
            await asyncio.gather(*(t.start() for t in fleet))
            connected = await asyncio.gather(*(t.wait_connected() for t in fleet))
            if not all(connected):
                raise RuntimeError("not every fleet bot connected")
            result = await _publish_rounds(broker, prefix, fleet, rounds)
            async with _subscribed(broker, f"{prefix}/+/state", f"{prefix}/+/status") as late:
                await late.until(lambda: len(late.latest) >= 2 * bots)
            for topic, (payload, _retain) in late.latest.items():
                bot_id, kind = topic.split("/")[-2:]
                if kind == "state" and _block_of(payload) == last_block:
                    result.late_states[bot_id] = last_block
                elif kind == "status" and payload == b"online":
                    result.late_online.add(bot_id)
            return result
    finally:
        await asyncio.gather(*(t.stop() for t in fleet), return_exceptions=True)
        await _clear(broker, prefix, bot_ids)


async def _publish_rounds(
    broker: Broker, prefix: str, fleet: list[MqttTelemetry], rounds: int
) -> FleetResult:
    """Every bot publishes one state and one event a round (a block's burst: 2 x bots
    messages); the next round starts once a live subscriber has every bot's state and event
    of this one. Counts what the subscriber received and the time it took."""
    bots = len(fleet)
    async with _subscribed(broker, f"{prefix}/+/state", f"{prefix}/+/events") as live:
        started = time.perf_counter()
        for block in range(1, rounds + 1):
            for telemetry in fleet:
                telemetry.publish_state(_state(telemetry.bot_id, block))
                telemetry.publish_event(EventMessage(type="decision", ts=float(block)))

            def arrived(block: int = block) -> bool:
                return live.events >= bots * block and all(
                    _block_of(live.latest.get(t.topics.state, (b"", False))[0]) == block
                    for t in fleet
                )

            await live.until(arrived)
        elapsed = time.perf_counter() - started
    return FleetResult(bots, rounds, live.count, elapsed)


def _on(start: Callable[[], Broker], stop: Callable[[Broker], None]) -> FleetResult:
    broker = start()
    try:
        return asyncio.run(fleet_round(broker))
    finally:
        stop(broker)


def _stop_mosquitto(broker: Broker) -> None:
    import shutil

    broker.stop()
    if broker.workdir is not None:
        shutil.rmtree(broker.workdir, ignore_errors=True)


def run() -> dict[str, dict[str, Any]]:
    """The figures: messages/s delivered and retained states delivered late, per broker."""
    configure_logging("error", "json", file=sys.stderr)
    brokers: list[tuple[str, bool, Callable[[], Broker], Callable[[Broker], None]]] = [
        ("mosquitto", mosquitto_available(), start_broker, _stop_mosquitto),
        ("nats", nats_available(), start_nats, stop_nats),
    ]
    figures: dict[str, dict[str, Any]] = {}
    for name, available, start, stop in brokers:
        if not available:
            print(f"# bench_fleet_mqtt: {name} not installed: left out", file=sys.stderr)
            continue
        result = _on(start, stop)
        figures[f"mqtt_fleet_{name}_messages"] = {
            "value": round(result.messages_per_s, 1),
            "unit": f"msg/s ({result.bots} bots)",
        }
        figures[f"mqtt_fleet_{name}_late_retained_states"] = {
            "value": len(result.late_states),
            "unit": f"of {result.bots} delivered",
        }
    return figures
