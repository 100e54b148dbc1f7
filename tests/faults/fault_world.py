"""A real world to break: anvil + Uniswap V2 pool + market driver, the Binance emulator over
HTTP with the real ccxt adapter, and the engine built by ``build_bot`` with the risk guard of
the config. Telemetry is recorded so tests assert on the alerts a user would see."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.app import Bot, build_bot
from bot.clock import ManualClock
from bot.config import Settings
from bot.domain import Order
from bot.engine import TickReport
from bot.events import Event, TickState
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.binance_usdm import EmulatorHandle, start_emulator
from bot.exchange.emulators.binance_usdm.wire import emulator_ccxt_settings
from bot.exchange.paper import venue_params
from bot.guards import RiskGuard
from bot.sim.anvil import Anvil
from bot.sim.localnet import LocalWorld, local_config, start_world
from bot.telemetry.wire import state_message

KEY, SECRET = "fault-key", "fault-secret"


@dataclass
class Recorder:
    """An ``EngineTelemetry`` that keeps everything published."""

    states: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish_state(self, state: TickState) -> None:
        self.states.append(state_message(state).model_dump(mode="json"))

    def publish_event(self, event: Event) -> None:
        self.events.append((event.kind, event.data()))

    def observe_tick(self, latency_s: float, *, ok: bool, skipped_blocks: int = 0) -> None:
        """Not recorded."""

    def alerts(self) -> list[str]:
        return [data["alert"] for kind, data in self.events if kind == "alert"]

    def errors(self) -> list[dict[str, Any]]:
        return [data for kind, data in self.events if kind == "error"]


@dataclass
class FaultWorld:
    world: LocalWorld
    settings: Settings
    clock: ManualClock
    emulator: EmulatorHandle
    bot: Bot
    telemetry: Recorder

    def venue_orders(self) -> list[Order]:
        """The venue's own order log (not our store)."""
        return self.emulator.venue.order_log()

    async def tick(self, block: int | None = None) -> TickReport | None:
        number = block if block is not None else await self.bot.chain.latest_block()
        return await self.bot.engine.tick(number)

    async def move(self, price: Decimal, *, mark: Decimal | None = None) -> int:
        """Swap the pool to ``price`` in a new block; the mark follows unless given."""
        step = await self.world.driver.move_to(price)
        self.clock.set(float(step.block_timestamp))
        self.emulator.set_mark(step.target_price if mark is None else mark)
        return step.block_number

    async def move_and_tick(self, price: Decimal) -> TickReport | None:
        return await self.bot.engine.tick(await self.move(price))


def fault_config(
    world: LocalWorld, workdir: Path, urls: dict[str, str], **overrides: Any
) -> Settings:
    data = local_config(world, workdir, "faults")
    data["chain"]["max_block_age_s"] = 3600
    data["exchange"] = {
        **data["exchange"],
        "kind": "ccxt",
        "urls": urls,
        "timeout_ms": 3000,
    }
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **values}
        else:
            data[section] = values
    env = {"HEDGEBOT_EXCHANGE__API_KEY": KEY, "HEDGEBOT_EXCHANGE__API_SECRET": SECRET}
    import os

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return Settings(**data)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def ccxt_adapter(
    settings: Settings, emulator: EmulatorHandle, clock: ManualClock
) -> CcxtPerpExchange:
    return CcxtPerpExchange(
        emulator_ccxt_settings(emulator.url, settings.exchange, KEY, SECRET, timeout_ms=3000),
        clock,
    )


@asynccontextmanager
async def fault_world(
    anvil: Anvil,
    workdir: Path,
    *,
    seed: int = 11,
    start: bool = True,
    read_timeout_s: float = 30.0,
    **overrides: Any,
) -> AsyncIterator[FaultWorld]:
    """A fresh pool, emulator and started bot; ``overrides`` replace config sections."""
    async with AsyncExitStack() as stack:
        world = await stack.enter_async_context(start_world(anvil.rpc_url, seed=seed))
        clock = ManualClock(float(world.start_timestamp))
        probe = fault_config(world, workdir, {}, **overrides)
        emulator = await start_emulator(
            "127.0.0.1", 0, KEY, SECRET, venue_params(probe.exchange), clock
        )
        stack.push_async_callback(emulator.close)
        settings = fault_config(world, workdir, emulator.ccxt_urls(), **overrides)
        telemetry = Recorder()
        bot = await build_bot(
            settings,
            clock=clock,
            exchange=ccxt_adapter(settings, emulator, clock),
            telemetry=telemetry,
        )
        stack.push_async_callback(bot.close)
        bot.engine.guard = RiskGuard.from_settings(settings, clock)
        bot.engine.read_timeout_s = read_timeout_s
        emulator.set_mark(world.target_price)
        if start:
            await bot.engine.start()
        yield FaultWorld(world, settings, clock, emulator, bot, telemetry)
