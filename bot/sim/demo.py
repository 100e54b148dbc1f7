"""``hedgebot demo``: the whole offline world, end to end, in one command.

anvil (npm) + real Uniswap contracts + a seeded GBM market that trades through the pool each
block + the simulated perp venue (in-process paper adapter, or the HTTP emulator driven through
the real ccxt client) + the engine + optional MQTT/metrics. The venue's mark follows the same
price path as the pool; the venue clock follows block timestamps, so funding accrues in chain
time. The chain starts at a fixed time (``DEMO_EPOCH``), not the wall clock's, so one seed
gives one output whatever the time of day (the funding times crossed are the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shlex
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TextIO

import aiomqtt
import structlog
import yaml

from bot.app import Bot, build_bot, build_telemetry
from bot.clock import ManualClock
from bot.config import Settings, load_config, masked_dump
from bot.display import json_decimal
from bot.errors import ConfigError
from bot.logging import configure_logging
from bot.ports import PerpExchange
from bot.safety import mask_url
from bot.sim.anvil import Anvil, AnvilOptions
from bot.sim.demo_output import DemoProgress, render_summary
from bot.sim.demo_venues import DemoVenue, demo_settings, open_demo_venue
from bot.sim.localnet import LocalWorld, local_settings, start_world
from bot.sim.mosquitto import resolve_broker
from bot.store.sqlite import SqliteStore
from bot.telemetry.dashboard.daemon import build_daemon_dashboard
from bot.telemetry.settings import Topics
from bot.yaml_bounded import load_yaml_mapping

log = structlog.get_logger("hedgebot.demo")


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``hedgebot demo`` was asked to do."""

    blocks: int = 200
    seed: int = 7
    sigma: float = 0.9
    step_seconds: int = 600
    pool_kind: Literal["v2", "v3", "v4"] = "v2"
    exchange: DemoVenue = "paper"
    mqtt_url: str | None = None
    metrics_port: int | None = None
    workdir: Path | None = None
    config: Path | None = None  # e.g. config/demo.yaml: hedge, venue, mqtt, metrics sections
    quiet: bool = False
    # "file": JSON lines into <workdir>/demo.log; "json"/"console": on stderr
    log_format: Literal["file", "json", "console"] = "file"


DEMO_MARKER = "# the demo's effective config"
DEMO_EPOCH = 1_704_088_800
"""The demo chain's genesis time: 2024-01-01 06:00 UTC, two hours before a funding time
(8-hourly, 00/08/16 UTC), so a 40-block run at 600 s a block settles one funding payment."""
_CLEAR_TIMEOUT_S = 5.0  # clearing retained messages at exit gives up after this
_MASK = "**********"  # bot.config.masked_dump's stand-in for a secret
_DEMO_FILES = ("config.yaml", "demo.log", "report.png", "venue.json", "hedgebot.sqlite")


def _template(path: Path | None) -> dict[str, Any] | None:
    """The demo config file's data, validated as a whole first (errors name the field)."""
    if path is None:
        return None
    load_config(path)  # raises ConfigError naming every bad field
    return load_yaml_mapping(path)  # the same bounded read load_config made


def _equity(wallet: Decimal, unrealized: Decimal) -> Decimal:
    return wallet + unrealized


async def _venue_equity(exchange: PerpExchange) -> Decimal:
    balance = await exchange.balance()
    position = await exchange.position()
    return _equity(balance.wallet_balance, position.unrealized_pnl)


@contextlib.contextmanager
def _demo_operator_key(broker_url: str | None, quiet: bool) -> Iterator[None]:
    """Without HEDGEBOT_OPERATOR_KEY the bot refuses every command: while telemetry is built,
    give the demo a throwaway key of its own and say how to command the demo with it."""
    if not broker_url or os.environ.get("HEDGEBOT_OPERATOR_KEY"):
        yield
        return
    key = secrets.token_hex(32)
    os.environ["HEDGEBOT_OPERATOR_KEY"] = key
    try:
        yield
    finally:
        del os.environ["HEDGEBOT_OPERATOR_KEY"]
    if not quiet:
        print(
            f"commands: HEDGEBOT_OPERATOR_KEY={key} hedgebot cmd demo pause "
            f"--mqtt-url {mask_url(broker_url)}  (a key for this demo run only)",
            file=sys.stderr,
        )


def prepare_workdir(workdir: Path | None) -> tuple[Path, bool]:
    """The work dir and whether it is kept: ``--workdir`` (a previous demo's files in it are
    removed first, so its store holds one run), else a temporary dir removed at exit.

    Raises ``ConfigError`` when ``workdir`` holds a store that no demo wrote (never deleted).
    """
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="hedgebot-demo-")), False
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yaml"
    from_demo = config.is_file() and config.read_text(encoding="utf-8").startswith(DEMO_MARKER)
    if (workdir / "hedgebot.sqlite").exists() and not from_demo:
        raise ConfigError(
            f"--workdir {workdir}: holds a store no demo wrote (hedgebot.sqlite); "
            "choose an empty directory"
        )
    if from_demo:
        for name in _DEMO_FILES:
            for path in workdir.glob(name + "*"):  # the store's -wal/-shm and lock files too
                if path.is_file():
                    path.unlink()
    return workdir, True


