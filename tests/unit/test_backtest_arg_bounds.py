"""Finite but absurd numeric arguments of the simulation commands are refused where they are
parsed: exit 2, one line naming the argument, never a traceback from an overflow later
(issue 11 review 4: ``--gbm-drift 1e300`` ended in ``ArithmeticError: nan != nan``,
``--gbm-sigma 1e300`` in ``OverflowError``)."""

from __future__ import annotations

import pytest

from bot.cli import main

pytestmark = pytest.mark.unit

REFUSED = [
    ("--gbm-sigma", "1e300", "[0, 10] (annualised volatility, like plan --sigma)"),
    ("--gbm-sigma", "10.5", "[0, 10] (annualised volatility, like plan --sigma)"),
    ("--gbm-drift", "1e300", "[-10, 10] (annualised drift)"),
    ("--gbm-drift", "-1e300", "[-10, 10] (annualised drift)"),
    ("--step-seconds", "1e300", "(0, 3.16224e+07] seconds"),
    ("--start-price", "1e300", "[1e-12, 1e+12] quote per base"),
    ("--start-price", "1e-300", "[1e-12, 1e+12] quote per base"),
    ("--range-pct", "1e300", "[0.0001, 0.99] (a fraction of the price)"),
    ("--value-quote", "1e300", "(0, 1e+12] quote"),
    ("--fee-apr", "1e300", "[0, 100] (a fraction a year)"),
    ("--fee-tier-bps", "1e300", "[0, 10000] bps"),
    ("--volume-per-day", "1e300", "[0, 1e+12] quote per day"),
    ("--interval-s", "1e300", "(0, 3.16224e+09] seconds"),
    ("--risk-aversion", "1e300", "[1e-12, 1] (CARA, 1/quote)"),
    ("--persistence-s", "1e300", "[0, 3.16224e+09] seconds"),
    ("--backstop-s", "1e300", "(0, 3.16224e+09] seconds"),
    ("--hedge-ratio", "1e300", "[0, 3] (like hedge.ratio)"),
    ("--taker-fee-bps", "1e300", "[0, 10000] bps"),
    ("--slippage-bps", "1e300", "[0, 10000] bps"),
    ("--funding-rate", "-1e300", "[-1, 1] per 8 h"),
]


@pytest.mark.parametrize(("name", "value", "bounds"), REFUSED)
def test_absurd_backtest_argument_is_exit_2_naming_it(
    name: str, value: str, bounds: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One line: the argument, its range and the value given; nothing on stdout."""
    with pytest.raises(SystemExit) as exited:
        main(["backtest", "--steps", "20", f"{name}={value}", "--json"])
    captured = capsys.readouterr()
    assert exited.value.code == 2
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"hedgebot backtest: error: argument {name}: must be in {bounds}, got {value!r}"
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--gbm-sigma", "10", "--step-seconds", "31536000", "--steps", "1000"],
        ["--gbm-drift", "10", "--step-seconds", "31536000", "--steps", "100"],
    ],
)
def test_gbm_path_beyond_the_price_range_is_exit_2_naming_the_arguments(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each argument in range, together too much for the horizon: one line naming them."""
    assert main(["backtest", *args, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("backtest: the GBM path leaves [1e-12, 1e+12] quote per base at step")
    assert line.endswith(
        "lower --gbm-sigma or --gbm-drift, or the horizon (--steps x --step-seconds)"
    )


def test_largest_volatility_and_drift_in_range_run(capsys: pytest.CaptureFixture[str]) -> None:
    """The bounds themselves (sigma 10, drift ±10 over the default minute steps) still run."""
    assert main(["backtest", "--steps", "200", "--gbm-sigma", "10", "--gbm-drift", "10"]) == 0
    assert "hedgebot backtest: PnL" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["demo", "localnet"])
def test_market_volatility_of_demo_and_localnet_is_bounded(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``demo``/``localnet --sigma 1e300``: refused before anything starts, naming --sigma."""
    with pytest.raises(SystemExit) as exited:
        main([command, "--sigma", "1e300"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"hedgebot {command}: error: argument --sigma: must be in [0, 10] (annualised "
        "volatility, like plan --sigma), got '1e300'"
    ]
