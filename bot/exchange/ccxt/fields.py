"""Field rules for raw venue rows: every number, time, id and side the bot reads goes here.

A field that is missing (when required), null, non-finite, not a number or of the wrong sign
raises ``VenueDataError`` naming the row and the field; nothing is ever read as zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from bot.errors import VenueDataError

__all__ = [
    "MAX_MAGNITUDE",
    "NOTIONAL_TOLERANCE",
    "Sign",
    "agrees",
    "mapping",
    "number",
    "required",
    "short",
    "side_of",
    "text",
    "timestamp_ms",
    "to_decimal",
]

Sign = Literal["any", "positive", "non_negative"]

# notional against contracts x contractSize x the venue's notional price (the mark; the entry
# where ``RawSize.notional_price`` says so): venues round each field to a few decimals; a
# swapped, corrupt or estimated field is further off
NOTIONAL_TOLERANCE = Decimal("0.002")
# no venue number (price, size, balance, time in ms) comes near this; larger is corrupt
MAX_MAGNITUDE = Decimal(10) ** 20
FUNDING_MATCH_MS = 60_000  # a funding income is matched to the rate published within this
_UNSET = object()


def mapping(value: object, what: str) -> Mapping[str, Any]:
    """``value`` when it is a dict-like row; ``VenueDataError`` otherwise."""
    if not isinstance(value, Mapping):
        raise VenueDataError(f"{what}: expected an object, got {type(value).__name__}")
    return value


def to_decimal(value: object, what: str) -> Decimal | None:
    """A ccxt number (int/float/str/Decimal) as Decimal, trailing zeros cut; None when absent.

    Raises ``VenueDataError`` for booleans, non-numeric text, other types and NaN/Infinity.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise VenueDataError(f"{what}: not a number: {short(value)}")
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise VenueDataError(f"{what}: not a number: {short(value)}") from None
    if not result.is_finite():
        raise VenueDataError(f"{what}: not a finite number: {short(value)}")
    if abs(result) >= MAX_MAGNITUDE:
        raise VenueDataError(f"{what}: implausibly large: {short(value)}")
    normal = result.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:  # 2E+3 -> 2000
        return normal.quantize(Decimal(1))
    return normal


def number(
    row: Mapping[str, Any],
    key: str,
    what: str,
    *,
    sign: Sign = "any",
    required: bool = True,
) -> Decimal | None:
    """``row[key]`` as a Decimal meeting ``sign``; None only when absent and not ``required``.

    Raises ``VenueDataError`` naming ``what`` and ``key`` when the value is missing (and
    required), not a finite number, or of the wrong sign.
    """
    value = to_decimal(row.get(key), f"{what} {key}")
    if value is None:
        if required:
            raise VenueDataError(f"{what}: {key} missing or null")
        return None
    if sign == "positive" and value <= 0:
        raise VenueDataError(f"{what}: {key} must be positive, got {value}")
    if sign == "non_negative" and value < 0:
        raise VenueDataError(f"{what}: {key} must not be negative, got {value}")
    return value


def required(row: Mapping[str, Any], key: str, what: str, *, sign: Sign = "any") -> Decimal:
    """``number(...)`` for a field that must be there."""
    value = number(row, key, what, sign=sign)
    assert value is not None
    return value


def timestamp_ms(value: object, what: str, *, default: int | None = None) -> int:
    """A venue time in unix ms (a non-negative integer); ``default`` when absent."""
    parsed = to_decimal(value, what)
    if parsed is None:
        if default is None:
            raise VenueDataError(f"{what}: missing or null")
        return default
    if parsed < 0 or parsed != parsed.to_integral_value():
        raise VenueDataError(f"{what}: not a time in ms: {short(value)}")
    return int(parsed)


def text(row: Mapping[str, Any], key: str, what: str, *, default: object = _UNSET) -> str:
    """``row[key]`` as non-empty text (ids, symbols); ``default`` when absent."""
    value = row.get(key)
    if value is None or value == "":
        if default is _UNSET:
            raise VenueDataError(f"{what}: {key} missing or null")
        return str(default)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise VenueDataError(f"{what}: {key} is not an id: {short(value)}")
    return str(value)


def side_of(value: object, allowed: Sequence[str], what: str) -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise VenueDataError(f"{what}: side {short(value)} unknown")
    return value.lower()


def short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def agrees(value: Decimal, reference: Decimal, tolerance: Decimal) -> bool:
    return abs(value - reference) <= tolerance * max(abs(reference), abs(value))
