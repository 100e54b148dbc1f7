"""A key revoked while the daemon runs halts trading: one critical alert naming the venue and
"authentication refused", the operator halted (stored, cause ``authentication_refused``),
no order tried or looked up again until an operator resumes; at start the same refusal
stops the engine with the error. Real anvil with a Uniswap V2 pair, the real ccxt clients
against both emulators (Hyperliquid: reads by address go on and the order is refused;
Binance: the signed reads are refused), the real SQLite store."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager, closing
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from emulator_support import HL_AGENT, HL_MASTER, HL_SYMBOL
from structlog.testing import capture_logs
from test_engine import local_world, started_bot
from test_revoked_key import revoke_binance_key, revoke_hyperliquid_agent

from bot import errors
from bot.app import Bot, build_bot
from bot.clock import ManualClock
from bot.core.operator import OperatorState, TradingState
from bot.engine import TickReport
from bot.exchange.ccxt import CcxtPerpExchange, CcxtPerpSettings
from bot.exchange.emulators.binance_usdm.auth import ApiCredentials
from bot.exchange.emulators.hyperliquid import hyperliquid_venue_params, start_hyperliquid_emulator
from bot.sim.anvil import Anvil
from bot.sim.localnet import LocalWorld, local_settings, start_world
from bot.store.meta import MetaKey

pytestmark = pytest.mark.integration

REFUSED = "venue.authentication_refused"


@dataclass
class Running:
    """A started bot on a local world, and how to move its venue's mark."""

    world: LocalWorld
    bot: Bot
    clock: ManualClock
    set_mark: Callable[[Decimal], None]

    async def tick(self, fraction: str) -> TickReport | None:
        """Move the pool (and the mark) to ``fraction`` of the start price and tick."""
        step = await self.world.driver.move_to(self.world.target_price * Decimal(fraction))
        self.clock.set(float(step.block_timestamp))
        self.set_mark(step.target_price)
        return await self.bot.engine.tick(step.block_number)

    def intents(self) -> list[str]:
        """The stored intents' statuses, oldest first."""
        with closing(sqlite3.connect(self.bot.store.path)) as db:
            rows = db.execute("SELECT status FROM intents ORDER BY rowid").fetchall()
        return [str(status) for (status,) in rows]

    async def trading_state(self) -> TradingState:
        record = await self.bot.store.get_meta(MetaKey.OPERATOR_STATE)
        return OperatorState.from_record(record).trading_state

    def alerts(self) -> list[str]:
        return list(self.bot.engine.stats.alerts)


@asynccontextmanager
async def on_hyperliquid(anvil_node: Anvil, tmp_path: Path) -> AsyncIterator[tuple[Running, Any]]:
    """A bot hedging through the real ccxt hyperliquid client on the emulator (agent key)."""
    async with AsyncExitStack() as stack:
        world = await stack.enter_async_context(
            start_world(anvil_node.rpc_url, seed=5, base_is_token0=True)
        )
        clock = ManualClock(float(world.start_timestamp))
        settings = local_settings(world, tmp_path, bot_id="revoked-hl")
        params = replace(
            hyperliquid_venue_params(), initial_balance=settings.exchange.paper.initial_balance
        )
        handle = await start_hyperliquid_emulator(
            "127.0.0.1", 0, HL_MASTER.address, clock, agents=[HL_AGENT.address], venue_params=params
        )
        stack.push_async_callback(handle.close)
        adapter = CcxtPerpExchange(
            CcxtPerpSettings(
                exchange_id="hyperliquid",
                symbol=HL_SYMBOL,
                wallet_address=HL_MASTER.address,
                api_secret=HL_AGENT.key.hex(),
                sandbox=True,
                leverage=settings.exchange.leverage,
                urls=handle.ccxt_urls(),
                enable_rate_limit=False,
            ),
            clock,
        )
        bot = await build_bot(settings, clock=clock, exchange=adapter)
        stack.push_async_callback(bot.close)
        await bot.engine.start()
        handle.set_mark(world.target_price)
        yield Running(world, bot, clock, handle.set_mark), handle


