"""The migration list applied to a shared PostgreSQL database, one bot or many at a time.

The same :data:`bot.store.migrations.MIGRATIONS` as SQLite, in each step's PostgreSQL SQL
(:meth:`Migration.sql_for`). Each step and its ``schema_version`` row commit together, under
a transaction-level advisory lock, so two bots starting at once apply every step exactly
once (PostgreSQL's DDL is transactional). A database newer than the code is refused
(``StoreError``), as for SQLite.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

from bot.errors import StoreError
from bot.store.migrations import MIGRATIONS, Migration, check_order

__all__ = ["applied_versions_postgresql", "migrate_postgresql"]

# "hedgebot" as a 64-bit advisory lock key: migrations of every bot serialize on it
MIGRATION_LOCK_KEY = int.from_bytes(b"hedgebot", "big") & 0x7FFF_FFFF_FFFF_FFFF

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL, description TEXT NOT NULL)
"""


async def applied_versions_postgresql(conn: AsyncConnection[Any]) -> list[int]:
    """The versions recorded in ``schema_version``, ascending."""
    cur = await conn.execute("SELECT version FROM schema_version ORDER BY version")
    return [int(row[0]) for row in await cur.fetchall()]


async def migrate_postgresql(
    conn: AsyncConnection[Any], bot_id: str, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """Apply the steps the database lacks, in order, each in its own transaction; record
    ``meta.schema_version`` for ``bot_id``; return the version. ``StoreError`` when the
    database is newer than ``migrations``; ``psycopg.Error`` propagates (the caller names the
    server)."""
    check_order(migrations)
    latest = migrations[-1].version if migrations else 0
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        await conn.execute(_VERSION_TABLE)
        applied = await applied_versions_postgresql(conn)
    current = applied[-1] if applied else 0
    if current > latest:
        raise StoreError(f"store schema version {current} is newer than this hedgebot ({latest})")
    for migration in migrations:
        if migration.version > current:
            await _apply(conn, migration)
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO meta(bot_id, key, value) VALUES(%s, 'schema_version', %s) "
            "ON CONFLICT(bot_id, key) DO UPDATE SET value = excluded.value",
            (bot_id, str(max(current, latest))),
        )
    return max(current, latest)


async def _apply(conn: AsyncConnection[Any], migration: Migration) -> None:
    """One step and its record, atomically; skipped when another bot applied it first."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        if migration.version in await applied_versions_postgresql(conn):
            return
        await conn.execute(migration.sql_for("postgresql"))  # several statements, no params
        await conn.execute(
            "INSERT INTO schema_version(version, applied_at, description) VALUES(%s, %s, %s)",
            (migration.version, time.time(), migration.description),
        )
