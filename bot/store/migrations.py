"""The store's schema as a list of versioned migrations, applied in order at open.

Each applied version is a row of ``schema_version`` (version, applied time, description),
written in the same transaction as the migration itself, so a crash leaves a store at one
version or the next, never between. A store created before this list existed (schema 1,
recorded only as ``meta.schema_version``) is taken to be at that version. A store newer than
this code is refused (``StoreError``): an old binary must not write into a newer schema.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from bot.errors import StoreError
from bot.store.decision_runs import RUNS_POSTGRESQL, RUNS_SQLITE

__all__ = ["MIGRATIONS", "VERSION_TABLE", "Migration", "applied_versions", "check_order", "migrate"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: ``sql`` (statements separated by ``;``) takes the store to ``version``.

    ``postgresql`` is the same step in PostgreSQL's SQL, where the dialects differ (types,
    identity columns, ``bot_id`` in every key); None runs ``sql`` on both backends."""

    version: int
    description: str
    sql: str
    postgresql: str | None = None

    def sql_for(self, dialect: str) -> str:
        """The step's SQL for ``dialect`` (``sqlite`` or ``postgresql``)."""
        if dialect == "postgresql" and self.postgresql is not None:
            return self.postgresql
        return self.sql


_V1 = """
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

# PostgreSQL: one database for a fleet, so bot_id leads every key; DOUBLE PRECISION for the
# record times (PostgreSQL's REAL is 4 bytes), BIGINT for blocks and venue milliseconds, and
# an identity column where SQLite has its rowid.
_V1_POSTGRESQL = """
CREATE TABLE IF NOT EXISTS meta (
  bot_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (bot_id, key));
CREATE TABLE IF NOT EXISTS snapshots (
  bot_id TEXT NOT NULL, id BIGINT GENERATED ALWAYS AS IDENTITY, ts DOUBLE PRECISION NOT NULL,
  block BIGINT NOT NULL, price TEXT NOT NULL, delta_base TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (bot_id, id));
CREATE TABLE IF NOT EXISTS decisions (
  bot_id TEXT NOT NULL, id BIGINT GENERATED ALWAYS AS IDENTITY, ts DOUBLE PRECISION NOT NULL,
  block BIGINT NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (bot_id, id));
CREATE TABLE IF NOT EXISTS intents (
  bot_id TEXT NOT NULL, client_order_id TEXT NOT NULL, seq BIGINT GENERATED ALWAYS AS IDENTITY,
  ts DOUBLE PRECISION NOT NULL, block BIGINT NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (bot_id, client_order_id));
CREATE TABLE IF NOT EXISTS order_updates (
  bot_id TEXT NOT NULL, id BIGINT GENERATED ALWAYS AS IDENTITY, ts DOUBLE PRECISION NOT NULL,
  client_order_id TEXT NOT NULL, status TEXT NOT NULL, filled_base TEXT NOT NULL,
  body TEXT NOT NULL, PRIMARY KEY (bot_id, id));
CREATE TABLE IF NOT EXISTS fills (
  bot_id TEXT NOT NULL, trade_id TEXT NOT NULL, ts BIGINT NOT NULL,
  client_order_id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (bot_id, trade_id));
CREATE TABLE IF NOT EXISTS funding (
  bot_id TEXT NOT NULL, id TEXT NOT NULL, ts BIGINT NOT NULL, amount_quote TEXT NOT NULL,
  body TEXT NOT NULL, PRIMARY KEY (bot_id, id));
CREATE TABLE IF NOT EXISTS commands (
  bot_id TEXT NOT NULL, id TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL, command TEXT NOT NULL,
  status TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (bot_id, id));
CREATE TABLE IF NOT EXISTS events (
  bot_id TEXT NOT NULL, id BIGINT GENERATED ALWAYS AS IDENTITY, ts DOUBLE PRECISION NOT NULL,
  type TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (bot_id, id));
