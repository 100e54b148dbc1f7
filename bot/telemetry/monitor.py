"""Operator tools over MQTT: ``hedgebot monitor`` (live view) and ``hedgebot cmd`` (send one).

``monitor`` subscribes to ``<prefix>/+/status``, ``/state`` and ``/events`` and shows one
line per bot plus the last events. ``cmd`` publishes a command with a fresh id and waits for
its ack: exit 0 when applied, 1 when rejected, 2 when no ack came in time, 3 when the broker
cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiomqtt
from pydantic import ValidationError
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bot.telemetry.commands import COMMAND_NAMES
from bot.telemetry.messages import CommandAck, EventMessage, StateMessage
from bot.telemetry.settings import MqttSettings

DEFAULT_URL = "mqtt://127.0.0.1:1883"
EXIT_OK, EXIT_REJECTED, EXIT_TIMEOUT, EXIT_UNREACHABLE = 0, 1, 2, 3
MAX_EVENTS = 10


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

    def apply(self, topic: str, payload: bytes, now_s: float) -> None:
        """Take in one message from ``<prefix>/<bot>/(status|state|events)``."""
        head = f"{self.prefix}/"
        if not topic.startswith(head):
            return
        bot_id, _, kind = topic[len(head) :].partition("/")
        if not bot_id or kind not in ("status", "state", "events"):
            return
        if not payload:  # a cleared retained message
            return
        view = self.bots.setdefault(bot_id, BotView())
        try:
            if kind == "status":
                view.status = payload.decode(errors="replace")
            elif kind == "state":
                view.state = StateMessage.model_validate_json(payload)
                view.state_received_s = now_s
                view.problem = None
            else:
                self.events.append((bot_id, EventMessage.model_validate_json(payload)))
        except ValidationError as exc:
            view.problem = f"bad {kind} payload: {exc.error_count()} error(s)"

    def render(self, now_s: float) -> Group:
        """The bots table and the last events."""
        bots = Table(title="hedgebot", expand=False)
        for name in (
            "bot",
            "status",
            "block",
            "age",
            "delta",
            "hedge",
            "drift",
            "margin",
            "net pnl",
        ):
            bots.add_column(name, justify="left" if name in ("bot", "status") else "right")
        for bot_id in sorted(self.bots):
            view = self.bots[bot_id]
            status = Text(view.status, style="green" if view.status == "online" else "red")
            state = view.state
            if state is None:
                bots.add_row(bot_id, status, *(["-"] * 6), view.problem or "no state")
                continue
            if state.paused:
                status.append(" paused", style="yellow")
            bots.add_row(
                bot_id,
                status,
                str(state.block),
                f"{max(0.0, now_s - state.timestamp):.0f}s",
                _num(state.delta_base),
                _num(state.hedge_base),
                _num(state.drift_base),
                _num(state.margin_ratio),
                _num(state.pnl.net, places=2),
            )
        if not self.bots:
            bots.add_row("(no bots seen)", "", "", "", "", "", "", "", "")
        events = Table(title=f"last {MAX_EVENTS} events", expand=False)
        for name in ("time", "bot", "type", "data"):
            events.add_column(name)
        for bot_id, event in reversed(self.events):
            when = datetime.fromtimestamp(event.ts, UTC).strftime("%H:%M:%S")
            data = json.dumps(event.model_dump(mode="json")["data"], separators=(",", ":"))
            events.add_row(when, bot_id, event.type, data[:100])
        return Group(bots, events)


def _num(value: Decimal | None, places: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{places}f}"


def _client(url: str, username: str | None, password: str | None) -> aiomqtt.Client:
    settings = MqttSettings(url=url)
    return aiomqtt.Client(
        settings.host,
        settings.port,
        username=username,
        password=password,
        identifier=f"hedgebot-cli-{uuid.uuid4().hex[:12]}",
        tls_context=ssl.create_default_context() if settings.tls else None,
        timeout=10,
    )


async def monitor(
    url: str,
    prefix: str,
    *,
    once: bool,
    duration_s: float | None,
    username: str | None = None,
    password: str | None = None,
    console: Console | None = None,
) -> int:
    """Show the live view; with ``once``, collect for ``duration_s`` and print one frame."""
    console = console or Console()
    view = MonitorView(prefix=prefix)
    collect_s = duration_s if duration_s is not None else (1.0 if once else None)
    try:
        async with _client(url, username, password) as client:
            for kind in ("status", "state", "events"):
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
    except aiomqtt.MqttError as exc:
        Console(stderr=True).print(f"[red]cannot reach MQTT broker {url}: {exc}[/red]")
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


async def send_command(
    url: str,
    prefix: str,
    bot_id: str,
    command: str,
    params: dict[str, Any],
    *,
    timeout_s: float,
    username: str | None = None,
    password: str | None = None,
    console: Console | None = None,
) -> int:
    """Publish one command with a fresh id and wait for its ack."""
    console = console or Console()
    command_id = uuid.uuid4().hex
    body = json.dumps({"id": command_id, "command": command, "params": params})
    base = f"{prefix}/{bot_id}"
    try:
        async with _client(url, username, password) as client:
            await client.subscribe(f"{base}/cmd/ack", qos=1)
            await client.publish(f"{base}/cmd", body.encode(), qos=1)
            try:
                async with asyncio.timeout(timeout_s):
                    async for message in client.messages:
                        ack = _parse_ack(message.payload)
                        if ack is None or ack.id != command_id:
                            continue
                        if ack.status == "ok":
                            console.print(f"ok: {command} applied (id {command_id})")
                            return EXIT_OK
                        console.print(f"rejected: {ack.reason} (id {command_id})")
                        return EXIT_REJECTED
            except TimeoutError:
                pass
    except aiomqtt.MqttError as exc:
        Console(stderr=True).print(f"cannot reach MQTT broker {url}: {exc}")
        return EXIT_UNREACHABLE
    console.print(f"timeout: no ack from {bot_id} within {timeout_s:g}s (id {command_id})")
    return EXIT_TIMEOUT


def _parse_ack(payload: object) -> CommandAck | None:
    if not isinstance(payload, bytes | bytearray | str):
        return None
    try:
        return CommandAck.model_validate_json(payload)
    except ValidationError:
        return None


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``k=v`` pairs; each value is read as JSON when it parses (numbers, true), else a string."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param expects key=value, got {pair!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _run_monitor(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(
            monitor(
                args.mqtt_url,
                args.prefix,
                once=args.once,
                duration_s=args.duration,
                username=args.username,
                password=os.environ.get("MQTT_PASSWORD") or None,
            )
        )
    except KeyboardInterrupt:
        return EXIT_OK


def _run_cmd(args: argparse.Namespace) -> int:
    try:
        params = parse_params(args.param)
    except ValueError as exc:
        Console(stderr=True).print(str(exc))
        return EXIT_REJECTED
    return asyncio.run(
        send_command(
            args.mqtt_url,
            args.prefix,
            args.bot,
            args.command,
            params,
            timeout_s=args.timeout,
            username=args.username,
            password=os.environ.get("MQTT_PASSWORD") or None,
        )
    )


def _add_broker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mqtt-url",
        default=os.environ.get("MQTT_URL", DEFAULT_URL),
        help="broker URL, mqtt://host:port or mqtts:// (default: $MQTT_URL or %(default)s)",
    )
    parser.add_argument("--prefix", default="hedgebot", help="topic prefix before the bot id")
    parser.add_argument(
        "--username",
        default=os.environ.get("MQTT_USERNAME") or None,
        help="broker user (default $MQTT_USERNAME); the password is read from $MQTT_PASSWORD",
    )


def add_subcommands(subparsers: Any) -> None:
    """Register ``monitor`` and ``cmd``; each sets ``args.func(args) -> int``."""
    mon = subparsers.add_parser("monitor", help="live view of every bot on the broker")
    _add_broker_options(mon)
    mon.add_argument("--once", action="store_true", help="print one frame and exit")
    mon.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds (with --once: how long to collect, default 1)",
    )
    mon.set_defaults(func=_run_monitor)

    cmd = subparsers.add_parser("cmd", help="send one command to a bot and wait for its ack")
    cmd.add_argument("bot", metavar="BOT", help="bot id")
    cmd.add_argument(
        "command", metavar="COMMAND", choices=COMMAND_NAMES, help=" | ".join(COMMAND_NAMES)
    )
    cmd.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="command parameter, repeatable (e.g. --param value=0.8, --param confirm=true)",
    )
    _add_broker_options(cmd)
    cmd.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the ack")
    cmd.set_defaults(func=_run_cmd)
