"""Start the Hyperliquid emulator in-process (``start_hyperliquid_emulator``) or standalone
(``hedgebot emulator --dialect hyperliquid``: ``add_hyperliquid_dialect`` + ``serve_hyperliquid``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog

from bot import errors
from bot.exchange.emulators.base import RunningServer, serve_app, serve_until_signal
from bot.exchange.emulators.clock import AdvancingClock, OffsetClock
from bot.exchange.emulators.hyperliquid.accounts import AccountRegistry
from bot.exchange.emulators.hyperliquid.server import HyperliquidEmulator, hyperliquid_venue_params
from bot.exchange.venue import SimVenue, VenueParams

__all__ = [
    "ENV_MASTER",
    "HyperliquidHandle",
    "add_hyperliquid_dialect",
    "serve_hyperliquid",
    "start_hyperliquid_emulator",
]

_log = structlog.get_logger("hedgebot.exchange.emulators.hyperliquid")

ENV_MASTER = "HEDGEBOT_HL_EMULATOR_MASTER"
ENV_AGENTS = "HEDGEBOT_HL_EMULATOR_AGENTS"  # comma-separated agent (API wallet) addresses


@dataclass
class HyperliquidHandle:
    """A running emulator: its address, the emulator object and Python fault switches."""

    server: RunningServer
    emulator: HyperliquidEmulator

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        return self.server.url

    def ccxt_urls(self) -> dict[str, str]:
        """ccxt hyperliquid ``urls['api']`` pointed here (set after ``set_sandbox_mode``)."""
        return {"public": self.base_url, "private": self.base_url}

    def admin(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one admin action (see ``HyperliquidEmulator.admin``)."""
        return self.emulator.admin(action, body or {})

    def set_mark(self, price: Decimal) -> None:
        """Move the mark (and oracle) price."""
        self.admin("mark", {"price": str(price)})

    def set_funding_rate(self, rate: Decimal) -> None:
        """The hourly funding rate from now on."""
        self.admin("funding_rate", {"rate": str(rate)})

    def advance_clock(self, seconds: float) -> None:
        """Move the venue clock forward and settle the funding that fell due."""
        self.admin("advance", {"seconds": seconds})

    def approve_agent(self, address: str) -> None:
        """Approve an API wallet for the master account."""
        self.admin("approve_agent", {"address": address})

    async def close(self) -> None:
        """Stop serving."""
        await self.server.close()


async def start_hyperliquid_emulator(
    host: str,
    port: int,
    master: str,
    clock: AdvancingClock,
    *,
    agents: Iterable[str] = (),
    other_masters: Mapping[str, Iterable[str]] | None = None,
    vault: str | None = None,
    venue_params: VenueParams | None = None,
    venue: SimVenue | None = None,
    mainnet: bool = False,
) -> HyperliquidHandle:
    """Serve a fresh ``SimVenue`` (or ``venue``) for ``master`` on ``host:port`` (0: free port).

    ``other_masters``: further accounts (no simulated state) and their API wallets, known to
    ``userRole`` / ``extraAgents``. Raises ``ConfigError`` without a master address."""
    if not master:
        raise errors.ConfigError("the Hyperliquid emulator needs a master account address")
    params = venue_params or hyperliquid_venue_params()
    venue = venue if venue is not None else SimVenue(params, clock)
    others = {m: set(a) for m, a in (other_masters or {}).items()}
    registry = AccountRegistry(master=master, vault=vault, agents=set(agents), other_masters=others)
    emulator = HyperliquidEmulator(venue, clock, registry, mainnet=mainnet)
    server = await serve_app(emulator.app(), host, port, name="emulator.hyperliquid")
    return HyperliquidHandle(server=server, emulator=emulator)


def add_hyperliquid_dialect(parser: Any) -> None:
    """Add the Hyperliquid options to ``hedgebot emulator`` (used with ``--dialect
    hyperliquid``): ``--master``, ``--agent`` (repeatable), ``--vault``, ``--mainnet``."""
    parser.add_argument(
        "--master",
        default=os.environ.get(ENV_MASTER),
        help=f"the master account's address (required; or {ENV_MASTER})",
    )
    parser.add_argument(
        "--agent",
        action="append",
        default=[a for a in os.environ.get(ENV_AGENTS, "").split(",") if a],
        help="an approved API (agent) wallet address; repeatable",
    )
    parser.add_argument("--vault", default=None, help="vault / sub-account address to trade")
    parser.add_argument(
        "--mainnet", action="store_true", help="expect mainnet signatures (default: testnet)"
    )


def serve_hyperliquid(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM on an ``OffsetClock``; exit 2 without a master address.

    Reads ``host``, ``port``, ``master``, ``agent``, ``vault``, ``mainnet`` and the optional
    ``mark_price`` / ``funding_rate`` of the ``hedgebot emulator`` parser."""
    if not args.master:
        _log.error("emulator.missing_master", hint=f"pass --master or set {ENV_MASTER}")
        return 2
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    handle = await start_hyperliquid_emulator(
        args.host,
        args.port,
        args.master,
        OffsetClock(),
        agents=args.agent or (),
        vault=args.vault,
        mainnet=bool(args.mainnet),
    )
    if getattr(args, "mark_price", None) is not None:
        handle.set_mark(args.mark_price)
    if getattr(args, "funding_rate", None) is not None:
        handle.set_funding_rate(args.funding_rate)
    _log.info("emulator.ccxt_urls", urls=handle.ccxt_urls(), sandbox=not args.mainnet)
    await serve_until_signal(handle.close)
    return 0
