"""Numbers for people: rounded for display to the market's precision, never ``0E-18``.

Pure functions shared by ``snapshot``, ``report``, the demo summary and the console log
format. Base amounts round to the venue's amount step, quote amounts to cents, prices to
significant digits; a value that rounds to zero prints as ``0`` (never ``-0``/``0E-18``).
No human output prints a number in exponent form or cut: a value too wide for its column
keeps fewer decimals, then switches to a ``k``/``M``/``B``/``T`` suffix (:func:`fit_number`).

``--json`` outputs keep exact decimal strings through :func:`json_decimal`: plain notation,
trailing zeros removed, an exact zero ``"0"`` (never ``0E-18``/``-0``), rounded at
``JSON_PLACES`` decimals only (digits past 1e-18 are artefacts of 120-digit division, finer
than any token's smallest unit).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from bot.core.pnl import PARTS

__all__ = [
    "COSTS_NOTE",
    "DEFAULT_BASE_STEP",
    "JSON_PLACES",
    "PNL_LABELS",
    "PRICE_DIGITS",
    "as_decimal",
    "fit_base",
    "fit_number",
    "fit_quote",
    "fmt_base",
    "fmt_compact",
    "fmt_for_key",
    "fmt_pct",
    "fmt_plain",
    "fmt_price",
    "fmt_quote",
    "fmt_signed_quote",
    "fmt_span",
    "json_decimal",
    "json_decimals",
    "json_numbers",
    "pnl_contributions",
]

DEFAULT_BASE_STEP = Decimal("0.0001")  # when the venue's step is unknown (log lines)
PRICE_DIGITS = 6  # significant digits of a price: 2024.71, 0.0123456
_CENT = Decimal("0.01")
_HUGE_EXPONENT = 15  # from 1e15 on a display value is shown with a suffix (T), never 1e15
_BOUND_EXPONENT = 18  # from 1e18 on (a hostile or broken value) only a bound is shown
_BOUND_TEXT = "999,999T"  # ">999,999T": more than 999,999 trillion, in 10 characters at most
JSON_PLACES = 18  # decimals kept in JSON decimal strings (module docstring)
_SUFFIXES = (
    (Decimal("1e12"), "T"),
    (Decimal("1e9"), "B"),
    (Decimal("1e6"), "M"),
    (Decimal("1e3"), "k"),
)


def as_decimal(value: Decimal | str | float | int) -> Decimal:
    """``value`` as a Decimal (text and floats through ``str``); ``InvalidOperation`` when
    it is not a number."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def _plain(value: Decimal, places: int, grouping: bool) -> str:
    """``value`` rounded to ``places`` decimals; zero prints without a sign or exponent."""
    if not value.is_finite():
        return str(value)
    if value.adjusted() >= _HUGE_EXPONENT:
        return fmt_compact(value)
    quantum = Decimal(1).scaleb(-places)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_EVEN)
    if rounded.is_zero():
        rounded = abs(rounded)  # -0.00 -> 0.00
    return f"{rounded:,.{places}f}" if grouping else f"{rounded:.{places}f}"


