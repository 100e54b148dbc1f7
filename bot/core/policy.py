"""Hedge policies: when to rebalance the perp hedge, and by how much.

Definitions (ARCHITECTURE.md, "Delta definition"), all in base units:

* ``delta_base``  LP delta (+ base held outside the pools)
* ``target_base = -hedge_ratio * delta_base``  (a short is negative)
* ``hedge_base``  current signed perp position
* ``drift_base = hedge_base - target_base``  (> 0: not short enough, so SELL)

A policy only says how wide the no-trade band is (``band_base``) and when it may act
(``interval_s``, ``persistence_s``, ``backstop_s``); :func:`decide` is the one place that turns
a band into a :class:`~bot.domain.Decision`: band test, timing modifiers, sizing rounded down
to the venue step, venue minimums and the reduce-only flag. It is pure: it returns the new
:class:`PolicyState` instead of mutating anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal
from typing import Literal, Protocol

from bot.domain import Decision, MarketRules, Side

__all__ = [
    "DEFAULT_VOL_HALFLIFE_S",
    "SECONDS_PER_YEAR",
    "CostAwareBandPolicy",
    "HedgePolicy",
    "IntervalPolicy",
    "OrderSizing",
    "PolicyInputs",
    "PolicyState",
    "ThresholdPolicy",
    "decide",
    "size_order",
    "whalley_wilmott_half_width",
]

SECONDS_PER_YEAR = 365.0 * 24 * 3600
DEFAULT_VOL_HALFLIFE_S = 6 * 3600.0
_ZERO = Decimal(0)
Action = Literal["hold", "rebalance", "skip"]


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    """What the policy sees at one tick (Decimal, human units)."""

    now_s: float
    price: Decimal  # mark price, quote per base
    delta_base: Decimal  # LP delta + wallet base
    gamma: Decimal  # total d(delta)/d(price), base per (quote per base); LP gamma is <= 0
    hedge_base: Decimal  # signed perp position, short < 0
    hedge_ratio: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        if not self.price > 0:
            raise ValueError(f"price must be positive, got {self.price}")
        if self.hedge_ratio < 0:
            raise ValueError(f"hedge_ratio must be >= 0, got {self.hedge_ratio}")

    @property
    def target_base(self) -> Decimal:
        """The perp position that would make the book delta-neutral at ``hedge_ratio``."""
        return -self.hedge_ratio * self.delta_base

    @property
    def drift_base(self) -> Decimal:
        """Hedge minus target: positive means the short is too small."""
        return self.hedge_base - self.target_base


@dataclass(frozen=True, slots=True)
class PolicyState:
    """What :func:`decide` remembers between ticks; the engine keeps the latest one.

    ``ewma_var_per_s`` is an exponentially weighted estimate of the variance of log price
    returns per second (a statistic, hence float), updated from the mark price at every tick.
    """

    started_s: float | None = None  # first tick seen; anchors the backstop before any trade
    last_rebalance_s: float | None = None
    drift_outside_since_s: float | None = None
    resume_to_target: bool = False  # last order was capped at zero; finish it next tick
    last_price: Decimal | None = None
    last_price_s: float | None = None
    ewma_var_per_s: float | None = None

    @property
    def sigma_annual(self) -> float | None:
        """EWMA volatility, annualised (None before two prices were seen)."""
        if self.ewma_var_per_s is None:
            return None
        return math.sqrt(self.ewma_var_per_s * SECONDS_PER_YEAR)

    def observe_price(self, now_s: float, price: Decimal, halflife_s: float) -> PolicyState:
        """Fold one price into the EWMA variance; irregular spacing is weighted by time."""
        if self.last_price is None or self.last_price_s is None:
            return replace(self, last_price=price, last_price_s=now_s)
        dt = now_s - self.last_price_s
        if dt <= 0:
            return self
        log_return = math.log(float(price / self.last_price))
        sample = log_return * log_return / dt
        if self.ewma_var_per_s is None:
            var = sample
        else:
            alpha = 1.0 - math.exp(-dt * math.log(2.0) / halflife_s)
            var = (1.0 - alpha) * self.ewma_var_per_s + alpha * sample
        return replace(self, last_price=price, last_price_s=now_s, ewma_var_per_s=var)


class HedgePolicy(Protocol):
    """A no-trade band plus timing rules; :func:`decide` does the rest."""

    @property
    def persistence_s(self) -> float:
        """Act only once the drift has stayed outside the band this long (0: at once)."""
        ...

    @property
    def backstop_s(self) -> float | None:
        """Rebalance at least this often whenever a tradeable drift exists (None: never)."""
        ...

    @property
    def interval_s(self) -> float | None:
        """Minimum time between rebalances (None: whenever the band says so)."""
        ...

    def band_base(self, inputs: PolicyInputs) -> Decimal:
        """Half-width of the no-trade band around the target, in base units (>= 0)."""
        ...


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
    ``risk_aversion`` λ is absolute (CARA) risk aversion in 1/quote.
    """
    if risk_aversion <= 0:
        raise ValueError("risk_aversion must be > 0")
    cubed = 3 * cost_fraction * price * gamma * gamma / (2 * risk_aversion)
    if cubed <= 0:
        return _ZERO
    return (cubed.ln() / 3).exp()


