"""The TWAP's samples are capped (``GuardLimits.twap_max_samples``): past the cap adjacent
samples merge into their time-weighted price, so the count stays bounded whatever the block
rate and the TWAP stays within the documented bound of the per-tick one."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from bot.core.gate import TWAP_MAX_SAMPLES, GuardLimits, GuardState, VenueRead, observe
from bot.core.killswitch import KillSwitchState
from bot.core.risk import time_weighted_price
from bot.domain import AccountBalance, ChainSnapshot, MarketQuote, PerpPosition, PositionExposure
from bot.risk_settings import RiskSettings

pytestmark = pytest.mark.unit

D = Decimal
T0 = 1_800_000_000.0
WINDOW_S = 60
CAP = 16
TICK_S = 0.25


def _price(n: int) -> Decimal:
    return (D(2000) + D(repr(round(40 * math.sin(n / 17) + (n % 7), 4)))).quantize(D("0.0001"))


def _inputs(n: int) -> tuple[ChainSnapshot, VenueRead]:
    price = _price(n)
    lp = PositionExposure("lp", "v2", D(1), D(0), D(0), D(1), D(0), price)
    snap = ChainSnapshot(100 + n, int(T0 + n * TICK_S), "0xabc", price, (lp,))
    quote = MarketQuote("ETH/USDT:USDT", price, price, D("0.0001"), 0, 0, price, price)
    position = PerpPosition("ETH/USDT:USDT", D(-1), price, price, D(0), D(1000), None, 3)
    return snap, VenueRead(quote, position, AccountBalance("USDT", D(10_000), D(9_000)))


def test_the_samples_stay_under_the_cap_and_the_twap_within_its_bound() -> None:
    """1,000 ticks 0.25 s apart in a 60 s window (240 per window) with a cap of 16: never
    more than 16 samples; each tick's TWAP within 2/16 of the window's price range of the
    TWAP over every sample, and equal to it until the cap is first reached."""
    limits = GuardLimits(RiskSettings().to_limits(300.0), twap_window_s=WINDOW_S)
    capped = GuardLimits(limits.limits, twap_window_s=WINDOW_S, twap_max_samples=CAP)
    state, history = GuardState(), []
    for n in range(1000):
        now = T0 + n * TICK_S
        snap, venue = _inputs(n)
        _, inputs, state = observe(
            state, capped, now, snap, venue, (KillSwitchState(), "off"), D(1)
        )
        exact = time_weighted_price(history, now, WINDOW_S)
        history.append((now, _price(n)))
        assert len(state.prices) <= CAP
        if exact is None:
            assert inputs.twap_price is None
            continue
        assert inputs.twap_price is not None
        window = [p for t, p in history if t >= now - WINDOW_S - TICK_S]
        bound = (max(window) - min(window)) * D(2) / CAP
        assert abs(inputs.twap_price - exact) <= bound
        if n < CAP:
            assert inputs.twap_price == exact
    assert len(state.prices) == CAP


def test_the_default_cap_is_documented_and_bounded() -> None:
    """1,024 samples by default: a 30 min window at 4 blocks/s (7,200 ticks) is bounded."""
    assert GuardLimits(RiskSettings().to_limits(300.0)).twap_max_samples == TWAP_MAX_SAMPLES
    assert TWAP_MAX_SAMPLES == 1024
