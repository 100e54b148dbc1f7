"""Hyperliquid's wire rules as pure functions: number text, price and size validity, nonces.

Prices: at most 5 significant figures (an integer price is always valid) and at most
``6 - szDecimals`` decimals for perps; sizes: at most ``szDecimals`` decimals (Hyperliquid docs,
"Tick and lot size"). Nonces: within ``(now - 2 days, now + 1 day)``, never reused by a signer,
and above the smallest of the signer's 100 highest (Hyperliquid docs, "Nonces and API wallets").
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

__all__ = [
    "NonceBook",
    "decimals_of",
    "max_price_decimals",
    "money",
    "parse_wire_decimal",
    "price_valid",
    "size_valid",
    "wire",
]

_DAY_MS = 24 * 3600 * 1000
_KEPT_NONCES = 100
_MONEY = Decimal("0.000001")


def wire(value: Decimal) -> str:
    """Hyperliquid's number text: plain decimal, at least one decimal (``2000.0``, ``-0.5``)."""
    if value == 0:
        return "0.0"
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


def money(value: Decimal) -> str:
    """A USDC amount as the venue prints it: rounded to 6 decimals."""
    return wire(value.quantize(_MONEY))


def parse_wire_decimal(text: object) -> Decimal | None:
    """A positive finite decimal from wire text such as ``"2000.1"``, or None."""
    if not isinstance(text, str) or not 0 < len(text) <= 40:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


def decimals_of(value: Decimal) -> int:
    """Digits after the decimal point of ``value`` once trailing zeros are dropped."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def max_price_decimals(sz_decimals: int) -> int:
    """Decimals a perp price may carry."""
    return 6 - sz_decimals


def price_valid(price: Decimal, sz_decimals: int) -> bool:
    """``price`` obeys the 5-significant-figure and ``6 - szDecimals`` decimal rules."""
    if price <= 0:
        return False
    if price == price.to_integral_value():
        return True
    digits = len(price.normalize().as_tuple().digits)
    return digits <= 5 and decimals_of(price) <= max_price_decimals(sz_decimals)


def size_valid(size: Decimal, sz_decimals: int) -> bool:
    """``size`` is positive with at most ``szDecimals`` decimals."""
    return size > 0 and decimals_of(size) <= sz_decimals


@dataclass
class NonceBook:
    """The nonces each signer used (its 100 highest), checked the venue's way."""

    _used: dict[str, list[int]] = field(default_factory=dict)

    def refusal(self, signer: str, nonce: int, now_ms: tuple[int, ...]) -> str | None:
        """The venue's refusal text for ``nonce`` from ``signer``, or None when it is usable.

        ``now_ms`` holds the clocks the window is checked against (valid against any one)."""
        if not any(now - 2 * _DAY_MS < nonce < now + _DAY_MS for now in now_ms):
            return f"Invalid nonce: {nonce} is outside the allowed window (T - 2 days, T + 1 day)."
        used = self._used.get(signer, [])
        index = bisect.bisect_left(used, nonce)
        if index < len(used) and used[index] == nonce:
            return f"Invalid nonce: duplicate nonce {nonce}"
        if len(used) >= _KEPT_NONCES and nonce < used[0]:
            return f"Invalid nonce: nonce {nonce} is lower than the lowest of the last 100."
        return None

    def record(self, signer: str, nonce: int) -> None:
        """Remember ``nonce`` as used by ``signer``."""
        used = self._used.setdefault(signer, [])
        bisect.insort(used, nonce)
        if len(used) > _KEPT_NONCES:
            del used[0]
