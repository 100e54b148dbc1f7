"""The backtest's hedge: the live :func:`bot.core.policy.decide` on every step that is not quiet.

One source of truth for the policy: the band arrays come from the policy itself
(``band_array``), the quiet-step test is :func:`bot.core.policy.quiet` evaluated over numpy
windows (the same predicate ``decide`` answers a quiet tick with), and every other step is one
call of ``decide`` with Decimal inputs and the venue's rules, exactly as the daemon makes it.
The state only changes on those calls, so the windows are scanned with it fixed. ``quiet``
is given the venue's smallest tradeable drift too: a step whose drift no order can remove
ends in a ``skip`` that changes nothing, so it is skipped here as well.

Timing: at t_i the policy sees P_i, delta_i and the hedge held; a rebalance fills the whole
order at once (the backtest has no partial fills), so the position after the decision at i is
the hedge held over (t_i, t_{i+1}].
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from bot.core.policy import HedgePolicy, PolicyInputs, PolicyState, decide, quiet
from bot.core.sizing import min_tradeable_base
from bot.domain import MarketRules, Side
from bot.sim.pricepaths import FloatArray

__all__ = ["hedge_path"]

_FIRST_WINDOW = 64  # steps scanned per numpy call at first; grows 4x while all are quiet


def _decimal(x: float) -> Decimal:
    """A float as the Decimal of its shortest repr (what a venue or a chain reader would give)."""
    return Decimal(repr(float(x)))


def _next_active(
    policy: HedgePolicy,
    state: PolicyState,
    times: FloatArray,
    drift_at: tuple[float, FloatArray],
    band: FloatArray,
    start: int,
    min_trade_base: float,
) -> int:
    """The first index >= ``start`` that is not quiet (len(times) when none is)."""
    hedge, target = drift_at
    n, size = len(times), _FIRST_WINDOW
    while start < n:
        stop = min(n, start + size)
        window = slice(start, stop)
        drift = hedge - target[window]
        still = quiet(policy, state, times[window], drift, band[window], min_trade_base)
        first = int(np.argmin(still))
        if not still[first]:
            return start + first
        start, size = stop, size * 4
    return n


def _positions(n: int, trade_at: list[int], after: list[float]) -> FloatArray:
    """Position held after the decision at every point, from the trades (0 before the first)."""
    if not trade_at:
        return np.zeros(n)
    last = np.searchsorted(np.asarray(trade_at), np.arange(n), side="right") - 1
    held: FloatArray = np.where(last >= 0, np.asarray(after)[np.maximum(last, 0)], 0.0)
    return held


def hedge_path(
    policy: HedgePolicy,
    rules: MarketRules,
    times: FloatArray,
    curves: tuple[FloatArray, FloatArray, FloatArray],
    hedge_ratio: float,
) -> tuple[FloatArray, int]:
    """Position after the decision at each point, and the number of rebalances.

    ``curves`` is (price, delta_base, gamma) per point, float arrays of ``times``' shape.
    """
    prices, delta, gamma = curves
    target = -hedge_ratio * delta
    band = policy.band_array(prices, delta, gamma, hedge_ratio)
    ratio = _decimal(hedge_ratio)
    min_trade = float(min_tradeable_base(rules))
    state, hedge = PolicyState(), Decimal(0)
    trade_at: list[int] = []
    after: list[float] = []
    i, n = 0, len(times)
    while i < n:
        inputs = PolicyInputs(
            now_s=float(times[i]),
            price=_decimal(prices[i]),
            delta_base=_decimal(delta[i]),
            gamma=_decimal(gamma[i]),
            hedge_base=hedge,
            hedge_ratio=ratio,
        )
        decision, state = decide(policy, state, inputs, rules)
        if decision.action == "rebalance":
            amount = decision.order_amount_base
            hedge += -amount if decision.order_side is Side.SELL else amount
            trade_at.append(i)
            after.append(float(hedge))
        i = _next_active(policy, state, times, (float(hedge), target), band, i + 1, min_trade)
    return _positions(n, trade_at, after), len(trade_at)
