"""Binance USD-M WebSocket streams of the emulator: listen keys, the user-data stream and the
mark-price stream, in the frames ccxt.pro ``binanceusdm`` parses (``ccxt/pro/binance.py``:
``authenticate``, ``handle_acount_update``/``parse_ws_position``, ``handle_order_update``/
``parse_ws_order``/``parse_ws_trade``, ``handle_mark_prices``/``parse_ws_ticker``).

* ``POST/PUT/DELETE /fapi/v1/listenKey`` (API key header only, as Binance's USER_STREAM
  security): a key, its keep-alive, its end (its sockets closed).
* ``GET /private/ws?listenKey=K`` (also ``/ws/K``): the user-data stream. ``ACCOUNT_UPDATE``
  when the position (amount, entry, isolated wallet) or the wallet balance changed;
  ``ORDER_TRADE_UPDATE`` for a new order (``x`` NEW), each fill (``x`` TRADE, with ``l``/``L``
  /``n``/``N``/``t``/``rp`` of the fill and ``z``/``ap`` of the order so far) and an order's end
  without a fill (EXPIRED/CANCELED). The account update of a fill goes out before its trade
  updates, and every frame of a REST request's effect before that request's answer.
* ``GET /market/ws[/N]`` (also ``/ws[/N]``): ``{"method": "SUBSCRIBE", "params":
  ["ethusdt@markPrice@1s"], "id": 1}`` -> ``{"result": null, "id": 1}``, then
  ``markPriceUpdate`` frames (``p`` mark, ``i`` index, ``r`` funding rate, ``T`` next funding
  ms) on subscribe, on every change and at least every ``MARK_EVERY_S`` (Binance's ``@1s``).

Changes are found by comparing the venue with what was last pushed (``publish``), after each
REST request and every ``POLL_S`` (a move made in-process, e.g. a test's ``set_mark``).
Nothing is compared while no socket is open. Fault switches: ``drop_streams`` closes every
socket; ``refuse_streams`` answers every WebSocket upgrade with HTTP 503 until cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from bot.domain import Fill, Order, OrderStatus
from bot.exchange.emulators.binance_usdm.auth import ApiCredentials, same_text
from bot.exchange.emulators.binance_usdm.context import BinanceContext
from bot.exchange.emulators.binance_usdm.orders import OrderRoutes
from bot.exchange.emulators.binance_usdm.stream_frames import (
    account_frame,
    mark_frame,
    order_frame,
)
from bot.exchange.emulators.binance_usdm.wire import (
    STATUS_WIRE,
    BinanceError,
    error_response,
)

__all__ = ["MARK_EVERY_S", "POLL_S", "STREAM_PREFIXES", "UserStreams"]

_log = structlog.get_logger("hedgebot.exchange.emulator")

POLL_S = 0.05  # how often the venue is compared while a socket is open
MARK_EVERY_S = 1.0  # a mark frame at least this often (Binance's @1s stream)
STREAM_PREFIXES = ("/ws", "/market/ws", "/private/ws")
_MAX_IN_BYTES = 64 * 1024  # a client frame larger than this closes its socket
_MAX_SUBSCRIPTIONS = 200  # Binance's limit of streams per connection
_FINAL = {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}


@dataclass(frozen=True, slots=True)
class _Account:
    """What an ACCOUNT_UPDATE reports: a change in any field is pushed."""

    size: Decimal
    entry: Decimal
    margin: Decimal
    wallet: Decimal


@dataclass
class _Seen:
    """What the sockets were last told (set when the first socket opens)."""

    account: _Account
    fills: int  # fills pushed (the venue's fill list only grows)
    orders: int  # orders announced (the venue's order log only grows)
    open_orders: dict[str, tuple[OrderStatus, Decimal]]  # not final yet: status, filled
    mark: tuple[Decimal, Decimal, Decimal, int] | None = None
    mark_at: float = 0.0  # host monotonic time of the last mark frame


class UserStreams:
    """Listen keys and the user-data and mark-price sockets of one emulated account."""

    def __init__(
        self, ctx: BinanceContext, orders: OrderRoutes, credentials: ApiCredentials
    ) -> None:
        self.ctx, self._orders, self._credentials = ctx, orders, credentials
        self._keys: set[str] = set()
        self._user: dict[web.WebSocketResponse, str] = {}  # socket -> its listen key
        self._market: dict[web.WebSocketResponse, set[str]] = {}  # socket -> stream names
        self._seen: _Seen | None = None
        self._lock = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None
        self.refusing = False
        self.frames_sent = 0

    # ------------------------------------------------------------------ routes
    def add_routes(self, app: web.Application) -> None:
        """The listen-key routes, the socket routes and the poller's life on ``app``."""
        for method in ("POST", "PUT", "DELETE"):
            app.router.add_route(method, "/fapi/v1/listenKey", self._listen_key)
        app.router.add_get("/private/ws", self._user_socket)
        app.router.add_get("/ws/{key}", self._user_or_market)
        for path in ("/ws", "/market/ws", "/market/ws/{n}"):
            app.router.add_get(path, self._market_socket)
        app.on_startup.append(self._start_poller)
        app.on_shutdown.append(self._shutdown)

    async def _listen_key(self, request: web.Request) -> web.StreamResponse:
        key = request.headers.get("X-MBX-APIKEY")
        try:
            if not key:
                raise BinanceError(-2014)
            if not same_text(key, self._credentials.api_key):
                raise BinanceError(-2015)
            if request.method == "POST":
                listen_key = next(iter(self._keys), None) or secrets.token_hex(32)
                self._keys.add(listen_key)
                return web.json_response({"listenKey": listen_key})
            if not self._keys:
                raise BinanceError(-1125, "This listenKey does not exist.")
            if request.method == "DELETE":
                ended, self._keys = self._keys, set()
                for socket, its_key in list(self._user.items()):
                    if its_key in ended:
                        await socket.close()
            return web.json_response({})
        except BinanceError as exc:
            return error_response(exc)

    async def _user_or_market(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["key"] in self._keys:
            return await self._user_socket(request)
        return await self._market_socket(request)

    async def _user_socket(self, request: web.Request) -> web.StreamResponse:
        key = request.query.get("listenKey") or request.match_info.get("key", "")
        if self.refusing:
            raise web.HTTPServiceUnavailable(text="streams refused (fault switch)")
        if key not in self._keys:
            raise web.HTTPBadRequest(text="unknown listenKey")
        socket = web.WebSocketResponse(max_msg_size=_MAX_IN_BYTES)
        await socket.prepare(request)
        async with self._lock:
            self._baseline()
            self._user[socket] = key
        try:
            async for _message in socket:  # the user-data stream takes no requests
                pass
        finally:
            self._user.pop(socket, None)
        return socket

    async def _market_socket(self, request: web.Request) -> web.StreamResponse:
        if self.refusing:
            raise web.HTTPServiceUnavailable(text="streams refused (fault switch)")
        socket = web.WebSocketResponse(max_msg_size=_MAX_IN_BYTES)
        await socket.prepare(request)
        self._market[socket] = set()
        try:
            async for message in socket:
                if message.type is not WSMsgType.TEXT:
                    break
                await self._market_request(socket, message.data)
        finally:
            self._market.pop(socket, None)
        return socket

    async def _market_request(self, socket: web.WebSocketResponse, text: str) -> None:
        """SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS; anything else is Binance's error 2."""
        try:
            request = json.loads(text)
            method, request_id = request["method"], request.get("id")
            params = [str(p) for p in request.get("params") or []]
        except (ValueError, KeyError, TypeError):
            await socket.send_json({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None})
            return
        streams = self._market[socket]
        if method == "SUBSCRIBE" and len(streams | set(params)) <= _MAX_SUBSCRIPTIONS:
            streams.update(params)
            await socket.send_json({"result": None, "id": request_id})
            if any(self._is_mark(s) for s in params):
                await self._send(socket, mark_frame(self.ctx))
        elif method == "UNSUBSCRIBE":
            streams.difference_update(params)
            await socket.send_json({"result": None, "id": request_id})
        elif method == "LIST_SUBSCRIPTIONS":
            await socket.send_json({"result": sorted(streams), "id": request_id})
        else:
            error = {"code": 2, "msg": f"Invalid request: {method}"}
            await socket.send_json({"error": error, "id": request_id})

    def _is_mark(self, stream: str) -> bool:
        name = self.ctx.market_id.lower()
        return stream in (f"{name}@markPrice", f"{name}@markPrice@1s", "!markPrice@arr")

    # ------------------------------------------------------------------ pushing
    async def publish(self) -> None:
        """Push what changed since the last push to every open socket (no-op when none)."""
        if not self._user and not self._market:
            return
        async with self._lock:
            if self._user:
                self._baseline()
                for frame in self._user_frames():
                    for socket in list(self._user):
                        await self._send(socket, frame)
            if self._market:
                await self._publish_mark()

    async def _publish_mark(self) -> None:
        quote = self.ctx.venue.quote()
        now_mark = (quote.mark_price, quote.index_price, quote.funding_rate, quote.next_funding_ts)
        seen = self._seen_or_new()
        if now_mark == seen.mark and time.monotonic() - seen.mark_at < MARK_EVERY_S:
            return
        seen.mark, seen.mark_at = now_mark, time.monotonic()
        frame = mark_frame(self.ctx)
        for socket, streams in list(self._market.items()):
            if any(self._is_mark(s) for s in streams):
                await self._send(socket, frame)

    async def _send(self, socket: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        if socket.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await socket.send_str(json.dumps(frame))
            self.frames_sent += 1

    def _account(self) -> _Account:
        position, balance = self.ctx.venue.position(), self.ctx.venue.balance()
        return _Account(
            position.size_base, position.entry_price, position.margin, balance.wallet_balance
        )

    def _seen_or_new(self) -> _Seen:
        if self._seen is None:
            venue = self.ctx.venue
            open_orders = {
                o.client_order_id: (o.status, o.filled_base) for o in venue.open_orders()
            }
            self._seen = _Seen(
                self._account(), len(venue.fills(0)), len(venue.order_log()), open_orders
            )
        return self._seen

    def _baseline(self) -> None:
        """What exists when the first user socket opens is not news to it."""
        if not self._user:
            self._seen = None
        self._seen_or_new()

    def _user_frames(self) -> Iterator[dict[str, Any]]:
        seen = self._seen_or_new()
        venue = self.ctx.venue
        fills, log = venue.fills(0), venue.order_log()
        new_fills, new_orders = fills[seen.fills :], log[seen.orders :]
        account = self._account()
        if account != seen.account:
            yield account_frame(self.ctx, "ORDER" if new_fills else "FUNDING_FEE")
            seen.account = account
        seen.fills, seen.orders = len(fills), len(log)
        by_order: dict[str, list[Fill]] = {}
        for fill in new_fills:
            by_order.setdefault(fill.client_order_id, []).append(fill)
        for new in new_orders:
            yield order_frame(self.ctx, self._orders, new, "NEW", "NEW", Decimal(0))
            seen.open_orders[new.client_order_id] = (OrderStatus.NEW, Decimal(0))
        for client_id, last in list(seen.open_orders.items()):
            now = venue.order(client_id)
            if now is None:
                continue
            yield from self._order_changes(now, last, by_order.get(client_id, []))
            if now.status in _FINAL or now.status is OrderStatus.PARTIALLY_FILLED:
                del seen.open_orders[client_id]  # IOC remainder expired: PARTIALLY_FILLED
            else:
                seen.open_orders[client_id] = (now.status, now.filled_base)

    def _order_changes(
        self, order: Order, last: tuple[OrderStatus, Decimal], fills: list[Fill]
    ) -> Iterator[dict[str, Any]]:
        filled = last[1]
        for fill in fills:
            filled += fill.amount_base
            status = "FILLED" if filled >= order.amount_base else "PARTIALLY_FILLED"
            yield order_frame(self.ctx, self._orders, order, "TRADE", status, filled, fill)
        wire = STATUS_WIRE[order.status]
        if wire in ("EXPIRED", "CANCELED", "REJECTED"):
            yield order_frame(self.ctx, self._orders, order, wire, wire, filled)

    # ------------------------------------------------------------------ life and faults
    async def _start_poller(self, _app: web.Application) -> None:
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                await self.publish()
            except Exception as exc:  # noqa: BLE001 - one bad push must not end the poller
                _log.warning("emulator.stream_push_failed", error=repr(exc))

    async def drop(self) -> int:
        """Close every open socket (code 1001, going away); how many were closed."""
        sockets = [*self._user, *self._market]
        for socket in sockets:
            await socket.close(code=1001, message=b"dropped by the emulator")
        _log.info("emulator.streams_dropped", sockets=len(sockets))
        return len(sockets)

    async def _shutdown(self, _app: web.Application) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        await self.drop()

    @property
    def open_sockets(self) -> int:
        """User-data and market sockets open now."""
        return len(self._user) + len(self._market)
