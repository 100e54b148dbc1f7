"""``hedgebot emulator``: serve a simulated venue in one venue's dialect until SIGINT/SIGTERM.

``--dialect binance_usdm`` (the default) serves the Binance USD-M REST dialect; other
dialects (``hyperliquid``) register their options and serve function in ``_DIALECTS``. A
standalone emulator runs on an ``OffsetClock``: the wall clock, moved forward by
``POST /_emulator/advance`` so funding times can be made to pass from outside.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from bot import cli_args
from bot.exchange.emulators.base import serve_until_signal
from bot.exchange.emulators.clock import OffsetClock
from bot.exchange.venue import VenueParams

__all__ = ["ENV_API_KEY", "ENV_API_SECRET", "add_subcommand", "run_emulator_command"]

_log = structlog.get_logger("hedgebot.exchange.emulator")

ENV_API_KEY = "HEDGEBOT_EMULATOR_API_KEY"
ENV_API_SECRET = "HEDGEBOT_EMULATOR_API_SECRET"  # noqa: S105 - an env var name, not a secret
DEFAULT_DIALECT = "binance_usdm"


@dataclass(frozen=True, slots=True)
class Dialect:
    """A dialect's extra options and its serve function (exit code)."""

    add_options: Callable[[Any], None]  # adds to a parser or an argument group
    serve: Callable[[argparse.Namespace], int]


def _binance_options(parser: Any) -> None:
    parser.add_argument(
        "--api-key",
        default=os.environ.get(ENV_API_KEY),
        help=f"the API key clients must send (required; or {ENV_API_KEY})",
    )
    parser.add_argument(
        "--api-secret",
        default=os.environ.get(ENV_API_SECRET),
        help=f"the API secret clients sign with (required; or {ENV_API_SECRET})",
    )


def _serve_binance(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; exit 2 without keys."""
    if not args.api_key or not args.api_secret:
        _log.error(
            "emulator.missing_keys",
            hint=f"pass --api-key/--api-secret or set {ENV_API_KEY}/{ENV_API_SECRET}",
        )
        return 2
    return asyncio.run(_serve_binance_async(args))


async def _serve_binance_async(args: argparse.Namespace) -> int:
    from bot.exchange.emulators.binance_usdm import start_emulator

    handle = await start_emulator(
        args.host, args.port, args.api_key, args.api_secret, VenueParams(), OffsetClock()
    )
    if args.mark_price is not None:
        handle.set_mark(args.mark_price)
    if args.funding_rate is not None:
        handle.set_funding_rate(args.funding_rate)
    _log.info("emulator.ccxt_urls", urls=handle.ccxt_urls())
    await serve_until_signal(handle.close)
    return 0


def _optional_dialect(module: str, add_options: str, serve: str) -> Dialect | None:
    """A dialect living in ``module``, or None while that module is not there."""
    try:
        loaded: Any = importlib.import_module(module)
    except ImportError:
        return None
    return Dialect(getattr(loaded, add_options), getattr(loaded, serve))


def _dialects() -> dict[str, Dialect]:
    dialects = {DEFAULT_DIALECT: Dialect(_binance_options, _serve_binance)}
    hyperliquid = _optional_dialect(
        "bot.exchange.emulators.hyperliquid.serve", "add_hyperliquid_dialect", "serve_hyperliquid"
    )
    if hyperliquid is not None:
        dialects["hyperliquid"] = hyperliquid
    return dialects


def add_subcommand(subparsers: Any) -> None:
    """Register ``hedgebot emulator [--dialect D] --port P ...`` (Binance: ``--api-key K
    --api-secret S``)."""
    parser = subparsers.add_parser(
        "emulator", help="serve the simulated venue over a venue's REST dialect (Binance USD-M)"
    )
    dialects = _dialects()
    parser.add_argument(
        "--dialect",
        choices=sorted(dialects),
        default=DEFAULT_DIALECT,
        help="the venue whose API is served (default: %(default)s)",
    )
    parser.add_argument("--host", type=cli_args.host, default="127.0.0.1")
    parser.add_argument("--port", type=cli_args.port_or_zero, default=8765)
    parser.add_argument(
        "--mark-price", type=cli_args.positive_decimal, default=None, help="initial mark price"
    )
    parser.add_argument(
        "--funding-rate",
        type=cli_args.rate,
        default=None,
        help="funding rate per interval, a fraction in (-1, 1)",
    )
    for name, dialect in dialects.items():  # each dialect's options in its own help section
        dialect.add_options(parser.add_argument_group(f"--dialect {name} only"))
    parser.set_defaults(func=run_emulator_command)


def run_emulator_command(args: argparse.Namespace) -> int:
    """Serve the chosen dialect until SIGINT/SIGTERM; its exit code."""
    return _dialects()[getattr(args, "dialect", DEFAULT_DIALECT)].serve(args)
