"""``hedgebot kill`` leaves an audit row like the page's kill switch: on a real store (SQLite
file, PostgreSQL schema) freeze then clear from the CLI are two ``kill_switch`` command rows
(ids ``cli-…``) that the bot page's event log lists beside its own (``web-…``); a flag file
that cannot be written is a recorded rejection and exit 1; a store locked by another
process, unreachable, or that cannot be opened leaves the switch engaged with one warning
line naming the store; ``status`` records nothing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from cli_process import hedgebot_process
from store_backends import BACKENDS, PG_URL, Backend, backend_for
from web_serving import served_bot_page

from bot.cli import main
from bot.store.sqlite import SqliteStore
from bot.telemetry.action_record import KILL_COMMAND
from bot.telemetry.dashboard.bot_page import BotDashboard
from bot.telemetry.dashboard.command_hub import CommandHub
from bot.telemetry.dashboard.feed import DashboardFeed
from bot.telemetry.dashboard.security import CommandGate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

BOT = "kill-cli-bot"
ADDR = "0x" + "1" * 40
POOL, BASE, QUOTE = ("0x" + digit * 40 for digit in "abc")


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from backend_for(request.param, tmp_path)


def _config(tmp_path: Path, store: dict[str, Any], **risk: str) -> Path:
    """A bot config whose ``store`` section is ``store`` (the flag beside its path)."""
    body: dict[str, Any] = {
        "bot_id": BOT,
        "chain": {"rpc_urls": ["http://127.0.0.1:1"]},
        "positions": [{"id": "a", "kind": "v2", "pool": POOL, "owner": ADDR}],
        "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
        "store": store,
    }
    if risk:
        body["risk"] = risk
    path = tmp_path / "kill.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def _recorded_id(out: str) -> str:
    """The command id of the ``recorded as command ID in STORE`` line."""
    lines = [line for line in out.splitlines() if line.startswith("recorded as command ")]
    assert len(lines) == 1, out
    return lines[0].split()[3]


async def test_freeze_then_clear_from_the_cli_are_two_rows_the_page_lists(
    store_backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each CLI action writes the flag, then one ``kill_switch`` row (``ok``, params mode and
    reason, id ``cli-`` + 32 hex) in order; the page's event log lists them as it lists its
    own kill action (same fields), told apart by the id's prefix."""
    store = await store_backend.open(BOT)  # the bot has run: its store exists
    await store.close()
    config = str(_config(tmp_path, store_backend.store_config()))
    flag = tmp_path / "kill-switch"
    assert main(["kill", "--config", config, "freeze", "--reason", "drill"]) == 0
    freeze = capsys.readouterr()
    assert '"freeze"' in flag.read_text()
    assert main(["kill", "--config", config, "clear"]) == 0
    clear = capsys.readouterr()
    assert not flag.exists()
    assert (freeze.err, clear.err) == ("", "")
    ids = [_recorded_id(freeze.out), _recorded_id(clear.out)]
    for command_id in ids:
        assert command_id.startswith("cli-"), command_id
        assert len(command_id) == len("cli-") + 32, command_id
    store = await store_backend.open(BOT)
    try:
        rows = await store.recent_commands(10)
        cleared = {"mode": "clear", "reason": "operator request (cli)"}
        assert [(r["id"], r["command"], r["status"], r["params"], r["reason"]) for r in rows] == [
            (ids[0], "kill_switch", "ok", {"mode": "freeze", "reason": "drill"}, None),
            (ids[1], "kill_switch", "ok", cleared, None),
        ]
        hub = CommandHub(BOT)
        hub.ledger = store
        page_ack = await hub.record_action(KILL_COMMAND, {"mode": "freeze"}, None)
        dashboard = BotDashboard(
            bot_id=BOT,
            feed=DashboardFeed(),
            store=store,
            gate=CommandGate(token=None, port=0),
            commands=hub,
        )
        async with (
            served_bot_page(dashboard) as url,
            aiohttp.ClientSession() as http,
            http.get(f"{url}/api/events?kinds=command") as answer,
        ):
            assert answer.status == 200
            log = (await answer.json())["events"]
    finally:
        await store.close()
    assert [(e["type"], e["data"]["id"], e["data"]["command"]) for e in log] == [
        ("command", page_ack.id, "kill_switch"),
        ("command", ids[1], "kill_switch"),
        ("command", ids[0], "kill_switch"),
    ]
    assert page_ack.id.startswith("web-")
    assert {frozenset(e["data"]) for e in log} == {
        frozenset({"id", "command", "status", "params", "reason"})
    }