"""

# Version 2: each fill says whether it is the bot's own (its client id is an intent of this
# bot) or someone else's (another bot's or a manual trade on the account): only own fills
# count in PnL (the position check counts every fill). Existing rows are classified
# by the same rule, against the intents already stored (position_check; docs/store.md).
_V2 = """
ALTER TABLE fills ADD COLUMN own INTEGER NOT NULL DEFAULT 1;
UPDATE fills SET own = CASE WHEN EXISTS (
  SELECT 1 FROM intents WHERE intents.client_order_id = fills.client_order_id)
  THEN 1 ELSE 0 END
"""

_V2_POSTGRESQL = """
ALTER TABLE fills ADD COLUMN IF NOT EXISTS own INTEGER NOT NULL DEFAULT 1;
UPDATE fills SET own = CASE WHEN EXISTS (
  SELECT 1 FROM intents WHERE intents.bot_id = fills.bot_id
  AND intents.client_order_id = fills.client_order_id) THEN 1 ELSE 0 END
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "records, intents and meta", _V1, _V1_POSTGRESQL),
    Migration(2, "fills: own (an intent of this bot) or foreign", _V2, _V2_POSTGRESQL),
    Migration(3, "decisions: runs of quiet repeats", RUNS_SQLITE, RUNS_POSTGRESQL),
)

VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER PRIMARY KEY, applied_at REAL NOT NULL, description TEXT NOT NULL)
"""


async def applied_versions(db: aiosqlite.Connection) -> list[int]:
    """The versions recorded in ``schema_version``, ascending."""
    rows = await db.execute_fetchall("SELECT version FROM schema_version ORDER BY version")
    return [int(row[0]) for row in rows]


async def _legacy_version(db: aiosqlite.Connection) -> int:
    """The version a store from before the migration list records in ``meta`` (0: none)."""
    tables = await db.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    )
    if not list(tables):
        return 0
    rows = list(await db.execute_fetchall("SELECT value FROM meta WHERE key = 'schema_version'"))
    return int(rows[0][0]) if rows else 0


def check_order(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1, 2, ... in order, not {versions}")


async def migrate(db: aiosqlite.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the migrations newer than the store, in order, each in its own transaction;
    returns the store's version. Raises ``StoreError`` for a store newer than ``migrations``
    and lets ``sqlite3.Error`` propagate (the caller names the file)."""
    check_order(migrations)
    await db.execute(VERSION_TABLE)
    await db.commit()
    applied = await applied_versions(db)
    current = applied[-1] if applied else await _legacy_version(db)
    if not applied and current:
        await _record(db, range(1, current + 1), "recorded from meta.schema_version")
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise StoreError(f"store schema version {current} is newer than this hedgebot ({latest})")
    for migration in migrations:
        if migration.version > current:
            await _apply(db, migration)
    return max(current, latest)


async def _record(db: aiosqlite.Connection, versions: range, description: str) -> None:
    await db.executemany(
        "INSERT INTO schema_version(version, applied_at, description) VALUES(?, ?, ?)",
        [(v, time.time(), description) for v in versions],
    )
    await db.commit()


async def _apply(db: aiosqlite.Connection, migration: Migration) -> None:
    """One migration and its record, atomically (one explicit transaction)."""
    script = (
        f"BEGIN;\n{migration.sql_for('sqlite').strip().rstrip(';')};\n"
        "INSERT INTO schema_version(version, applied_at, description) "
        f"VALUES({int(migration.version)}, {time.time()!r}, "
        f"'{migration.description.replace(chr(39), chr(39) * 2)}');\n"
        "INSERT INTO meta(key, value) VALUES('schema_version', "
        f"'{int(migration.version)}') ON CONFLICT(key) DO UPDATE SET value = excluded.value;\n"
        "COMMIT;"
    )
    try:
        await db.executescript(script)
    except BaseException:
        await db.rollback()
        raise
