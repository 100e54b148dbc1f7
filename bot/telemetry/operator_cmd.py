"""``hedgebot cmd``: send one signed command to a bot and wait for its signed ack.

Exit 0 when applied, 1 when rejected, 2 when no (validly signed) ack came in time or the
arguments are unusable (argparse: a BOT that is not a bot id; params the bot's own schema
refuses, named: ``params.value: must be a finite number``; both checked before connecting), 3
when the broker cannot be reached or drops the connection, 4 when no usable operator key,
broker URL or topic prefix was given. Never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import time
import uuid
from collections.abc import Coroutine
from typing import Any

import aiomqtt
from pydantic import ValidationError
from rich.console import Console

from bot.config_checks import BOT_ID_PATTERN
from bot.errors import ConfigError
from bot.number_text import is_ascii_number
from bot.safety import MAX_COMMAND_BYTES, loads_bounded, mask_url
from bot.telemetry.auth import OPERATOR_KEY_ENV, OperatorKey, operator_key_from_env
from bot.telemetry.cli_support import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    add_broker_options,
    broker_client,
    broker_url,
    say,
)
from bot.telemetry.command_text import echo
from bot.telemetry.commands import COMMAND_NAMES, Rejection, parse_command
from bot.telemetry.inbox import message_ref
from bot.telemetry.messages import CommandAck

# hand-wrapped within 76 columns: the help formatter keeps lines that fit as written
CMD_DESCRIPTION = f"""\
Send one command to a bot and wait for its ack.

Authentication: the command is signed with the operator key from
${OPERATOR_KEY_ENV}, the same key the bot was started with (at least 32
characters; make one with
  python -c "import secrets; print(secrets.token_hex(32))"
). The key is read from the environment only, never from a file or an
option, and never printed. Wire form:
  {{"id": <fresh uuid>, "command": ..., "params": {{...}},
   "ts": <unix seconds>, "sig": <hex>}}
  sig = HMAC-SHA256(key, "<prefix>/<bot>/cmd" + "\\n" + canonical JSON)
where the canonical JSON is the object without sig: sorted keys, no
whitespace, ASCII escapes. The bot refuses unsigned, badly signed, stale
(ts more than mqtt.command_max_age_s, default 60 s, from its clock),
retained and replayed commands. Its ack is signed the same way over
"<prefix>/<bot>/cmd/ack" and carries ref = SHA-256 of the exact bytes of
the command it answers: acks without a valid signature, or bound to
another copy of the command, are ignored. Details: docs/mqtt.md, "Signing".

BOT is a bot id as in the config (1-32 of A-Z a-z 0-9 _ -): anything else,
a topic wildcard ('#', '+') or a '.' included, is refused before connecting
(exit 2).

Exit codes: 0 applied, 1 rejected, 2 no valid ack in time or a bad
argument, 3 broker unreachable or connection dropped, 4 no operator key or
an unusable --mqtt-url / --prefix.
"""

_BOT_ID = re.compile(BOT_ID_PATTERN)


def bot_id_arg(text: str) -> str:
    """argparse ``type`` of BOT: the config's ``bot_id`` rule (``BOT_ID_PATTERN``), so a
    wildcard or a '.' never reaches the broker. ``ArgumentTypeError`` naming the rule."""
    if _BOT_ID.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(
            f"{echo(text, 64)!r} is not a bot id: 1-32 characters of A-Z a-z 0-9 _ - "
            "(the config's bot_id rule)"
        )
    return text


def prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` cannot be a topic prefix (the config's ``mqtt.topic_prefix`` rule: not
    empty, no '+' or '#', no '/' at either end, no NUL), or None."""
    if not prefix or any(ch in prefix for ch in "+#\0") or prefix[0] == "/" or prefix[-1] == "/":
        return (
            f"--prefix {echo(prefix, 64)!r}: must be non-empty, without + # or NUL, not "
            "starting or ending with /"
        )
    return None


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
    url_source: str = "--mqtt-url",
) -> int:
    """Publish one command, signed with ``operator_key``, and wait for its signed ack.

    Returns an exit code (module docstring). Acks without a valid signature are ignored (an
    open broker lets anyone publish on ``cmd/ack``), so a forged ``ok`` is never believed, and
    so are acks bound (``ref``) to another message: a copy of our command re-published by
    someone else is answered for that copy, never for ours.
    """
    console = console or Console()
    errors = Console(stderr=True)
    if operator_key is None:
        say(errors, f"no operator key: set {OPERATOR_KEY_ENV} (the key the bot was started with)")
        return EXIT_USAGE
    command_id = uuid.uuid4().hex
    base = f"{prefix}/{bot_id}"
    body = {"id": command_id, "command": command, "params": params, "ts": int(time.time())}
    payload = json.dumps(operator_key.signed(f"{base}/cmd", body)).encode()
    connected = False
    try:
        async with broker_client(url, username, password, url_source) as client:
            connected = True
            await client.subscribe(f"{base}/cmd/ack", qos=1)
            await client.publish(f"{base}/cmd", payload, qos=1)
            ack, badly_signed = await _wait_ack(
                client, f"{base}/cmd/ack", message_ref(payload), operator_key, timeout_s
            )
    except ConfigError as exc:
        say(errors, str(exc))
        return EXIT_USAGE
    except aiomqtt.MqttError as exc:
        say(errors, _broker_failure(url, base, exc, connected=connected))
        return EXIT_UNREACHABLE
    if ack is None:
        say(console, f"timeout: no ack from {bot_id} within {timeout_s:g}s (id {command_id})")
        if badly_signed:
            say(errors, _other_key_hint(bot_id, badly_signed), "yellow")
        return EXIT_TIMEOUT
    if ack.status == "ok":
        say(console, f"ok: {command} applied (id {command_id})")
        return EXIT_OK
    say(console, f"rejected: {echo(ack.reason or '', 300)} (id {command_id})")
    return EXIT_REJECTED


