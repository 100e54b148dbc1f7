"""Wiring: build the bot from a validated config, run the daemon, take a one-off snapshot.

``build_bot`` is the one place that chooses adapters (paper venue or ccxt, MQTT or nothing);
the engine only knows ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog

from bot.chain.multichain import MultiChainReader, build_chain_reader, open_chain_heads
from bot.chain.reader import LpChainReader
from bot.clock import WallClock
from bot.config import Settings, secret_urls
from bot.core.policy import HedgePolicy, PolicyInputs, PolicyState, decide
from bot.daemon_locks import acquire_instance_locks, refuse_if_running_elsewhere
from bot.engine import CommandSource, Engine, EngineTelemetry, HedgeSettings
from bot.errors import StoreError
from bot.events import Alert
from bot.exchange.ledger import OrderLedger
from bot.exchange.read_only import start_for_reading
from bot.guards import RiskGuard
from bot.logging import LogStream, LogStreamClosed, configure_logging, set_console_base_step
from bot.ports import Clock, PerpExchange
from bot.safety import describe_exc, restore_recursion_limit
from bot.store import RecordStore, open_store
from bot.store_outage import SessionState, StoreRetry, supervise
from bot.telemetry.auth import operator_key_from_env
from bot.telemetry.dashboard.daemon import build_daemon_dashboard
from bot.telemetry.metrics import count_venue_calls
from bot.telemetry.notify import check_alerts
from bot.telemetry.wiring import build_telemetry as build_telemetry
from bot.telemetry.wiring import mqtt_url_source, resolve_mqtt
from bot.tick_messages import position_view

log = structlog.get_logger("hedgebot.app")


def build_policy(settings: Settings) -> HedgePolicy:
    """The hedge policy named in the config (``hedge.policy``), built by its config model."""
    return settings.hedge.build()


def build_exchange(settings: Settings, clock: Clock, *, read_only: bool = False) -> PerpExchange:
    """The paper venue or the ccxt adapter, as configured; ``read_only``: a paper venue that
    never writes its state file (``snapshot`` runs beside the daemon that owns it)."""
    ex = settings.exchange
    if ex.kind == "paper":
        from bot.exchange.paper import PaperExchange

        return PaperExchange.from_config(ex, clock, read_only=read_only)
    from bot.exchange.ccxt import CcxtPerpSettings
    from bot.exchange.ccxt.streaming import ccxt_exchange

    stream = None if read_only else ex.stream_settings()  # a one-shot read needs no stream
    return ccxt_exchange(CcxtPerpSettings.from_config(ex), stream, clock)


@dataclass
class Bot:
    """A built bot and what must be closed with it."""

    engine: Engine
    chain: LpChainReader | MultiChainReader
    exchange: PerpExchange
    store: RecordStore
    stack: AsyncExitStack

    async def close(self) -> None:
        """Close adapters in reverse order of opening."""
        await self.stack.aclose()


async def build_bot(
    settings: Settings,
    *,
    clock: Clock | None = None,
    exchange: PerpExchange | None = None,
    telemetry: EngineTelemetry | None = None,
    commands: CommandSource | None = None,
    store: RecordStore | None = None,
) -> Bot:
    """Everything the engine needs, passed in (no globals).

    A ``store`` passed in is owned by the bot from then on (closed with it).
    """
    restore_recursion_limit()  # web3's imports may have raised it: deep JSON must raise
    clock = clock or WallClock()
    stack = AsyncExitStack()
    try:
        if store is None:
            store = await open_store(settings)
        stack.push_async_callback(store.close)
        chain = build_chain_reader(settings, clock)
        stack.push_async_callback(chain.close)
        venue = exchange or build_exchange(settings, clock)
        stack.push_async_callback(venue.close)
        observers = []
        set_reference = getattr(venue, "set_reference_price", None)
        if exchange is None and settings.exchange.kind == "paper" and set_reference is not None:
            observers.append(set_reference)
        engine = Engine(
            bot_id=settings.bot_id,
            chain=chain,
            exchange=venue,
            ledger=OrderLedger(
                venue, store, settings.bot_id, clock, on_mismatch=settings.exchange.on_mismatch
            ),
            store=store,
            policy=build_policy(settings),
            settings=HedgeSettings(
                hedge_ratio=settings.hedge.ratio,
                max_slippage_bps=settings.hedge.max_slippage_bps,
            ),
            clock=clock,
            telemetry=telemetry,
            price_observers=observers,
            commands=commands,
            guard=RiskGuard.from_settings(settings, clock),
            read_timeout_s=settings.risk.read_timeout_s,
        )
        engine.cadence.settings = settings.exchange.cadence_settings()  # engine/cadence.py
    except BaseException:
        await stack.aclose()
        raise
    return Bot(engine=engine, chain=chain, exchange=venue, store=store, stack=stack)


async def run_daemon(
    settings: Settings,
    mqtt_url: str | None = None,
    metrics_port: int | None = None,
    config_path: str | None = None,
    store_retry: StoreRetry | None = None,
) -> int:
    """``hedgebot run``: tick on every new block until SIGINT/SIGTERM, then stop cleanly.

    Every setting is checked before anything starts (``ConfigError`` naming its source: no
    port bound, no file created). Then this bot is locked for the process's life (store,
    paper venue state, bot id on this host) and, with a broker, the broker is asked whether
    the bot id runs elsewhere: ``InstanceLocked`` naming the holder. Telemetry is opened
    before the bot and closed after it, so the last state goes out and ``offline`` is
    published last. Command ids already used (stored) stay refused after a restart. A store
    that fails after start-up, or whose server cannot be reached at start, stops the engine
    (no orders) until it answers again, then a new engine reconciles and trades
    (``bot.store_outage``; ``store_retry``: how long to wait); meanwhile the metrics port
    answers ``/healthz`` 200 and ``/readyz`` 503 (``bot.telemetry.outage_health``).

    A log stream that can no longer be written (its reader exited: ``run | head``) stops the
    daemon after its current tick like SIGTERM (hedge left as is, telemetry closed, locks
    released), then raises ``LogStreamClosed`` (``hedgebot run`` exits 1), never a hang.
    """
    logs = configure_logging(settings.logging.level, settings.logging.format, secret_urls(settings))
    mqtt_url, source = mqtt_url_source(mqtt_url, os.environ)
    mqtt_settings = resolve_mqtt(settings, mqtt_url, source)
    if mqtt_settings is not None:
        operator_key_from_env(os.environ)  # a key too short: refused now, not after start
    check_alerts(settings.alerts, os.environ)  # a URL unset or apprise cannot send to: now
    with ExitStack() as locks:
        for lock in acquire_instance_locks(settings, config_path):
            locks.callback(lock.release)
        if mqtt_settings is not None:
            await refuse_if_running_elsewhere(settings, mqtt_settings)
        code = await _run_locked(
            settings, mqtt_url, source, metrics_port, store_retry or StoreRetry(), logs
        )
    if logs.closed_reason is not None:  # stopped after the tick it broke in, locks released
        raise LogStreamClosed(f"log stream closed ({logs.closed_reason}): stopped the daemon")
    return code


async def _run_locked(
    settings: Settings,
    mqtt_url: str | None,
    mqtt_source: str,
    metrics_port: int | None,
    store_retry: StoreRetry,
    logs: LogStream,
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    logs.on_closed(lambda _reason: _set_soon(loop, stop))  # from any thread that logged

    async def session(state: SessionState) -> None:
        await _run_session(settings, mqtt_url, mqtt_source, metrics_port, stop, state)

    async def probe() -> None:
        store = await open_store(settings)
        try:
            await store.check_writable()
        finally:
            await store.close()

    watch = None  # /healthz and /readyz between sessions (bot.telemetry.outage_health)
    if settings.metrics.enabled or metrics_port is not None:
        from bot.telemetry.outage_health import StoreOutageHealth

        port = settings.metrics.port if metrics_port is None else metrics_port
        watch = StoreOutageHealth(settings.metrics.host, port)
    await supervise(session, probe, store_retry, stop, watch)
    return 0


def _set_soon(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed already: nothing left to stop
        loop.call_soon_threadsafe(event.set)


async def _run_session(
    settings: Settings,
    mqtt_url: str | None,
    mqtt_source: str,
    metrics_port: int | None,
    stop: asyncio.Event,
    state: SessionState,
) -> None:
    """One engine session: store, telemetry and bot opened, ticks until ``stop``; a
    ``StoreError`` is announced (``store.unreachable`` alert over MQTT and the log) and ends
    it with everything closed (``offline`` published)."""
    clock = WallClock()
    async with AsyncExitStack() as telemetry_stack:
        store = await open_store(settings)
        try:
            used_ids = await store.command_statuses()  # every id is used once, ever
            dashboard = build_daemon_dashboard(settings, store, used_ids, clock=clock)
            telemetry, commands = await build_telemetry(
                telemetry_stack,
                settings,
                clock,
                mqtt_url,
                metrics_port,
                used_ids,
                mqtt_url_source=mqtt_source,
                ledger=store,
                dashboard=dashboard,
            )
            telemetry = await _with_notifier(telemetry_stack, settings, clock, telemetry)
        except BaseException:
            await store.close()
            raise
        bot = await build_bot(
            settings, clock=clock, telemetry=telemetry, commands=commands, store=store
        )
        count_venue_calls(telemetry, bot.exchange)  # hedgebot_venue_rest_calls_total
        try:
            await bot.engine.start()
            set_console_base_step(bot.engine.rules.amount_step)  # console logs: venue step
            state.started = True
            # the engine watches ``stop`` and cancels the pending poll itself; a poller that
            # also ended on ``stop`` could finish in the same loop step and end the engine's
            # iteration with StopAsyncIteration instead of a clean stop
            async with open_chain_heads(bot.chain, settings.chain) as blocks:
                await bot.engine.run(blocks, stop)
        except StoreError as exc:
            if telemetry is not None and state.started:
                telemetry.publish_event(
                    Alert.of("store.unreachable", error=describe_exc(exc), trading="stopped")
                )
            raise
        finally:
            log.info("engine.stopping", ticks=bot.engine.stats.ticks)
            await bot.close()
            log.info("engine.stopped")


async def _with_notifier(
    stack: AsyncExitStack, settings: Settings, clock: Clock, telemetry: EngineTelemetry | None
) -> EngineTelemetry | None:
    """``telemetry`` with alerts to people attached (``settings.alerts``, apprise), started
    now and stopped when ``stack`` closes (sending ``daemon.stopped``); unchanged when no
    notification URL is configured. ``ConfigError`` for a ``url_env`` that is not set."""
    from bot.telemetry.bridge import TelemetryBridge
    from bot.telemetry.notify import build_notifier

    notifier = build_notifier(settings.alerts, os.environ, bot_id=settings.bot_id, clock=clock)
    if notifier is None:
        return telemetry
    await notifier.start()
    stack.push_async_callback(notifier.stop)
    if isinstance(telemetry, TelemetryBridge):
        telemetry.notifier = notifier
        return telemetry
    return TelemetryBridge(clock=clock, notifier=notifier)


async def take_snapshot(settings: Settings) -> dict[str, Any]:
    """``hedgebot snapshot``: read once, decide, place nothing and write nothing.

    No store is opened and the paper venue is read-only, so a snapshot beside a running
    daemon cannot race its writes, and a snapshot that fails leaves no file behind.
    """
    configure_logging("warning", settings.logging.format, secret_urls(settings))
    restore_recursion_limit()
    clock = WallClock()
    async with AsyncExitStack() as stack:
        chain = build_chain_reader(settings, clock)
        stack.push_async_callback(chain.close)
        await chain.start()  # the start-up checks of `run`: ConfigError for swapped tokens
        venue = build_exchange(settings, clock, read_only=True)
        stack.push_async_callback(venue.close)
        await start_for_reading(venue)  # leverage, margin mode untouched
        block = await chain.latest_block()
        snap = await chain.snapshot(block)
        setter = getattr(venue, "set_reference_price", None)
        if settings.exchange.kind == "paper" and setter is not None:
            setter(snap.price)
        quote = await venue.quote()
        position = await venue.position()
        rules = await venue.market_rules()
        inputs = PolicyInputs(
            now_s=clock.now(),
            price=quote.mark_price,
            delta_base=snap.delta_base,
            gamma=sum((p.gamma for p in snap.positions), Decimal(0)),
            hedge_base=position.size_base,
            hedge_ratio=settings.hedge.ratio,
        )
        decision, _ = decide(build_policy(settings), PolicyState(), inputs, rules)
    primary = next(iter(settings.chains))
    return {
        "block": snap.block_number,  # the primary chain's
        "blocks": dict(snap.blocks) or {primary: snap.block_number},
        "block_timestamp": snap.block_timestamp,
        "price": str(snap.price),
        "mark_price": str(quote.mark_price),
        "positions": [
            {**position_view(p, detail=True), "chain": p.chain or primary} for p in snap.positions
        ],
        "wallet_base": str(snap.wallet_base),
        "delta_base": str(decision.delta_base),
        "target_base": str(decision.target_base),
        "hedge_base": str(decision.hedge_base),
        "drift_base": str(decision.drift_base),
        "band_base": str(decision.band_base),
        "amount_step_base": str(rules.amount_step),
        "decision": {
            "action": decision.action,
            "reason": decision.reason,
            "side": None if decision.order_side is None else decision.order_side.value,
            "amount_base": str(decision.order_amount_base),
            "reduce_only": decision.reduce_only,
        },
    }


@contextlib.asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Bot]:
    """``async with opened(settings) as bot``: build and always close."""
    bot = await build_bot(settings)
    try:
        yield bot
    finally:
        await bot.close()
