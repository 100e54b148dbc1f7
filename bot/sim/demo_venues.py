"""The demo's perp venue: paper comes from the local world (``LocalWorld.open_exchange``);
``emulator`` is the real ccxt ``binanceusdm`` client against the Binance emulator and
``hyperliquid`` the real ccxt ``hyperliquid`` client against the Hyperliquid emulator over
HTTP, signed by an approved agent wallet. ``open_demo_venue`` also returns the ``exchange``
section of what ran (``kind: ccxt``, the venue, its emulator's URLs, the fees that ran), the
one the demo writes into its work dir, so ``report``/``status --config`` describe the run.

The Hyperliquid venue keeps Hyperliquid's economics (``hyperliquid_venue_params``: 4.5 bp
taker, hourly funding, 0.0001 ETH step, $10 minimum) with the demo config's starting balance,
leverage and margin mode; the hedge symbol is ``ETH/USDC:USDC``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, NamedTuple

from eth_account import Account

from bot.clock import ManualClock
from bot.config import ExchangeConfig, Settings
from bot.exchange.venue import VenueParams
from bot.ports import PerpExchange
from bot.sim.localnet import EMULATOR_KEY, EMULATOR_SECRET, LocalWorld

__all__ = [
    "DEMO_HL_AGENT_KEY",
    "DEMO_HL_MASTER_KEY",
    "HL_DEMO_SYMBOL",
    "DemoExchange",
    "DemoVenue",
    "open_demo_exchange",
    "open_demo_venue",
]

DemoVenue = Literal["paper", "emulator", "hyperliquid"]
HL_DEMO_SYMBOL = "ETH/USDC:USDC"
# local throwaway keys of the demo's emulated account and its API (agent) wallet
DEMO_HL_MASTER_KEY = "0x" + "d1" * 32
DEMO_HL_AGENT_KEY = "0x" + "d2" * 32


def demo_settings(settings: Settings, venue: DemoVenue) -> Settings:
    """``settings`` with the hedge symbol of ``venue`` (Hyperliquid margins ETH in USDC)."""
    if venue != "hyperliquid":
        return settings
    exchange = settings.exchange.model_copy(update={"symbol": HL_DEMO_SYMBOL})
    return settings.model_copy(update={"exchange": exchange})


class DemoExchange(NamedTuple):
    """The demo's venue, a setter that moves its mark, and the ``exchange`` section of what
    really ran (the demo writes it into its work dir's config)."""

    exchange: PerpExchange
    set_mark: Callable[[Decimal], None]
    config: ExchangeConfig


def _ccxt_config(base: ExchangeConfig, **update: Any) -> ExchangeConfig:
    """``base`` as a ``kind: ccxt`` section with ``update`` applied, validated."""
    return ExchangeConfig.model_validate({**base.model_dump(), "kind": "ccxt", **update})


def _economics(params: VenueParams) -> dict[str, Any]:
    """A ``paper`` section's economics fields from the emulated venue's ``params``."""
    names = ["taker_fee_bps", "maker_fee_bps", "funding_rate", "funding_interval_s"]
    names += ["amount_step", "price_tick", "min_amount", "min_notional"]
    names += ["slippage_bps_base", "slippage_bps_per_base"]
    return {name: getattr(params, name) for name in names}


async def open_demo_venue(
    stack: AsyncExitStack,
    venue: DemoVenue,
    world: LocalWorld,
    settings: Settings,
    clock: ManualClock,
    workdir: Path,
) -> DemoExchange:
    """The demo's venue (closed with ``stack``). ``paper``: the in-process paper venue, as
    configured. ``emulator``: ccxt ``binanceusdm`` against the Binance emulator with the
    config's paper economics. ``hyperliquid``: ccxt ``hyperliquid`` against the Hyperliquid
    emulator with Hyperliquid's (``config.paper`` then holds those: the fees that ran)."""
    if venue == "paper":
        exchange, set_mark = await world.open_exchange(stack, venue, settings, clock, workdir)
        return DemoExchange(exchange, set_mark, settings.exchange)
    from bot.exchange.ccxt import CcxtPerpExchange, CcxtPerpSettings

    if venue == "emulator":
        from bot.exchange.emulators.binance_usdm import start_emulator
        from bot.exchange.paper import venue_params

        handle = await start_emulator(
            "127.0.0.1", 0, EMULATOR_KEY, EMULATOR_SECRET, venue_params(settings.exchange), clock
        )
        stack.push_async_callback(handle.close)
        ran = _ccxt_config(
            settings.exchange,
            exchange_id="binanceusdm",
            api_key=EMULATOR_KEY,
            api_secret=EMULATOR_SECRET,
            urls=handle.ccxt_urls(),
        )
        exchange = CcxtPerpExchange(CcxtPerpSettings.from_config(ran), clock)
        return DemoExchange(exchange, handle.venue.set_mark, ran)
    from bot.exchange.emulators.hyperliquid import (
        hyperliquid_venue_params,
        start_hyperliquid_emulator,
    )

    master, agent = Account.from_key(DEMO_HL_MASTER_KEY), Account.from_key(DEMO_HL_AGENT_KEY)
    paper = settings.exchange.paper
    params = replace(
        hyperliquid_venue_params(),
        initial_balance=paper.initial_balance,
        leverage=settings.exchange.leverage,
        margin_mode=settings.exchange.margin_mode,
    )
    hl = await start_hyperliquid_emulator(
        "127.0.0.1", 0, master.address, clock, agents=[agent.address], venue_params=params
    )
    stack.push_async_callback(hl.close)
    ran = _ccxt_config(
        settings.exchange,
        exchange_id="hyperliquid",
        symbol=HL_DEMO_SYMBOL,
        sandbox=True,
        wallet_address=master.address,
        api_secret=DEMO_HL_AGENT_KEY,
        urls=hl.ccxt_urls(),
        paper={**paper.model_dump(), **_economics(params)},
    )
    # loopback: ccxt's 50 ms spacing would only add latency
    ccxt = replace(CcxtPerpSettings.from_config(ran), enable_rate_limit=False)
    return DemoExchange(CcxtPerpExchange(ccxt, clock), hl.set_mark, ran)


async def open_demo_exchange(
    stack: AsyncExitStack,
    venue: DemoVenue,
    world: LocalWorld,
    settings: Settings,
    clock: ManualClock,
    workdir: Path,
) -> tuple[PerpExchange, Callable[[Decimal], None]]:
    """The demo's venue (closed with ``stack``) and a setter that moves its mark
    (``open_demo_venue`` without the section)."""
    ran = await open_demo_venue(stack, venue, world, settings, clock, workdir)
    return ran.exchange, ran.set_mark