async def test_an_order_refused_for_the_key_halts_trading_with_one_alert(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Hyperliquid: the hedge is open, the API wallet is removed, the price moves. The
    rebalance is refused (AuthenticationError): the tick fails, the intent is stored
    rejected (nothing pending), one critical alert names hyperliquid, trading halts. The
    next tick reads the venue and holds (paused): no order tried, no look-up, no new alert.
    The agent approved again and ``resume`` sent, the bot hedges again."""
    async with on_hyperliquid(anvil_node, tmp_path) as (run, handle):
        opened = await run.tick("1")
        assert opened is not None
        assert opened.order is not None
        venue_orders = len(handle.emulator.venue.order_log())
        revoke_hyperliquid_agent(handle)
        with capture_logs() as logs:
            refused = await run.tick("0.9")
        after_refusal = {
            "intents": run.intents(),
            "pending": run.bot.engine.ledger.pending,
            "trading": await run.trading_state(),
            "alerts": run.alerts(),
        }
        held = await run.tick("0.85")
        orders_while_halted = len(handle.emulator.venue.order_log())
        alerts_while_halted = run.alerts()
        handle.emulator.registry.agents.add(HL_AGENT.address.lower())
        await run.bot.engine.set_paused(False)  # the operator resumes
        hedged = await run.tick("0.85")
        changes = await run.bot.store.read_events("trading_state")
        stored_alerts = await run.bot.store.read_events("alert")
    assert refused is None
    assert after_refusal["intents"] == ["filled", "rejected"]
    assert after_refusal["pending"] is False
    assert after_refusal["trading"] is TradingState.HALTED
    assert after_refusal["alerts"].count(REFUSED) == 1
    (line,) = [e for e in logs if e["event"] == REFUSED]
    assert line["venue"] == "hyperliquid"
    assert "authentication refused" in line["message"]
    assert "AuthenticationError" in line["error"]
    assert line["action"] == "halted"
    warnings = [e["event"] for e in logs if e["log_level"] in {"warning", "error"}]
    assert "tick.failed" not in warnings  # the alert is the failure's line
    assert "order.rejected" not in warnings
    assert held is not None
    assert held.order is None
    assert held.decision.reason == "paused"
    assert orders_while_halted == venue_orders
    assert alerts_while_halted.count(REFUSED) == 1
    assert changes[0]["cause"] == "authentication_refused"
    assert changes[0]["current"] == "halted"
    assert [a["venue"] for a in stored_alerts if a["alert"] == REFUSED] == ["hyperliquid"]
    assert hedged is not None
    assert hedged.order is not None
    assert hedged.position.size_base != opened.position.size_base


async def test_reads_refused_for_the_key_halt_once_and_a_restart_stops_with_the_error(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Binance: the hedge is open, the key is revoked. The signed reads are refused: the
    tick fails, one alert names binanceusdm, trading halts; the next refused tick is one
    ``tick.failed`` line and no new alert. A restarted engine with the revoked key stops at
    start with AuthenticationError; the key back and ``resume`` sent, the bot ticks again."""
    async with local_world(anvil_node, tmp_path, "emulator", True) as (world, venue):
        assert venue.emulator is not None
        bot = await started_bot(world, venue)
        run = Running(world, bot, venue.clock, venue.emulator.set_mark)
        try:
            assert await run.tick("1") is not None
            credentials = venue.emulator.emulator._credentials
            revoke_binance_key(venue.emulator)
            first = await run.tick("0.9")
            halted = await run.trading_state()
            with capture_logs() as logs:
                second = await run.tick("0.88")
            alerts = run.alerts()
            restarted = await build_bot(venue.settings, clock=venue.clock, exchange=venue.adapter())
            try:
                with pytest.raises(errors.AuthenticationError, match="binanceusdm"):
                    await restarted.engine.start()
            finally:
                await restarted.close()
            venue.emulator.emulator._credentials = ApiCredentials(
                credentials.api_key, credentials.api_secret
            )
            await bot.engine.set_paused(False)
            resumed = await run.tick("0.88")
        finally:
            await bot.close()
    assert first is None
    assert halted is TradingState.HALTED
    assert second is None
    assert alerts.count(REFUSED) == 1
    assert [e["event"] for e in logs if e["log_level"] in {"warning", "error"}] == ["tick.failed"]
    assert resumed is not None
    assert resumed.order is not None  # the price moved 12 % while halted: back to the band
