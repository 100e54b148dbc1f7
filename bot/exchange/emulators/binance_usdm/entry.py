"""Binance USD-M order entry: ``POST /fapi/v1/order`` parsed with Binance's rules and
refusals, submitted to the ``SimVenue``, answered as ACK or RESULT; the drop-the-answer and
partial-fill fault switches act here."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Literal

import structlog
from aiohttp import web

from bot import errors
from bot.domain import Order, OrderIntent, Side
from bot.exchange.emulators.binance_usdm.context import BinanceContext
from bot.exchange.emulators.binance_usdm.orders import OrderRoutes
from bot.exchange.emulators.binance_usdm.wire import (
    BinanceError,
    dec_param,
    int_param,
    mandatory,
    wire_decimal,
)

__all__ = ["OrderEntry"]

_log = structlog.get_logger("hedgebot.exchange.emulator")
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
# numeric order parameters the emulator does not act on: still only Binance-legal text
_OTHER_DECIMAL_ORDER_PARAMS = ("stopPrice", "activationPrice", "callbackRate", "priceRate")
_OTHER_INT_ORDER_PARAMS = ("goodTillDate",)


class OrderEntry:
    """``POST /fapi/v1/order``: ``post_order(request, params)``."""

    def __init__(self, ctx: BinanceContext, orders: OrderRoutes) -> None:
        self.ctx = ctx
        self.orders = orders
        self._auto_client_id = 0

    async def post_order(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        intent, order_type, tif, limit_price = self._parse_order(params)
        if self.ctx.venue.order(intent.client_order_id) is not None:
            raise BinanceError(-4116)
        fraction = self.ctx.faults.partial_fill_next_ioc if tif == "IOC" else None
        if fraction is not None:
            self.ctx.faults.partial_fill_next_ioc = None
        order = self._submit(intent, fraction, "GTC" if tif == "GTC" and limit_price else "IOC")
        self.orders.remember(
            intent.client_order_id, (order_type, tif, limit_price, self.ctx.now_ms())
        )
        _log.info(
            "emulator.order_accepted",
            client_order_id=order.client_order_id,
            status=order.status.value,
            filled_base=str(order.filled_base),
        )
        drop = self.ctx.faults.drop_next_order
        if drop is not None:
            self.ctx.faults.drop_next_order = None
            if drop == "reset":
                _log.info("emulator.response_dropped", client_order_id=order.client_order_id)
                if request.transport is not None:
                    request.transport.abort()
                raise web.HTTPServiceUnavailable()  # never delivered: the socket is gone
            await asyncio.sleep(self.ctx.faults.drop_delay_s)
        if params.get("newOrderRespType", "ACK").upper() == "ACK":
            row = self.orders.order_row(order, with_time=False)
            row.update(status="NEW", executedQty="0", cumQty="0", cumQuote="0", avgPrice="0")
            return web.json_response(row)
        return web.json_response(self.orders.order_row(order, with_time=False))

    def _submit(
        self,
        intent: OrderIntent,
        partial_fraction: Decimal | None,
        time_in_force: Literal["IOC", "GTC"],
    ) -> Order:
        try:
            return self.ctx.venue.submit(
                intent, fill_fraction=partial_fraction, time_in_force=time_in_force
            )
        except errors.MinNotionalError as exc:
            minimum = wire_decimal(self.ctx.venue.rules().min_notional.normalize())
            raise BinanceError(-4164, minimum=minimum) from exc
        except errors.ReduceOnlyRejected as exc:
            raise BinanceError(-2022) from exc
        except errors.InsufficientMargin as exc:
            raise BinanceError(-2019) from exc
        except errors.InvalidOrder as exc:
            if "duplicate" in str(exc).lower():
                raise BinanceError(-4116) from exc
            raise BinanceError(-1013, reason=str(exc)) from exc

    def _parse_limit(self, params: dict[str, str], order_type: str) -> tuple[str, Decimal | None]:
        """Time in force and limit price of an order (GTC and None for a market order)."""
        if order_type != "LIMIT":
            if "price" in params:
                raise BinanceError(-1106, name="price")
            return "GTC", None
        tif = params.get("timeInForce", "").upper()
        if not tif:
            raise mandatory("timeInForce")
        if tif not in ("IOC", "GTC"):
            raise BinanceError(-1115)
        limit_price = dec_param(params, "price")
        assert limit_price is not None
        if limit_price <= 0:
            raise BinanceError(-4001)
        if limit_price % self.ctx.venue.rules().price_tick != 0:
            raise BinanceError(-4014)
        return tif, limit_price

    def _parse_order(self, params: dict[str, str]) -> tuple[OrderIntent, str, str, Decimal | None]:
        self.ctx.check_symbol(params)
        rules = self.ctx.venue.rules()
        side_raw = params.get("side", "").upper()
        if side_raw not in ("BUY", "SELL"):
            raise BinanceError(-1117)
        order_type = params.get("type", "").upper()
        if order_type not in ("MARKET", "LIMIT"):
            raise BinanceError(-1116)
        if params.get("positionSide", "BOTH").upper() != "BOTH":
            raise BinanceError(-4061)
        for name in _OTHER_DECIMAL_ORDER_PARAMS:
            dec_param(params, name, required=False)  # -1100 for nan, 1e400, -1, ...
        for name in _OTHER_INT_ORDER_PARAMS:
            int_param(params, name)
        quantity = dec_param(params, "quantity")
        assert quantity is not None
        if quantity <= 0:
            raise BinanceError(-4003)
        if quantity % rules.amount_step != 0:
            raise BinanceError(-1111)
        if quantity < rules.min_amount:
            raise BinanceError(-4004)
        tif, limit_price = self._parse_limit(params, order_type)
        client_id = params.get("newClientOrderId")
        if client_id is None:
            self._auto_client_id += 1
            client_id = f"emu_auto_{self._auto_client_id}"
        if not _CLIENT_ID.match(client_id):
            raise BinanceError(-4015)
        reduce_only = params.get("reduceOnly", "false").lower()
        if reduce_only not in ("true", "false"):
            raise BinanceError(-1130, name="reduceOnly")
        intent = OrderIntent(
            client_order_id=client_id,
            symbol=rules.symbol,
            side=Side.BUY if side_raw == "BUY" else Side.SELL,
            amount_base=quantity,
            reduce_only=reduce_only == "true",
            limit_price=limit_price,
        )
        return intent, order_type, tif, limit_price
