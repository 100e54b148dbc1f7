"""Append-only PostgreSQL store (psycopg 3 with a connection pool): a fleet's shared record.

Same contract and queries as the SQLite store (:class:`bot.store.base.RecordStore`); the
schema is the same migration list in PostgreSQL's SQL with ``bot_id`` leading every key, so
many bots share one database and none sees another's intents, fills, commands or meta. A
database that cannot be reached raises ``StoreError`` on every read or write (the engine does
not trade without its record); the pool reconnects on its own, so the bot resumes when the
server is back. The password comes from the environment only (``StoreConfig``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.errors import StoreError
from bot.safety import safe_str
from bot.store.base import RecordStore, SqlSession
from bot.store.dialect import Dialect
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.postgres_schema import migrate_postgresql

__all__ = ["PostgresStore", "describe_url"]

_POOL_SIZE = 4  # the engine writes one at a time; dashboards and reports read beside it
_DB_ERRORS = (psycopg.Error, PoolTimeout)


def describe_url(url: str, schema: str) -> str:
    """``postgresql://user@host:port/db`` as written, plus its schema (no password: the
    config refuses a URL that carries one, and the query string is dropped)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path} (schema {schema})"


class _PgSession:
    """Statements on one pooled connection; driver errors become ``StoreError``."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        try:
            cur = await self._conn.execute(sql, params)
        except psycopg.Error as exc:
            raise StoreError(f"store write failed: {safe_str(exc)}") from exc
        return cur.rowcount

    async def fetchall(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        try:
            cur = await self._conn.execute(sql, params)
            return list(await cur.fetchall())
        except psycopg.Error as exc:
            raise StoreError(f"store read failed: {safe_str(exc)}") from exc


class PostgresStore(RecordStore):
    """One bot's view of a shared PostgreSQL store. Open with ``await PostgresStore.open``."""

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        dialect: Dialect,
        where: str,
        path: Path,
        owner: psycopg.AsyncConnection[Any] | None = None,
    ) -> None:
        super().__init__(dialect, path)
        self._pool = pool
        self._owner = owner  # holds the bot's advisory lock while the store is open
        self.where = where  # the server, database and schema, for messages (no password)

    @classmethod
    async def open(
        cls,
        url: str,
        bot_id: str,
        *,
        path: Path,
        schema: str = "public",
        password: str | None = None,
        timeout_s: float = 5.0,
        read_only: bool = False,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> PostgresStore:
        """Connect a pool to ``url`` (tables in ``schema``), apply the migrations the database
        lacks, and scope every statement to ``bot_id``. ``path`` names where local files go
        (the kill switch). ``read_only`` (reports) migrates nothing and runs every session
        read-only. Raises ``StoreError`` naming the server when it cannot be reached within
        ``timeout_s`` seconds, refuses the login, or holds a newer schema."""
        where = describe_url(url, schema)
        # the pool's reconnect warnings would reach stderr raw, beside the JSON log; what
        # they say arrives as the StoreError of the write or read that needed the server
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        options = f"-c search_path={schema}"
        if read_only:
            options += " -c default_transaction_read_only=on"
        kwargs: dict[str, Any] = {
            "autocommit": True,  # transactions are explicit (RecordStore.transaction)
            "connect_timeout": max(1, round(timeout_s)),
            "options": options,
            "application_name": f"hedgebot-{bot_id}",
        }
        if password is not None:
            kwargs["password"] = password
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            url,
            kwargs=kwargs,
            min_size=1,
            max_size=_POOL_SIZE,
            timeout=timeout_s,
            open=False,
            name=f"hedgebot-{bot_id}",
        )
        owner: psycopg.AsyncConnection[Any] | None = None
        try:
            # one direct connection first: its error says why (refused, login, no database)
            owner = await psycopg.AsyncConnection.connect(url, **kwargs)
            if read_only:
                await owner.execute("SELECT version FROM schema_version LIMIT 1")
            else:
                await migrate_postgresql(owner, bot_id, migrations)
                await _take_bot_lock(owner, bot_id, schema, where)
            await pool.open(wait=True, timeout=timeout_s)
        except BaseException as exc:
            if owner is not None:
                await owner.close()
            await pool.close()
            if isinstance(exc, _DB_ERRORS):
                raise StoreError(f"store {where} cannot be used: {_reason(exc)}") from None
            raise
        if read_only:
            await owner.close()
            owner = None
        return cls(pool, Dialect.postgresql(bot_id), where, path, owner)

    async def fleet_bot_ids(self) -> list[str]:
        """Every bot with a snapshot in this database and schema, sorted (fleet queries:
        the one read not scoped to this store's bot)."""
        async with self._reader() as session:
            rows = await session.fetchall("SELECT DISTINCT bot_id FROM snapshots ORDER BY 1", {})
        return [str(row[0]) for row in rows]

    async def close(self) -> None:
        """Close the pool and its connections (releasing the bot's lock)."""
        if self._owner is not None:
            await self._owner.close()
        await self._pool.close()

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[SqlSession]:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                yield _PgSession(conn)
        except _DB_ERRORS as exc:
            raise StoreError(f"store write failed ({self.where}): {_reason(exc)}") from exc

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[SqlSession]:
        try:
            async with self._pool.connection() as conn:
                yield _PgSession(conn)
        except _DB_ERRORS as exc:
            raise StoreError(f"store read failed ({self.where}): {_reason(exc)}") from exc


def bot_lock_key(bot_id: str, schema: str) -> int:
    """The 64-bit advisory lock key of one bot in one schema (BLAKE2b of its name)."""
    digest = hashlib.blake2b(f"hedgebot:{schema}:{bot_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def _take_bot_lock(
    conn: psycopg.AsyncConnection[Any], bot_id: str, schema: str, where: str
) -> None:
    """Hold ``bot_id``'s session advisory lock on ``conn``, or ``StoreError``: two processes
    of one bot, on any hosts, must not write one record (the host lock cannot see across
    hosts). The server drops the lock with the connection, so a killed bot's lock goes with
    its process."""
    key = bot_lock_key(bot_id, schema)
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
    row = await cur.fetchone()
    if row is None or row[0] is not True:
        raise StoreError(
            f"bot {bot_id} is already running against {where} (another process holds its "
            f"lock {key}): stop it first, or give this bot its own bot_id"
        )


def _reason(exc: BaseException) -> str:
    """The driver's message, its first line; a pool timeout says the server was not reached."""
    if isinstance(exc, PoolTimeout):
        return f"no connection to the server ({safe_str(exc)})"
    lines = str(exc).strip().splitlines()
    return safe_str(lines[0]) if lines else type(exc).__name__
