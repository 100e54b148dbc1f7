"""Maintenance brackets, margin ratio and the isolated liquidation price (Binance formula)."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.margin import (
    ETHUSDT_BRACKETS,
    MaintenanceBracket,
    bracket_for,
    check_brackets,
    liquidation_distance_pct,
    liquidation_price_isolated,
    maintenance_margin,
    margin_balance_isolated,
    margin_ratio,
)

pytestmark = pytest.mark.unit

D = Decimal
CENT = D("0.01")
FLAT_HALF_PCT = (MaintenanceBracket(D(10**12), D("0.005"), D(0)),)


def test_issue_acceptance_short_liquidation_price() -> None:
    """Q=1 short at 2000, WB 200, MMR 0.5 %, cum 0 liquidates at 2189.05 (issue 7)."""
    price = liquidation_price_isolated(D(-1), D(2000), D(200), FLAT_HALF_PCT)
    assert price is not None
    assert price.quantize(CENT) == D("2189.05")
    assert price == (D(200) + D(0) + D(2000)) / (D(1) * (1 + D("0.005")))


def test_default_brackets_give_the_acceptance_example() -> None:
    """The illustrative ETHUSDT first tier is 0.5 % / cum 0, so the defaults agree."""
    price = liquidation_price_isolated(D(-1), D(2000), D(200))
    assert price is not None
    assert price.quantize(CENT) == D("2189.05")


def test_long_mirror_liquidation_price() -> None:
    """A long at 2000 with WB 200 liquidates at (Q·EP − WB)/(Q·(1 − MMR)) = 1809.05."""
    price = liquidation_price_isolated(D(1), D(2000), D(200), FLAT_HALF_PCT)
    assert price is not None
    assert price.quantize(CENT) == D("1809.05")


def test_fully_collateralised_long_has_no_liquidation_price() -> None:
    """A 1x long cannot be liquidated at any positive price."""
    assert liquidation_price_isolated(D(1), D(2000), D(2000), FLAT_HALF_PCT) is None


def test_flat_position_has_no_liquidation_price() -> None:
    """No position, no liquidation price."""
    assert liquidation_price_isolated(D(0), D(2000), D(200)) is None


def test_short_underwater_at_every_price_reports_zero() -> None:
    """A short whose balance cannot cover it anywhere is reported at 0, never as None."""
    assert liquidation_price_isolated(D(-1), D(2000), D(-2500), FLAT_HALF_PCT) == 0


def test_liquidation_uses_the_bracket_of_the_notional_at_the_liquidation_price() -> None:
    """A 24 ETH short at 2000 (48k, tier 1) liquidates above 50k notional, so tier 2 applies."""
    qty, entry, wallet = D(24), D(2000), D(4800)
    price = liquidation_price_isolated(-qty, entry, wallet)
    assert price is not None
    tier2 = ETHUSDT_BRACKETS[1]
    assert qty * price >= ETHUSDT_BRACKETS[0].notional_cap
    assert price == (wallet + tier2.cum + qty * entry) / (qty * (1 + tier2.mmr))


def test_default_brackets_are_continuous() -> None:
    """Each tier's cum keeps maintenance margin continuous at the tier boundary."""
    for lower, upper in pairwise(ETHUSDT_BRACKETS):
        cap = lower.notional_cap
        assert cap * lower.mmr - lower.cum == cap * upper.mmr - upper.cum


def test_bracket_for_floor_inclusive_cap_exclusive() -> None:
    """50 000 belongs to tier 2; beyond the last cap the last tier applies."""
    assert bracket_for(D(49_999)) == ETHUSDT_BRACKETS[0]
    assert bracket_for(D(50_000)) == ETHUSDT_BRACKETS[1]
    assert bracket_for(D(-60_000)) == ETHUSDT_BRACKETS[1]
    assert bracket_for(D(10**10)) == ETHUSDT_BRACKETS[-1]


def test_bad_bracket_tables_are_refused() -> None:
    """Empty tables and caps out of order raise with the caps in the message."""
    with pytest.raises(ValueError, match="at least one"):
        check_brackets(())
    with pytest.raises(ValueError, match="increase strictly"):
        check_brackets(tuple(reversed(ETHUSDT_BRACKETS[:2])))
    with pytest.raises(ValueError, match="mmr"):
        MaintenanceBracket(D(1000), D(1), D(0))


def test_maintenance_margin_and_ratio() -> None:
    """MM = notional·MMR − cum; ratio = MM / margin balance; empty balance is Infinity."""
    assert maintenance_margin(D(-2000)) == D(10)
    assert maintenance_margin(D(100_000)) == D(100_000) * D("0.01") - D(250)
    assert margin_ratio(D(10), D(200)) == D("0.05")
    assert margin_ratio(D(0), D(0)) == 0
    assert margin_ratio(D(10), D(-5)) == D("Infinity")


def test_liquidation_distance_sign() -> None:
    """Positive while safe, negative past liquidation, for both sides."""
    assert liquidation_distance_pct(D(2000), D(2200), D(-1)) == D(10)
    assert liquidation_distance_pct(D(2000), D(1800), D(1)) == D(10)
    assert liquidation_distance_pct(D(2300), D(2200), D(-1)) < 0
    assert liquidation_distance_pct(D(2000), None, D(1)) is None


@given(
    qty=st.decimals(min_value=D("0.001"), max_value=D(20_000), places=3),
    entry=st.decimals(min_value=D(100), max_value=D(10_000), places=2),
    leverage=st.integers(min_value=1, max_value=100),
    short=st.booleans(),
)
def test_margin_balance_equals_maintenance_at_liquidation(
    qty: Decimal, entry: Decimal, leverage: int, short: bool
) -> None:
    """At the liquidation price, margin balance equals maintenance margin (any tier)."""
    size = -qty if short else qty
    wallet = qty * entry / leverage
    price = liquidation_price_isolated(size, entry, wallet)
    if price is None:
        assert not short
        return
    balance = margin_balance_isolated(size, entry, wallet, price)
    maintenance = maintenance_margin(qty * price)
    assert abs(balance - maintenance) <= qty * entry * D("1e-20")
    if wallet > maintenance_margin(qty * entry):  # opened above maintenance: not yet liquid
        assert (price > entry) if short else (price < entry)
