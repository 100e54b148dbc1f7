"""A store damaged in the middle of the file, after it was written (issue 12 review 2 item 6):
``hedgebot run`` said ``StoreError: store write failed: database disk image is malformed``
without the path; docs/faults.md promises one line naming the path and why. A real store
written by the bot's own store code, a few KB overwritten mid-file, the real CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.errors import StoreError
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.faults

HINT = "the store file is corrupt"


def _written_store(path: Path) -> None:
    """A store of a few hundred KB: 2,000 events recorded through ``SqliteStore``."""

    async def write() -> None:
        store = await SqliteStore.open(path)
        try:
            for i in range(2_000):
                await store.record_event(1.7e9 + i, "decision", {"i": i, "note": "x" * 100})
        finally:
            await store.close()

    asyncio.run(write())


def _damage_middle(path: Path, size: int = 8192) -> None:
    """Overwrite ``size`` bytes in the middle of the file (the header stays intact)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + size] = b"\xa5" * size
    path.write_bytes(bytes(data))


def _config(tmp_path: Path, store: Path) -> Path:
    path = tmp_path / "config.yaml"
    config = {
        "bot_id": "store-midfile",
        "chain": {"rpc_urls": ["http://127.0.0.1:1"]},
        "positions": [
            {"id": "lp", "kind": "v2", "pool": "0x" + "4" * 40, "owner": "0x" + "3" * 40}
        ],
        "hedge_asset": {"base_token": "0x" + "1" * 40, "quote_token": "0x" + "2" * 40},
        "store": {"path": str(store)},
        "exchange": {"paper": {"state_path": str(tmp_path / "venue.json")}},
        "metrics": {"enabled": False},
        "logging": {"format": "json"},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_run_on_a_store_corrupted_mid_file_names_the_path(tmp_path: Path) -> None:
    """exit 1 with one stderr line: the StoreError naming the store's path, SQLite's reason and
    that the file is corrupt; no traceback, no hang."""
    store = tmp_path / "hedgebot.sqlite"
    _written_store(store)
    assert store.stat().st_size > 200_000
    _damage_middle(store)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(_config(tmp_path, store))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"HEDGEBOT_LOCK_DIR": str(tmp_path / "locks"), "PATH": "/usr/bin:/bin"},
    )
    errors = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("hedgebot: StoreError: store "), errors[0]
    assert f"({store}): database disk image is malformed" in errors[0]
    assert HINT in errors[0]


def test_every_read_and_write_of_a_damaged_store_names_its_path(tmp_path: Path) -> None:
    """Reads, writes and a transaction's commit on the damaged file: each StoreError names the
    path (and the corruption), whichever query meets the damaged pages."""
    store = tmp_path / "hedgebot.sqlite"
    _written_store(store)
    _damage_middle(store)

    async def use() -> list[str]:
        messages: list[str] = []
        opened = await SqliteStore.open(store)
        try:
            for action in (
                lambda: opened.record_event(1.8e9, "decision", {"note": "y" * 5000}),
                lambda: opened.check_writable(),
                lambda: _read_all_events(opened),
            ):
                try:
                    await action()
                except StoreError as exc:
                    messages.append(str(exc))
        finally:
            await opened.close()
        return messages

    messages = asyncio.run(use())
    assert messages, "the damaged pages were never met"
    for message in messages:
        assert str(store) in message, message


async def _read_all_events(store: SqliteStore) -> None:
    async with store._reader() as session:
        await session.fetchall("SELECT body FROM events", {})


def test_a_sqlite_error_in_a_transaction_names_the_path(tmp_path: Path) -> None:
    """A statement that fails inside ``transaction()`` (here: a table that is not there) is a
    StoreError naming the file, as a corrupt page would be."""
    store = tmp_path / "hedgebot.sqlite"

    async def use() -> str:
        opened = await SqliteStore.open(store)
        try:
            async with opened.transaction():
                await opened._execute("INSERT INTO no_such_table VALUES (1)")
        except StoreError as exc:
            return str(exc)
        finally:
            await opened.close()
        return ""

    message = asyncio.run(use())
    assert message.startswith(f"store write failed ({store}): no such table: no_such_table")
