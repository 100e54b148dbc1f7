"""The ``risk`` config section: pre-trade guards, margin, counterparty, funding, kill switch.

Kept apart from ``bot/config.py`` like the telemetry settings; :meth:`RiskSettings.to_limits`
maps it onto the plain :class:`bot.core.risk.RiskLimits` the pure core uses. The block-age
limit is ``chain.max_block_age_s`` (one home). Quote amounts default to a size that suits the
paper venue's 100 000 balance at leverage 3: set them for your account.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.risk import FundingLimits, MarginLevels, RiskLimits

__all__ = ["RiskSettings"]

Pct = Annotated[Decimal, Field(gt=0, le=100)]
PositiveQuote = Annotated[Decimal, Field(gt=0)]
Ratio = Annotated[Decimal, Field(gt=0, le=1)]


class RiskSettings(BaseModel):
    """Every risk limit; percentages are in percent (``2`` is 2 %), ratios are fractions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # stale chain data (the block-age limit is chain.max_block_age_s)
    max_blocks_without_advance: Annotated[int, Field(ge=1)] = 3
    # price sanity
    max_price_deviation_pct: Pct = Decimal(2)
    twap_window_s: Annotated[int, Field(gt=0, le=86_400)] | None = None  # None: no TWAP check
    max_twap_deviation_pct: Pct = Decimal(5)
    # size and rate limits
    max_order_notional_quote: PositiveQuote = Decimal(200_000)
    max_position_notional_quote: PositiveQuote = Decimal(300_000)
    max_orders_per_minute: Annotated[int, Field(ge=1, le=1200)] = 10
    daily_loss_limit_quote: PositiveQuote = Decimal(10_000)
    # margin: the ratio is maintenance / margin balance (1 = liquidation)
    margin_warn_ratio: Ratio = Decimal("0.5")
    margin_critical_ratio: Ratio = Decimal("0.8")
    liquidation_warn_distance_pct: Pct = Decimal(20)
    liquidation_critical_distance_pct: Annotated[Decimal, Field(ge=0, le=100)] = Decimal(10)
    critical_action: Literal["alert", "reduce", "flatten"] = "reduce"
    # counterparty
    max_collateral_quote: PositiveQuote | None = None  # None: no cap
    # funding
    funding_spike_annual_pct: Annotated[Decimal, Field(gt=0, le=100_000)] = Decimal(50)
    funding_action: Literal["alert", "lower_ratio", "pause"] = "alert"
    funding_min_hedge_ratio: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.5")
    funding_interval_s: Annotated[int, Field(gt=0)] = 8 * 3600
    # kill switch: file present = engaged (None: "kill-switch" beside the store). A flatten
    # closes the hedge with reduce-only IOC orders capped by hedge.max_slippage_bps, each tick.
    kill_switch_file: Path | None = None
    # bounded reads: the chain and venue reads of one tick together, seconds
    read_timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0

    @model_validator(mode="after")
    def _levels_ordered(self) -> RiskSettings:
        problems = []
        if self.margin_warn_ratio >= self.margin_critical_ratio:
            problems.append(
                f"margin_warn_ratio ({self.margin_warn_ratio}) must be below "
                f"margin_critical_ratio ({self.margin_critical_ratio}): a higher ratio is "
                "closer to liquidation, so warn must come first"
            )
        if self.liquidation_warn_distance_pct <= self.liquidation_critical_distance_pct:
            problems.append(
                f"liquidation_warn_distance_pct ({self.liquidation_warn_distance_pct}) must be "
                f"above liquidation_critical_distance_pct "
                f"({self.liquidation_critical_distance_pct}): a smaller distance is closer to "
                "liquidation, so warn must come first"
            )
        if self.max_order_notional_quote > self.max_position_notional_quote:
            problems.append(
                f"max_order_notional_quote ({self.max_order_notional_quote}) must not exceed "
                f"max_position_notional_quote ({self.max_position_notional_quote})"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def to_limits(self, max_block_age_s: float) -> RiskLimits:
        """The plain limits the pure core takes (the TWAP limit only when a window is set)."""
        return RiskLimits(
            max_block_age_s=max_block_age_s,
            max_blocks_without_advance=self.max_blocks_without_advance,
            max_price_deviation_pct=self.max_price_deviation_pct,
            max_twap_deviation_pct=(
                self.max_twap_deviation_pct if self.twap_window_s is not None else None
            ),
            max_order_notional_quote=self.max_order_notional_quote,
            max_position_notional_quote=self.max_position_notional_quote,
            max_orders_per_minute=self.max_orders_per_minute,
            daily_loss_limit_quote=self.daily_loss_limit_quote,
            max_collateral_quote=self.max_collateral_quote,
            margin=MarginLevels(
                warn_ratio=self.margin_warn_ratio,
                critical_ratio=self.margin_critical_ratio,
                warn_distance_pct=self.liquidation_warn_distance_pct,
                critical_distance_pct=self.liquidation_critical_distance_pct,
                critical_action=self.critical_action,
            ),
            funding=FundingLimits(
                spike_annual_pct=self.funding_spike_annual_pct,
                action=self.funding_action,
                min_hedge_ratio=self.funding_min_hedge_ratio,
            ),
        )
