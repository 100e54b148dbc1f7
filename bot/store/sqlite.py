"""Append-only SQLite store (aiosqlite): snapshots, decisions, intents, orders, fills, funding.

The store is the source of truth for intents (what we meant to trade); the venue is the
source of truth for positions and orders. Every write commits before it returns, so a crash
loses at most the write in progress; a multi-statement write (an order update and its
intent's status) is one transaction, and callers group theirs with ``async with
store.transaction():``. A store that cannot be written raises ``StoreError``: the engine
refuses to trade without one. The schema is the migration list of
:mod:`bot.store.migrations`; meta keys are :class:`bot.store.meta.MetaKey` with typed fields
(:class:`bot.store.meta.Meta`). Reads for reports live in :mod:`bot.store.reads`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiosqlite

from bot.domain import (
    ChainSnapshot,
    Decision,
    Fill,
    FundingPayment,
    Order,
    OrderIntent,
    OrderStatus,
)
from bot.errors import StoreError
from bot.records import intent_from, to_json
from bot.safety import safe_str
from bot.store.meta import MetaField, MetaKey
from bot.store.migrations import MIGRATIONS, Migration, migrate
from bot.store.reads import RecordReads

T = TypeVar("T")

SCHEMA_VERSION = MIGRATIONS[-1].version


def _open_failed(path: Path, exc: BaseException) -> StoreError:
    """The error that says why ``path`` cannot be used as the store."""
    reason = safe_str(exc)
    corrupt = isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in reason or "malformed" in reason or "no such table" in reason
    )
    if corrupt:
        return StoreError(f"store {path} is corrupt or not a hedgebot database: {reason}")
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in reason:
        return StoreError(f"store {path} cannot be opened: {reason}")
    return StoreError(f"store {path} is not writable: {reason}")


class SqliteStore(RecordReads):
    """The bot's record. Open with ``await SqliteStore.open(path)``."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()  # one writer at a time; a transaction holds it throughout
        self._tx_owner: asyncio.Task[Any] | None = None

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
        directory can be reported on. On failure the connection (and its thread) is closed
        before raising, so a process that gives up exits promptly instead of hanging on a
        live connection thread."""
        try:
            if read_only:
                db = await aiosqlite.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                db = await aiosqlite.connect(path)
        except (OSError, sqlite3.Error) as exc:
            raise _open_failed(path, exc) from None
        try:
            await (cls._check_readable(db) if read_only else cls._migrate(db, migrations))
        except (OSError, sqlite3.Error) as exc:
            await db.close()
            raise _open_failed(path, exc) from None
        except BaseException:
            await db.close()
            raise
        return cls(db, path)

    @staticmethod
    async def _check_readable(db: aiosqlite.Connection) -> None:
        """Read the schema once: a corrupt file or a foreign database fails here."""
        await db.execute_fetchall("SELECT value FROM meta WHERE key = 'schema_version'")

    @staticmethod
    async def _migrate(db: aiosqlite.Connection, migrations: Sequence[Migration]) -> None:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await migrate(db, migrations)

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    # writing ---------------------------------------------------------------------------
    def _in_transaction(self) -> bool:
        return self._tx_owner is not None and self._tx_owner is asyncio.current_task()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Group the writes of the block into one transaction: all commit at its end, or
        none (rolled back when the block raises). Nested use joins the outer transaction;
        other tasks' writes wait until it ends. Raises ``StoreError`` when the commit fails."""
        if self._in_transaction():
            yield
            return
        async with self._lock:
            self._tx_owner = asyncio.current_task()
            try:
                yield
            except BaseException:
                await self._db.rollback()
                raise
            else:
                await self._commit()
            finally:
                self._tx_owner = None

    async def _commit(self) -> None:
        try:
            await self._db.commit()
        except sqlite3.Error as exc:
            await self._db.rollback()
            raise StoreError(f"store write failed: {exc}") from exc

    async def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        try:
            await self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"store write failed: {exc}") from exc

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        """One statement, committed now (or with the caller's transaction)."""
        async with self.transaction():
            await self._execute(sql, params)

    async def check_writable(self) -> None:
        """Prove a write still succeeds (disk full, read-only file system)."""
        await self._write(
            "INSERT INTO meta(key, value) VALUES('last_write_check', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (),
        )

    # meta ------------------------------------------------------------------------------
    async def get_meta(self, key: MetaKey | str) -> str | None:
        """A stored meta value as text; ``ValueError`` for a key that is no ``MetaKey``."""
        async with self._db.execute("SELECT value FROM meta WHERE key = ?", (MetaKey(key),)) as cur:
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def set_meta(self, key: MetaKey | str, value: str) -> None:
        """Store a meta value as text (``""`` deletes it); ``ValueError`` for an unknown key."""
        if value == "":
            await self._write("DELETE FROM meta WHERE key = ?", (MetaKey(key).value,))
            return
        await self._write(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (MetaKey(key).value, value),
        )

    async def get(self, field: MetaField[T]) -> T:
        """A typed meta value, or the field's default when absent."""
        text = await self.get_meta(field.key)
        return field.default if text is None else field.decode(text)

    async def set(self, field: MetaField[T], value: T) -> None:
        """Store a typed meta value (a value that encodes to ``""`` deletes the key)."""
        await self.set_meta(field.key, field.encode(value))

    # records ---------------------------------------------------------------------------
    async def record_snapshot(self, ts: float, snapshot: ChainSnapshot) -> None:
        """Append the chain snapshot of one tick."""
        await self._write(
            "INSERT INTO snapshots(ts, block, price, delta_base, body) VALUES(?, ?, ?, ?, ?)",
            (
                ts,
                snapshot.block_number,
                str(snapshot.price),
                str(snapshot.delta_base),
                to_json(snapshot),
            ),
        )

    async def record_decision(self, ts: float, block: int, decision: Decision) -> None:
        """Append the policy decision of one tick."""
        await self._write(
            "INSERT INTO decisions(ts, block, action, reason, body) VALUES(?, ?, ?, ?, ?)",
            (ts, block, decision.action, decision.reason, to_json(decision)),
        )

    async def record_intent(self, ts: float, block: int, intent: OrderIntent) -> None:
        """Record an intent BEFORE it is sent (write-ahead)."""
        await self._write(
            "INSERT INTO intents(client_order_id, ts, block, status, body) "
            "VALUES(?, ?, ?, ?, ?) ON CONFLICT(client_order_id) DO NOTHING",
            (intent.client_order_id, ts, block, OrderStatus.NEW.value, to_json(intent)),
        )

    async def record_order(self, ts: float, order: Order) -> None:
        """Append an order update and move its intent to the reported status (one
        transaction: both or neither)."""
        async with self.transaction():
            await self._execute(
                "INSERT INTO order_updates(ts, client_order_id, status, filled_base, body) "
                "VALUES(?, ?, ?, ?, ?)",
                (
                    ts,
                    order.client_order_id,
                    order.status.value,
                    str(order.filled_base),
                    to_json(order),
                ),
            )
            await self._execute(
                "UPDATE intents SET status = ? WHERE client_order_id = ?",
                (order.status.value, order.client_order_id),
            )

    async def mark_intent(self, client_order_id: str, status: OrderStatus) -> None:
        """Set an intent's status (e.g. UNKNOWN after a timeout, REJECTED)."""
        await self._write(
            "UPDATE intents SET status = ? WHERE client_order_id = ?",
            (status.value, client_order_id),
        )

    async def unresolved_intents(self) -> list[OrderIntent]:
        """Intents whose outcome the store does not know (NEW, UNKNOWN or OPEN)."""
        async with self._db.execute(
            "SELECT body FROM intents WHERE status IN (?, ?, ?) ORDER BY ts",
            (OrderStatus.NEW.value, OrderStatus.UNKNOWN.value, OrderStatus.OPEN.value),
        ) as cur:
            rows = await cur.fetchall()
        return [intent_from(json.loads(row[0])) for row in rows]

    async def intent_count(self) -> int:
        """How many intents were ever recorded (client ids must never repeat)."""
        async with self._db.execute("SELECT COUNT(*) FROM intents") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _insert_once(self, sql: str, params: tuple[Any, ...]) -> bool:
        """Run an ``ON CONFLICT DO NOTHING`` insert; True when it added a row."""
        async with self.transaction():
            before = self._db.total_changes
            await self._execute(sql, params)
            return self._db.total_changes > before

    async def record_fill(self, fill: Fill) -> bool:
        """Store a fill once; returns False when it was already known."""
        return await self._insert_once(
            "INSERT INTO fills(trade_id, ts, client_order_id, body) VALUES(?, ?, ?, ?) "
            "ON CONFLICT(trade_id) DO NOTHING",
            (fill.trade_id, fill.timestamp, fill.client_order_id, to_json(fill)),
        )

    async def record_funding(self, payment: FundingPayment) -> bool:
        """Store a funding payment once; returns False when it was already known."""
        return await self._insert_once(
            "INSERT INTO funding(id, ts, amount_quote, body) VALUES(?, ?, ?, ?) "
            "ON CONFLICT(id) DO NOTHING",
            (payment.id, payment.timestamp, str(payment.amount_quote), to_json(payment)),
        )

    async def record_event(self, ts: float, event_type: str, body: dict[str, Any]) -> None:
        """Append an operational event (alert, command, range change)."""
        await self._write(
            "INSERT INTO events(ts, type, body) VALUES(?, ?, ?)",
            (ts, event_type, to_json(body)),
        )

    async def record_command(
        self, ts: float, command_id: str, command: str, status: str, body: dict[str, Any]
    ) -> None:
        """Record an applied or rejected command."""
        await self._write(
            "INSERT INTO commands(id, ts, command, status, body) VALUES(?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO NOTHING",
            (command_id, ts, command, status, to_json(body)),
        )
