"""``store compact`` review: the dry run only reads (no lock, no schema created or migrated,
on SQLite and PostgreSQL), and ``report --since`` over a thinned history: exact at a UTC day
start, and naming the baseline tick it used anywhere else."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from store_backends import BACKENDS, PG_URL, Backend, backend_for, unique_schema
from test_store_compact import BOT, T0, _build, _config

from bot.cli import main
from bot.errors import StoreError
from bot.store.compact import _check_unchanged
from bot.store.migrations import MIGRATIONS

pytestmark = pytest.mark.integration

DAY_S = 86400.0
TABLES = (
    "snapshots",
    "decisions",
    "intents",
    "order_updates",
    "fills",
    "funding",
    "commands",
    "events",
    "meta",
)


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from backend_for(request.param, tmp_path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _state(backend: Backend) -> dict[str, Any]:
    """Everything a dry run must leave alone: every table's rows, the tables, the versions."""
    counts = {t: backend.rows(f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}
    versions = backend.rows("SELECT version FROM schema_version ORDER BY version")
    return {"rows": counts, "tables": backend.tables(), "versions": versions}


async def _build_in(backend: Backend) -> None:
    store = await backend.open(BOT)
    try:
        await _build(store)
    finally:
        await store.close()


@contextmanager
def _daemon_holding(backend: Backend) -> Iterator[subprocess.Popen[str]]:
    """Another process with the bot's store open for writing, as ``hedgebot run`` has it
    (PostgreSQL: the bot's advisory lock on a session of its own)."""
    assert backend.schema is not None
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from bot.store.postgres import PostgresStore\n"
        "async def hold():\n"
        f"    store = await PostgresStore.open({PG_URL!r}, {BOT!r}, "
        f"path=Path({str(backend.file)!r}), schema={backend.schema!r})\n"
        "    print('held', flush=True)\n"
        "    await asyncio.to_thread(sys.stdin.read)\n"
        "    await store.close()\n"
        "asyncio.run(hold())\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)


def test_dry_run_beside_a_daemon_holding_the_postgresql_lock_reads_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """While another process holds the bot's advisory lock, ``--dry-run`` answers (exit 0,
    what a real run would remove) and changes no row, table or schema version; the real run
    is refused naming the holder; once the holder is gone it removes what the dry run said."""
    with unique_schema() as schema:
        backend = Backend("postgresql", tmp_path, schema)
        asyncio.run(_build_in(backend))
        config = str(_config(tmp_path, backend, full_days=0, interval_s=3600))
        before = _state(backend)
        with _daemon_holding(backend):
            dry = _run(capsys, "store", "compact", "--config", config, "--dry-run", "--json")
            refused = _run(capsys, "store", "compact", "--config", config, "--json")
            during = _state(backend)
        ran = _run(capsys, "store", "compact", "--config", config, "--json")
        after = _state(backend)
    assert dry[0] == 0, dry[2]
    would = json.loads(dry[1])
    assert would["dry_run"] is True
    assert would["removed"] > 0
    assert refused[0] == 1
    assert "holds its lock" in refused[2]
    assert during == before
    assert ran[0] == 0, ran[2]
    assert json.loads(ran[1])["removed"] == would["removed"]
    assert after["rows"]["snapshots"] == before["rows"]["snapshots"] - would["removed"]


@contextmanager
def _empty_database() -> Iterator[str]:
    """A new PostgreSQL database of this test's own (its URL), dropped afterwards."""
    name = f"hb_compact_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    admin = PG_URL
    try:
        with closing(psycopg.connect(admin, autocommit=True, connect_timeout=3)) as conn:
            conn.execute(f"CREATE DATABASE {name}".encode())
    except psycopg.OperationalError:
        pytest.skip(f"PostgreSQL at {PG_URL} does not answer")
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with closing(psycopg.connect(admin, autocommit=True, connect_timeout=3)) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)".encode())


@pytest.mark.parametrize("mode", [["--dry-run"], []], ids=["dry-run", "real"])
def test_compacting_an_empty_postgresql_database_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: list[str]
) -> None:
    """A database without hedgebot's tables: a dry run or a real one is one line saying so,
    exit 1, and the database still has no table (both used to create all of them and answer
    0 snapshots), as a missing SQLite file is "nothing to compact"."""
    with _empty_database() as url:
        config = _config(tmp_path, Backend("sqlite", tmp_path), 0, 3600)
        data = yaml.safe_load(config.read_text())
        data["store"]["url"] = url
        config.write_text(yaml.safe_dump(data))
        code, out, err = _run(capsys, "store", "compact", "--config", str(config), *mode)
        with closing(psycopg.connect(url, autocommit=True, connect_timeout=3)) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchall()
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "holds no hedgebot tables" in err
    assert tables == []


