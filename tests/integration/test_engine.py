"""The whole hedge loop on a real anvil with the real Uniswap V2 pair, against both venues.

Each test deploys its own pool on the session node and drives the engine tick by tick: the
paper adapter (in-process venue persisted as JSON) and the real ccxt ``binanceusdm`` client
against the HTTP emulator must behave the same.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager, closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest

from bot.app import Bot, build_bot
from bot.clock import ManualClock
from bot.config import Settings
from bot.domain import Order, OrderIntent, OrderStatus, Side
from bot.engine import TickReport
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import EmulatorHandle, start_emulator
from bot.exchange.emulators.binance_usdm.wire import emulator_ccxt_settings
from bot.exchange.paper import PaperExchange, venue_params
from bot.exchange.venue import SimVenue
from bot.ports import PerpExchange
from bot.sim.anvil import Anvil
from bot.sim.localnet import LocalWorld, local_settings, start_world

pytestmark = pytest.mark.integration

VenueKind = Literal["paper", "emulator"]
KEY, SECRET = "engine-test-key", "engine-test-secret"


@dataclass
class Venue:
    """Builds a fresh adapter on the same venue state, as a restarted bot would."""

    kind: VenueKind
    settings: Settings
    clock: ManualClock
    workdir: Path
    emulator: EmulatorHandle | None = None

    def adapter(self) -> PerpExchange:
        if self.kind == "paper":
            venue = SimVenue(venue_params(self.settings.exchange), self.clock)
            return PaperExchange(venue, self.workdir / "venue.json")
        assert self.emulator is not None
        return CcxtPerpExchange(
            emulator_ccxt_settings(self.emulator.url, self.settings.exchange, KEY, SECRET),
            self.clock,
        )

    def orders(self, bot: Bot) -> list[Order]:
        """Every order the venue itself accepted (its own log, not our store)."""
        if self.emulator is not None:
            return self.emulator.venue.order_log()
        assert isinstance(bot.exchange, PaperExchange)
        return bot.exchange.venue.order_log()

    def mark_setter(self, bot: Bot) -> Callable[[Decimal], None]:
        if self.emulator is not None:
            return self.emulator.set_mark
        assert isinstance(bot.exchange, PaperExchange)
        return bot.exchange.set_reference_price


@asynccontextmanager
async def local_world(
    anvil_node: Anvil,
    tmp_path: Path,
    kind: VenueKind,
    base_is_token0: bool,
    pool_kind: Literal["v2", "v3"] = "v2",
) -> AsyncIterator[tuple[LocalWorld, Venue]]:
    """A fresh pool with a seeded market, and the venue of ``kind`` for it."""
    async with AsyncExitStack() as stack:
        world = await stack.enter_async_context(
            start_world(
                anvil_node.rpc_url, seed=5, base_is_token0=base_is_token0, pool_kind=pool_kind
            )
        )
        clock = ManualClock(float(world.start_timestamp))
        settings = local_settings(world, tmp_path, bot_id="it")
        emulator = None
        if kind == "emulator":
            emulator = await start_emulator(
                "127.0.0.1", 0, KEY, SECRET, venue_params(settings.exchange), clock
            )
            stack.push_async_callback(emulator.close)
        yield world, Venue(kind, settings, clock, tmp_path, emulator)


async def started_bot(world: LocalWorld, venue: Venue) -> Bot:
    bot = await build_bot(venue.settings, clock=venue.clock, exchange=venue.adapter())
    await bot.engine.start()
    venue.mark_setter(bot)(world.target_price)
    return bot


async def move_and_tick(world: LocalWorld, venue: Venue, bot: Bot, price: Decimal) -> TickReport:
    """Swap the pool to ``price`` in a new block, move the mark, and tick on that block."""
    step = await world.driver.move_to(price)
    venue.clock.set(float(step.block_timestamp))
    venue.mark_setter(bot)(step.target_price)
    report = await bot.engine.tick(step.block_number)
    assert report is not None, bot.engine.stats.last_error
    return report


def within_band(report: TickReport) -> bool:
    """The hedge after the tick's order is within the band of the target."""
    return abs(report.position.size_base - report.decision.target_base) <= report.decision.band_base


