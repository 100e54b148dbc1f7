"""``hedgebot status`` says whether the daemon runs (its instance lock), ages records against
their own clock without clamping, names a kill-switch flatten and a guard's detail, never
cuts a number or an error, and leaves no ``-wal``/``-shm`` beside a stopped bot's store."""

from __future__ import annotations

import asyncio
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from bot.cli import main
from bot.core.killswitch import KillSwitchState
from bot.core.operator import KILL_FLATTEN_CAUSE, OperatorState, TradingState
from bot.domain import Decision
from bot.instance_lock import InstanceLock, lock_path_for
from bot.status_daemon import age_text, probe_lock
from bot.status_render import render_status
from bot.status_trading import trading_summary
from bot.store.sqlite import SqliteStore
from tests.unit.test_status import _status

pytestmark = pytest.mark.unit

POOL, BASE, QUOTE, OWNER = ("0x" + d * 40 for d in "abcd")


def _screen(status: dict[str, Any], width: int = 80) -> str:
    console = Console(file=io.StringIO(), record=True, width=width)
    render_status(status, console)
    text = console.export_text()
    assert all(len(line) <= width for line in text.splitlines())
    return text


def _decision(hedge: str) -> Decision:
    zero = Decimal(0)
    return Decision("hold", "inside_band", zero, zero, Decimal(hedge), zero, Decimal("0.1"))


def _config(tmp_path: Path) -> tuple[Path, Path]:
    store = tmp_path / "var" / "hedgebot.sqlite"
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "bot_id": "live-1",
                "chain": {"rpc_urls": ["http://127.0.0.1:1"]},
                "positions": [{"id": "a", "kind": "v2", "pool": POOL, "owner": OWNER}],
                "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
                "store": {"path": str(store)},
                "exchange": {"kind": "ccxt", "exchange_id": "binanceusdm"},
            }
        )
    )
    return config, store


async def _stopped_store(store: Path, ts: float) -> None:
    """A store a stopped bot left: one decision recorded at ``ts`` (wall time), closed."""
    db = await SqliteStore.open(store)
    await db.record_decision(ts, 421, _decision("-3.1E-23"))
    await db.close()


def test_probe_lock_sees_a_holder_and_creates_nothing(tmp_path: Path) -> None:
    """No lock file: not running and no file made; a held lock: its pid; released: not."""
    path = tmp_path / "s.sqlite.lock"
    assert probe_lock(path) is None
    assert not path.exists()
    lock = InstanceLock.acquire(path, "b", "store")
    try:
        holder = probe_lock(path)
        assert holder is not None
        assert isinstance(holder["pid"], int)
    finally:
        lock.release()
    assert probe_lock(path) is None


