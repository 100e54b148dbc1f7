"""``hedgebot backtest``: arguments, the run, the table / JSON and the plot.

The policy is built through the same config models as the daemon's (``bot.config``'s policy
union, ``.build()``), so ``--policy band`` here and ``hedge.policy: band`` there are one thing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from bot.cli_args import (
    non_negative_int,
    positive_int,
)
from bot.core.pnl import PARTS
from bot.display import COSTS_NOTE, fmt_base, fmt_compact, fmt_plain, fmt_quote
from bot.pnl_table import pnl_table
from bot.policy_config import parse_policy
from bot.safety import safe_str
from bot.sim import arg_bounds as arg
from bot.sim.backtest import (
    MAX_STEPS,
    BacktestConfig,
    BacktestResult,
    FeeModel,
    PoolSpec,
    VenueModel,
    run_backtest,
)
from bot.sim.pricepaths import PricePath, gbm, load_csv

__all__ = ["DEFAULT_FEE_APR", "add_subcommand", "parameters", "plot_result"]

DEFAULT_FEE_APR = 0.10
"""The default LP fee income, 10 % a year on position value: a fee of 0 showed the hedging
costs without the income they protect (a net loss that misleads)."""


def plot_result(result: BacktestResult, out: Path) -> None:
    """Price, hedge vs target, and cumulative PnL attribution, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result.series
    days = (s.times_s - s.times_s[0]) / 86400.0
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    axes[0].plot(days, s.price, lw=0.8)
    axes[0].set_ylabel("price")
    axes[1].plot(days, s.target_base, lw=0.8, label="target")
    axes[1].plot(days, s.hedge_base, lw=0.8, label="hedge", drawstyle="steps-post")
    axes[1].set_ylabel("perp position (base)")
    axes[1].legend(loc="best")
    curves = {
        "net": s.cum_net_pnl_quote,
        "LP fees": s.cum_lp_fees_quote,
        "LP value + hedge": s.lp_value_quote - s.lp_value_quote[0] + s.cum_hedge_pnl_quote,
        "funding": s.cum_funding_quote,
        "−costs": -s.cum_costs_quote,
    }
    for label, values in curves.items():
        axes[2].plot(days, values, lw=0.8, label=label)
    axes[2].set_ylabel("cumulative PnL (quote)")
    axes[2].set_xlabel("days")
    axes[2].legend(loc="best")
    fig.suptitle(f"backtest: {result.rebalances} rebalances, net {result.net_pnl_quote:,.2f}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _threshold_arg(text: str) -> str:
    """``--threshold``: base units (``0.5``) or a percentage of delta (``5%``), finite and > 0."""
    number = text[:-1] if text.endswith("%") else text
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number or percentage: {text!r}") from None
    if not value.is_finite() or not math.isfinite(float(value)) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    if text.endswith("%") and value > 100:
        raise argparse.ArgumentTypeError(f"a percentage must be <= 100%, got {text!r}")
    return text


def _policy_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--policy`` member's fields, as the daemon's ``hedge:`` section names them."""
    timing = {"persistence_s": args.persistence_s, "backstop_s": args.backstop_s}
    if args.policy == "interval":
        return {"policy": "interval", "interval_s": args.interval_s, **timing}
    if args.policy == "band":
        cost_bps = Decimal(repr(args.taker_fee_bps)) + Decimal(repr(args.slippage_bps))
        return {
            "policy": "band",
            "risk_aversion": Decimal(str(args.risk_aversion)),
            "band_cost_bps": cost_bps,
            **timing,
        }
    text: str = args.threshold
    if text.endswith("%"):
        band = {"threshold_base": None, "threshold_fraction": Decimal(text[:-1]) / 100}
    else:
        band = {"threshold_base": Decimal(text), "threshold_fraction": None}
    return {"policy": "threshold", **band, **timing}


def _build(args: argparse.Namespace) -> tuple[PricePath, BacktestConfig]:
    if args.prices is not None:
        path = load_csv(Path(args.prices))
    else:
        path = gbm(
            steps=args.steps,
            step_s=args.step_seconds,
            sigma_annual=args.gbm_sigma,
            drift_annual=args.gbm_drift,
            start_price=args.start_price,
            seed=args.seed,
        )
    venue = VenueModel(
        taker_fee_bps=args.taker_fee_bps,
        slippage_bps=args.slippage_bps,
        funding_rate=args.funding_rate,
    )
    config = BacktestConfig(
        policy=parse_policy(_policy_fields(args)).build(),
        pool=PoolSpec(args.pool_kind, args.value_quote, args.range_pct),
        venue=venue,
        fees=FeeModel(args.fee_apr, args.fee_tier_bps, args.volume_per_day),
        hedge_ratio=args.hedge_ratio,
    )
    return path, config


def _policy_text(args: argparse.Namespace) -> str:
    """The policy and its band/interval parameter, as one line."""
    if args.policy == "interval":
        text = f"interval every {args.interval_s:g} s"
    elif args.policy == "band":
        text = f"cost-aware band, risk aversion {args.risk_aversion:g} /quote"
    else:
        text = f"threshold {args.threshold}" + ("" if args.threshold.endswith("%") else " base")
    if args.persistence_s:
        text += f", persistence {args.persistence_s:g} s"
    if args.backstop_s is not None:
        text += f", backstop {args.backstop_s:g} s"
    return text


def _path_text(args: argparse.Namespace) -> str:
    if args.prices is not None:
        return f"CSV {args.prices}"
    return (
        f"GBM sigma {args.gbm_sigma:g}/yr, drift {args.gbm_drift:g}/yr, "
        f"{args.steps:,} steps x {args.step_seconds:g} s, seed {args.seed}, "
        f"start {args.start_price:g}"
    )


def _pool_text(args: argparse.Namespace) -> str:
    pool = f"{args.pool_kind}" + (f" range ±{args.range_pct:.0%}" if args.pool_kind == "v3" else "")
    return f"{pool}, value {args.value_quote:,.0f} quote"


def parameters(args: argparse.Namespace) -> dict[str, str]:
    """The run's parameters as labelled lines (units in the text): price path, pool, LP fees,
    policy, hedge ratio and venue costs; printed above the results so a run can be read
    (and repeated) from its output alone."""
    fees = f"{args.fee_apr:.2%} APR on value"
    if args.fee_tier_bps:
        fees += (
            f" + {args.fee_tier_bps:g} bps x ({args.volume_per_day:,.0f} quote/day volume"
            " + the arbitrage volume of the price path)"
        )
    return {
        "price path": _path_text(args),
        "pool": _pool_text(args),
        "LP fees": fees,
        "policy": _policy_text(args),
        "hedge ratio": f"{args.hedge_ratio:g} x delta",
        "venue": (
            f"taker {args.taker_fee_bps:g} bps, slippage {args.slippage_bps:g} bps, "
            f"funding {args.funding_rate:g} per 8 h"
        ),
    }


_PARAMETER_ARGS = (
    "prices",
    "gbm_sigma",
    "gbm_drift",
    "steps",
    "step_seconds",
    "seed",
    "start_price",
    "pool_kind",
    "range_pct",
    "value_quote",
    "fee_apr",
    "fee_tier_bps",
    "volume_per_day",
    "policy",
    "threshold",
    "interval_s",
    "risk_aversion",
    "persistence_s",
    "backstop_s",
    "hedge_ratio",
    "taker_fee_bps",
    "slippage_bps",
    "funding_rate",
)


def _raw_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """Every parameter of the run by its option name (``--json``'s ``parameters``)."""
    return {name: getattr(args, name) for name in _PARAMETER_ARGS}


_PNL_NAMES = frozenset(name for name, _ in PARTS)


def _exact(value: float) -> Decimal:
    """A float figure as the Decimal of its shortest repr (``0.1`` is ``0.1``)."""
    return Decimal(repr(value))


def _figure(name: str, value: float | int) -> str:
    """A non-PnL figure for people, rounded like ``report`` (``bot.display``): counts with
    separators, days to 2 decimals, base to 4, quote to cents; never ``-0.0000``."""
    if isinstance(value, int):
        return f"{value:,}"
    if name.endswith("_base"):
        return fmt_base(_exact(value))
    if name.endswith("_quote"):
        return fmt_quote(_exact(value))
    return fmt_compact(_exact(value)) if abs(value) >= 1e6 else fmt_plain(_exact(value), 4)


def _print_table(result: BacktestResult, args: argparse.Namespace) -> None:
    """Parameters, then the attribution with ``report``'s rows, labels and rounding
    (:mod:`bot.pnl_table`: each part its signed contribution, costs negative), then the
    other figures."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    setup = Table(title="hedgebot backtest: parameters", show_header=False)
    setup.add_column("parameter")
    setup.add_column("value", overflow="fold")
    for name, text in parameters(args).items():
        setup.add_row(name, Text(text))  # a CSV path is shown literally, never as markup
    console.print(setup)
    summary = result.summary()
    parts = {name: _exact(value) for name, value in summary.items() if name in _PNL_NAMES}
    console.print(pnl_table("hedgebot backtest: PnL", parts, _exact(result.net_pnl_quote)))
    console.print(f"note: {COSTS_NOTE}")
    table = Table(title="hedgebot backtest: run")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in summary.items():
        if name not in _PNL_NAMES and name != "net_pnl_quote":
            table.add_row(name, _figure(name, value))
    console.print(table)


def _steps(text: str) -> int:
    """``--steps``: a whole number in 1..``MAX_STEPS`` (arrays are sized by it)."""
    steps = positive_int(text)
    if steps > MAX_STEPS:
        raise argparse.ArgumentTypeError(
            f"must be <= {MAX_STEPS} (four years of minute steps), got {text[:40]!r}"
        )
    return steps


def _overflowed(result: BacktestResult) -> list[str]:
    """Names of the summary figures that are not finite (inputs too large for a float)."""
    return [name for name, value in result.summary().items() if not math.isfinite(value)]


def _command(args: argparse.Namespace) -> int:
    try:
        path, config = _build(args)
        if len(path.prices) > MAX_STEPS + 1:
            raise ValueError(f"{len(path.prices)} prices: at most {MAX_STEPS + 1} are simulated")
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below
            result = run_backtest(path, config)
        overflowed = _overflowed(result)
        if overflowed:
            raise ValueError(
                f"results overflow a float ({', '.join(overflowed)}): use a smaller "
                "--value-quote or --start-price"
            )
    except (ValueError, OSError) as exc:
        print(f"backtest: {safe_str(exc)}", file=sys.stderr)  # noqa: T201
        return 2
    if args.plot is not None:
        plot_result(result, Path(args.plot))
    if args.json:
        body = {**result.summary(), "parameters": _raw_parameters(args)}
        print(json.dumps(body, allow_nan=False))  # noqa: T201
    else:
        _print_table(result, args)
    return 0


def add_subcommand(subparsers: Any) -> None:
    """Register ``backtest`` on an argparse subparsers object; sets ``args.func``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "backtest", help="offline backtest of a hedged LP position"
    )
    src = p.add_argument_group("price source (CSV, or seeded GBM)")
    src.add_argument("--prices", metavar="FILE.csv", help="timestamp,price[,funding_rate]")
    src.add_argument("--gbm-sigma", type=arg.SIGMA_ARG, default=0.8, help="annualised volatility")
    src.add_argument("--gbm-drift", type=arg.DRIFT_ARG, default=0.0, help="annualised drift")
    src.add_argument(
        "--steps", type=_steps, default=525_600, help=f"GBM steps, at most {MAX_STEPS}"
    )
    src.add_argument("--step-seconds", type=arg.STEP_SECONDS_ARG, default=60.0)
    src.add_argument("--seed", type=non_negative_int, default=1)
    src.add_argument("--start-price", type=arg.PRICE_ARG, default=2000.0)
    pool = p.add_argument_group("LP position")
    pool.add_argument("--pool-kind", choices=["v2", "v3"], default="v2")
    pool.add_argument(
        "--range-pct", type=arg.RANGE_PCT_ARG, default=0.2, help="V3: ±fraction, 0.2 = ±20%%"
    )
    pool.add_argument("--value-quote", type=arg.QUOTE_AMOUNT_ARG, default=100_000.0)
    pool.add_argument(
        "--fee-apr",
        type=arg.FEE_APR_ARG,
        default=DEFAULT_FEE_APR,
        help="LP fee income, a fraction of the position's value per year (0.10 = 10 %% "
        "APR; 0 = no fee income)",
    )
    pool.add_argument(
        "--fee-tier-bps",
        type=arg.BPS_ARG,
        default=0.0,
        help="volume model: the pool's fee tier in bps, earned on --volume-per-day AND on "
        "the arbitrage volume that moves the pool with the price (the position's own "
        "rebalancing, |change in base| x price each step; added even when "
        "--volume-per-day is 0)",
    )
    pool.add_argument(
        "--volume-per-day",
        type=arg.VOLUME_ARG,
        default=0.0,
        help="volume model: the position's share of the pool's non-arbitrage volume, quote "
        "per day (the arbitrage volume is added on top, see --fee-tier-bps)",
    )
    hedge = p.add_argument_group("hedge policy")
    hedge.add_argument("--policy", choices=["threshold", "interval", "band"], default="threshold")
    hedge.add_argument(
        "--threshold",
        type=_threshold_arg,
        default="5%",
        help="band: base units (0.5) or fraction of delta (5%%)",
    )
    hedge.add_argument("--interval-s", type=arg.POSITIVE_DURATION_ARG, default=3600.0)
    hedge.add_argument(
        "--risk-aversion", type=arg.RISK_AVERSION_ARG, default=1e-4, help="CARA, 1/quote"
    )
    hedge.add_argument("--persistence-s", type=arg.DURATION_ARG, default=0.0)
    hedge.add_argument("--backstop-s", type=arg.POSITIVE_DURATION_ARG, default=None)
    hedge.add_argument("--hedge-ratio", type=arg.HEDGE_RATIO_ARG, default=1.0)
    venue = p.add_argument_group("perp venue")
    venue.add_argument("--taker-fee-bps", type=arg.BPS_ARG, default=5.0)
    venue.add_argument("--slippage-bps", type=arg.BPS_ARG, default=1.0)
    venue.add_argument(
        "--funding-rate", type=arg.FUNDING_RATE_ARG, default=0.0, help="per 8 h, 0.0001 = 1 bp"
    )
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--plot", metavar="FILE.png", default=None)
    p.set_defaults(func=_command)
