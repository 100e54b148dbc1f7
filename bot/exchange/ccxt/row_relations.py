"""The arithmetic Binance does inside one ``positionRisk`` row, checked before ccxt reads it.

Binance derives several fields of a position row from the others at one moment (one mark):

- ``notional = positionAmt x markPrice``;
- ``unRealizedProfit = positionAmt x (markPrice - entryPrice)``;
- isolated: ``isolatedMargin = isolatedWallet + unRealizedProfit``;
- isolated with a liquidation price ``L`` reported (> 0): at ``L`` the margin balance equals
  the maintenance margin, ``isolatedWallet + positionAmt x (L - entryPrice) = mm(|amt| x L)``,
  and the maintenance margin lies between 0 and 50 % of the notional (Binance's top bracket
  rate), so ``0 <= isolatedWallet + positionAmt x (L - entryPrice) <= 0.5 x |amt| x L``.

A row breaking one of them has a field that is not the venue's (corrupted, swapped, from
another moment or another row): the bot would size margin or liquidation distance from it, so
it is a ``VenueDataError`` naming the fields. Each comparison allows the venue's rounding
only: ``1e-8`` of the row's notional plus two units of the last digit of each number sent
(``"849.560"``: 0.001; an input's unit counts ``|positionAmt|`` times).

The liquidation bound is one-sided tight where it matters: a short's liquidation price
placed further above the mark (a long's further below) than its wallet allows fails as soon
as it is off by more than the maintenance margin (0.5 % of the notional in the first
bracket). A wallet and an isolated margin both replaced by one larger number is caught only
beyond the 50 % bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.errors import VenueDataError
from bot.exchange.ccxt.fields import number

__all__ = ["MAX_MAINTENANCE_RATE", "RELATIVE_ROUNDING", "check_binance_row_relations"]

RELATIVE_ROUNDING = Decimal("1e-8")  # of the row's notional
_DIGIT_UNITS = 2  # units of the last digit of each number in a relation
MAX_MAINTENANCE_RATE = Decimal("0.5")  # Binance's highest maintenance bracket rate
_ZERO = Decimal(0)


def check_binance_row_relations(
    row: Mapping[str, Any], amount: Decimal, entry: Decimal, where: str
) -> None:
    """Refuse a Binance position row (v2 or v3) whose fields disagree with each other.

    ``amount`` is the row's ``positionAmt`` (signed, base), ``entry`` its ``entryPrice``
    (quote per base), both already read. A flat row, or a relation whose fields are absent,
    is not checked. Raises ``VenueDataError`` naming ``where`` and the fields.
    """
    mark = number(row, "markPrice", where, required=False)
    if not amount or not mark:
        return
    scale = abs(amount * mark) * RELATIVE_ROUNDING
    notional = number(row, "notional", where, required=False)
    if notional is not None:
        slack = scale + _DIGIT_UNITS * (
            _unit(row, "notional") + abs(amount) * _unit(row, "markPrice")
        )
        _agree(
            where, f"notional {notional}", notional, "positionAmt x markPrice", amount * mark, slack
        )
    unrealized = number(row, "unRealizedProfit", where, required=False)
    if unrealized is not None:
        inputs = _unit(row, "markPrice") + _unit(row, "entryPrice")
        slack = scale + _DIGIT_UNITS * (_unit(row, "unRealizedProfit") + abs(amount) * inputs)
        _agree(
            where,
            f"unRealizedProfit {unrealized}",
            unrealized,
            "positionAmt x (markPrice - entryPrice)",
            amount * (mark - entry),
            slack,
        )
    if _isolated(row, where):
        _check_isolated(row, amount, entry, unrealized, scale, where)


def _isolated(row: Mapping[str, Any], where: str) -> bool:
    """Isolated as ccxt reads it: ``marginType`` (v2), else a non-zero ``isolatedMargin``."""
    margin_type = row.get("marginType")
    if margin_type is not None:
        return bool(margin_type == "isolated")
    return bool(number(row, "isolatedMargin", where, required=False))


def _check_isolated(
    row: Mapping[str, Any],
    amount: Decimal,
    entry: Decimal,
    unrealized: Decimal | None,
    scale: Decimal,
    where: str,
) -> None:
    wallet = number(row, "isolatedWallet", where, required=False)
    if wallet is None:
        return
    margin = number(row, "isolatedMargin", where, required=False)
    if margin is not None and unrealized is not None:
        units = sum(_unit(row, k) for k in ("isolatedMargin", "isolatedWallet", "unRealizedProfit"))
        _agree(
            where,
            f"isolatedMargin {margin}",
            margin,
            f"isolatedWallet {wallet} + unRealizedProfit {unrealized}",
            wallet + unrealized,
            scale + _DIGIT_UNITS * units,
        )
    liquidation = number(row, "liquidationPrice", where, required=False)
    if not liquidation:
        return
    at_liquidation = abs(amount) * liquidation
    balance = wallet + amount * (liquidation - entry)
    inputs = _unit(row, "liquidationPrice") + _unit(row, "entryPrice")
    slack = at_liquidation * RELATIVE_ROUNDING + _DIGIT_UNITS * (
        _unit(row, "isolatedWallet") + abs(amount) * inputs
    )
    if balance < -slack or balance > MAX_MAINTENANCE_RATE * at_liquidation + slack:
        raise VenueDataError(
            f"{where}: liquidationPrice {liquidation} disagrees with isolatedWallet {wallet}"
            f" (margin balance {balance} there, outside 0..{MAX_MAINTENANCE_RATE} x notional"
            f" {at_liquidation}; entryPrice {entry}, positionAmt {amount})"
        )


def _agree(
    where: str, field: str, reported: Decimal, formula: str, expected: Decimal, slack: Decimal
) -> None:
    if abs(reported - expected) > slack:
        raise VenueDataError(f"{where}: {field} disagrees with {formula} = {expected}")


def _unit(row: Mapping[str, Any], key: str) -> Decimal:
    """One unit of the last digit ``row[key]`` was sent with (``"849.560"``: 0.001; a number
    as ccxt or JSON gave it: its shortest text); 0 when absent or not a number."""
    value = row.get(key)
    if value is None or isinstance(value, bool):
        return _ZERO
    try:
        exponent = Decimal(str(value).strip()).as_tuple().exponent
    except (InvalidOperation, ValueError):
        return _ZERO
    return Decimal(1).scaleb(exponent) if isinstance(exponent, int) else _ZERO