def test_status_says_not_running_then_running_with_the_pid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the daemon stopped: ``not running (last seen …)``; while a process holds the
    store's lock: ``running (pid N …)``; the JSON says the same."""
    import os
    import time

    config, store = _config(tmp_path)
    asyncio.run(_stopped_store(store, time.time() - 36))
    assert main(["status", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "daemon: not running (last seen 3" in text  # 36s or 37s ago
    assert "s ago)" in text.split("daemon:")[1].splitlines()[0]
    assert "(served only while the daemon runs)" in text
    lock = InstanceLock.acquire(lock_path_for(store), "live-1", "store")
    try:
        assert main(["status", "--config", str(config), "--json"]) == 0
        body = json.loads(capsys.readouterr().out)
        assert body["daemon"]["running"] is True
        assert body["daemon"]["pid"] == os.getpid()
        assert main(["status", "--config", str(config)]) == 0
        assert f"daemon: running (pid {os.getpid()}" in capsys.readouterr().out
    finally:
        lock.release()
    # an exact zero is "0" in JSON (the hedge of -3.1E-23 is a rounding artefact, not a value)
    assert body["last_hedge_base"] == "0"


def test_a_record_ahead_of_this_clock_shows_the_skew(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tick stamped 6h48m ahead (a simulated chain's clock) is not ``0s ago``."""
    import time

    config, store = _config(tmp_path)
    asyncio.run(_stopped_store(store, time.time() + 6 * 3600 + 48 * 60 + 30))
    assert main(["status", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "last tick: block 421, 6h48m ahead of this host's clock" in text
    assert "0s ago" not in text
    assert age_text(-5) == "5s ahead of this host's clock"
    assert age_text(36) == "36s ago"


def test_status_and_report_leave_no_wal_or_shm_beside_a_stopped_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reading a stopped bot's store (status, report --json) creates no -wal/-shm files."""
    import time

    config, store = _config(tmp_path)
    asyncio.run(_stopped_store(store, time.time()))
    before = sorted(p.name for p in store.parent.iterdir())
    assert main(["status", "--config", str(config), "--json"]) == 0
    assert main(["report", "--config", str(config), "--json", "--no-chart"]) == 1  # no snapshot
    capsys.readouterr()
    assert sorted(p.name for p in store.parent.iterdir()) == before == ["hedgebot.sqlite"]


def test_a_kill_switch_flatten_is_named_with_what_to_do() -> None:
    """The pause a kill-switch flatten made says so (clear, then resume), not ``paused by
    operator``; after the clear it says ``resume``; a real pause still says ``by operator``."""
    halted = OperatorState(trading_state=TradingState.HALTED)
    flatten = KillSwitchState("flatten", "drill", 1.0, "file")
    state, reasons = trading_summary(halted, flatten, [], operator_cause=KILL_FLATTEN_CAUSE)
    assert state is TradingState.HALTED
    assert reasons == ["kill switch flatten (file) — clear, then resume"]
    _, after = trading_summary(halted, KillSwitchState(), [], operator_cause=KILL_FLATTEN_CAUSE)
    assert after == ["paused after a kill switch flatten — resume to trade"]
    _, paused = trading_summary(halted, KillSwitchState(), [], operator_cause="pause")
    assert paused == ["paused by operator"]


def test_a_tripped_guard_shows_its_detail() -> None:
    """``guard max_order_notional`` comes with what it said (as /healthz shows it)."""
    detail = "order notional 77641.36 exceeds 1000"
    guard = {"name": "max_order_notional", "since": 1_700_000_040.0, "detail": detail}
    _, reasons = trading_summary(OperatorState(), KillSwitchState(), [guard])
    assert reasons == [f"guard max_order_notional: {detail}"]
    trading = {
        "state": "halted",
        "reasons": reasons,
        "operator": "active",
        "operator_since": None,
        "operator_cause": None,
        "kill_switch": {"mode": "off", "reason": None, "source": None, "since": None},
        "guards_tripped": [guard],
    }
    text = _screen(_status(trading=trading))
    assert f"    {detail}" in text


def test_kill_switch_line_keeps_its_time_phrase_whole() -> None:
    """A long kill-switch line puts ``since … (5s ago)`` on its own line, never ``(5s ↵ago)``."""
    trading = {
        "state": "halted",
        "reasons": ["kill switch freeze (cli)"],
        "operator": "active",
        "operator_since": None,
        "operator_cause": None,
        "kill_switch": {
            "mode": "freeze",
            "reason": "operator request (cli) x" * 3,
            "source": "cli",
            "since": 1_700_000_095.0,
        },
        "guards_tripped": [],
    }
    text = _screen(_status(trading=trading))
    assert "    since 11-14 22:14:55 UTC (5s ago)" in text


def test_a_chain_error_wraps_and_is_never_cut() -> None:
    """The whole error text is shown, wrapped onto the next line (not ``EndpointFa…``)."""
    why = "EndpointFailed: every RPC endpoint failed: http://127.0.0.1:1 connection refused"
    text = _screen(_status(chain_error=why, positions=[]))
    assert "…" not in text
    assert "connection refused" in " ".join(text.split())


@pytest.mark.parametrize("width", [60, 80])
def test_narrow_terminals_drop_columns_never_digits(width: int) -> None:
    """At 60 columns the positions table drops pool and range; the delta is whole."""
    text = _screen(_status(), width)
    assert "171.1235" in text
    assert "…" not in text.replace("0x88e6…5640", "")
    assert ("2812.3-3433.1" in text) is (width == 80)


def test_no_exponent_in_the_ratio_or_the_margin() -> None:
    """``(ratio 0.0000001)``, not ``1E-7``; margin as a percentage."""
    text = _screen(
        _status(
            hedge_ratio="1E-7",
            venue_error=None,
            mark_price="3100.5",
            funding_rate="0.0001",
            hedge_base="-1",
            margin_ratio="0.0249",
            liquidation_price="5000",
            liquidation_distance_pct="61.2",
        )
    )
    assert "(ratio 0.0000001)" in text
    assert "E-" not in text
    assert "margin ratio 2.49 %, liquidation 5000.00 (61.2 % away)" in text
    assert "funding 0.0100 % per interval" in text
