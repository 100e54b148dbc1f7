"""The hedge symbol's ccxt market, read once at start: checked to be a linear perpetual, and
its precision and limits as ``MarketRules``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, Literal

import ccxt
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

from bot import errors
from bot.domain import MarketRules
from bot.exchange.ccxt import parse
from bot.exchange.ccxt.fields import mapping
from bot.exchange.ccxt.settings import CcxtPerpSettings

__all__ = ["MIN_NOTIONAL_PRICE", "read_market", "rules_of"]

# The price each venue values an order at for its minimum order value, where it is not the
# mark: Hyperliquid's "Order must have minimum value of $10" is size x the order's limit price
# (the IOC cap the adapter sends), so a sell of 0.005 capped at 1990 is refused though it is
# $10 at a 2000 mark. Binance USD-M is checked at the mark (as its emulator does).
MIN_NOTIONAL_PRICE: Mapping[str, Literal["mark", "limit"]] = {"hyperliquid": "limit"}


def read_market(client: Any, settings: CcxtPerpSettings) -> Mapping[str, Any]:
    """The loaded ccxt market of ``settings.symbol``; ``ConfigError`` when the venue has no
    such market or it is not a linear perpetual."""
    try:
        market = mapping(client.market(settings.symbol), "market")
    except ccxt.BadSymbol as exc:
        raise errors.ConfigError(f"{settings.exchange_id} has no market {settings.symbol}") from exc
    if not (market.get("swap") and market.get("linear")):
        raise errors.ConfigError(
            f"{settings.symbol} is not a linear perpetual on {settings.exchange_id}"
        )
    return market


def rules_of(
    client: Any, market: Mapping[str, Any], symbol: str, contract_size: Decimal
) -> MarketRules:
    """Precision and limits of ``market`` (``parse.rules_from_market``), with the price the
    venue checks its minimum order value at (``MIN_NOTIONAL_PRICE``); ``ExchangeError`` for
    a ccxt precision mode other than tick size or decimal places."""
    mode = client.precisionMode
    if mode not in (TICK_SIZE, DECIMAL_PLACES):
        raise errors.ExchangeError(f"unsupported ccxt precisionMode {mode}")
    rules = parse.rules_from_market(
        market,
        symbol=symbol,
        contract_size=contract_size,
        precision_mode="tick" if mode == TICK_SIZE else "decimals",
    )
    return replace(rules, min_notional_price=MIN_NOTIONAL_PRICE.get(str(client.id), "mark"))
