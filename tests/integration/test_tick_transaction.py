"""One store transaction per tick, and a fill seen exactly once by the store, the log and
MQTT: real anvil + Uniswap V2 pool, the paper venue, the real SQLite store, a real broker."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from mqtt_support import recording
from structlog.testing import capture_logs
from test_engine import local_world, move_and_tick, started_bot

from bot.errors import StoreError
from bot.sim.anvil import Anvil
from bot.sim.mosquitto import Broker
from bot.telemetry.bridge import TelemetryBridge
from bot.telemetry.mqtt import MqttSettings, MqttTelemetry

pytestmark = pytest.mark.integration


def _rows(path: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql, params).fetchall()


def _fails_once(call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``call`` that raises ``StoreError`` the first time (a disk that fills up once)."""
    failed: list[bool] = []

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not failed:
            failed.append(True)
            raise StoreError("store write failed: database or disk is full")
        return await call(*args, **kwargs)

    return wrapper


async def test_a_store_error_mid_account_leaves_none_of_the_ticks_rows(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The opening tick sells the LP's delta (the ledger's intent and order rows are its own,
    written ahead); its account step stores the fill, the cursors and the snapshot, then the
    decision write fails: none of those rows remain, the tick raises StoreError, and the
    next tick writes its snapshot, its decision and the fill, once."""
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        bot = await started_bot(world, venue)
        path = bot.store.path
        try:
            real = bot.store.record_decision
            bot.store.record_decision = _fails_once(real)  # type: ignore[method-assign]
            cursor = "SELECT value FROM meta WHERE key = 'fills_since_ms'"
            cursor_before = _rows(path, cursor)
            block = await bot.chain.latest_block()
            with pytest.raises(StoreError, match="disk is full"):
                await bot.engine.tick(block)
            after_failure = {
                "snapshots": _rows(path, "SELECT block FROM snapshots"),
                "decisions": _rows(path, "SELECT block FROM decisions"),
                "fills": _rows(path, "SELECT trade_id FROM fills"),
                "cursor": _rows(path, cursor),
                "intents": _rows(path, "SELECT status FROM intents"),
            }
            venue_position = (await bot.exchange.position()).size_base
            later = await move_and_tick(world, venue, bot, world.target_price)
            snapshots = _rows(path, "SELECT block FROM snapshots")
            decisions = _rows(path, "SELECT block FROM decisions")
            fills = _rows(path, "SELECT trade_id FROM fills")
            fill_ms = _rows(path, "SELECT MAX(ts) FROM fills")
            cursor_after = _rows(path, cursor)
        finally:
            await bot.close()
    assert venue_position < 0  # the order went through before the account step
    assert after_failure["intents"] == [("filled",)]  # the ledger's own write-ahead records
    assert after_failure["snapshots"] == []
    assert after_failure["decisions"] == []
    assert after_failure["fills"] == []
    assert after_failure["cursor"] == cursor_before  # rolled back with the fill
    # the cursor is stored at start, before the first order (VenueHistory.load), so the
    # later tick's write shows as the cursor reaching its stored fill, not as a new row
    assert cursor_before != []
    assert [(int(c),) for (c,) in cursor_after] == fill_ms
    assert snapshots == [(later.block,)]
    assert decisions == [(later.block,)]
    assert len(fills) == 1
    assert later.pnl["trading_fees_quote"] > 0  # the fill reached the attribution
    assert later.position.size_base == venue_position


async def test_a_fill_reaches_log_mqtt_and_store_exactly_once(
    anvil_node: Anvil, tmp_path: Path, mqtt_broker: Broker
) -> None:
    """The opening tick's fill: one ``fill.recorded`` log line, one MQTT ``fill`` event, one
    store row, over that tick and two quiet ticks after it (which read the same venue fills
    again from the inclusive cursor)."""
    prefix = f"hedgebot-test/{uuid.uuid4().hex[:10]}"
    settings = MqttSettings.model_validate(
        {"url": mqtt_broker.url, "topic_prefix": prefix + "/{bot_id}", "timeout_s": 3}
    )
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        bot = await started_bot(world, venue)
        try:
            async with MqttTelemetry(settings, bot.engine.bot_id) as mqtt:
                assert await mqtt.wait_connected(5)
                bot.engine.telemetry = TelemetryBridge(mqtt=mqtt, clock=venue.clock)
                async with recording(mqtt_broker, mqtt.topics.events) as rec:
                    with capture_logs() as logs:
                        first = await bot.engine.tick(await bot.chain.latest_block())
                        await move_and_tick(world, venue, bot, world.target_price)
                        await move_and_tick(world, venue, bot, world.target_price)
                    decided = await rec.wait_for(lambda s: s.json()["type"] == "decision")
                    await rec.wait_for(lambda s: s.json()["type"] == "fill")
                    events = [m.json() for m in rec.messages]
            fills = _rows(bot.store.path, "SELECT trade_id, body FROM fills")
        finally:
            await bot.close()
    assert first is not None
    assert first.order is not None
    assert decided.json()["data"]["action"] == "rebalance"
    mqtt_fills = [e["data"] for e in events if e["type"] == "fill"]
    log_fills = [line for line in logs if line["event"] == "fill.recorded"]
    assert len(fills) == 1
    (trade_id,) = [row[0] for row in fills]
    assert [f["trade_id"] for f in mqtt_fills] == [trade_id]
    assert [line["trade_id"] for line in log_fills] == [trade_id]
    assert mqtt_fills[0]["client_order_id"] == first.order.client_order_id
    assert mqtt_fills[0]["amount_base"] == str(first.order.filled_base)
