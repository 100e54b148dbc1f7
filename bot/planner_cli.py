"""``hedgebot plan``: read chain, venue and the store's price history once, then plan.

Reads only: no store is created or migrated (the store is opened read-only, when it exists),
the paper venue is read-only, nothing is sent to any venue but reads. The computation is
``bot.planner.plan_hedge``; :func:`make_plan` is what a dashboard endpoint awaits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

from web3 import AsyncWeb3

from bot import cli_args
from bot.chain.multicall import encode_call
from bot.chain.multichain import MultiChainReader, build_chain_reader
from bot.chain.reader import LpChainReader
from bot.chain.rpc import eth_call, load_abi
from bot.clock import WallClock
from bot.config import Settings, load_config, secret_urls
from bot.config_chains import chain_tokens, primary_chain
from bot.core.v3 import PairDecimals
from bot.domain import ChainSnapshot
from bot.errors import ChainError, ExchangeError
from bot.exchange.read_only import start_for_reading
from bot.logging import configure_logging
from bot.planner import (
    MAX_SIGMA,
    ForecastModel,
    FundingView,
    MarginModel,
    PlanInputs,
    PlanResult,
    PositionCurve,
    plan_hedge,
    v2_curve,
    v3_curve,
)
from bot.planner_history import observed_sigma
from bot.safety import describe_exc, restore_recursion_limit
from bot.sim.backtest import VenueModel

__all__ = [
    "DEFAULT_SIGMA",
    "add_subcommand",
    "make_plan",
    "observed_sigma",
    "pair_decimals",
    "read_chain",
    "render_plan",
    "token_decimals",
]

DEFAULT_SIGMA = 0.8  # annualised, when the store has no history and none is given
MAX_DAYS = 365


NATIVE_DECIMALS = 18  # native ETH (address 0, V4's currency0): wei per ether


async def token_decimals(w3: AsyncWeb3[Any], token: str, block: int) -> int:
    """``decimals()`` of ERC-20 ``token`` at ``block``; 18 for native ETH (address 0, which
    has no contract to ask). Raises ``ChainError`` when the call fails."""
    if int(token, 16) == 0:
        return NATIVE_DECIMALS
    call = encode_call("token.decimals", token, load_abi("erc20"), "decimals")
    return int(call.decode(await eth_call(w3, call.target, call.data, block))[0])


async def pair_decimals(
    reader: LpChainReader | MultiChainReader, settings: Settings, snapshot: ChainSnapshot
) -> dict[str | None, PairDecimals]:
    """Each chain's ordering (token0 is the lower address, as Uniswap sorts them; native ETH,
    address 0, first) and decimals, by the ``chain`` of the concentrated (``v3``) positions
    of ``snapshot``, read from that chain at its block of the snapshot."""
    blocks = dict(snapshot.blocks)
    out: dict[str | None, PairDecimals] = {}
    for chain in dict.fromkeys(p.chain for p in snapshot.positions if p.kind == "v3"):
        name = chain or primary_chain(settings)
        w3 = reader.w3 if isinstance(reader, LpChainReader) else reader.chains[name].reader.w3
        block = blocks.get(name, snapshot.block_number)
        base, quote = chain_tokens(settings, name)
        decimals = [await token_decimals(w3, token, block) for token in (base, quote)]
        out[chain] = PairDecimals(int(base, 16) < int(quote, 16), decimals[0], decimals[1])
    return out


def _curves(
    snapshot: ChainSnapshot, pairs: dict[str | None, PairDecimals]
) -> tuple[PositionCurve, ...]:
    curves = []
    for exposure in snapshot.positions:
        if exposure.kind == "v3":
            curves.append(v3_curve(exposure, pairs[exposure.chain]))
        else:
            curves.append(v2_curve(exposure))
    return tuple(curves)


async def _venue_view(
    settings: Settings, price: Decimal
) -> tuple[Decimal, FundingView, Decimal | None, VenueModel]:
    """(mark, funding, wallet balance, cost model) from the venue; the configured paper
    rates when the venue cannot be read (a ccxt config without keys in the environment)."""
    paper = settings.exchange.paper
    venue_model = VenueModel(
        taker_fee_bps=float(paper.taker_fee_bps),
        slippage_bps=float(paper.slippage_bps_base),
        funding_rate=float(paper.funding_rate),
        funding_interval_s=float(paper.funding_interval_s),
        amount_step=float(paper.amount_step),
        min_amount=float(paper.min_amount),
        min_notional=float(paper.min_notional),
    )
    configured = FundingView(
        paper.funding_rate, paper.funding_interval_s, "config exchange.paper.funding_rate"
    )
    if settings.exchange.missing_secrets():
        return price, configured, None, venue_model
    from bot.app import build_exchange

    async with AsyncExitStack() as stack:
        venue = build_exchange(settings, WallClock(), read_only=True)
        stack.push_async_callback(venue.close)
        try:
            await start_for_reading(venue)  # sets nothing on the account
            setter = getattr(venue, "set_reference_price", None)
            if settings.exchange.kind == "paper" and setter is not None:
                setter(price)
            quote = await venue.quote()
            balance = await venue.balance()
        except ExchangeError as exc:
            note = f"{configured.source} (venue unreadable: {describe_exc(exc)})"
            return (
                price,
                FundingView(configured.rate, configured.interval_s, note),
                None,
                venue_model,
            )
    source = "venue quote" if settings.exchange.kind == "ccxt" else "paper venue (config rate)"
    funding = FundingView(quote.funding_rate, configured.interval_s, source)
    return quote.mark_price, funding, balance.wallet_balance, venue_model


async def read_chain(
    settings: Settings,
) -> tuple[ChainSnapshot, dict[str | None, PairDecimals], dict[str, int]]:
    """Every chain of ``settings`` read once at its latest block, as the daemon reads them
    (``build_chain_reader``: the multi-chain reader for several chains): the snapshot, each
    chain's pair ordering and decimals (:func:`pair_decimals`) and each chain's id by name.
    Raises ``ChainError`` (incl. ``PositionReadError``) naming the chain that failed,
    ``ConfigError`` when the pools do not hold the configured pair."""
    reader = build_chain_reader(settings, WallClock())
    try:
        await reader.start()
        snapshot = await reader.snapshot(await reader.latest_block())
        pairs = await pair_decimals(reader, settings, snapshot)
        if isinstance(reader, LpChainReader):
            chain_ids = {primary_chain(settings): int(await reader.w3.eth.chain_id)}
        else:
            chain_ids = {n: int(await c.reader.w3.eth.chain_id) for n, c in reader.chains.items()}
    finally:
        await reader.close()
    return snapshot, pairs, chain_ids


Offload = Callable[[Callable[[], PlanResult]], Awaitable[PlanResult]]


async def _to_thread(compute: Callable[[], PlanResult]) -> PlanResult:
    return await asyncio.to_thread(compute)


async def make_plan(
    settings: Settings,
    *,
    sigma: float | None = None,
    days: int = 30,
    offload: Offload = _to_thread,
) -> PlanResult:
    """Read the chain at its latest block, the venue and the store's history, then plan.

    ``sigma`` (annualised) overrides the observed volatility. The CPU part (the store's
    history, the grid and the backtest) runs through ``offload`` (a thread of its own; the
    daemon passes its bounded planner thread). Raises ``ChainError`` (incl.
    ``PositionReadError``) when the chain cannot be read, ``ConfigError`` when the pools do
    not hold the configured pair.
    """
    restore_recursion_limit()
    snapshot, pairs, _ = await read_chain(settings)
    mark, funding, wallet, venue_model = await _venue_view(settings, snapshot.price)

    def compute() -> PlanResult:
        from bot.app import build_policy

        if sigma is not None:
            sigma_annual, sigma_source = sigma, "given (--sigma)"
        else:  # the store's I/O and decoding stay in this thread too, on a loop of its own
            observed = asyncio.run(observed_sigma(settings))
            if observed.sigma is None:
                sigma_annual = DEFAULT_SIGMA
                sigma_source = f"default {DEFAULT_SIGMA} (no history: {observed.source})"
            else:
                sigma_annual, sigma_source = observed.sigma, observed.source
        inputs = PlanInputs(
            block=snapshot.block_number,
            block_timestamp=snapshot.block_timestamp,
            price=snapshot.price,
            mark_price=mark,
            delta_base=snapshot.delta_base,
            value_quote=sum((p.value_quote for p in snapshot.positions), Decimal(0)),
            curves=_curves(snapshot, pairs),
            wallet_base=snapshot.wallet_base,
            funding=funding,
            margin=MarginModel(settings.exchange.leverage, settings.exchange.margin_mode, wallet),
            forecast=ForecastModel(
                policy=build_policy(settings),
                hedge_ratio=float(settings.hedge.ratio),
                venue=VenueModel(**{**_fields(venue_model), "funding_rate": float(funding.rate)}),
                sigma_annual=sigma_annual,
                sigma_source=sigma_source,
                days=days,
            ),
            hedge_ratio=settings.hedge.ratio,
        )
        return plan_hedge(inputs)

    return await offload(compute)


def _fields(model: VenueModel) -> dict[str, Any]:
    return {name: getattr(model, name) for name in model.__dataclass_fields__}


def _short(value: str | None, places: int = 4) -> str:
    if value is None:
        return "-"
    return f"{Decimal(value):,.{places}f}"


def render_plan(plan: dict[str, Any]) -> None:
    """The plan as tables that fit 80 columns."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=80)
    console.print(
        f"block {plan['block']}  price {_short(plan['price'], 2)}  mark "
        f"{_short(plan['mark_price'], 2)}  delta {_short(plan['delta_base'])}  "
        f"value {_short(plan['value_quote'], 2)}"
    )
    grid = Table("move", "price", "value (quote)", "delta (base)", "range edge", title="grid")
    for row in plan["grid"]:
        grid.add_row(
            f"{Decimal(row['move_pct']):+.1f}%",
            _short(row["price"], 2),
            _short(row["value_quote"], 2),
            _short(row["delta_base"]),
            row["edge"] or "",
        )
    console.print(grid)
    funding = plan["funding"]
    hedges = Table(
        "ratio", "hedge", "margin", "liq. price", "distance", "funding/day",
        title=f"hedges at {plan['leverage']}x {plan['margin_mode']}; funding "
        f"{funding['rate']} per {funding['interval_s']} s ({funding['source']})",
    )  # fmt: skip
    for h in plan["hedges"]:
        hedges.add_row(
            h["ratio"],
            _short(h["hedge_base"]),
            _short(h["margin_quote"], 2),
            _short(h["liquidation_price"], 2),
            "-" if h["liquidation_distance_pct"] is None else f"{h['liquidation_distance_pct']}%",
            _short(h["funding_per_day_quote"], 2),
        )
    console.print(hedges)
    f = plan["forecast"]
    console.print(
        f"policy over {f['days']} days at sigma {f['sigma_annual']} ({f['sigma_source']}): "
        f"{f['expected_rebalances']} rebalances, cost {f['expected_cost_quote']}, "
        f"funding {f['expected_funding_quote']} (quote)\n{f['model']}"
    )


