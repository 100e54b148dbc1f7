"""The report's values: one rebuilt tick (:class:`ReportPoint`), the attribution over the
stored ticks (:class:`PnlReport`) and the bounded series a streamed replay keeps for its
chart (:class:`PointSample`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.core.pnl import Attribution, PnlBreakdown
from bot.display import json_decimal

__all__ = ["PnlReport", "PointSample", "ReportPoint"]


@dataclass(frozen=True, slots=True)
class ReportPoint:
    """One tick of the rebuilt attribution (cumulative parts)."""

    timestamp_s: float
    block: int
    price: Decimal
    lp_value_quote: Decimal
    fees_uncollected_quote: Decimal
    hedge_base: Decimal
    breakdown: PnlBreakdown


@dataclass(frozen=True, slots=True)
class PnlReport:
    """The attribution over every stored tick, plus what the window left out.

    ``points`` is the series for charts: every tick when built from lists
    (``build_report``), else a sample that always holds the first and last tick and each
    UTC day's last tick (``ticks`` counts them all). ``cut`` is the last tick recorded
    before the requested cut time (None: none), ``ticks_before_cut`` how many were."""

    points: tuple[ReportPoint, ...]
    opening_hedge_base: Decimal
    fills_used: int
    funding_used: int
    notes: tuple[str, ...]
    final_state: Attribution  # to resume live attribution after a restart
    ticks: int = 0
    cut: ReportPoint | None = None
    ticks_before_cut: int = 0

    @property
    def final(self) -> PnlBreakdown:
        """Cumulative parts at the last tick."""
        return self.points[-1].breakdown

    def summary(self) -> dict[str, Any]:
        """Flat JSON-ready summary; money as exact decimal strings (``json_decimal``: no
        exponent, zero ``"0"``). Each PnL part is its own magnitude as attributed, in the
        sign of ``bot.core.pnl.PARTS``: gains and losses signed, costs (``trading_fees_quote``,
        ``slippage_quote``, ``gas_quote``) positive amounts paid that ``net_pnl_quote``
        subtracts; the table shows every part as its signed contribution instead."""
        first, last = self.points[0], self.points[-1]
        head: dict[str, Any] = {
            "ticks": self.ticks or len(self.points),
            "first_block": first.block,
            "last_block": last.block,
            "start_price": json_decimal(first.price),
            "end_price": json_decimal(last.price),
            "start_lp_value_quote": json_decimal(first.lp_value_quote),
            "end_lp_value_quote": json_decimal(last.lp_value_quote),
            "opening_hedge_base": json_decimal(self.opening_hedge_base),
            "hedge_base": json_decimal(last.hedge_base),
            "fills": self.fills_used,
            "funding_payments": self.funding_used,
        }
        parts = {name: json_decimal(value) for name, value in self.final.as_dict().items()}
        return {**head, **parts, "notes": list(self.notes)}


def _day(point: ReportPoint) -> str:
    try:
        return datetime.fromtimestamp(point.timestamp_s, UTC).strftime("%Y-%m-%d")
    except (ValueError, OverflowError, OSError):
        return "?"


class PointSample:
    """A bounded series: the first and last point, each UTC day's last point, and every
    ``stride``-th point, the stride doubling whenever more than ``limit`` are kept (None:
    keep every point)."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._stride = 1
        self._kept: list[tuple[int, ReportPoint, bool]] = []  # (index, point, a day's last)
        self._pending: tuple[int, ReportPoint] | None = None

    def add(self, index: int, point: ReportPoint) -> None:
        """Take the point of tick ``index`` (0-based, increasing)."""
        if self._pending is not None:
            last_index, last = self._pending
            day_end = _day(last) != _day(point)
            if self._limit is None or day_end or last_index % self._stride == 0:
                self._kept.append((last_index, last, day_end))
        self._pending = (index, point)
        if self._limit is not None and len(self._kept) > self._limit:
            self._stride *= 2
            self._kept = [k for k in self._kept if k[2] or k[0] % self._stride == 0]

    def points(self) -> tuple[ReportPoint, ...]:
        """The kept points, oldest first, the last one always included."""
        tail = () if self._pending is None else (self._pending[1],)
        return (*(point for _, point, _ in self._kept), *tail)
