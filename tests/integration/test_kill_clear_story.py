"""One kill/clear story over every channel (issue 17.5), against a running engine stepped as
``Engine.run`` does (commands between ticks, then the tick): after a flatten nothing
re-hedges until ``resume`` — a kill-switch flatten cleared (CLI ``hedgebot kill``, or the
flag file removed) leaves the bot paused, an MQTT ``flatten`` stays until ``resume``; a
freeze cleared returns to the state before it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from mqtt_support import TEST_OPERATOR_KEY, signed
from mqtt_support import mqtt_broker as mqtt_broker  # a session fixture
from test_engine import Venue, local_world, move_and_tick, started_bot

from bot.app import Bot
from bot.cli import main
from bot.core.operator import OperatorState, TradingState
from bot.engine import TickReport
from bot.engine.loop import OPERATOR_META_KEY
from bot.sim.anvil import Anvil
from bot.sim.localnet import LocalWorld
from bot.sim.mosquitto import Broker
from bot.telemetry.commands import CommandValidator, Rejection, parse_command
from bot.telemetry.mqtt import MqttTelemetry
from bot.telemetry.settings import MqttSettings

pytestmark = pytest.mark.integration


class Running:
    """A started bot on a local pool, stepped like ``Engine.run``."""

    def __init__(self, world: LocalWorld, venue: Venue, bot: Bot) -> None:
        self.world, self.venue, self.bot = world, venue, bot

    async def step(self, fraction: str = "1") -> TickReport:
        """Commands (and the kill-switch latch) between ticks, then a tick at a new price."""
        await self.bot.engine.apply_commands()
        price = self.world.target_price * Decimal(fraction)
        return await move_and_tick(self.world, self.venue, self.bot, price)

    async def resume(self) -> None:
        """The operator's ``resume`` through the engine's command path."""
        command = parse_command(json.dumps({"id": uuid.uuid4().hex, "command": "resume"}))
        assert not isinstance(command, Rejection), command
        await self.bot.engine.apply_command(command)

    async def stored_trading_state(self) -> TradingState:
        record = await self.bot.store.get_meta(OPERATOR_META_KEY)
        return OperatorState.from_record(record).trading_state

    async def last_cause(self) -> str:
        changes = await self.bot.store.read_events("trading_state")
        return str(changes[-1]["cause"])

    def flag(self) -> Path:
        return self.bot.engine.guard.kill_switch.path


@pytest.fixture
async def running(anvil_node: Anvil, tmp_path: Path) -> AsyncIterator[Running]:
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        bot = await started_bot(world, venue)
        try:
            yield Running(world, venue, bot)
        finally:
            await bot.close()


def _config_file(running: Running, tmp_path: Path) -> Path:
    """A config for ``hedgebot kill`` naming the running bot's store (the flag beside it)."""
    settings = running.venue.settings
    body = {
        "bot_id": settings.bot_id,
        "chain": {"rpc_urls": list(settings.chain.rpc_urls)},
        "positions": [p.model_dump(mode="json") for p in settings.positions],
        "hedge_asset": settings.hedge_asset.model_dump(mode="json"),
        "store": {"path": str(settings.store.path)},
    }
    path = tmp_path / "kill.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


async def _hedged(running: Running) -> TickReport:
    opened = await running.step()
    assert opened.position.size_base < 0
    return opened


async def _flattened_then_paused(running: Running) -> None:
    """A flatten in force closes the hedge reduce-only; once it is gone the bot holds flat
    and paused (stored), whatever the price does, until resume re-hedges."""
    flat = await running.step("0.97")
    assert flat.order is not None
    assert flat.order.reduce_only
    assert flat.position.size_base == 0


async def _stays_paused_until_resume(running: Running) -> None:
    for fraction in ("0.95", "1.03"):
        held = await running.step(fraction)
        assert held.order is None
        assert held.position.size_base == 0
    assert running.bot.engine.paused
    assert await running.stored_trading_state() is not TradingState.ACTIVE
    await running.resume()
    rehedged = await running.step()
    assert rehedged.position.size_base < 0
    assert await running.stored_trading_state() is TradingState.ACTIVE


