"""The engine against venue answers the order ledger once could not apply: real anvil with a
Uniswap V2 pair, the real paper venue (answers scripted on top of it) and the real SQLite
store. An order the venue accepted and then rejected settles like any other final answer;
an answer no venue should give fails the tick and halts trading, never the daemon."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest
from scripted_venue import ScriptedVenue, rejected_by_the_venue, under_another_client_id
from structlog.testing import capture_logs
from test_engine import local_world

from bot.app import Bot, build_bot
from bot.clock import ManualClock
from bot.core.operator import OperatorState, TradingState
from bot.domain import Order, OrderStatus
from bot.engine import TickReport
from bot.exchange.paper import PaperExchange
from bot.sim.anvil import Anvil
from bot.sim.localnet import LocalWorld
from bot.store.meta import MetaKey

pytestmark = pytest.mark.integration


@dataclass
class Scripted:
    """A started bot whose venue answers are scripted over the paper venue."""

    world: LocalWorld
    venue: ScriptedVenue
    bot: Bot
    clock: ManualClock

    @property
    def paper(self) -> PaperExchange:
        return self.venue.paper

    async def tick(self, fraction: str = "1") -> TickReport | None:
        """Move the pool (and the mark) to a new block and tick on it."""
        step = await self.world.driver.move_to(self.world.target_price * Decimal(fraction))
        self.clock.set(float(step.block_timestamp))
        self.paper.set_reference_price(step.target_price)
        return await self.bot.engine.tick(step.block_number)

    def intents(self) -> dict[str, str]:
        with closing(sqlite3.connect(self.bot.store.path)) as db:
            rows = db.execute("SELECT client_order_id, status FROM intents").fetchall()
        return {str(cid): str(status) for cid, status in rows}

    async def stored_trading_state(self) -> TradingState:
        record = await self.bot.store.get_meta(MetaKey.OPERATOR_STATE)
        return OperatorState.from_record(record).trading_state


@asynccontextmanager
async def scripted_bot(anvil_node: Anvil, tmp_path: Path) -> AsyncIterator[Scripted]:
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        paper = venue.adapter()
        assert isinstance(paper, PaperExchange)
        scripted = ScriptedVenue(paper)
        bot = await build_bot(venue.settings, clock=venue.clock, exchange=scripted)  # type: ignore[arg-type]
        ledger = bot.engine.ledger
        ledger.settings = replace(ledger.settings, resolve_backoff_s=0.0)
        await bot.engine.start()
        paper.set_reference_price(world.target_price)
        try:
            yield Scripted(world, scripted, bot, venue.clock)
        finally:
            await bot.close()


def venue_orders(paper: PaperExchange) -> list[Order]:
    return paper.venue.order_log()


async def test_an_order_accepted_then_rejected_by_the_venue_settles_and_trading_goes_on(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The venue accepts the opening order (it rests), then reports it REJECTED at the
    look-up: the tick completes with nothing filled, the intent is stored rejected, the
    rejected order is an ``order`` event, nothing rests; the next tick places a fresh order.
    (open -> rejected used to raise IllegalTransition out of Engine.tick.)"""
    async with scripted_bot(anvil_node, tmp_path) as s:
        s.venue.rest_next = True
        s.venue.lookups = [rejected_by_the_venue(s.paper)]
        with capture_logs() as logs:
            rejected = await s.tick()
        resting = await s.paper.open_orders()
        retried = await s.tick()
        statuses = s.intents()
        alerts = list(s.bot.engine.stats.alerts)
    assert rejected is not None
    assert rejected.decision.action == "rebalance"
    assert rejected.order is not None
    assert rejected.order.status is OrderStatus.REJECTED
    assert rejected.position.size_base == 0
    assert resting == []
    completed = [e for e in logs if e["event"] == "order.completed"]
    assert [e["status"] for e in completed] == ["rejected"]
    assert statuses[rejected.order.client_order_id] == "rejected"
    assert retried is not None
    assert retried.order is not None
    assert retried.order.client_order_id != rejected.order.client_order_id
    assert retried.order.status is OrderStatus.FILLED
    assert retried.position.size_base < 0
    assert statuses[retried.order.client_order_id] == "filled"
    assert "tick.failed" not in alerts