@dataclass(frozen=True, slots=True)
class CostAwareBandPolicy:
    """Whalley–Wilmott cost-aware band, clamped to ``[min_band_base, max_band_base]``.

    The position whose error the band bounds is the target ``-ratio * delta``, whose gamma is
    ``ratio * Γ``; that is the Γ used. The leading-order band does not depend on volatility
    (see :func:`whalley_wilmott_half_width`); the EWMA volatility estimate in
    :class:`PolicyState` is reported in the decision notes, and the expected cost and tracking
    rates it implies are in :meth:`expected_rates`.
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


def _floor_to_step(amount: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return amount
    return (amount / step).to_integral_value(rounding=ROUND_FLOOR) * step


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


@dataclass(frozen=True, slots=True)
class OrderSizing:
    """Side, amount and reduce-only flag of the order that removes a drift."""

    side: Side
    amount_base: Decimal
    reduce_only: bool
    capped_at_zero: bool
    refusal: str | None  # "below_min_amount" / "below_min_notional", else None


def _refusal(
    amount: Decimal, price: Decimal, rules: MarketRules, *, reduce_only: bool
) -> str | None:
    """Why the venue would refuse the order, or None. Reduce-only orders are exempt from the
    minimum notional, as on Binance USD-M ("unless you choose reduce only"), so a hedge can
    always be closed down to its last step."""
    if amount <= 0 or amount < rules.min_amount:
        return "below_min_amount"
    if not reduce_only and amount * price < rules.min_notional:
        return "below_min_notional"
    return None


def size_order(
    drift_base: Decimal, hedge_base: Decimal, price: Decimal, rules: MarketRules
) -> OrderSizing:
    """Order that removes ``drift_base``, rounded down to the step, never overshooting.

    Zero-crossing choice: an order that would take the hedge through zero is capped at
    ``|hedge|`` and sent reduce-only (it closes the position); :func:`decide` then sets
    ``resume_to_target`` so the next tick opens the rest whatever the band. If the capped part
    alone is below the venue minimums, the whole order is sent without reduce-only instead,
    since a close that can never be placed would leave the hedge stuck.
    """
    side = Side.SELL if drift_base > 0 else Side.BUY
    amount = _floor_to_step(abs(drift_base), rules.amount_step)
    order_sign = -1 if side is Side.SELL else 1
    hedge_sign = _sign(hedge_base)
    reduces = hedge_sign != 0 and order_sign == -hedge_sign
    if reduces and amount > abs(hedge_base):
        capped = abs(hedge_base)
        if _refusal(capped, price, rules, reduce_only=True) is None:
            return OrderSizing(side, capped, True, True, None)
        refusal = _refusal(amount, price, rules, reduce_only=False)
        return OrderSizing(side, amount, False, False, refusal)
    return OrderSizing(
        side, amount, reduces, False, _refusal(amount, price, rules, reduce_only=reduces)
    )


def decide(
    policy: HedgePolicy,
    state: PolicyState,
    inputs: PolicyInputs,
    rules: MarketRules,
    *,
    force: bool = False,
    vol_halflife_s: float = DEFAULT_VOL_HALFLIFE_S,
) -> tuple[Decision, PolicyState]:
    """One tick of the hedge policy: the decision and the state to keep if it is carried out.

    Order of tests: ``force`` (the ``rebalance_now`` command) and a pending zero-crossing
    remainder ignore the band; otherwise the drift must be outside the band for
    ``persistence_s`` and the interval (if any) must be due; failing that, the backstop fires
    when ``backstop_s`` has passed since the last rebalance and the drift is tradeable. Venue
    minimums are never ignored: an order below them is a ``skip``.
    """
    now = inputs.now_s
    state = state.observe_price(now, inputs.price, vol_halflife_s)
    if state.started_s is None:
        state = replace(state, started_s=now)
    target = inputs.target_base
    drift = inputs.drift_base
    band = policy.band_base(inputs)
    outside = abs(drift) > band

    if outside:
        since = state.drift_outside_since_s if state.drift_outside_since_s is not None else now
    else:
        since = None
    state = replace(state, drift_outside_since_s=since)

    notes: list[str] = []
    sigma = state.sigma_annual
    if sigma is not None:
        notes.append(f"sigma_annual={sigma:.4f}")

    def result(
        action: Action, reason: str, sizing: OrderSizing | None = None
    ) -> tuple[Decision, PolicyState]:
        decision = Decision(
            action=action,
            reason=reason,
            delta_base=inputs.delta_base,
            target_base=target,
            hedge_base=inputs.hedge_base,
            drift_base=drift,
            band_base=band,
            order_side=sizing.side if sizing is not None else None,
            order_amount_base=sizing.amount_base if sizing is not None else _ZERO,
            reduce_only=sizing.reduce_only if sizing is not None else False,
            notes=tuple(notes),
            mark_price=inputs.price,
        )
        if action != "rebalance" or sizing is None:
            return decision, state
        traded = replace(
            state,
            last_rebalance_s=now,
            drift_outside_since_s=None,
            resume_to_target=sizing.capped_at_zero,
        )
        return decision, traded

    anchor = state.last_rebalance_s if state.last_rebalance_s is not None else state.started_s
    interval = policy.interval_s
    interval_due = (
        interval is None
        or state.last_rebalance_s is None
        or now - state.last_rebalance_s >= interval
    )
    persisted = since is not None and now - since >= policy.persistence_s
    backstop = policy.backstop_s
    backstop_due = backstop is not None and anchor is not None and now - anchor >= backstop

    if force:
        trigger = "forced"
    elif state.resume_to_target:
        trigger = "resume_to_target"
    elif outside and persisted and interval_due:
        trigger = "interval" if interval is not None else "band"
    elif backstop_due and drift != 0:
        trigger = "backstop"
    elif outside and not interval_due:
        return result("hold", "interval_not_due")
    elif outside:
        return result("hold", "persistence_wait")
    else:
        return result("hold", "inside_band")

    if drift == 0:
        state = replace(state, resume_to_target=False)
        return result("hold", "on_target")
    sizing = size_order(drift, inputs.hedge_base, inputs.price, rules)
    if sizing.capped_at_zero:
        notes.append("capped_at_zero")
    if sizing.refusal is not None:
        if trigger == "backstop":
            notes.append("backstop_untradeable")
            return result("hold", "inside_band")
        if trigger == "resume_to_target":
            state = replace(state, resume_to_target=False)
        return result("skip", sizing.refusal, sizing)
    return result("rebalance", trigger, sizing)
