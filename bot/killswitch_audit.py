"""``hedgebot kill``'s audit row: the action recorded in the bot's store like the page's.

The flag file is written first (the switch never waits on the store); then the configured
store is opened for one row (:func:`bot.telemetry.action_record.record_action`, the page's
own way: command ``kill_switch``, id ``cli-`` + 32 hex digits) and closed again, all within
``RECORD_TIMEOUT_S``. A store that is locked, unreachable, cannot be opened or does not
exist yet (a SQLite file is never created for this) leaves the action standing and unrecorded:
the caller says so in one line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bot.errors import StoreError
from bot.safety import printable
from bot.telemetry.action_record import (
    CLI_ID_PREFIX,
    KILL_COMMAND,
    RECORD_TIMEOUT_S,
    action_id,
    record_action,
)

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.ports import Clock

__all__ = ["KillRecord", "record_cli_kill", "store_name"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class KillRecord:
    """The command id given to one CLI action and, when its row was not written, why
    (``not recorded in the store: …``; None: recorded)."""

    command_id: str
    unrecorded: str | None


def store_name(settings: Settings) -> str:
    """The store as messages name it: the SQLite path, or the PostgreSQL server, database
    and schema (no password), escaped for one terminal line."""
    from bot.store.postgres import describe_url

    config = settings.store
    if config.url is None:
        return printable(str(config.path), 300)
    return printable(describe_url(config.url, config.pg_schema), 300)


class _StoreOnce:
    """A ``CommandLedger`` that opens the configured store for one row and closes it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def record_command(
        self, ts: float, command_id: str, command: str, status: str, body: dict[str, Any]
    ) -> None:
        from bot.store import open_store

        config = self._settings.store
        if config.url is None and not config.path.exists():
            raise StoreError(f"no store at {config.path} yet (the bot has not run with it)")
        store = await open_store(self._settings)
        try:
            await store.record_command(ts, command_id, command, status, body)
        finally:
            await store.close()


def record_cli_kill(
    settings: Settings,
    clock: Clock,
    params: Mapping[str, Any],
    error: str | None,
    *,
    timeout_s: float = RECORD_TIMEOUT_S,
) -> KillRecord:
    """Record one ``hedgebot kill`` action (``error``: why the flag file could not be
    written, None: it took effect) in the store of ``settings``: a ``kill_switch`` row with
    ``params`` (``{"mode", "reason"}``), within ``timeout_s`` seconds. Blocks until done
    (an event loop of its own); never raises for the store."""
    command_id = action_id(CLI_ID_PREFIX)
    writing = record_action(
        _StoreOnce(settings),
        ts=clock.now(),
        command_id=command_id,
        command=KILL_COMMAND,
        params=params,
        error=error,
        timeout_s=timeout_s,
    )
    return KillRecord(command_id, _run_to_end(writing))


def _run_to_end(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` on a new event loop; on a thread of its own when this thread already
    runs one (``bot.cli.main`` called from async code: an embedding, a test)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hedgebot-kill") as worker:
        return worker.submit(asyncio.run, coro).result()
