"""``hedgebot monitor``: a live view of every bot on the broker (``hedgebot cmd`` lives in
``operator_cmd``; both are registered here).

It subscribes to ``<prefix>/+/status``, ``/state`` and ``/events`` and shows one line per bot
plus the last events. Everything shown came from the broker: it is rendered as plain ``Text``
(``[/evil]`` is shown, never parsed as markup), bounded, and formatted so that no value a peer
can send makes rendering fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiomqtt
from pydantic import ValidationError
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bot.display import fmt_pct
from bot.errors import ConfigError
from bot.safety import MAX_COMMAND_BYTES, MAX_JSON_DEPTH, PayloadRejected, loads_bounded, mask_url
from bot.telemetry.cli_support import (
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    add_broker_options,
    broker_client,
    broker_url,
    say,
)
from bot.telemetry.command_text import echo
from bot.telemetry.messages import EventMessage, StateMessage
from bot.telemetry.operator_cmd import add_cmd_parser, parse_params, send_command

__all__ = ["BotView", "MonitorView", "add_subcommands", "monitor", "parse_params", "send_command"]

MAX_EVENTS = 10
MAX_COMMAND_NAMES = 256  # command ids remembered to name the command in its event
MAX_MONITOR_PAYLOAD_BYTES = 1024 * 1024  # a state is a few KB; larger is hostile
_SHOWN_EXPONENT = 15  # from 1e15 on, numbers are shown in scientific notation


@dataclass
class BotView:
    """What the monitor knows about one bot."""

    status: str = "?"
    state: StateMessage | None = None
    state_received_s: float | None = None
    problem: str | None = None


@dataclass
class MonitorView:
    """Pure model of the monitor screen: fed topic/payload pairs, rendered on demand."""

    prefix: str
    bots: dict[str, BotView] = field(default_factory=dict)
    events: deque[tuple[str, EventMessage]] = field(
        default_factory=lambda: deque(maxlen=MAX_EVENTS)
    )
    command_names: dict[str, str] = field(default_factory=dict)  # command id -> its name

    def apply(self, topic: str, payload: bytes, now_s: float) -> None:
        """Take in one message from ``<prefix>/<bot>/(status|state|events)``."""
        head = f"{self.prefix}/"
        if not topic.startswith(head):
            return
        bot_id, _, kind = topic[len(head) :].partition("/")
        if kind == "cmd":
            self._remember_command(payload)
            return
        if not bot_id or kind not in ("status", "state", "events"):
            return
        if not payload:  # a cleared retained message
            return
        view = self.bots.setdefault(bot_id, BotView())
        if len(payload) > MAX_MONITOR_PAYLOAD_BYTES:
            view.problem = f"bad {kind} payload: {len(payload)} bytes"
            return
        try:
            if kind == "status":
                view.status = echo(payload.decode(errors="replace"), 32)
            elif kind == "state":
                view.state = StateMessage.model_validate_json(payload)
                view.state_received_s = now_s
                view.problem = None
            else:
                self.events.append((bot_id, EventMessage.model_validate_json(payload)))
        except ValidationError as exc:
            view.problem = f"bad {kind} payload: {exc.error_count()} error(s)"
        except ValueError:  # e.g. digits past the int-str limit
            view.problem = f"bad {kind} payload"

    def _remember_command(self, payload: bytes) -> None:
        """Note a command's id and name (``pause``...) so its ack event can name it."""
        try:
            body = loads_bounded(payload, max_bytes=MAX_COMMAND_BYTES, max_depth=MAX_JSON_DEPTH)
        except (PayloadRejected, ValueError):
            return
        if not isinstance(body, dict):
            return
        command_id, name = body.get("id"), body.get("command")
        if isinstance(command_id, str) and isinstance(name, str):
            self.command_names[command_id] = name
            while len(self.command_names) > MAX_COMMAND_NAMES:
                del self.command_names[next(iter(self.command_names))]

    def event_type(self, event: EventMessage) -> str:
        """The event's type; a command's ack names the command: ``command pause``."""
        if event.type != "command":
            return event.type
        name = event.data.get("command")
        if not isinstance(name, str):
            name = self.command_names.get(str(event.data.get("id")))
        return "command" if not isinstance(name, str) else f"command {echo(name, 24)}"

    def render(self, now_s: float) -> Group:
        """The bots table and the last events, each within 80 columns for ids up to 16
        characters: ``time`` is the block's chain time (UTC), ``age`` the seconds since the
        bot published the state by its own clock (``published_at``)."""
        bots = Table(
            title="hedgebot", box=box.SIMPLE_HEAD, padding=(0, 0), show_edge=False, expand=False
        )
        for name in _BOT_COLUMNS:
            bots.add_column(
                name, justify="left" if name in ("bot", "status") else "right", no_wrap=True
            )
        for bot_id in sorted(self.bots):
            bots.add_row(*self._bot_row(bot_id, now_s))
        if not self.bots:
            bots.add_row("(no bots seen)", *[""] * (len(_BOT_COLUMNS) - 1))
        events = Table(title=f"last {MAX_EVENTS} events", box=box.SIMPLE_HEAD, expand=False)
        for name in ("time", "bot", "type", "data"):
            events.add_column(name)
        for bot_id, event in reversed(self.events):
            events.add_row(
                Text(_clock_time(event.ts)),
                _text(bot_id, _BOT_ID_SHOWN),
                Text(self.event_type(event)),
                _data(event),
            )
        return Group(bots, events)

    def _bot_row(self, bot_id: str, now_s: float) -> list[Text]:
        """One table row; every cell is ``Text`` (peer strings are never markup)."""
        view = self.bots[bot_id]
        status = _text(view.status)
        status.stylize("green" if view.status == "online" else "red")
        state = view.state
        if state is None:
            shown = [_text(bot_id, _BOT_ID_SHOWN), status, *[Text("-")] * 7]
            return [*shown, _text(view.problem or "no state", 24)]
        if view.status == "online":
            status = _trading_status(state) or status
        cells = [
            _int(state.block),
            Text(_block_time(state.timestamp)),
            Text(_age(now_s, state.published_at, state.timestamp)),
            Text(_num(state.delta_base, places=4)),
            Text(_num(state.hedge_base, places=4)),
            Text(_num(state.drift_base, places=4)),
            Text(_margin(state.margin_ratio)),
            Text(_num(state.pnl.net, places=2)),
        ]
        return [_text(bot_id, _BOT_ID_SHOWN), status, *cells]


