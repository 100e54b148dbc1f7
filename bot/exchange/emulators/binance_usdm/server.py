"""The Binance USD-M emulator assembled: routes of one account over one ``SimVenue`` behind
the fault middleware and the shared admin API, served by ``start_emulator``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web

from bot import errors
from bot.exchange.emulators.admin import (
    ADMIN_PREFIX,
    AdminAction,
    AdminBody,
    AdminTable,
    add_admin_routes,
    admin_number,
)
from bot.exchange.emulators.base import serve_app
from bot.exchange.emulators.binance_usdm.account import AccountRoutes
from bot.exchange.emulators.binance_usdm.auth import ApiCredentials, signed_params
from bot.exchange.emulators.binance_usdm.context import BinanceContext
from bot.exchange.emulators.binance_usdm.entry import OrderEntry
from bot.exchange.emulators.binance_usdm.faults import (
    EmulatorFaults,
    fault_actions,
    request_fault,
)
from bot.exchange.emulators.binance_usdm.handle import EmulatorHandle
from bot.exchange.emulators.binance_usdm.market import MarketRoutes
from bot.exchange.emulators.binance_usdm.orders import OrderRoutes
from bot.exchange.emulators.binance_usdm.streams import STREAM_PREFIXES, UserStreams
from bot.exchange.emulators.binance_usdm.wire import (
    BinanceError,
    check_integer_params,
    error_response,
    wire_decimal,
)
from bot.exchange.emulators.clock import MAX_ADVANCE_S, advance_clock
from bot.exchange.venue import SimVenue, VenueParams
from bot.ports import Clock

__all__ = ["BinanceFuturesEmulator", "start_emulator"]

_log = structlog.get_logger("hedgebot.exchange.emulator")

_Handler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]
_Route = Callable[[dict[str, str]], Any]


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
        self.ctx = BinanceContext(venue, clock, self.faults)
        self._credentials = ApiCredentials(api_key, api_secret)
        self._market = MarketRoutes(self.ctx)
        self._account = AccountRoutes(self.ctx)
        self._orders = OrderRoutes(self.ctx)
        self._entry = OrderEntry(self.ctx, self._orders)
        self.streams = UserStreams(self.ctx, self._orders, self._credentials)
        self.admin_table = AdminTable(
            (*fault_actions(self.faults), *self._market_actions(), *self._stream_actions()),
            result=lambda: {"now_ms": self.ctx.now_ms()},
        )

    @property
    def market_id(self) -> str:
        """The symbol on the wire (``ETHUSDT``)."""
        return self.ctx.market_id

    def app(self) -> web.Application:
        """The aiohttp application: Binance routes plus the ``/_emulator`` admin API."""
        app = web.Application(middlewares=[self._faults_middleware])
        for path, fn in self._market.routes().items():
            app.router.add_get(f"/fapi/v1/{path}", self._public(fn))
        for path, fn in {**self._account.reads(), **self._orders.reads()}.items():
            app.router.add_get(f"/fapi/{path}", self._signed(_sync(fn)))
        for path, fn in self._account.changes().items():
            app.router.add_post(f"/fapi/{path}", self._signed(_sync(fn)))
        app.router.add_post("/fapi/v1/order", self._signed(self._entry.post_order))
        app.router.add_delete("/fapi/v1/order", self._signed(_sync(self._orders.cancel_order)))
        self.streams.add_routes(app)
        add_admin_routes(app, self.admin_table, self.state)
        return app

    @web.middleware
    async def _faults_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith(STREAM_PREFIXES):
            return await handler(request)  # sockets: their own faults (streams.py)
        if request.path.startswith(ADMIN_PREFIX):
            answer = await handler(request)
            await self.streams.publish()
            return answer
        faulted = await request_fault(self.faults, request)
        if faulted is not None:
            return faulted
        self.venue.accrue_funding()
        try:
            answer = await handler(request)
        except BinanceError as exc:
            answer = error_response(exc)
        await self.streams.publish()  # a request's frames go out before its answer
        return answer

    def _public(self, fn: _Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            params = dict(request.query)
            check_integer_params(params)
            return web.json_response(fn(params))

        return handle

    def _signed(self, handler: _Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            params = await signed_params(request, self._credentials, self.ctx.server_ms())
            check_integer_params(params)
            return await handler(request, params)

        return handle

    def _market_actions(self) -> tuple[AdminAction, ...]:
        return (
            AdminAction("mark", self._set_mark, "mark (and index) price"),
            AdminAction("funding_rate", self._set_funding_rate, "funding rate per interval"),
            AdminAction("advance", self._advance, "move the clock, settle funding due"),
        )

    def _stream_actions(self) -> tuple[AdminAction, ...]:
        def refuse(body: AdminBody) -> None:
            self.streams.refusing = bool(body.get("refuse", True))

        def drop(_body: AdminBody) -> None:
            asyncio.get_running_loop().create_task(self.streams.drop())

        return (
            AdminAction("drop_streams", drop, "close every WebSocket"),
            AdminAction("refuse_streams", refuse, "503 to WebSocket upgrades (refuse: bool)"),
        )

    def _set_mark(self, body: AdminBody) -> None:
        price = admin_number(body, "price", low=0, above_low=True)
        index = body.get("index")
        self.venue.set_mark(
            price, None if index is None else admin_number(body, "index", low=0, above_low=True)
        )

    def _set_funding_rate(self, body: AdminBody) -> None:
        self.venue.set_funding_rate(admin_number(body, "rate", low=-1, high=1))

    def _advance(self, body: AdminBody) -> None:
        advance_clock(self.clock, float(admin_number(body, "seconds", low=0, high=MAX_ADVANCE_S)))
        self.venue.accrue_funding()

    def admin(self, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One admin action by name (the HTTP admin API and tests share it): a fault switch
        or a move of the market (mark, funding, clock). Raises ``KeyError`` for an unknown
        action, ``ValueError``/``TypeError`` for a malformed body."""
        return self.admin_table.run(action, body)

    def state(self) -> dict[str, Any]:
        """Position, balance, leverage, margin mode and order count, for humans and tests."""
        position, balance = self.venue.position(), self.venue.balance()
        return {
            "now_ms": self.ctx.now_ms(),
            "symbol": self.market_id,
            "position_base": wire_decimal(position.size_base),
            "entry_price": wire_decimal(position.entry_price),
            "mark_price": wire_decimal(position.mark_price),
            "wallet_balance": wire_decimal(balance.wallet_balance),
            "available": wire_decimal(balance.available),
            "leverage": position.leverage,
            "margin_mode": self.venue.margin_mode,
            "orders": len(self.venue.order_log()),
        }


def _sync(fn: _Route) -> _Handler:
    async def handle(_request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        return web.json_response(fn(params))

    return handle


async def start_emulator(
    host: str,
    port: int,
    api_key: str,
    api_secret: str,
    venue_params: VenueParams,
    clock: Clock,
    venue: SimVenue | None = None,
) -> EmulatorHandle:
    """Serve a fresh ``SimVenue`` (or ``venue``) on ``host:port`` (0: a free port).

    Raises ``ConfigError`` without a key and secret, ``OSError`` when the port is taken."""
    if not api_key or not api_secret:
        raise errors.ConfigError("the emulator needs an API key and secret")
    venue = venue if venue is not None else SimVenue(venue_params, clock)
    emulator = BinanceFuturesEmulator(venue, clock, api_key, api_secret)
    server = await serve_app(emulator.app(), host, port, name="emulator")
    return EmulatorHandle(host=server.host, port=server.port, emulator=emulator, server=server)
