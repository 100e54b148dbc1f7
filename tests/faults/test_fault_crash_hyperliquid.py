"""kill -9 right after submit on the Hyperliquid path, then restart: the venue's own log has
exactly one order, found by its cloid. And a key the venue does not know stops the daemon
at start with a clear AuthenticationError (no retry loop).

The bot runs as a real ``hedgebot run`` subprocess: the real ccxt hyperliquid client, signed by
an approved agent wallet, against the Hyperliquid emulator served by this test process; anvil
for the chain. "After submit" is a SIGKILL from outside while the emulator holds the accepted
order's response.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from eth_account import Account
from test_fault_crash import Child, check_booked

from bot.clock import WallClock
from bot.domain import OrderStatus
from bot.exchange.client_ids import hex_client_id, hex_client_id_prefix
from bot.exchange.emulators.hyperliquid import (
    HyperliquidHandle,
    hyperliquid_venue_params,
    start_hyperliquid_emulator,
)
from bot.sim.anvil import Anvil
from bot.sim.localnet import LocalWorld, local_config, start_world
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.faults

MASTER = Account.from_key("0x" + "c1" * 32)
AGENT_KEY = "0x" + "c2" * 32
STRANGER_KEY = "0x" + "c3" * 32
BOT_ID = "crash-hl"


@asynccontextmanager
async def hyperliquid_world(
    anvil: Anvil, tmp_path: Path
) -> AsyncIterator[tuple[LocalWorld, HyperliquidHandle, Path]]:
    """A pool on anvil, the Hyperliquid emulator (wall clock) at the pool's price, and a
    config file for a daemon trading it through ccxt hyperliquid."""
    async with start_world(anvil.rpc_url, seed=13) as world:
        params = replace(hyperliquid_venue_params(), initial_balance=Decimal(1_000_000))
        handle = await start_hyperliquid_emulator(
            "127.0.0.1",
            0,
            MASTER.address,
            WallClock(),
            agents=[Account.from_key(AGENT_KEY).address],
            venue_params=params,
        )
        try:
            handle.set_mark(world.target_price)
            data = local_config(world, tmp_path, BOT_ID)
            data["exchange"] = {
                "kind": "ccxt",
                "exchange_id": "hyperliquid",
                "sandbox": True,
                "symbol": "ETH/USDC:USDC",
                "wallet_address": MASTER.address,
                "leverage": 3,
                "margin_mode": "isolated",
                "urls": handle.ccxt_urls(),
                "timeout_ms": 3000,
            }
            data["logging"] = {"level": "info", "format": "json"}
            data["metrics"] = {"enabled": False}
            config = tmp_path / "config.yaml"
            config.write_text(yaml.safe_dump(data))
            yield world, handle, config
        finally:
            await handle.close()


def hyperliquid_child(config: Path, log: Path, key: str) -> Child:
    """A ``hedgebot run`` whose agent key (env only) is ``key``."""
    child = Child(config, log, None)
    child.env.pop("HEDGEBOT_EXCHANGE__API_KEY", None)
    child.env["HEDGEBOT_EXCHANGE__API_SECRET"] = key
    return child


async def test_kill_9_after_submit_then_restart_finds_the_order_by_cloid(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """SIGKILL while the venue holds the answer to the opening order; the restarted bot
    resolves that intent by its cloid and re-adopts the position: one order on the venue."""
    async with hyperliquid_world(anvil_node, tmp_path) as (_world, handle, config):
        handle.admin("drop_next_order", {"mode": "delay", "delay_s": 30})
        first = hyperliquid_child(config, tmp_path / "first.log", AGENT_KEY)
        await first.start()
        async with asyncio.timeout(30):
            while not handle.emulator.venue.order_log():  # noqa: ASYNC110 - polls the venue
                await asyncio.sleep(0.02)
        assert first.proc is not None
        first.proc.send_signal(signal.SIGKILL)
        assert await first.exit_code() == -signal.SIGKILL
        handle.admin("reset_faults")
        assert len(handle.emulator.venue.order_log()) == 1

        second = hyperliquid_child(config, tmp_path / "second.log", AGENT_KEY)
        await second.start()
        tick = await second.wait_for("tick.completed", timeout_s=40)
        assert await second.stop() == 0
        assert Decimal(tick["hedge_base"]) < 0
        assert tick["action"] == "hold"  # re-adopted, not re-opened
        await check_booked(second, config)  # fill and fee booked, no mismatch, not paused

        venue_orders = handle.emulator.venue.order_log()
        assert len(venue_orders) == 1, [o.client_order_id for o in venue_orders]
        cloid = venue_orders[0].client_order_id
        assert cloid.startswith(hex_client_id_prefix(BOT_ID))
        store = await SqliteStore.open(tmp_path / "hedgebot.sqlite")
        try:
            assert await store.unresolved_intents() == []
            intents = list((await store.intent_blocks()).keys())
            assert [hex_client_id(cid) for cid in intents] == [cloid]
            async with store._db.execute(
                "SELECT status FROM intents WHERE client_order_id = ?", (intents[0],)
            ) as cur:
                row = await cur.fetchone()
            assert row is not None
            assert row[0] == OrderStatus.FILLED.value
        finally:
            await store.close()
        assert handle.emulator.venue.position().size_base < 0
        state = handle.emulator.state()
        assert state["builder_fields_seen"] == [None]
        assert state["builder_approvals"] == {}


async def test_unknown_key_stops_the_daemon_with_an_authentication_error(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """A key that is neither the account's nor an approved agent's: the venue refuses the
    first signed action, the daemon exits 1 naming AuthenticationError and the venue's text,
    once, and nothing is traded."""
    async with hyperliquid_world(anvil_node, tmp_path) as (_world, handle, config):
        child = hyperliquid_child(config, tmp_path / "run.log", STRANGER_KEY)
        await child.start()
        assert await child.exit_code(timeout_s=40) == 1
        output = child.log.read_text()
        stranger = Account.from_key(STRANGER_KEY).address.lower()
        refusal = f"User or API Wallet {stranger} does not exist."
        expected = (
            "hedgebot: AuthenticationError: hyperliquid: hyperliquid "
            f'{{"status": "err", "response": "{refusal}"}}'
        )
        assert output.count("hedgebot: AuthenticationError") == 1, output[-3000:]
        assert expected in output.splitlines()
        assert handle.emulator.venue.order_log() == []
