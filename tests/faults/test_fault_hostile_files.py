"""Hostile bytes in the files the bot reads never end a process (issue 12 review 1): a
kill-switch flag of JSON 5,000 (and 80,000) deep keeps the engine ticking, frozen; ``hedgebot
kill status`` and ``hedgebot status`` show it as a freeze; a hostile paper venue state is one
error line from ``hedgebot run``; a hostile lock note still refuses a second start cleanly."""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from cli_process import hedgebot_process
from fault_world import fault_world

from bot.sim.anvil import Anvil
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.faults

DEEP = "[" * 5000 + "]" * 5000
VERY_DEEP = "[" * 80_000 + "]" * 80_000


@pytest.mark.parametrize("text", [DEEP, VERY_DEEP], ids=["5k", "80k"])
async def test_engine_keeps_ticking_frozen_on_a_deep_kill_switch_file(
    anvil_node: Anvil, tmp_path: Path, text: str
) -> None:
    """The flag file holds deeply nested JSON: every tick completes, frozen (no order), with
    the cause in the decision; when it is removed the freeze is gone."""
    async with fault_world(anvil_node, tmp_path) as fw:
        path = fw.bot.engine.guard.kill_switch.path
        path.write_text(text)
        for factor in ("1", "0.9"):
            report = await fw.move_and_tick(fw.world.target_price * Decimal(factor))
            assert report is not None
            assert "kill_switch_freeze" in report.decision.reason
        assert fw.venue_orders() == []
        path.unlink()
        resumed = await fw.move_and_tick(fw.world.target_price)
        assert resumed is not None
        assert "kill_switch" not in resumed.decision.reason


def _config(tmp_path: Path) -> Path:
    """A paper config whose chain is a dead port (the reads that need it fail by name)."""
    path = tmp_path / "config.yaml"
    config = {
        "bot_id": f"hostile-files-{os.getpid()}",
        "chain": {"rpc_urls": ["http://127.0.0.1:1"], "request_timeout_s": 1.0},
        "positions": [
            {"id": "lp", "kind": "v2", "pool": "0x" + "4" * 40, "owner": "0x" + "3" * 40}
        ],
        "hedge_asset": {"base_token": "0x" + "1" * 40, "quote_token": "0x" + "2" * 40},
        "store": {"path": str(tmp_path / "var" / "store.sqlite")},
        "exchange": {"kind": "paper", "paper": {"state_path": str(tmp_path / "venue.json")}},
        "metrics": {"enabled": False},
        "logging": {"format": "json"},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "RecursionError" not in result.stderr + result.stdout
    assert result.returncode >= 0, f"killed by signal {-result.returncode}"


@pytest.mark.parametrize("text", [DEEP, VERY_DEEP], ids=["5k", "80k"])
def test_kill_status_and_status_show_a_deep_flag_as_freeze(tmp_path: Path, text: str) -> None:
    """`hedgebot kill status` and `hedgebot status` read a deep flag file as a freeze and say
    why; exit 0, no traceback."""
    config = _config(tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "kill-switch").write_text(text)

    async def create_store() -> None:
        store = await SqliteStore.open(tmp_path / "var" / "store.sqlite")
        await store.close()

    asyncio.run(create_store())
    killed = hedgebot_process(tmp_path, "kill", "--config", str(config), "status")
    _no_traceback(killed)
    assert killed.returncode == 0, killed.stderr
    assert killed.stdout.startswith("kill switch freeze")
    assert (
        "kill switch file unreadable (JSON nested deeper than 64 levels); freezing" in killed.stdout
        or "kill switch file larger than 65536 bytes; freezing" in killed.stdout  # the 80k one
    )
    status = hedgebot_process(tmp_path, "status", "--config", str(config))
    _no_traceback(status)
    assert status.returncode == 0, status.stderr
    assert "kill switch freeze" in status.stdout


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"a":' * 5000 + "1" + "}" * 5000, "JSON nested deeper than"),
        ("[" * 80_000 + "]" * 80_000, "JSON nested deeper than"),
        ('{"version": 1, "mark": "abc"}', "InvalidOperation"),
        ("[]", "not a JSON object"),
    ],
    ids=["deep", "80k", "bad-decimal", "list"],
)
def test_run_with_hostile_paper_state_is_one_error_line(
    tmp_path: Path, content: str, reason: str
) -> None:
    """`hedgebot run` on an unreadable paper venue state: exit 1, one `hedgebot:` line naming
    the file and the cause, no traceback; the file is left as it was."""
    config = _config(tmp_path)
    state = tmp_path / "venue.json"
    state.write_text(content)
    result = hedgebot_process(tmp_path, "run", "--config", str(config))
    _no_traceback(result)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("hedgebot:")]
    assert errors == [errors[0]]
    assert errors[0].startswith(f"hedgebot: ExchangeUnavailable: paper venue state {state}")
    assert reason in errors[0]
    assert state.read_text() == content


@pytest.mark.parametrize("note", [DEEP, VERY_DEEP, "[1]"], ids=["5k", "80k", "list"])
def test_run_refuses_cleanly_when_the_held_lock_note_is_hostile(tmp_path: Path, note: str) -> None:
    """The store's lock is held by another process and its note is hostile: `hedgebot run`
    still refuses to start, with one clean line (holder not recorded), exit 1."""
    config = _config(tmp_path)
    lock = tmp_path / "var" / "store.sqlite.lock"
    lock.parent.mkdir()
    lock.write_text(note)
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = hedgebot_process(tmp_path, "run", "--config", str(config))
    finally:
        os.close(fd)
    _no_traceback(result)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]], result.stderr
    assert lines[0].startswith("hedgebot: InstanceLocked: store ")
    assert "another process (holder not recorded)" in lines[0]
