"""The store contract on SQLite and PostgreSQL (``store_backend``): write-ahead intents,
idempotent fills/funding, the migration list, transactions and typed meta keys; and the
SQLite file's own cases (disk full, a directory for a path, stores from before migrations)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
from store_backends import BACKENDS, Backend, backend_for

from bot.domain import Fill, FundingPayment, Order, OrderIntent, OrderStatus, Side
from bot.errors import StoreError
from bot.store.meta import Meta, MetaKey, Threshold
from bot.store.migrations import MIGRATIONS, Migration, applied_versions
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The store contract on each backend (PostgreSQL: a schema of this test's own)."""
    yield from backend_for(request.param, tmp_path)


def intent(cid: str) -> OrderIntent:
    return OrderIntent(cid, "ETH/USDT:USDT", Side.SELL, Decimal("0.5"), False, Decimal(1990))


async def test_unresolved_intents_until_outcome_recorded(store_backend: Backend) -> None:
    """An intent stays unresolved until an order update with a terminal status arrives."""
    store = await store_backend.open()
    await store.record_intent(1.0, 10, intent("a"))
    await store.record_intent(1.0, 10, intent("b"))
    await store.mark_intent("b", OrderStatus.UNKNOWN)
    assert [i.client_order_id for i in await store.unresolved_intents()] == ["a", "b"]
    order = Order(
        "a",
        "1",
        "ETH/USDT:USDT",
        Side.SELL,
        Decimal("0.5"),
        Decimal("0.5"),
        Decimal(2000),
        OrderStatus.FILLED,
        False,
    )
    await store.record_order(2.0, order)
    await store.close()
    reopened = await store_backend.open()
    unresolved = await reopened.unresolved_intents()
    assert [i.client_order_id for i in unresolved] == ["b"]
    assert unresolved[0].limit_price == Decimal(1990)
    assert await reopened.intent_count() == 2
    await reopened.close()


async def test_fills_and_funding_recorded_once(store_backend: Backend) -> None:
    """Re-reading the same fills and funding from the venue never double counts."""
    store = await store_backend.open()
    fill = Fill(
        "t1",
        "a",
        "1",
        "ETH/USDT:USDT",
        Side.SELL,
        Decimal(1),
        Decimal(2000),
        Decimal("1.0"),
        Decimal(0),
        1000,
    )
    pay = FundingPayment(
        "f1", "ETH/USDT:USDT", Decimal("0.2"), Decimal("0.0001"), Decimal(-1), Decimal(2000), 2000
    )
    assert await store.record_fill(fill) is True
    assert await store.record_fill(fill) is False
    assert await store.record_funding(pay) is True
    assert await store.record_funding(pay) is False
    totals = await store.totals()
    assert totals == {
        "fees_quote": Decimal("1.0"),
        "funding_quote": Decimal("0.2"),
        "realized_pnl_quote": Decimal(0),
    }
    await store.close()


async def test_disk_full_is_store_error(tmp_path: Path) -> None:
    """SQLITE_FULL (a full disk, here a capped page count) surfaces as StoreError."""
    store = await SqliteStore.open(tmp_path / "s.sqlite")
    await store._db.execute("PRAGMA max_page_count = 1")

    async def fill_up() -> None:
        for n in range(200):
            await store.record_intent(1.0, n, intent(f"c{n}"))

    with pytest.raises(StoreError, match="full"):
        await fill_up()
    await store.close()


async def test_store_path_is_a_directory_refused(tmp_path: Path) -> None:
    """A path that cannot hold a database is refused with the path in the message."""
    bad = tmp_path / "dir.sqlite"
    bad.mkdir()
    with pytest.raises(StoreError, match=r"dir\.sqlite"):
        await SqliteStore.open(bad)


HEAD_STORE_SQL = Path(__file__).parent.parent / "data" / "store_v1_head.sql"
LATEST = MIGRATIONS[-1].version  # the schema this code writes
ALL_VERSIONS = list(range(1, LATEST + 1))


def head_store(path: Path) -> Path:
    """A store file as the code before the migration list wrote it (schema 1, no
    schema_version table), restored from its SQL dump."""
    with closing(sqlite3.connect(path)) as db:
        db.executescript(HEAD_STORE_SQL.read_text())
    return path


async def test_store_from_before_the_migration_list_opens_at_version_1(tmp_path: Path) -> None:
    """A schema-1 store written by the previous code migrates cleanly: version 1 recorded,
    the later versions applied, every record and meta value read back as it was (its fill,
    of a stored intent, classified as the bot's own), and it takes new writes."""
    store = await SqliteStore.open(head_store(tmp_path / "old.sqlite"))
    assert await applied_versions(store._db) == ALL_VERSIONS
    assert await store.get(Meta.SCHEMA_VERSION) == LATEST
    assert [f.trade_id for f in await store.read_fills(own=True)] == ["t1"]
    assert [i.client_order_id for i in await store.unresolved_intents()] == ["hb-aaaa-11-2"]
    assert await store.intent_count() == 2
    assert await store.intent_blocks() == {"hb-aaaa-10-1": 10, "hb-aaaa-11-2": 11}
    assert [f.trade_id for f in await store.read_fills()] == ["t1"]
    assert await store.totals() == {
        "fees_quote": Decimal("0.4"),
        "funding_quote": Decimal("0.2"),
        "realized_pnl_quote": Decimal(0),
    }
    assert await store.get(Meta.PAUSED) is True
    assert await store.get(Meta.FLATTENING) is False
    assert await store.get(Meta.HEDGE_RATIO) == Decimal("0.8")
    assert await store.get(Meta.THRESHOLD) == Threshold(Decimal("0.3"), None)
    assert await store.get(Meta.POSITION_BASELINE) == Decimal("-0.25")
    assert await store.get(Meta.FILLS_SINCE_MS) == 1501
    assert await store.get(Meta.FUNDING_SINCE_MS) == 2001
    assert await store.get(Meta.RISK_DAY) == "2024-01-02"
    assert await store.get(Meta.RISK_DAY_START_NET) == Decimal("-12.5")
    assert await store.command_statuses() == {"c1": "ok"}
    assert [e["alert"] for e in await store.read_events("alert")] == ["risk.stale"]
    await store.record_intent(5.0, 12, intent("hb-aaaa-12-3"))
    await store.close()
    reopened = await SqliteStore.open(tmp_path / "old.sqlite")
    assert await applied_versions(reopened._db) == ALL_VERSIONS  # once, not re-applied
    assert await reopened.intent_count() == 3
    await reopened.close()


