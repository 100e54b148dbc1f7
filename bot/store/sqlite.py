"""Append-only SQLite store (aiosqlite): one bot's record in one file, the default backend.

The store is the source of truth for intents (what we meant to trade); the venue is the
source of truth for positions and orders. Every write commits before it returns, so a crash
loses at most the write in progress; a multi-statement write (an order update and its
intent's status) is one transaction, and callers group theirs with ``async with
store.transaction():``. A store that cannot be written raises ``StoreError``: the engine
refuses to trade without one. The schema is the migration list of
:mod:`bot.store.migrations`; meta keys are :class:`bot.store.meta.MetaKey` with typed fields
(:class:`bot.store.meta.Meta`). The queries are :class:`bot.store.base.RecordStore`'s, shared
with the PostgreSQL backend; reads for reports live in :mod:`bot.store.reads`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import stat
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite

from bot.errors import StoreError
from bot.safety import safe_str
from bot.store.base import RecordStore, SqlSession
from bot.store.dialect import Dialect
from bot.store.migrations import MIGRATIONS, Migration, migrate
from bot.store.schema_check import check_schema_version

SCHEMA_VERSION = MIGRATIONS[-1].version


def _corrupt(exc: BaseException, reason: str) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in reason or "malformed" in reason or "no such table" in reason
    )


def _open_failed(path: Path, exc: BaseException) -> StoreError:
    """The error that says why ``path`` cannot be used as the store."""
    reason = safe_str(exc)
    if _corrupt(exc, reason):
        return StoreError(f"store {path} is corrupt or not a hedgebot database: {reason}")
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in reason:
        return StoreError(f"store {path} cannot be opened: {reason}")
    return StoreError(f"store {path} is not writable: {reason}")


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be a store file (a directory, a FIFO, a device), or None when it is
    a regular file or does not exist yet. A FIFO would block SQLite's open forever."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if stat.S_ISDIR(mode):
        return "it is a directory (store.path names the database file)"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, socket or device)"
    return None


async def _stopped(connecting: aiosqlite.Connection) -> None:
    """Wait for the worker thread of a connection that failed to open to end.

    aiosqlite stops that thread itself but does not wait: left running, it posts its last
    result to the event loop after ``asyncio.run`` closed it, printing "Event loop is closed"
    tracebacks at exit. Joined here (in a worker thread), the process exits cleanly.
    """
    thread = getattr(connecting, "_thread", None)  # aiosqlite >= 0.20: a Thread attribute
    if thread is None and isinstance(connecting, threading.Thread):  # older: it is the Thread
        thread = connecting
    if isinstance(thread, threading.Thread) and thread.ident is not None:
        await asyncio.to_thread(thread.join)


_CORRUPT_HINT = " (the store file is corrupt: stop the bot and restore it from a backup)"


def _use_failed(path: Path, what: str, exc: sqlite3.Error) -> StoreError:
    """A read or write of the open store at ``path`` that failed: the path, why, and for a file
    damaged after it was opened (``database disk image is malformed``) what that means."""
    reason = safe_str(exc)
    hint = (
        " (the store file is corrupt: stop the bot and restore it)" if _corrupt(exc, reason) else ""
    )
    return StoreError(f"store {what} failed ({path}): {reason}{hint}")


def _named(path: Path, exc: StoreError) -> StoreError:
    """``exc`` as it is when it names ``path``; else the same error with the path in front."""
    message = str(exc)
    return exc if str(path) in message else StoreError(f"store {path}: {message}")


class _SqliteSession:
    """Statements on the store's one connection (sqlite3's implicit transactions)."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self._path = path

    async def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        try:
            async with self._db.execute(sql, params) as cur:
                return cur.rowcount
        except sqlite3.Error as exc:
            raise _use_failed(self._path, "write", exc) from exc

    async def fetchall(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        try:
            async with self._db.execute(sql, params) as cur:
                return [tuple(row) for row in await cur.fetchall()]
        except sqlite3.Error as exc:
            raise _use_failed(self._path, "read", exc) from exc


def _read_only_uri(path: Path) -> str:
    """The URI of a read-only open: ``mode=ro``, plus ``immutable=1`` when no ``-wal`` file is
    beside the store. A writer (the daemon) keeps its ``-wal`` for as long as it has the store
    open, and a stopped one leaves none after a clean close, so with no ``-wal`` nothing is
    being written and SQLite need not create ``-wal``/``-shm`` (which a read-only connection
    would leave behind). A ``-wal`` left by a crash holds committed rows: then the WAL is read
    (plain ``mode=ro``)."""
    uri = f"file:{quote(str(path))}?mode=ro"
    wal = path.with_name(path.name + "-wal")
    return uri if wal.exists() else uri + "&immutable=1"


class SqliteStore(RecordStore):
    """The bot's record in one SQLite file. Open with ``await SqliteStore.open(path)``.

    Every ``StoreError`` it raises names the file (``store write failed (/var/hb.sqlite):
    database disk image is malformed (the store file is corrupt: ...)``)."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        super().__init__(Dialect.sqlite(), path)
        self._db = db
        self._path = path
        self._session = _SqliteSession(db, path)

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        read_only: bool = False,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> SqliteStore:
        """Open (creating if needed) and migrate; ``StoreError`` saying what is wrong: the file
        is corrupt or not a database, it cannot be written, or its schema is newer than
        ``migrations``. ``read_only`` (reports) opens an existing store with SQLite's
        ``mode=ro``: no directory, file, schema or WAL change, so a read-only file or
        directory can be reported on; a store no process has open (no ``-wal`` beside it) is
        opened ``immutable`` too, so that no ``-wal``/``-shm`` files are left beside a stopped
        bot's store (:func:`_read_only_uri`). On failure the connection (and its thread) is closed
        before raising, so a process that gives up exits promptly instead of hanging on a
        live connection thread."""
        try:
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _open_failed(path, exc) from None
        refused = _not_a_file(path)
        if refused is not None:
            raise StoreError(f"store {path} cannot be opened: {refused}")
        connecting = (
            aiosqlite.connect(_read_only_uri(path), uri=True)
            if read_only
            else aiosqlite.connect(path)
        )
        try:
            db = await connecting
        except (OSError, sqlite3.Error) as exc:
            await _stopped(connecting)
            raise _open_failed(path, exc) from None
        except BaseException:
            await _stopped(connecting)
            raise
        try:
            if read_only:
                await cls._check_readable(db, path, migrations)
            else:
                await cls._migrate(db, migrations)
        except (OSError, sqlite3.Error) as exc:
            await db.close()
            raise _open_failed(path, exc) from None
        except StoreError as exc:  # a schema newer than this hedgebot's
            await db.close()
            raise _named(path, exc) from None
        except BaseException:
            await db.close()
            raise
        return cls(db, path)

    @staticmethod
    async def _check_readable(
        db: aiosqlite.Connection, path: Path, migrations: Sequence[Migration]
    ) -> None:
        """Read the schema once: a corrupt file or a foreign database fails here; a schema
        version other than this hedgebot's is a ``StoreError`` naming both (schema_check)."""
        rows = list(
            await db.execute_fetchall("SELECT value FROM meta WHERE key = 'schema_version'")
        )
        tables = await db.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        )
        if list(tables):
            versions = list(await db.execute_fetchall("SELECT max(version) FROM schema_version"))
            current = int(versions[0][0] or 0)
        else:  # a store from before the migration list: its meta row
            current = int(rows[0][0]) if rows else 0
        check_schema_version(current, str(path), migrations)

    @staticmethod
    async def _migrate(db: aiosqlite.Connection, migrations: Sequence[Migration]) -> None:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await migrate(db, migrations)

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[SqlSession]:
        try:
            yield self._session
        except StoreError as exc:
            await self._rollback()
            raise _named(self._path, exc) from exc.__cause__
        except BaseException:
            await self._rollback()
            raise
        try:
            await self._db.commit()
        except sqlite3.Error as exc:
            await self._rollback()
            raise _use_failed(self._path, "write", exc) from exc

    async def _rollback(self) -> None:
        """Roll back; a store too damaged to roll back keeps the error that got us here."""
        with contextlib.suppress(sqlite3.Error):
            await self._db.rollback()

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[SqlSession]:
        try:
            yield self._session
        except StoreError as exc:
            raise _named(self._path, exc) from exc.__cause__
