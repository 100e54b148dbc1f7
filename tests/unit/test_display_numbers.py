"""One formatter for JSON decimals and one for people: exact zero is ``0``, no exponent, no
trailing zeros in JSON, no negative zero, and a number too wide shrinks instead of being cut."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from bot.display import (
    fit_number,
    fmt_base,
    fmt_compact,
    fmt_pct,
    fmt_plain,
    fmt_quote,
    json_decimal,
    json_numbers,
)
from bot.telemetry.wire import _wire_pnl

pytestmark = pytest.mark.unit


def test_json_decimal_is_exact_plain_and_zero_is_0() -> None:
    """``0E-18``, ``-0``, ``-3.1E-23`` are ``0``; 120-digit quotients keep 18 decimals with
    no trailing zeros; ``1E+2`` is ``100``; ``1E-7`` is ``0.0000001``."""
    assert json_decimal(Decimal("0E-18")) == "0"
    assert json_decimal(Decimal("-0")) == "0"
    assert json_decimal(Decimal("-3.1E-23")) == "0"
    assert json_decimal(Decimal("1E+2")) == "100"
    assert json_decimal(Decimal("1E-7")) == "0.0000001"
    assert json_decimal(Decimal("-1234.5678000000")) == "-1234.5678"
    with localcontext() as ctx:
        ctx.prec = 120
        nearly = Decimal(1) / Decimal(3) * 3 + Decimal("11.5")  # 12.4999… (119 nines)
        padded = Decimal("12.5").quantize(Decimal("1e-110"))  # 110 trailing zeros
    assert json_decimal(nearly) == "12.5"
    assert json_decimal(padded) == "12.5"
    assert json_decimal(Decimal("75.038024498546075665")) == "75.038024498546075665"


def test_json_numbers_rewrites_amount_fields_only() -> None:
    """A snapshot's ``target_base "0E-18"`` becomes ``"0"``; ids and nested lists are kept."""
    body = {
        "id": "0E-18",
        "target_base": "0E-18",
        "price": Decimal("1997.9766000"),
        "positions": [{"id": "lp", "delta_base": "-0E-18", "in_range": True}],
        "decision": {"amount_base": "75.038000"},
    }
    assert json_numbers(body) == {
        "id": "0E-18",
        "target_base": "0",
        "price": "1997.9766",
        "positions": [{"id": "lp", "delta_base": "0", "in_range": True}],
        "decision": {"amount_base": "75.038"},
    }


def test_mqtt_pnl_zero_is_0_not_0e_10() -> None:
    """The wire's 1e-10 rounding keeps the number and prints an exact zero as ``0``."""
    assert str(_wire_pnl(Decimal(0))) == "0"
    assert str(_wire_pnl(Decimal("-1E-12"))) == "0"
    assert str(_wire_pnl(Decimal("15.123456789012"))) == "15.1234567890"


def test_people_never_see_an_exponent_or_negative_zero() -> None:
    """Ratios in plain digits, percentages, huge values with a suffix, ``-0`` as ``0``."""
    assert fmt_plain(Decimal("1E-7")) == "0.0000001"
    assert fmt_plain("1") == "1"
    assert fmt_pct("0.0249") == "2.49 %"
    assert fmt_quote("-0.004") == "0.00"
    assert fmt_base("1.2E+15") == "1,200.00T"
    assert fmt_compact("123456789085.5") == "123.46B"
    assert fmt_compact("-1500000") == "-1.50M"


@pytest.mark.parametrize(
    ("width", "shown"),
    [(20, "123456789085.5000"), (13, "123456789086"), (10, "123.46B"), (5, "123B")],
)
def test_fit_number_shrinks_decimals_then_uses_a_suffix(width: int, shown: str) -> None:
    """1.2e11 base in a narrow column: fewer decimals, then ``B``; never cut."""
    assert fit_number("123456789085.5", 4, width) == shown
