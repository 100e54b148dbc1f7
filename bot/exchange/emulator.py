r"""An HTTP facade of ``SimVenue`` speaking the Binance USD-M futures REST dialect.

An unmodified ccxt ``binanceusdm`` client whose ``urls['api']`` point here trades against the
simulated venue, so the live adapter (``ccxt_perp.py``) is tested and demoed offline::

    client = ccxt.async_support.binanceusdm({"apiKey": key, "secret": secret})
    client.urls["api"].update(handle.ccxt_urls())   # or the dict printed by `hedgebot emulator`

Signed endpoints check ``X-MBX-APIKEY``, ``timestamp``/``recvWindow`` and the HMAC-SHA256
``signature`` the way Binance does, and errors are Binance JSON (``{"code": -2019, ...}``) with
Binance's HTTP statuses. Only one-way mode, one symbol and MARKET, LIMIT-IOC and LIMIT-GTC
orders exist; a GTC order that does not cross rests (``openOrders``, cancel) until the mark
reaches it.

Fault switches (Python methods on ``EmulatorHandle`` and unsigned ``POST /_emulator/...``):
drop the response of the next accepted order, answer 429 to N requests (optionally after M
answered normally), answer the next order (or any one endpoint) with an HTTP 5xx Binance error
without acting on it, add latency, force the next IOC order to fill partially, set mark and
funding rate, advance the clock; and hostile or broken answers: position rows with fields
nulled or removed, leverage changes refused (-2027), a host clock ahead of the venue (-1021),
the next answer a deeply nested or an oversized JSON body.

Every numeric request parameter goes through one parser (``_wire_number``) with Binance's own
rules: text outside ``^([0-9]{1,20})(\.[0-9]{1,20})?$`` (decimals) or ``^[0-9]{1,20}$``
(integers) is -1100 "Illegal characters", a missing mandatory one -1102, both HTTP 400.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl

import structlog
from aiohttp import web

from bot import cli_args, errors
from bot.domain import Fill, FundingPayment, Order, OrderIntent, OrderStatus, PerpPosition, Side
from bot.exchange.emulator_faults import (
    LEVERAGE_REFUSALS,
    EmulatorFaults,
    HostileAnswer,
    RequestFailure,
    admin_number,
    apply_fault,
    hostile_response,
)
from bot.exchange.venue import SimVenue, VenueParams
from bot.ports import Clock
from bot.safety import MAX_COMMAND_BYTES, describe_exc, loads_bounded

__all__ = [
    "EmulatorFaults",
    "EmulatorHandle",
    "HostileAnswer",
    "RequestFailure",
    "add_subcommand",
    "start_emulator",
]

_log = structlog.get_logger("bot.exchange.emulator")

ENV_API_KEY = "HEDGEBOT_EMULATOR_API_KEY"
ENV_API_SECRET = "HEDGEBOT_EMULATOR_API_SECRET"  # noqa: S105 - an env var name, not a secret

_DEFAULT_RECV_WINDOW_MS = 5000
_MAX_RECV_WINDOW_MS = 60_000
_WEEK_MS = 7 * 24 * 3600 * 1000
_PERPETUAL_DELIVERY_MS = 4133404800000  # what Binance reports as a perpetual's delivery date
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_FIRST_ORDER_ID = 8_000_000_001

_Handler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]


class AdvancingClock(Clock, Protocol):
    """A clock the emulator can move (``bot.clock.ManualClock``)."""

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        ...


class BinanceError(Exception):
    """A Binance-style error response."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


# ------------------------------------------------------------------ wire format


def _s(value: Decimal | int | None) -> str:
    """Decimal to Binance's plain decimal text (no exponent)."""
    if value is None:
        return "0"
    text = format(Decimal(value), "f")
    return text


_DECIMAL_WIRE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
# numeric order parameters the emulator does not act on: still only Binance-legal text
_OTHER_DECIMAL_ORDER_PARAMS = ("stopPrice", "activationPrice", "callbackRate", "priceRate")
_OTHER_INT_ORDER_PARAMS = ("goodTillDate",)
_INTEGER_WIRE = re.compile(r"^[0-9]{1,20}$")
_MAX_WIRE_INT = 2**63 - 1


