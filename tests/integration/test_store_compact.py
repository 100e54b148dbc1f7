"""``hedgebot store compact`` on SQLite and PostgreSQL: old snapshots thinned to the retention
interval, every decision and fill kept, and ``hedgebot report``'s totals unchanged to the
last digit (the report run before and after, through the command line)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from store_backends import BACKENDS, Backend, backend_for

from bot.cli import main
from bot.domain import (
    ChainSnapshot,
    Decision,
    Fill,
    FundingPayment,
    OrderIntent,
    PositionExposure,
    Side,
)
from bot.report import build_report
from bot.store.base import RecordStore
from bot.store.compact import compact, thinned
from bot.store.settings import RetentionConfig

pytestmark = pytest.mark.integration

D = Decimal
SYMBOL = "ETH/USDT:USDT"
ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
POOL, BASE, QUOTE = ("0x" + digit * 40 for digit in "abc")
T0 = 1_700_000_000.0
STEP_S = 300.0  # one stored snapshot every 5 minutes
TICKS = 3 * 288  # three days
BOT = "compact-test"


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from backend_for(request.param, tmp_path)


def _price(k: int) -> Decimal:
    """A wandering pool price (quote per base), exact to 4 decimals."""
    return D(2000) + D((k * 37) % 211 - 105) + D(k % 7) / 4 + D(k) / 8


def _snapshot(k: int) -> ChainSnapshot:
    price = _price(k)
    base = (D(20000) / price).sqrt()  # a V2 LP of k = 20000, in human units
    quote = base * price
    fees = D(k) / 100
    lp = PositionExposure(
        "lp1", "v2", base, quote, base * price + quote, base, D(0), price, fees_quote=fees
    )
    return ChainSnapshot(100 + k, int(T0 + k * STEP_S), f"0x{k:064x}", price, (lp,))


def _decision(k: int, hedge: Decimal, action: str = "hold") -> Decision:
    return Decision(  # type: ignore[arg-type]
        action, "test", D(1), D(-1), hedge, D(0), D("0.05"), mark_price=_price(k) + D("0.5")
    )


async def _build(store: RecordStore) -> None:
    """Three days of ticks: an own sell every 100 ticks (fill at its intent's block), a
    manual buy (no intent: attributed by time) every 150, funding every 8 hours."""
    hedge = D(0)
    for k in range(TICKS):
        ts = T0 + k * STEP_S
        async with store.transaction():
            await store.record_snapshot(ts, _snapshot(k))
            action = "rebalance" if k % 100 == 0 else "hold"
            await store.record_decision(ts, 100 + k, _decision(k, hedge, action))
            if k % 100 == 0:
                cid = f"hb-{100 + k}-1"
                await store.record_intent(
                    ts, 100 + k, OrderIntent(cid, SYMBOL, Side.SELL, D("0.3"), False, D(1990))
                )
                fill_price = _price(k) - D("0.75")
                await store.record_fill(
                    Fill(
                        f"t{k}",
                        cid,
                        f"x{k}",
                        SYMBOL,
                        Side.SELL,
                        D("0.3"),
                        fill_price,
                        D("0.0413"),
                        D(0),
                        int(ts * 1000) + 700,
                    )
                )
                hedge -= D("0.3")
            if k % 150 == 75:
                await store.record_fill(
                    Fill(
                        f"m{k}",
                        "manual",
                        f"y{k}",
                        SYMBOL,
                        Side.BUY,
                        D("0.07"),
                        _price(k),
                        D("0.011"),
                        D("0.5"),
                        int(ts * 1000) + 120_000,
                    )
                )
                hedge += D("0.07")
            if k % 96 == 50:
                await store.record_funding(
                    FundingPayment(
                        f"f{k}",
                        SYMBOL,
                        D("0.0123") * k,
                        D("0.0001"),
                        hedge,
                        _price(k),
                        int(ts * 1000) + 30_000,
                    )
                )


def _config(tmp_path: Path, backend: Backend, full_days: float, interval_s: float) -> Path:
    data = {
        "bot_id": BOT,
        "chain": {"rpc_urls": ["http://127.0.0.1:8545"]},
        "positions": [{"id": "lp1", "kind": "v2", "pool": POOL, "owner": ADDR}],
        "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
        "store": {
            **backend.store_config(),
            "retention": {"full_days": full_days, "interval_s": interval_s},
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(list(argv)) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def _report(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, object]:
    return _cli_json(capsys, "report", "--config", str(config), "--json", "--no-chart")


async def _open_and(backend: Backend, work: str) -> dict[str, int]:
    store = await backend.open(BOT)
    try:
        if work == "build":
            await _build(store)
        return {t: await store.count(t) for t in ("snapshots", "decisions", "fills", "funding")}
    finally:
        await store.close()


def test_compact_keeps_decisions_fills_and_the_report_totals(
    store_backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three days at 5-minute snapshots, one day kept in full and the rest thinned to one per
    hour: the dry run removes nothing; the compaction removes about 11 of 12 old snapshots,
    keeps every decision, fill and funding payment, and the report's every total, hedge
    and record count are the same strings as before (only its tick count drops)."""
    before_counts = asyncio.run(_open_and(store_backend, "build"))
    config = _config(tmp_path, store_backend, full_days=1, interval_s=3600)
    before = _report(capsys, config)

    dry = _cli_json(capsys, "store", "compact", "--config", str(config), "--dry-run", "--json")
    assert asyncio.run(_open_and(store_backend, "count")) == before_counts
    assert dry["dry_run"] is True
    assert dry["snapshots"] == TICKS

    done = _cli_json(capsys, "store", "compact", "--config", str(config), "--json")
    after_counts = asyncio.run(_open_and(store_backend, "count"))
    after = _report(capsys, config)

    assert done["removed"] == dry["removed"]
    old = TICKS - 288  # snapshots older than one day before the newest
    assert old * 10 // 12 < int(done["removed"]) < old  # type: ignore[call-overload]
    assert after_counts["snapshots"] == TICKS - int(done["removed"])  # type: ignore[call-overload]
    for table in ("decisions", "fills", "funding"):
        assert after_counts[table] == before_counts[table]
    assert int(after["ticks"]) < int(before["ticks"])  # type: ignore[call-overload]
    for key in set(before) - {"ticks", "notes"}:
        assert after[key] == before[key], key
    assert D(str(before["trading_fees_quote"])) > 0
    assert D(str(before["funding_quote"])) != 0
    assert D(str(before["hedge_pnl_quote"])) != 0

    again = _cli_json(capsys, "store", "compact", "--config", str(config), "--json")
    assert again["removed"] == 0  # already thinned: a second run changes nothing


def test_thinning_without_the_replays_snapshots_would_change_the_totals(tmp_path: Path) -> None:
    """Why compaction protects the snapshots fills are attributed to: thinned blindly, a
    manual fill (attributed by time) lands on an older snapshot and mark, and the hedge PnL
    and slippage differ; compaction therefore keeps them, and refuses any change."""

    async def scenario() -> tuple[dict[str, Decimal], dict[str, Decimal], int]:
        store = await Backend("sqlite", tmp_path).open(BOT)
        try:
            await _build(store)
            index = await store.snapshot_index()
            snapshots, decisions = await store.read_snapshots(), await store.read_decisions()
            fills, funding = await store.read_fills(), await store.read_funding()
            blocks = await store.intent_blocks()
            blind = set(thinned(index, RetentionConfig(full_days=0, interval_s=3600), ()))
            kept = [s for (i, _, _), s in zip(index, snapshots, strict=True) if i not in blind]
            full = build_report(snapshots, decisions, fills, funding, blocks).final.as_dict()
            naive = build_report(kept, decisions, fills, funding, blocks).final.as_dict()
            result = await compact(store, RetentionConfig(full_days=0, interval_s=3600))
            return full, naive, result.removed
        finally:
            await store.close()

    full, naive, removed = asyncio.run(scenario())
    assert naive["hedge_pnl_quote"] != full["hedge_pnl_quote"]
    assert naive["slippage_quote"] != full["slippage_quote"]
    assert removed > 0  # the protected compaction still thinned, without changing totals


def test_store_compact_without_a_store_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No store file: one line naming it, exit 1, and no file created."""
    config = _config(tmp_path, Backend("sqlite", tmp_path), 1, 3600)
    assert main(["store", "compact", "--config", str(config)]) == 1
    assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "s.sqlite").exists()


def test_store_compact_refuses_a_sqlite_store_a_daemon_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another process holds the store's instance lock (as ``hedgebot run`` does): compact
    exits 1 naming the holder and removes nothing; ``--dry-run`` (read only) still answers;
    once the holder is gone, compact runs."""
    import subprocess
    import sys

    backend = Backend("sqlite", tmp_path)
    counts = asyncio.run(_open_and(backend, "build"))
    config = _config(tmp_path, backend, 0, 3600)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from bot.instance_lock import InstanceLock, lock_path_for\n"
            f"lock = InstanceLock.acquire(lock_path_for(Path({str(backend.file)!r})), "
            f"{BOT!r}, 'store (test holder)')\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        refused = main(["store", "compact", "--config", str(config)])
        err = capsys.readouterr().err
        dry = _cli_json(capsys, "store", "compact", "--config", str(config), "--dry-run", "--json")
        during = asyncio.run(_open_and(backend, "count"))
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)
    ran = _cli_json(capsys, "store", "compact", "--config", str(config), "--json")
    assert refused == 1
    assert f"pid {holder.pid}" in err
    assert during == counts  # nothing removed while the daemon held it
    assert dry["removed"] == ran["removed"]
    assert int(ran["removed"]) > 0  # type: ignore[call-overload]
