"""Venue, price and risk-rule faults against the real ccxt adapter, the Binance emulator and a
real Uniswap pool on anvil. Each test breaks one thing and checks what a user would see: the
orders in the venue's own log, the final position, the alerts published."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from fault_world import fault_world

from bot.errors import StoreError
from bot.killswitch import FileKillSwitch
from bot.sim.anvil import Anvil

pytestmark = pytest.mark.faults


def in_band(report) -> bool:  # type: ignore[no-untyped-def]
    return abs(report.position.size_base - report.decision.target_base) <= report.decision.band_base


async def test_manipulated_pool_blocks_trading_until_price_agrees(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """A large swap moves the pool 10% away from the venue mark: no order, a price_deviation
    alert, monitoring goes on; when the pool is swapped back the bot trades again."""
    async with fault_world(anvil_node, tmp_path) as fw:
        opening = await fw.tick()
        assert opening is not None
        assert opening.order is not None
        mark = fw.world.target_price
        manipulated = await fw.move(mark * Decimal("1.10"), mark=mark)
        report = await fw.tick(manipulated)
        assert report is not None  # monitoring continues
        assert report.decision.action == "skip"
        assert "price_deviation" in report.decision.reason
        assert "risk.price_deviation" in fw.telemetry.alerts()
        assert len(fw.venue_orders()) == 1
        assert fw.telemetry.states[-1]["block"] == manipulated
        back = await fw.move_and_tick(mark * Decimal("1.06"))
        assert back is not None
        assert back.order is not None
        assert "risk.cleared" in fw.telemetry.alerts()
        assert len(fw.venue_orders()) == 2


async def test_old_block_is_stale_and_blocks_trading(anvil_node: Anvil, tmp_path: Path) -> None:
    """A block older than chain.max_block_age_s (a stuck or lagging RPC) blocks orders."""
    async with fault_world(anvil_node, tmp_path) as fw:
        block = await fw.bot.chain.latest_block()
        fw.clock.advance(7200)
        report = await fw.tick(block)
        assert report is not None
        assert report.decision.action == "skip"
        assert "stale_block" in report.decision.reason
        assert "risk.stale_block" in fw.telemetry.alerts()
        assert fw.venue_orders() == []


async def test_block_not_advancing_blocks_after_the_limit(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The same block number again and again (a frozen node) blocks after the configured count."""
    async with fault_world(anvil_node, tmp_path, risk={"max_blocks_without_advance": 2}) as fw:
        block = await fw.bot.chain.latest_block()
        fw.emulator.set_mark(fw.world.target_price * Decimal("1.001"))
        # as if the previous tick saw this block
        fw.bot.engine.guard_state = replace(
            fw.bot.engine.guard_state, last_block=block, stalled_ticks=1
        )
        report = await fw.tick(block)
        assert report is not None
        assert report.decision.action == "skip"
        assert "block_not_advancing" in report.decision.reason
        assert fw.venue_orders() == []