def _plan_command(args: argparse.Namespace) -> int:
    settings = load_config(Path(args.config), require_secrets=False)
    configure_logging("warning", settings.logging.format, secret_urls(settings))
    try:
        result = asyncio.run(make_plan(settings, sigma=args.sigma, days=args.days))
    except ChainError as exc:
        print(f"plan: {describe_exc(exc)}", file=sys.stderr)  # noqa: T201
        return 1
    plan = result.as_dict()
    if args.json:
        print(json.dumps(plan, indent=2))  # noqa: T201
    else:
        render_plan(plan)
    return 0


def _sigma_arg(text: str) -> float:
    value = cli_args.non_negative_float(text)
    if value > MAX_SIGMA:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_SIGMA:g} (annualised), got {text!r}")
    return value


def _days_arg(text: str) -> int:
    value = cli_args.positive_int(text)
    if value > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_DAYS}, got {text!r}")
    return value


def add_subcommand(subparsers: Any) -> None:
    """Register ``plan`` on an argparse subparsers object; sets ``args.func``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "plan", help="hedge planner: delta/value grid, hedge ratios, liquidation, funding, cost"
    )
    p.add_argument("--config", required=True, type=cli_args.config_path)
    p.add_argument("--json", action="store_true", help="one JSON object, numbers as strings")
    p.add_argument(
        "--sigma",
        type=_sigma_arg,
        default=None,
        help="annualised volatility for the forecast (default: observed in the store)",
    )
    p.add_argument("--days", type=_days_arg, default=30, help="forecast horizon (days)")
    p.set_defaults(func=_plan_command)