def _wire_number(params: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> str | None:
    """The one parser of numeric request parameters: the raw text when it is Binance-legal,
    None when absent; -1100 for anything else (1e400, nan, -1, abc, 1e999, ...)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not pattern.fullmatch(raw):
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '{pattern.pattern}'.",
        )
    return raw


def _mandatory(name: str) -> BinanceError:
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def _dec_param(params: Mapping[str, str], name: str, required: bool = True) -> Decimal | None:
    raw = _wire_number(params, name, _DECIMAL_WIRE)
    if raw is None:
        if required:
            raise _mandatory(name)
        return None
    return Decimal(raw)


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = _wire_number(params, name, _INTEGER_WIRE)
    if raw is None:
        return None
    value = int(raw)
    if value > _MAX_WIRE_INT:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'.")
    return value


def _error_response(exc: BinanceError, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status, headers=headers)


_STATUS_WIRE = {
    OrderStatus.NEW: "NEW",
    OrderStatus.OPEN: "NEW",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.PARTIALLY_FILLED: "EXPIRED",  # Binance: IOC remainder expired after a fill
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.REJECTED: "REJECTED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.UNKNOWN: "NEW",
}


class BinanceFuturesEmulator:
    """Routes and state of one emulated account over one ``SimVenue``."""

    def __init__(
        self,
        venue: SimVenue,
        clock: Clock,
        api_key: str,
        api_secret: str,
        faults: EmulatorFaults | None = None,
    ) -> None:
        self.venue = venue
        self.clock = clock
        self.faults = faults or EmulatorFaults()
        self._api_key = api_key
        self._api_secret = api_secret.encode()
        self._order_ids: dict[str, int] = {}  # client order id -> Binance orderId
        self._client_ids: dict[int, str] = {}
        # client order id -> (type, timeInForce, limit price, creation time in ms)
        self._order_meta: dict[str, tuple[str, str, Decimal | None, int]] = {}
        self._auto_client_id = 0
        rules = venue.rules()
        base, _, rest = rules.symbol.partition("/")
        quote, _, settle = rest.partition(":")
        self.base, self.quote, self.settle = base, quote, settle or quote
        self.market_id = f"{base}{quote}"

    # ------------------------------------------------------------------ app

    def app(self) -> web.Application:
        """The aiohttp application: Binance routes plus the ``/_emulator`` admin API."""
        app = web.Application(middlewares=[self._faults_middleware])
        public: dict[str, Callable[[dict[str, str]], Any]] = {
            "ping": lambda _p: {},
            "time": lambda _p: {"serverTime": self._now_ms()},
            "exchangeInfo": self._exchange_info,
            "premiumIndex": self._premium_index,
            "fundingRate": self._funding_rate_history,
            "ticker/bookTicker": self._book_ticker,
            "depth": self._depth,
        }
        for path, fn in public.items():
            app.router.add_get(f"/fapi/v1/{path}", self._public(fn))
        signed_get: dict[str, Callable[[dict[str, str]], Any]] = {
            "v1/positionSide/dual": lambda _p: {"dualSidePosition": False},
            "v1/leverageBracket": self._leverage_bracket,
            "v1/order": self._get_order,
            "v1/openOrders": self._open_orders,
            "v1/openOrder": self._get_order,
            "v1/allOrders": self._all_orders,
            "v1/userTrades": self._user_trades,
            "v1/income": self._income,
            "v1/commissionRate": self._commission_rate,
            "v1/symbolConfig": self._symbol_config,
            "v2/account": lambda p: self._account(p, v3=False),
            "v3/account": lambda p: self._account(p, v3=True),
            "v2/balance": self._balance,
            "v3/balance": self._balance,
            "v2/positionRisk": lambda p: self._position_risk(p, v3=False),
            "v3/positionRisk": lambda p: self._position_risk(p, v3=True),
        }
        for path, fn in signed_get.items():
            app.router.add_get(f"/fapi/{path}", self._signed(self._sync(fn)))
        app.router.add_post("/fapi/v1/order", self._signed(self._post_order))
        app.router.add_delete("/fapi/v1/order", self._signed(self._sync(self._cancel_order)))
        app.router.add_post("/fapi/v1/leverage", self._signed(self._sync(self._set_leverage)))
        app.router.add_post("/fapi/v1/marginType", self._signed(self._sync(self._margin_type)))
        self._add_admin_routes(app)
        return app

    @web.middleware
    async def _faults_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith("/_emulator/"):
            return await handler(request)
        if self.faults.latency_s > 0:
            await asyncio.sleep(self.faults.latency_s)
        if self.faults.rate_limit_requests > 0 and self.faults.rate_limit_after > 0:
            self.faults.rate_limit_after -= 1
        elif self.faults.rate_limit_requests > 0:
            self.faults.rate_limit_requests -= 1
            return _error_response(
                BinanceError(
                    -1003,
                    "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per "
                    "minute. Please use the websocket for live updates to avoid polling the API.",
                    status=429,
                ),
                headers={"Retry-After": str(self.faults.retry_after_s)},
            )
        failure = next(
            (
                f
                for f in self.faults.fail_next
                if f.method == request.method and f.path == request.path
            ),
            None,
        )
        if failure is not None:
            self.faults.fail_next.remove(failure)
            _log.info("emulator.request_failed", path=request.path, status=failure.status)
            return _error_response(BinanceError(failure.code, failure.msg, status=failure.status))
        hostile = next(
            (h for h in self.faults.hostile_next if h.path in (None, request.path)), None
        )
        if hostile is not None:
            self.faults.hostile_next.remove(hostile)
            _log.info("emulator.hostile_answer", path=request.path, kind=hostile.kind)
            return await hostile_response(request, hostile)
        self.venue.accrue_funding()
        try:
            return await handler(request)
        except BinanceError as exc:
            return _error_response(exc)

    def _public(self, fn: Callable[[dict[str, str]], Any]) -> Callable[..., Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return web.json_response(fn(dict(request.query)))

        return handle

    @staticmethod
    def _sync(fn: Callable[[dict[str, str]], Any]) -> _Handler:
        async def handle(_request: web.Request, params: dict[str, str]) -> web.StreamResponse:
            return web.json_response(fn(params))

        return handle

    def _signed(self, handler: _Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            params = await self._authenticate(request)
            return await handler(request, params)

        return handle

    async def _authenticate(self, request: web.Request) -> dict[str, str]:
        """Binance SIGNED endpoint security: API key, timestamp window, HMAC over totalParams."""
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceError(-2014, "API-key format invalid.", status=401)
        if not hmac.compare_digest(key, self._api_key):
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        query = request.rel_url.raw_query_string
        body = (await request.text()) if request.body_exists else ""
        # totalParams = query string concatenated with the body; the signature comes last
        query_payload, query_signature = _split_signature(query)
        body_payload, body_signature = _split_signature(body)
        payload, signature = query_payload + body_payload, query_signature or body_signature
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        params.pop("signature", None)
        timestamp = _int_param(params, "timestamp")
        if timestamp is None:
            raise _mandatory("timestamp")
        recv_window = _int_param(params, "recvWindow") or _DEFAULT_RECV_WINDOW_MS
        if recv_window > _MAX_RECV_WINDOW_MS:
            raise BinanceError(-1131, "recvWindow must be less than 60000")
        # the window is checked against wall time and against the venue clock, so clients that
        # do or do not adjust for the (simulated) server time are both accepted
        if not any(
            timestamp < now + 1000 and now - timestamp <= recv_window
            for now in (self._host_now_ms(), self._now_ms())
        ):
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
        if not signature:
            raise BinanceError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        expected = hmac.new(self._api_secret, payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        return params

    # ----------------------------------------------------------- market data

    def _now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def _host_now_ms(self) -> int:
        """Wall time as this venue sees it: behind the host by ``host_clock_ahead_s``."""
        return int((time.time() - self.faults.host_clock_ahead_s) * 1000)

    def _check_symbol(self, params: Mapping[str, str], required: bool = True) -> None:
        symbol = params.get("symbol")
        if symbol is None and not required:
            return
        if symbol != self.market_id:
            raise BinanceError(-1121, "Invalid symbol.")

    def _exchange_info(self, _params: dict[str, str]) -> dict[str, Any]:
        rules = self.venue.rules()
        tick, step = rules.price_tick, rules.amount_step
        filters = [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _s(tick),
                "maxPrice": "1000000",
                "tickSize": _s(tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _s(rules.min_amount),
                "maxQty": "100000",
                "stepSize": _s(step),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": _s(rules.min_amount),
                "maxQty": "10000",
                "stepSize": _s(step),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": _s(rules.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ]
        symbol = {
            "symbol": self.market_id,
            "pair": self.market_id,
            "contractType": "PERPETUAL",
            "deliveryDate": _PERPETUAL_DELIVERY_MS,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": self.base,
            "quoteAsset": self.quote,
            "marginAsset": self.settle,
            "pricePrecision": _decimals(tick),
            "quantityPrecision": _decimals(step),
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
            "serverTime": self._now_ms(),
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
            "assets": [{"asset": self.settle, "marginAvailable": True, "autoAssetExchange": "0"}],
            "symbols": [symbol],
        }

    def _premium_entry(self) -> dict[str, Any]:
        quote = self.venue.quote()
        return {
            "symbol": self.market_id,
            "markPrice": _s(quote.mark_price),
            "indexPrice": _s(quote.index_price),
            "estimatedSettlePrice": _s(quote.index_price),
            "lastFundingRate": _s(quote.funding_rate),
            "interestRate": "0.00010000",
            "nextFundingTime": quote.next_funding_ts * 1000,
            "time": self._now_ms(),
        }

    def _premium_index(self, params: dict[str, str]) -> Any:
        if "symbol" in params:
            self._check_symbol(params)
            return self._premium_entry()
        return [self._premium_entry()]

    def _funding_rate_history(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self._check_symbol(params, required=False)
        start = _int_param(params, "startTime") or 0
        end = _int_param(params, "endTime") or 2**62
        limit = min(_int_param(params, "limit") or 100, 1000)
        seen: dict[int, FundingPayment] = {}
        for payment in self.venue.funding_payments(0):
            seen.setdefault(payment.timestamp, payment)
        rows = [
            {
                "symbol": self.market_id,
                "fundingTime": ts,
                "fundingRate": _s(p.rate),
                "markPrice": _s(p.mark_price),
            }
            for ts, p in sorted(seen.items())
            if start <= ts <= end
        ]
        return rows[:limit]

    def _best(self) -> tuple[Decimal, Decimal]:
        quote = self.venue.quote()
        tick = self.venue.rules().price_tick
        bid = quote.bid if quote.bid is not None else quote.mark_price - tick
        ask = quote.ask if quote.ask is not None else quote.mark_price + tick
        return bid, ask

    def _book_ticker(self, params: dict[str, str]) -> Any:
        bid, ask = self._best()
        entry = {
            "symbol": self.market_id,
            "bidPrice": _s(bid),
            "bidQty": "1000",
            "askPrice": _s(ask),
            "askQty": "1000",
            "time": self._now_ms(),
            "lastUpdateId": self._now_ms(),
        }
        if "symbol" in params:
            self._check_symbol(params)
            return entry
        return [entry]

    def _depth(self, params: dict[str, str]) -> dict[str, Any]:
        self._check_symbol(params)
        _int_param(params, "limit")  # one level is served whatever the limit; still validated
        bid, ask = self._best()
        now = self._now_ms()
        return {
            "lastUpdateId": now,
            "E": now,
            "T": now,
            "bids": [[_s(bid), "1000"]],
            "asks": [[_s(ask), "1000"]],
        }

    # --------------------------------------------------------------- account

    def _leverage_bracket(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self._check_symbol(params, required=False)
        brackets = [
            (1, 125, 50_000, 0, "0.004", "0"),
            (2, 100, 500_000, 50_000, "0.005", "50"),
            (3, 50, 10_000_000, 500_000, "0.01", "5050"),
        ]
        return [
            {
                "symbol": self.market_id,
                "brackets": [
                    {
                        "bracket": b,
                        "initialLeverage": lev,
                        "notionalCap": cap,
                        "notionalFloor": floor,
                        "maintMarginRatio": float(mmr),
                        "cum": float(cum),
                    }
                    for b, lev, cap, floor, mmr, cum in brackets
                ],
            }
        ]

    def _commission_rate(self, params: dict[str, str]) -> dict[str, Any]:
        self._check_symbol(params)
        taker = Decimal(str(getattr(self.venue.params, "taker_fee_bps", 5))) / 10_000
        maker = Decimal(str(getattr(self.venue.params, "maker_fee_bps", 2))) / 10_000
        return {
            "symbol": self.market_id,
            "makerCommissionRate": _s(maker),
            "takerCommissionRate": _s(taker),
        }

    def _isolated(self) -> bool:
        return str(self.venue.margin_mode).lower().startswith("isolated")

    def _position_row(self, position: PerpPosition, v3: bool) -> dict[str, Any]:
        notional = position.size_base * position.mark_price
        isolated = self._isolated()
        margin = position.margin if isolated else Decimal(0)
        leverage = Decimal(position.leverage or 1)
        row: dict[str, Any] = {
            "symbol": self.market_id,
            "positionSide": "BOTH",
            "positionAmt": _s(position.size_base),
            "entryPrice": _s(position.entry_price),
            "breakEvenPrice": _s(position.entry_price),
            "markPrice": _s(position.mark_price),
            "unRealizedProfit": _s(position.unrealized_pnl),
            "liquidationPrice": _s(position.liquidation_price or 0),
            "isolatedMargin": _s(margin + position.unrealized_pnl if isolated else margin),
            "notional": _s(notional),
            "isolatedWallet": _s(margin),
            "updateTime": self._now_ms(),
        }
        if v3:
            row.update(
                marginAsset=self.settle,
                initialMargin=_s(abs(notional) / leverage),
                maintMargin=_s(abs(notional) * Decimal("0.004")),
                positionInitialMargin=_s(abs(notional) / leverage),
                openOrderInitialMargin="0",
                adl=0,
                bidNotional="0",
                askNotional="0",
            )
        else:
            row.update(
                leverage=str(position.leverage),
                maxNotionalValue="50000000",
                marginType="isolated" if isolated else "cross",
                isAutoAddMargin="false",
                isolated=isolated,
                adlQuantile=0,
            )
        return row

    def _corrupted(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with the position-row fault switches applied."""
        row.update(self.faults.position_row_overrides)
        for name in self.faults.position_row_drops:
            row.pop(name, None)
        return row

    def _position_risk(self, params: dict[str, str], v3: bool) -> list[dict[str, Any]]:
        self._check_symbol(params, required=False)
        position = self.venue.position()
        if v3 and position.size_base == 0:
            return []  # v3 lists only symbols with a position or open orders
        return [self._corrupted(self._position_row(position, v3))]

    def _asset_row(self) -> dict[str, Any]:
        balance = self.venue.balance()
        position = self.venue.position()
        notional = abs(position.size_base * position.mark_price)
        initial = notional / Decimal(position.leverage or 1)
        return {
            "asset": self.settle,
            "walletBalance": _s(balance.wallet_balance),
            "unrealizedProfit": _s(position.unrealized_pnl),
            "marginBalance": _s(balance.wallet_balance + position.unrealized_pnl),
            "maintMargin": _s(notional * Decimal("0.004")),
            "initialMargin": _s(initial),
            "positionInitialMargin": _s(initial),
            "openOrderInitialMargin": "0",
            "crossWalletBalance": _s(balance.wallet_balance),
            "crossUnPnl": _s(position.unrealized_pnl),
            "availableBalance": _s(balance.available),
            "maxWithdrawAmount": _s(balance.available),
            "marginAvailable": True,
            "updateTime": self._now_ms(),
        }

    def _account(self, _params: dict[str, str], v3: bool) -> dict[str, Any]:
        asset = self._asset_row()
        position = self.venue.position()
        totals = {
            "totalInitialMargin": asset["initialMargin"],
            "totalMaintMargin": asset["maintMargin"],
            "totalWalletBalance": asset["walletBalance"],
            "totalUnrealizedProfit": asset["unrealizedProfit"],
            "totalMarginBalance": asset["marginBalance"],
            "totalPositionInitialMargin": asset["positionInitialMargin"],
            "totalOpenOrderInitialMargin": "0",
            "totalCrossWalletBalance": asset["crossWalletBalance"],
            "totalCrossUnPnl": asset["crossUnPnl"],
            "availableBalance": asset["availableBalance"],
            "maxWithdrawAmount": asset["maxWithdrawAmount"],
        }
        positions = (
            []
            if v3 and position.size_base == 0
            else [self._corrupted(self._position_row(position, v3))]
        )
        account: dict[str, Any] = {**totals, "assets": [asset], "positions": positions}
        if not v3:
            account.update(
                feeTier=0,
                canTrade=True,
                canDeposit=True,
                canWithdraw=True,
                feeBurn=False,
                tradeGroupId=-1,
                updateTime=0,
                multiAssetsMargin=False,
            )
        return account

    def _balance(self, _params: dict[str, str]) -> list[dict[str, Any]]:
        asset = self._asset_row()
        return [
            {
                "accountAlias": "emulator",
                "asset": self.settle,
                "balance": asset["walletBalance"],
                "crossWalletBalance": asset["crossWalletBalance"],
                "crossUnPnl": asset["crossUnPnl"],
                "availableBalance": asset["availableBalance"],
                "maxWithdrawAmount": asset["maxWithdrawAmount"],
                "marginAvailable": True,
                "updateTime": asset["updateTime"],
            }
        ]

    def _set_leverage(self, params: dict[str, str]) -> dict[str, Any]:
        self._check_symbol(params)
        leverage = _int_param(params, "leverage")
        if leverage is None or not 1 <= leverage <= 125:
            raise BinanceError(-4028, f"Leverage {params.get('leverage')} is not valid")
        refusal = self.faults.leverage_refusal
        if refusal is not None and leverage != self.venue.position().leverage:
            raise BinanceError(refusal, LEVERAGE_REFUSALS.get(refusal, "Leverage refused."))
        self.venue.set_leverage(leverage)
        return {"leverage": leverage, "maxNotionalValue": "50000000", "symbol": self.market_id}

    def _symbol_config(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self._check_symbol(params, required=False)
        return [
            {
                "symbol": self.market_id,
                "marginType": "ISOLATED" if self._isolated() else "CROSSED",
                "isAutoAddMargin": "false",
                "leverage": self.venue.position().leverage,
                "maxNotionalValue": "50000000",
            }
        ]

    def _margin_type(self, params: dict[str, str]) -> dict[str, Any]:
        self._check_symbol(params)
        wanted = params.get("marginType", "").upper()
        if wanted not in ("ISOLATED", "CROSSED"):
            raise BinanceError(-4044, "The balance type is not valid.")
        mode = "isolated" if wanted == "ISOLATED" else "cross"
        if self._isolated() == (mode == "isolated"):
            raise BinanceError(-4046, "No need to change margin type.")
        if self.venue.position().size_base != 0:
            raise BinanceError(-4048, "Margin type cannot be changed if there exists position.")
        self.venue.margin_mode = mode
        return {"code": 200, "msg": "success"}

    # ---------------------------------------------------------------- orders

    def _order_id(self, client_order_id: str) -> int:
        order_id = self._order_ids.get(client_order_id)
        if order_id is None:
            order_id = _FIRST_ORDER_ID + len(self._order_ids)
            self._order_ids[client_order_id] = order_id
            self._client_ids[order_id] = client_order_id
        return order_id

    def _order_meta_of(self, order: Order) -> tuple[str, str, Decimal | None, int]:
        """Type, time in force, price and creation time; the venue's own (liquidation) orders
        are market orders never updated after creation."""
        return self._order_meta.get(order.client_order_id, ("MARKET", "GTC", None, order.timestamp))

    def _created_ms(self, order: Order) -> int:
        return self._order_meta_of(order)[3]

    def _order_row(self, order: Order, with_time: bool = True) -> dict[str, Any]:
        """Binance's order: ``time`` is its creation, ``updateTime`` its last change (the
        venue's ``Order.timestamp`` moves when a resting order fills or is cancelled)."""
        order_type, tif, price, created_ms = self._order_meta_of(order)
        cum_quote = order.filled_base * (order.average_price or Decimal(0))
        status = _STATUS_WIRE[order.status]
        if order.status == OrderStatus.OPEN and order.filled_base > 0:
            status = "PARTIALLY_FILLED"
        row: dict[str, Any] = {
            "orderId": self._order_id(order.client_order_id),
            "symbol": self.market_id,
            "status": status,
            "clientOrderId": order.client_order_id,
            "price": _s(price or 0),
            "avgPrice": _s(order.average_price or 0),
            "origQty": _s(order.amount_base),
            "executedQty": _s(order.filled_base),
            "cumQty": _s(order.filled_base),
            "cumQuote": _s(cum_quote),
            "timeInForce": tif,
            "type": order_type,
            "reduceOnly": order.reduce_only,
            "closePosition": False,
            "side": order.side.value.upper(),
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": order_type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "goodTillDate": 0,
            "updateTime": order.timestamp,
        }
        if with_time:
            row["time"] = created_ms
        return row

    def _find_order(self, params: Mapping[str, str], missing: BinanceError) -> Order:
        self._check_symbol(params)
        client_id = params.get("origClientOrderId")
        order_id = _int_param(params, "orderId")
        if client_id is None and order_id is None:
            raise BinanceError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        if client_id is None:
            client_id = self._client_ids.get(order_id or 0)
        order = self.venue.order(client_id) if client_id is not None else None
        if order is None or (
            order_id is not None and self._order_id(order.client_order_id) != order_id
        ):
            raise missing
        return order

    def _get_order(self, params: dict[str, str]) -> dict[str, Any]:
        return self._order_row(
            self._find_order(params, BinanceError(-2013, "Order does not exist."))
        )

    def _cancel_order(self, params: dict[str, str]) -> dict[str, Any]:
        order = self._find_order(params, BinanceError(-2011, "Unknown order sent."))
        if order.status in (OrderStatus.OPEN, OrderStatus.NEW):
            cancel = getattr(self.venue, "cancel", None)
            if cancel is None:
                raise BinanceError(-2011, "Unknown order sent.")
            order = cancel(order.client_order_id)
            return self._order_row(order)
        raise BinanceError(-2011, "Unknown order sent.")

    def _open_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self._check_symbol(params, required=False)
        return [self._order_row(o) for o in self.venue.open_orders()]

    def _all_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self._check_symbol(params)
        start, end = self._window(params)
        min_id = _int_param(params, "orderId") or 0
        limit = min(_int_param(params, "limit") or 500, 1000)
        rows = [
            self._order_row(o)
            for o in self.venue.order_log()
            # Binance filters allOrders on creation time, not on the last update
            if start <= self._created_ms(o) <= end and self._order_id(o.client_order_id) >= min_id
        ]
        return rows[:limit]

    def _window(self, params: Mapping[str, str]) -> tuple[int, int]:
        """Binance history windows: at most 7 days; only a start means start + 7 days."""
        start_ms, end_ms = _int_param(params, "startTime"), _int_param(params, "endTime")
        if start_ms is None and end_ms is None:
            end = self._now_ms()
            start = end - _WEEK_MS
        elif start_ms is None:
            end = end_ms or 0
            start = end - _WEEK_MS
        else:
            start = start_ms
            end = end_ms if end_ms is not None else start + _WEEK_MS
        if end < start:
            raise BinanceError(-1023, "Start time is greater than end time.")
        if end - start > _WEEK_MS:
            raise BinanceError(
                -4166, "The time between startTime and endTime cannot be longer than 7 days."
            )
        return start, end

    def _user_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self._check_symbol(params)
        start, end = self._window(params)
        limit = min(_int_param(params, "limit") or 500, 1000)
        only_order = _int_param(params, "orderId")
        rows = []
        for fill in self.venue.fills(start):
            if fill.timestamp > end:
                continue
            order_id = self._order_id(fill.client_order_id)
            if only_order is not None and order_id != only_order:
                continue
            rows.append(self._trade_row(fill, order_id))
        return rows[:limit]

    def _trade_row(self, fill: Fill, order_id: int) -> dict[str, Any]:
        return {
            "buyer": fill.side == Side.BUY,
            "commission": _s(fill.fee_quote),
            "commissionAsset": self.settle,
            "id": _wire_id(fill.trade_id),
            "maker": False,
            "orderId": order_id,
            "price": _s(fill.price),
            "qty": _s(fill.amount_base),
            "quoteQty": _s(fill.amount_base * fill.price),
            "realizedPnl": _s(fill.realized_pnl),
            "side": fill.side.value.upper(),
            "positionSide": "BOTH",
            "symbol": self.market_id,
            "time": fill.timestamp,
        }

    def _income(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self._check_symbol(params, required=False)
        start = _int_param(params, "startTime")
        end = _int_param(params, "endTime") or 2**62
        if start is None:
            start = self._now_ms() - _WEEK_MS
        limit = min(_int_param(params, "limit") or 100, 1000)
        wanted = params.get("incomeType")
        rows: list[dict[str, Any]] = []
        for fill in self.venue.fills(start):
            trade = str(_wire_id(fill.trade_id))
            if fill.realized_pnl != 0:
                rows.append(
                    self._income_row("REALIZED_PNL", fill.realized_pnl, fill.timestamp, trade)
                )
            if fill.fee_quote != 0:
                rows.append(self._income_row("COMMISSION", -fill.fee_quote, fill.timestamp, trade))
        for payment in self.venue.funding_payments(start):
            rows.append(
                self._income_row("FUNDING_FEE", payment.amount_quote, payment.timestamp, payment.id)
            )
        rows = [
            r
            for r in rows
            if start <= r["time"] <= end and (wanted is None or r["incomeType"] == wanted)
        ]
        rows.sort(key=lambda r: (r["time"], r["tranId"]))
        return rows[:limit]

    def _income_row(self, kind: str, amount: Decimal, ts: int, ref: str) -> dict[str, Any]:
        digest = hashlib.sha256(f"{kind}:{ref}".encode()).hexdigest()
        return {
            "symbol": self.market_id,
            "incomeType": kind,
            "income": _s(amount),
            "asset": self.settle,
            "info": kind,
            "time": ts,
            "tranId": int(digest[:12], 16),
            "tradeId": ref if kind != "FUNDING_FEE" else "",
        }

    async def _post_order(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        intent, order_type, tif, limit_price = self._parse_order(params)
        if self.venue.order(intent.client_order_id) is not None:
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        fraction = self.faults.partial_fill_next_ioc if tif == "IOC" else None
        if fraction is not None:
            self.faults.partial_fill_next_ioc = None
        order = self._submit(intent, fraction, "GTC" if tif == "GTC" and limit_price else "IOC")
        self._order_meta[intent.client_order_id] = (order_type, tif, limit_price, self._now_ms())
        self._order_id(intent.client_order_id)
        _log.info(
            "emulator.order_accepted",
            client_order_id=order.client_order_id,
            status=order.status.value,
            filled_base=str(order.filled_base),
        )
        drop = self.faults.drop_next_order
        if drop is not None:
            self.faults.drop_next_order = None
            if drop == "reset":
                _log.info("emulator.response_dropped", client_order_id=order.client_order_id)
                if request.transport is not None:
                    request.transport.abort()
                raise web.HTTPServiceUnavailable()  # never delivered: the socket is gone
            await asyncio.sleep(self.faults.drop_delay_s)
        if params.get("newOrderRespType", "ACK").upper() == "ACK":
            row = self._order_row(order, with_time=False)
            row.update(status="NEW", executedQty="0", cumQty="0", cumQuote="0", avgPrice="0")
            return web.json_response(row)
        return web.json_response(self._order_row(order, with_time=False))

    def _submit(
        self,
        intent: OrderIntent,
        partial_fraction: Decimal | None,
        time_in_force: Literal["IOC", "GTC"],
    ) -> Order:
        try:
            return self.venue.submit(
                intent, fill_fraction=partial_fraction, time_in_force=time_in_force
            )
        except errors.MinNotionalError as exc:
            minimum = _s(self.venue.rules().min_notional.normalize())
            raise BinanceError(
                -4164,
                f"Order's notional must be no smaller than {minimum} "
                "(unless you choose reduce only).",
            ) from exc
        except errors.ReduceOnlyRejected as exc:
            raise BinanceError(-2022, "ReduceOnly Order is rejected.") from exc
        except errors.InsufficientMargin as exc:
            raise BinanceError(-2019, "Margin is insufficient.") from exc
        except errors.InvalidOrder as exc:
            if "duplicate" in str(exc).lower():
                raise BinanceError(-4116, "ClientOrderId is duplicated.") from exc
            raise BinanceError(-1013, str(exc)) from exc

    def _parse_limit(self, params: dict[str, str], order_type: str) -> tuple[str, Decimal | None]:
        """Time in force and limit price of an order (GTC and None for a market order)."""
        if order_type != "LIMIT":
            if "price" in params:
                raise BinanceError(-1106, "Parameter 'price' sent when not required.")
            return "GTC", None
        tif = params.get("timeInForce", "").upper()
        if not tif:
            raise _mandatory("timeInForce")
        if tif not in ("IOC", "GTC"):
            raise BinanceError(-1115, "Invalid timeInForce.")
        limit_price = _dec_param(params, "price")
        assert limit_price is not None
        if limit_price <= 0:
            raise BinanceError(-4001, "Price less than 0.")
        if limit_price % self.venue.rules().price_tick != 0:
            raise BinanceError(-4014, "Price not increased by tick size.")
        return tif, limit_price

    def _parse_order(self, params: dict[str, str]) -> tuple[OrderIntent, str, str, Decimal | None]:
        self._check_symbol(params)
        rules = self.venue.rules()
        side_raw = params.get("side", "").upper()
        if side_raw not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        order_type = params.get("type", "").upper()
        if order_type not in ("MARKET", "LIMIT"):
            raise BinanceError(-1116, "Invalid orderType.")
        if params.get("positionSide", "BOTH").upper() != "BOTH":
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        for name in _OTHER_DECIMAL_ORDER_PARAMS:
            _dec_param(params, name, required=False)  # -1100 for nan, 1e400, -1, ...
        for name in _OTHER_INT_ORDER_PARAMS:
            _int_param(params, name)
        quantity = _dec_param(params, "quantity")
        assert quantity is not None
        if quantity <= 0:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        if quantity % rules.amount_step != 0:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        if quantity < rules.min_amount:
            raise BinanceError(-4004, "Quantity less than min quantity.")
        tif, limit_price = self._parse_limit(params, order_type)
        client_id = params.get("newClientOrderId")
        if client_id is None:
            self._auto_client_id += 1
            client_id = f"emu_auto_{self._auto_client_id}"
        if not _CLIENT_ID.match(client_id):
            raise BinanceError(-4015, "Client order id is not valid.")
        reduce_only = params.get("reduceOnly", "false").lower()
        if reduce_only not in ("true", "false"):
            raise BinanceError(-1130, "Data sent for parameter 'reduceOnly' is not valid.")
        intent = OrderIntent(
            client_order_id=client_id,
            symbol=rules.symbol,
            side=Side.BUY if side_raw == "BUY" else Side.SELL,
            amount_base=quantity,
            reduce_only=reduce_only == "true",
            limit_price=limit_price,
        )
        return intent, order_type, tif, limit_price

    # ----------------------------------------------------------------- admin

    def _add_admin_routes(self, app: web.Application) -> None:
        async def post(request: web.Request) -> web.StreamResponse:
            action = request.match_info["action"]
            try:
                raw = await request.read() if request.can_read_body else b"{}"
                body = loads_bounded(raw, max_bytes=MAX_COMMAND_BYTES)
                if not isinstance(body, dict):
                    raise TypeError("the body must be a JSON object")
                result = self.admin(action, body)
            except (KeyError, ValueError, InvalidOperation, TypeError) as exc:
                error = describe_exc(exc, 300) if not isinstance(exc, KeyError) else str(exc)
                return web.json_response({"ok": False, "error": error}, status=400)
            return web.json_response({"ok": True, **result})

        async def state(_request: web.Request) -> web.StreamResponse:
            return web.json_response(self.state())

        app.router.add_post("/_emulator/{action}", post)
        app.router.add_get("/_emulator/state", state)

    def admin(self, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One admin action by name (the HTTP admin API and tests share it): a fault switch
        (``emulator_faults.apply_fault``) or a move of the market (mark, funding, clock)."""
        if apply_fault(self.faults, action, body):
            pass
        elif action == "mark":
            price = admin_number(body, "price", low=0, above_low=True)
            index = body.get("index")
            self.venue.set_mark(
                price,
                None if index is None else admin_number(body, "index", low=0, above_low=True),
            )
        elif action == "funding_rate":
            self.venue.set_funding_rate(admin_number(body, "rate", low=-1, high=1))
        elif action == "advance":
            advance = getattr(self.clock, "advance", None)
            if advance is None:
                raise TypeError("the emulator's clock cannot be advanced (not a ManualClock)")
            advance(float(admin_number(body, "seconds", low=0, high=10 * 365 * 86400)))
            self.venue.accrue_funding()
        else:
            raise KeyError(f"unknown action {action!r}")
        return {"now_ms": self._now_ms()}

    def state(self) -> dict[str, Any]:
        """Position, balance and order count, for humans and tests."""
        position, balance = self.venue.position(), self.venue.balance()
        return {
            "now_ms": self._now_ms(),
            "symbol": self.market_id,
            "position_base": _s(position.size_base),
            "entry_price": _s(position.entry_price),
            "mark_price": _s(position.mark_price),
            "wallet_balance": _s(balance.wallet_balance),
            "available": _s(balance.available),
            "orders": len(self.venue.order_log()),
        }


def _split_signature(part: str) -> tuple[str, str]:
    """Split ``...&signature=hex`` (signature must come last) into payload and signature."""
    if part.startswith("signature="):
        return "", part[len("signature=") :]
    head, sep, sig = part.rpartition("&signature=")
    if not sep:
        return part, ""
    return head, sig


def _decimals(step: Decimal) -> int:
    """Digits after the point of a tick or step (0.01 -> 2)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _wire_id(value: str) -> int | str:
    return int(value) if value.isdigit() else value


# ------------------------------------------------------------------- running


@dataclass
class EmulatorHandle:
    """A running emulator: its URL, venue, fault switches and ``close()``."""

    host: str
    port: int
    emulator: BinanceFuturesEmulator
    runner: web.AppRunner

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8765``."""
        return f"http://{self.host}:{self.port}"

    @property
    def venue(self) -> SimVenue:
        """The simulated venue behind the HTTP facade."""
        return self.emulator.venue

    @property
    def faults(self) -> EmulatorFaults:
        """The fault switches."""
        return self.emulator.faults

    def ccxt_urls(self) -> dict[str, str]:
        """The ``urls['api']`` entries that point ccxt ``binanceusdm`` here."""
        return ccxt_urls(self.url)

    def drop_next_order_response(
        self, mode: Literal["reset", "delay"] = "reset", delay_s: float = 30.0
    ) -> None:
        """Accept the next order, then reset the connection or answer after ``delay_s``."""
        self.emulator.admin("drop_next_order", {"mode": mode, "delay_s": delay_s})

    def rate_limit_next(self, count: int, retry_after_s: int = 1, *, after: int = 0) -> None:
        """Answer HTTP 429 / -1003 with ``Retry-After`` to ``count`` requests, once ``after``
        more requests have been answered normally."""
        self.emulator.admin(
            "rate_limit", {"count": count, "retry_after_s": retry_after_s, "after": after}
        )

    def fail_next_order(self, status: int = 503, *, code: int | None = None) -> None:
        """Answer the next ``POST /fapi/v1/order`` with HTTP ``status`` and a Binance error
        body (503: -1007, execution status unknown) without creating the order."""
        self.emulator.admin("fail_next_order", {"status": status, "code": code})

    def fail_next_request(
        self, method: str, path: str, status: int = 503, *, code: int | None = None
    ) -> None:
        """Answer the next ``method`` request to ``path`` (e.g. ``GET /fapi/v1/income``) with
        HTTP ``status`` and a Binance error body, without acting on it."""
        self.emulator.admin(
            "fail_next_request", {"method": method, "path": path, "status": status, "code": code}
        )

    def corrupt_position_rows(
        self, fields: Mapping[str, Any] | None = None, drop: tuple[str, ...] = ()
    ) -> None:
        """From now until ``reset_faults``, position rows carry ``fields`` (None: JSON null)
        and lack the fields named in ``drop`` (e.g. ``positionAmt``)."""
        self.emulator.admin("corrupt_position", {"fields": dict(fields or {}), "drop": drop})

    def refuse_leverage(self, code: int = -2027) -> None:
        """Answer every leverage change with Binance ``code`` (-2027: position too large)."""
        self.emulator.admin("refuse_leverage", {"code": code})

    def set_host_clock_ahead(self, seconds: float) -> None:
        """Judge request timestamps as if the client's clock ran ``seconds`` ahead of ours:
        signed requests stamped with the host clock then get -1021."""
        self.emulator.admin("clock_skew", {"host_ahead_s": seconds})

    def answer_next_with_deep_json(self, depth: int = 80_000, path: str | None = None) -> None:
        """Answer the next request (to ``path``) with ``depth`` nested JSON arrays."""
        self.emulator.admin("hostile_next", {"kind": "deep", "size": depth, "path": path})

    def answer_next_with_huge_body(
        self, size_bytes: int, path: str | None = None, *, chunked: bool = False
    ) -> None:
        """Answer the next request (to ``path``) with a JSON object of ``size_bytes``."""
        self.emulator.admin(
            "hostile_next",
            {"kind": "huge", "size": size_bytes, "path": path, "chunked": chunked},
        )

    def set_latency(self, seconds: float) -> None:
        """Delay every response by ``seconds``."""
        self.emulator.admin("latency", {"seconds": seconds})

    def partial_fill_next_ioc(self, fraction: Decimal = Decimal("0.5")) -> None:
        """Fill only ``fraction`` of the next IOC order; the rest expires."""
        self.emulator.admin("partial_fill_next_ioc", {"fraction": str(fraction)})

    def set_mark(self, price: Decimal, index: Decimal | None = None) -> None:
        """Move the mark (and index) price."""
        self.emulator.admin("mark", {"price": str(price), "index": index})

    def set_funding_rate(self, rate: Decimal) -> None:
        """Set the funding rate per interval."""
        self.emulator.admin("funding_rate", {"rate": str(rate)})

    def advance_clock(self, seconds: float) -> None:
        """Move the venue clock (must be a ManualClock) and settle funding that fell due."""
        self.emulator.admin("advance", {"seconds": seconds})

    async def close(self) -> None:
        """Stop serving."""
        await self.runner.cleanup()


def ccxt_urls(base_url: str) -> dict[str, str]:
    """ccxt binance ``urls['api']`` keys for USD-M futures, pointed at ``base_url``."""
    base = base_url.rstrip("/")
    return {
        "fapiPublic": f"{base}/fapi/v1",
        "fapiPublicV2": f"{base}/fapi/v2",
        "fapiPublicV3": f"{base}/fapi/v3",
        "fapiPrivate": f"{base}/fapi/v1",
        "fapiPrivateV2": f"{base}/fapi/v2",
        "fapiPrivateV3": f"{base}/fapi/v3",
        "fapiData": f"{base}/futures/data",
    }


async def start_emulator(
    host: str,
    port: int,
    api_key: str,
    api_secret: str,
    venue_params: VenueParams,
    clock: Clock,
    venue: SimVenue | None = None,
) -> EmulatorHandle:
    """Serve a fresh ``SimVenue`` (or ``venue``) on ``host:port`` (0: a free port)."""
    if not api_key or not api_secret:
        raise errors.ConfigError("the emulator needs an API key and secret")
    venue = venue if venue is not None else SimVenue(venue_params, clock)
    emulator = BinanceFuturesEmulator(venue, clock, api_key, api_secret)
    runner = web.AppRunner(
        emulator.app(), access_log=None, handle_signals=False, shutdown_timeout=0.5
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = port
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    if sockets:
        bound_port = int(sockets[0].getsockname()[1])
    _log.info("emulator.listening", url=f"http://{host}:{bound_port}")
    return EmulatorHandle(host=host, port=bound_port, emulator=emulator, runner=runner)


# ----------------------------------------------------------------------- CLI


def add_subcommand(subparsers: Any) -> None:
    """Register ``hedgebot emulator --port P --api-key K --api-secret S``."""
    parser = subparsers.add_parser(
        "emulator", help="serve the simulated venue over the Binance USD-M futures REST dialect"
    )
    parser.add_argument("--host", type=cli_args.host, default="127.0.0.1")
    parser.add_argument("--port", type=cli_args.port_or_zero, default=8765)
    parser.add_argument("--api-key", default=os.environ.get(ENV_API_KEY))
    parser.add_argument("--api-secret", default=os.environ.get(ENV_API_SECRET))
    parser.add_argument(
        "--mark-price", type=cli_args.positive_decimal, default=None, help="initial mark price"
    )
    parser.add_argument(
        "--funding-rate",
        type=cli_args.rate,
        default=None,
        help="funding rate per interval, a fraction in (-1, 1)",
    )
    parser.set_defaults(func=run_emulator_command)


def run_emulator_command(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; exit 2 without keys."""
    if not args.api_key or not args.api_secret:
        _log.error(
            "emulator.missing_keys",
            hint=f"pass --api-key/--api-secret or set {ENV_API_KEY}/{ENV_API_SECRET}",
        )
        return 2
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    from bot.clock import WallClock

    clock = WallClock()
    handle = await start_emulator(
        args.host, args.port, args.api_key, args.api_secret, VenueParams(), clock
    )
    if args.mark_price is not None:
        handle.set_mark(args.mark_price)
    if args.funding_rate is not None:
        handle.set_funding_rate(args.funding_rate)
    _log.info("emulator.ccxt_urls", urls=handle.ccxt_urls())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await handle.close()
    return 0