def _other_key_hint(bot_id: str, badly_signed: int) -> str:
    """Why only badly signed acks answered our exact message: most likely the bot runs with
    another operator key (it answered "bad signature", signed with its own)."""
    acks = "an ack" if badly_signed == 1 else f"{badly_signed} acks"
    return (
        f"hint: {acks} answered this very command but not signed with your key: "
        f"{OPERATOR_KEY_ENV} probably differs from the key {bot_id} was started with"
    )


def _broker_failure(url: str, base: str, exc: Exception, *, connected: bool) -> str:
    """One line for a broker that could not be reached, or that dropped us once connected
    (NATS's MQTT listener closes the connection on a topic holding '.' or ' ')."""
    if not connected:
        return f"cannot reach MQTT broker {mask_url(url)}: {exc}"
    line = (
        f"MQTT broker {mask_url(url)} dropped the connection ({exc}) on topic {echo(base, 80)}/cmd"
    )
    if any(ch in base for ch in ". "):
        line += ": NATS's MQTT listener refuses '.' and ' ' in topics (docs/mqtt.md)"
    return line


def _quiet_mqtt_futures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Loop exception handler: a broker error left in a future nobody awaits (aiomqtt, after
    the broker dropped the connection) is already reported as one line; anything else goes to
    the default handler."""
    if isinstance(context.get("exception"), aiomqtt.MqttError):
        return
    loop.default_exception_handler(context)


async def _quietly(coro: Coroutine[Any, Any, int]) -> int:
    asyncio.get_running_loop().set_exception_handler(_quiet_mqtt_futures)
    code: int = await coro
    return code


async def _wait_ack(
    client: aiomqtt.Client, topic: str, ref: str, key: OperatorKey, timeout_s: float
) -> tuple[CommandAck | None, int]:
    """The first validly signed ack on ``topic`` bound to the message we sent (its ``ref``
    is ``ref``), or None after ``timeout_s``; and how many acks bound to it were not signed
    with ``key`` (a bot with another key, or a forger). Acks for other copies of our command
    (a forged or replayed one, answered by the bot too) are bound to those copies and
    ignored."""
    badly_signed = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for message in client.messages:
                parsed = _parse_ack(message.payload)
                if parsed is None or parsed[0].ref != ref:
                    continue
                ack, raw = parsed
                if key.verify(topic, raw):
                    return ack, badly_signed
                badly_signed += 1
                if badly_signed == 1:
                    say(Console(stderr=True), "ignored an ack with no valid signature", "yellow")
    except TimeoutError:
        return None, badly_signed
    return None, badly_signed


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
    """``k=v`` pairs; each value is read as JSON when it parses (numbers, true), else a string.

    A finite number is taken only as typed in ASCII decimal notation (``bot.number_text``):
    JSON also reads `` 1 `` as 1, so such text stays text and the schema refuses it naming
    the param, as it refuses ``0.2_5`` or ``１``."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param expects key=value, got {pair!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        loose = isinstance(parsed, int | float) and not isinstance(parsed, bool)
        if loose and math.isfinite(parsed) and not is_ascii_number(value):
            parsed = value
        params[key] = parsed
    return params


def params_problem(command: str, params: dict[str, Any]) -> str | None:
    """Why the bot would refuse ``command`` with ``params`` by its own schema
    (``bot.telemetry.commands.parse_command``: fields named, e.g. ``params.value: ...``), or
    None. Checked before signing, so a bad value (``value=nan``) is never published."""
    body = {"id": "local-check", "command": command, "params": params}
    checked = parse_command(json.dumps(body, allow_nan=True))
    return checked.reason if isinstance(checked, Rejection) else None


def _run_cmd(args: argparse.Namespace) -> int:
    try:
        params = parse_params(args.param)
    except ValueError as exc:
        say(Console(stderr=True), str(exc))
        return EXIT_REJECTED
    problem = params_problem(args.command, params)
    if problem is not None:  # 2: unusable arguments, as argparse's refusals
        say(Console(stderr=True), f"cmd {args.command}: {problem} (not sent)")
        return EXIT_TIMEOUT
    try:
        operator_key = operator_key_from_env(os.environ)
    except ConfigError as exc:
        say(Console(stderr=True), str(exc))
        return EXIT_USAGE
    problem = prefix_problem(args.prefix)
    if problem is not None:
        say(Console(stderr=True), problem)
        return EXIT_USAGE
    url, source = broker_url(args.mqtt_url)
    return asyncio.run(
        _quietly(
            send_command(
                url,
                args.prefix,
                args.bot,
                args.command,
                params,
                timeout_s=args.timeout,
                operator_key=operator_key,
                username=args.username,
                password=os.environ.get("MQTT_PASSWORD") or None,
                url_source=source,
            )
        )
    )


def add_cmd_parser(subparsers: Any) -> None:
    """Register ``cmd``; it sets ``args.func(args) -> int``."""
    cmd = subparsers.add_parser(
        "cmd",
        help="send one signed command to a bot and wait for its signed ack",
        description=CMD_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument(
        "bot", metavar="BOT", type=bot_id_arg, help="bot id (the config's bot_id: A-Z a-z 0-9 _ -)"
    )
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
    add_broker_options(cmd)
    cmd.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the ack")
    cmd.set_defaults(func=_run_cmd)
