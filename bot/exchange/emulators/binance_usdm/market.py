"""Binance USD-M public market data routes: exchange info, premium index and funding rate
history, book ticker and depth (one level), all served from the ``SimVenue``."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot.domain import FundingPayment
from bot.exchange.emulators.binance_usdm.context import BinanceContext
from bot.exchange.emulators.binance_usdm.wire import (
    decimals,
    int_param,
    wire_decimal,
)

__all__ = ["MarketRoutes"]

_PERPETUAL_DELIVERY_MS = 4133404800000  # what Binance reports as a perpetual's delivery date


class MarketRoutes:
    """``GET /fapi/v1/<path>`` public routes: ``routes()`` maps path to handler."""

    def __init__(self, ctx: BinanceContext) -> None:
        self.ctx = ctx

    def routes(self) -> dict[str, Callable[[dict[str, str]], Any]]:
        """Path under ``/fapi/v1/`` -> handler of the query parameters."""
        return {
            "ping": lambda _p: {},
            "time": lambda _p: {"serverTime": self.ctx.server_ms()},
            "exchangeInfo": self._exchange_info,
            "premiumIndex": self._premium_index,
            "fundingRate": self._funding_rate_history,
            "ticker/bookTicker": self._book_ticker,
            "depth": self._depth,
        }

    def _exchange_info(self, _params: dict[str, str]) -> dict[str, Any]:
        rules = self.ctx.venue.rules()
        tick, step = rules.price_tick, rules.amount_step
        filters = [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": wire_decimal(tick),
                "maxPrice": "1000000",
                "tickSize": wire_decimal(tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": wire_decimal(rules.min_amount),
                "maxQty": "100000",
                "stepSize": wire_decimal(step),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": wire_decimal(rules.min_amount),
                "maxQty": "10000",
                "stepSize": wire_decimal(step),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": wire_decimal(rules.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ]
        symbol = {
            "symbol": self.ctx.market_id,
            "pair": self.ctx.market_id,
            "contractType": "PERPETUAL",
            "deliveryDate": _PERPETUAL_DELIVERY_MS,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": self.ctx.base,
            "quoteAsset": self.ctx.quote,
            "marginAsset": self.ctx.settle,
            "pricePrecision": decimals(tick),
            "quantityPrecision": decimals(step),
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": filters,
            "orderTypes": ["LIMIT", "MARKET"],
            "timeInForce": ["GTC", "IOC"],
        }
        return {
            "timezone": "UTC",
            "serverTime": self.ctx.server_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 2400,
                },
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            ],
            "exchangeFilters": [],
            "assets": [
                {"asset": self.ctx.settle, "marginAvailable": True, "autoAssetExchange": "0"}
            ],
            "symbols": [symbol],
        }

    def _premium_entry(self) -> dict[str, Any]:
        quote = self.ctx.venue.quote()
        return {
            "symbol": self.ctx.market_id,
            "markPrice": wire_decimal(quote.mark_price),
            "indexPrice": wire_decimal(quote.index_price),
            "estimatedSettlePrice": wire_decimal(quote.index_price),
            "lastFundingRate": wire_decimal(quote.funding_rate),
            "interestRate": "0.00010000",
            "nextFundingTime": quote.next_funding_ts * 1000,
            "time": self.ctx.now_ms(),
        }

    def _premium_index(self, params: dict[str, str]) -> Any:
        if "symbol" in params:
            self.ctx.check_symbol(params)
            return self._premium_entry()
        return [self._premium_entry()]

    def _funding_rate_history(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self.ctx.check_symbol(params, required=False)
        start = int_param(params, "startTime") or 0
        end = int_param(params, "endTime") or 2**62
        limit = min(int_param(params, "limit") or 100, 1000)
        seen: dict[int, FundingPayment] = {}
        for payment in self.ctx.venue.funding_payments(0):
            seen.setdefault(payment.timestamp, payment)
        rows = [
            {
                "symbol": self.ctx.market_id,
                "fundingTime": ts,
                "fundingRate": wire_decimal(p.rate),
                "markPrice": wire_decimal(p.mark_price),
            }
            for ts, p in sorted(seen.items())
            if start <= ts <= end
        ]
        return rows[:limit]

    def _best(self) -> tuple[Decimal, Decimal]:
        quote = self.ctx.venue.quote()
        tick = self.ctx.venue.rules().price_tick
        bid = quote.bid if quote.bid is not None else quote.mark_price - tick
        ask = quote.ask if quote.ask is not None else quote.mark_price + tick
        return bid, ask

    def _book_ticker(self, params: dict[str, str]) -> Any:
        bid, ask = self._best()
        entry = {
            "symbol": self.ctx.market_id,
            "bidPrice": wire_decimal(bid),
            "bidQty": "1000",
            "askPrice": wire_decimal(ask),
            "askQty": "1000",
            "time": self.ctx.now_ms(),
            "lastUpdateId": self.ctx.now_ms(),
        }
        if "symbol" in params:
            self.ctx.check_symbol(params)
            return entry
        return [entry]

    def _depth(self, params: dict[str, str]) -> dict[str, Any]:
        self.ctx.check_symbol(params)
        int_param(params, "limit")  # one level is served whatever the limit; still validated
        bid, ask = self._best()
        now = self.ctx.now_ms()
        return {
            "lastUpdateId": now,
            "E": now,
            "T": now,
            "bids": [[wire_decimal(bid), "1000"]],
            "asks": [[wire_decimal(ask), "1000"]],
        }