@contextlib.contextmanager
def demo_logging(options: DemoOptions, workdir: Path) -> Iterator[Path | None]:
    """Logs as asked: JSON lines into ``workdir/demo.log`` (yielded), or on stderr; stderr
    again (warnings, JSON) once the demo is over."""
    level = "warning" if options.quiet and options.log_format != "file" else "info"
    log_file: TextIO | None = None
    try:
        if options.log_format == "file":
            path = workdir / "demo.log"
            log_file = path.open("a", encoding="utf-8")
            configure_logging(level, "json", file=log_file)
            yield path
        else:
            configure_logging(level, options.log_format)
            yield None
    finally:
        configure_logging("warning", "json")
        if log_file is not None:
            log_file.close()


def loadable_dump(settings: Settings) -> dict[str, Any]:
    """The effective config as data a config file may hold: masked like ``check-config``,
    minus the secrets (env-only fields are refused in a file, even masked)."""
    data = masked_dump(settings)
    for block in data.values():
        if isinstance(block, dict):
            for key in [k for k, v in block.items() if v == _MASK]:
                del block[key]
    return data


def _metrics_port(settings: Settings) -> int | None:
    """The metrics port the demo will serve on: the configured one when free, else any free
    port (chosen here so that the summary names the port actually used)."""
    if not settings.metrics.enabled:
        return None
    with socket.socket() as probe:
        try:
            probe.bind((settings.metrics.host, settings.metrics.port))
            return settings.metrics.port
        except OSError:
            probe.bind((settings.metrics.host, 0))
            return int(probe.getsockname()[1])


async def clear_retained(broker_url: str, settings: Settings) -> None:
    """Publish empty retained payloads on the demo bot's ``status`` and ``state`` topics, so
    that the broker forgets the demo once it is over (a monitor shows no ghost bot)."""
    from bot.telemetry.cli_support import broker_client

    mqtt = settings.mqtt
    topic_prefix = mqtt.topic_prefix if mqtt is not None else "hedgebot/{bot_id}"
    topics = Topics.for_bot(topic_prefix, settings.bot_id)
    username = mqtt.username if mqtt is not None else None
    password = None if mqtt is None or mqtt.password is None else mqtt.password.get_secret_value()
    try:
        async with broker_client(broker_url, username, password) as client:
            for topic in (topics.status, topics.state):
                await client.publish(topic, b"", qos=1, retain=True)
    except aiomqtt.MqttError as exc:
        log.warning("demo.retained_not_cleared", broker=mask_url(broker_url), error=str(exc))


async def run_demo(options: DemoOptions) -> dict[str, Any]:
    """Run the demo and return its summary (the ``--json`` object); the temporary work dir
    (no ``--workdir``) is removed before returning."""
    workdir, kept = prepare_workdir(options.workdir)
    try:
        with demo_logging(options, workdir) as log_file:
            summary = await _run_world(options, workdir)
    finally:
        if not kept:
            shutil.rmtree(workdir, ignore_errors=True)
    config = workdir / "config.yaml"
    return {
        **summary,
        "workdir": str(workdir),
        "workdir_kept": kept,
        "log_file": str(log_file) if kept and log_file is not None else None,
        "report_command": (
            f"hedgebot report --config {shlex.quote(str(config))}" if kept else None
        ),
    }


async def _run_world(options: DemoOptions, workdir: Path) -> dict[str, Any]:
    """Start the world, run the blocks, summarise; everything is closed before returning
    and the demo's retained messages are cleared from the broker, also when the run is
    interrupted (Ctrl-C) or fails."""
    cleanup: dict[str, Any] = {}
    try:
        return await _run_world_in(options, workdir, cleanup)
    finally:
        if cleanup.get("broker_url") is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_CLEAR_TIMEOUT_S):
                    await clear_retained(cleanup["broker_url"], cleanup["settings"])


async def _run_world_in(
    options: DemoOptions, workdir: Path, cleanup: dict[str, Any]
) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        node = await stack.enter_async_context(Anvil(AnvilOptions(genesis_timestamp=DEMO_EPOCH)))
        world: LocalWorld = await stack.enter_async_context(
            start_world(
                node.rpc_url,
                pool_kind=options.pool_kind,
                sigma=options.sigma,
                step_seconds=options.step_seconds,
                seed=options.seed,
            )
        )
        settings: Settings = demo_settings(
            local_settings(world, workdir, bot_id="demo", template=_template(options.config)),
            options.exchange,
        )
        metrics_port = options.metrics_port or _metrics_port(settings)
        if metrics_port is not None:
            metrics = settings.metrics.model_copy(update={"port": metrics_port})
            settings = settings.model_copy(update={"metrics": metrics})
        broker_url = await resolve_broker(stack, options.mqtt_url, quiet=options.quiet)
        cleanup.update(broker_url=broker_url, settings=settings)
        return await _drive(stack, options, world, settings, broker_url, metrics_port, workdir)