@pytest.mark.parametrize(
    ("kind", "base_is_token0"),
    [("paper", True), ("paper", False), ("emulator", True)],
)
async def test_swap_rebalances_next_block_and_restart_keeps_the_position(
    anvil_node: Anvil, tmp_path: Path, kind: VenueKind, base_is_token0: bool
) -> None:
    """A price move makes the bot trade back into the band on the next block; a restarted bot
    with the same store and venue continues with that position and places no new order."""
    async with local_world(anvil_node, tmp_path, kind, base_is_token0) as (world, venue):
        bot = await started_bot(world, venue)
        try:
            opening = await bot.engine.tick(await bot.chain.latest_block())
            assert opening is not None
            assert opening.decision.action == "rebalance"
            assert opening.position.size_base < 0
            assert within_band(opening)

            moved = await move_and_tick(world, venue, bot, world.target_price * Decimal("1.08"))
            assert moved.decision.action == "rebalance"
            assert moved.decision.reason == "band"
            assert moved.order is not None
            assert moved.order.reduce_only  # price up: V2 delta falls, the short shrinks
            assert within_band(moved)
            assert len(venue.orders(bot)) == 2
            hedge = moved.position.size_base
        finally:
            await bot.close()

        again = await started_bot(world, venue)
        try:
            resumed = await move_and_tick(world, venue, again, world.target_price)
            assert resumed.decision.action == "hold"
            assert resumed.position.size_base == hedge
            assert len(venue.orders(again)) == 2
            assert again.engine.stats.rebalances == 0
        finally:
            await again.close()


async def run_path(anvil_node: Anvil, tmp_path: Path, kind: VenueKind) -> tuple[Decimal, Decimal]:
    """Drive one fixed price path; the final hedge and the fees the venue charged."""
    path = [Decimal(p) for p in ("2100", "2250", "1900", "1850", "2000", "2300")]
    async with local_world(anvil_node, tmp_path, kind, True) as (world, venue):
        bot = await started_bot(world, venue)
        try:
            assert await bot.engine.tick(await bot.chain.latest_block()) is not None
            for price in path:
                assert within_band(await move_and_tick(world, venue, bot, price))
            totals = await bot.store.totals()
            position = await bot.exchange.position()
            assert len(venue.orders(bot)) == bot.engine.stats.rebalances == 1 + len(path)
        finally:
            await bot.close()
    return position.size_base, totals["fees_quote"]


