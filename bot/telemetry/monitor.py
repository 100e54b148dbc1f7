"""Operator tools over MQTT: ``hedgebot monitor`` (live view) and ``hedgebot cmd`` (send one).

``monitor`` subscribes to ``<prefix>/+/status``, ``/state`` and ``/events`` and shows one
line per bot plus the last events; everything it shows came from the broker and is rendered as
plain text, never as rich markup. ``cmd`` publishes a command with a fresh id, signed with the
operator key (``HEDGEBOT_OPERATOR_KEY``), and waits for the bot's signed ack: exit 0 when
applied, 1 when rejected, 2 when no (validly signed) ack came in time, 3 when the broker cannot
be reached, 4 when no usable operator key or broker URL was given.
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

from bot.errors import ConfigError
from bot.safety import MAX_COMMAND_BYTES, loads_bounded, mask_url
from bot.telemetry.auth import OPERATOR_KEY_ENV, OperatorKey, operator_key_from_env
from bot.telemetry.commands import COMMAND_NAMES, echo
from bot.telemetry.messages import CommandAck, EventMessage, StateMessage
from bot.telemetry.settings import MqttSettings, broker_url_problem

DEFAULT_URL = "mqtt://127.0.0.1:1883"
EXIT_OK, EXIT_REJECTED, EXIT_TIMEOUT, EXIT_UNREACHABLE, EXIT_USAGE = 0, 1, 2, 3, 4
MAX_EVENTS = 10
MAX_MONITOR_PAYLOAD_BYTES = 1024 * 1024  # a state is a few KB; larger is hostile
_SHOWN_MAGNITUDE = Decimal("1e15")  # beyond this numbers are shown in scientific notation


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
        if len(payload) > MAX_MONITOR_PAYLOAD_BYTES:
            view.problem = f"bad {kind} payload: {len(payload)} bytes"
            return
        try:
            if kind == "status":
                view.status = echo(payload.decode(errors="replace"), 16)
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
            bots.add_row(*self._bot_row(bot_id, now_s))
        if not self.bots:
            bots.add_row("(no bots seen)", "", "", "", "", "", "", "", "")
        events = Table(title=f"last {MAX_EVENTS} events", expand=False)
        for name in ("time", "bot", "type", "data"):
            events.add_column(name)
        for bot_id, event in reversed(self.events):
            events.add_row(
                Text(_clock_time(event.ts)), _text(bot_id), Text(event.type), _data(event)
            )
        return Group(bots, events)

    def _bot_row(self, bot_id: str, now_s: float) -> list[Text]:
        """One table row; every cell is ``Text`` (peer strings are never markup)."""
        view = self.bots[bot_id]
        status = _text(view.status)
        status.stylize("green" if view.status == "online" else "red")
        state = view.state
        if state is None:
            return [_text(bot_id), status, *[Text("-")] * 6, _text(view.problem or "no state")]
        if state.paused:
            status.append(" paused", style="yellow")
        cells = [
            _int(state.block),
            Text(_age(now_s, state.timestamp)),
            Text(_num(state.delta_base)),
            Text(_num(state.hedge_base)),
            Text(_num(state.drift_base)),
            Text(_num(state.margin_ratio)),
            Text(_num(state.pnl.net, places=2)),
        ]
        return [_text(bot_id), status, *cells]


def _text(value: str, limit: int = 64) -> Text:
    """Untrusted text as rich ``Text``: shown literally (``[/evil]`` is not markup), bounded."""
    return Text(echo(value, limit))


def _int(value: int) -> Text:
    return Text(str(value) if abs(value) < 10**18 else "huge")


def _age(now_s: float, timestamp: int) -> str:
    if not 0 <= timestamp < 10**12:
        return "?"
    return f"{max(0.0, now_s - timestamp):.0f}s"


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


def _num(value: Decimal | None, places: int = 4) -> str:
    if value is None:
        return "-"
    if not value.is_finite():
        return str(value)
    if abs(value) >= _SHOWN_MAGNITUDE:
        return f"{value:.3e}"
    return f"{value:.{places}f}"


def _client(url: str, username: str | None, password: str | None) -> aiomqtt.Client:
    """Raises ``ConfigError`` (never showing the URL's secrets) for a URL we do not accept."""
    problem = broker_url_problem(url)
    if problem is not None:
        raise ConfigError(f"--mqtt-url {mask_url(url)}: {problem}")
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
    except ConfigError as exc:
        _say(Console(stderr=True), str(exc))
        return EXIT_USAGE
    except aiomqtt.MqttError as exc:
        _say(Console(stderr=True), f"cannot reach MQTT broker {mask_url(url)}: {exc}", "red")
        return EXIT_UNREACHABLE
    return EXIT_OK


def _say(console: Console, line: str, style: str | None = None) -> None:
    """Print ``line`` literally (it may hold peer text: no markup, no emoji codes)."""
    console.print(Text(line, style=style or ""))


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
    operator_key: OperatorKey | None = None,
    username: str | None = None,
    password: str | None = None,
    console: Console | None = None,
) -> int:
    """Publish one command, signed with ``operator_key``, and wait for its signed ack.

    Returns an exit code (module docstring). Acks without a valid signature are ignored (an
    open broker lets anyone publish on ``cmd/ack``), so a forged ``ok`` is never believed.
    """
    console = console or Console()
    errors = Console(stderr=True)
    if operator_key is None:
        _say(errors, f"no operator key: set {OPERATOR_KEY_ENV} (the key the bot was started with)")
        return EXIT_USAGE
    command_id = uuid.uuid4().hex
    base = f"{prefix}/{bot_id}"
    body = {"id": command_id, "command": command, "params": params, "ts": int(time.time())}
    payload = json.dumps(operator_key.signed(f"{base}/cmd", body)).encode()
    try:
        async with _client(url, username, password) as client:
            await client.subscribe(f"{base}/cmd/ack", qos=1)
            await client.publish(f"{base}/cmd", payload, qos=1)
            ack = await _wait_ack(client, f"{base}/cmd/ack", command_id, operator_key, timeout_s)
    except ConfigError as exc:
        _say(errors, str(exc))
        return EXIT_USAGE
    except aiomqtt.MqttError as exc:
        _say(errors, f"cannot reach MQTT broker {mask_url(url)}: {exc}")
        return EXIT_UNREACHABLE
    if ack is None:
        _say(console, f"timeout: no ack from {bot_id} within {timeout_s:g}s (id {command_id})")
        return EXIT_TIMEOUT
    if ack.status == "ok":
        _say(console, f"ok: {command} applied (id {command_id})")
        return EXIT_OK
    _say(console, f"rejected: {echo(ack.reason or '', 300)} (id {command_id})")
    return EXIT_REJECTED


