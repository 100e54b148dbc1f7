"""``hedgebot status`` names the wallet's base beside the delta it is part of, fits a huge
position delta in its cell, and shows a halt's cause and way out (issue 17)."""

from __future__ import annotations

import pytest
from test_status import _screen, _status

pytestmark = pytest.mark.unit

AUTH = "venue refused authentication — fix keys, then resume"


def test_the_wallet_is_named_in_the_delta_line() -> None:
    """Delta 1.2e11 + 171.12 with 1.2e11 in the wallet: both shown, so the delta adds up."""
    text = _screen(
        _status(
            wallet_base="120000000000",
            delta_base="120000000171.123456789",
            amount_step_base="0.001",
        )
    )
    assert "delta 120000000171.123 (wallet 120000000000.000)" in text


def test_no_wallet_no_note() -> None:
    """A zero (or unread) wallet adds nothing to the delta line."""
    assert "wallet" not in _screen(_status(wallet_base="0"))
    assert "wallet" not in _screen(_status())


def _row(text: str) -> list[str]:
    return next(line.split() for line in text.splitlines() if line.lstrip().startswith("lp-main"))


def test_a_huge_position_delta_keeps_a_suffix_not_a_cut() -> None:
    """A position's delta too wide for its cell: fewer decimals (``120000000171``), then
    a suffix (``1.20T``), never ``…``."""
    position = dict(_status()["positions"][0], delta_base="120000000171.123456789")
    row = _row(_screen(_status(positions=[position])))
    assert row[-1] == "120000000171"
    position = dict(_status()["positions"][0], delta_base="1200000000171.123456789")
    text = _screen(_status(positions=[position]))
    assert _row(text)[-1] == "1.20T"  # the pool's address is the only abbreviation


def test_a_halt_for_a_refused_key_says_fix_keys_then_resume() -> None:
    """The trading line carries the reason's words (from trading_summary), unchanged."""
    trading = dict(
        _status()["trading"],
        state="halted",
        reasons=[AUTH],
        operator="halted",
        operator_cause="authentication_refused",
        operator_since=1_700_000_000.0,
    )
    text = _screen(_status(trading=trading))
    assert f"trading HALTED: {AUTH}" in text.replace("\n", " ")
    assert "operator halted (authentication_refused)" in text


def test_a_known_drift_with_an_unknown_band_says_unknown() -> None:
    """The band may be unread while the drift is known: the screen says so (it used to
    format ``'?'`` as a number and raise)."""
    text = _screen(_status(drift_base="1.5", band_base=None))
    assert "drift 1.5000 / band unknown" in text
