"""The three hedge policies: a no-trade band around the target and the timing rules.

Each policy gives its band twice over the *same* formula: ``band_base`` for one tick
(Decimal, what :func:`bot.core.policy.decide` uses) and ``band_array`` for a whole price path
(float arrays, what the backtester's quiet-step fast path uses). Re-exported by
:mod:`bot.core.policy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from bot.core.policy import PolicyInputs

__all__ = [
    "CostAwareBandPolicy",
    "FloatArray",
    "IntervalPolicy",
    "ThresholdPolicy",
    "whalley_wilmott_half_width",
]

FloatArray = NDArray[np.float64]
_ZERO = Decimal(0)
_Num = TypeVar("_Num", Decimal, FloatArray)


def _check_timing(persistence_s: float, backstop_s: float | None) -> None:
    if persistence_s < 0:
        raise ValueError("persistence_s must be >= 0")
    if backstop_s is not None and backstop_s <= 0:
        raise ValueError("backstop_s must be > 0")


@dataclass(frozen=True, slots=True)
class ThresholdPolicy:
    """Fixed band: ``max(threshold_base, threshold_fraction * |delta|)``; at least one is set."""

    threshold_base: Decimal | None = None
    threshold_fraction: Decimal | None = None
    persistence_s: float = 0.0
    backstop_s: float | None = None

    def __post_init__(self) -> None:
        if self.threshold_base is None and self.threshold_fraction is None:
            raise ValueError("set threshold_base and/or threshold_fraction")
        if self.threshold_base is not None and self.threshold_base < 0:
            raise ValueError("threshold_base must be >= 0")
        if self.threshold_fraction is not None and self.threshold_fraction < 0:
            raise ValueError("threshold_fraction must be >= 0")
        _check_timing(self.persistence_s, self.backstop_s)

    @property
    def interval_s(self) -> float | None:
        """A threshold band is not time-gated."""
        return None

    def band_base(self, inputs: PolicyInputs) -> Decimal:
        """The larger of the absolute and the relative threshold."""
        absolute = self.threshold_base if self.threshold_base is not None else _ZERO
        relative = (
            self.threshold_fraction * abs(inputs.delta_base)
            if self.threshold_fraction is not None
            else _ZERO
        )
        return max(absolute, relative)

    def band_array(
        self, prices: FloatArray, delta: FloatArray, gamma: FloatArray, hedge_ratio: float
    ) -> FloatArray:
        """:meth:`band_base` at every point of a path (float, base units)."""
        absolute = float(self.threshold_base or 0)
        fraction = float(self.threshold_fraction or 0)
        band: FloatArray = np.maximum(absolute, fraction * np.abs(delta))
        return band


@dataclass(frozen=True, slots=True)
class IntervalPolicy:
    """Trade back to the exact target every ``interval_s`` seconds, never in between."""

    interval_s: float
    persistence_s: float = 0.0
    backstop_s: float | None = None

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        _check_timing(self.persistence_s, self.backstop_s)

    def band_base(self, inputs: PolicyInputs) -> Decimal:
        """No band: any drift is traded when the interval is due."""
        return _ZERO

    def band_array(
        self, prices: FloatArray, delta: FloatArray, gamma: FloatArray, hedge_ratio: float
    ) -> FloatArray:
        """No band anywhere on the path."""
        return np.zeros_like(prices)


def _whalley_wilmott_cubed(
    cost_fraction: _Num, price: _Num, gamma: _Num, risk_aversion: _Num
) -> _Num:
    """``h³ = 3 k P Γ² / (2 λ)``, the one formula behind both band forms."""
    return 3 * cost_fraction * price * (gamma * gamma) / (2 * risk_aversion)


def whalley_wilmott_half_width(
    cost_fraction: Decimal, price: Decimal, gamma: Decimal, risk_aversion: Decimal
) -> Decimal:
    """Whalley–Wilmott optimal no-trade half-width ``h = (3 k P Γ² / (2 λ))^(1/3)``, base units.

    Whalley & Wilmott (1997), "An asymptotic analysis of an optimal hedging model for option
    pricing with transaction costs", Mathematical Finance 7(3), 307–324, leading-order band
    ``Δ ± (3 k S Γ² / (2 γ))^(1/3)`` (discount factor 1 for a perpetual). Derivation in our
    terms: the hedge error y drifts like a Brownian motion with variance rate (Γ σ P)²; kept
    inside [−h, h] it is uniform, so the trading cost rate is k P (Γ σ P)² / (2h) (local time at
    the edges) and the risk penalty is (λ/2) σ² P² E[y²] = λ σ² P² h² / 6. Minimising the sum
    over h gives h³ = 3 k P Γ² / (2 λ): σ cancels at leading order.

    Units: ``cost_fraction`` k is the proportional cost per unit of notional traded (taker fee +
    slippage, e.g. 0.0006); ``price`` P quote per base; ``gamma`` Γ base per (quote per base);
    ``risk_aversion`` λ is absolute (CARA) risk aversion in 1/quote. Raises ``ValueError`` for
    λ <= 0.
    """
    if risk_aversion <= 0:
        raise ValueError("risk_aversion must be > 0")
    cubed = _whalley_wilmott_cubed(cost_fraction, price, gamma, risk_aversion)
    if cubed <= 0:
        return _ZERO
    return (cubed.ln() / 3).exp()


@dataclass(frozen=True, slots=True)
class CostAwareBandPolicy:
    """Whalley–Wilmott cost-aware band, clamped to ``[min_band_base, max_band_base]``.

    The position whose error the band bounds is the target ``-ratio * delta``, whose gamma is
    ``ratio * Γ``; that is the Γ used. The leading-order band does not depend on volatility
    (see :func:`whalley_wilmott_half_width`); the EWMA volatility estimate in
    :class:`~bot.core.policy.PolicyState` is reported in the decision notes, and the expected
    cost and tracking rates it implies are in :meth:`expected_rates`.
    """

    cost_fraction: Decimal
    risk_aversion: Decimal
    min_band_base: Decimal = _ZERO
    max_band_base: Decimal | None = None
    persistence_s: float = 0.0
    backstop_s: float | None = None

    def __post_init__(self) -> None:
        if self.cost_fraction < 0:
            raise ValueError("cost_fraction must be >= 0")
        if self.risk_aversion <= 0:
            raise ValueError("risk_aversion must be > 0")
        if self.min_band_base < 0:
            raise ValueError("min_band_base must be >= 0")
        if self.max_band_base is not None and self.max_band_base < self.min_band_base:
            raise ValueError("max_band_base must be >= min_band_base")
        _check_timing(self.persistence_s, self.backstop_s)

    @property
    def interval_s(self) -> float | None:
        """The band is not time-gated."""
        return None

    def band_base(self, inputs: PolicyInputs) -> Decimal:
        """Whalley–Wilmott half-width for the target's gamma, clamped."""
        gamma = inputs.hedge_ratio * inputs.gamma
        band = whalley_wilmott_half_width(
            self.cost_fraction, inputs.price, gamma, self.risk_aversion
        )
        band = max(band, self.min_band_base)
        if self.max_band_base is not None:
            band = min(band, self.max_band_base)
        return band

    def band_array(
        self, prices: FloatArray, delta: FloatArray, gamma: FloatArray, hedge_ratio: float
    ) -> FloatArray:
        """:meth:`band_base` at every point of a path (float cube root of the same formula)."""
        k, lam = float(self.cost_fraction), float(self.risk_aversion)
        cubed = _whalley_wilmott_cubed(
            np.full_like(prices, k), prices, hedge_ratio * gamma, np.full_like(prices, lam)
        )
        band: FloatArray = np.maximum(np.cbrt(cubed), float(self.min_band_base))
        if self.max_band_base is not None:
            band = np.minimum(band, float(self.max_band_base))
        return band

    def expected_rates(self, inputs: PolicyInputs, sigma_annual: float) -> tuple[float, float]:
        """(trading cost, tracking-error variance) per year in quote and quote² for this band.

        Continuous-monitoring approximations from the derivation above: cost
        ``k P (Γσ P)² / (2h)``, variance ``σ² P² h² / 3``. Statistics, hence float.
        """
        h = float(self.band_base(inputs))
        price = float(inputs.price)
        gamma = float(inputs.hedge_ratio * inputs.gamma)
        k = float(self.cost_fraction)
        move_var = (gamma * sigma_annual * price) ** 2
        cost = math.inf if h == 0 and move_var > 0 else 0.0
        if h > 0:
            cost = k * price * move_var / (2 * h)
        return cost, sigma_annual**2 * price**2 * h * h / 3
