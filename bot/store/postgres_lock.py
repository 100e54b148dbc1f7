"""One bot per bot_id in a shared PostgreSQL database: the session advisory lock and its
connection, on which every write of the bot runs.

PostgreSQL holds a session advisory lock for as long as the session that took it lives, and
drops it with the connection. Writes go through that same connection, so a write that
commits proves the lock was held at its commit. When the connection is lost (the server
restarted, a network cut, an idle timeout of something in between), the next write first
connects again and re-takes the lock; if another process took it in the meantime (a second
process of the same bot id), the write is refused with ``StoreError`` naming that holder, and
nothing is written.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from bot.errors import StoreError
from bot.safety import safe_str

__all__ = ["BotLock", "bot_lock_key"]

_APPLICATION_NAME_MAX = 63  # PostgreSQL's NAMEDATALEN - 1
_OWN_BACKEND_POLL_S = 0.05


def bot_lock_key(bot_id: str, schema: str) -> int:
    """The 64-bit advisory lock key of one bot in one schema (BLAKE2b of its name)."""
    digest = hashlib.blake2b(f"hedgebot:{schema}:{bot_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_application_name(bot_id: str) -> str:
    """``hedgebot-lock <host>:<pid> <bot_id>``, cut to PostgreSQL's 63 bytes: what another
    process is told when this one holds the lock."""
    name = f"hedgebot-lock {socket.gethostname()}:{os.getpid()} {bot_id}"
    return name.encode("ascii", "replace")[:_APPLICATION_NAME_MAX].decode("ascii")


@dataclass(frozen=True, slots=True)
class LockHolder:
    """The session holding a bot's lock, as ``pg_locks`` and ``pg_stat_activity`` show it
    (fields the server hides from another role are ``None``)."""

    pid: int
    application_name: str | None
    client: str | None
    backend_start: str | None

    def describe(self) -> str:
        """``server pid 123, application 'hedgebot-lock host:42 bot1', client 10.0.0.5:5123,
        connected 2025-01-01 12:00:00+00``, leaving out what is unknown."""
        parts = [f"server pid {self.pid}"]
        if self.application_name:
            parts.append(f"application {self.application_name!r}")
        if self.client:
            parts.append(f"client {self.client}")
        if self.backend_start:
            parts.append(f"connected {self.backend_start}")
        return ", ".join(parts)


_HOLDER_SQL = """
SELECT l.pid, a.application_name, host(a.client_addr) || ':' || a.client_port,
       to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SSOF')
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = %(high)s::bigint::oid AND l.objid = %(low)s::bigint::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


async def lock_holder(conn: psycopg.AsyncConnection[Any], key: int) -> LockHolder | None:
    """Who holds the advisory lock ``key`` in this database (``pg_locks`` splits a bigint
    key into its high and low 32 bits, ``objsubid`` 1), or ``None`` when nobody does."""
    params = {"high": (key >> 32) & 0xFFFF_FFFF, "low": key & 0xFFFF_FFFF}
    cur = await conn.execute(_HOLDER_SQL, params)
    row = await cur.fetchone()
    if row is None:
        return None
    return LockHolder(int(row[0]), row[1] or None, row[2] or None, row[3] or None)


class BotLock:
    """The bot's lock connection: taken at open, re-taken before the first write after the
    connection was lost. Writes run on :meth:`connection`; reads use the store's pool."""

    def __init__(
        self, url: str, kwargs: dict[str, Any], bot_id: str, schema: str, where: str
    ) -> None:
        self._url = url
        self.connect_kwargs = {**kwargs, "application_name": lock_application_name(bot_id)}
        self.bot_id = bot_id
        self.key = bot_lock_key(bot_id, schema)
        self._where = where
        self._timeout_s = float(kwargs.get("connect_timeout", 5))
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._pid: int | None = None  # the server pid of the session holding the lock
        self._lost_pid: int | None = None  # ... and of the one that was lost
        self.retakes = 0  # how often the lock was taken again after a lost connection

    async def take(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Hold the lock on ``conn`` (a connection opened by the caller with this lock's
        settings, e.g. the one that migrated), or ``StoreError`` naming the holder."""
        await self._try_lock(conn, lost=False)
        self._conn = conn

    async def connection(self) -> psycopg.AsyncConnection[Any]:
        """The connection holding the lock. A lost one (closed or broken) is replaced: connect,
        take the lock again, or ``StoreError`` (server unreachable: ``store write failed``;
        another process holds the lock: ``lost its lock``, naming the holder)."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        await self.forget()
        try:
            conn = await psycopg.AsyncConnection.connect(self._url, **self.connect_kwargs)
        except psycopg.Error as exc:
            raise StoreError(f"store write failed ({self._where}): {_first_line(exc)}") from exc
        try:
            await self._try_lock(conn, lost=True)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self.retakes += 1
        return conn

    async def forget(self) -> None:
        """Drop a lost connection (the server has released, or will release, its lock)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._lost_pid = self._pid
            await conn.close()

    async def close(self) -> None:
        """Release the lock by closing its connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _try_lock(self, conn: psycopg.AsyncConnection[Any], *, lost: bool) -> None:
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
                row = await cur.fetchone()
                if row is not None and row[0] is True:
                    self._pid, self._lost_pid = conn.info.backend_pid, None
                    return
                holder = await lock_holder(conn, self.key)
            except psycopg.Error as exc:
                raise StoreError(f"store write failed ({self._where}): {_first_line(exc)}") from exc
            own_dying = holder is not None and holder.pid == self._lost_pid
            if (holder is None or own_dying) and time.monotonic() < deadline:
                # our own lost session, not yet ended by the server, or a holder that just left
                await asyncio.sleep(_OWN_BACKEND_POLL_S)
                continue
            raise StoreError(self._refusal(holder, lost=lost))

    def _refusal(self, holder: LockHolder | None, *, lost: bool) -> str:
        who = holder.describe() if holder is not None else "a session that has since ended"
        if lost:
            return (
                f"bot {self.bot_id} lost its lock on {self._where} (its connection dropped) "
                f"and another process holds it now ({who}; lock {self.key}): nothing written; "
                "stop one of the two processes"
            )
        return (
            f"bot {self.bot_id} is already running against {self._where} (another process "
            f"holds its lock {self.key}: {who}): stop it first, or give this bot its own bot_id"
        )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return safe_str(lines[0]) if lines else type(exc).__name__
