"""What a user is told about a store that cannot be used, and a report on a read-only store.

A corrupt store said "is not writable: file is not a database", pointing at permissions;
`report` on a store that cannot be written failed although it only reads. The message now says
the file is corrupt or not a database, and reports open the store read-only (SQLite
``mode=ro``), so they work on an unwritable file and change nothing in it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from test_report import build_store, write_config

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """``path`` cannot be written: mode 0444, or (root ignores modes) ``chattr +i``."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        yield
        path.chmod(0o644)
        return
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def hedgebot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_report_on_an_unwritable_store_reads_it_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """The store file cannot be written: `report --json` exits 0 with the figures of the
    stored ticks (net -1990.8), and the file's bytes are unchanged."""
    store = tmp_path / "hedgebot.sqlite"
    await build_store(store)
    config = write_config(tmp_path, store)
    before = digest(store)
    with unwritable(store):
        result = hedgebot("report", "--config", str(config), "--json", "--no-chart")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert Decimal(summary["net_pnl_quote"]) == Decimal("-1990.8")
    assert digest(store) == before


def test_corrupt_store_is_called_corrupt_by_run_and_report(tmp_path: Path) -> None:
    """A store whose SQLite header was overwritten: `run` and `report` each exit non-zero with
    one line saying the store is corrupt or not a database, not that it is unwritable."""
    store = tmp_path / "hedgebot.sqlite"
    store.write_bytes(b"\x00garbage, not an SQLite header\x00" * 200)
    config = write_config(tmp_path, store)
    for args in (("run", "--config", str(config)), ("report", "--config", str(config))):
        result = hedgebot(*args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode != 0
        assert len(lines) == 1, result.stderr
        assert "is corrupt or not a hedgebot database: file is not a database" in lines[0]
        assert "not writable" not in lines[0]