def test_dry_run_leaves_a_store_of_an_older_schema_unmigrated(
    store_backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store at schema version 2 (an older hedgebot's): the dry run is one line naming both
    versions, exit 1, and the store is still at version 2 (it used to migrate it: a newer
    hedgebot's dry run would have migrated a live fleet)."""

    async def old_store() -> None:
        store = await store_backend.open(BOT, migrations=MIGRATIONS[:2])
        await store.close()

    asyncio.run(old_store())
    before = store_backend.rows("SELECT version FROM schema_version ORDER BY version")
    tables = store_backend.tables()
    config = str(_config(tmp_path, store_backend, 0, 3600))
    code, _, err = _run(capsys, "store", "compact", "--config", config, "--dry-run")
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "schema version 2" in err
    assert store_backend.rows("SELECT version FROM schema_version ORDER BY version") == before
    assert before[-1][0] == 2
    assert store_backend.tables() == tables


def _since(capsys: pytest.CaptureFixture[str], schema: str, since: str) -> dict[str, Any]:
    code, out, err = _run(
        capsys,
        *("report", "--store-url", PG_URL, "--pg-schema", schema),
        *("--bot", BOT, "--since", since, "--json"),
    )
    assert code == 0, err
    row: dict[str, Any] = json.loads(out)["bots"][BOT]
    return row


def test_report_since_a_utc_day_start_is_the_same_after_compaction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three days of 5-minute ticks thinned to one an hour: ``report --since`` at each UTC
    day start gives every part the same to the last digit (only the stored ticks drop), from
    the same baseline, the last tick before midnight; an off-boundary ``--since`` names the
    baseline it used, which compaction moved to an earlier kept tick, in the JSON and the
    table."""
    days = ("2023-11-15", "2023-11-16", "2023-11-17")  # T0 is 2023-11-14 22:13:20 UTC
    off = "2023-11-15T12:02:00"
    with unique_schema() as schema:
        backend = Backend("postgresql", tmp_path, schema)
        asyncio.run(_build_in(backend))
        config = str(_config(tmp_path, backend, full_days=0, interval_s=3600))
        before = {day: _since(capsys, schema, day) for day in (*days, off)}
        code, _, err = _run(capsys, "store", "compact", "--config", config)
        assert code == 0, err
        after = {day: _since(capsys, schema, day) for day in (*days, off)}
        text = _run(
            capsys,
            *("report", "--store-url", PG_URL, "--pg-schema", schema, "--since", off),
        )[1]
    for day in days:
        midnight = T0 - T0 % DAY_S + DAY_S * (days.index(day) + 1)
        baseline = before[day]["since_baseline"]
        assert midnight - 300 <= baseline["timestamp_s"] < midnight, day
        assert after[day]["ticks"] < before[day]["ticks"], day
        assert {k: v for k, v in after[day].items() if k != "ticks"} == {
            k: v for k, v in before[day].items() if k != "ticks"
        }, day
    old, new = before[off]["since_baseline"], after[off]["since_baseline"]
    assert old["time"] == "2023-11-15T11:58:20Z"  # the last 5-minute tick before 12:02
    assert new["block"] < old["block"]
    assert new["time"].startswith("2023-11-15T11:")
    assert after[off]["net_pnl_quote"] != before[off]["net_pnl_quote"]  # explained by it
    assert f"{BOT} from block {new['block']} at {new['time'][:10]} {new['time'][11:19]} UTC" in text


def test_the_self_check_refuses_to_remove_a_days_baseline(tmp_path: Path) -> None:
    """Removing a UTC day's last snapshot leaves every total as it was but moves that day's
    ``--since`` baseline: compaction's check names the day and removes nothing."""

    async def scenario() -> tuple[str, int, int]:
        store = await Backend("sqlite", tmp_path).open(BOT)
        try:
            await _build(store)
            index = await store.snapshot_index()
            midnight = T0 - T0 % DAY_S + 2 * DAY_S  # 2023-11-16 00:00 UTC
            day_end = max(row_id for row_id, ts, _ in index if ts < midnight)
            with pytest.raises(StoreError) as refused:
                await _check_unchanged(store, index[-1][0], {day_end})
            return str(refused.value), len(index), await store.count("snapshots")
        finally:
            await store.close()

    message, indexed, stored = asyncio.run(scenario())
    assert "since 2023-11-16" in message
    assert "net_pnl_quote" not in message  # the totals telescope; the window does not
    assert "nothing removed" in message
    assert stored == indexed
