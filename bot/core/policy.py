"""Hedge policies: when to rebalance the perp hedge, and by how much.

Definitions (ARCHITECTURE.md, "Delta definition"), all in base units:

* ``delta_base``  LP delta (+ base held outside the pools)
* ``target_base = -hedge_ratio * delta_base``  (a short is negative)
* ``hedge_base``  current signed perp position
* ``drift_base = hedge_base - target_base``  (> 0: not short enough, so SELL)

A policy (:mod:`bot.core.bands`) only says how wide the no-trade band is (``band_base``, and
``band_array`` for a whole path) and when it may act (``interval_s``, ``persistence_s``,
``backstop_s``); :func:`decide` is the one place that turns a band into a
:class:`~bot.domain.Decision`: band test, timing modifiers, sizing (:mod:`bot.core.sizing`)
rounded down to the venue step, venue minimums and the reduce-only flag. It is pure: it
returns the new :class:`PolicyState` instead of mutating anything.

:func:`quiet` is the cheap "nothing to do" test: ``decide`` answers a quiet tick with a hold
straight away, and the backtester evaluates the same predicate over numpy arrays to skip
quiet steps, calling ``decide`` itself on every other step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol, overload

import numpy as np
from numpy.typing import NDArray

from bot.core.bands import (
    CostAwareBandPolicy,
    FloatArray,
    IntervalPolicy,
    ThresholdPolicy,
    whalley_wilmott_half_width,
)
from bot.core.sizing import OrderSizing, size_order
from bot.domain import Decision, MarketRules

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
    "quiet",
    "size_order",
    "whalley_wilmott_half_width",
]

SECONDS_PER_YEAR = 365.0 * 24 * 3600
DEFAULT_VOL_HALFLIFE_S = 6 * 3600.0
_ZERO = Decimal(0)
Action = Literal["hold", "rebalance", "skip"]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    """What the policy sees at one tick (Decimal, human units)."""

    now_s: float
    price: Decimal  # mark price, quote per base
    delta_base: Decimal  # LP delta + wallet base
    gamma: Decimal  # total d(delta)/d(price), base per (quote per base); LP gamma is <= 0
    hedge_base: Decimal  # signed perp position, short < 0
    hedge_ratio: Decimal = Decimal(1)
    # (buy, sell) IOC limit prices an order would carry (``plan.slippage_cap``), for a venue
    # that values its minimum order at the limit price; None: the mark stands in
    limit_prices: tuple[Decimal, Decimal] | None = None

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

    def evolve(self, **changes: Any) -> PolicyState:
        """A copy with ``changes`` (``dataclasses.replace`` without its introspection: this is
        on the backtest's per-step path)."""
        get = changes.get
        return PolicyState(
            get("started_s", self.started_s),
            get("last_rebalance_s", self.last_rebalance_s),
            get("drift_outside_since_s", self.drift_outside_since_s),
            get("resume_to_target", self.resume_to_target),
            get("last_price", self.last_price),
            get("last_price_s", self.last_price_s),
            get("ewma_var_per_s", self.ewma_var_per_s),
        )

    @property
    def sigma_annual(self) -> float | None:
        """EWMA volatility, annualised (None before two prices were seen)."""
        if self.ewma_var_per_s is None:
            return None
        return math.sqrt(self.ewma_var_per_s * SECONDS_PER_YEAR)

    def observe_price(self, now_s: float, price: Decimal, halflife_s: float) -> PolicyState:
        """Fold one price into the EWMA variance; irregular spacing is weighted by time."""
        if self.last_price is None or self.last_price_s is None:
            return self.evolve(last_price=price, last_price_s=now_s)
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
        return self.evolve(last_price=price, last_price_s=now_s, ewma_var_per_s=var)


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

    def band_array(
        self, prices: FloatArray, delta: FloatArray, gamma: FloatArray, hedge_ratio: float
    ) -> FloatArray:
        """``band_base`` at every point of a path (float arrays of one shape, base units)."""
        ...


@overload
def quiet(
    policy: HedgePolicy,
    state: PolicyState,
    now_s: float,
    drift: Decimal,
    band: Decimal,
    min_trade_base: Decimal = ...,
) -> bool: ...
@overload
def quiet(
    policy: HedgePolicy,
    state: PolicyState,
    now_s: FloatArray,
    drift: FloatArray,
    band: FloatArray,
    min_trade_base: float = ...,
) -> BoolArray: ...
def quiet(
    policy: HedgePolicy,
    state: PolicyState,
    now_s: Any,  # float | FloatArray: the overloads pair the types
    drift: Any,  # Decimal | FloatArray
    band: Any,  # Decimal | FloatArray
    min_trade_base: Any = 0,  # Decimal | float
) -> bool | BoolArray:
    """True where :func:`decide` has nothing to do: it would hold (``inside_band`` or
    ``interval_not_due``) and keep ``state`` apart from its price statistics — or, given
    ``min_trade_base`` (:func:`~bot.core.sizing.min_tradeable_base`), the drift is too small
    for any order, so a trigger could only end in a ``skip`` that keeps the state too.
    ``decide`` uses the hold part (its decision says which hold); the backtest both.

    Scalars (one tick, Decimal drift and band) or numpy arrays of one shape (a path, element
    by element, with ``state`` fixed). Never quiet before the first tick (``started_s``
    unset), while a zero-crossing remainder is pending, or — with ``persistence_s > 0`` —
    while the drift is outside the band or was at the last tick (the outside-since clock
    must be kept). Without persistence, that clock never changes a decision: a tick outside
    the band whose interval is not due is quiet too. The backstop, once due, makes every
    tick with a drift active. ``force`` (``rebalance_now``) is never quiet; ``decide``
    checks it first.
    """
    size = abs(drift)
    inside: bool | BoolArray = size <= band
    if state.started_s is None or state.resume_to_target:
        return inside & False  # same shape as the inputs, all False
    persistent = policy.persistence_s > 0
    if persistent and state.drift_outside_since_s is not None:
        return inside & False
    interval, last = policy.interval_s, state.last_rebalance_s
    hold = inside
    if not persistent and interval is not None and last is not None:
        not_yet: bool | BoolArray = now_s - last < interval
        hold = inside | not_yet
    backstop = policy.backstop_s
    if backstop is not None:
        anchor = last if last is not None else state.started_s
        not_due: bool | BoolArray = (now_s - anchor < backstop) | (drift == 0)
        hold = hold & not_due
    if persistent:  # a tiny drift outside the band still starts the outside clock
        return hold
    tiny: bool | BoolArray = size < min_trade_base
    return hold | tiny


_HOLDS = frozenset({"interval_not_due", "persistence_wait", "inside_band"})


def _track_outside(state: PolicyState, now: float, outside: bool) -> PolicyState:
    """Start (or keep) the outside-the-band clock, or clear it inside the band."""
    since = state.drift_outside_since_s
    if not outside:
        return state if since is None else state.evolve(drift_outside_since_s=None)
    return state if since is not None else state.evolve(drift_outside_since_s=now)


def _trigger(
    policy: HedgePolicy, state: PolicyState, now: float, drift: Decimal, *, outside: bool
) -> str:
    """Why to trade now (``band``, ``interval``, ``resume_to_target``, ``backstop``), or why
    not (one of ``_HOLDS``). ``state`` has this tick's outside-since clock."""
    last = state.last_rebalance_s
    interval = policy.interval_s
    interval_due = interval is None or last is None or now - last >= interval
    since = state.drift_outside_since_s
    persisted = since is not None and now - since >= policy.persistence_s
    anchor = last if last is not None else state.started_s
    backstop = policy.backstop_s
    backstop_due = backstop is not None and anchor is not None and now - anchor >= backstop
    if state.resume_to_target:
        return "resume_to_target"
    if outside and persisted and interval_due:
        return "interval" if interval is not None else "band"
    if backstop_due and drift != 0:
        return "backstop"
    if outside:
        return "interval_not_due" if not interval_due else "persistence_wait"
    return "inside_band"


def _decision(
    inputs: PolicyInputs,
    band: Decimal,
    notes: tuple[str, ...],
    action: Action,
    reason: str,
    sizing: OrderSizing | None = None,
) -> Decision:
    return Decision(
        action=action,
        reason=reason,
        delta_base=inputs.delta_base,
        target_base=inputs.target_base,
        hedge_base=inputs.hedge_base,
        drift_base=inputs.drift_base,
        band_base=band,
        order_side=sizing.side if sizing is not None else None,
        order_amount_base=sizing.amount_base if sizing is not None else _ZERO,
        reduce_only=sizing.reduce_only if sizing is not None else False,
        notes=notes,
        mark_price=inputs.price,
    )


def _act(
    trigger: str,
    state: PolicyState,
    inputs: PolicyInputs,
    band: Decimal,
    notes: tuple[str, ...],
    rules: MarketRules,
) -> tuple[Decision, PolicyState]:
    """Size the order for a triggered tick; venue minimums are never ignored."""
    drift = inputs.drift_base
    if drift == 0:
        state = state.evolve(resume_to_target=False)
        return _decision(inputs, band, notes, "hold", "on_target"), state
    sizing = size_order(
        drift, inputs.hedge_base, inputs.price, rules, limit_prices=inputs.limit_prices
    )
    if sizing.capped_at_zero:
        notes = (*notes, "capped_at_zero")
    if sizing.refusal is not None:
        if trigger == "backstop":
            notes = (*notes, "backstop_untradeable")
            return _decision(inputs, band, notes, "hold", "inside_band"), state
        if trigger == "resume_to_target":
            state = state.evolve(resume_to_target=False)
        return _decision(inputs, band, notes, "skip", sizing.refusal, sizing), state
    traded = state.evolve(
        last_rebalance_s=inputs.now_s,
        drift_outside_since_s=None,
        resume_to_target=sizing.capped_at_zero,
    )
    return _decision(inputs, band, notes, "rebalance", trigger, sizing), traded


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
    remainder ignore the band; a :func:`quiet` tick holds at once; otherwise the drift must be
    outside the band for ``persistence_s`` and the interval (if any) must be due; failing
    that, the backstop fires when ``backstop_s`` has passed since the last rebalance and the
    drift is tradeable. Venue minimums are never ignored: an order below them is a ``skip``.
    """
    now = inputs.now_s
    state = state.observe_price(now, inputs.price, vol_halflife_s)
    if state.started_s is None:
        state = state.evolve(started_s=now)
    drift = inputs.drift_base
    band = policy.band_base(inputs)
    outside = abs(drift) > band
    sigma = state.sigma_annual
    notes = (f"sigma_annual={sigma:.4f}",) if sigma is not None else ()
    if not force and quiet(policy, state, now, drift, band):
        reason = "interval_not_due" if outside else "inside_band"
        return _decision(inputs, band, notes, "hold", reason), _track_outside(state, now, outside)
    state = _track_outside(state, now, outside)
    trigger = "forced" if force else _trigger(policy, state, now, drift, outside=outside)
    if trigger in _HOLDS:
        return _decision(inputs, band, notes, "hold", trigger), state
    return _act(trigger, state, inputs, band, notes, rules)
