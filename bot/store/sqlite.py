"""Append-only SQLite store (aiosqlite): snapshots, decisions, intents, orders, fills, funding.

The store is the source of truth for intents (what we meant to trade); the venue is the
source of truth for positions and orders. Every write commits before it returns, so a crash
loses at most the write in progress. A store that cannot be written raises ``StoreError``:
the engine refuses to trade without one.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any
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
from bot.records import (
    decision_from,
    fill_from,
    funding_from,
    intent_from,
    snapshot_from,
    to_json,
)
from bot.safety import safe_str

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, block INTEGER NOT NULL, price TEXT NOT NULL,
  delta_base TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, block INTEGER NOT NULL, action TEXT NOT NULL,
  reason TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intents (
  client_order_id TEXT PRIMARY KEY, ts REAL NOT NULL, block INTEGER NOT NULL,
  status TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS order_updates (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, client_order_id TEXT NOT NULL,
  status TEXT NOT NULL, filled_base TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
  trade_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, client_order_id TEXT NOT NULL,
  body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS funding (
  id TEXT PRIMARY KEY, ts INTEGER NOT NULL, amount_quote TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commands (
  id TEXT PRIMARY KEY, ts REAL NOT NULL, command TEXT NOT NULL, status TEXT NOT NULL,
  body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL);
"""


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


