"""A position that cannot be valued fails its tick, never the daemon (real anvil, real Uniswap).

An existing but empty V2 pair, an uninitialised V3 pool and an address with no contract each
make the tick a ``position.unreadable`` alert with nothing traded, while the loop, commands
and the kill switch go on; a hedge-asset token that is not the pool's pair is refused at start
naming the field; and any data error from one tick (``ValueError``, ``ArithmeticError``, ...)
fails that tick only.
"""

from __future__ import annotations

import asyncio
import decimal
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from test_engine import Venue, local_world, started_bot
from unreadable_support import create_uninitialised_v3_pool, deploy_empty_v2_pair

from bot.app import Bot, build_bot
from bot.chain.preflight import preflight
from bot.config import V2PositionConfig, V3PositionConfig
from bot.errors import ConfigError, StoreError
from bot.sim.anvil import Anvil
from bot.telemetry.commands import Pause

pytestmark = pytest.mark.integration

NOBODY = "0x000000000000000000000000000000000000dEaD"  # holds nothing anywhere


def with_positions(venue: Venue, *extra: V2PositionConfig | V3PositionConfig) -> Venue:
    """The venue's settings with ``extra`` positions appended to the world's own."""
    settings = venue.settings.model_copy(update={"positions": [*venue.settings.positions, *extra]})
    return replace(venue, settings=settings)


def with_hedge_asset(venue: Venue, **fields: str) -> Venue:
    asset = venue.settings.hedge_asset.model_copy(update=fields)
    return replace(venue, settings=venue.settings.model_copy(update={"hedge_asset": asset}))


async def blocks_of(numbers: Iterable[int]) -> AsyncIterator[int]:
    for number in numbers:
        yield number


async def tick_fails_unreadable(bot: Bot, venue: Venue, *, new_cause: bool = True) -> str:
    """Tick the newest block; assert it failed as position.unreadable with nothing traded,
    alerted when the cause is new (once per cause, not each tick)."""
    orders_before = len(venue.orders(bot))
    alerts_before = bot.engine.stats.alerts.count("position.unreadable")
    report = await bot.engine.tick(await bot.chain.latest_block())
    assert report is None
    assert bot.engine.stats.alerts.count("position.unreadable") == alerts_before + (
        1 if new_cause else 0
    )
    assert len(venue.orders(bot)) == orders_before
    assert bot.engine.stats.last_error is not None
    assert bot.engine.stats.last_error.startswith("PositionReadError: ")
    return bot.engine.stats.last_error


