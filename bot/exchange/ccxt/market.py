"""The hedge symbol's ccxt market, read once at start: checked to be a linear perpetual, and
its precision and limits as ``MarketRules``."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import ccxt
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

from bot import errors
from bot.domain import MarketRules
from bot.exchange.ccxt import parse
from bot.exchange.ccxt.fields import mapping
from bot.exchange.ccxt.settings import CcxtPerpSettings

__all__ = ["read_market", "rules_of"]


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
    """Precision and limits of ``market`` (``parse.rules_from_market``); ``ExchangeError`` for
    a ccxt precision mode other than tick size or decimal places."""
    mode = client.precisionMode
    if mode not in (TICK_SIZE, DECIMAL_PLACES):
        raise errors.ExchangeError(f"unsupported ccxt precisionMode {mode}")
    return parse.rules_from_market(
        market,
        symbol=symbol,
        contract_size=contract_size,
        precision_mode="tick" if mode == TICK_SIZE else "decimals",
    )
