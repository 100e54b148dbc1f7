"""A store that cannot be opened ends `hedgebot run` promptly: one clear line, no traceback.

Each case runs the real CLI in a subprocess. The chain is never reached (the store is opened
first), so no services are needed. Before the fix a corrupt store left the aiosqlite thread
alive (the process never exited) and a read-only one printed "Event loop is closed" tracebacks.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.faults

ADDR = "0x" + "1" * 40
QUOTE = "0x" + "2" * 40
POOL = "0x" + "4" * 40


def _config(tmp_path: Path, store: Path) -> Path:
    path = tmp_path / "config.yaml"
    config = {
        "bot_id": "store-fault",
        "chain": {"rpc_urls": ["http://127.0.0.1:1"]},
        "positions": [{"id": "lp", "kind": "v2", "pool": POOL, "owner": "0x" + "3" * 40}],
        "hedge_asset": {"base_token": ADDR, "quote_token": QUOTE},
        "store": {"path": str(store)},
        "exchange": {"paper": {"state_path": str(tmp_path / "venue.json")}},
        "metrics": {"enabled": False},
        "logging": {"format": "json"},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    """`hedgebot run`; a hang fails the test through the timeout (generous: a shared CPU)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _one_clear_line(result: subprocess.CompletedProcess[str], reason: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "Event loop is closed" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hedgebot: StoreError: store ")
    assert reason in lines[0]


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable: mode 0444, or (root ignores modes) the immutable attribute."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        yield
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode:
        pytest.skip("running as root without chattr +i: cannot make a file read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_corrupt_store_exits_with_one_line(tmp_path: Path) -> None:
    """A store whose SQLite header was overwritten: exit 1, 'file is not a database', no hang."""
    store = tmp_path / "hedgebot.sqlite"
    store.write_bytes(b"\x00garbage, not an SQLite header\x00" * 200)
    result = _run(_config(tmp_path, store))
    _one_clear_line(result, "file is not a database")


def test_read_only_store_exits_with_one_line(tmp_path: Path) -> None:
    """An existing store that cannot be written: exit 1, 'readonly', no thread tracebacks."""
    store = tmp_path / "hedgebot.sqlite"
    with contextlib.closing(sqlite3.connect(store)) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.commit()
    with _read_only(store):
        result = _run(_config(tmp_path, store))
    _one_clear_line(result, "readonly database")


def _directory(tmp_path: Path) -> Path:
    store = tmp_path / "store-dir"
    store.mkdir()
    return store


def _fifo(tmp_path: Path) -> Path:
    store = tmp_path / "store.fifo"
    os.mkfifo(store)
    return store


def _device(tmp_path: Path) -> Path:
    store = tmp_path / "store-dev"
    store.symlink_to(os.devnull)  # a character device, reached the way a typo would
    return store


def _under_a_file(tmp_path: Path) -> Path:
    parent = tmp_path / "not-a-dir"
    parent.write_text("a file where the store's directory should be\n")
    return parent / "hedgebot.sqlite"


@pytest.mark.parametrize(
    ("make_store", "reason"),
    [
        (_directory, "it is a directory"),
        (_fifo, "not a regular file"),
        (_device, "not a regular file"),
        (_under_a_file, "not-a-dir is not a directory"),
    ],
    ids=["directory", "fifo", "device", "parent-is-a-file"],
)
def test_store_path_that_is_not_a_file_exits_with_one_line(
    tmp_path: Path, make_store: Callable[[Path], Path], reason: str
) -> None:
    """store.path naming a directory, a FIFO, a device, or a file under a regular file: exit 1
    with exactly one line naming the path and why; no "Event loop is closed" thread traceback
    (the failed connection's worker thread is joined before the loop closes), no hang."""
    store = make_store(tmp_path)
    result = _run(_config(tmp_path, store))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "Event loop is closed" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hedgebot: "), lines[0]
    assert str(store) in lines[0]
    assert reason in lines[0]


def test_read_only_open_of_a_missing_store_leaves_no_thread_behind(tmp_path: Path) -> None:
    """A read-only open (status, report) of a store that does not exist: StoreError, and the
    connection's worker thread has ended before the event loop closes (nothing on stderr)."""
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from bot.errors import StoreError\n"
        "from bot.store.sqlite import SqliteStore\n"
        f"path = Path({str(tmp_path / 'none.sqlite')!r})\n"
        "try:\n"
        "    asyncio.run(SqliteStore.open(path, read_only=True))\n"
        "except StoreError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "cannot be opened" in result.stdout
    assert result.stderr == ""
