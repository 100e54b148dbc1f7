"""``hedgebot report`` over a real SQLite store: table, JSON, chart and the empty-store exit."""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bot.domain import (
    ChainSnapshot,
    Decision,
    Fill,
    FundingPayment,
    OrderIntent,
    PositionExposure,
    Side,
)
from bot.report import add_subcommand, load_report, run_report
from bot.report_chart import build_figure
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

D = Decimal
SYMBOL = "ETH/USDT:USDT"
ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
POOL, BASE, QUOTE = ("0x" + digit * 40 for digit in "abc")  # one address per role
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_config(tmp_path: Path, store_path: Path) -> Path:
    data = {
        "bot_id": "report-test",
        "chain": {"rpc_urls": ["http://127.0.0.1:8545"]},
        "positions": [{"id": "lp1", "kind": "v2", "pool": POOL, "owner": ADDR}],
        "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
        "store": {"path": str(store_path)},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def snapshot(block: int, price: str, base: str, quote: str, fees_quote: str = "0") -> ChainSnapshot:
    value = D(base) * D(price) + D(quote)
    lp = PositionExposure(
        "lp1", "v2", D(base), D(quote), value, D(base), D(0), D(price), fees_quote=D(fees_quote)
    )
    return ChainSnapshot(block, 1_700_000_000 + block, f"0x{block:064x}", D(price), (lp,))


def decision(hedge_base: str, action: str = "hold") -> Decision:
    return Decision(action, "test", D(1), D(-1), D(hedge_base), D(0), D("0.05"))  # type: ignore[arg-type]


async def build_store(path: Path) -> None:
    """Three ticks of a V2 LP (1 base + 2000 quote at 2000) hedged by a 1-base short.

    Tick 1 (block 100): sell 1 at 1999 against a 2000 mark (slippage 1, fee 1).
    Tick 2 (block 101): price 8000 (LP 0.5 base + 4000 quote); a manual buy of 0.1 at 8000
    (fee 0.4, no intent: assigned by time); funding +1.6 received.
    Tick 3 (block 102): same price, 10 quote of uncollected fees.
    Expected: hold +6000, IL -2000, fees +10, hedge -6000, funding +1.6, trading fees 1.4,
    slippage 1, net -1990.8.
    """
    store = await SqliteStore.open(path)
    try:
        await store.record_snapshot(1000.0, snapshot(100, "2000", "1", "2000"))
        await store.record_intent(
            1000.0, 100, OrderIntent("hb-100-1", SYMBOL, Side.SELL, D(1), False, D(1990))
        )
        await store.record_decision(1000.0, 100, decision("0", "rebalance"))
        await store.record_fill(
            Fill("t1", "hb-100-1", "x1", SYMBOL, Side.SELL, D(1), D(1999), D(1), D(0), 1_000_500)
        )
        await store.record_snapshot(2000.0, snapshot(101, "8000", "0.5", "4000"))
        await store.record_decision(2000.0, 101, decision("-1"))
        await store.record_fill(
            Fill(
                "t2", "manual", "x2", SYMBOL, Side.BUY, D("0.1"), D(8000), D("0.4"), D(0), 2_100_000
            )
        )
        await store.record_funding(
            FundingPayment("f1", SYMBOL, D("1.6"), D("0.0001"), D(-1), D(8000), 2_500_000)
        )
        await store.record_snapshot(3000.0, snapshot(102, "8000", "0.5", "4000", fees_quote="10"))
        await store.record_decision(3000.0, 102, decision("-0.9"))
    finally:
        await store.close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    store_path = tmp_path / "var" / "hedgebot.sqlite"
    asyncio.run(build_store(store_path))
    return write_config(tmp_path, store_path)


def test_json_report_attributes_every_part(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON summary has each part exactly, and they add up to the net."""
    assert run_report(config, as_json=True) == 0
    summary = json.loads(capsys.readouterr().out)
    parts = {k: D(v) for k, v in summary.items() if k.endswith("_quote") and "lp_value" not in k}
    assert parts["lp_hold_pnl_quote"] == D(6000)
    assert parts["il_quote"] == D(-2000)
    assert parts["lp_fees_quote"] == D(10)
    assert parts["hedge_pnl_quote"] == D(-6000)
    assert parts["funding_quote"] == D("1.6")
    assert parts["trading_fees_quote"] == D("1.4")
    assert parts["slippage_quote"] == D(1)
    assert parts["gas_quote"] == D(0)
    assert parts["net_pnl_quote"] == D("-1990.8")
    assert summary["ticks"] == 3
    assert (summary["first_block"], summary["last_block"]) == (100, 102)
    assert D(summary["hedge_base"]) == D("-0.9")
    assert summary["fills"] == 2
    assert summary["funding_payments"] == 1


def test_table_and_chart(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The table prints the cumulative parts and the net; the chart is a real PNG."""
    out = tmp_path / "charts" / "pnl.png"
    assert run_report(config, out=out) == 0
    printed = capsys.readouterr().out
    for text in ("6,000.00", "-2,000.00", "10.00", "-6,000.00", "1.60", "-1.40"):
        assert text in printed
    net_line = next(line for line in printed.splitlines() if "net PnL" in line)
    assert "-1,990.80" in net_line
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0
    assert height > 0
    assert f"chart: {out}" in printed


def test_subcommand_registers_report(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``add_subcommand`` wires ``report --config F --json`` to the report."""
    parser = argparse.ArgumentParser()
    add_subcommand(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", "--config", str(config), "--json"])
    assert args.func(args) == 0
    assert D(json.loads(capsys.readouterr().out)["net_pnl_quote"]) == D("-1990.8")


def test_missing_store_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No store file: exit 1 with a message, and no store is created."""
    store_path = tmp_path / "nothing" / "hedgebot.sqlite"
    assert run_report(write_config(tmp_path, store_path)) == 1
    assert "no store at" in capsys.readouterr().err
    assert not store_path.exists()


def test_empty_store_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store without snapshots: exit 1 with a message, no traceback, no chart."""
    store_path = tmp_path / "hedgebot.sqlite"

    async def create() -> None:
        store = await SqliteStore.open(store_path)
        await store.close()

    asyncio.run(create())
    out = tmp_path / "pnl.png"
    assert run_report(write_config(tmp_path, store_path), out=out) == 1
    captured = capsys.readouterr()
    assert "has no snapshots yet" in captured.err
    assert "Traceback" not in captured.err
    assert not out.exists()


def _rows(printed: str) -> dict[str, str]:
    """The table's ``label -> value`` cells."""
    rows: dict[str, str] = {}
    for line in printed.splitlines():
        cells = [c.strip() for c in line.strip("│|").split("│") if c.strip()]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


def test_costs_are_negative_contributions_in_cents_within_80_columns(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Costs are shown once, as negative contributions labelled without a minus sign; every
    value is to cents, the rows sum to the net, and no line passes 80 columns."""
    assert run_report(config) == 0
    printed = capsys.readouterr().out
    rows = _rows(printed)
    assert rows["trading fees"] == "-1.40"
    assert rows["slippage vs mark"] == "-1.00"
    assert rows["gas"] == "0.00"  # never -0.00
    assert rows["funding"] == "1.60"
    assert rows["LP hold (entry amounts x price move)"] == "6,000.00"
    assert rows["impermanent loss vs hold"] == "-2,000.00"
    assert rows["net PnL"] == "-1,990.80"
    parts = [v for k, v in rows.items() if k not in ("net PnL",) and k in _PART_LABELS]
    assert sum(D(v.replace(",", "")) for v in parts) == D("-1990.80")
    assert not any(label.startswith(("-", "−")) for label in rows)
    assert "costs (trading fees, slippage, gas) < 0" in printed
    assert "E-" not in printed
    assert max(len(line) for line in printed.splitlines()) <= 80


_PART_LABELS = (
    "LP hold (entry amounts x price move)",
    "impermanent loss vs hold",
    "LP fees",
    "hedge at mark",
    "funding",
    "trading fees",
    "slippage vs mark",
    "gas",
)


def test_chart_time_axis_is_utc_time_of_the_stored_ticks(config: Path) -> None:
    """The chart's x axis is the stored ticks' UTC times (1000 s .. 3000 s after the epoch),
    not hours since the first tick; every line has its own colour and style, all in legends."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    from bot.config import load_config
    from bot.store.sqlite import SqliteStore as Store

    async def read() -> object:
        store = await Store.open(load_config(config, require_secrets=False).store.path)
        try:
            return await load_report(store)
        finally:
            await store.close()

    report = asyncio.run(read())
    fig = build_figure(report)  # type: ignore[arg-type]
    assert isinstance(fig, Figure)
    price_axis, value_axis, pnl_axis = fig.axes[:3]
    assert pnl_axis.get_xlabel() == "time (UTC)"
    low, high = price_axis.get_lines()[0].get_xdata()[[0, -1]]
    assert mdates.date2num(low) == pytest.approx(mdates.date2num(_utc(1000.0)))
    assert mdates.date2num(high) == pytest.approx(mdates.date2num(_utc(3000.0)))
    for axis in (value_axis, pnl_axis):
        lines = list(axis.get_lines())
        if axis is value_axis:
            lines += fig.axes[3].get_lines()  # the hedge on the twin axis
        looks = {(str(line.get_color()), str(line.get_linestyle())) for line in lines}
        assert len(looks) == len(lines)
        legend = axis.get_legend()
        assert legend is not None
        shown = {text.get_text() for text in legend.get_texts()}
        assert shown == {line.get_label() for line in lines}
    pnl_labels = {line.get_label() for line in pnl_axis.get_lines()}
    assert {"trading fees", "slippage vs mark", "funding", "net PnL"} <= pnl_labels


def _utc(ts: float) -> object:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC)
