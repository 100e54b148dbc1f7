"""Binance position rows whose fields disagree with each other are read errors (issue 11
item 1, second review): a field replaced by a *plausible* number — finite, of the right sign,
just not the venue's — must not read as another margin, size or PnL.

Through the real ccxt binanceusdm parser with the adapter's raw checks (``test_ccxt_raw``'s
``read_position``: the HTTP layer is a plain function, no socket). The rows are the recorded
emulator row (``tests/fixtures/ccxt/positions.json``: short 1.5 at 1999.78, mark 2100, wallet
999.89, liquidation 2653.1078) in both endpoint versions, and its mirror long.
"""

from __future__ import annotations

import json
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_ccxt_raw import read_position

from bot.core.margin import liquidation_price_isolated
from bot.errors import VenueDataError
from bot.exchange.ccxt.raw import check_answer

pytestmark = pytest.mark.unit

V3 = "/fapi/v3/positionRisk"
V2 = "/fapi/v2/positionRisk"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "ccxt" / "positions.json"
SHORT: dict[str, Any] = json.loads(FIXTURE.read_text())[0]["info"]
SHORT_V2: dict[str, Any] = {
    **{k: v for k, v in SHORT.items() if k not in ("initialMargin", "marginAsset", "maintMargin")},
    "leverage": "3",
    "marginType": "isolated",
    "isolated": True,
    "maxNotionalValue": "50000000",
}
# the mirror long: 1.5 at 2200.22, mark 2100 (a loss of 150.33), its own liquidation price
_LONG_LIQUIDATION = liquidation_price_isolated(
    Decimal("1.5"), Decimal("2200.22"), Decimal("999.89")
)
LONG: dict[str, Any] = {
    **SHORT,
    "positionAmt": "1.5",
    "entryPrice": "2200.22",
    "breakEvenPrice": "2200.22",
    "notional": "3150.0",
    "liquidationPrice": str(_LONG_LIQUIDATION),
}
ROWS = {"short-v3": (SHORT, V3), "short-v2": (SHORT_V2, V2), "long-v3": (LONG, V3)}

# fields Binance derives from others in the row: any other number there is a read error
RELATED = (
    "positionAmt",
    "entryPrice",
    "markPrice",
    "unRealizedProfit",
    "notional",
    "isolatedWallet",
    "isolatedMargin",
)


def scaled(text: str, factor: Decimal) -> str:
    """``text`` times ``factor``, exactly (as many decimals as the product has)."""
    with localcontext() as context:
        context.prec = 60
        return format(Decimal(text) * factor, "f")


FACTORS = st.one_of(
    st.decimals(min_value=Decimal("0.2"), max_value=Decimal("0.99"), places=3),
    st.decimals(min_value=Decimal("1.01"), max_value=Decimal("5"), places=3),
)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_complete_rows_read_as_recorded() -> None:
    """Each complete row reads (no false alarm): the short's wallet 999.89 and size -1.5."""
    for name, (row, path) in ROWS.items():
        position = read_position([row], path)
        assert position is not None, name
        assert position.margin == Decimal("999.89")
        assert position.size_base == (
            Decimal("-1.5") if name.startswith("short") else Decimal("1.5")
        )


@PROPERTY
@given(row=st.sampled_from(sorted(ROWS)), field=st.sampled_from(RELATED), factor=FACTORS)
@example(row="short-v3", field="isolatedWallet", factor=Decimal("5"))  # the review's 5000
@example(row="short-v3", field="isolatedWallet", factor=Decimal("0.2"))
def test_one_field_replaced_by_a_plausible_number_is_a_read_error(
    row: str, field: str, factor: Decimal
) -> None:
    """Any derived field (size, prices, PnL, notional, wallet, isolated margin) scaled by a
    factor 1 % or more off 1, same sign: VenueDataError, never another margin."""
    complete, path = ROWS[row]
    with pytest.raises(VenueDataError):
        read_position([{**complete, field: scaled(complete[field], factor)}], path)


@PROPERTY
@given(row=st.sampled_from(sorted(ROWS)), factor=FACTORS)
def test_a_liquidation_price_further_than_the_wallet_allows_is_a_read_error(
    row: str, factor: Decimal
) -> None:
    """A liquidation price moved away from the mark (a short's up, a long's down) by 1 % or
    more: VenueDataError. Moved toward the mark (the safer side) it is the venue's to say."""
    complete, path = ROWS[row]
    short = row.startswith("short")
    damaged = {**complete, "liquidationPrice": scaled(complete["liquidationPrice"], factor)}
    if (factor > 1) == short:
        with pytest.raises(
            VenueDataError, match=r"liquidationPrice .* disagrees with isolatedWallet"
        ):
            read_position([damaged], path)
    else:
        try:
            position = read_position([damaged], path)
        except VenueDataError:
            return
        assert position is not None
        assert position.margin == Decimal("999.89")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"isolatedWallet": "5000"}, r"isolatedMargin 849.56 disagrees with isolatedWallet 5000"),
        ({"isolatedWallet": "40"}, r"isolatedMargin 849.56 disagrees with isolatedWallet 40"),
        ({"isolatedMargin": "5000"}, r"isolatedMargin 5000 disagrees with isolatedWallet 999.89"),
        (
            {"isolatedWallet": "5000", "isolatedMargin": "4849.67"},
            r"liquidationPrice 2653.1\d* disagrees with isolatedWallet 5000",
        ),
        ({"notional": "-3100.0"}, r"notional -3100 disagrees with positionAmt x markPrice"),
        ({"unRealizedProfit": "-140.330"}, r"unRealizedProfit -140.33 disagrees with"),
        ({"entryPrice": "1989.78"}, r"unRealizedProfit -150.33 disagrees with"),
    ],
)
def test_the_reviewers_rows_name_both_fields(fields: dict[str, str], message: str) -> None:
    """The second review's wallets (5000, 40; with a matching isolated margin) and one field
    of each other relation: refused naming the fields that disagree."""
    with pytest.raises(VenueDataError, match=message):
        read_position([{**SHORT, **fields}], V3)


@pytest.mark.parametrize(
    "fields",
    [
        {"unRealizedProfit": "-150.33000001"},  # the last digit of an 8-decimal PnL
        {"notional": "-3150.00000001"},
        {"entryPrice": "1999.780000001", "breakEvenPrice": "1999.780000001"},
        {"isolatedMargin": "849.56000002"},
        {"markPrice": 2100.0, "notional": -3150.0, "unRealizedProfit": -150.33},  # as numbers
    ],
)
def test_the_venues_rounding_is_not_a_disagreement(fields: dict[str, Any]) -> None:
    """Numbers off only in their last digits (Binance sends 8 decimals) read as the venue's."""
    position = read_position([{**SHORT, **fields}], V3)
    assert position is not None
    assert position.margin == Decimal("999.89")


def test_a_cross_row_is_not_held_to_the_isolated_relations() -> None:
    """A cross row (isolated margin and wallet 0; its liquidation price from the whole cross
    wallet) passes the raw checks; only notional and PnL relations apply to it."""
    cross = {**SHORT_V2, "marginType": "cross", "isolated": False}
    cross |= {"isolatedMargin": "0", "isolatedWallet": "0", "liquidationPrice": "9000"}
    check_answer("binanceusdm", V2, [cross], {"ETHUSDT"})
    with pytest.raises(VenueDataError, match="notional -3000 disagrees"):
        check_answer("binanceusdm", V2, [{**cross, "notional": "-3000"}], {"ETHUSDT"})