async def test_paper_and_ccxt_emulator_reach_identical_positions_and_fees(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The same price path through paper mode and through ccxt + emulator ends identically."""
    paper = await run_path(anvil_node, tmp_path / "paper", "paper")
    emulated = await run_path(anvil_node, tmp_path / "emulator", "emulator")
    assert paper == emulated
    assert paper[0] < 0
    assert paper[1] > 0


async def test_attribution_sums_to_the_change_in_lp_plus_venue_value(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Over a demo-like run the PnL parts add up to the change of LP value + venue equity.

    The parts sum to ``net`` exactly by construction; ``net`` matches the value change up to
    the venue's own rounding of its average entry price (28 significant digits)."""
    async with local_world(anvil_node, tmp_path, "paper", False) as (world, venue):
        bot = await started_bot(world, venue)
        try:
            balance = await bot.exchange.balance()
            first = await bot.engine.tick(await bot.chain.latest_block())
            assert first is not None
            lp_start = sum((p.value_quote for p in first.snapshot.positions), Decimal(0))
            for _ in range(50):  # 50 x 600 s > 8 h: at least one funding time, whatever the phase
                step = await world.step()
                venue.clock.set(float(step.block_timestamp))
                venue.mark_setter(bot)(step.target_price)
                assert await bot.engine.tick(step.block_number) is not None
            last = bot.engine.last_report
            assert last is not None
            end_balance = await bot.exchange.balance()
            position = await bot.exchange.position()
        finally:
            await bot.close()
    assert bot.engine.stats.rebalances >= 2
    pnl = last.pnl
    lp_end = sum((p.value_quote for p in last.snapshot.positions), Decimal(0))
    value_change = (lp_end + end_balance.wallet_balance + position.unrealized_pnl) - (
        lp_start + balance.wallet_balance
    )
    parts = (
        pnl["lp_hold_pnl_quote"]
        + pnl["il_quote"]
        + pnl["lp_fees_quote"]
        + pnl["hedge_pnl_quote"]
        + pnl["funding_quote"]
        - pnl["trading_fees_quote"]
        - pnl["slippage_quote"]
        - pnl["gas_quote"]
    )
    assert parts == pnl["net_pnl_quote"]
    assert abs(pnl["net_pnl_quote"] - value_change) < Decimal("1e-15")
    assert pnl["funding_quote"] != 0
    assert pnl["trading_fees_quote"] > 0


@pytest.mark.parametrize("base_is_token0", [True, False])
async def test_v3_range_exit_and_entry_are_events_and_rebalance(
    anvil_node: Anvil, tmp_path: Path, base_is_token0: bool
) -> None:
    """Price leaving the 1600-2400 range above zeroes the delta and the hedge follows; below
    it the delta is all base; each crossing is a recorded range event."""
    async with local_world(anvil_node, tmp_path, "paper", base_is_token0, "v3") as (world, venue):
        bot = await started_bot(world, venue)
        try:
            opening = await bot.engine.tick(await bot.chain.latest_block())
            assert opening is not None
            assert opening.snapshot.positions[0].in_range
            assert opening.position.size_base < 0

            above = await move_and_tick(world, venue, bot, Decimal(2600))
            assert not above.snapshot.positions[0].in_range
            assert above.snapshot.positions[0].delta_base == 0
            assert above.decision.action == "rebalance"
            assert above.position.size_base == 0

            below = await move_and_tick(world, venue, bot, Decimal(1500))
            lp = below.snapshot.positions[0]
            assert not lp.in_range
            assert lp.amount_quote == 0
            assert lp.delta_base == lp.amount_base > 0
            assert within_band(below)

            back = await move_and_tick(world, venue, bot, Decimal(2000))
            assert back.snapshot.positions[0].in_range
            events = await bot.store.read_events()
        finally:
            await bot.close()
    ranges = [(e["type"], e["block"]) for e in events if e["type"].startswith("range.")]
    assert ranges == [
        ("range.exited", above.block),
        ("range.entered", back.block),
    ]


async def test_operator_settings_survive_a_restart(anvil_node: Anvil, tmp_path: Path) -> None:
    """A hedge ratio and a threshold set by command are still in force after a restart."""
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        bot = await started_bot(world, venue)
        try:
            await bot.engine.set_hedge_ratio(Decimal("0.8"))
            await bot.engine.set_threshold(Decimal("0.25"), None)
        finally:
            await bot.close()
        again = await started_bot(world, venue)
        try:
            report = await again.engine.tick(await again.chain.latest_block())
        finally:
            await again.close()
    assert report is not None
    assert report.decision.band_base == Decimal("0.25")
    assert report.decision.target_base == -Decimal("0.8") * report.decision.delta_base


async def test_transferred_v3_position_alerts_and_never_trades_on_partial_data(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """An LP NFT moved away from the owner raises an alert and the tick trades nothing: the
    hedge stays as it was instead of being rebalanced against a silently shrunk target."""
    from v3_support import npm_contract, transact  # the V3 test helpers

    from bot.chain.rpc import connect

    async with local_world(anvil_node, tmp_path, "paper", True, "v3") as (world, venue):
        bot = await started_bot(world, venue)
        try:
            opening = await bot.engine.tick(await bot.chain.latest_block())
            assert opening is not None
            assert opening.position.size_base < 0
            deployment: Any = world.deployment
            w3 = connect(world.rpc_url)
            try:
                npm = npm_contract(w3, deployment)
                await transact(
                    w3,
                    "transfer the LP NFT away",
                    npm.functions.transferFrom(
                        deployment.lp_account, deployment.trader_account, deployment.token_id
                    ),
                    deployment.lp_account,
                )
            finally:
                await w3.provider.disconnect()
            orders_before = len(venue.orders(bot))
            failed = await bot.engine.tick(await bot.chain.latest_block())
            position = await bot.exchange.position()
            assert await bot.engine.tick(await bot.chain.latest_block()) is None
            recorded = await bot.store.read_events("alert")
        finally:
            await bot.close()
    assert failed is None
    assert "position.unreadable" in bot.engine.stats.alerts
    assert "position.unreadable" in [e["alert"] for e in recorded]  # kept for operators
    assert len(venue.orders(bot)) == orders_before
    assert position.size_base == opening.position.size_base


async def test_flatten_while_paused_closes_even_when_the_policy_reduces_too(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Flatten pauses the bot; when the price leaves the V3 range the policy wants the same
    close, and the close must still happen (it used to be held as 'paused')."""
    async with local_world(anvil_node, tmp_path, "paper", True, "v3") as (world, venue):
        bot = await started_bot(world, venue)
        try:
            opening = await bot.engine.tick(await bot.chain.latest_block())
            assert opening is not None
            assert opening.position.size_base < 0
            await bot.engine.set_flatten()
            above = await move_and_tick(world, venue, bot, Decimal(2600))
        finally:
            await bot.close()
    assert bot.engine.paused
    assert above.snapshot.positions[0].delta_base == 0
    assert above.decision.action == "rebalance"
    assert above.decision.reduce_only
    assert above.position.size_base == 0


def with_changes(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """``settings`` with fields of some sections replaced (e.g. ``exchange={...}``)."""
    update = {
        name: getattr(settings, name).model_copy(update=fields) for name, fields in sections.items()
    }
    return settings.model_copy(update=update)


def intent_statuses(store_path: Path) -> dict[str, str]:
    """Every intent's status as the store file holds it (read after the bot closed)."""
    with closing(sqlite3.connect(store_path)) as db:
        return dict(db.execute("SELECT client_order_id, status FROM intents").fetchall())


async def test_order_never_placed_is_rejected_and_the_next_tick_places_a_fresh_one(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The venue answers the opening order with a 503 and creates nothing: the tick confirms
    the order absent, records the intent REJECTED (not unresolved), alerts order.not_placed
    and sends nothing else; the next tick decides again and places a new order. (The order
    used to be re-sent at once under the same id.)"""
    async with local_world(anvil_node, tmp_path, "emulator", True) as (world, venue):
        assert venue.emulator is not None
        bot = await started_bot(world, venue)
        try:
            ledger = bot.engine.ledger
            ledger.settings = replace(ledger.settings, resolve_backoff_s=0.01)
            venue.emulator.fail_next_order(status=503)
            failed = await bot.engine.tick(await bot.chain.latest_block())
            assert failed is not None, bot.engine.stats.last_error
            orders_after_failure = len(venue.orders(bot))
            unresolved = await bot.store.unresolved_intents()
            retried = await move_and_tick(world, venue, bot, world.target_price)
        finally:
            await bot.close()
    statuses = intent_statuses(venue.settings.store.path)
    assert failed.decision.action == "rebalance"
    assert failed.order is None
    assert failed.position.size_base == 0
    assert orders_after_failure == 0
    assert unresolved == []
    assert "order.not_placed" in bot.engine.stats.alerts
    assert "order.outcome_unknown" not in bot.engine.stats.alerts
    assert retried.decision.action == "rebalance"
    assert retried.order is not None
    assert retried.order.filled_base > 0
    assert retried.position.size_base < 0
    assert within_band(retried)
    fresh_id = retried.order.client_order_id
    assert [o.client_order_id for o in venue.orders(bot)] == [fresh_id]
    assert len(statuses) == 2
    assert statuses.pop(fresh_id) == OrderStatus.FILLED.value
    assert list(statuses.values()) == [OrderStatus.REJECTED.value]


async def test_fills_stored_by_a_failed_tick_reach_the_live_pnl_exactly_once(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The opening tick trades and stores its fill, then its funding read fails: the next
    completed tick's PnL carries that fill's fee once, and later ticks do not add it again.
    (The failed tick's fills used to be stored but never reach the live attribution.)"""
    async with local_world(anvil_node, tmp_path, "emulator", True) as (world, venue):
        assert venue.emulator is not None
        bot = await started_bot(world, venue)
        try:
            venue.emulator.fail_next_request("GET", "/fapi/v1/income", status=503)
            failed = await bot.engine.tick(await bot.chain.latest_block())
            error = bot.engine.stats.last_error
            stored_by_failed_tick = await bot.store.read_fills()
            position = await bot.exchange.position()
            later = await move_and_tick(world, venue, bot, world.target_price)
            again = await move_and_tick(world, venue, bot, world.target_price)
            fills = await bot.store.read_fills()
        finally:
            await bot.close()
    assert failed is None
    assert error is not None
    assert error.startswith("ExchangeUnavailable")
    assert position.size_base < 0  # the order went through before the read failed
    assert len(stored_by_failed_tick) >= 1
    assert fills == stored_by_failed_tick  # the later ticks traded nothing
    assert (later.decision.action, again.decision.action) == ("hold", "hold")
    fees = sum((f.fee_quote for f in fills), Decimal(0))
    assert fees > 0
    assert later.pnl["trading_fees_quote"] == fees
    assert again.pnl["trading_fees_quote"] == fees
    assert bot.engine.pnl is not None
    assert bot.engine.pnl.position_base == position.size_base


async def test_new_store_does_not_count_fills_from_before_its_first_start(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The venue already holds a short (traded by hand a minute before the bot's first
    start); with on_mismatch adopt the bot takes it over. Its attribution opens with that
    short, so the hedge PnL of a price move is position x change of mark, not the short
    counted twice (fills of the day before the first start used to be added on top)."""
    async with local_world(anvil_node, tmp_path, "emulator", True) as (world, venue):
        assert venue.emulator is not None
        venue.settings = with_changes(venue.settings, exchange={"on_mismatch": "adopt"})
        venue.emulator.set_mark(world.target_price)
        manual = venue.adapter()
        await manual.start()
        try:
            await manual.submit(
                OrderIntent(
                    "manual-short", venue.settings.exchange.symbol, Side.SELL, Decimal(1), False
                )
            )
        finally:
            await manual.close()
        venue.clock.advance(60)
        bot = await started_bot(world, venue)
        try:
            opening = await bot.engine.tick(await bot.chain.latest_block())
            assert opening is not None, bot.engine.stats.last_error
            moved = await move_and_tick(world, venue, bot, world.target_price * Decimal("1.08"))
            fills = await bot.store.read_fills()
        finally:
            await bot.close()
    assert "reconcile.mismatch" in bot.engine.stats.alerts
    assert not bot.engine.paused
    assert opening.position.size_base < -1  # the adopted short plus the opening order
    mark_change = moved.quote.mark_price - opening.quote.mark_price
    assert mark_change > 0
    assert moved.pnl["hedge_pnl_quote"] == opening.position.size_base * mark_change
    assert "manual-short" not in {f.client_order_id for f in fills}


async def test_a_trade_held_while_paused_leaves_the_interval_policy_state_untouched(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """With the interval policy and trading paused, the wanted trades are held and the policy
    keeps no rebalance time; resumed within the interval, the next tick trades. (The held
    trade's state used to be kept, so the policy waited out an interval for a trade that
    never happened.)"""
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        venue.settings = with_changes(
            venue.settings, hedge={"policy": "interval", "interval_s": 3600.0}
        )
        bot = await started_bot(world, venue)
        try:
            await bot.engine.set_paused(True)
            held = [await bot.engine.tick(await bot.chain.latest_block())]
            rebalance_times = [bot.engine.policy_state.last_rebalance_s]
            for factor in ("1.05", "0.95"):
                held.append(
                    await move_and_tick(world, venue, bot, world.target_price * Decimal(factor))
                )
                rebalance_times.append(bot.engine.policy_state.last_rebalance_s)
            orders_while_paused = len(venue.orders(bot))
            await bot.engine.set_paused(False)
            resumed = await move_and_tick(world, venue, bot, world.target_price)
            first_held = held[0]
            assert first_held is not None
        finally:
            await bot.close()
    assert [(r.decision.action, r.decision.reason) for r in held if r is not None] == [
        ("hold", "paused")
    ] * 3
    assert all(abs(r.decision.drift_base) > 0 for r in held if r is not None)
    assert rebalance_times == [None, None, None]
    assert orders_while_paused == 0
    assert venue.clock.now() < first_held.snapshot.block_timestamp + 3600  # interval not over
    assert (resumed.decision.action, resumed.decision.reason) == ("rebalance", "interval")
    assert resumed.order is not None
    assert resumed.order.filled_base > 0
    # the interval policy trades to the exact target, rounded down to the 0.001 step
    assert abs(resumed.position.size_base - resumed.decision.target_base) < Decimal("0.001")
    assert len(venue.orders(bot)) == 1
    assert bot.engine.policy_state.last_rebalance_s == venue.clock.now()


async def test_first_hold_tick_of_a_utc_day_sets_the_day_pnl_baseline(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The risk guard's day baseline is the net PnL at the first tick of a UTC day, a hold
    included; a trade later that day does not move it. (It used to be set only by a trade,
    so a day's losses before its first trade escaped the daily loss limit.)"""
    from bot.chain.rpc import connect, rpc_request

    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        bot = await started_bot(world, venue)
        try:
            opening = await bot.engine.tick(await bot.chain.latest_block())
            assert opening is not None
            assert opening.decision.action == "rebalance"
            day_one = await bot.store.get_meta("risk_day")
            # an empty block five minutes before the next UTC midnight; the next move lands
            # five minutes after it
            midnight = (opening.snapshot.block_timestamp + 600) // 86_400 * 86_400 + 86_400
            w3 = connect(world.rpc_url)
            try:
                await rpc_request(w3, "anvil_setNextBlockTimestamp", midnight - 300)
                await rpc_request(w3, "evm_mine")
            finally:
                await w3.provider.disconnect()
            held = await move_and_tick(world, venue, bot, world.target_price)
            day_two = await bot.store.get_meta("risk_day")
            baseline = await bot.store.get_meta("risk_day_start_net")
            traded = await move_and_tick(world, venue, bot, world.target_price * Decimal("1.08"))
            baseline_after_trade = await bot.store.get_meta("risk_day_start_net")
        finally:
            await bot.close()
    assert (
        day_one == datetime.fromtimestamp(opening.snapshot.block_timestamp, UTC).date().isoformat()
    )
    assert held.snapshot.block_timestamp == midnight + 300
    assert held.decision.action == "hold"
    assert day_two == datetime.fromtimestamp(midnight, UTC).date().isoformat() != day_one
    assert baseline == str(held.pnl["net_pnl_quote"])
    assert traded.decision.action == "rebalance"
    assert baseline_after_trade == baseline


async def test_funding_pause_blocks_a_larger_hedge_but_lets_the_hedge_shrink(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """funding_action pause with the short paying a spiking rate: a move that wants a bigger
    short is skipped, a move that wants a smaller one is traded reduce-only. (The pause used
    to stop reductions too, keeping the paying hedge at full size.)"""
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        venue.settings = with_changes(venue.settings, risk={"funding_action": "pause"})
        bot = await started_bot(world, venue)
        try:
            opening = await bot.engine.tick(await bot.chain.latest_block())
            assert opening is not None
            assert opening.position.size_base < 0
            assert isinstance(bot.exchange, PaperExchange)
            bot.exchange.venue.set_funding_rate(Decimal("-0.001"))  # shorts pay ~110 %/yr
            start = world.target_price
            down = await move_and_tick(world, venue, bot, start * Decimal("0.92"))
            orders_after_down = len(venue.orders(bot))
            up = await move_and_tick(world, venue, bot, start * Decimal("1.08"))
        finally:
            await bot.close()
    assert "risk.funding_spike" in bot.engine.stats.alerts
    assert (down.decision.action, down.decision.reason) == ("skip", "risk:funding_spike_pause")
    assert down.position.size_base == opening.position.size_base
    assert orders_after_down == 1
    assert up.decision.action == "rebalance"
    assert up.order is not None
    assert up.order.reduce_only
    assert up.order.filled_base > 0
    assert opening.position.size_base < up.position.size_base < 0
    assert len(venue.orders(bot)) == 2


async def test_cancelling_run_propagates_and_leaves_no_task_behind(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Cancelling the daemon loop while it waits for a block cancels its helper tasks too."""

    async def no_blocks() -> AsyncIterator[int]:
        await asyncio.Event().wait()
        yield 0  # pragma: no cover - never reached

    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        bot = await started_bot(world, venue)
        try:
            before = asyncio.all_tasks()
            loop_task = asyncio.create_task(bot.engine.run(no_blocks(), asyncio.Event()))
            await asyncio.sleep(0.05)
            helpers = asyncio.all_tasks() - before - {loop_task}
            assert helpers, "run() waits on a block task and a stop task"
            loop_task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await loop_task
            await asyncio.sleep(0)
            assert all(task.done() for task in helpers)
        finally:
            await bot.close()