async def test_cli_kill_flatten_clear_leaves_the_bot_paused_until_resume(
    running: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``hedgebot kill flatten`` closes the hedge; ``kill clear`` does not re-sell it: the
    bot is halted (cause kill_switch_flatten) and says how to resume."""
    await _hedged(running)
    config = str(_config_file(running, tmp_path))
    assert main(["kill", "--config", config, "flatten", "--reason", "drill"]) == 0
    await _flattened_then_paused(running)
    assert main(["kill", "--config", config, "clear"]) == 0
    said = capsys.readouterr().out
    assert "kill switch cleared" in said
    assert f"stays paused until resumed: hedgebot cmd {running.venue.settings.bot_id} resume" in (
        said
    )
    assert not running.flag().exists()
    await running.bot.engine.apply_commands()
    assert await running.last_cause() == "kill_switch_flatten"
    await _stays_paused_until_resume(running)


async def test_flag_file_flatten_removed_leaves_the_bot_paused_until_resume(
    running: Running,
) -> None:
    """``echo flatten > FLAG`` then ``rm FLAG``: the same as the CLI."""
    await _hedged(running)
    running.flag().write_text("flatten\n")
    await _flattened_then_paused(running)
    running.flag().unlink()
    assert await running.stored_trading_state() is TradingState.HALTED
    await _stays_paused_until_resume(running)


async def test_flatten_cleared_between_two_ticks_still_counts(running: Running) -> None:
    """A flatten engaged and cleared before the loop looked again was seen by the tick (its
    rule is still tripped): the bot stays paused, it does not re-hedge."""
    await _hedged(running)
    running.flag().write_text("flatten\n")
    price = running.world.target_price * Decimal("0.97")
    flat = await move_and_tick(running.world, running.venue, running.bot, price)  # no latch yet
    assert flat.position.size_base == 0
    running.flag().unlink()
    await _stays_paused_until_resume(running)


async def test_freeze_cleared_returns_to_the_state_before(running: Running) -> None:
    """A freeze blocks orders while engaged; cleared, an active bot hedges again and a
    paused one stays paused."""
    await _hedged(running)
    running.flag().write_text("freeze\n")
    frozen = await running.step("0.9")
    assert frozen.order is None
    assert "kill_switch_freeze" in frozen.decision.reason
    running.flag().unlink()
    thawed = await running.step("0.9")
    assert thawed.order is not None  # back to active: the drift is traded
    assert await running.stored_trading_state() is TradingState.ACTIVE
    await running.bot.engine.set_paused(True)
    running.flag().write_text("freeze\n")
    await running.step("1.05")
    running.flag().unlink()
    held = await running.step("1.05")
    assert held.order is None
    assert await running.stored_trading_state() is TradingState.HALTED  # paused, as before


async def test_mqtt_flatten_stays_until_resume(running: Running, mqtt_broker: Broker) -> None:
    """A signed MQTT ``flatten`` closes the hedge and holds it flat until a signed
    ``resume``; then the bot hedges again (the same story as the kill switch)."""
    await _hedged(running)
    settings = MqttSettings.model_validate(
        {
            "url": mqtt_broker.url,
            "topic_prefix": f"hedgebot-test/{uuid.uuid4().hex[:10]}/{{bot_id}}",
        }
    )
    validator = CommandValidator(operator_key=TEST_OPERATOR_KEY)
    async with MqttTelemetry(settings, "it", validator=validator) as telemetry:
        assert await telemetry.wait_connected(5)
        running.bot.engine.commands = telemetry
        import aiomqtt

        async def send(command: str, **params: object) -> None:
            body = {"id": uuid.uuid4().hex, "command": command, "params": params}
            async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port, timeout=5) as client:
                await client.publish(telemetry.topics.cmd, signed(telemetry.topics.cmd, body), 1)
            received = await asyncio.wait_for(telemetry.commands.get(), 5)
            telemetry.commands.put_nowait(received)  # as run() finds it between ticks

        await send("flatten", confirm=True)
        await _flattened_then_paused(running)
        for fraction in ("0.95", "1.03"):
            held = await running.step(fraction)
            assert held.position.size_base == 0
        assert running.bot.engine.flattening
        await send("resume")
        rehedged = await running.step()
        running.bot.engine.commands = None
    assert rehedged.position.size_base < 0
    assert await running.stored_trading_state() is TradingState.ACTIVE
