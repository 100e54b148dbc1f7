"""Engine start-up reconciliation on a real anvil pool, for the paper venue and ccxt + emulator:
a restart with an open position and a resting order of this bot places no duplicate; a trade
the store never saw is an alert, and by configuration the engine pauses or adopts it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
from emulator_support import API_KEY, API_SECRET, raw_ccxt_client
from structlog.testing import capture_logs

from bot.app import Bot, build_bot
from bot.clock import ManualClock
from bot.config import Settings
from bot.domain import Order, OrderIntent, OrderStatus, Side
from bot.engine import TickReport
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import EmulatorHandle, start_emulator
from bot.exchange.emulators.binance_usdm.wire import emulator_ccxt_settings
from bot.exchange.ledger import POSITION_CHECK_EVERY_TICKS, OnMismatch, client_order_id
from bot.exchange.paper import PaperExchange, venue_params
from bot.exchange.venue import SimVenue
from bot.ports import PerpExchange
from bot.sim.anvil import Anvil
from bot.sim.localnet import LocalWorld, local_settings, start_world

pytestmark = pytest.mark.integration

Kind = Literal["paper", "emulator"]
BOT_ID = "restart"


@dataclass
class World:
    """The pool, the venue of ``kind`` and what a restarted bot needs to find them again."""

    kind: Kind
    chain: LocalWorld
    settings: Settings
    clock: ManualClock
    workdir: Path
    emulator: EmulatorHandle | None

    def adapter(self) -> PerpExchange:
        if self.emulator is None:
            venue = SimVenue(venue_params(self.settings.exchange), self.clock)
            return PaperExchange(venue, self.workdir / "venue.json")
        return CcxtPerpExchange(
            emulator_ccxt_settings(self.emulator.url, self.settings.exchange, API_KEY, API_SECRET),
            self.clock,
        )

    async def bot(self, on_mismatch: OnMismatch = "pause") -> Bot:
        bot = await build_bot(self.settings, clock=self.clock, exchange=self.adapter())
        bot.engine.ledger.on_mismatch = on_mismatch
        await bot.engine.start()
        self.set_mark(bot, self.chain.target_price)
        return bot

    def set_mark(self, bot: Bot, price: Decimal) -> None:
        if self.emulator is not None:
            self.emulator.set_mark(price)
        else:
            assert isinstance(bot.exchange, PaperExchange)
            bot.exchange.set_reference_price(price)

    async def place_while_down(self, intent: OrderIntent, *, resting: bool) -> None:
        """An order reaching the venue while no bot runs (GTC if ``resting``, else market)."""
        if self.emulator is None:
            paper = self.adapter()
            assert isinstance(paper, PaperExchange)
            await paper.start()
            paper.venue.submit(intent, time_in_force="GTC" if resting else "IOC")
            await paper.close()
            return
        kind = "limit" if resting else "market"
        params: dict[str, object] = {"clientOrderId": intent.client_order_id}
        if resting:
            params["timeInForce"] = "GTC"
        price = float(intent.limit_price) if resting and intent.limit_price else None
        async with raw_ccxt_client(self.emulator) as client:
            await client.create_order(
                intent.symbol, kind, intent.side.value, float(intent.amount_base), price, params
            )

    def order_log(self) -> list[Order]:
        """Every order the venue accepted (its own record)."""
        if self.emulator is not None:
            return self.emulator.venue.order_log()
        venue = SimVenue(venue_params(self.settings.exchange), self.clock)
        venue.load_state(json.loads((self.workdir / "venue.json").read_text()))
        return venue.order_log()


@asynccontextmanager
async def world(anvil_node: Anvil, tmp_path: Path, kind: Kind) -> AsyncIterator[World]:
    async with AsyncExitStack() as stack:
        chain = await stack.enter_async_context(start_world(anvil_node.rpc_url, seed=11))
        clock = ManualClock(float(chain.start_timestamp))
        settings = local_settings(chain, tmp_path, bot_id=BOT_ID)
        emulator = None
        if kind == "emulator":
            params = venue_params(settings.exchange)
            emulator = await start_emulator("127.0.0.1", 0, API_KEY, API_SECRET, params, clock)
            stack.push_async_callback(emulator.close)
        yield World(kind, chain, settings, clock, tmp_path, emulator)


async def tick_at(w: World, bot: Bot, price: Decimal | None = None) -> TickReport:
    """Tick on a new block (after a swap to ``price`` when given)."""
    if price is None:
        block = await bot.chain.latest_block()
    else:
        step = await w.chain.driver.move_to(price)
        w.clock.set(float(step.block_timestamp))
        w.set_mark(bot, step.target_price)
        block = step.block_number
    report = await bot.engine.tick(block)
    assert report is not None, bot.engine.stats.last_error
    return report


@pytest.mark.parametrize("kind", ["paper", "emulator"])
async def test_restart_with_position_and_own_resting_order_places_no_duplicate(
    anvil_node: Anvil, tmp_path: Path, kind: Kind
) -> None:
    """The bot's resting order left at a crash is cancelled at start (and recorded), the
    position is the store's, and the next ticks trade under new client ids only."""
    async with world(anvil_node, tmp_path, kind) as w:
        bot = await w.bot()
        try:
            opened = await tick_at(w, bot)
            assert opened.order is not None
            assert opened.position.size_base < 0
            hedge = opened.position.size_base
            # a resting reduce-only buy the bot recorded, then "crashed" before hearing back
            resting = OrderIntent(
                client_order_id(BOT_ID, opened.block, 99), w.settings.exchange.symbol,
                Side.BUY, Decimal("0.5"), True, (w.chain.target_price * Decimal("0.8")).quantize(
                    Decimal("0.01")),
            )  # fmt: skip
            await bot.store.record_intent(w.clock.now(), opened.block, resting)
        finally:
            await bot.close()
        await w.place_while_down(resting, resting=True)
        assert [o.status for o in w.order_log()] == [OrderStatus.FILLED, OrderStatus.OPEN]

        again = await w.bot()
        try:
            assert again.engine.stats.alerts == []
            assert not again.engine.paused
            assert await again.exchange.open_orders() == []
            assert await again.store.unresolved_intents() == []
            held = await tick_at(w, again)
            assert held.decision.action == "hold"
            assert held.position.size_base == hedge
            log = w.order_log()
            assert [o.status for o in log] == [OrderStatus.FILLED, OrderStatus.CANCELED]
            moved = await tick_at(w, again, w.chain.target_price * Decimal("1.1"))
            assert moved.order is not None
            assert moved.order.client_order_id not in {o.client_order_id for o in log}
            assert len(w.order_log()) == 3
        finally:
            await again.close()


