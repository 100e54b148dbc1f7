"""`hedgebot backtest` refuses inputs it cannot honour, in one line, and never prints bad JSON.

``--steps 1000000000`` grew to 5.9 GB before failing; ``--value-quote 1e308 --json`` printed
``Infinity`` (not JSON).
"""

from __future__ import annotations

import json

import pytest

from bot.cli import main
from bot.sim.backtest import MAX_STEPS

pytestmark = pytest.mark.unit


def test_steps_beyond_the_maximum_are_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """--steps above MAX_STEPS: argparse's one line naming the maximum, before any array."""
    with pytest.raises(SystemExit) as exited:
        main(["backtest", "--steps", "1000000000", "--json"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.splitlines() == [
        f"hedgebot backtest: error: argument --steps: must be <= {MAX_STEPS} (four years of "
        "minute steps), got '1000000000'"
    ]


def test_results_that_overflow_are_refused_not_printed_as_infinity(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--value-quote 1e308: exit 2, one line naming --value-quote (refused where it is parsed,
    issue 11 review 4: before the results could overflow); stdout empty."""
    with pytest.raises(SystemExit) as exited:
        main(["backtest", "--steps", "50", "--value-quote", "1e308", "--json"])
    captured = capsys.readouterr()
    assert exited.value.code == 2
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "hedgebot backtest: error: argument --value-quote: must be in (0, 1e+12] quote, got '1e308'"
    ]


def test_json_output_is_strict_json(capsys: pytest.CaptureFixture[str]) -> None:
    """A normal run prints JSON that a strict parser (no NaN/Infinity) accepts."""
    assert main(["backtest", "--steps", str(MAX_STEPS // 10_000), "--json"]) == 0
    out = capsys.readouterr().out

    def refuse(name: str) -> None:
        raise ValueError(name)

    summary = json.loads(out, parse_constant=refuse)
    assert summary["steps"] == MAX_STEPS // 10_000