async def _drive(
    stack: AsyncExitStack,
    options: DemoOptions,
    world: LocalWorld,
    settings: Settings,
    broker_url: str | None,
    metrics_port: int | None,
    workdir: Path,
) -> dict[str, Any]:
    """Build the bot in ``stack`` and run every block with progress on stderr."""
    clock = ManualClock(float(world.start_timestamp))
    exchange, set_mark, ran = await open_demo_venue(
        stack, options.exchange, world, settings, clock, workdir
    )
    # the config of what ran (the venue, its fees, its emulator's unmasked loopback URLs)
    written = loadable_dump(settings.model_copy(update={"exchange": ran}))
    written["exchange"]["urls"] = dict(ran.urls)
    (workdir / "config.yaml").write_text(
        f"{DEMO_MARKER}: `hedgebot report --config` this file\n"
        + yaml.safe_dump(written, sort_keys=False),
        encoding="utf-8",
    )
    store = await SqliteStore.open(settings.store.path)
    stack.push_async_callback(store.close)
    dashboard = build_daemon_dashboard(settings, store, (), clock=clock)
    with _demo_operator_key(broker_url, options.quiet):
        telemetry, commands = await build_telemetry(
            stack,
            settings,
            clock,
            broker_url,
            metrics_port,
            any_free_port=True,
            dashboard=dashboard if metrics_port is not None else None,
        )
    bot: Bot = await build_bot(
        settings, clock=clock, exchange=exchange, telemetry=telemetry, commands=commands
    )
    stack.push_async_callback(bot.close)
    set_mark(world.target_price)
    await bot.engine.start()
    rules = await exchange.market_rules()
    equity_start = await _venue_equity(exchange)
    with DemoProgress(options.blocks, enabled=not options.quiet) as progress:
        progress.step = rules.amount_step
        progress.say(f"work dir: {workdir}")
        first = await bot.engine.tick(await bot.chain.latest_block())
        progress.block(0, first)
        for index in range(1, options.blocks + 1):
            step = await world.step()
            clock.set(float(step.block_timestamp))
            set_mark(step.target_price)
            await bot.engine.apply_commands()
            progress.block(index, await bot.engine.tick(step.block_number))
    lp_start = first.snapshot.positions[0].value_quote if first else Decimal(0)
    summary = await _summarise(options, world, bot, exchange, equity_start, lp_start)
    host = settings.metrics.host
    summary["amount_step_base"] = json_decimal(rules.amount_step)
    summary["mqtt_url"] = broker_url
    summary["metrics_url"] = (
        None if metrics_port is None else f"http://{host}:{metrics_port}/metrics"
    )
    summary["dashboard_url"] = None if metrics_port is None else f"http://{host}:{metrics_port}/"
    return summary


async def _summarise(
    options: DemoOptions,
    world: LocalWorld,
    bot: Bot,
    exchange: PerpExchange,
    equity_start: Decimal,
    lp_start: Decimal,
) -> dict[str, Any]:
    """The summary's numbers as exact decimal strings (``display.json_decimal``: plain
    notation, no trailing zeros, zero as ``"0"``)."""
    last = bot.engine.last_report
    if last is None:
        raise RuntimeError("the demo completed no tick")
    equity_end = await _venue_equity(exchange)
    totals = await bot.store.totals()
    lp_value = sum((p.value_quote for p in last.snapshot.positions), Decimal(0))
    hedge_pnl = equity_end - equity_start
    final_drift = last.position.size_base - last.decision.target_base  # after the order
    return {
        "blocks": options.blocks,
        "pool_kind": options.pool_kind,
        "exchange": options.exchange,
        "seed": options.seed,
        "sigma": options.sigma,
        "start_price": json_decimal(world.start_price),
        "final_price": json_decimal(last.snapshot.price),
        "rebalances": bot.engine.stats.rebalances,
        "ticks": bot.engine.stats.ticks,
        "errors": bot.engine.stats.errors,
        "final_delta_base": json_decimal(last.decision.delta_base),
        "final_target_base": json_decimal(last.decision.target_base),
        "final_hedge_base": json_decimal(last.position.size_base),
        "final_drift_base": json_decimal(final_drift),
        "band_base": json_decimal(last.decision.band_base),
        "within_band": abs(final_drift) <= last.decision.band_base,
        "fees_quote": json_decimal(totals["fees_quote"]),
        "funding_quote": json_decimal(totals["funding_quote"]),
        "lp_value_start_quote": json_decimal(lp_start),
        "lp_value_end_quote": json_decimal(lp_value),
        "hedge_pnl_quote": json_decimal(hedge_pnl),
        "hedged_value_quote": json_decimal(lp_value + hedge_pnl),
        "unhedged_value_quote": json_decimal(lp_value),
        "pnl": {name: json_decimal(value) for name, value in last.pnl.items()},
    }


__all__ = ["DemoOptions", "render_summary", "run_demo"]