class SqliteStore:
    """The bot's record. Open with ``await SqliteStore.open(path)``."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    @classmethod
    async def open(cls, path: Path, *, read_only: bool = False) -> SqliteStore:
        """Open (creating if needed) and migrate; ``StoreError`` saying what is wrong: the file
        is corrupt or not a database, or it cannot be written. ``read_only`` (reports) opens
        an existing store with SQLite's ``mode=ro``: no directory, file, schema or WAL change,
        so a read-only file or directory can be reported on. On failure the connection (and its
        thread) is closed before raising, so a process that gives up exits promptly instead of
        hanging on a live connection thread."""
        try:
            if read_only:
                db = await aiosqlite.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                db = await aiosqlite.connect(path)
        except (OSError, sqlite3.Error) as exc:
            raise _open_failed(path, exc) from None
        try:
            await (cls._check_readable(db) if read_only else cls._migrate(db))
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
    async def _migrate(db: aiosqlite.Connection) -> None:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.executescript(_SCHEMA)
        await db.execute(
            "INSERT INTO meta(key, value) VALUES('schema_version', ?) ON CONFLICT(key) DO NOTHING",
            (str(SCHEMA_VERSION),),
        )
        await db.commit()

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        try:
            await self._db.execute(sql, params)
            await self._db.commit()
        except sqlite3.Error as exc:
            raise StoreError(f"store write failed: {exc}") from exc

    async def check_writable(self) -> None:
        """Prove a write still succeeds (disk full, read-only file system)."""
        await self._write(
            "INSERT INTO meta(key, value) VALUES('last_write_check', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (),
        )

    # meta ------------------------------------------------------------------------------
    async def get_meta(self, key: str) -> str | None:
        """A stored setting (entry amounts, kill switch, ...)."""
        async with self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        await self._write(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

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
        """Append an order update and move its intent to the reported status."""
        await self._write(
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
        await self._write(
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

    async def record_fill(self, fill: Fill) -> bool:
        """Store a fill once; returns False when it was already known."""
        before = self._db.total_changes
        await self._write(
            "INSERT INTO fills(trade_id, ts, client_order_id, body) VALUES(?, ?, ?, ?) "
            "ON CONFLICT(trade_id) DO NOTHING",
            (fill.trade_id, fill.timestamp, fill.client_order_id, to_json(fill)),
        )
        return self._db.total_changes > before

    async def record_funding(self, payment: FundingPayment) -> bool:
        """Store a funding payment once; returns False when it was already known."""
        before = self._db.total_changes
        await self._write(
            "INSERT INTO funding(id, ts, amount_quote, body) VALUES(?, ?, ?, ?) "
            "ON CONFLICT(id) DO NOTHING",
            (payment.id, payment.timestamp, str(payment.amount_quote), to_json(payment)),
        )
        return self._db.total_changes > before

    async def record_event(self, ts: float, event_type: str, body: dict[str, Any]) -> None:
        """Append an operational event (alert, command, range change)."""
        await self._write(
            "INSERT INTO events(ts, type, body) VALUES(?, ?, ?)",
            (ts, event_type, to_json(body)),
        )

    async def read_events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Recorded events (oldest first), each its body plus ``type`` and ``ts``."""
        sql = "SELECT ts, type, body FROM events"
        params: tuple[Any, ...] = ()
        if event_type is not None:
            sql, params = sql + " WHERE type = ?", (event_type,)
        async with self._db.execute(sql + " ORDER BY id", params) as cur:
            rows = await cur.fetchall()
        return [{**json.loads(row[2]), "type": row[1], "ts": float(row[0])} for row in rows]

    async def record_command(
        self, ts: float, command_id: str, command: str, status: str, body: dict[str, Any]
    ) -> None:
        """Record an applied or rejected command."""
        await self._write(
            "INSERT INTO commands(id, ts, command, status, body) VALUES(?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO NOTHING",
            (command_id, ts, command, status, to_json(body)),
        )

    async def applied_command_ids(self) -> list[str]:
        """Ids of commands already applied (duplicates are rejected)."""
        async with self._db.execute("SELECT id FROM commands WHERE status = 'ok'") as cur:
            rows = await cur.fetchall()
        return [str(row[0]) for row in rows]

    async def command_statuses(self) -> dict[str, str]:
        """Every recorded command id with its status (``ok``/``rejected``): ids are used once."""
        async with self._db.execute("SELECT id, status FROM commands") as cur:
            rows = await cur.fetchall()
        return {str(row[0]): str(row[1]) for row in rows}

    # reads for reports -----------------------------------------------------------------
    async def totals(self) -> dict[str, Decimal]:
        """Cumulative fees, funding and realized PnL from stored fills and funding."""
        fees = Decimal(0)
        realized = Decimal(0)
        async with self._db.execute("SELECT body FROM fills") as cur:
            async for row in cur:
                body = json.loads(row[0])
                fees += Decimal(body["fee_quote"])
                realized += Decimal(body["realized_pnl"])
        funding = Decimal(0)
        async with self._db.execute("SELECT amount_quote FROM funding") as cur:
            async for row in cur:
                funding += Decimal(row[0])
        return {"fees_quote": fees, "funding_quote": funding, "realized_pnl_quote": realized}

    async def count(self, table: str) -> int:
        """Rows in one of the record tables."""
        if table not in {
            "snapshots",
            "decisions",
            "intents",
            "order_updates",
            "fills",
            "funding",
            "commands",
            "events",
        }:
            raise ValueError(f"unknown table {table}")
        async with self._db.execute(f"SELECT COUNT(*) FROM {table}") as cur:  # noqa: S608
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # typed reads for the PnL report -----------------------------------------------------
    async def read_snapshots(self) -> list[tuple[float, ChainSnapshot]]:
        """Every stored chain snapshot with its record time, oldest first."""
        async with self._db.execute("SELECT ts, body FROM snapshots ORDER BY id") as cur:
            rows = await cur.fetchall()
        return [(float(row[0]), snapshot_from(json.loads(row[1]))) for row in rows]

    async def read_decisions(self) -> list[tuple[float, int, Decision]]:
        """Every stored decision as (record time, block, decision), oldest first."""
        async with self._db.execute("SELECT ts, block, body FROM decisions ORDER BY id") as cur:
            rows = await cur.fetchall()
        return [(float(row[0]), int(row[1]), decision_from(json.loads(row[2]))) for row in rows]

    async def read_fills(self) -> list[Fill]:
        """Every stored fill, by venue time."""
        async with self._db.execute("SELECT body FROM fills ORDER BY ts, trade_id") as cur:
            rows = await cur.fetchall()
        return [fill_from(json.loads(row[0])) for row in rows]

    async def read_funding(self) -> list[FundingPayment]:
        """Every stored funding payment, by venue time."""
        async with self._db.execute("SELECT body FROM funding ORDER BY ts, id") as cur:
            rows = await cur.fetchall()
        return [funding_from(json.loads(row[0])) for row in rows]

    async def intent_blocks(self) -> dict[str, int]:
        """Block of the tick that created each intent, by client order id."""
        async with self._db.execute("SELECT client_order_id, block FROM intents") as cur:
            rows = await cur.fetchall()
        return {str(row[0]): int(row[1]) for row in rows}
