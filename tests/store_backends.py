"""The store's backends for the contract tests: a SQLite file, or a PostgreSQL schema of its own.

A module's ``store_backend`` fixture (``backend_for``) is parametrized over both; each PostgreSQL
test gets a fresh schema with a unique name (pid + random), dropped afterwards, so parallel
runs on one server never collide. The server is ``HEDGEBOT_TEST_PG_URL`` (default: the local
one, trust auth). Where no server answers, PostgreSQL cases skip, except on CI (``CI`` set),
where they fail: CI runs PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.store.base import RecordStore
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore

PG_URL = os.environ.get("HEDGEBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

_reachable: bool | None = None


def pg_reachable() -> bool:
    """Whether the test server answers (asked once per session)."""
    global _reachable
    if _reachable is None:
        try:
            with closing(psycopg.connect(PG_URL, connect_timeout=3)):
                _reachable = True
        except psycopg.Error:
            _reachable = False
    return _reachable


def require_pg() -> None:
    """Skip (fail on CI) when the test server does not answer."""
    if not pg_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} does not answer (CI runs it)")
        pytest.skip(f"PostgreSQL at {PG_URL} does not answer")


def pg_sql(sql: str, params: Sequence[Any] = (), schema: str = "public") -> list[tuple[Any, ...]]:
    """Run one statement on the test server (autocommit, tables in ``schema``); its rows."""
    options = f"-c search_path={schema}"
    with closing(
        psycopg.connect(PG_URL, autocommit=True, connect_timeout=3, options=options)
    ) as conn:
        cur = conn.execute(sql.encode(), params)  # test SQL, names from unique_schema
        return list(cur.fetchall()) if cur.description else []


@contextmanager
def unique_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped with everything in it afterwards."""
    require_pg()
    name = f"hb_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    pg_sql(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        pg_sql(f"DROP SCHEMA {name} CASCADE")


class Backend:
    """Where one test's store lives, and how to (re)open it and look inside it."""

    def __init__(self, name: str, tmp_path: Path, schema: str | None = None) -> None:
        self.name = name
        self.file = tmp_path / "s.sqlite"
        self.schema = schema

    async def open(
        self, bot_id: str = "hedgebot", migrations: Sequence[Migration] = MIGRATIONS
    ) -> RecordStore:
        """Open (creating and migrating) this test's store as ``bot_id``."""
        if self.schema is None:
            return await SqliteStore.open(self.file, migrations=migrations)
        return await PostgresStore.open(
            PG_URL, bot_id, path=self.file, schema=self.schema, migrations=migrations
        )

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """One query on the store's database from outside the store (another connection)."""
        if self.schema is None:
            with closing(sqlite3.connect(self.file)) as db:
                return list(db.execute(sql))
        return pg_sql(sql, schema=self.schema)

    def tables(self) -> set[str]:
        """The tables of the store's database."""
        if self.schema is None:
            return {row[0] for row in self.rows("SELECT name FROM sqlite_master")}
        return {
            row[0]
            for row in pg_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (self.schema,),
            )
        }

    def store_config(self) -> dict[str, Any]:
        """The ``store`` section of a bot config using this backend."""
        if self.schema is None:
            return {"path": str(self.file)}
        return {"path": str(self.file), "url": PG_URL, "pg_schema": self.schema}


BACKENDS = ("sqlite", "postgresql")


def backend_for(name: str, tmp_path: Path) -> Iterator[Backend]:
    """The body of a module's ``store_backend`` fixture (``params=BACKENDS``): the named
    backend, PostgreSQL in a schema of this test's own::

        @pytest.fixture(params=BACKENDS)
        def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
            yield from backend_for(request.param, tmp_path)
    """
    if name == "sqlite":
        yield Backend("sqlite", tmp_path)
        return
    with unique_schema() as schema:
        yield Backend("postgresql", tmp_path, schema)
