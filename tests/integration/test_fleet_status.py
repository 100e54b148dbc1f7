"""``hedgebot fleet status`` over a real shared PostgreSQL store and a real broker: every bot's
last tick, delta, hedge, drift and net PnL from the database; live retained state wins."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from store_backends import PG_URL, unique_schema
from test_fleet_report import own_report, record_bot

from bot.cli import main
from bot.sim.mosquitto import Broker
from bot.telemetry.messages import PnlParts, StateMessage

pytestmark = pytest.mark.integration


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[str]:
    """Bots ``alpha`` and ``beta`` (three ticks each) in one schema of this test's own."""
    with unique_schema() as schema:
        asyncio.run(record_bot("alpha", schema, tmp_path, fee="1.13", funding="1.6"))
        asyncio.run(record_bot("beta", schema, tmp_path, fee="0.77", funding="-0.33"))
        yield schema


def status_json(capsys: Any, *args: str) -> dict[str, Any]:
    assert main(["fleet", "status", "--json", *args]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def test_every_bot_of_the_store_with_its_last_tick_and_own_net_pnl(
    fleet: str, tmp_path: Path, capsys: Any
) -> None:
    """From the database: each bot's last block, delta/hedge/drift/band of its last decision,
    its net PnL equal to its own ``report`` to the last digit, and its trading state."""
    rows = status_json(capsys, "--store-url", PG_URL, "--pg-schema", fleet)["bots"]
    assert [r["bot_id"] for r in rows] == ["alpha", "beta"]
    for row in rows:
        own = own_report(tmp_path, fleet, row["bot_id"], capsys)
        assert row["source"] == "db"
        assert row["block"] == 102
        assert row["age_s"] > 0
        assert (row["delta_base"], row["hedge_base"], row["drift_base"]) == ("1", "-1", "0")
        assert row["band_base"] == "0.05"
        assert row["net_pnl_quote"] == own["net_pnl_quote"]
        assert row["trading_state"] == "active"
        assert row["online"] is None  # no broker asked: unknown, not false


def test_table_fits_80_columns_rounded_for_display(fleet: str, capsys: Any) -> None:
    """The table: one line per bot, at most 80 columns, base to 3 places, quote to cents (the
    fixture's ticks are from 1970: --stale-after wide enough to show the trading state)."""
    args = ["--store-url", PG_URL, "--pg-schema", fleet, "--stale-after", "1e12"]
    assert main(["fleet", "status", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].split() == [
        "bot",
        "src",
        "block",
        "age",
        "delta",
        "hedge",
        "drift",
        "net",
        "PnL",
        "state",
    ]
    alpha = lines[1].split()
    assert alpha[:3] == ["alpha", "db", "102"]
    assert alpha[4:7] == ["1.000", "-1.000", "0.000"]
    assert alpha[-1] == "active"


async def _retain(broker: Broker, topic: str, payload: bytes) -> None:
    async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
        await client.publish(topic, payload, qos=1, retain=True)


def _live_state(bot_id: str, block: int, net: str) -> bytes:
    return StateMessage(
        bot_id=bot_id,
        block=block,
        timestamp=1_700_000_000,
        price=Decimal(2000),
        delta_base=Decimal("2.5"),
        target_base=Decimal("-2.5"),
        hedge_base=Decimal("-2.4"),
        drift_base=Decimal("0.1"),
        band_base=Decimal("0.05"),
        pnl=PnlParts(net=Decimal(net)),
        published_at=time.time() - 3,
        trading_state="halted",
        trading_reasons=("paused by operator",),
    ).to_json()


def test_live_retained_state_wins_and_says_so(fleet: str, mqtt_broker: Broker, capsys: Any) -> None:
    """With a broker: beta's retained state replaces its database row (source mq, its block,
    values and trading state, online); a bot only on the broker is listed; a state under
    another bot's topic or not a state at all is ignored."""
    prefix = f"fleet-status/{uuid.uuid4().hex[:8]}"

    async def seed() -> None:
        await _retain(mqtt_broker, f"{prefix}/beta/state", _live_state("beta", 140, "-12.345"))
        await _retain(mqtt_broker, f"{prefix}/beta/status", b"online")
        await _retain(mqtt_broker, f"{prefix}/gamma/state", _live_state("gamma", 7, "1"))
        await _retain(mqtt_broker, f"{prefix}/evil/state", _live_state("alpha", 999, "1e9"))
        await _retain(mqtt_broker, f"{prefix}/junk/state", b"\xff not json")

    async def clear() -> None:
        for topic in ("beta/state", "beta/status", "gamma/state", "evil/state", "junk/state"):
            await _retain(mqtt_broker, f"{prefix}/{topic}", b"")

    asyncio.run(seed())
    try:
        rows = status_json(
            capsys,
            *("--store-url", PG_URL, "--pg-schema", fleet),
            *("--mqtt-url", mqtt_broker.url, "--prefix", prefix),
        )["bots"]
    finally:
        asyncio.run(clear())
    by_id = {r["bot_id"]: r for r in rows}
    assert sorted(by_id) == ["alpha", "beta", "gamma"]
    assert by_id["alpha"]["source"] == "db"
    assert by_id["alpha"]["block"] == 102  # the forged state under "evil" was not believed
    beta = by_id["beta"]
    assert (beta["source"], beta["block"], beta["net_pnl_quote"]) == ("mq", 140, "-12.345")
    assert (beta["delta_base"], beta["hedge_base"], beta["drift_base"]) == ("2.5", "-2.4", "0.1")
    assert beta["trading_state"] == "halted"
    assert beta["trading_reasons"] == ["paused by operator"]
    assert beta["online"] is True
    assert 2 < beta["age_s"] < 600
    assert by_id["gamma"]["source"] == "mq"


def test_no_source_or_an_unreachable_store_is_exit_2(tmp_path: Path, capsys: Any) -> None:
    """Neither --store-url nor --mqtt-url, a missing SQLite file, a server that does not
    answer: exit 2 with one line naming the problem."""
    assert main(["fleet", "status"]) == 2
    assert "give --store-url" in capsys.readouterr().err
    assert main(["fleet", "status", "--store-url", str(tmp_path / "none.sqlite")]) == 2
    assert "fleet status:" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite").exists()  # nothing created
    dead = "postgresql://postgres@127.0.0.1:1/postgres"
    assert main(["fleet", "status", "--store-url", dead]) == 2
    assert "cannot be used" in capsys.readouterr().err


def test_status_of_one_bot_reads_its_postgresql_store(
    fleet: str, tmp_path: Path, capsys: Any
) -> None:
    """``hedgebot status --config`` of a bot whose store is the shared PostgreSQL database:
    its own last tick and net PnL (as its own ``report``), not another bot's, and no SQLite
    file is created at the configured path."""
    own = own_report(tmp_path, fleet, "beta", capsys)
    config = tmp_path / "beta.yaml"  # written by own_report: store.url + pg_schema
    assert main(["status", "--config", str(config), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["bot_id"] == "beta"
    assert status["last_tick"]["block"] == 102
    assert status["pnl"]["net_since_start_quote"] == own["net_pnl_quote"]
    assert not (tmp_path / "beta").exists()
