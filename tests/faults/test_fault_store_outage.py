"""The PostgreSQL server goes away under a running ``hedgebot run`` and comes back (issue 19:
"never trades without its record, and resumes when the database is back").

A real daemon subprocess (ccxt against the Binance emulator served here, anvil with a real
Uniswap V2 pool) keeps its store in PostgreSQL behind a TCP relay this test stops and starts.
While the relay is down the market moves the LP's delta far outside the band: no order may
reach the venue, and the log says why. Once the relay is back the daemon reconciles and
trades: the venue's own order log holds exactly the opening order and one rebalance, both
known and resolved in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import pytest
import yaml
from fault_world import KEY, SECRET, fault_config
from store_backends import PG_URL, unique_schema
from tcp_proxy import TcpProxy
from test_fault_crash import Child

from bot.clock import WallClock
from bot.config import load_config
from bot.domain import OrderStatus
from bot.exchange.emulators.binance_usdm import start_emulator
from bot.exchange.paper import venue_params
from bot.sim.anvil import Anvil
from bot.sim.localnet import local_config, start_world
from bot.sim.mosquitto import Broker, mosquitto_available, start_broker
from bot.store import open_store

pytestmark = pytest.mark.faults


@pytest.fixture
def schema() -> Iterator[str]:
    """A PostgreSQL schema of this test's own."""
    with unique_schema() as name:
        yield name


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A mosquitto of this test's own (the alert must reach MQTT)."""
    if not mosquitto_available():
        pytest.skip("mosquitto is not installed")
    own = start_broker()
    yield own
    own.stop()
    if own.workdir is not None:
        shutil.rmtree(own.workdir, ignore_errors=True)


@contextlib.asynccontextmanager
async def _events(broker: Broker, topic: str) -> AsyncIterator[list[bytes]]:
    """Every payload published on ``topic`` while the block runs."""
    seen: list[bytes] = []
    async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
        await client.subscribe(topic, qos=1)

        async def pump() -> None:
            async for message in client.messages:
                seen.append(bytes(message.payload) if isinstance(message.payload, bytes) else b"")

        task = asyncio.create_task(pump())
        try:
            yield seen
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _after(child: Child, event: str, index: int) -> list[dict[str, object]]:
    """The log lines named ``event`` from line ``index`` on."""
    return [e for e in child.events()[index:] if e.get("event") == event]


async def _wait_after(child: Child, event: str, index: int, timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not _after(child, event, index):  # noqa: ASYNC110 - polls the daemon's log file
            await asyncio.sleep(0.05)


async def test_database_outage_stops_trading_then_resumes_with_exactly_the_expected_orders(
    anvil_node: Anvil, tmp_path: Path, schema: str, broker: Broker
) -> None:
    """Relay down mid-run: the daemon stays up, alerts (log and MQTT alert event), places no
    order while the delta runs away; relay up: it reconciles, trades once, and the venue
    holds exactly two orders (open + rebalance), both filled in the store."""
    target = urlsplit(PG_URL)
    relay = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await relay.start()
    url = target._replace(netloc=f"{target.username}@127.0.0.1:{relay.port}").geturl()
    # weekly steps at 150 % volatility: each step moves the delta by several bands
    async with start_world(anvil_node.rpc_url, seed=21, sigma=1.5, step_seconds=7 * 86400) as world:
        probe = fault_config(world, tmp_path, {})
        emulator = await start_emulator(
            "127.0.0.1", 0, KEY, SECRET, venue_params(probe.exchange), WallClock()
        )
        child: Child | None = None
        stack = contextlib.AsyncExitStack()
        try:
            emulator.set_mark(world.target_price)
            data = local_config(world, tmp_path, "outage")
            data["exchange"] = {
                **data["exchange"],
                "kind": "ccxt",
                "urls": emulator.ccxt_urls(),
                "timeout_ms": 3000,
            }
            data["logging"] = {"level": "info", "format": "json"}
            data["metrics"] = {"enabled": False}
            data["mqtt"] = {"url": broker.url, "topic_prefix": "outage-test/{bot_id}"}
            data["store"] = {**data["store"], "url": url, "pg_schema": schema, "timeout_s": 1}
            config = tmp_path / "config.yaml"
            config.write_text(yaml.safe_dump(data))

            child = Child(config, tmp_path / "daemon.log", None)
            events = await stack.enter_async_context(_events(broker, "outage-test/outage/events"))
            await child.start()
            await child.wait_for("tick.completed", 30)
            assert len(emulator.venue.order_log()) == 1  # the opening hedge

            await relay.stop()
            mark = len(child.events())
            for _ in range(3):  # the market runs away while the database is down
                await world.step()
                emulator.set_mark(world.target_price)
            await _wait_after(child, "daemon.store_unreachable", mark)
            await _wait_after(child, "daemon.store_probe_failed", mark)
            assert child.proc is not None
            assert child.proc.returncode is None  # the daemon stays up
            assert any(b'"store.unreachable"' in payload for payload in events)
            assert len(emulator.venue.order_log()) == 1  # nothing traded while unrecorded

            back = len(child.events())
            await relay.start()
            await _wait_after(child, "daemon.store_back", back)
            await _wait_after(child, "tick.completed", back)
            assert await child.stop() == 0
            venue_orders = emulator.venue.order_log()
            assert len(venue_orders) == 2, [o.client_order_id for o in venue_orders]
            await _check_books(config, venue_orders)
            assert emulator.venue.position().size_base < Decimal(0)
        finally:
            if child is not None and child.proc is not None and child.proc.returncode is None:
                await child.stop()
            await stack.aclose()
            await emulator.close()
            if relay._server is not None:
                await relay.stop()


async def _check_books(config: Path, venue_orders: list[Any]) -> None:
    """Both venue orders are in the record, resolved and filled; nothing unresolved."""
    store = await open_store(load_config(config, require_secrets=False))
    try:
        assert await store.unresolved_intents() == []
        blocks = await store.intent_blocks()
        for order in venue_orders:
            assert order.client_order_id in blocks  # every venue order is in the record
            rows = await store._fetch(
                "SELECT status FROM intents WHERE {bot_is}client_order_id = :cid",
                cid=order.client_order_id,
            )
            assert rows[0][0] == OrderStatus.FILLED.value
    finally:
        await store.close()
