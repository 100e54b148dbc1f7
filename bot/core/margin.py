"""Maintenance margin, margin ratio and liquidation price of an isolated one-way perp position.

Formulas follow Binance USD-M futures' published definitions (isolated margin, one-way mode,
so the cross-margin terms TMM1/UPNL1 are zero):

* maintenance margin ``MM = notional · MMR − cum`` with ``MMR, cum`` of the bracket the
  notional falls in (``cum`` makes MM continuous across brackets);
* margin ratio ``MM / margin balance`` (1 means liquidation);
* liquidation price ``LP = (WB + cum − side·Q·EP) / (Q·MMR − side·Q)``, side +1 long, −1 short,
  ``Q = |size|``, ``EP`` entry price, ``WB`` the isolated wallet balance (isolated margin).
  For a short this is ``(WB + cum + Q·EP) / (Q·(1 + MMR))``.

Money is ``Decimal`` throughout; nothing here rounds, callers quantize for display.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

__all__ = [
    "ETHUSDT_BRACKETS",
    "MaintenanceBracket",
    "bracket_for",
    "check_brackets",
    "liquidation_distance_pct",
    "liquidation_price_isolated",
    "maintenance_margin",
    "margin_balance_isolated",
    "margin_ratio",
]

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_INFINITY = Decimal("Infinity")


@dataclass(frozen=True, slots=True)
class MaintenanceBracket:
    """One maintenance-margin tier: applies to notionals below ``notional_cap`` (quote).

    The tier's floor is the previous tier's cap (0 for the first): floor inclusive, cap
    exclusive, as in Binance's ``notionalFloor``/``notionalCap``.
    """

    notional_cap: Decimal
    mmr: Decimal  # maintenance margin rate, fraction of notional
    cum: Decimal  # maintenance amount, quote

    def __post_init__(self) -> None:
        if not self.notional_cap > 0:
            raise ValueError(f"notional_cap must be > 0, got {self.notional_cap}")
        if not _ZERO <= self.mmr < 1:
            raise ValueError(f"mmr must be in [0, 1), got {self.mmr}")
        if self.cum < 0:
            raise ValueError(f"cum must be >= 0, got {self.cum}")


def _bracket(cap: int, mmr: str, cum: int) -> MaintenanceBracket:
    return MaintenanceBracket(Decimal(cap), Decimal(mmr), Decimal(cum))


# Illustrative Binance-like ETHUSDT tiers, NOT the live table: the venue changes its brackets,
# and live trading must use the exchange's own (``/fapi/v1/leverageBracket``). Each ``cum`` is
# the previous one plus ``floor · (mmr − previous mmr)``, so maintenance is continuous.
ETHUSDT_BRACKETS: tuple[MaintenanceBracket, ...] = (
    _bracket(50_000, "0.005", 0),
    _bracket(250_000, "0.01", 250),
    _bracket(1_000_000, "0.02", 2_750),
    _bracket(5_000_000, "0.05", 32_750),
    _bracket(10_000_000, "0.10", 282_750),
    _bracket(20_000_000, "0.125", 532_750),
    _bracket(50_000_000, "0.15", 1_032_750),
    _bracket(100_000_000, "0.25", 6_032_750),
    _bracket(200_000_000, "0.50", 31_032_750),
)


def check_brackets(brackets: Sequence[MaintenanceBracket]) -> None:
    """Raise ``ValueError`` unless the tiers are non-empty with strictly increasing caps.

    Continuity of ``cum`` is not required (the venue's table is taken as it is), but
    :func:`liquidation_price_isolated` is only unique when it holds.
    """
    if not brackets:
        raise ValueError("at least one maintenance bracket is needed")
    caps = [b.notional_cap for b in brackets]
    if any(later <= earlier for earlier, later in pairwise(caps)):
        raise ValueError(f"bracket caps must increase strictly, got {caps}")


def bracket_for(
    notional: Decimal, brackets: Sequence[MaintenanceBracket] = ETHUSDT_BRACKETS
) -> MaintenanceBracket:
    """The tier ``|notional|`` falls in (floor inclusive, cap exclusive).

    Beyond the last cap the last tier is used: the venue would not let the position grow
    there, and the last tier is the most demanding one we know.
    """
    check_brackets(brackets)
    size = abs(notional)
    for bracket in brackets:
        if size < bracket.notional_cap:
            return bracket
    return brackets[-1]


def maintenance_margin(
    notional: Decimal, brackets: Sequence[MaintenanceBracket] = ETHUSDT_BRACKETS
) -> Decimal:
    """``|notional| · MMR − cum`` of the notional's tier, quote."""
    size = abs(notional)
    if size == 0:
        return _ZERO
    bracket = bracket_for(size, brackets)
    return size * bracket.mmr - bracket.cum


def margin_balance_isolated(
    size_base: Decimal, entry_price: Decimal, wallet_balance: Decimal, mark_price: Decimal
) -> Decimal:
    """Isolated wallet balance plus the unrealised PnL at ``mark_price``, quote."""
    return wallet_balance + size_base * (mark_price - entry_price)


def margin_ratio(maintenance: Decimal, margin_balance: Decimal) -> Decimal:
    """Maintenance margin over margin balance: 0 flat, 1 (or more) means liquidation.

    A margin balance at or below zero with a position open gives ``Infinity``, never a
    small number: an empty account is the worst case, not a safe one.
    """
    if maintenance <= 0:
        return _ZERO
    if margin_balance <= 0:
        return _INFINITY
    return maintenance / margin_balance


def liquidation_price_isolated(
    size_base: Decimal,
    entry_price: Decimal,
    wallet_balance: Decimal,
    brackets: Sequence[MaintenanceBracket] = ETHUSDT_BRACKETS,
) -> Decimal | None:
    """Price at which the isolated position's margin balance equals its maintenance margin.

    ``size_base`` is signed (short < 0). Returns ``None`` when flat or when a long cannot be
    liquidated at any positive price (fully collateralised); a short whose balance is already
    below maintenance at every price gets ``0``.

    Bracket choice: the formula is solved with each tier, and the answer is the one whose own
    notional at the liquidation price, ``Q·LP``, falls in that tier. This is the fixed point
    Binance's calculator reaches by iterating from the entry tier; with continuous ``cum``
    exactly one tier qualifies (margin balance minus maintenance is strictly monotone in the
    price), except on a tier boundary, where both give the same price. If the table is not
    continuous and several or no tiers qualify, the price nearest to the entry (most
    conservative) is returned.
    """
    if not entry_price > 0:
        raise ValueError(f"entry_price must be > 0, got {entry_price}")
    check_brackets(brackets)
    if size_base == 0:
        return None
    side = 1 if size_base > 0 else -1
    qty = abs(size_base)
    consistent: list[Decimal] = []
    candidates: list[Decimal] = []
    floor = _ZERO
    for index, bracket in enumerate(brackets):
        price = (wallet_balance + bracket.cum - side * qty * entry_price) / (
            qty * bracket.mmr - side * qty
        )
        last = index == len(brackets) - 1
        if price > 0:
            candidates.append(price)
            notional = qty * price
            if floor <= notional and (last or notional < bracket.notional_cap):
                consistent.append(price)
        floor = bracket.notional_cap
    pool = consistent or candidates
    if not pool:
        return None if side > 0 else _ZERO
    return max(pool) if side > 0 else min(pool)


def liquidation_distance_pct(
    mark: Decimal, liq_price: Decimal | None, size_base: Decimal
) -> Decimal | None:
    """How far the mark must move toward liquidation, as % of the mark.

    Positive while safe (a short liquidates above the mark, a long below), zero at the
    liquidation price, negative past it. ``None`` when there is no liquidation price (flat,
    or a fully collateralised long).
    """
    if not mark > 0:
        raise ValueError(f"mark must be > 0, got {mark}")
    if liq_price is None or size_base == 0:
        return None
    move = liq_price - mark if size_base < 0 else mark - liq_price
    return move / mark * _HUNDRED
