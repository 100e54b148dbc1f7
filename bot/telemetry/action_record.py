"""How an operator action applied outside the engine becomes a row of the commands table.

The kill switch is a flag file the engine reads at every tick, so that it works while the
engine is stuck; the bot's page and ``hedgebot kill`` write that file first, then record the
action here, one way for both: a row of the store's commands table (id with the source's
prefix, ``web-`` or ``cli-``, then 32 hex digits; ``command``; status ``ok`` or ``rejected``;
body ``{"params", "reason"}``), the row the event log, ``hedgebot report`` and the command
listings read. A store that fails or takes over ``timeout_s`` seconds never undoes the
action: the caller is told it was not recorded, and why.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from bot.errors import HedgebotError
from bot.safety import describe_exc
from bot.telemetry.inbox import CommandLedger

__all__ = [
    "CLI_ID_PREFIX",
    "KILL_COMMAND",
    "PAGE_ID_PREFIX",
    "RECORD_TIMEOUT_S",
    "UNRECORDED",
    "action_id",
    "record_action",
]

KILL_COMMAND = "kill_switch"  # how a kill-switch action is recorded among commands
PAGE_ID_PREFIX = "web-"  # an action (or command) from the bot's page
CLI_ID_PREFIX = "cli-"  # an action from ``hedgebot kill``
RECORD_TIMEOUT_S = 5.0  # a store that hangs (the engine holding it) never holds up the action
UNRECORDED = "not recorded in the store"


def action_id(prefix: str) -> str:
    """A new command id: ``prefix`` then a random UUID's 32 hex digits (used once, ever)."""
    return f"{prefix}{uuid.uuid4().hex}"


def action_status(error: str | None) -> Literal["ok", "rejected"]:
    """The row's status: ``ok`` when the action took effect (``error`` None)."""
    return "ok" if error is None else "rejected"


async def record_action(
    ledger: CommandLedger,
    *,
    ts: float,
    command_id: str,
    command: str,
    params: Mapping[str, Any],
    error: str | None,
    timeout_s: float = RECORD_TIMEOUT_S,
) -> str | None:
    """Write the row of one applied action: ``command_id``, ``command``, status ``ok`` (when
    ``error`` is None) or ``rejected``, body ``{"params": params, "reason": error}``, at
    ``ts`` (unix s), given at most ``timeout_s`` seconds (opening the store included, when
    ``ledger`` opens one). Returns None when the row was written, else one line
    ``not recorded in the store: <why>``; never raises for a store that fails (``StoreError``
    or any ``HedgebotError``, ``OSError``) or does not answer."""
    body = {"params": dict(params), "reason": error}
    try:
        async with asyncio.timeout(timeout_s):
            await ledger.record_command(ts, command_id, command, action_status(error), body)
    except TimeoutError:
        return f"{UNRECORDED}: no answer within {timeout_s:g} s"
    except (HedgebotError, OSError) as exc:
        return f"{UNRECORDED}: {describe_exc(exc)}"
    return None
