"""The frames of the emulator's Binance USD-M streams, field by field as Binance sends them
and ccxt.pro ``binanceusdm`` parses them: ``ACCOUNT_UPDATE`` (``parse_ws_position``, the
balance handler), ``ORDER_TRADE_UPDATE`` (``parse_ws_order``/``parse_ws_trade``) and
``markPriceUpdate`` (``parse_ws_ticker``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.domain import Fill, Order
from bot.exchange.emulators.binance_usdm.context import BinanceContext
from bot.exchange.emulators.binance_usdm.orders import OrderRoutes
from bot.exchange.emulators.binance_usdm.wire import wire_decimal, wire_id

__all__ = ["account_frame", "mark_frame", "order_frame"]


def account_frame(ctx: BinanceContext, reason: str) -> dict[str, Any]:
    """The account now: the position row (``pa`` amount, ``ep`` entry, ``iw`` isolated
    wallet) and the settlement asset's wallet balance (``wb``); ``reason`` is ``a.m``."""
    now = ctx.now_ms()
    position, wallet = ctx.venue.position(), ctx.venue.balance().wallet_balance
    size, entry, margin = position.size_base, position.entry_price, position.margin
    isolated = ctx.isolated()
    row = {
        "s": ctx.market_id,
        "pa": wire_decimal(size),
        "ep": wire_decimal(entry),
        "bep": wire_decimal(entry),
        "cr": "0",
        "up": wire_decimal(position.unrealized_pnl),
        "mt": "isolated" if isolated else "cross",
        "iw": wire_decimal(margin if isolated else Decimal(0)),
        "ps": "BOTH",
        "ma": ctx.settle,
    }
    balance = {
        "a": ctx.settle,
        "wb": wire_decimal(wallet),
        "cw": wire_decimal(wallet),
        "bc": "0",
    }
    return {
        "e": "ACCOUNT_UPDATE",
        "E": now,
        "T": now,
        "a": {"m": reason, "B": [balance], "P": [row]},
    }


def order_frame(
    ctx: BinanceContext,
    orders: OrderRoutes,
    order: Order,
    execution: str,
    status: str,
    filled: Decimal,
    fill: Fill | None = None,
) -> dict[str, Any]:
    """One order update: ``x`` the execution (NEW, TRADE, EXPIRED, CANCELED), ``X`` the status,
    ``z`` filled so far; a TRADE carries its ``fill`` (``l``/``L``/``n``/``t``/``rp``)."""
    order_type, tif, price, created = orders.meta(order)
    now = ctx.now_ms()
    body: dict[str, Any] = {
        "s": ctx.market_id,
        "c": order.client_order_id,
        "S": order.side.value.upper(),
        "o": order_type,
        "f": tif,
        "q": wire_decimal(order.amount_base),
        "p": wire_decimal(price or Decimal(0)),
        "ap": wire_decimal(order.average_price if filled else Decimal(0)),
        "sp": "0",
        "x": execution,
        "X": status,
        "i": orders.order_id(order.client_order_id),
        "l": "0",
        "z": wire_decimal(filled),
        "L": "0",
        "n": "0",
        "N": ctx.settle,
        "T": fill.timestamp if fill is not None else now,
        "t": 0,
        "b": "0",
        "a": "0",
        "m": False,
        "R": order.reduce_only,
        "wt": "CONTRACT_PRICE",
        "ot": order_type,
        "ps": "BOTH",
        "cp": False,
        "rp": "0",
        "pP": False,
        "si": 0,
        "ss": 0,
        "V": "NONE",
        "pm": "NONE",
        "gtd": 0,
    }
    if created and execution == "NEW":
        body["T"] = created
    if fill is not None:
        body.update(
            l=wire_decimal(fill.amount_base),
            L=wire_decimal(fill.price),
            n=wire_decimal(fill.fee_quote),
            t=wire_id(fill.trade_id),
            rp=wire_decimal(fill.realized_pnl),
        )
    return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": body["T"], "o": body}


def mark_frame(ctx: BinanceContext) -> dict[str, Any]:
    """The mark now: ``p`` mark, ``i`` index, ``r`` funding rate, ``T`` next funding (ms)."""
    quote = ctx.venue.quote()
    return {
        "e": "markPriceUpdate",
        "E": ctx.now_ms(),
        "s": ctx.market_id,
        "p": wire_decimal(quote.mark_price),
        "i": wire_decimal(quote.index_price),
        "P": wire_decimal(quote.mark_price),
        "r": wire_decimal(quote.funding_rate),
        "T": quote.next_funding_ts * 1000,
    }
