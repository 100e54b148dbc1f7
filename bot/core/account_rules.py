"""Margin and funding rules of the venue account. Pure.

Margin: the ratio rises and the liquidation distance falls as risk grows; each has warn and
critical levels, and critical calls for the configured action (alert, reduce to a safe size,
flatten). Funding: a hedge that pays an annualised rate beyond the spike limit triggers the
configured action (alert, lower the hedge ratio, pause). Units as in :mod:`bot.core.risk`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

__all__ = [
    "SECONDS_PER_YEAR",
    "CriticalAction",
    "FundingAction",
    "FundingAssessment",
    "FundingLimits",
    "FundingTotals",
    "MarginAction",
    "MarginAssessment",
    "MarginLevel",
    "MarginLevels",
    "annualise_funding_rate",
    "assess_funding",
    "assess_margin",
    "fmt_amount",
    "funding_accumulator",
    "funding_payment_quote",
    "margin_level",
]

SECONDS_PER_YEAR = Decimal(365 * 24 * 3600)
_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)

CriticalAction = Literal["alert", "reduce", "flatten"]
FundingAction = Literal["alert", "lower_ratio", "pause"]
MarginLevel = Literal["ok", "warn", "critical"]
MarginAction = Literal["none", "alert", "reduce", "flatten"]


def fmt_amount(value: Decimal, places: int = 2) -> str:
    """``value`` with thousands separators and ``places`` decimals, for rule messages."""
    return f"{value:,.{places}f}"


_fmt = fmt_amount


@dataclass(frozen=True, slots=True)
class MarginLevels:
    """Margin ratio rises and liquidation distance falls as risk grows; ``None`` disables."""

    warn_ratio: Decimal
    critical_ratio: Decimal
    warn_distance_pct: Decimal | None
    critical_distance_pct: Decimal | None
    critical_action: CriticalAction

    def __post_init__(self) -> None:
        if not _ZERO < self.warn_ratio < self.critical_ratio:
            raise ValueError(
                f"margin ratios need 0 < warn ({self.warn_ratio}) < critical "
                f"({self.critical_ratio})"
            )
        warn, critical = self.warn_distance_pct, self.critical_distance_pct
        if warn is not None and critical is not None and not warn > critical >= 0:
            raise ValueError(
                f"liquidation distances need warn ({warn}) > critical ({critical}) >= 0"
            )


@dataclass(frozen=True, slots=True)
class FundingLimits:
    """The funding-spike rule: a paying hedge beyond ``spike_annual_pct`` triggers ``action``."""

    spike_annual_pct: Decimal
    action: FundingAction
    min_hedge_ratio: Decimal

    def __post_init__(self) -> None:
        if not self.spike_annual_pct > 0:
            raise ValueError(f"spike_annual_pct must be > 0, got {self.spike_annual_pct}")
        if not _ZERO <= self.min_hedge_ratio <= _ONE:
            raise ValueError(f"min_hedge_ratio must be in [0, 1], got {self.min_hedge_ratio}")


# ---------------------------------------------------------------------------------- margin


@dataclass(frozen=True, slots=True)
class MarginAssessment:
    """Margin level, the action it calls for, and the target hedge size for reduce/flatten."""

    level: MarginLevel
    action: MarginAction
    safe_size_base: Decimal | None
    message: str = ""


def _ratio_level(ratio: Decimal | None, levels: MarginLevels) -> MarginLevel:
    if ratio is None:
        return "ok"
    if ratio >= levels.critical_ratio:
        return "critical"
    return "warn" if ratio >= levels.warn_ratio else "ok"


def _distance_level(distance: Decimal | None, levels: MarginLevels) -> MarginLevel:
    if distance is None:
        return "ok"
    if levels.critical_distance_pct is not None and distance <= levels.critical_distance_pct:
        return "critical"
    if levels.warn_distance_pct is not None and distance <= levels.warn_distance_pct:
        return "warn"
    return "ok"


_RANK: dict[MarginLevel, int] = {"ok": 0, "warn": 1, "critical": 2}


def margin_level(
    margin_ratio: Decimal | None, liq_distance_pct: Decimal | None, levels: MarginLevels
) -> MarginLevel:
    """The worse of the ratio's and the liquidation distance's levels."""
    by_ratio = _ratio_level(margin_ratio, levels)
    by_distance = _distance_level(liq_distance_pct, levels)
    return max(by_ratio, by_distance, key=_RANK.__getitem__)


def _safe_size(
    hedge_base: Decimal,
    ratio: Decimal | None,
    distance: Decimal | None,
    levels: MarginLevels,
) -> Decimal:
    """Hedge size whose margin ratio and liquidation distance are back at the warn levels.

    Approximation: with the margin balance unchanged by the reduce (closing at the mark moves
    unrealised PnL into the wallet), the margin ratio ``(Q·P·MMR − cum)/MB`` is taken as
    proportional to ``Q`` and the distance ``(MB/(Q·P) − MMR)/(1 + MMR)`` as proportional to
    ``1/Q``. Both err small: ``cum ≥ 0``, the ``MMR`` term and a lower tier after the reduce
    all make the exact safe size larger. Only the reduce order's fee is ignored.
    """
    scale = _ONE
    if ratio is not None and ratio > levels.warn_ratio:
        scale = min(scale, levels.warn_ratio / ratio)  # ratio = Infinity gives 0
    warn_distance = levels.warn_distance_pct
    if distance is not None and warn_distance is not None and distance < warn_distance:
        scale = min(scale, max(distance, _ZERO) / warn_distance)  # warn > critical >= 0
    return hedge_base * scale


def assess_margin(
    margin_ratio: Decimal | None,
    liq_distance_pct: Decimal | None,
    levels: MarginLevels,
    *,
    hedge_base: Decimal,
) -> MarginAssessment:
    """Worse of the ratio and distance levels; at critical, the configured action.

    ``None`` inputs are "not applicable" (flat, or no liquidation price), not "unknown": the
    engine must not call this with a failed read. ``reduce`` targets :func:`_safe_size` of
    ``hedge_base`` (signed like it, never larger); ``flatten`` targets 0.
    """
    by_ratio = _ratio_level(margin_ratio, levels)
    by_distance = _distance_level(liq_distance_pct, levels)
    level = max(by_ratio, by_distance, key=_RANK.__getitem__)
    parts = []
    if margin_ratio is not None:
        parts.append(f"margin ratio {_fmt(margin_ratio * _HUNDRED)}%")
    if liq_distance_pct is not None:
        parts.append(f"liquidation {_fmt(liq_distance_pct)}% away")
    shown = ", ".join(parts)
    if level == "ok":
        return MarginAssessment("ok", "none", None, shown)
    thresholds = (
        f"warn {_fmt(levels.warn_ratio * _HUNDRED)}% / {levels.warn_distance_pct}%, "
        f"critical {_fmt(levels.critical_ratio * _HUNDRED)}% / {levels.critical_distance_pct}%"
    )
    if level == "warn":
        return MarginAssessment("warn", "alert", None, f"margin warn: {shown} ({thresholds})")
    action = levels.critical_action
    message = f"margin critical: {shown} ({thresholds}); action {action}"
    if action == "flatten":
        return MarginAssessment("critical", "flatten", _ZERO, message)
    if action == "reduce":
        safe = _safe_size(hedge_base, margin_ratio, liq_distance_pct, levels)
        return MarginAssessment("critical", "reduce", safe, f"{message} to {safe:f} base")
    return MarginAssessment("critical", "alert", None, message)


# --------------------------------------------------------------------------------- funding


@dataclass(frozen=True, slots=True)
class FundingAssessment:
    """The worse of the current and predicted funding rates, seen from our hedge."""

    annualised_rate: Decimal  # fraction per year, sign of the venue rate
    pays: bool  # the hedge pays at this rate (a short pays when the rate is negative)
    spike: bool
    action: Literal["none", "alert", "lower_ratio", "pause"]
    suggested_hedge_ratio: Decimal | None
    message: str = ""


def annualise_funding_rate(funding_rate: Decimal, funding_interval_s: int) -> Decimal:
    """Per-interval rate to a simple annual rate (no compounding)."""
    if funding_interval_s <= 0:
        raise ValueError(f"funding_interval_s must be > 0, got {funding_interval_s}")
    return funding_rate * SECONDS_PER_YEAR / funding_interval_s


def funding_payment_quote(funding_rate: Decimal, position_base: Decimal, mark: Decimal) -> Decimal:
    """Funding received (+) or paid (−) at one funding time: longs pay a positive rate."""
    return -funding_rate * position_base * mark


def assess_funding(
    funding_rate: Decimal,
    funding_interval_s: int,
    hedge_base: Decimal,
    limits: FundingLimits,
    *,
    predicted_rate: Decimal | None = None,
    hedge_ratio: Decimal = _ONE,
) -> FundingAssessment:
    """Funding-spike rule for the hedge that pays.

    The rate assessed is whichever of current and predicted costs the hedge more. A spike is
    a paying hedge at an annualised rate beyond ``spike_annual_pct``. ``lower_ratio``
    suggests ``hedge_ratio · threshold / |annualised|`` (the funding paid falls back to what
    the threshold rate would cost), clamped to ``[min_hedge_ratio, hedge_ratio]``.
    """
    side = (hedge_base > 0) - (hedge_base < 0)
    rates = [funding_rate] if predicted_rate is None else [funding_rate, predicted_rate]
    # Cost to us per unit: long pays +rate, short pays -rate.
    rate = max(rates, key=lambda r: side * r)
    annual = annualise_funding_rate(rate, funding_interval_s)
    pays = side * rate > 0
    threshold = limits.spike_annual_pct / _HUNDRED
    spike = pays and abs(annual) > threshold
    shown = f"funding {_fmt(annual * _HUNDRED)}%/yr"
    if not spike:
        return FundingAssessment(annual, pays, False, "none", None, shown)
    message = (
        f"funding spike: hedge pays {_fmt(abs(annual) * _HUNDRED)}%/yr "
        f"(limit {limits.spike_annual_pct}%); action {limits.action}"
    )
    if limits.action == "lower_ratio":
        floor = min(limits.min_hedge_ratio, hedge_ratio)
        suggested = max(floor, min(hedge_ratio, hedge_ratio * threshold / abs(annual)))
        return FundingAssessment(
            annual, True, True, "lower_ratio", suggested, f"{message} to {suggested:.4f}"
        )
    return FundingAssessment(annual, True, True, limits.action, None, message)


@dataclass(frozen=True, slots=True)
class FundingTotals:
    """Funding paid and received so far (both >= 0, quote)."""

    paid_quote: Decimal = _ZERO
    received_quote: Decimal = _ZERO
    payments: int = 0

    @property
    def net_quote(self) -> Decimal:
        """Received minus paid."""
        return self.received_quote - self.paid_quote

    def add(self, amount_quote: Decimal) -> FundingTotals:
        """Fold one payment in: positive is received, negative is paid."""
        if amount_quote >= 0:
            return FundingTotals(
                self.paid_quote, self.received_quote + amount_quote, self.payments + 1
            )
        return FundingTotals(self.paid_quote - amount_quote, self.received_quote, self.payments + 1)


def funding_accumulator(
    amounts_quote: Iterable[Decimal], start: FundingTotals | None = None
) -> FundingTotals:
    """Sum signed funding amounts (e.g. ``FundingPayment.amount_quote``) into totals."""
    totals = start if start is not None else FundingTotals()
    for amount in amounts_quote:
        totals = totals.add(amount)
    return totals