def _places_of(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 4


def fmt_base(value: Decimal | str, step: Decimal | str | None = None) -> str:
    """A base amount (e.g. ETH) rounded to the venue's amount ``step`` (``0.001`` -> 3
    decimals); ``DEFAULT_BASE_STEP`` when the step is unknown."""
    step_dec = as_decimal(step) if step is not None else DEFAULT_BASE_STEP
    if not step_dec.is_finite() or step_dec <= 0:
        step_dec = DEFAULT_BASE_STEP
    return _plain(as_decimal(value), _places_of(step_dec), grouping=False)


def fmt_quote(value: Decimal | str) -> str:
    """A quote amount (e.g. USDT) to cents with thousands separators: ``299,848.43``."""
    return _plain(as_decimal(value), 2, grouping=True)


def fmt_signed_quote(value: Decimal | str) -> str:
    """A contribution to PnL to cents, always signed: ``+142.22``, ``-80.87``, ``0.00``."""
    text = fmt_quote(value)
    return (
        text if text.startswith("-") or as_decimal(text.replace(",", "")).is_zero() else "+" + text
    )


def fmt_compact(value: Decimal | str, places: int = 2) -> str:
    """``value`` with a thousands suffix and ``places`` decimals: ``123.46B``, ``-1.50M``,
    ``12.35k``; below 1,000 plain (``999.50``); never an exponent (``1,200.00T``). From 1e18
    on (no real amount, a hostile or broken one) only its bound, without arithmetic on it:
    ``>999,999T`` / ``<-999,999T``."""
    number = as_decimal(value)
    if not number.is_finite():
        return str(number)
    if number.adjusted() >= _BOUND_EXPONENT:
        return ("<-" if number.is_signed() else ">") + _BOUND_TEXT
    for scale, suffix in _SUFFIXES:
        if abs(number) >= scale:
            return _plain(number / scale, places, grouping=True) + suffix
    return _plain(number, places, grouping=False)


def fit_number(value: Decimal | str, places: int, width: int) -> str:
    """``value`` in at most ``width`` characters without cutting a digit: ``places`` decimals,
    fewer when too wide, then :func:`fmt_compact` (``123.46B``). A number that fits nowhere
    is returned whole (a table wraps it, never cuts it)."""
    number = as_decimal(value)
    for keep in range(max(0, places), -1, -1):
        text = _plain(number, keep, grouping=False)
        if len(text) <= width:
            return text
    for keep in (2, 1, 0):
        text = fmt_compact(number, keep)
        if len(text) <= width:
            return text
    return fmt_compact(number, 0)


def fit_base(value: Decimal | str, step: Decimal | str | None, width: int) -> str:
    """A base amount as :func:`fmt_base` shows it when that fits ``width`` characters, else
    :func:`fit_number` from the step's decimals (fewer decimals, then ``120.00B``)."""
    text = fmt_base(value, step)
    if len(text) <= width:
        return text
    return fit_number(value, len(text.partition(".")[2]), width)


def fit_quote(value: Decimal | str, width: int) -> str:
    """A quote amount as :func:`fmt_quote` shows it (``299,848.43``) when that fits ``width``
    characters, else :func:`fit_number` from cents (``299848``, ``1.20M``)."""
    text = fmt_quote(value)
    return text if len(text) <= width else fit_number(value, 2, width)


def fmt_span(seconds: float) -> str:
    """A duration for a narrow cell, whole units: ``42s``, ``12m``, ``3h05m``, ``2d04h``; a
    negative one (a clock ahead of ours) as ``5s ahead``, never clamped to 0."""
    if seconds < 0:
        return f"{fmt_span(-seconds)} ahead"
    whole = int(seconds)
    if whole < 120:
        return f"{whole}s"
    if whole < 7200:
        return f"{whole // 60}m"
    if whole < 172_800:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86_400}d{whole % 86_400 // 3600:02d}h"


def fmt_plain(value: Decimal | str, digits: int = PRICE_DIGITS) -> str:
    """A ratio or rate to ``digits`` significant digits, trailing zeros dropped, never in
    exponent form: ``1E-7`` -> ``0.0000001``, ``0.5`` -> ``0.5``, ``2`` -> ``2``."""
    number = as_decimal(value)
    if not number.is_finite():
        return str(number)
    if number.is_zero():
        return "0"
    text = fmt_price(number, digits)
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_pct(ratio: Decimal | str, places: int = 2) -> str:
    """A fraction as a percentage: ``0.0249`` -> ``2.49 %`` (margin ratio, funding)."""
    return f"{_plain(as_decimal(ratio) * 100, places, grouping=False)} %"


def json_decimal(value: Decimal | str | int) -> str:
    """The exact decimal string of ``value`` for JSON (module docstring): plain notation,
    at most ``JSON_PLACES`` decimals, trailing zeros removed, zero as ``"0"``; ``-3.1E-23``
    is ``"0"``, ``"0E-18"`` is ``"0"``, ``1E+2`` is ``"100"``. A non-finite value keeps its
    name (``"NaN"``); raises ``InvalidOperation`` for text that is not a number."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        return str(number)
    if number.as_tuple().exponent < -JSON_PLACES:  # type: ignore[operator]
        number = number.quantize(Decimal(1).scaleb(-JSON_PLACES), rounding=ROUND_HALF_EVEN)
    if number.is_zero():
        return "0"
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def json_decimals(value: Any) -> Any:
    """``value`` with every ``Decimal`` inside (dicts, lists, tuples) as :func:`json_decimal`
    text; everything else unchanged."""
    if isinstance(value, Decimal):
        return json_decimal(value)
    if isinstance(value, dict):
        return {key: json_decimals(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_decimals(item) for item in value]
    return value


def json_numbers(value: Any) -> Any:
    """``value`` (a JSON-ready dict/list) with every amount, price and PnL field
    (``*_base``, ``*_quote``, ``*price*``, ``pnl*``) that holds a Decimal or decimal text
    rewritten by :func:`json_decimal` (``"0E-18"`` -> ``"0"``); other fields unchanged."""
    if isinstance(value, list | tuple):
        return [json_numbers(item) for item in value]
    if not isinstance(value, dict):
        return json_decimal(value) if isinstance(value, Decimal) else value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict | list | tuple):
            out[key] = json_numbers(item)
        elif isinstance(item, Decimal) or (
            isinstance(item, str) and _kind_of_key(str(key)) is not None and len(item) <= 200
        ):
            try:
                out[key] = json_decimal(item)
            except (InvalidOperation, ValueError):
                out[key] = item
        else:
            out[key] = item
    return out


def fmt_price(value: Decimal | str, digits: int = PRICE_DIGITS) -> str:
    """A price to ``digits`` significant digits, never in exponent form below 1e15:
    ``2024.71``, ``0.0123457``, ``0``."""
    number = as_decimal(value)
    if not number.is_finite() or number.is_zero():
        return "0" if number.is_zero() else str(number)
    places = max(0, digits - 1 - number.adjusted())
    return _plain(number, places, grouping=False)


def _kind_of_key(key: str) -> str | None:
    if key.endswith("_base"):
        return "base"
    if key.endswith("_quote") or key == "pnl" or key.startswith("pnl_"):
        return "quote"
    if "price" in key or key == "mark":
        return "price"
    return None


def fmt_for_key(key: str, value: Any, base_step: Decimal | None = None) -> Any:
    """The display form of a logged value by its name (``*_base``, ``*_quote``, ``*price*``):
    a Decimal, float or decimal text rounded like the tables; anything else unchanged."""
    kind = _kind_of_key(key)
    if kind is None or isinstance(value, bool) or not isinstance(value, Decimal | float | str):
        return value
    if isinstance(value, str) and len(value) > 64:  # not a number anyone logged
        return value
    try:
        number = as_decimal(value)
    except (InvalidOperation, ValueError):
        return value
    if not number.is_finite():
        return value
    if kind == "base":
        return fmt_base(number, base_step)
    return fmt_quote(number) if kind == "quote" else fmt_price(number)


PNL_LABELS: dict[str, str] = {
    "lp_hold_pnl_quote": "LP hold (entry amounts x price move)",
    "il_quote": "impermanent loss vs hold",
    "lp_fees_quote": "LP fees",
    "hedge_pnl_quote": "hedge at mark",
    "funding_quote": "funding",
    "trading_fees_quote": "trading fees",
    "slippage_quote": "slippage vs mark",
    "gas_quote": "gas",
}
"""One label per attribution part, the same in ``report``, the demo summary and the chart."""

COSTS_NOTE = "each row adds to net PnL: costs (trading fees, slippage, gas) < 0"


def pnl_contributions(parts: Mapping[str, Decimal]) -> list[tuple[str, str, Decimal]]:
    """``(name, label, contribution)`` for every attribution part in ``parts``, signed as it
    enters net PnL (a cost of 80.87 is ``-80.87``), so the rows sum to ``net_pnl_quote``."""
    return [(name, PNL_LABELS[name], parts[name] * sign) for name, sign in PARTS if name in parts]
