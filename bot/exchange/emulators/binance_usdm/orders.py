"""Binance USD-M order queries: the order-id book (client id <-> Binance ``orderId``, type,
time in force, price, creation time), order/trade/income rows, and the routes that read or
cancel orders (``order``, ``openOrders``, ``allOrders``, ``userTrades``, ``income``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from bot.domain import Fill, Order, OrderStatus, Side
from bot.exchange.emulators.binance_usdm.context import BinanceContext
from bot.exchange.emulators.binance_usdm.wire import (
    STATUS_WIRE,
    BinanceError,
    int_param,
    wire_decimal,
    wire_id,
)

__all__ = ["OrderMeta", "OrderRoutes"]

_WEEK_MS = 7 * 24 * 3600 * 1000
_FIRST_ORDER_ID = 8_000_000_001
OrderMeta = tuple[str, str, Decimal | None, int]  # type, time in force, price, created ms


class OrderRoutes:
    """The order-id book and the signed routes that read or cancel orders."""

    def __init__(self, ctx: BinanceContext) -> None:
        self.ctx = ctx
        self._order_ids: dict[str, int] = {}  # client order id -> Binance orderId
        self._client_ids: dict[int, str] = {}
        self._order_meta: dict[str, OrderMeta] = {}

    def reads(self) -> dict[str, Callable[[dict[str, str]], Any]]:
        """``GET /fapi/<path>`` -> handler of the request parameters."""
        return {
            "v1/order": self._get_order,
            "v1/openOrders": self._open_orders,
            "v1/openOrder": self._get_order,
            "v1/allOrders": self._all_orders,
            "v1/userTrades": self._user_trades,
            "v1/income": self._income,
        }

    def remember(self, client_order_id: str, meta: OrderMeta) -> None:
        """Record a new order's type, time in force, price and creation time; assign its id."""
        self._order_meta[client_order_id] = meta
        self.order_id(client_order_id)

    def order_id(self, client_order_id: str) -> int:
        order_id = self._order_ids.get(client_order_id)
        if order_id is None:
            order_id = _FIRST_ORDER_ID + len(self._order_ids)
            self._order_ids[client_order_id] = order_id
            self._client_ids[order_id] = client_order_id
        return order_id

    def _order_meta_of(self, order: Order) -> OrderMeta:
        """Type, time in force, price and creation time; the venue's own (liquidation) orders
        are market orders never updated after creation."""
        return self._order_meta.get(order.client_order_id, ("MARKET", "GTC", None, order.timestamp))

    def meta(self, order: Order) -> OrderMeta:
        """Type, time in force, price and creation time of ``order`` (the streams' frames)."""
        return self._order_meta_of(order)

    def _created_ms(self, order: Order) -> int:
        return self._order_meta_of(order)[3]

    def order_row(self, order: Order, with_time: bool = True) -> dict[str, Any]:
        """Binance's order: ``time`` is its creation, ``updateTime`` its last change (the
        venue's ``Order.timestamp`` moves when a resting order fills or is cancelled)."""
        order_type, tif, price, created_ms = self._order_meta_of(order)
        cum_quote = order.filled_base * (order.average_price or Decimal(0))
        status = STATUS_WIRE[order.status]
        if order.status == OrderStatus.OPEN and order.filled_base > 0:
            status = "PARTIALLY_FILLED"
        row: dict[str, Any] = {
            "orderId": self.order_id(order.client_order_id),
            "symbol": self.ctx.market_id,
            "status": status,
            "clientOrderId": order.client_order_id,
            "price": wire_decimal(price or 0),
            "avgPrice": wire_decimal(order.average_price or 0),
            "origQty": wire_decimal(order.amount_base),
            "executedQty": wire_decimal(order.filled_base),
            "cumQty": wire_decimal(order.filled_base),
            "cumQuote": wire_decimal(cum_quote),
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
        self.ctx.check_symbol(params)
        client_id = params.get("origClientOrderId")
        order_id = int_param(params, "orderId")
        if client_id is None and order_id is None:
            raise BinanceError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        if client_id is None:
            client_id = self._client_ids.get(order_id or 0)
        order = self.ctx.venue.order(client_id) if client_id is not None else None
        if order is None or (
            order_id is not None and self.order_id(order.client_order_id) != order_id
        ):
            raise missing
        return order

    def _get_order(self, params: dict[str, str]) -> dict[str, Any]:
        return self.order_row(self._find_order(params, BinanceError(-2013)))

    def cancel_order(self, params: dict[str, str]) -> dict[str, Any]:
        order = self._find_order(params, BinanceError(-2011))
        if order.status in (OrderStatus.OPEN, OrderStatus.NEW):
            cancel = getattr(self.ctx.venue, "cancel", None)
            if cancel is None:
                raise BinanceError(-2011)
            order = cancel(order.client_order_id)
            return self.order_row(order)
        raise BinanceError(-2011)

    def _open_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self.ctx.check_symbol(params, required=False)
        return [self.order_row(o) for o in self.ctx.venue.open_orders()]

    def _all_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self.ctx.check_symbol(params)
        start, end = self._window(params)
        min_id = int_param(params, "orderId") or 0
        limit = min(int_param(params, "limit") or 500, 1000)
        rows = [
            self.order_row(o)
            for o in self.ctx.venue.order_log()
            # Binance filters allOrders on creation time, not on the last update
            if start <= self._created_ms(o) <= end and self.order_id(o.client_order_id) >= min_id
        ]
        return rows[:limit]

    def _window(self, params: Mapping[str, str]) -> tuple[int, int]:
        """Binance history windows: at most 7 days; only a start means start + 7 days."""
        start_ms, end_ms = int_param(params, "startTime"), int_param(params, "endTime")
        if start_ms is None and end_ms is None:
            end = self.ctx.now_ms()
            start = end - _WEEK_MS
        elif start_ms is None:
            end = end_ms or 0
            start = end - _WEEK_MS
        else:
            start = start_ms
            end = end_ms if end_ms is not None else start + _WEEK_MS
        if end < start:
            raise BinanceError(-1023)
        if end - start > _WEEK_MS:
            raise BinanceError(-4166)
        return start, end

    def _user_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self.ctx.check_symbol(params)
        start, end = self._window(params)
        limit = min(int_param(params, "limit") or 500, 1000)
        only_order = int_param(params, "orderId")
        rows = []
        for fill in self.ctx.venue.fills(start):
            if fill.timestamp > end:
                continue
            order_id = self.order_id(fill.client_order_id)
            if only_order is not None and order_id != only_order:
                continue
            rows.append(self._trade_row(fill, order_id))
        return rows[:limit]

    def _trade_row(self, fill: Fill, order_id: int) -> dict[str, Any]:
        return {
            "buyer": fill.side == Side.BUY,
            "commission": wire_decimal(fill.fee_quote),
            "commissionAsset": self.ctx.settle,
            "id": wire_id(fill.trade_id),
            "maker": False,
            "orderId": order_id,
            "price": wire_decimal(fill.price),
            "qty": wire_decimal(fill.amount_base),
            "quoteQty": wire_decimal(fill.amount_base * fill.price),
            "realizedPnl": wire_decimal(fill.realized_pnl),
            "side": fill.side.value.upper(),
            "positionSide": "BOTH",
            "symbol": self.ctx.market_id,
            "time": fill.timestamp,
        }

    def _income(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self.ctx.check_symbol(params, required=False)
        start = int_param(params, "startTime")
        end = int_param(params, "endTime") or 2**62
        if start is None:
            start = self.ctx.now_ms() - _WEEK_MS
        limit = min(int_param(params, "limit") or 100, 1000)
        wanted = params.get("incomeType")
        rows: list[dict[str, Any]] = []
        for fill in self.ctx.venue.fills(start):
            trade = str(wire_id(fill.trade_id))
            if fill.realized_pnl != 0:
                rows.append(
                    self._income_row("REALIZED_PNL", fill.realized_pnl, fill.timestamp, trade)
                )
            if fill.fee_quote != 0:
                rows.append(self._income_row("COMMISSION", -fill.fee_quote, fill.timestamp, trade))
        for payment in self.ctx.venue.funding_payments(start):
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
            "symbol": self.ctx.market_id,
            "incomeType": kind,
            "income": wire_decimal(amount),
            "asset": self.ctx.settle,
            "info": kind,
            "time": ts,
            "tranId": int(digest[:12], 16),
            "tradeId": ref if kind != "FUNDING_FEE" else "",
        }
