"""The read step reads the chain and the venue at once (issue 16: a block's latency is the
slower read, not their sum), on the real stack: a real anvil pool and the real ccxt
``binanceusdm`` client against the Binance emulator.

The chain reader is wrapped so that its read waits until the venue has been sent a request of
the same tick (up to 5 s, then it reads anyway): with the reads one after the other, the venue
is asked nothing while the chain read waits, and the test fails; at once, the venue's requests
go out while it waits. No time is asserted: only what was sent while the chain read waited.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from cadence_support import cadence_rig

from bot.domain import ChainSnapshot
from bot.errors import AuthenticationError
from bot.sim.anvil import Anvil

pytestmark = pytest.mark.integration

WAIT_STEPS = 500  # x 10 ms: the most the wrapped chain read waits for the venue


async def test_the_venue_is_asked_while_the_chain_read_is_in_flight(
    anvil_node: Anvil, tmp_path: object
) -> None:
    async with cadence_rig(anvil_node, tmp_path) as rig:  # type: ignore[arg-type]
        engine = rig.bot.engine
        real = engine.chain.snapshot
        sent_while_waiting: list[int] = []

        async def snapshot(block: int) -> ChainSnapshot:
            start = rig.rest.total
            for _ in range(WAIT_STEPS):
                if rig.rest.total > start:
                    break
                await asyncio.sleep(0.01)
            sent_while_waiting.append(rig.rest.total - start)
            return await real(block)

        engine.chain.snapshot = snapshot  # type: ignore[method-assign]
        first = await rig.tick()
        quiet = await rig.tick(await rig.quiet_block(2))
    assert "order" in first  # the tick still completes and trades on both reads
    assert quiet
    assert len(sent_while_waiting) == 2
    assert all(sent >= 1 for sent in sent_while_waiting)


async def test_a_refused_key_ends_the_tick_and_leaves_no_chain_read_running(
    anvil_node: Anvil, tmp_path: object
) -> None:
    """The venue refuses the key while the chain read waits: the refusal halts trading (as
    before) and the chain read of that tick is cancelled, not left running."""
    async with cadence_rig(anvil_node, tmp_path) as rig:  # type: ignore[arg-type]
        await rig.tick()
        engine = rig.bot.engine
        real = engine.chain.snapshot
        reads: list[asyncio.Task[object] | None] = []
        started, cancelled = asyncio.Event(), asyncio.Event()

        async def snapshot(block: int) -> ChainSnapshot:
            reads.append(asyncio.current_task())  # type: ignore[arg-type]
            started.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return await real(block)

        async def refused() -> object:
            await started.wait()  # refused while the chain read is in flight
            raise AuthenticationError("venue refused the key (test)")

        engine.chain.snapshot = snapshot  # type: ignore[method-assign]
        engine.exchange.mark_quote = refused  # type: ignore[method-assign]
        report = await engine.tick(await rig.quiet_block(2))
        tasks = reads
    assert report is None
    assert cancelled.is_set()
    assert len(tasks) == 1
    assert tasks[0] is not None
    assert tasks[0].done()


async def test_a_paper_venue_that_follows_the_pool_sees_this_blocks_price(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """The paper venue's mark is the pool price plus its basis: its read must follow this
    block's chain read. The pool moved 15 % before the bot's first tick; the tick trades on
    the new price (no price-deviation skip against the paper venue's old mark)."""

    from bot.app import build_bot
    from bot.clock import ManualClock
    from bot.sim.localnet import local_settings, start_world

    async with start_world(anvil_node.rpc_url, seed=5) as world:
        clock = ManualClock(float(world.start_timestamp))
        settings = local_settings(world, tmp_path, bot_id="paper-follows")
        assert settings.exchange.kind == "paper"
        bot = await build_bot(settings, clock=clock)  # the paper venue, wired to the pool
        try:
            await bot.engine.start()
            step = await world.driver.move_to(world.target_price * Decimal("0.85"))
            clock.set(float(step.block_timestamp))
            report = await bot.engine.tick(step.block_number)
        finally:
            await bot.close()
    assert report is not None
    assert report.decision.reason != "risk:price_deviation"
    assert report.order is not None
    assert abs(report.quote.mark_price - report.snapshot.price) <= Decimal("0.01")  # the tick