_BOT_COLUMNS = (
    "bot",
    "status",
    "block",
    "time",
    "age",
    "delta",
    "hedge",
    "drift",
    "margin",
    "net pnl",
)
_BOT_ID_SHOWN = 16


_PAUSED_ONLY = ("paused by operator",)


def _trading_status(state: StateMessage) -> Text | None:
    """What an online bot's status cell says when it is not hedging: ``paused`` (by the
    operator alone), ``halted`` (kill switch freeze, a blocking guard), ``reducing``
    (flatten, an emergency reduction); None while ``active``. A bot older than
    ``trading_state`` is ``paused`` by its own flag."""
    trading = state.trading_state
    if trading is None:
        return Text("paused", style="yellow") if state.paused else None
    if trading == "active":
        return None
    if trading == "halted" and state.trading_reasons == _PAUSED_ONLY:
        return Text("paused", style="yellow")
    return Text(trading, style="red" if trading == "halted" else "yellow")


def _text(value: str, limit: int = 64) -> Text:
    """Untrusted text as rich ``Text``: shown literally (``[/evil]`` is not markup), bounded."""
    return Text(echo(value, limit))


def _int(value: int) -> Text:
    return Text(str(value) if abs(value) < 10**18 else "huge")


def _age(now_s: float, published_at: float | None, block_timestamp: int) -> str:
    """Seconds since the bot published the state, by its own clock (``published_at``); the
    block's chain time is shown beside the block, as simulated chains run ahead of the wall.
    A state without ``published_at`` (an older bot) is aged by its block's timestamp."""
    stamp = float(block_timestamp) if published_at is None else published_at
    if not 0 <= stamp < 10**12:
        return "?"
    return f"{max(0.0, now_s - stamp):.0f}s"


