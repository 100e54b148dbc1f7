"""``hedgebot backtest`` says what it ran: a realistic LP fee by default, and its parameters
above the results (table) or beside them (``--json``)."""

from __future__ import annotations

import argparse
import json

import pytest

from bot.cli import build_parser, main
from bot.sim.backtest_cli import DEFAULT_FEE_APR

pytestmark = pytest.mark.unit


def test_default_fee_apr_is_ten_percent_and_earns_fees(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --fee-apr the run earns 10 % a year on value: LP fees are positive, not 0."""
    args = build_parser().parse_args(["backtest"])
    assert args.fee_apr == DEFAULT_FEE_APR == 0.10
    assert main(["backtest", "--steps", "1440", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["parameters"]["fee_apr"] == 0.10
    # 100,000 quote x 10 % a year x one day (1,440 minute steps), earned while in range
    assert out["lp_fees_quote"] == pytest.approx(100_000 * 0.10 / 365, rel=0.05)


def test_fee_apr_help_gives_units_and_default() -> None:
    """The option's help gives its unit (fraction a year) and its default."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    help_text = " ".join(sub.choices["backtest"].format_help().split())
    assert "--fee-apr FEE_APR LP fee income, a fraction of the position's value per year" in (
        help_text
    )
    assert "(0.10 = 10 % APR; 0 = no fee income) (default: 0.1)" in help_text


def test_table_prints_every_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    """The table run shows policy, band, hedge ratio, fee APR, funding, sigma, steps, seed."""
    argv = ["backtest", "--steps", "600", "--seed", "42", "--gbm-sigma", "1.1"]
    argv += ["--threshold", "0.25", "--hedge-ratio", "0.8", "--funding-rate", "0.0001"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for shown in (
        "sigma 1.1/yr",
        "600 steps x 60 s",
        "seed 42",
        "10.00% APR on value",
        "threshold 0.25 base",
        "0.8 x delta",
        "funding 0.0001 per 8 h",
        "taker 5 bps, slippage 1 bps",
        "net PnL",  # the results' net, under report's row name (bot.pnl_table)
    ):
        assert shown in out, shown
    assert out.index("parameters") < out.index("net PnL")


def test_json_parameters_name_the_policy_and_band(capsys: pytest.CaptureFixture[str]) -> None:
    """--json keeps the results' keys and adds the parameters by option name."""
    assert main(["backtest", "--steps", "300", "--policy", "band", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    params = out["parameters"]
    assert params["policy"] == "band"
    assert params["risk_aversion"] == 1e-4
    assert params["steps"] == 300
    assert params["seed"] == 1
    assert params["gbm_sigma"] == 0.8
    assert out["steps"] == 300
