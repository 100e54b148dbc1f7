"""``hedgebot fleet status``: every bot of a shared store, one line each, in 80 columns.

From the database (read-only, each bot as itself): the last tick (block, record time), delta,
hedge, drift and band of its last decision, net PnL (``bot.report``'s replay, as ``hedgebot
report``) and the trading state of its operator state and tripped guards
(``bot.status_trading``; the kill switch is a file on the bot's host, not in the store: only
the live state includes it). With a broker, each bot's retained ``state`` message (and
``status``) is read too; a bot's live values win and its row says ``mq`` instead of ``db``.
Unknown values are shown as ``?`` and are ``null`` in ``--json``, never 0; so are a live
state's implausible values (``bot.telemetry.monitor_checks``: beyond 1e18, a negative band).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiomqtt
from pydantic import ValidationError

from bot.core.killswitch import KillSwitchState
from bot.core.operator import OperatorState
from bot.core.trading_status import last_state_cause
from bot.display import json_decimal
from bot.errors import ConfigError, StoreError
from bot.fleet_render import render_fleet
from bot.replay_store import resume_report
from bot.safety import mask_url
from bot.status_trading import trading_summary, tripped_guards
from bot.store.base import RecordStore
from bot.store.meta import MetaKey
from bot.store.pg_names import pg_schema_name
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from bot.telemetry.cli_support import broker_client
from bot.telemetry.messages import StateMessage
from bot.telemetry.monitor_checks import KNOWN_STATUSES, Loc, state_doubts

__all__ = [
    "BotStatus",
    "add_subcommand",
    "load_fleet_status",
    "render_fleet",
    "run_fleet_status",
]

EXIT_OK, EXIT_NO_BOTS, EXIT_ERROR = 0, 1, 2
STALE_AFTER_S = 120.0  # default --stale-after: 2 x the store's default heartbeat (60 s)
WIDTH = 80
SQLITE_BOT = "sqlite"  # a SQLite store holds one bot and no bot id: its row's name


@dataclass(frozen=True, slots=True)
class BotStatus:
    """One bot's line. Decimals are exact (base units for delta/hedge/drift/band, quote for
    net PnL); ``age_s`` is seconds since the record (``db``: the decision's record time) or
    since the bot published (``mq``: its ``published_at``); None is unknown."""

    bot_id: str
    source: str  # "db" or "mq"
    block: int | None = None
    age_s: float | None = None
    delta_base: Decimal | None = None
    hedge_base: Decimal | None = None
    drift_base: Decimal | None = None
    band_base: Decimal | None = None
    net_pnl_quote: Decimal | None = None
    trading_state: str | None = None
    trading_reasons: tuple[str, ...] = ()
    online: bool | None = None  # the retained status (mq only)
    activity: str | None = None  # "ticking", "stale" (no record for --stale-after), "never
    # ticked" (records, e.g. meta, but no tick); None: unknown (no record time)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: decimals as exact strings, unknown as null."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, Decimal):
                out[key] = json_decimal(value)  # as `report --json` writes it
        out["trading_reasons"] = list(self.trading_reasons)
        return out


async def _from_store(store: RecordStore, bot_id: str, now_s: float) -> BotStatus:
    """The bot's line from its own records (read-only): its newest decision and snapshot
    (one row each), its operator state and events, and net PnL from the replay's kept
    checkpoint plus the ticks after it (``bot.replay_store``), never every row at once."""
    last = await store.last_decision()
    record = await store.get_meta(MetaKey.OPERATOR_STATE)
    alerts = await store.read_events("alert")
    changes = await store.read_events("trading_state")
    report, _ = await resume_report(store)
    try:
        operator = OperatorState.from_record(record)
    except (ValueError, KeyError) as exc:
        raise StoreError(f"bot {bot_id}: operator state unreadable ({exc})") from None
    # the kill switch is a file on the bot's host: not in the store (the live state has it)
    state, reasons = trading_summary(
        operator,
        KillSwitchState(),
        tripped_guards(alerts),
        operator_cause=last_state_cause(changes),
    )
    row = BotStatus(bot_id, "db", trading_state=state.value, trading_reasons=tuple(reasons))
    newest: float | None = None
    if last is not None:
        ts, block, decision = last
        newest = ts
        row = replace(
            row,
            block=block,
            delta_base=decision.delta_base,
            hedge_base=decision.hedge_base,
            drift_base=decision.drift_base,
            band_base=decision.band_base,
        )
    if report is not None:
        tick = report.points[-1]  # the newest kept snapshot: the store's heartbeat
        if newest is None or tick.timestamp_s > newest:
            newest = tick.timestamp_s
            row = replace(row, block=max(tick.block, row.block or 0))
        row = replace(row, net_pnl_quote=report.final.net_pnl_quote)
    if newest is not None:
        row = replace(row, age_s=round(max(0.0, now_s - newest), 3))
    return row


async def _store_rows(target: str, schema: str, now_s: float, timeout_s: float) -> list[BotStatus]:
    """Every bot of a PostgreSQL store (``postgresql://...``), or the one of a SQLite file."""
    if not target.startswith(("postgresql://", "postgres://")):
        sqlite = await SqliteStore.open(Path(target), read_only=True)
        try:
            return [await _from_store(sqlite, SQLITE_BOT, now_s)]
        finally:
            await sqlite.close()
    password = os.environ.get("HEDGEBOT_STORE__PASSWORD")

    async def open_as(bot_id: str) -> PostgresStore:
        return await PostgresStore.open(
            target,
            bot_id,
            path=Path("."),
            schema=schema,
            password=password,
            timeout_s=timeout_s,
            read_only=True,
        )

    probe = await open_as("fleet-status")
    try:
        bot_ids = await probe.fleet_known_bot_ids()
    finally:
        await probe.close()
    rows = []
    for bot_id in bot_ids:
        store = await open_as(bot_id)
        try:
            rows.append(await _from_store(store, bot_id, now_s))
        finally:
            await store.close()
    return rows


async def _live_rows(
    url: str, prefix: str, username: str | None, wait_s: float, now_s: float
) -> dict[str, BotStatus]:
    """Each bot's retained ``state`` (and ``status``) under ``prefix``; a message that is not
    a valid state is skipped (a peer's text never crashes the listing)."""
    password = os.environ.get("MQTT_PASSWORD") or None
    states: dict[str, StateMessage] = {}
    online: dict[str, bool] = {}
    async with broker_client(url, username, password) as client:
        await client.subscribe(f"{prefix}/+/state", qos=1)
        await client.subscribe(f"{prefix}/+/status", qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                async for message in client.messages:
                    _take(message, states, online)
    rows = {}
    for bot_id, state in states.items():
        doubted = {d.loc for d in state_doubts(state)}  # implausible values: unknown

        def believed(value: Any, *loc: str, doubted: set[Loc] = doubted) -> Any:
            return None if loc in doubted else value

        published = believed(state.published_at, "published_at")
        rows[bot_id] = BotStatus(
            bot_id,
            "mq",
            block=believed(state.block, "block"),
            age_s=None if published is None else round(max(0.0, now_s - published), 3),
            delta_base=believed(state.delta_base, "delta_base"),
            hedge_base=believed(state.hedge_base, "hedge_base"),
            drift_base=believed(state.drift_base, "drift_base"),
            band_base=believed(state.band_base, "band_base"),
            net_pnl_quote=believed(state.pnl.net, "pnl", "net"),
            trading_state=state.trading_state,
            trading_reasons=tuple(state.trading_reasons),
            online=online.get(bot_id),
        )
    return rows


def _take(
    message: aiomqtt.Message, states: dict[str, StateMessage], online: dict[str, bool]
) -> None:
    """Keep one retained message: a valid state by its own bot id, or a known status
    (``online``/``offline``; any other is unknown)."""
    payload = message.payload
    if not message.retain or not isinstance(payload, bytes | bytearray) or not payload:
        return
    levels = str(message.topic).split("/")
    if levels[-1] == "status":
        if bytes(payload).decode(errors="replace") in KNOWN_STATUSES:
            online[levels[-2]] = bytes(payload) == b"online"
        return
    try:
        state = StateMessage.model_validate_json(bytes(payload))
    except ValidationError:
        return
    if state.bot_id == levels[-2]:  # a state under another bot's topic is not believed
        states[state.bot_id] = state


async def load_fleet_status(
    store: str | None,
    *,
    schema: str = "public",
    mqtt_url: str | None = None,
    prefix: str = "hedgebot",
    username: str | None = None,
    wait_s: float = 1.0,
    timeout_s: float = 5.0,
    now_s: float | None = None,
    stale_after_s: float = STALE_AFTER_S,
) -> list[BotStatus]:
    """Every bot, sorted by id: the store's rows (every bot with any record, a bot that
    never ticked included), each replaced by its live row when the broker has one; bots
    only on the broker are listed too. A row whose newest record is older than
    ``stale_after_s`` seconds is ``stale``. ``StoreError`` when the store cannot be read;
    ``aiomqtt.MqttError`` when the broker cannot be reached."""
    now_s = time.time() if now_s is None else now_s
    rows = (
        {}
        if store is None
        else {r.bot_id: r for r in await _store_rows(store, schema, now_s, timeout_s)}
    )
    if mqtt_url is not None:
        rows.update(await _live_rows(mqtt_url, prefix, username, wait_s, now_s))
    return [replace(rows[k], activity=_activity(rows[k], stale_after_s)) for k in sorted(rows)]


def _activity(row: BotStatus, stale_after_s: float) -> str | None:
    """``never ticked``, ``stale`` or ``ticking`` by the row's newest record; None: unknown."""
    if row.source == "db" and row.block is None and row.age_s is None:
        return "never ticked"
    if row.age_s is None:
        return None
    return "stale" if row.age_s > stale_after_s else "ticking"


def run_fleet_status(
    store: str | None,
    *,
    schema: str = "public",
    mqtt_url: str | None = None,
    prefix: str = "hedgebot",
    username: str | None = None,
    as_json: bool = False,
    stale_after_s: float = STALE_AFTER_S,
) -> int:
    """``hedgebot fleet status``: print the table or JSON; exit 0, 1 (no bot found) or 2 (a
    store or broker that cannot be read, bad input: a schema that is no identifier, a
    ``stale_after_s`` that is not a positive finite number)."""
    if store is None and mqtt_url is None:
        print("fleet status: give --store-url and/or --mqtt-url", file=sys.stderr)  # noqa: T201
        return EXIT_ERROR
    try:
        pg_schema_name(schema)  # the rule `report --pg-schema` applies (one function)
    except ValueError as exc:
        print(f"fleet status: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_ERROR
    if not (math.isfinite(stale_after_s) and stale_after_s > 0):
        print(f"fleet status: --stale-after {stale_after_s}: give seconds > 0", file=sys.stderr)  # noqa: T201
        return EXIT_ERROR
    is_file = store is not None and not store.startswith(("postgresql://", "postgres://"))
    if is_file and not Path(str(store)).is_file():
        print(f"fleet status: no SQLite store at {store}", file=sys.stderr)  # noqa: T201
        return EXIT_ERROR
    try:
        rows = asyncio.run(
            load_fleet_status(
                store,
                schema=schema,
                mqtt_url=mqtt_url,
                prefix=prefix,
                username=username,
                stale_after_s=stale_after_s,
            )
        )
    except (StoreError, ConfigError) as exc:
        print(f"fleet status: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_ERROR
    except aiomqtt.MqttError as exc:
        where = mask_url(mqtt_url or "")
        print(f"fleet status: broker {where} cannot be read: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_ERROR
    if as_json:
        print(json.dumps({"bots": [r.as_json() for r in rows]}))  # noqa: T201
    else:
        for line in render_fleet(rows):
            print(line)  # noqa: T201
        print("src: db = the store's last tick, mq = live retained state (wins)")  # noqa: T201
        print(f"stale: no record for over {stale_after_s:g} s (--stale-after)")  # noqa: T201
    if not rows:
        print("fleet status: no bot found", file=sys.stderr)  # noqa: T201
        return EXIT_NO_BOTS
    return EXIT_OK


def add_subcommand(subparsers: Any) -> None:
    """Register ``fleet status`` on an argparse subparsers object; sets ``args.func``."""
    fleet: argparse.ArgumentParser = subparsers.add_parser(
        "fleet", help="a fleet of bots in one shared store and broker"
    )
    commands = fleet.add_subparsers(dest="fleet_command", required=True, metavar="status")
    p = commands.add_parser("status", help="every bot: last tick, delta, hedge, drift, net PnL")
    p.add_argument(
        "--store-url",
        dest="fleet_store",  # a postgresql:// URL or a SQLite path, not a web URL
        metavar="URL",
        default=None,
        help="the shared store: postgresql://user@host:port/db (password from "
        "$HEDGEBOT_STORE__PASSWORD) or a SQLite file (default: none, MQTT only)",
    )
    p.add_argument("--pg-schema", default="public", help="the PostgreSQL schema")
    p.add_argument(
        "--mqtt-url",
        default=None,
        help="also read each bot's retained state from this broker (mqtt://host:port; live "
        "values win; default: none, the store only)",
    )
    p.add_argument("--prefix", default="hedgebot", help="topic prefix before the bot id")
    p.add_argument(
        "--username",
        default=os.environ.get("MQTT_USERNAME") or None,
        help="broker user (default $MQTT_USERNAME); the password from $MQTT_PASSWORD",
    )
    p.add_argument(
        "--stale-after",
        type=float,
        default=STALE_AFTER_S,
        metavar="S",
        help="a bot whose newest record is older than S seconds shows as stale (default: "
        f"{STALE_AFTER_S:g}; keep it above the bots' store.snapshot_interval_s heartbeat)",
    )
    p.add_argument("--json", action="store_true", help="exact decimal strings, unknown as null")
    p.set_defaults(func=_command)


def _command(args: argparse.Namespace) -> int:
    return run_fleet_status(
        args.fleet_store,
        schema=args.pg_schema,
        mqtt_url=args.mqtt_url,
        prefix=args.prefix,
        username=args.username,
        as_json=args.json,
        stale_after_s=args.stale_after,
    )