def _block_time(timestamp: int) -> str:
    """The block's chain time, HH:MM UTC ("?" for a timestamp no chain has)."""
    return _clock_time(float(timestamp))[:5] if 0 <= timestamp < 10**12 else "?"


def _clock_time(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return "?"


def _data(event: EventMessage) -> Text:
    try:
        data = json.dumps(event.model_dump(mode="json")["data"], separators=(",", ":"))
    except (ValueError, TypeError, RecursionError):
        data = "(unprintable)"
    return _text(data, 100)


def _margin(ratio: Decimal | None) -> str:
    """The margin ratio as ``status`` shows it: a percentage to 2 decimals (``2.49 %``)."""
    if ratio is None or not ratio.is_finite() or abs(ratio) >= 10**6:
        return _num(ratio)
    return fmt_pct(ratio)


def _num(value: Decimal | None, places: int = 4) -> str:
    if value is None:
        return "-"
    if not value.is_finite():
        return str(value)
    if value.adjusted() >= _SHOWN_EXPONENT:  # no arithmetic: it could overflow the context
        try:
            return f"{value:.3e}"
        except ArithmeticError:  # past the decimal context's exponent range
            return ("-" if value.is_signed() else "") + f"~1e{value.adjusted()}"
    return f"{value:.{places}f}"


async def monitor(
    url: str,
    prefix: str,
    *,
    once: bool,
    duration_s: float | None,
    username: str | None = None,
    password: str | None = None,
    console: Console | None = None,
    url_source: str = "--mqtt-url",
) -> int:
    """Show the live view; with ``once``, collect for ``duration_s`` and print one frame.
    ``url_source`` names where ``url`` came from in a refusal."""
    console = console or Console()
    view = MonitorView(prefix=prefix)
    collect_s = duration_s if duration_s is not None else (1.0 if once else None)
    try:
        async with broker_client(url, username, password, url_source) as client:
            for kind in ("status", "state", "events", "cmd"):
                await client.subscribe(f"{prefix}/+/{kind}", qos=1)
            if once:
                await _collect(client, view, collect_s)
                console.print(view.render(time.time()))
                return EXIT_OK
            with Live(view.render(time.time()), console=console, refresh_per_second=2) as live:

                async def refresh() -> None:
                    while True:
                        await asyncio.sleep(0.5)
                        live.update(view.render(time.time()))

                async with asyncio.TaskGroup() as group:
                    refresher = group.create_task(refresh())
                    await _collect(client, view, collect_s)
                    refresher.cancel()
    except ConfigError as exc:
        say(Console(stderr=True), str(exc))
        return EXIT_USAGE
    except aiomqtt.MqttError as exc:
        say(Console(stderr=True), f"cannot reach MQTT broker {mask_url(url)}: {exc}", "red")
        return EXIT_UNREACHABLE
    return EXIT_OK


async def _collect(client: aiomqtt.Client, view: MonitorView, duration_s: float | None) -> None:
    try:
        async with asyncio.timeout(duration_s):
            async for message in client.messages:
                payload = message.payload
                raw = payload if isinstance(payload, bytes | bytearray) else str(payload).encode()
                view.apply(str(message.topic), bytes(raw), time.time())
    except TimeoutError:
        return


def _run_monitor(args: argparse.Namespace) -> int:
    url, source = broker_url(args.mqtt_url)
    try:
        return asyncio.run(
            monitor(
                url,
                args.prefix,
                url_source=source,
                once=args.once,
                duration_s=args.duration,
                username=args.username,
                password=os.environ.get("MQTT_PASSWORD") or None,
            )
        )
    except KeyboardInterrupt:
        return EXIT_OK


def add_subcommands(subparsers: Any) -> None:
    """Register ``monitor`` and ``cmd``; each sets ``args.func(args) -> int``."""
    mon = subparsers.add_parser("monitor", help="live view of every bot on the broker")
    add_broker_options(mon)
    mon.add_argument("--once", action="store_true", help="print one frame and exit")
    mon.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds (with --once: how long to collect, default 1)",
    )
    mon.set_defaults(func=_run_monitor)
    add_cmd_parser(subparsers)
