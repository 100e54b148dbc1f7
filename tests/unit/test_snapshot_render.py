"""``hedgebot snapshot`` for people: a wallet row so the deltas add up, and no number cut
in any table cell however large (issue 17: 1.2e11 base showed ``123456789085.5…``)."""

from __future__ import annotations

import copy
import io
from decimal import Decimal
from typing import Any

import pytest
from rich.console import Console

from bot.display import fit_base, fit_quote, fmt_compact
from bot.render import render_snapshot
from tests.unit.test_display import SNAPSHOT

pytestmark = pytest.mark.unit


def _render(result: dict[str, Any], width: int) -> str:
    console = Console(file=io.StringIO(), record=True, width=width)
    render_snapshot(result, console)
    return console.export_text()


def _huge_wallet() -> dict[str, Any]:
    """The issue's case: 1.2e11 base held outside the pools, beside a 75.038 LP delta."""
    result = copy.deepcopy(SNAPSHOT)
    result["wallet_base"] = "120000000000"
    result["delta_base"] = "120000000075.038024498546075665"
    result["target_base"] = "-120000000075.038024498546075665"
    result["drift_base"] = "-123456789085.5"
    return result


def _row(text: str, first: str) -> list[str]:
    return next(line.split() for line in text.splitlines() if line.startswith(first))


@pytest.mark.parametrize("width", [80, 60])
def test_wallet_row_and_total_make_the_delta_add_up(width: int) -> None:
    """The wallet holds 120.00B base (delta 120.00B, valued at the pool price), the total
    row shows the snapshot's delta; no cell ends in ``…`` and no line passes the width."""
    text = _render(_huge_wallet(), width)
    wallet = _row(text, "wallet")
    assert wallet[0:3] == ["wallet", "base", "120.00B"]
    assert wallet[4] == "239.76T"  # 1.2e11 x 1997.98
    assert wallet[5] == "120.00B"
    assert _row(text, "total") == ["total", "120.00B"]
    assert "…" not in text
    assert "E+" not in text
    assert "e+" not in text
    assert max(len(line) for line in text.splitlines()) <= width


def test_hedge_cells_keep_every_digit_or_a_suffix() -> None:
    """The hedge table's 1.2e11 cells show whole digits or ``B`` — never a cut number."""
    text = _render(_huge_wallet(), 80)
    lines = text.splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("hedge (base)"))
    hedge = lines[title + 3].split()  # title, header, rule, the row
    assert len(hedge) == 5
    for cell in hedge:
        assert cell.lstrip("-") in ("120000000075", "75.038", "123456789086", "0.750")
    narrow = _render(_huge_wallet(), 50)
    assert "-123.46B" in narrow
    assert "-120.00B" in narrow


def test_no_wallet_row_when_the_wallet_is_empty() -> None:
    """A zero wallet adds no row (one position: no total either)."""
    text = _render(SNAPSHOT, 80)
    assert "wallet" not in text
    assert "total" not in text


def test_fit_base_and_fit_quote_keep_the_usual_form_when_it_fits() -> None:
    """The step's decimals and cents with separators when they fit; fewer, then a suffix."""
    assert fit_base("75.038024", Decimal("0.001"), 10) == "75.038"
    assert fit_base("123456789085.5", "0.001", 10) == "123.46B"
    assert fit_quote("299848.4312", 12) == "299,848.43"
    assert fit_quote("299848.4312", 8) == "299848.4"
    assert fit_quote("299848.4312", 7) == "299848"
    assert fit_quote("1200000000", 8) == "1.20B"


def test_a_hostile_number_shows_only_its_bound() -> None:
    """From 1e18 on no amount is real: ``>999,999T``, in plain text, without arithmetic (so
    1e999999999 cannot overflow the decimal context)."""
    assert fmt_compact("1e999999999") == ">999,999T"
    assert fmt_compact("-1e20") == "<-999,999T"
    assert fit_base("1e999999999", "0.001", 9) == ">999,999T"
    assert fmt_compact("9.99e17") == "999,000.00T"