async def test_an_answer_no_venue_should_give_fails_the_tick_and_halts_trading(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The look-up of the resting opening order answers another client id's order: the tick
    fails (no exception out of Engine.tick), one alert names the intent and the answer, the
    operator is halted (stored), the intent stays unsettled (stored unknown, the order still
    on the venue); nothing new is sent. Once the venue cancels the order the next tick
    settles it and holds (halted); after ``resume`` the bot hedges again."""
    async with scripted_bot(anvil_node, tmp_path) as s:
        s.venue.rest_next = True
        s.venue.lookups = [
            lambda o: replace(under_another_client_id(o), status=OrderStatus.CANCELED)
        ]
        with capture_logs() as logs:
            failed = await s.tick()
        (cid,) = s.intents()
        after_failure = {
            "intents": s.intents(),
            "trading": await s.stored_trading_state(),
            "pending": [i.client_order_id for i in s.bot.engine.ledger.pending_intents()],
            "resting": [o.client_order_id for o in await s.paper.open_orders()],
        }
        s.paper.venue.cancel(cid)  # the venue (or an operator) cancels the resting order
        held = await s.tick("0.97")
        orders_while_halted = len(venue_orders(s.paper))
        await s.bot.engine.set_paused(False)  # the operator resumes
        hedged = await s.tick("0.97")
        changes = await s.bot.store.read_events("trading_state")
        settled = s.intents()[cid]
    assert failed is None
    illegal = [e for e in logs if e["event"] == "order.illegal_answer"]
    assert len(illegal) == 1
    assert illegal[0]["client_order_id"] == cid
    assert illegal[0]["answer"] == "canceled for order someone-else-1"
    assert illegal[0]["action"] == "halted"
    assert after_failure["intents"] == {cid: "unknown"}
    assert after_failure["trading"] is TradingState.HALTED
    assert after_failure["pending"] == [cid]
    assert after_failure["resting"] == [cid]
    assert changes[0]["cause"] == "illegal_venue_answer"
    assert held is not None
    assert held.order is None
    assert held.decision.reason == "paused"
    assert orders_while_halted == 1
    assert settled == "canceled"
    assert hedged is not None
    assert hedged.order is not None
    assert hedged.order.status is OrderStatus.FILLED
    assert hedged.position.size_base < 0


def warnings_of(logs: list[dict[str, object]]) -> list[object]:
    return [e["event"] for e in logs if e["log_level"] in {"warning", "error"}]


async def test_each_order_failure_is_one_log_line(anvil_node: Anvil, tmp_path: Path) -> None:
    """An order whose outcome stays unknown (accepted, still working after the grace period)
    is one line, ``order.outcome_unknown`` (not also order.unanswered and tick.failed); a
    submit the venue never received is one line, ``tick.failed`` (not also order.rejected).
    Both still fail the tick (an ``error`` event each)."""
    async with scripted_bot(anvil_node, tmp_path) as s:
        s.venue.rest_next = True
        with capture_logs() as unknown_logs:
            unknown = await s.tick()
        s.paper.venue.cancel(next(iter(s.intents())))  # settled (cancelled) at the next read
        s.venue.refuse_next_submit = True
        with capture_logs() as unsent_logs:
            unsent = await s.tick("0.97")
        errors = s.bot.engine.stats.errors
    assert unknown is None
    assert warnings_of(unknown_logs) == ["order.outcome_unknown"]
    assert unsent is None
    assert warnings_of(unsent_logs) == ["tick.failed"]
    (failed,) = [e for e in unsent_logs if e["event"] == "tick.failed"]
    assert "ExchangeUnavailable" in str(failed["error"])
    assert errors == 2