async def test_a_flag_file_that_cannot_be_written_is_a_recorded_rejection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The flag's directory is a file: exit 1 with one error line (no traceback), and the
    commands table records the rejection with that reason."""
    store_path = tmp_path / "s.sqlite"
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    config = _config(tmp_path, {"path": str(store_path)}, kill_switch_file=str(blocker / "KILL"))
    await (await SqliteStore.open(store_path)).close()
    assert main(["kill", "--config", str(config), "freeze"]) == 1
    said = capsys.readouterr()
    assert said.err.startswith("hedgebot: kill switch freeze failed: kill switch file: ")
    assert len(said.err.splitlines()) == 1, said.err
    command_id = _recorded_id(said.out)
    rows = _sqlite_rows(store_path)
    assert [(r[0], r[1], r[2]) for r in rows] == [(command_id, "kill_switch", "rejected")]
    reason = json.loads(rows[0][3])["reason"]
    assert said.err.strip().endswith(reason)


def _sqlite_rows(path: Path) -> list[tuple[Any, ...]]:
    """The commands table of a SQLite store, read from outside the CLI."""
    with closing(sqlite3.connect(path)) as db:
        return list(db.execute("SELECT id, command, status, body FROM commands ORDER BY ts"))


@contextmanager
def _sqlite_write_locked(path: Path) -> Iterator[None]:
    """This process holds ``path``'s write lock (a transaction left open) meanwhile."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            db.execute("ROLLBACK")


async def test_a_store_locked_by_another_process_leaves_the_switch_engaged(
    store_backend: Backend, tmp_path: Path
) -> None:
    """SQLite: this process holds the file's write lock; PostgreSQL: this process holds the
    bot's lock (its store open, as a running daemon does). ``hedgebot kill freeze`` in
    another process writes the flag, exits 0 and warns in one line naming the store; no row
    is written."""
    store = await store_backend.open(BOT)
    config = _config(tmp_path, store_backend.store_config())
    try:
        if store_backend.schema is None:
            await store.close()
            with _sqlite_write_locked(store_backend.file):
                killed = hedgebot_process(tmp_path, "kill", "--config", str(config), "freeze")
            where = str(store_backend.file)
        else:
            killed = hedgebot_process(tmp_path, "kill", "--config", str(config), "freeze")
            where = f"{PG_URL} (schema {store_backend.schema})"
        assert killed.returncode == 0, killed.stderr
        assert '"freeze"' in (tmp_path / "kill-switch").read_text()
        assert "Traceback" not in killed.stderr
        assert killed.stderr.startswith(
            "hedgebot: warning: kill switch freeze took effect but was not recorded in the "
            f"store {where}: "
        ), killed.stderr
        assert len(killed.stderr.splitlines()) == 1, killed.stderr
        assert killed.stdout.startswith("kill switch engaged: freeze (")
        assert "recorded as command" not in killed.stdout
        assert store_backend.rows("SELECT id FROM commands") == []
    finally:
        if store_backend.schema is not None:
            await store.close()


@pytest.mark.parametrize("where", ["directory", "missing", "unreachable"])
def test_a_store_that_cannot_be_opened_leaves_the_switch_engaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """A store path that is a directory, a SQLite store that does not exist yet (not created
    for this: the page and the daemon own it), a PostgreSQL server that refuses: the switch
    is engaged, exit 0, one warning line naming the store, no traceback."""
    store_path = tmp_path / "s.sqlite"
    store: dict[str, Any] = {"path": str(store_path)}
    named = str(store_path)
    if where == "directory":
        store_path.mkdir()
    elif where == "unreachable":
        store["url"] = "postgresql://postgres@127.0.0.1:1/postgres"
        named = "postgresql://postgres@127.0.0.1:1/postgres (schema public)"
    config = _config(tmp_path, store)
    assert main(["kill", "--config", str(config), "flatten", "--reason", "drill"]) == 0
    said = capsys.readouterr()
    assert '"flatten"' in (tmp_path / "kill-switch").read_text()
    assert said.err.startswith(
        "hedgebot: warning: kill switch flatten took effect but was not recorded in the "
        f"store {named}: "
    ), said.err
    assert len(said.err.splitlines()) == 1, said.err
    assert "recorded as command" not in said.out
    if where == "missing":
        assert not store_path.exists()
    elif where == "directory":
        assert store_path.is_dir()


async def test_status_records_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``kill status`` reads the flag and writes no row."""
    store_path = tmp_path / "s.sqlite"
    await (await SqliteStore.open(store_path)).close()
    config = _config(tmp_path, {"path": str(store_path)})
    assert main(["kill", "--config", str(config), "status"]) == 0
    said = capsys.readouterr()
    assert said.out.startswith("kill switch off (")
    assert "recorded" not in said.out + said.err
    assert _sqlite_rows(store_path) == []