@pytest.mark.parametrize("kind", ["paper", "emulator"])
@pytest.mark.parametrize("on_mismatch", ["pause", "adopt"])
async def test_foreign_trade_while_down_is_an_alert_then_pause_or_adopt(
    anvil_node: Anvil, tmp_path: Path, kind: Kind, on_mismatch: OnMismatch
) -> None:
    """A trade nobody recorded is an alert at start. 'pause': the engine places nothing, and
    stays paused across restarts until an operator resumes; 'adopt': it trades on from the
    venue's position. Either way the next start is clean (the fill is in the store now)."""
    async with world(anvil_node, tmp_path, kind) as w:
        bot = await w.bot()
        try:
            await tick_at(w, bot)
        finally:
            await bot.close()
        symbol = w.settings.exchange.symbol
        await w.place_while_down(
            OrderIntent("manual-sell-1", symbol, Side.SELL, Decimal(2), False), resting=False
        )
        orders_before = len(w.order_log())

        restarted = await w.bot(on_mismatch)
        try:
            assert restarted.engine.stats.alerts == ["reconcile.mismatch"]
            assert restarted.engine.paused is (on_mismatch == "pause")
            report = await tick_at(w, restarted, w.chain.target_price * Decimal("1.05"))
            if on_mismatch == "pause":
                assert report.decision.action != "rebalance"
                assert len(w.order_log()) == orders_before
            else:
                assert report.order is not None  # back into the band from the venue's -2 more
                assert len(w.order_log()) == orders_before + 1
        finally:
            await restarted.close()

        clean = await w.bot(on_mismatch)
        try:
            assert clean.engine.stats.alerts == []
            assert clean.engine.paused is (on_mismatch == "pause")
            if on_mismatch == "pause":
                await clean.engine.set_paused(False)  # the operator resumes
                report = await tick_at(w, clean, w.chain.target_price * Decimal("0.95"))
                assert report.order is not None
        finally:
            await clean.close()


