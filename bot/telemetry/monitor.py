"""``hedgebot monitor``: a live view of every bot on the broker (``hedgebot cmd`` lives in
``operator_cmd``; both are registered here).

It subscribes to ``<prefix>/+/status``, ``/state`` and ``/events`` and shows one line per bot
plus the last events. Everything shown came from the broker: it is rendered as plain ``Text``
(``[/evil]`` is shown, never parsed as markup), bounded, and formatted so that no value a peer
can send makes rendering fail. The bots table fits the terminal's width
(:mod:`bot.telemetry.monitor_layout`: fewer columns below 80, numbers never cut).
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
from typing import Any

import aiomqtt
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bot.core.trading_status import OPERATOR_PAUSE_REASON
from bot.display import fmt_span
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
from bot.telemetry.monitor_checks import (
    UNKNOWN,
    BotView,
    bot_id_problem,
    doubts_problem,
    payload_problem,
    state_doubts,
    status_problem,
)
from bot.telemetry.monitor_layout import BOT_COLUMNS, MONITOR_WIDTH, Cells, layout
from bot.telemetry.operator_cmd import add_cmd_parser, parse_params, send_command

__all__ = [
    "BotView",
    "MonitorView",
    "add_subcommands",
    "monitor",
    "parse_params",
    "payload_problem",
    "send_command",
]

MAX_EVENTS = 10
MAX_COMMAND_NAMES = 256  # command ids remembered to name the command in its event
MAX_MONITOR_PAYLOAD_BYTES = 1024 * 1024  # a state is a few KB; larger is hostile


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
            view.note_problem(kind, f"bad {kind} payload: {len(payload)} bytes")
            return
        try:
            if kind == "status":
                problem = status_problem(payload)
                view.status = UNKNOWN if problem is not None else payload.decode()
                view.note_problem(kind, problem)
            elif kind == "state":
                self._take_state(view, bot_id, StateMessage.model_validate_json(payload), now_s)
            else:
                self.events.append((bot_id, EventMessage.model_validate_json(payload)))
                view.note_problem(kind, None)
        except ValueError as exc:  # ValidationError, or e.g. digits past the int-str limit
            view.note_problem(kind, payload_problem(kind, exc))

    @staticmethod
    def _take_state(view: BotView, bot_id: str, state: StateMessage, now_s: float) -> None:
        """Believe ``state`` unless it names another bot; its implausible values are noted
        (shown as ``?``, named in the problem)."""
        mismatch = bot_id_problem(bot_id, state)
        if mismatch is not None:  # not this bot's state: the row keeps what it had
            view.note_problem("state", mismatch)
            return
        view.state = state
        view.state_received_s = now_s
        view.doubts = state_doubts(state)
        view.note_problem("state", doubts_problem(view.doubts))

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

    def render(self, now_s: float, width: int = MONITOR_WIDTH) -> Group:
        """The bots table and the last events for a ``width``-column terminal: ``time`` is
        the block's chain time (UTC), ``age`` the time since the bot published the state by
        its own clock (``published_at``; ``5s ahead`` when that clock is ahead of ours).
        Below 80 columns the block and its time are left out; every number is fitted to
        its cell (fewer decimals, then k/M/B/T), never cut."""
        rows = [self._bot_cells(bot_id, now_s) for bot_id in sorted(self.bots)]
        columns, fit = layout(rows, width)
        bots = Table(
            title="hedgebot", box=box.SIMPLE_HEAD, padding=(0, 0), show_edge=False, expand=False
        )
        for name in columns:
            bots.add_column(
                name, justify="left" if name in ("bot", "status") else "right", overflow="fold"
            )
        for cells in rows:
            bots.add_row(*fit.row(cells, columns))
        if not self.bots:
            bots.add_row("(no bots seen)", *[""] * (len(columns) - 1))
        notes = [_note(bot_id, view) for bot_id, view in sorted(self.bots.items())]
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
        return Group(bots, *(note for note in notes if note is not None), events)

    def _bot_cells(self, bot_id: str, now_s: float) -> Cells:
        """One bot's cells by column name: text cells as ``Text`` (peer strings are never
        markup), numbers as Decimals fitted later (:class:`_NumberFit`)."""
        view = self.bots[bot_id]
        status = _text(view.status)
        status.stylize("green" if view.status == "online" else "red")
        bot = _text(bot_id, _BOT_ID_SHOWN)
        state = view.state
        if state is None:
            dashes: Cells = {n: Text("-") for n in BOT_COLUMNS[2:]}
            return {**dashes, "bot": bot, "status": status}
        if view.status == "online":
            status = _trading_status(state) or status
        cells: Cells = {
            "bot": bot,
            "status": status,
            "block": Text(str(state.block)),
            "time": Text(_block_time(state.timestamp)),
            "age": Text(_age(now_s, state.published_at, state.timestamp)),
            "delta": state.delta_base,
            "hedge": state.hedge_base,
            "drift": state.drift_base,
            "margin": state.margin_ratio,
            "net pnl": state.pnl.net,
        }
        aged_by = "timestamp" if state.published_at is None else "published_at"
        sources = {**_CELL_SOURCES, "age": (aged_by,)}
        for column, loc in sources.items():
            if view.doubted(*loc):  # an implausible value: "?", named in the problem
                cells[column] = Text(UNKNOWN)
        return cells


_CELL_SOURCES: dict[str, tuple[str, ...]] = {
    "block": ("block",),
    "time": ("timestamp",),
    "delta": ("delta_base",),
    "hedge": ("hedge_base",),
    "drift": ("drift_base",),
    "margin": ("margin_ratio",),
    "net pnl": ("pnl", "net"),
}
_BOT_ID_SHOWN = 16


_PAUSED_ONLY = (OPERATOR_PAUSE_REASON,)
_NOTE_REASONS = 3  # reasons shown per bot below the table


def _note(bot_id: str, view: BotView) -> Text | None:
    """The lines below the table for a bot: why it is not ``active`` (the state's
    ``trading_reasons``, which name the way out: ``halted: venue refused authentication —
    fix keys, then resume``) and what is wrong with its messages (``no state`` when it has
    none); None when neither. Text from the peer, escaped and bounded; wrapped by the
    console, never cut."""
    name = echo(bot_id, _BOT_ID_SHOWN)
    state = view.state
    if state is None:
        return Text(f"{name}: {view.problem or 'no state'}")
    lines = []
    if state.trading_state not in (None, "active") and state.trading_reasons:
        reasons = "; ".join(echo(r, 96) for r in state.trading_reasons[:_NOTE_REASONS])
        more = len(state.trading_reasons) - _NOTE_REASONS
        lines.append(
            f"{name}: {state.trading_state}: {reasons}" + (f" (+{more})" if more > 0 else "")
        )
    if view.problem is not None:
        lines.append(f"{name}: {view.problem}")
    return Text("\n".join(lines)) if lines else None


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


def _age(now_s: float, published_at: float | None, block_timestamp: int) -> str:
    """Seconds since the bot published the state, by its own clock (``published_at``); the
    block's chain time is shown beside the block, as simulated chains run ahead of the wall.
    A state without ``published_at`` (an older bot) is aged by its block's timestamp."""
    stamp = float(block_timestamp) if published_at is None else published_at
    if not 0 <= stamp < 10**12:
        return "?"
    return fmt_span(now_s - stamp)  # a state stamped ahead of this host: "5s ahead"


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
                console.print(view.render(time.time(), console.width))
                return EXIT_OK
            with Live(
                view.render(time.time(), console.width), console=console, refresh_per_second=2
            ) as live:

                async def refresh() -> None:
                    while True:
                        await asyncio.sleep(0.5)
                        live.update(view.render(time.time(), console.width))

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