async def test_migrations_apply_in_order_once_each(tmp_path: Path) -> None:
    """A newer migration list applies only the versions a store lacks, in order, each
    recorded; an old store gains the new table with its records intact."""
    path = head_store(tmp_path / "old.sqlite")
    later = (
        *MIGRATIONS,
        Migration(
            LATEST + 1, "fill index", "CREATE INDEX fills_by_order ON fills(client_order_id)"
        ),
        Migration(LATEST + 2, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)"),
    )
    store = await SqliteStore.open(path, migrations=later)
    assert await applied_versions(store._db) == [*ALL_VERSIONS, LATEST + 1, LATEST + 2]
    assert await store.get(Meta.SCHEMA_VERSION) == LATEST + 2
    assert await store.intent_count() == 2
    await store._db.execute("INSERT INTO notes(text) VALUES('x')")
    await store.close()
    again = await SqliteStore.open(path, migrations=later)
    assert await applied_versions(again._db) == [*ALL_VERSIONS, LATEST + 1, LATEST + 2]
    await again.close()


async def test_store_newer_than_the_code_is_refused(store_backend: Backend) -> None:
    """A store migrated by a newer hedgebot is refused with both versions named."""
    later = (*MIGRATIONS, Migration(LATEST + 1, "later", "CREATE TABLE later (id INTEGER)"))
    await (await store_backend.open(migrations=later)).close()
    with pytest.raises(
        StoreError, match=f"version {LATEST + 1} is newer than this hedgebot \\({LATEST}\\)"
    ):
        await store_backend.open()


async def test_failed_migration_leaves_the_store_at_the_previous_version(
    store_backend: Backend,
) -> None:
    """A migration that fails midway changes nothing: no half table, no version recorded."""
    await (await store_backend.open()).close()
    broken = (
        *MIGRATIONS,
        Migration(
            LATEST + 1, "broken", "CREATE TABLE half (id INTEGER); INSERT INTO nowhere VALUES(1)"
        ),
    )
    with pytest.raises(StoreError, match="nowhere"):
        await store_backend.open(migrations=broken)
    versions = [row[0] for row in store_backend.rows("SELECT version FROM schema_version")]
    tables = store_backend.tables()
    assert versions == ALL_VERSIONS
    assert "half" not in tables


async def test_transaction_commits_all_or_nothing(store_backend: Backend) -> None:
    """Writes grouped in store.transaction() commit together; an error inside rolls all of
    them back (an intent and its status never apart)."""
    store = await store_backend.open()

    async def crash_between_writes() -> None:
        async with store.transaction():
            await store.record_intent(1.0, 10, intent("a"))
            await store.set(Meta.PAUSED, True)
            raise RuntimeError("crash between writes")

    with pytest.raises(RuntimeError, match="crash"):
        await crash_between_writes()
    assert await store.intent_count() == 0
    assert await store.get_meta(MetaKey.PAUSED) is None
    async with store.transaction():
        await store.record_intent(1.0, 10, intent("a"))
        await store.mark_intent("a", OrderStatus.UNKNOWN)
    await store.close()
    reopened = await store_backend.open()
    assert [i.client_order_id for i in await reopened.unresolved_intents()] == ["a"]
    await reopened.close()


async def test_meta_keys_are_one_enum_with_typed_values(store_backend: Backend) -> None:
    """Typed meta fields round-trip in the text forms schema 1 used; a key outside MetaKey
    is refused; a value encoding to nothing deletes the key."""
    store = await store_backend.open()
    assert await store.get(Meta.PAUSED) is False  # default when absent
    await store.set(Meta.PAUSED, True)
    await store.set(Meta.HEDGE_RATIO, Decimal("0.75"))
    await store.set(Meta.THRESHOLD, Threshold(None, Decimal("0.1")))
    await store.set(Meta.OPERATOR_STATE, {"trading_state": "reducing", "hedge_ratio": "0.5"})
    assert await store.get_meta("paused") == "1"
    assert await store.get_meta("hedge_ratio") == "0.75"
    assert await store.get_meta("threshold") == "|0.1"
    assert await store.get(Meta.THRESHOLD) == Threshold(None, Decimal("0.1"))
    assert await store.get(Meta.OPERATOR_STATE) == {
        "trading_state": "reducing",
        "hedge_ratio": "0.5",
    }
    await store.set(Meta.HEDGE_RATIO, None)
    assert await store.get_meta(MetaKey.HEDGE_RATIO) is None
    with pytest.raises(ValueError, match="not_a_key"):
        await store.set_meta("not_a_key", "1")
    with pytest.raises(ValueError, match="not_a_key"):
        await store.get_meta("not_a_key")
    await store.close()