async def test_order_and_position_caps_block_oversized_orders(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """An opening hedge above max_order_notional_quote is refused before it reaches the venue."""
    risk = {"max_order_notional_quote": "10000", "max_position_notional_quote": "20000"}
    async with fault_world(anvil_node, tmp_path, risk=risk) as fw:
        report = await fw.tick()
        assert report is not None
        assert report.decision.action == "skip"
        assert "max_order_notional" in report.decision.reason
        assert {"risk.max_order_notional", "risk.max_position_notional"} <= set(
            fw.telemetry.alerts()
        )
        assert fw.venue_orders() == []


async def test_order_rate_limit_of_our_own(anvil_node: Anvil, tmp_path: Path) -> None:
    """max_orders_per_minute: a second order within the same minute is refused."""
    async with fault_world(anvil_node, tmp_path, risk={"max_orders_per_minute": 1}) as fw:
        fw.emulator.partial_fill_next_ioc(Decimal("0.5"))
        block = await fw.bot.chain.latest_block()
        first = await fw.tick(block)
        assert first is not None
        assert first.order is not None
        again = await fw.tick(block)  # same second: the rest of the hedge is due
        assert again is not None
        assert again.decision.action == "skip"
        assert again.decision.reason == "risk:max_orders_per_minute"
        assert "risk.max_orders_per_minute" in fw.telemetry.alerts()
        assert len(fw.venue_orders()) == 1


async def test_daily_loss_limit_blocks_new_risk(anvil_node: Anvil, tmp_path: Path) -> None:
    """Once the day's PnL is below -daily_loss_limit_quote, orders that grow the hedge stop."""
    async with fault_world(anvil_node, tmp_path, risk={"daily_loss_limit_quote": "1"}) as fw:
        assert (await fw.tick()) is not None  # opening: fees make the day's PnL negative
        report = await fw.move_and_tick(fw.world.target_price * Decimal("0.93"))
        assert report is not None
        assert report.decision.action == "skip"
        assert "daily_loss" in report.decision.reason
        assert "risk.daily_loss" in fw.telemetry.alerts()
        assert len(fw.venue_orders()) == 1


async def test_venue_rate_limit_is_an_error_not_a_trade(anvil_node: Anvil, tmp_path: Path) -> None:
    """HTTP 429 from the venue on the reads: the tick fails, nothing is sent; next tick trades."""
    async with fault_world(anvil_node, tmp_path) as fw:
        fw.emulator.rate_limit_next(1, retry_after_s=0)
        assert await fw.tick() is None
        assert fw.telemetry.errors()[-1]["source"] == "exchange"
        assert fw.venue_orders() == []
        report = await fw.tick()
        assert report is not None
        assert report.order is not None
        assert len(fw.venue_orders()) == 1


async def test_venue_timeout_after_accept_resolves_by_client_id(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The venue accepts the order and the connection drops before the answer: the outcome is
    found by client order id, exactly one order exists, and the hedge is in place."""
    async with fault_world(anvil_node, tmp_path) as fw:
        fw.emulator.drop_next_order_response("reset")
        report = await fw.tick()
        orders = fw.venue_orders()
        assert len(orders) == 1
        position = await fw.bot.exchange.position()
        assert position.size_base < 0
        if report is None:  # resolved on the next tick instead
            report = await fw.tick()
            assert report is not None
        assert len(fw.venue_orders()) == 1
        assert await fw.bot.store.unresolved_intents() == []


async def test_insufficient_margin_is_rejected_and_alerted(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """A venue account too small for the hedge: the order is refused, an alert, no position."""
    exchange = {"paper": {"initial_balance": "1000", "funding_rate": "0.0001"}}
    async with fault_world(anvil_node, tmp_path, exchange=exchange) as fw:
        report = await fw.tick()
        assert report is not None
        assert report.order is None
        assert "order.rejected" in fw.telemetry.alerts()
        assert (await fw.bot.exchange.position()).size_base == 0
        assert await fw.bot.store.unresolved_intents() == []


async def test_partial_fill_is_topped_up_next_tick(anvil_node: Anvil, tmp_path: Path) -> None:
    """Half of the IOC fills: the position is what filled, and the next tick completes it."""
    async with fault_world(anvil_node, tmp_path) as fw:
        fw.emulator.partial_fill_next_ioc(Decimal("0.5"))
        first = await fw.tick()
        assert first is not None
        assert first.order is not None
        assert first.order.filled_base < first.order.amount_base
        assert not in_band(first)
        second = await fw.move_and_tick(fw.world.target_price)
        assert second is not None
        assert in_band(second)
        assert len(fw.venue_orders()) == 2


async def test_below_min_notional_places_nothing(anvil_node: Anvil, tmp_path: Path) -> None:
    """An order below the venue minimum notional is skipped, never sent."""
    exchange = {"paper": {"min_notional": "1000000", "funding_rate": "0.0001"}}
    async with fault_world(anvil_node, tmp_path, exchange=exchange) as fw:
        report = await fw.tick()
        assert report is not None
        assert report.decision.action == "skip"
        assert report.decision.reason == "below_min_notional"
        assert fw.venue_orders() == []


async def test_funding_spike_lowers_the_hedge_ratio(anvil_node: Anvil, tmp_path: Path) -> None:
    """A short pays a negative rate: at -0.1%/8h (-110%/yr, limit 50%) with lower_ratio the
    hedge is cut to the ratio the threshold rate would cost, never below the floor."""
    risk = {"funding_action": "lower_ratio", "funding_min_hedge_ratio": "0.4"}
    async with fault_world(anvil_node, tmp_path, risk=risk) as fw:
        opening = await fw.tick()
        assert opening is not None
        assert opening.order is not None
        full = opening.position.size_base
        fw.emulator.set_funding_rate(Decimal("-0.001"))
        report = await fw.move_and_tick(fw.world.target_price)
        assert report is not None
        assert "risk.funding_spike" in fw.telemetry.alerts()
        assert report.order is not None
        assert report.order.reduce_only
        ratio = report.position.size_base / full
        assert Decimal("0.4") <= ratio < Decimal("0.5")


async def test_funding_spike_pause_stops_orders(anvil_node: Anvil, tmp_path: Path) -> None:
    """With funding_action pause, a paying spike stops new orders (monitoring goes on)."""
    async with fault_world(anvil_node, tmp_path, risk={"funding_action": "pause"}) as fw:
        assert (await fw.tick()) is not None
        fw.emulator.set_funding_rate(Decimal("-0.001"))
        report = await fw.move_and_tick(fw.world.target_price * Decimal("0.92"))
        assert report is not None
        assert "funding_spike_pause" in report.decision.reason
        assert len(fw.venue_orders()) == 1


async def test_mark_gap_toward_liquidation_flattens(anvil_node: Anvil, tmp_path: Path) -> None:
    """The price gaps 25% up at leverage 3: the short's liquidation is a few % away, the margin
    goes critical and the configured flatten closes the hedge reduce-only."""
    risk = {"critical_action": "flatten"}
    async with fault_world(anvil_node, tmp_path, risk=risk) as fw:
        opening = await fw.tick()
        assert opening is not None
        assert opening.position.size_base < 0
        report = await fw.move_and_tick(fw.world.target_price * Decimal("1.25"))
        assert report is not None
        assert "risk.margin_critical" in fw.telemetry.alerts()
        assert report.decision.reason == "margin_critical_flatten"
        assert report.order is not None
        assert report.order.reduce_only
        assert report.position.size_base == 0
        assert fw.emulator.venue.liquidations == 0


async def test_kill_switch_freeze_and_flatten_survive_restart(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """freeze: no new orders; flatten: the hedge is closed reduce-only; both from the flag file,
    kept across a restart until cleared, and MQTT resume is refused while it is engaged."""
    async with fault_world(anvil_node, tmp_path) as fw:
        assert (await fw.tick()) is not None
        switch = FileKillSwitch(fw.bot.engine.guard.kill_switch.path, fw.clock)
        switch.engage("freeze", "test", "cli")
        frozen = await fw.move_and_tick(fw.world.target_price * Decimal("0.9"))
        assert frozen is not None
        assert "kill_switch_freeze" in frozen.decision.reason
        assert len(fw.venue_orders()) == 1
        assert "risk.kill_switch_freeze" in fw.telemetry.alerts()
        switch.engage("flatten", "test", "cli")
        await fw.bot.engine.start()  # a restart reads the same flag
        flat = await fw.move_and_tick(fw.world.target_price)
        assert flat is not None
        assert flat.decision.reason == "kill_switch_flatten"
        assert flat.order is not None
        assert flat.order.reduce_only
        assert flat.position.size_base == 0
        still = await fw.move_and_tick(fw.world.target_price * Decimal("0.95"))
        assert still is not None
        assert still.position.size_base == 0
        switch.clear()
        resumed = await fw.move_and_tick(fw.world.target_price)
        assert resumed is not None
        assert resumed.position.size_base < 0


async def test_position_read_timeout_is_not_read_as_flat(anvil_node: Anvil, tmp_path: Path) -> None:
    """Unknown is not zero: with the hedge open, venue reads slower than the bound fail the
    tick; no second hedge is opened, and the next good tick holds."""
    async with fault_world(anvil_node, tmp_path, read_timeout_s=1.0) as fw:
        opening = await fw.tick()
        assert opening is not None
        assert opening.position.size_base < 0
        hedge = opening.position.size_base
        block = await fw.move(fw.world.target_price * Decimal("0.97"))
        fw.emulator.set_latency(1.5)
        assert await fw.bot.engine.tick(block) is None
        assert fw.telemetry.errors()[-1]["source"] == "exchange"
        fw.emulator.set_latency(0)
        assert len(fw.venue_orders()) == 1
        again = await fw.bot.engine.tick(block)
        assert again is not None
        assert again.position.size_base <= hedge  # grew by the drift at most, never doubled
        assert abs(again.position.size_base) < 2 * abs(hedge) * Decimal("0.8")
        assert len(fw.venue_orders()) <= 2


async def test_read_only_store_refuses_to_trade(anvil_node: Anvil, tmp_path: Path) -> None:
    """A store that cannot be written (here SQLite's query_only, as a read-only file system
    answers): start() refuses, and a running tick raises StoreError before any order."""
    async with fault_world(anvil_node, tmp_path) as fw:
        await fw.bot.store._db.execute("PRAGMA query_only = ON")
        with pytest.raises(StoreError, match="readonly"):
            await fw.bot.engine.start()
        with pytest.raises(StoreError, match="readonly"):
            await fw.tick()
        assert fw.venue_orders() == []
        assert fw.telemetry.errors()[-1]["source"] == "store"
