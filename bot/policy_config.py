"""Hedge policy settings: one pydantic model per policy, each building its policy object.

``PolicyConfig`` is the discriminated union (``policy: threshold | interval | band``) shared by
the daemon's ``hedge:`` section (:class:`HedgeConfig`, flat as it always was: its ``build()``
selects the member named by ``policy`` and builds through it) and ``hedgebot backtest
--policy ...``. Field names, bounds and defaults are declared once, in the ``_*Fields`` mixins.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, model_validator

from bot.core.policy import CostAwareBandPolicy, HedgePolicy, IntervalPolicy, ThresholdPolicy

__all__ = [
    "BandPolicyConfig",
    "HedgeConfig",
    "IntervalPolicyConfig",
    "PolicyConfig",
    "ThresholdPolicyConfig",
    "parse_policy",
]

# finer than a wei of an 18-decimal token is no setting (and 1e-999999999 would be printed in
# exponent form in every state): the config's and the commands' ratio and band settings refuse it
SETTING_DECIMALS = 18
PositiveDecimal = Annotated[Decimal, Field(gt=0)]
SettingDecimal = Annotated[Decimal, Field(gt=0, decimal_places=SETTING_DECIMALS)]
NonNegativeDecimal = Annotated[Decimal, Field(ge=0)]
PolicyName = Literal["threshold", "interval", "band"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _TimingFields(_Section):
    persistence_s: Annotated[float, Field(ge=0)] = 0.0  # act only after drift stays out this long
    backstop_s: Annotated[float, Field(gt=0)] | None = None  # rebalance at least this often


class _ThresholdFields(_Section):
    threshold_base: SettingDecimal | None = None
    threshold_fraction: (
        Annotated[Decimal, Field(gt=0, le=1, decimal_places=SETTING_DECIMALS)] | None
    ) = Decimal("0.05")

    @model_validator(mode="after")
    def _one_band(self) -> Any:
        if self.threshold_base is None and self.threshold_fraction is None:
            raise ValueError("set threshold_base and/or threshold_fraction")
        return self


class _IntervalFields(_Section):
    interval_s: Annotated[float, Field(gt=0)] = 3600.0


class _BandFields(_Section):
    risk_aversion: PositiveDecimal = Decimal("0.001")  # CARA, 1/quote
    band_cost_bps: NonNegativeDecimal = Decimal(7)  # taker fee + slippage
    min_band_base: NonNegativeDecimal = Decimal(0)  # clamp
    max_band_base: PositiveDecimal | None = None  # clamp


class ThresholdPolicyConfig(_ThresholdFields, _TimingFields):
    """Fixed band: the larger of ``threshold_base`` and ``threshold_fraction`` x |delta|."""

    policy: Literal["threshold"] = "threshold"

    def build(self) -> ThresholdPolicy:
        """The policy object ``decide`` takes."""
        return ThresholdPolicy(
            threshold_base=self.threshold_base,
            threshold_fraction=self.threshold_fraction,
            persistence_s=self.persistence_s,
            backstop_s=self.backstop_s,
        )


class IntervalPolicyConfig(_IntervalFields, _TimingFields):
    """Trade to the exact target every ``interval_s`` seconds."""

    policy: Literal["interval"] = "interval"

    def build(self) -> IntervalPolicy:
        """The policy object ``decide`` takes."""
        return IntervalPolicy(
            interval_s=self.interval_s,
            persistence_s=self.persistence_s,
            backstop_s=self.backstop_s,
        )


class BandPolicyConfig(_BandFields, _TimingFields):
    """Whalley–Wilmott cost-aware band from gamma, round-trip cost and risk aversion."""

    policy: Literal["band"] = "band"

    def build(self) -> CostAwareBandPolicy:
        """The policy object ``decide`` takes (``band_cost_bps`` as a fraction)."""
        return CostAwareBandPolicy(
            cost_fraction=self.band_cost_bps / Decimal(10_000),
            risk_aversion=self.risk_aversion,
            min_band_base=self.min_band_base,
            max_band_base=self.max_band_base,
            persistence_s=self.persistence_s,
            backstop_s=self.backstop_s,
        )


def _policy_name(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("policy", "threshold"))
    return str(getattr(value, "policy", "threshold"))


PolicyConfig = Annotated[
    Annotated[ThresholdPolicyConfig, Tag("threshold")]
    | Annotated[IntervalPolicyConfig, Tag("interval")]
    | Annotated[BandPolicyConfig, Tag("band")],
    Discriminator(_policy_name),
]
_POLICY: TypeAdapter[ThresholdPolicyConfig | IntervalPolicyConfig | BandPolicyConfig] = TypeAdapter(
    PolicyConfig
)
_MEMBER_FIELDS: dict[str, frozenset[str]] = {
    "threshold": frozenset(ThresholdPolicyConfig.model_fields),
    "interval": frozenset(IntervalPolicyConfig.model_fields),
    "band": frozenset(BandPolicyConfig.model_fields),
}


def parse_policy(
    data: dict[str, Any],
) -> ThresholdPolicyConfig | IntervalPolicyConfig | BandPolicyConfig:
    """The union member named by ``data["policy"]`` (default ``threshold``), validated.

    Raises ``pydantic.ValidationError`` (a ``ValueError``) naming the bad field.
    """
    return _POLICY.validate_python(data)


MAX_HEDGE_RATIO = Decimal(3)  # the one bound: the config and the set_hedge_ratio command


class _HedgeHead(_Section):
    ratio: Annotated[Decimal, Field(ge=0, le=MAX_HEDGE_RATIO, decimal_places=SETTING_DECIMALS)] = (
        Decimal(1)
    )
    # threshold: fixed band; interval: trade to target every interval_s; band: Whalley-Wilmott
    # cost-aware band from gamma, round-trip cost and risk aversion (see bot/core/bands.py)
    policy: PolicyName = "threshold"


class _HedgeTail(_Section):
    max_slippage_bps: Annotated[Decimal, Field(gt=0, le=1000)] = Decimal(50)
    include_fees_in_delta: bool = False  # V3 uncollected base fees count toward the delta


class HedgeConfig(  # bases in reverse field order: ratio, policy, ... include_fees_in_delta
    _HedgeTail, _TimingFields, _BandFields, _IntervalFields, _ThresholdFields, _HedgeHead
):
    """The ``hedge:`` section: hedge ratio, order slippage cap, and the policy, flat.

    ``policy`` names the union member; that member's fields are read from this section and
    the others are kept as they were written (accepted, unused), so every config written for
    the flat section loads unchanged.
    """

    def policy_config(self) -> ThresholdPolicyConfig | IntervalPolicyConfig | BandPolicyConfig:
        """The union member this section selects, built from its fields."""
        fields = _MEMBER_FIELDS[self.policy]
        return parse_policy({name: getattr(self, name) for name in fields})

    def build(self) -> HedgePolicy:
        """The hedge policy named by ``policy``, with its persistence and backstop rules."""
        return self.policy_config().build()
