"""Bounded numeric command-line arguments of the simulation commands (``backtest``, ``demo``,
``localnet``): finite is not enough, a finite but absurd number (a volatility of 1e300, a
drift of 1e300 a year) overflows a float later, inside numpy or the attribution, as a
traceback. Each bound is a range of meaning (the same as ``plan --sigma`` and the CSV's price
and funding ranges, ``bot.sim.pricepaths``), refused where the argument is parsed: exit 2
naming the argument (``argument --gbm-sigma: must be <= 10 ...``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bot.cli_args import finite_float
from bot.planner import MAX_SIGMA
from bot.policy_config import MAX_HEDGE_RATIO
from bot.sim.pricepaths import FUNDING_RATE_LIMIT, PRICE_RANGE

__all__ = [
    "BPS_ARG",
    "DRIFT_ARG",
    "DURATION_ARG",
    "FEE_APR_ARG",
    "FUNDING_RATE_ARG",
    "HEDGE_RATIO_ARG",
    "MAX_DRIFT",
    "MAX_STEP_SECONDS",
    "POSITIVE_DURATION_ARG",
    "PRICE_ARG",
    "QUOTE_AMOUNT_ARG",
    "RANGE_PCT_ARG",
    "RISK_AVERSION_ARG",
    "SIGMA_ARG",
    "STEP_SECONDS_ARG",
    "VOLUME_ARG",
    "bounded",
]

MAX_DRIFT = 10.0  # annualised, ±1000 % a year: e^(10 x 4 years) still fits a float
MAX_STEP_SECONDS = 366 * 86_400.0  # one step at most a year of chain/market time
_MAX_QUOTE = 1e12  # quote amounts (position value, volume per day): beyond, results overflow
_MAX_DURATION_S = 100 * 366 * 86_400.0  # a policy timer beyond a century means never


def bounded(
    low: float, high: float, *, low_open: bool = False, what: str = ""
) -> Callable[[str], float]:
    """An argparse ``type=``: a finite float in ``[low, high]`` (``(low, high]`` with
    ``low_open``); ``what`` names the unit in the message. Raises ``ArgumentTypeError``."""
    left = "(" if low_open else "["

    def parse(text: str) -> float:
        value = finite_float(text)
        if value > high or value < low or (low_open and value == low):
            unit = f" {what}" if what else ""
            raise argparse.ArgumentTypeError(
                f"must be in {left}{low:g}, {high:g}]{unit}, got {text[:40]!r}"
            )
        return value

    return parse


SIGMA_ARG = bounded(0.0, MAX_SIGMA, what="(annualised volatility, like plan --sigma)")
DRIFT_ARG = bounded(-MAX_DRIFT, MAX_DRIFT, what="(annualised drift)")
STEP_SECONDS_ARG = bounded(0.0, MAX_STEP_SECONDS, low_open=True, what="seconds")
PRICE_ARG = bounded(*PRICE_RANGE, what="quote per base")
QUOTE_AMOUNT_ARG = bounded(0.0, _MAX_QUOTE, low_open=True, what="quote")
VOLUME_ARG = bounded(0.0, _MAX_QUOTE, what="quote per day")
RANGE_PCT_ARG = bounded(0.0001, 0.99, what="(a fraction of the price)")
FEE_APR_ARG = bounded(0.0, 100.0, what="(a fraction a year)")
BPS_ARG = bounded(0.0, 10_000.0, what="bps")
DURATION_ARG = bounded(0.0, _MAX_DURATION_S, what="seconds")
POSITIVE_DURATION_ARG = bounded(0.0, _MAX_DURATION_S, low_open=True, what="seconds")
RISK_AVERSION_ARG = bounded(1e-12, 1.0, what="(CARA, 1/quote)")
HEDGE_RATIO_ARG = bounded(0.0, float(MAX_HEDGE_RATIO), what="(like hedge.ratio)")
FUNDING_RATE_ARG = bounded(-FUNDING_RATE_LIMIT, FUNDING_RATE_LIMIT, what="per 8 h")
