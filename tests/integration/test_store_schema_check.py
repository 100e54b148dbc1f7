"""Readers check the store's schema version first (issue 19 review, item 10): a store
written by an older or newer hedgebot is one clear StoreError naming both versions, on
SQLite and PostgreSQL, never a raw SQL error about a missing column."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_backends import PG_URL, unique_schema

from bot.errors import StoreError
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.postgres import PostgresStore
from bot.store.schema_check import latest_version
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

LATEST = latest_version()
NEXT = (Migration(LATEST + 1, "a later hedgebot's step", "CREATE TABLE later_step (a INTEGER)"),)


@pytest.fixture
def schema() -> Iterator[str]:
    with unique_schema() as name:
        yield name


async def test_sqlite_reader_refuses_a_newer_or_older_store_naming_both_versions(
    tmp_path: Path,
) -> None:
    """Written by a later hedgebot: 'newer than this hedgebot'; read by a later one: 'start
    hedgebot run of this version'; the same version reads as before."""
    path = tmp_path / "bot.sqlite"
    writer = await SqliteStore.open(path, migrations=(*MIGRATIONS, *NEXT))
    await writer.close()
    with pytest.raises(StoreError) as newer:
        await SqliteStore.open(path, read_only=True)
    assert f"schema version {LATEST + 1}, newer than this hedgebot ({LATEST})" in str(newer.value)
    assert str(path) in str(newer.value)

    old = tmp_path / "old.sqlite"
    await (await SqliteStore.open(old)).close()
    with pytest.raises(StoreError) as older:
        await SqliteStore.open(old, read_only=True, migrations=(*MIGRATIONS, *NEXT))
    text = str(older.value)
    assert f"schema version {LATEST}, this hedgebot reads version {LATEST + 1}" in text
    assert "hedgebot run" in text
    reader = await SqliteStore.open(old, read_only=True)  # the same version: reads
    await reader.close()


async def test_postgresql_reader_refuses_another_schema_version(
    tmp_path: Path, schema: str
) -> None:
    """The shared database migrated by a later hedgebot: a reader (report, fleet status)
    is refused with both versions; a writer of the same later version reads it."""
    kwargs = {"path": tmp_path / "x.sqlite", "schema": schema, "timeout_s": 3.0}
    writer = await PostgresStore.open(PG_URL, "bot-a", migrations=(*MIGRATIONS, *NEXT), **kwargs)
    await writer.close()
    with pytest.raises(StoreError) as newer:
        await PostgresStore.open(PG_URL, "bot-a", read_only=True, **kwargs)
    assert f"schema version {LATEST + 1}, newer than this hedgebot ({LATEST})" in str(newer.value)
    assert schema in str(newer.value)  # the where: URL and schema
    same = await PostgresStore.open(
        PG_URL, "bot-a", read_only=True, migrations=(*MIGRATIONS, *NEXT), **kwargs
    )
    await same.close()
