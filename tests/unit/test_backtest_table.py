"""``backtest``'s table is ``report``'s: the same rows, labels, signs (costs negative) and
rounding (cents, no ``-0.0000``), and its help and summary name the arbitrage volume."""

from __future__ import annotations

import argparse
import json
import re
from decimal import Decimal

import pytest

from bot.cli import build_parser, main
from bot.display import PNL_LABELS

pytestmark = pytest.mark.unit

ARGV = ["backtest", "--steps", "600", "--seed", "3", "--funding-rate", "0"]


def _row(out: str, label: str) -> str:
    match = re.search(rf"│ {re.escape(label)}\s+│\s+(\S+) │", out)
    assert match is not None, label
    return match.group(1)


def test_table_rows_are_signed_contributions_like_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Trading fees and slippage print negative (JSON keeps them positive), to cents; the
    rows are report's labels and sum to the net; a zero part is 0.00, never -0.0000."""
    assert main([*ARGV, "--json"]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert exact["trading_fees_quote"] > 0
    assert main(ARGV) == 0
    out = capsys.readouterr().out
    fees = _row(out, PNL_LABELS["trading_fees_quote"])
    assert fees == f"-{exact['trading_fees_quote']:,.2f}"
    assert _row(out, PNL_LABELS["slippage_quote"]).startswith("-")
    assert _row(out, PNL_LABELS["funding_quote"]) == "0.00"
    assert "-0.0" not in out
    assert "e-" not in out.lower().replace("note", "")
    rows = [
        Decimal(_row(out, PNL_LABELS[name]).replace(",", ""))
        for name in PNL_LABELS
        if name != "gas_quote"
    ]
    net = Decimal(_row(out, "net PnL").replace(",", ""))
    assert abs(sum(rows) - net) <= Decimal("0.05")
    assert net == Decimal(f"{exact['net_pnl_quote']:.2f}")


def test_fee_tier_help_and_summary_name_the_arbitrage_volume(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--fee-tier-bps`` also earns on the arbitrage volume: the help and the parameter
    summary say so (393/day on 100,000/day at 30 bps is not a bug)."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    help_text = " ".join(sub.choices["backtest"].format_help().split())
    assert "AND on the arbitrage volume" in help_text
    assert main([*ARGV, "--fee-tier-bps", "30", "--volume-per-day", "100000"]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "+ the arbitrage volume of the price path)" in out
