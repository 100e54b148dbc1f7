"""The kill-switch latch is edge-triggered: one halt per flatten episode. Real anvil with a
Uniswap V2 pair, the real paper venue (a scripted outage on top), the real SQLite store and
the kill-switch file, stepped as ``Engine.run`` does (commands between ticks, then a tick)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_venue_answers_engine import Scripted, scripted_bot

from bot.core.operator import TradingState
from bot.engine import TickReport
from bot.sim.anvil import Anvil
from bot.telemetry.commands import Resume

pytestmark = pytest.mark.integration


class Commands:
    """A ``CommandSource`` the test fills; acks are kept."""

    def __init__(self) -> None:
        self.commands: asyncio.Queue[Any] = asyncio.Queue()
        self.acks: list[tuple[str, bool, str | None]] = []

    async def ack(self, command_id: str, ok: bool, reason: str | None = None) -> None:
        self.acks.append((command_id, ok, reason))


@pytest.fixture
async def running(anvil_node: Anvil, tmp_path: Path) -> AsyncIterator[tuple[Scripted, Commands]]:
    async with scripted_bot(anvil_node, tmp_path) as s:
        commands = Commands()
        s.bot.engine.commands = commands
        yield s, commands


async def step(s: Scripted, fraction: str = "1") -> TickReport | None:
    """Commands (and the kill-switch latch) between ticks, then a tick at a new price."""
    await s.bot.engine.apply_commands()
    return await s.tick(fraction)


async def test_an_accepted_resume_is_not_undone_by_a_tick_that_failed_before_planning(
    running: tuple[Scripted, Commands],
) -> None:
    """Kill flatten -> the hedge is closed and the bot halted; clear; ``resume`` (acked ok);
    the next tick fails before planning (venue down): the resume stands, and the tick after
    the outage hedges again. (The halt used to be re-derived from the guard's stale
    ``kill_switch_flatten`` level, halting the bot again.)"""
    s, commands = running
    engine = s.bot.engine
    hedged = await step(s)
    assert hedged is not None
    assert hedged.position.size_base < 0
    engine.guard.kill_switch.engage("flatten", "drill", "cli")
    flat = await step(s)
    assert flat is not None
    assert flat.position.size_base == 0
    assert engine.operator.trading_state is TradingState.HALTED
    engine.guard.kill_switch.clear()
    commands.commands.put_nowait(Resume(id=uuid.uuid4().hex, command="resume"))
    s.venue.down = True
    failed = await step(s)  # the resume applies, then the tick fails reading the venue
    s.venue.down = False
    after_failure = engine.operator.trading_state
    again = await step(s, "0.97")
    changes = await s.bot.store.read_events("trading_state")
    assert [ok for _, ok, _ in commands.acks] == [True]
    assert failed is None
    assert after_failure is TradingState.ACTIVE
    assert engine.operator.trading_state is TradingState.ACTIVE
    assert await s.stored_trading_state() is TradingState.ACTIVE
    assert again is not None
    assert again.decision.reason != "paused"
    assert again.order is not None
    assert again.position.size_base < 0
    assert [(c["cause"], c["current"]) for c in changes] == [
        ("kill_switch_flatten", "halted"),
        ("resume", "active"),
    ]


async def test_a_new_flatten_after_a_resume_halts_again(
    running: tuple[Scripted, Commands],
) -> None:
    """Edge-triggered, not once for good: a second flatten episode after the resume halts
    the bot again, and clearing it leaves it paused until the next ``resume``."""
    s, commands = running
    engine = s.bot.engine
    await step(s)
    for episode in ("first", "second"):
        engine.guard.kill_switch.engage("flatten", episode, "cli")
        flat = await step(s)
        assert flat is not None
        assert flat.position.size_base == 0
        engine.guard.kill_switch.clear()
        held = await step(s, "0.97")
        assert held is not None, episode
        assert held.order is None, episode
        assert engine.operator.trading_state is TradingState.HALTED, episode
        commands.commands.put_nowait(Resume(id=uuid.uuid4().hex, command="resume"))
        hedged = await step(s)
        assert hedged is not None, episode
        assert hedged.position.size_base < 0, episode
    changes = await s.bot.store.read_events("trading_state")
    assert [c["cause"] for c in changes] == ["kill_switch_flatten", "resume"] * 2
