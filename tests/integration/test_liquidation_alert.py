"""The venue liquidating the hedge is named as one: ``position.liquidated`` (critical, once),
besides the ``position.mismatch`` and the ``on_mismatch`` pause it raised before, and the
halt's reason says the venue liquidated. On the real stack: anvil's pool, the real ccxt
``binanceusdm`` client against the Binance emulator (whose liquidation order is
``autoclose-…``), the real SQLite store; a restart on that store does not alert again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from test_restart_reconcile import World, tick_at, world

from bot.app import Bot
from bot.core.killswitch import KillSwitchState
from bot.core.trading_status import operator_reason
from bot.domain import Fill
from bot.exchange.venue_liquidations import liquidation_fills
from bot.sim.anvil import Anvil

pytestmark = pytest.mark.integration

REASON = "liquidated by the venue — check the account, then resume"


async def liquidate(w: World, bot: Bot) -> Decimal:
    """Push pool and mark past the hedge's liquidation price: the venue's liquidation price."""
    position = await bot.exchange.position()
    assert position.size_base < 0
    assert position.liquidation_price is not None
    step = await w.chain.driver.move_to(position.liquidation_price * Decimal("1.05"))
    w.clock.set(float(step.block_timestamp))
    w.set_mark(bot, step.target_price)
    assert w.emulator is not None
    assert w.emulator.venue.liquidations == 1
    return position.liquidation_price


async def the_close(w: World, bot: Bot) -> Fill:
    """The venue's own closing fill as the bot stored it: its client id (``autoclose-…``)
    is what names it a liquidation after a restart."""
    assert w.emulator is not None
    venue_close = w.emulator.venue.fills(0)[-1]
    (close,) = liquidation_fills(await bot.store.read_fills())
    assert close.trade_id == venue_close.trade_id
    assert close.client_order_id == venue_close.client_order_id
    assert close.client_order_id.startswith("autoclose-")
    return close


def events_named(logs: Sequence[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    return [e for e in logs if e["event"] == name]


def halt_reason(bot: Bot) -> str | None:
    """The halt's words as the state message shows them (by the cause of the halt)."""
    return operator_reason(bot.engine.operator, KillSwitchState(), bot.engine.control.cause)


async def test_a_liquidation_while_running_is_named_once_and_not_again_after_a_restart(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The tick after the venue closed the short: position.mismatch as before (foreign fill,
    pause), and one position.liquidated naming the fill, side, amount, price and venue;
    later checks and a new bot on the same store stay quiet, and stay paused."""
    async with world(anvil_node, tmp_path, "emulator") as w:
        bot = await w.bot("pause")
        try:
            opened = await tick_at(w, bot)
            hedge = opened.position.size_base
            assert hedge < 0
            with capture_logs() as logs:
                await liquidate(w, bot)
                found = await tick_at(w, bot)  # the position moved: checked before the plan
                for _ in range(3):
                    await tick_at(w, bot)
            alerts = list(bot.engine.stats.alerts)
            reason = halt_reason(bot)
        finally:
            await bot.close()

        again = await w.bot("pause")
        try:
            await tick_at(w, again)
            close = await the_close(w, again)
            alerts_after_restart = list(again.engine.stats.alerts)
            paused_after_restart = again.engine.paused
        finally:
            await again.close()
    assert found.order is None  # paused before the plan: nothing traded back
    assert found.position.size_base == 0
    assert alerts.count("position.mismatch") == 1
    assert alerts.count("position.liquidated") == 1
    (mismatch,) = events_named(logs, "position.mismatch")
    assert mismatch["foreign_fills"] == [close.trade_id]
    assert mismatch["action"] == "paused"
    (liquidated,) = events_named(logs, "position.liquidated")
    assert liquidated["trade_ids"] == [close.trade_id]
    assert liquidated["client_order_ids"] == [close.client_order_id]
    assert (liquidated["side"], liquidated["amount_base"]) == ("buy", str(-hedge))
    assert liquidated["net_base"] == str(-hedge)
    assert liquidated["prices"] == [str(close.price)]
    assert liquidated["venue"] == "binanceusdm"
    assert liquidated["action"] == "paused"
    assert liquidated["message"].startswith(
        f"binanceusdm liquidated the hedge: buy {-hedge} {close.symbol} at {close.price} "
        f"(fill {close.trade_id})"
    )
    assert reason == REASON
    assert not {"position.liquidated", "position.mismatch", "reconcile.mismatch"} & set(
        alerts_after_restart
    )
    assert paused_after_restart


async def test_a_liquidation_while_down_is_named_at_start_once(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The venue liquidates while no bot runs: the start-up reconciliation's
    reconcile.mismatch as before, and position.liquidated with it; the halt says why; the
    next start is clean."""
    async with world(anvil_node, tmp_path, "emulator") as w:
        bot = await w.bot("pause")
        try:
            await tick_at(w, bot)
            await liquidate(w, bot)  # the venue acts; the bot is stopped before any tick
        finally:
            await bot.close()
        with capture_logs() as logs:
            restarted = await w.bot("pause")
        try:
            alerts = list(restarted.engine.stats.alerts)
            paused = restarted.engine.paused
            reason = halt_reason(restarted)
            await tick_at(w, restarted)  # books the venue's fills
            close = await the_close(w, restarted)
        finally:
            await restarted.close()
        clean = await w.bot("pause")
        try:
            clean_alerts = list(clean.engine.stats.alerts)
        finally:
            await clean.close()
    assert alerts == ["reconcile.mismatch", "position.liquidated"]
    (liquidated,) = events_named(logs, "position.liquidated")
    assert liquidated["trade_ids"] == [close.trade_id]
    assert liquidated["action"] == "paused"
    assert paused
    assert reason == REASON
    assert clean_alerts == []
