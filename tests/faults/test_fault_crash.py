"""kill -9 at every point of a tick, then restart: no lost, duplicated or orphaned order.

The bot runs as a real ``hedgebot run`` subprocess (ccxt against the Binance emulator served by
this test process, anvil for the chain). ``HEDGEBOT_CRASH_AT`` makes the engine SIGKILL itself
at a named point; "after submit, before the answer" is a SIGKILL from outside while the
emulator holds the accepted order's response. The venue's own order log is the judge.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fault_world import KEY, SECRET, fault_config
from store_backends import BACKENDS, PG_URL, Backend, backend_for

from bot.clock import WallClock
from bot.config import load_config
from bot.domain import OrderStatus
from bot.exchange.emulators.binance_usdm import EmulatorHandle, start_emulator
from bot.exchange.paper import venue_params
from bot.sim.anvil import Anvil
from bot.sim.localnet import local_config, start_world
from bot.store import open_store

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]


class Child:
    """One ``hedgebot run`` process whose stderr (JSON logs) goes to a file."""

    def __init__(self, config: Path, log: Path, crash_at: str | None) -> None:
        env = {
            **os.environ,
            "HEDGEBOT_EXCHANGE__API_KEY": KEY,
            "HEDGEBOT_EXCHANGE__API_SECRET": SECRET,
        }
        env.pop("HEDGEBOT_CRASH_AT", None)
        if crash_at is not None:
            env["HEDGEBOT_CRASH_AT"] = crash_at
        self.log = log
        self._handle = log.open("w")
        self.config, self.env = config, env
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(self.config),
            cwd=ROOT,
            env=self.env,
            stdout=self._handle,
            stderr=self._handle,
        )

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    async def wait_for(self, event: str, timeout_s: float = 20.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while True:
                for item in self.events():
                    if item.get("event") == event:
                        return item
                await asyncio.sleep(0.05)

    async def exit_code(self, timeout_s: float = 20.0) -> int:
        assert self.proc is not None
        async with asyncio.timeout(timeout_s):
            code = await self.proc.wait()
        self._handle.close()
        return code

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await self.exit_code()


async def check_books(emulator: EmulatorHandle, config: Path) -> None:
    """Venue log vs store: one order, every venue order known and resolved in the store."""
    venue_orders = emulator.venue.order_log()
    assert len(venue_orders) == 1, [o.client_order_id for o in venue_orders]
    store = await open_store(load_config(config, require_secrets=False))
    try:
        assert await store.unresolved_intents() == []
        blocks = await store.intent_blocks()
        for order in venue_orders:
            assert order.client_order_id in blocks  # no orphan: we know every venue order
        rows = await store._fetch(
            "SELECT status FROM intents WHERE {bot_is}client_order_id = :cid",
            cid=venue_orders[0].client_order_id,
        )
        assert rows
        assert rows[0][0] == OrderStatus.FILLED.value
    finally:
        await store.close()
    assert emulator.venue.position().size_base < 0


async def check_booked(child: Child, config: Path) -> None:
    """The restarted ``child`` found nothing to reconcile (no mismatch, not paused) and
    booked the fill of the one order, its fee included: the fill cursor was stored at the
    first start, before that order could be placed."""
    events = child.events()
    details = [e.get("detail") for e in events if e.get("event") == "reconcile.mismatch"]
    assert details == []
    [reconciled] = [e for e in events if e.get("event") == "orders.reconciled_at_start"]
    assert reconciled["mismatches"] == 0
    assert reconciled["action"] == "ok"
    [started] = [e for e in events if e.get("event") == "engine.started"]
    assert started["paused"] is False
    store = await open_store(load_config(config, require_secrets=False))
    try:
        intents = (await store.intent_blocks()).keys()
        fills = await store.read_fills()
        assert fills
        [client_id] = {f.client_order_id for f in fills}  # the one order the venue has
        assert client_id in intents
        assert sum(f.fee_quote for f in fills) > 0
    finally:
        await store.close()


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The bot's store: its SQLite file, or a PostgreSQL schema of this test's own."""
    yield from backend_for(request.param, tmp_path)


@pytest.mark.parametrize("point", ["before_submit", "after_submit", "after_fill", "after_store"])
async def test_kill_9_mid_tick_then_restart(
    anvil_node: Anvil, tmp_path: Path, point: str, store_backend: Backend
) -> None:
    """SIGKILL at ``point`` of the opening tick, with the store on each backend; the restarted
    bot re-adopts the position and the venue has exactly one order, known to the store."""
    async with start_world(anvil_node.rpc_url, seed=13) as world:
        probe = fault_config(world, tmp_path, {})
        emulator = await start_emulator(
            "127.0.0.1", 0, KEY, SECRET, venue_params(probe.exchange), WallClock()
        )
        try:
            emulator.set_mark(world.target_price)
            data = local_config(world, tmp_path, "crash")
            data["exchange"] = {
                **data["exchange"],
                "kind": "ccxt",
                "urls": emulator.ccxt_urls(),
                "timeout_ms": 3000,
            }
            data["logging"] = {"level": "info", "format": "json"}
            data["metrics"] = {"enabled": False}
            if store_backend.schema is not None:
                data["store"] = {**data["store"], "url": PG_URL, "pg_schema": store_backend.schema}
            config = tmp_path / "config.yaml"
            config.write_text(yaml.safe_dump(data))

            if point == "after_submit":
                emulator.drop_next_order_response("delay", delay_s=30)
            first = Child(
                config, tmp_path / "first.log", None if point == "after_submit" else point
            )
            await first.start()
            if point == "after_submit":
                async with asyncio.timeout(20):
                    while not emulator.venue.order_log():  # noqa: ASYNC110 - polls the venue
                        await asyncio.sleep(0.02)
                assert first.proc is not None
                first.proc.send_signal(signal.SIGKILL)
            assert await first.exit_code() == -signal.SIGKILL
            emulator.faults.reset()
            expected_before = 0 if point == "before_submit" else 1
            assert len(emulator.venue.order_log()) == expected_before

            second = Child(config, tmp_path / "second.log", None)
            await second.start()
            tick = await second.wait_for("tick.completed")
            assert await second.stop() == 0
            assert Decimal_(tick["hedge_base"]) < 0
            if point != "before_submit":
                assert tick["action"] == "hold"  # the position was re-adopted, not re-opened
            await check_books(emulator, config)
            await check_booked(second, config)
        finally:
            await emulator.close()


def Decimal_(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)
