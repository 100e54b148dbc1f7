"""Append-only PostgreSQL store (psycopg 3 with a connection pool): a fleet's shared record.

Same contract and queries as the SQLite store (:class:`bot.store.base.RecordStore`); the
schema is the same migration list in PostgreSQL's SQL with ``bot_id`` leading every key, so
many bots share one database and none sees another's intents, fills, commands or meta. A
database that cannot be reached raises ``StoreError`` on every read or write (the engine does
not trade without its record); the pool reconnects on its own, so the bot resumes when the
server is back. Reads use the pool; writes run on the connection that holds the bot's
advisory lock, re-taken after that connection was lost (``bot.store.postgres_lock``), so no
write commits without the lock. The password comes from the environment only
(``StoreConfig``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.errors import StoreError, StoreUnreachable
from bot.safety import safe_str
from bot.store.base import RecordStore, SqlSession
from bot.store.dialect import Dialect
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.pg_names import pg_schema_name
from bot.store.postgres_lock import BotLock, bot_lock_key
from bot.store.postgres_schema import migrate_postgresql
from bot.store.schema_check import check_schema_version

__all__ = ["PostgresStore", "bot_lock_key", "describe_url"]

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
        lock: BotLock | None = None,
    ) -> None:
        super().__init__(dialect, path)
        self._pool = pool
        self._lock_conn = lock  # the bot's advisory lock and its connection (None: read-only)
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
        try:  # the name goes into libpq's options: only an identifier, never an option
            options = f"-c search_path={pg_schema_name(schema)}"
        except ValueError as exc:
            raise StoreError(str(exc)) from None
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
        lock = None if read_only else BotLock(url, kwargs, bot_id, schema, where)
        owner: psycopg.AsyncConnection[Any] | None = None
        try:
            # one direct connection first: its error says why (refused, login, no database)
            owner_kwargs = kwargs if lock is None else lock.connect_kwargs
            owner = await psycopg.AsyncConnection.connect(url, **owner_kwargs)
            if lock is None:  # a reader: this hedgebot's schema version, or one clear line
                cur = await owner.execute("SELECT to_regclass('schema_version')")
                if (await cur.fetchone() or (None,))[0] is None:
                    raise StoreError(
                        f"store {where} holds no hedgebot tables (no schema_version): "
                        "nothing to read (`hedgebot run` creates them)"
                    )
                cur = await owner.execute("SELECT max(version) FROM schema_version")
                row = await cur.fetchone()
                check_schema_version(int(row[0] or 0) if row else 0, where, migrations)
            else:
                await migrate_postgresql(owner, bot_id, migrations)
                await lock.take(owner)  # this connection stays open: the bot's writes run on it
            await pool.open(wait=True, timeout=timeout_s)
        except BaseException as exc:
            if owner is not None:
                await owner.close()
            await pool.close()
            if isinstance(exc, _DB_ERRORS):
                raise _store_error(f"store {where} cannot be used: {_reason(exc)}", exc) from None
            raise
        if lock is None:
            await owner.close()
        return cls(pool, Dialect.postgresql(bot_id), where, path, lock)

    async def fleet_bot_ids(self) -> list[str]:
        """Every bot with a snapshot in this database and schema, sorted (fleet queries:
        the one read not scoped to this store's bot)."""
        async with self._reader() as session:
            rows = await session.fetchall("SELECT DISTINCT bot_id FROM snapshots ORDER BY 1", {})
        return [str(row[0]) for row in rows]

    async def fleet_known_bot_ids(self) -> list[str]:
        """Every bot with any record in this database and schema, sorted: meta (a bot that
        started but never ticked), events, decisions or snapshots (``fleet status``)."""
        sql = (
            "SELECT bot_id FROM meta UNION SELECT bot_id FROM events "
            "UNION SELECT bot_id FROM decisions UNION SELECT bot_id FROM snapshots ORDER BY 1"
        )
        async with self._reader() as session:
            rows = await session.fetchall(sql, {})
        return [str(row[0]) for row in rows]

    async def close(self) -> None:
        """Close the pool and its connections (releasing the bot's lock)."""
        if self._lock_conn is not None:
            await self._lock_conn.close()
        await self._pool.close()

    @property
    def lock_retakes(self) -> int:
        """How often the bot's lock was taken again after its connection was lost."""
        return 0 if self._lock_conn is None else self._lock_conn.retakes

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[SqlSession]:
        try:
            async with AsyncExitStack() as stack:
                if self._lock_conn is None:  # read-only: the server refuses any write
                    conn = await stack.enter_async_context(self._pool.connection())
                    await stack.enter_async_context(conn.transaction())
                else:
                    conn = await self._begin_holding_lock(self._lock_conn, stack)
                yield _PgSession(conn)
        except _DB_ERRORS as exc:
            raise _store_error(f"store write failed ({self.where}): {_reason(exc)}", exc) from exc

    @staticmethod
    async def _begin_holding_lock(
        lock: BotLock, stack: AsyncExitStack
    ) -> psycopg.AsyncConnection[Any]:
        """BEGIN on the lock's connection. A connection found lost only now (its BEGIN fails
        and it is broken) is replaced, re-taking the lock, and BEGIN is sent again: nothing
        of the transaction had run. ``StoreError`` when the lock cannot be taken again."""
        conn = await lock.connection()
        try:
            await stack.enter_async_context(conn.transaction())
        except psycopg.OperationalError:
            if not conn.broken:
                raise
            await lock.forget()
            conn = await lock.connection()
            await stack.enter_async_context(conn.transaction())
        return conn

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[SqlSession]:
        try:
            async with self._pool.connection() as conn:
                yield _PgSession(conn)
        except _DB_ERRORS as exc:
            raise _store_error(f"store read failed ({self.where}): {_reason(exc)}", exc) from exc


def _store_error(message: str, exc: BaseException) -> StoreError:
    """``StoreUnreachable`` when the server was not reached or the connection was lost
    (``psycopg.OperationalError``, a pool timeout: it may come back), else ``StoreError``."""
    if isinstance(exc, psycopg.OperationalError | PoolTimeout):
        return StoreUnreachable(message)
    return StoreError(message)


def _reason(exc: BaseException) -> str:
    """The driver's message, its first line; a pool timeout says the server was not reached."""
    if isinstance(exc, PoolTimeout):
        return f"no connection to the server ({safe_str(exc)})"
    lines = str(exc).strip().splitlines()
    return safe_str(lines[0]) if lines else type(exc).__name__
