"""Protection keeps running when the chain cannot be read (real anvil, real Uniswap V2, the real
ccxt ``binanceusdm`` client against the emulator over HTTP, a real Mosquitto for commands).

With a hedge open, the chain side of the tick fails, either because a configured position
cannot be valued (an existing but empty V2 pair) or because the only RPC endpoint is down. The
kill switch, an operator flatten and margin critical still close or shrink the hedge
reduce-only; nothing else ever trades, and the hedge never grows.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
from mqtt_support import TEST_OPERATOR_KEY, signed
from mqtt_support import mqtt_broker as mqtt_broker  # a session fixture
from structlog.testing import capture_logs
from test_engine import Venue, local_world, started_bot
from unreadable_support import deploy_empty_v2_pair

from bot.app import Bot
from bot.chain.reader import LpChainReader, connect_web3
from bot.config import V2PositionConfig
from bot.core.operator import OperatorState
from bot.domain import Order, Side
from bot.engine.loop import OPERATOR_META_KEY
from bot.exchange.client_ids import client_order_id
from bot.killswitch import FileKillSwitch
from bot.sim.anvil import Anvil
from bot.sim.localnet import LocalWorld
from bot.sim.mosquitto import Broker
from bot.telemetry.commands import CommandValidator
from bot.telemetry.mqtt import MqttSettings, MqttTelemetry

pytestmark = pytest.mark.integration

Cause = Literal["empty_pair", "rpc_down"]
CAUSES: list[Cause] = ["empty_pair", "rpc_down"]


def dead_url() -> str:
    """A local port with nothing listening (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class Unreadable:
    """A bot whose chain reads fail, with the hedge the healthy bot opened before."""

    world: LocalWorld
    venue: Venue
    bot: Bot
    hedge_base: Decimal
    block: int
    healthy_rpc: str

    def orders(self) -> list[Order]:
        """The venue's own order log."""
        return self.venue.orders(self.bot)

    async def position_base(self) -> Decimal:
        return (await self.bot.exchange.position()).size_base

    async def tick_fails(self) -> None:
        """One tick; it fails for the chain whatever protection did."""
        errors = self.bot.engine.stats.errors
        assert await self.bot.engine.tick(self.block) is None
        assert self.bot.engine.stats.errors > errors
        assert self.bot.engine.stats.last_error is not None
        assert self.bot.engine.stats.last_error.split(":")[0] in ("PositionReadError", "ChainError")

    async def read_chain_again(self) -> None:
        """Point the bot at the healthy node and the readable config."""
        await self.bot.engine.chain.close()  # type: ignore[attr-defined]
        w3 = connect_web3([self.healthy_rpc], 2.0)
        self.bot.engine.chain = LpChainReader(w3, self.venue.settings)


def with_critical_action(venue: Venue, action: str) -> Venue:
    risk = venue.settings.risk.model_copy(update={"critical_action": action})
    return replace(venue, settings=venue.settings.model_copy(update={"risk": risk}))


@asynccontextmanager
async def hedged_then_unreadable(
    anvil_node: Anvil, tmp_path: Path, cause: Cause, critical_action: str = "alert"
) -> AsyncIterator[Unreadable]:
    """A healthy bot opens the hedge and stops; the bot restarted on the same store and venue
    then cannot read the chain (``cause``)."""
    async with local_world(anvil_node, tmp_path, "emulator", True) as (world, venue):
        venue = with_critical_action(venue, critical_action)
        healthy = await started_bot(world, venue)
        try:
            opening = await healthy.engine.tick(await healthy.chain.latest_block())
        finally:
            await healthy.close()
        assert opening is not None
        assert opening.order is not None
        assert opening.position.size_base < 0
        sick = venue
        if cause == "empty_pair":
            d: Any = world.deployment
            empty = await deploy_empty_v2_pair(
                world.rpc_url, d.base_token, d.quote_token, d.deployer_account
            )
            extra = V2PositionConfig(id="empty", pool=empty, owner=d.lp_account)
            positions = [*venue.settings.positions, extra]
            sick = replace(
                venue, settings=venue.settings.model_copy(update={"positions": positions})
            )
        bot = await started_bot(world, sick)
        block = await bot.chain.latest_block()
        if cause == "rpc_down":
            await bot.engine.chain.close()  # type: ignore[attr-defined]
            bot.engine.chain = LpChainReader(connect_web3([dead_url()], 0.5), venue.settings)
        try:
            yield Unreadable(world, venue, bot, opening.position.size_base, block, world.rpc_url)
        finally:
            if bot.engine.chain is not bot.chain:
                await bot.engine.chain.close()  # type: ignore[attr-defined]
            await bot.close()


def assert_closed_reduce_only(u: Unreadable, order: Order, seq_before: int) -> None:
    """The order that closed the hedge: a reduce-only buy of the whole short, sent under the
    deterministic id of this tick, with its intent written first."""
    assert order.reduce_only
    assert order.side is Side.BUY
    assert order.filled_base == -u.hedge_base
    assert order.client_order_id == client_order_id(u.bot.engine.bot_id, u.block, seq_before + 1)


@pytest.mark.parametrize("cause", CAUSES)
async def test_kill_switch_flatten_closes_the_hedge_while_the_chain_is_unreadable(
    anvil_node: Anvil, tmp_path: Path, cause: Cause
) -> None:
    """Unreadable: no order; freeze: no order; flatten: the short is bought back reduce-only
    at once, the tick still fails for the chain, and the next tick sends nothing more."""
    async with hedged_then_unreadable(anvil_node, tmp_path, cause) as u:
        await u.tick_fails()
        untouched = list(u.orders())
        switch = FileKillSwitch(u.bot.engine.guard.kill_switch.path, u.venue.clock)
        switch.engage("freeze", "operator freeze", "cli")
        await u.tick_fails()
        frozen = list(u.orders())
        frozen_base = await u.position_base()
        switch.engage("flatten", "operator flatten", "file")
        seq = u.bot.engine.ledger.seq
        await u.tick_fails()
        flattened = list(u.orders())
        flat_base = await u.position_base()
        intents = await u.bot.store.intent_blocks()
        unresolved = await u.bot.store.unresolved_intents()
        await u.tick_fails()
        after = list(u.orders())
        alerts = list(u.bot.engine.stats.alerts)
    assert len(untouched) == 1  # the opening hedge only
    assert frozen == untouched
    assert frozen_base == u.hedge_base
    assert len(flattened) == 2
    assert_closed_reduce_only(u, flattened[-1], seq)
    assert intents[flattened[-1].client_order_id] == u.block  # write-ahead intent of this tick
    assert unresolved == []
    assert flat_base == 0
    assert after == flattened
    assert "risk.kill_switch_freeze" in alerts
    assert "risk.kill_switch_flatten" in alerts


async def test_operator_flatten_over_mqtt_while_the_rpc_is_down_flattens_and_stays_paused(
    anvil_node: Anvil, tmp_path: Path, mqtt_broker: Broker
) -> None:
    """A signed ``flatten`` command arriving over MQTT while no RPC answers closes the hedge
    reduce-only on the next tick; when the chain reads again the bot stays paused and flat."""
    async with hedged_then_unreadable(anvil_node, tmp_path, "rpc_down") as u:
        settings = MqttSettings.model_validate(
            {
                "url": mqtt_broker.url,
                "topic_prefix": f"hedgebot-test/{uuid.uuid4().hex[:10]}/{{bot_id}}",
            }
        )
        validator = CommandValidator(operator_key=TEST_OPERATOR_KEY)
        async with MqttTelemetry(settings, "it", validator=validator) as telemetry:
            assert await telemetry.wait_connected(5)
            u.bot.engine.commands = telemetry
            cmd = telemetry.topics.cmd
            body = {"id": "flat-1", "command": "flatten", "params": {"confirm": True}}
            async with telemetry_client(mqtt_broker) as client:
                await client.publish(cmd, signed(cmd, body), qos=1)
            received = await asyncio.wait_for(telemetry.commands.get(), 5)
            telemetry.commands.put_nowait(received)  # as run() finds it between ticks
            assert await u.bot.engine.apply_commands() == 1
            seq = u.bot.engine.ledger.seq
            await u.tick_fails()
            u.bot.engine.commands = None
        flattened = list(u.orders())
        flat_base = await u.position_base()
        await u.read_chain_again()
        recovered = await u.bot.engine.tick(await u.bot.engine.chain.latest_block())
        record = await u.bot.store.get_meta(OPERATOR_META_KEY)  # the one operator record
        paused_meta = "1" if OperatorState.from_record(record).paused else "0"
    assert len(flattened) == 2
    assert_closed_reduce_only(u, flattened[-1], seq)
    assert flat_base == 0
    assert recovered is not None  # the chain reads again
    assert recovered.order is None
    assert recovered.position.size_base == 0  # not re-hedged: still paused
    assert u.bot.engine.paused is True
    assert u.bot.engine.flattening is True
    assert paused_meta == "1"
    assert len(u.orders()) == 2


@asynccontextmanager
async def telemetry_client(broker: Broker) -> AsyncIterator[Any]:
    import aiomqtt

    async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
        yield client


@pytest.mark.parametrize("cause", CAUSES)
async def test_margin_critical_flatten_closes_the_hedge_while_the_chain_is_unreadable(
    anvil_node: Anvil, tmp_path: Path, cause: Cause
) -> None:
    """The mark gaps 25% up at leverage 3 while the chain cannot be read: the margin goes
    critical and the configured flatten buys the short back reduce-only, before liquidation."""
    async with hedged_then_unreadable(anvil_node, tmp_path, cause, "flatten") as u:
        u.venue.mark_setter(u.bot)(u.world.target_price * Decimal("1.25"))
        seq = u.bot.engine.ledger.seq
        await u.tick_fails()
        flattened = list(u.orders())
        flat_base = await u.position_base()
        alerts = list(u.bot.engine.stats.alerts)
        liquidations = u.venue.emulator.venue.liquidations  # type: ignore[union-attr]
    assert "risk.margin_critical" in alerts
    assert len(flattened) == 2
    assert_closed_reduce_only(u, flattened[-1], seq)
    assert flat_base == 0
    assert liquidations == 0


async def test_margin_critical_reduce_only_shrinks_the_hedge_while_unreadable(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """With ``reduce``, the same gap shrinks the short to the margin safe size of the current
    hedge: reduce-only, smaller, same sign (never crosses zero), and never grows afterwards."""
    async with hedged_then_unreadable(anvil_node, tmp_path, "empty_pair", "reduce") as u:
        u.venue.mark_setter(u.bot)(u.world.target_price * Decimal("1.25"))
        await u.tick_fails()
        reduced = list(u.orders())
        reduced_base = await u.position_base()
        for _ in range(3):
            await u.tick_fails()
        later_base = await u.position_base()
    assert len(reduced) >= 2
    assert all(o.reduce_only and o.side is Side.BUY for o in reduced[1:])
    assert u.hedge_base < reduced_base < 0
    assert u.hedge_base < later_base < 0
    assert later_base >= reduced_base  # only ever shrinks


@pytest.mark.parametrize("cause", CAUSES)
async def test_nothing_protective_asked_no_order_and_the_hedge_never_grows(
    anvil_node: Anvil, tmp_path: Path, cause: Cause
) -> None:
    """The pool and the mark move 10% (a healthy bot would rebalance) and a rebalance is
    forced: while the chain cannot be read the venue's order log stays at the opening hedge
    and the hedge stays exactly as it was, tick after tick."""
    async with hedged_then_unreadable(anvil_node, tmp_path, cause) as u:
        step = await u.world.driver.move_to(u.world.target_price * Decimal("0.9"))
        u.venue.clock.set(float(step.block_timestamp))
        u.venue.mark_setter(u.bot)(step.target_price)
        u.block = step.block_number
        positions = []
        for _ in range(3):
            u.bot.engine.request_rebalance()
            await u.tick_fails()
            positions.append(await u.position_base())
        orders = list(u.orders())
    assert len(orders) == 1  # the opening hedge of the healthy bot, nothing since
    assert positions == [u.hedge_base] * 3


async def test_unreadable_position_alerts_once_and_once_more_when_it_reads_again(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """position.unreadable is alerted when the episode starts (and recorded), not each tick;
    each failed tick is still logged (tick.failed); position.readable once when it reads."""
    async with hedged_then_unreadable(anvil_node, tmp_path, "empty_pair") as u:
        start_alerts = u.bot.engine.stats.alerts.count("position.unreadable")
        with capture_logs() as logs:
            for _ in range(3):
                await u.tick_fails()
            await u.read_chain_again()
            for _ in range(2):
                assert await u.bot.engine.tick(await u.bot.engine.chain.latest_block())
        alerts = list(u.bot.engine.stats.alerts)
        recorded = [e["alert"] for e in await u.bot.store.read_events("alert")]
    assert start_alerts == 1  # the start-up check
    assert alerts.count("position.unreadable") == start_alerts + 1
    assert alerts.count("position.readable") == 1
    assert recorded.count("position.unreadable") == 2
    assert recorded.count("position.readable") == 1
    failed = [e for e in logs if e["event"] == "tick.failed"]
    assert len(failed) == 3
    assert all("position empty" in e["error"] for e in failed)
    readable = next(e for e in logs if e["event"] == "position.readable")
    assert "position empty" in readable["cause"]


async def test_kill_switch_flatten_runs_while_no_block_can_be_polled(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Every RPC endpoint down, so the head poller yields no block at all: ``run()`` still
    applies the kill switch, closing the hedge reduce-only; before it was engaged, nothing."""
    from bot.chain.heads import poll_heads

    async with hedged_then_unreadable(anvil_node, tmp_path, "rpc_down") as u:
        engine = u.bot.engine
        stop = asyncio.Event()
        dead = connect_web3([dead_url()], 0.3)
        blocks = poll_heads(dead, 0.05, stop, request_timeout_s=0.3)
        runner = asyncio.create_task(engine.run(blocks, stop))
        try:
            for _ in range(200):  # polls fail (~1 s apart): wait for two failed polls
                if engine.stats.errors >= 2:
                    break
                await asyncio.sleep(0.05)
            untouched = list(u.orders())
            switch = FileKillSwitch(engine.guard.kill_switch.path, u.venue.clock)
            switch.engage("flatten", "operator flatten", "file")
            for _ in range(200):
                if len(u.orders()) > len(untouched):
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(runner, timeout=10)
            await dead.provider.disconnect()
        flattened = list(u.orders())
        flat_base = await u.position_base()
    assert engine.stats.ticks == 0  # no block was ever ticked
    assert len(untouched) == 1  # the opening hedge only, while no protection was asked for
    assert len(flattened) == 2
    assert flattened[-1].reduce_only
    assert flattened[-1].side is Side.BUY
    assert flattened[-1].filled_base == -u.hedge_base
    assert flat_base == 0
