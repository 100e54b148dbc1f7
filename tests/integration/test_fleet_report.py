"""``hedgebot report --store-url`` over a real shared PostgreSQL store: each bot's parts are its
own ``report``, the total is their sum to the last digit, ``--bot`` and ``--since`` narrow it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import MAX_PREC, Context, Decimal, localcontext
from pathlib import Path
from typing import Any

import pytest
import yaml
from store_backends import PG_URL, unique_schema
from test_report import ADDR, BASE, POOL, QUOTE, SYMBOL, decision, snapshot

from bot.cli import main
from bot.domain import Fill, FundingPayment, OrderIntent, Side
from bot.report import run_report
from bot.store.postgres import PostgresStore

pytestmark = pytest.mark.integration

D = Decimal


async def record_bot(bot_id: str, schema: str, tmp_path: Path, fee: str, funding: str) -> None:
    """Three ticks of a hedged V2 LP (as ``test_report``), with this bot's fee and funding."""
    store = await PostgresStore.open(PG_URL, bot_id, path=tmp_path / "s", schema=schema)
    try:
        await store.record_snapshot(1000.0, snapshot(100, "2000", "1", "2000"))
        await store.record_intent(
            1000.0, 100, OrderIntent("hb-100-1", SYMBOL, Side.SELL, D(1), False, D(1990))
        )
        await store.record_decision(1000.0, 100, decision("0", "rebalance"))
        await store.record_fill(
            Fill("t1", "hb-100-1", "x1", SYMBOL, Side.SELL, D(1), D(1999), D(fee), D(0), 1_000_500)
        )
        await store.record_snapshot(2000.0, snapshot(101, "8000", "0.5", "4000"))
        await store.record_decision(2000.0, 101, decision("-1"))
        await store.record_funding(
            FundingPayment("f1", SYMBOL, D(funding), D("0.0001"), D(-1), D(8000), 2_500_000)
        )
        await store.record_snapshot(3000.0, snapshot(102, "8001.37", "0.5", "4000", "10.01"))
        await store.record_decision(3000.0, 102, decision("-1"))
    finally:
        await store.close()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[str]:
    """Bots ``alpha`` and ``beta`` in one schema of this test's own."""
    with unique_schema() as schema:
        asyncio.run(record_bot("alpha", schema, tmp_path, fee="1.13", funding="1.6"))
        asyncio.run(record_bot("beta", schema, tmp_path, fee="0.77", funding="-0.33"))
        yield schema


def own_report(tmp_path: Path, schema: str, bot_id: str, capsys: Any) -> dict[str, Any]:
    """``hedgebot report --config`` of one bot of the fleet, as JSON."""
    config = tmp_path / f"{bot_id}.yaml"
    store = {"url": PG_URL, "pg_schema": schema, "path": str(tmp_path / bot_id)}
    config.write_text(
        yaml.safe_dump(
            {
                "bot_id": bot_id,
                "chain": {"rpc_urls": ["http://127.0.0.1:8545"]},
                "positions": [{"id": "lp1", "kind": "v2", "pool": POOL, "owner": ADDR}],
                "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
                "store": store,
            }
        )
    )
    assert run_report(config, as_json=True) == 0
    summary: dict[str, Any] = json.loads(capsys.readouterr().out)
    return summary


def fleet_json(capsys: Any, *args: str) -> dict[str, Any]:
    assert main(["report", "--store-url", PG_URL, "--json", *args]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def test_fleet_totals_are_the_sum_of_each_bots_own_report(
    fleet: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every part of every bot equals that bot's own ``report``; the total of each part is
    their exact sum (decimal strings compared, so to the last digit)."""
    own = {b: own_report(tmp_path, fleet, b, capsys) for b in ("alpha", "beta")}
    report = fleet_json(capsys, "--pg-schema", fleet)
    assert sorted(report["bots"]) == ["alpha", "beta"]
    parts = [k for k in report["total"] if k.endswith("_quote")]
    assert "net_pnl_quote" in parts
    assert len(parts) >= 9
    for bot_id, mine in own.items():
        assert report["bots"][bot_id]["ticks"] == mine["ticks"] == 3
        for part in parts:
            assert report["bots"][bot_id][part] == mine[part], (bot_id, part)
    with localcontext(Context(prec=MAX_PREC)):  # exact sums: no digit rounded away
        for part in parts:
            exact = D(own["alpha"][part]) + D(own["beta"][part])
            assert D(report["total"][part]) == exact, part
    assert D(own["alpha"]["net_pnl_quote"]) != D(own["beta"]["net_pnl_quote"])


def test_fleet_report_of_named_bots_since_a_time(
    fleet: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--bot`` reports only the named bots; ``--since`` the change of each part from the
    last tick before it (tick 2, at 2000 s) to the last tick."""
    only = fleet_json(capsys, "--pg-schema", fleet, "--bot", "beta")
    assert list(only["bots"]) == ["beta"]
    beta_parts = {k: D(v) for k, v in only["bots"]["beta"].items() if k != "ticks"}
    assert {k: D(v) for k, v in only["total"].items()} == beta_parts
    whole = only["bots"]["beta"]
    since = fleet_json(capsys, "--pg-schema", fleet, "--bot", "beta", "--since", "2500")
    window = since["bots"]["beta"]
    assert window["ticks"] == 1
    assert D(window["lp_fees_quote"]) == D("10.01")  # accrued in tick 3 only
    assert D(window["funding_quote"]) == D(0)  # paid before 2500 s
    assert D(window["net_pnl_quote"]) != D(whole["net_pnl_quote"])
    iso = fleet_json(
        capsys, "--pg-schema", fleet, "--bot", "beta", "--since", "1970-01-01T00:41:40"
    )
    assert iso["bots"]["beta"] == window  # 2500 s after the epoch, UTC


def test_fleet_report_refuses_a_password_in_the_url_and_an_unknown_bot(
    fleet: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A URL with a password and a bot without records are clear errors (exit 2)."""
    with_password = PG_URL.replace("postgres@", "postgres:hunter2@")
    assert main(["report", "--store-url", with_password, "--pg-schema", fleet]) == 2
    err = capsys.readouterr().err
    assert "must not carry a password" in err
    assert "hunter2" not in err
    assert main(["report", "--store-url", PG_URL, "--pg-schema", fleet, "--bot", "nobody"]) == 2
    assert "bot nobody has no snapshots" in capsys.readouterr().err