async def test_empty_v2_pair_is_unreadable_and_the_loop_and_commands_go_on(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """An existing pair with zero reserves next to the real position: each tick is a
    position.unreadable alert naming it, no order; run() keeps ticking, a command still
    applies, and once the pair is dropped the bot hedges again."""
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        d: Any = world.deployment
        empty = await deploy_empty_v2_pair(
            world.rpc_url, d.base_token, d.quote_token, d.deployer_account
        )
        config = V2PositionConfig(id="empty", pool=empty, owner=d.lp_account)
        sick = with_positions(venue, config)
        bot = await started_bot(world, sick)
        try:
            start_alerts = list(bot.engine.stats.alerts)
            error = await tick_fails_unreadable(bot, sick)
            first = await bot.chain.latest_block()
            step = await world.driver.move_to(world.target_price * Decimal("1.05"))
            stop = asyncio.Event()
            await bot.engine.run(blocks_of([first, step.block_number]), stop)  # ends normally
            errors_after_run = bot.engine.stats.errors
            await bot.engine.apply_command(Pause(id="p1", command="pause"))
            paused = bot.engine.paused
            recorded = [e["alert"] for e in await bot.store.read_events("alert")]
        finally:
            await bot.close()
        healthy = await started_bot(world, venue)
        try:
            await healthy.engine.set_paused(False)
            report = await healthy.engine.tick(await healthy.chain.latest_block())
        finally:
            await healthy.close()
    assert f"position empty (pool {empty})" in error
    assert "cannot be valued" in error
    assert "empty reserve" in error
    assert start_alerts.count("position.unreadable") == 1  # the start-up check saw it
    assert start_alerts.count("position.empty") == 1  # and that it holds nothing
    assert errors_after_run == 3  # the direct tick and both blocks of run()
    assert "position.unreadable" in recorded  # kept for operators
    assert paused is True
    assert venue.orders(bot) == []
    assert report is not None
    assert report.order is not None  # trading resumes with the readable config


async def test_uninitialised_v3_pool_is_unreadable(anvil_node: Anvil, tmp_path: Path) -> None:
    """A V3 pool created but never initialised (sqrtPriceX96 = 0) next to the real NFT:
    position.unreadable naming it, no order, and a healthy start-up alert for it."""
    async with local_world(anvil_node, tmp_path, "paper", True, "v3") as (world, venue):
        d: Any = world.deployment
        pool = await create_uninitialised_v3_pool(
            world.rpc_url, d.factory, d.base_token, d.quote_token, d.deployer_account
        )
        config = V3PositionConfig(
            id="uninit", kind="v3", pool=pool, owner=d.lp_account, tick_lower=-600, tick_upper=600
        )
        sick = with_positions(venue, config)
        bot = await started_bot(world, sick)
        try:
            start_alerts = list(bot.engine.stats.alerts)
            error = await tick_fails_unreadable(bot, sick)
            again = await tick_fails_unreadable(bot, sick, new_cause=False)
        finally:
            await bot.close()
    assert "cannot be valued" in error
    assert "uninit" in error
    assert "sqrt price" in error
    assert "sqrt price" in again  # every tick, the same cause (alerted once)
    assert "position.unreadable" in start_alerts  # "not initialised" at start
    assert venue.orders(bot) == []


@pytest.mark.parametrize("kind", ["v2", "v3"])
async def test_address_without_a_contract_is_unreadable(
    anvil_node: Anvil, tmp_path: Path, kind: str
) -> None:
    """A configured pool that is an account without code: position.unreadable saying so,
    not a plain chain error (the node is fine) and never an uncaught exception."""
    async with local_world(anvil_node, tmp_path, "paper", True, kind) as (world, venue):  # type: ignore[arg-type]
        d: Any = world.deployment
        config: V2PositionConfig | V3PositionConfig = (
            V2PositionConfig(id="ghost", pool=NOBODY, owner=d.lp_account)
            if kind == "v2"
            else V3PositionConfig(
                id="ghost", kind="v3", pool=NOBODY, owner=d.lp_account, tick_lower=-60,
                tick_upper=60,
            )
        )  # fmt: skip
        sick = with_positions(venue, config)
        bot = await started_bot(world, sick)
        try:
            error = await tick_fails_unreadable(bot, sick)
        finally:
            await bot.close()
    assert f"no contract at {NOBODY}" in error
    assert "ghost" in error


async def test_hedge_asset_not_of_the_pool_is_refused_at_start_naming_the_field(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """A base token that is not one of the pool's pair stops the start with a ConfigError
    naming hedge_asset.base_token, the pool and the position; nothing reaches the venue."""
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        d: Any = world.deployment
        wrong = with_hedge_asset(venue, base_token=d.weth)
        bot = await build_bot(wrong.settings, clock=wrong.clock, exchange=wrong.adapter())
        try:
            with pytest.raises(ConfigError) as refused:
                await bot.engine.start()
        finally:
            await bot.close()
    message = str(refused.value)
    assert message.startswith(f"hedge_asset.base_token: {d.weth} is not a token of pool {d.pair}")
    assert "(positions.0)" in message
    assert "quote_token" not in message  # the quote token is right


async def test_swapped_base_and_quote_are_refused_at_start(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """base_token/quote_token exchanged (both still the pool's pair) is refused at start:
    the on-chain symbols (USDT, ETH) are the venue's ETH/USDT the wrong way round; before,
    the first tick priced ETH at 0.0005 USDT."""
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        d: Any = world.deployment
        swapped = with_hedge_asset(venue, base_token=d.quote_token, quote_token=d.base_token)
        findings = await preflight(swapped.settings)
        bot = await build_bot(swapped.settings, clock=swapped.clock, exchange=swapped.adapter())
        try:
            with pytest.raises(ConfigError) as refused:
                await bot.engine.start()
        finally:
            await bot.close()
    assert [(f.severity, f.field, f.kind) for f in findings] == [
        ("error", "hedge_asset.base_token", "swapped")
    ]
    assert str(refused.value) == (
        f"hedge_asset.base_token: {d.quote_token} is USDT, the quote asset of ETH/USDT:USDT, "
        "and hedge_asset.quote_token is ETH: base and quote are swapped"
    )


async def test_preflight_reports_empty_positions_and_wrong_tokens(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """preflight: nothing for the world's own config; a warning for an owner holding nothing;
    errors for a pool without code and for tokens not of the pool, each naming its field."""
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        d: Any = world.deployment
        clean = await preflight(venue.settings)
        placeholder = V2PositionConfig(id="placeholder", pool=d.pair, owner=NOBODY)
        ghost = V2PositionConfig(id="ghost", pool=NOBODY, owner=d.lp_account)
        mixed = with_positions(venue, placeholder, ghost).settings
        findings = await preflight(mixed)
        swapped = await preflight(with_hedge_asset(venue, quote_token=d.weth).settings)
    assert clean == []
    assert [(f.severity, f.field, f.kind) for f in findings] == [
        ("warning", "positions.1.owner", "empty"),
        ("error", "positions.2.pool", "no_contract"),
    ]
    assert findings[0].message.startswith(f"{NOBODY} holds no LP tokens of pool {d.pair}")
    assert findings[1].message.startswith(f"no contract at {NOBODY}")
    assert [(f.severity, f.field, f.kind) for f in swapped] == [
        ("error", "hedge_asset.quote_token", "not_pair")
    ]
    assert str(swapped[0]).startswith(
        f"hedge_asset.quote_token: {d.weth} is not a token of pool {d.pair} (positions.0)"
    )


async def test_preflight_v3_owner_without_nfts_is_a_warning(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """A discovered V3 owner holding no NFT, and an uninitialised pool, named by field."""
    async with local_world(anvil_node, tmp_path, "paper", True, "v3") as (world, venue):
        d: Any = world.deployment
        pool = await create_uninitialised_v3_pool(
            world.rpc_url, d.factory, d.base_token, d.quote_token, d.deployer_account
        )
        nobody = V3PositionConfig(
            id="nobody", kind="v3", position_manager=d.position_manager, owner=NOBODY,
            discover=True,
        )  # fmt: skip
        uninit = V3PositionConfig(
            id="uninit", kind="v3", pool=pool, owner=d.lp_account, tick_lower=-600, tick_upper=600
        )
        assert await preflight(venue.settings) == []
        findings = await preflight(with_positions(venue, nobody, uninit).settings)
    assert [(f.severity, f.field, f.kind) for f in findings] == [
        ("warning", "positions.1.owner", "empty"),
        ("error", "positions.2.pool", "unreadable"),
        ("warning", "positions.2.owner", "empty"),
    ]
    assert "owns no position NFTs" in findings[0].message
    assert "not initialised (sqrtPriceX96 = 0)" in findings[1].message


def _fails_with(exc: Exception) -> Any:
    def observe(_price: Decimal) -> None:
        raise exc

    return observe


@pytest.mark.parametrize(
    "fault",
    [
        ValueError("price must be positive"),
        decimal.InvalidOperation("[<class 'decimal.InvalidOperation'>]"),
        ZeroDivisionError("division by zero"),
        KeyError("result"),
        TypeError("unsupported operand"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_data_error_in_a_tick_fails_that_tick_only(
    anvil_node: Anvil, tmp_path: Path, fault: Exception
) -> None:
    """Whatever one tick's data raises (here from a price observer, run on each snapshot)
    is tick.failed logged once, an alert and an error event; run() goes on to the next
    block, which trades once the fault is gone."""
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        bot = await started_bot(world, venue)
        try:
            bot.engine.price_observers.append(_fails_with(fault))
            block = await bot.chain.latest_block()
            with capture_logs() as logs:
                await bot.engine.run(blocks_of([block, block]), asyncio.Event())
            bot.engine.price_observers.pop()
            recovered = await bot.engine.tick(block)
        finally:
            await bot.close()
    failed = [e for e in logs if e["event"] == "tick.failed"]
    assert len(failed) == 2  # once per failed tick, not once more for the alert
    assert failed[0]["source"] == "engine"
    assert failed[0]["error"] == f"{type(fault).__name__}: {fault}"
    assert bot.engine.stats.alerts.count("tick.failed") == 2
    assert bot.engine.stats.errors == 2
    assert recovered is not None
    assert recovered.order is not None


async def test_store_error_in_a_tick_still_ends_the_loop(anvil_node: Anvil, tmp_path: Path) -> None:
    """StoreError is not swallowed by the tick backstop: the bot never trades unrecorded."""
    async with local_world(anvil_node, tmp_path, "paper", True) as (world, venue):
        bot = await started_bot(world, venue)
        try:
            bot.engine.price_observers.append(_fails_with(StoreError("disk full")))
            with pytest.raises(StoreError, match="disk full"):
                await bot.engine.tick(await bot.chain.latest_block())
        finally:
            await bot.close()