async def _wait_ack(
    client: aiomqtt.Client, topic: str, command_id: str, key: OperatorKey, timeout_s: float
) -> CommandAck | None:
    """The first validly signed ack for ``command_id`` on ``topic``; None after ``timeout_s``."""
    forged = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for message in client.messages:
                parsed = _parse_ack(message.payload)
                if parsed is None or parsed[0].id != command_id:
                    continue
                ack, raw = parsed
                if key.verify(topic, raw):
                    return ack
                forged += 1
                if forged == 1:
                    _say(Console(stderr=True), "ignored an ack with no valid signature", "yellow")
    except TimeoutError:
        return None
    return None


def _parse_ack(payload: object) -> tuple[CommandAck, dict[str, Any]] | None:
    """The ack and its raw JSON object (what the signature covers), or None."""
    if not isinstance(payload, bytes | bytearray) or len(payload) > MAX_COMMAND_BYTES:
        return None
    try:
        raw = loads_bounded(bytes(payload), max_bytes=MAX_COMMAND_BYTES)
        if not isinstance(raw, dict):
            return None
        return CommandAck.model_validate(raw), raw
    except (ValidationError, ValueError):
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
        _say(Console(stderr=True), str(exc))
        return EXIT_REJECTED
    try:
        operator_key = operator_key_from_env(os.environ)
    except ConfigError as exc:
        _say(Console(stderr=True), str(exc))
        return EXIT_USAGE
    return asyncio.run(
        send_command(
            args.mqtt_url,
            args.prefix,
            args.bot,
            args.command,
            params,
            timeout_s=args.timeout,
            operator_key=operator_key,
            username=args.username,
            password=os.environ.get("MQTT_PASSWORD") or None,
        )
    )


def _add_broker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mqtt-url",
        default=os.environ.get("MQTT_URL", DEFAULT_URL),
        help="broker URL, mqtt://host:port or mqtts:// (default: $MQTT_URL or %(default)s); "
        "no user:password@ in it: use --username and $MQTT_PASSWORD",
    )
    parser.add_argument("--prefix", default="hedgebot", help="topic prefix before the bot id")
    parser.add_argument(
        "--username",
        default=os.environ.get("MQTT_USERNAME") or None,
        help="broker user (default $MQTT_USERNAME); the password is read from $MQTT_PASSWORD",
    )


CMD_DESCRIPTION = f"""\
Send one command to a bot and wait for its ack.

Authentication: the command is signed with the operator key from ${OPERATOR_KEY_ENV} (the
same key the bot was started with; at least 32 characters, e.g. `python -c "import secrets;
print(secrets.token_hex(32))"`). The key is read from the environment only, never from a
file or an option, and never printed. Wire form:
  {{"id": <fresh uuid>, "command": ..., "params": {{...}}, "ts": <unix seconds>, "sig": <hex>}}
sig = HMAC-SHA256(key, "<prefix>/<bot>/cmd" + "\\n" + canonical JSON of the object without
sig), canonical = sorted keys, no whitespace, ASCII escapes. The bot refuses unsigned, badly
signed, stale (ts more than mqtt.command_max_age_s, default 60 s, from its clock), retained
and replayed commands. Its ack is signed the same way over "<prefix>/<bot>/cmd/ack"; acks
without a valid signature are ignored. Details: docs/mqtt.md, "Signing".

Exit codes: 0 applied, 1 rejected, 2 no valid ack in time, 3 broker unreachable,
4 no operator key or an unusable --mqtt-url.
"""


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

    cmd = subparsers.add_parser(
        "cmd",
        help="send one signed command to a bot and wait for its signed ack",
        description=CMD_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
