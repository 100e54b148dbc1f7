"""Per-command argument rules that argparse cannot say: options a command would silently
ignore, and values its own code would only refuse after acting (``cmd --param``: after the
connection to the broker). Called by ``bot.cli_args.check_namespace`` before any command runs.

Commands are told apart by the options they declare (``cmd`` by ``param``, ``report`` by
``fleet_store`` with ``since``): their parsers live beside their features.
"""

from __future__ import annotations

import argparse
import json
import re

from bot.safety import (
    MAX_COMMAND_BYTES,
    MAX_JSON_DEPTH,
    PayloadRejected,
    json_depth,
    loads_bounded,
)

__all__ = ["command_problem", "param_problem"]

# a command parameter's name: what the bot's command schema accepts as a key
_PARAM_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_BOT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # the config's bot_id rule (BOT_ID_PATTERN)


def param_problem(pair: str) -> str | None:
    """Why one ``--param K=V`` cannot be sent, or None.

    ``K`` must be a name (letters, digits, ``_``); ``V`` is read as JSON when it parses
    (``0.8``, ``true``) and sent as a string otherwise, so it must be nested at most
    ``MAX_JSON_DEPTH`` deep and short enough for a command (half of ``MAX_COMMAND_BYTES``):
    a value the bot would refuse is refused here, before anything is published. ``NaN`` and
    ``1e400`` are left to the command's own schema (``cmd``: exit 2 naming the parameter).
    """
    key, sep, value = pair.partition("=")
    if not sep or not key:
        return f"expects key=value, got {pair[:40]!r}"
    if _PARAM_KEY.fullmatch(key) is None:
        return f"key {key[:40]!r} must be a name: a letter or _, then letters, digits or _"
    if len(pair.encode("utf-8", "surrogatepass")) > MAX_COMMAND_BYTES // 2:
        return f"{key}: value too long for a command (at most {MAX_COMMAND_BYTES // 2} bytes)"
    try:
        loads_bounded(value, max_bytes=MAX_COMMAND_BYTES, max_depth=MAX_JSON_DEPTH)
    except PayloadRejected as refused:
        try:  # text that is not JSON at all is sent as a string, as documented; NaN and 1e400
            parsed = json.loads(value, parse_constant=float)  # are left to the command schema
        except json.JSONDecodeError:
            return None
        except (RecursionError, ValueError):
            return f"{key}: {refused}"
        if json_depth(parsed) > MAX_JSON_DEPTH:
            return f"{key}: {refused}"
    return None


def _cmd_problem(args: argparse.Namespace) -> tuple[str, str] | None:
    for pair in args.param or ():
        problem = param_problem(pair)
        if problem is not None:
            return "--param", problem
    return None


def _report_problem(args: argparse.Namespace) -> tuple[str, str] | None:
    """``report``: one bot (``--config``: ``--out``, ``--no-chart``) or a fleet
    (``--store-url``: ``--bot``, ``--since``, ``--pg-schema``), never a mix."""
    fleet = args.fleet_store is not None
    if fleet and args.config is not None:
        return "--config", "give --config (one bot) or --store-url (a fleet), not both"
    if not fleet:
        if args.bot:
            return "--bot", "only with --store-url (a fleet's store)"
        if args.since is not None:
            return "--since", "only with --store-url (a fleet's store)"
        if args.pg_schema != "public":
            return "--pg-schema", "only with --store-url (a fleet's store)"
        return None
    if args.out is not None:
        return "--out", "only with --config (a fleet report draws no chart)"
    for bot in args.bot or ():
        if _BOT_ID.fullmatch(bot) is None:
            return "--bot", f"{bot[:40]!r} is not a bot id: 1-32 characters of A-Z a-z 0-9 _ -"
    if args.since is not None:
        from bot.fleet_report import parse_since

        try:
            parse_since(args.since)
        except ValueError as exc:
            return "--since", str(exc).removeprefix("--since ")
    return None


def command_problem(args: argparse.Namespace) -> tuple[str, str] | None:
    """``(flag, why)`` for the first argument of the parsed command that it would refuse
    late or silently ignore, or None. Path arguments first (``bot.cli_paths``)."""
    from bot.cli_paths import path_problem

    found = path_problem(args)
    if found is not None:
        return found
    names = vars(args)
    if "param" in names:  # cmd: its own --prefix check is exit 4 (operator_cmd.prefix_problem)
        return _cmd_problem(args)
    if "prefix" in names:  # monitor, fleet status, dashboard: a prefix no topic can carry
        from bot.telemetry.operator_cmd import prefix_problem

        problem = prefix_problem(args.prefix)
        if problem is not None:
            return "--prefix", problem.partition(": ")[2]
    if "fleet_store" in names and "since" in names:
        return _report_problem(args)
    return None