@pytest.mark.parametrize("on_mismatch", ["pause", "adopt"])
async def test_foreign_trade_while_running_is_found_by_the_periodic_position_check(
    anvil_node: Anvil, tmp_path: Path, on_mismatch: OnMismatch
) -> None:
    """Someone trades the account while the bot runs and trades back (the position is where
    it was): the running position check (every POSITION_CHECK_EVERY_TICKS ticks) alerts
    position.mismatch once; 'pause' halts trading, 'adopt' takes the venue's position and
    keeps trading. (A foreign trade that moves the position is found on the next tick:
    test_foreign_trade_that_moves_the_position_is_found_on_the_next_tick.)"""
    async with world(anvil_node, tmp_path, "emulator") as w:
        bot = await w.bot(on_mismatch)
        try:
            opened = await tick_at(w, bot)  # tick 1 of the cadence
            assert opened.order is not None
            w.clock.set(w.clock.now() + 1)
            symbol = w.settings.exchange.symbol
            await w.place_while_down(
                OrderIntent("manual-sell-2", symbol, Side.SELL, Decimal(2), False), resting=False
            )
            await w.place_while_down(
                OrderIntent("manual-buy-2", symbol, Side.BUY, Decimal(2), False), resting=False
            )
            for _ in range(POSITION_CHECK_EVERY_TICKS - 2):
                await tick_at(w, bot)
            before_check = list(bot.engine.stats.alerts)
            await tick_at(w, bot)  # tick POSITION_CHECK_EVERY_TICKS: the check runs
            after_check = list(bot.engine.stats.alerts)
            paused_after_check = bot.engine.paused
            for _ in range(POSITION_CHECK_EVERY_TICKS):
                await tick_at(w, bot)
            after_next_check = list(bot.engine.stats.alerts)
        finally:
            await bot.close()
    assert "position.mismatch" not in before_check
    assert after_check.count("position.mismatch") == 1
    assert paused_after_check is (on_mismatch == "pause")
    assert after_next_check.count("position.mismatch") == 1  # a known mismatch: not again


async def quiet_tick_calls(w: World, bot: Bot) -> tuple[int, int]:
    """(venue position reads, ledger position checks) of one quiet tick, counted on the
    real adapter and ledger (each call goes through)."""
    calls = {"position": 0, "check": 0}
    exchange, ledger = bot.engine.exchange, bot.engine.ledger
    read, check = exchange.position, ledger.check_position

    async def counted_read() -> Any:
        calls["position"] += 1
        return await read()

    async def counted_check(venue_position_base: Decimal) -> Any:
        calls["check"] += 1
        return await check(venue_position_base)

    exchange.position, ledger.check_position = counted_read, counted_check  # type: ignore[method-assign]
    try:
        held = await tick_at(w, bot)
    finally:
        del exchange.position, ledger.check_position  # type: ignore[method-assign]
    assert held.order is None
    return calls["position"], calls["check"]


@pytest.mark.parametrize("on_mismatch", ["pause", "adopt"])
async def test_foreign_trade_that_moves_the_position_is_found_on_the_next_tick(
    anvil_node: Anvil, tmp_path: Path, on_mismatch: OnMismatch
) -> None:
    """Someone sells 2 on the account while the bot runs: the next tick's venue position is
    not the last one plus the bot's own fills, so that tick runs the position check before
    its plan (ledger.py's documented cadence) and alerts position.mismatch naming the
    foreign fill; 'pause' halts trading there (nothing traded back), 'adopt' trades on.
    Quiet ticks make no extra venue call and the known mismatch is not alerted again, not
    even by the periodic check."""
    async with world(anvil_node, tmp_path, "emulator") as w:
        bot = await w.bot(on_mismatch)
        assert w.emulator is not None
        try:
            opened = await tick_at(w, bot)
            assert opened.order is not None
            quiet = await quiet_tick_calls(w, bot)
            w.clock.set(w.clock.now() + 1)
            symbol = w.settings.exchange.symbol
            await w.place_while_down(
                OrderIntent("manual-sell-3", symbol, Side.SELL, Decimal(2), False), resting=False
            )
            w.clock.set(w.clock.now() + 1)  # the bot's own fills come a second later
            with capture_logs() as logs:
                found = await tick_at(w, bot)
            after_next_tick = list(bot.engine.stats.alerts)
            paused = bot.engine.paused
            for _ in range(POSITION_CHECK_EVERY_TICKS + 1):
                await tick_at(w, bot)
            later = list(bot.engine.stats.alerts)
        finally:
            await bot.close()
    assert quiet == (1, 0)  # a quiet tick: one position read, no check
    assert (found.order is None) is (on_mismatch == "pause")
    assert after_next_tick.count("position.mismatch") == 1
    mismatch = [e for e in logs if e["event"] == "position.mismatch"]
    assert len(mismatch) == 1
    assert len(mismatch[0]["foreign_fills"]) == 1
    assert mismatch[0]["action"] == ("paused" if on_mismatch == "pause" else "adopted")
    assert paused is (on_mismatch == "pause")
    assert later.count("position.mismatch") == 1  # a known mismatch: not again
