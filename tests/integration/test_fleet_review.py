"""Issue 19 review findings on a real shared PostgreSQL store: a bot that never ticked is
listed, a bot that stopped shows ``stale``, ``--pg-schema`` can carry no libpq option into
either command, and ``--since`` junk is refused with exit 2 (one parser, one schema rule)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from store_backends import PG_URL, pg_sql, unique_schema
from test_fleet_report import own_report, record_bot
from test_replay_stream import record_ticks

from bot.cli import main
from bot.errors import StoreError
from bot.fleet_report import parse_since
from bot.replay_store import resume_report, save_checkpoint
from bot.store.postgres import PostgresStore

pytestmark = pytest.mark.integration


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[str]:
    """``alpha`` (three ticks in 1970: long stopped), ``fresh`` (ticking now) and ``stuck``
    (started: its meta row, but never ticked) in one schema of this test's own."""
    with unique_schema() as schema:

        async def seed() -> None:
            await record_bot("alpha", schema, tmp_path, fee="1.13", funding="1.6")
            fresh = await PostgresStore.open(PG_URL, "fresh", path=tmp_path / "f", schema=schema)
            try:
                now = time.time()
                await record_ticks(fresh, 100, 30)  # record times 100..129 s
                await fresh.record_snapshot(now - 5, (await fresh.snapshot_page(0, 1))[0][2])
            finally:
                await fresh.close()
            stuck = await PostgresStore.open(PG_URL, "stuck", path=tmp_path / "s", schema=schema)
            try:
                await stuck.check_writable()  # what Engine.start does first: a meta row
            finally:
                await stuck.close()

        asyncio.run(seed())
        yield schema


def status(capsys: Any, *args: str) -> dict[str, Any]:
    assert main(["fleet", "status", "--json", "--store-url", PG_URL, *args]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return {row["bot_id"]: row for row in out["bots"]}


def test_a_bot_that_never_ticked_is_listed_and_a_stopped_one_is_stale(
    fleet: str, capsys: Any
) -> None:
    """Every bot with any record: ``stuck`` (meta only) as never ticked with unknown values;
    ``alpha`` (last record in 1970) stale while its trading state stays ``active``; ``fresh``
    (a record 5 s ago) ticking; the table says the same in its state column."""
    rows = status(capsys, "--pg-schema", fleet)
    assert sorted(rows) == ["alpha", "fresh", "stuck"]
    stuck = rows["stuck"]
    assert stuck["activity"] == "never ticked"
    assert (stuck["block"], stuck["age_s"], stuck["net_pnl_quote"]) == (None, None, None)
    assert (rows["alpha"]["activity"], rows["alpha"]["trading_state"]) == ("stale", "active")
    assert rows["fresh"]["activity"] == "ticking"
    assert rows["fresh"]["age_s"] < 120
    assert main(["fleet", "status", "--store-url", PG_URL, "--pg-schema", fleet]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:4]}
    assert "never ticked" in lines["stuck"]
    assert lines["alpha"].split()[-1] == "stale"
    assert lines["fresh"].split()[-1] == "active"
    assert all(len(line) <= 80 for line in lines.values())
    wide = status(capsys, "--pg-schema", fleet, "--stale-after", "1e12")
    assert wide["alpha"]["activity"] == "ticking"
    assert exit_code(["fleet", "status", "--store-url", PG_URL, "--stale-after", "0"]) == 2
    assert "--stale-after" in capsys.readouterr().err


def test_fleet_status_net_pnl_from_the_checkpoint_equals_the_report(
    fleet: str, tmp_path: Path, capsys: Any
) -> None:
    """``fresh`` with a kept PnL checkpoint (as its engine leaves it): fleet status folds only
    the ticks after it, and its net PnL equals the bot's own full ``report``."""

    async def keep() -> None:
        store = await PostgresStore.open(PG_URL, "fresh", path=tmp_path / "f", schema=fleet)
        try:
            _, checkpoint = await resume_report(store)
            assert checkpoint is not None
            await save_checkpoint(store, checkpoint)
        finally:
            await store.close()

    asyncio.run(keep())
    own = own_report(tmp_path, fleet, "fresh", capsys)
    assert status(capsys, "--pg-schema", fleet)["fresh"]["net_pnl_quote"] == own["net_pnl_quote"]


def exit_code(argv: list[str]) -> int:
    """What ``hedgebot`` exits with: main's answer, or the argument check's exit (it stops at
    parse time, as argparse does, with the same one line)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize(
    "schema",
    [
        "public -c default_transaction_read_only=off",
        "public -c statement_timeout=1",
        "Public",
        "x" * 64,
        "",
    ],
)
def test_pg_schema_is_one_identifier_for_both_commands(schema: str, capsys: Any) -> None:
    """``fleet status`` and ``report --store-url`` refuse a schema that is not an identifier
    with the same message and exit 2, before connecting; the store itself refuses it too."""
    assert exit_code(["fleet", "status", "--store-url", PG_URL, "--pg-schema", schema]) == 2
    status_err = capsys.readouterr().err
    assert "a schema name is a lower-case letter" in status_err
    assert exit_code(["report", "--store-url", PG_URL, "--pg-schema", schema]) == 2
    report_err = capsys.readouterr().err
    assert report_err.split(": ", 1)[1] == status_err.split(": ", 1)[1]

    async def open_store() -> None:
        await PostgresStore.open(PG_URL, "x", path=Path("."), schema=schema, read_only=True)

    with pytest.raises(StoreError, match="schema name"):
        asyncio.run(open_store())


def test_read_only_cannot_be_switched_off_through_the_schema(fleet: str) -> None:
    """The review's attack: nothing reaches the server; the fleet's rows are unchanged."""
    before = pg_sql("SELECT COUNT(*) FROM meta", schema=fleet)
    attack = f"{fleet} -c default_transaction_read_only=off"
    assert exit_code(["fleet", "status", "--store-url", PG_URL, "--pg-schema", attack]) == 2
    assert pg_sql("SELECT COUNT(*) FROM meta", schema=fleet) == before


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("nan", "not a finite time"),
        ("inf", "not a finite time"),
        ("-inf", "not a finite time"),
        ("1e20", "more than a day in the future"),
        ("2099-01-01", "more than a day in the future"),
        ("yesterday", "give a UTC date"),
        ("2026-13-45", "give a UTC date"),
    ],
)
def test_since_junk_is_exit_2_with_a_clear_message(
    fleet: str, text: str, says: str, capsys: Any
) -> None:
    """``report --store-url --since`` refuses what would report the whole history or zeros."""
    args = ["report", "--store-url", PG_URL, "--pg-schema", fleet, f"--since={text}"]
    assert exit_code(args) == 2
    assert says in capsys.readouterr().err


def test_since_accepts_dates_times_and_epoch_seconds_up_to_a_day_ahead() -> None:
    """The forms that work: epoch seconds, a UTC date or date-time, an offset; now + 23 h."""
    now = 1_764_000_000.0
    assert parse_since("2500", now) == 2500.0
    assert parse_since("1970-01-01T00:41:40", now) == 2500.0
    assert parse_since("1970-01-01T01:41:40+01:00", now) == 2500.0
    assert parse_since(str(now + 23 * 3600), now) == now + 23 * 3600
    with pytest.raises(ValueError, match="future"):
        parse_since(str(now + 25 * 3600), now)
