"""Answers of the emulated ``POST /info`` endpoint, built from a ``HyperliquidBook``.

Shapes follow Hyperliquid's info endpoint (``metaAndAssetCtxs``, ``clearinghouseState``,
``orderStatus``, ``userFills``, ``userFunding``, ``frontendOpenOrders``, ``l2Book`` ...): numbers
are decimal text, times integer milliseconds, oids integers. Only the venue account has state;
any other address reads as an empty account.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from bot.domain import Fill, Order, OrderStatus, Side
from bot.exchange.emulators.hyperliquid.book import HyperliquidBook
from bot.exchange.emulators.hyperliquid.rules import money, wire
from bot.exchange.venue_liquidations import is_venue_liquidation

__all__ = [
    "ZERO_HASH",
    "clearinghouse_state",
    "meta_and_asset_ctxs",
    "open_orders",
    "order_row",
    "order_status",
    "spot_meta",
    "user_fills",
    "user_funding",
]

ZERO_HASH = "0x" + "0" * 64
TID_BASE = 700_000_000_000
_ZERO = Decimal(0)
# a second listed perp, so that an adapter hard-coding asset 0 is caught (the venue lists BTC 0)
_BTC = {"szDecimals": 5, "name": "BTC", "maxLeverage": 40, "marginTableId": 56}
_BTC_CTX = {
    "funding": "0.0000125",
    "openInterest": "0.0",
    "prevDayPx": "60000.0",
    "dayNtlVlm": "0.0",
    "premium": "0.0",
    "oraclePx": "60000.0",
    "markPx": "60000.0",
    "midPx": "60000.0",
    "impactPxs": ["59999.0", "60001.0"],
    "dayBaseVlm": "0.0",
}
_USDC_TOKEN = {
    "name": "USDC",
    "szDecimals": 8,
    "weiDecimals": 8,
    "index": 0,
    "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054",
    "isCanonical": True,
    "evmContract": None,
    "fullName": None,
}


def meta_and_asset_ctxs(book: HyperliquidBook) -> list[Any]:
    """``[{universe, marginTables}, [asset context per universe entry]]``."""
    quote = book.venue.quote()
    eth = {
        "szDecimals": book.sz_decimals,
        "name": book.coin,
        "maxLeverage": book.max_leverage,
        "marginTableId": 55,
    }
    bid, ask = quote.bid or quote.mark_price, quote.ask or quote.mark_price
    ctx = {
        "funding": wire(quote.funding_rate),
        "openInterest": wire(abs(book.venue.position().size_base)),
        "prevDayPx": wire(quote.mark_price),
        "dayNtlVlm": "0.0",
        "premium": wire(
            ((quote.mark_price - quote.index_price) / quote.index_price).quantize(Decimal("1e-8"))
        ),
        "oraclePx": wire(quote.index_price),
        "markPx": wire(quote.mark_price),
        "midPx": wire((bid + ask) / 2),
        "impactPxs": [wire(bid), wire(ask)],
        "dayBaseVlm": "0.0",
    }
    universe = [_BTC, eth] if book.asset == 1 else [eth]
    ctxs = [_BTC_CTX, ctx] if book.asset == 1 else [ctx]
    return [{"universe": universe, "marginTables": []}, ctxs]


def spot_meta() -> dict[str, Any]:
    """The spot metadata: USDC only, no spot pairs."""
    return {"universe": [], "tokens": [_USDC_TOKEN]}


def _summary(account_value: Decimal, notional: Decimal, raw_usd: Decimal, used: Decimal) -> Any:
    return {
        "accountValue": money(account_value),
        "totalNtlPos": money(notional),
        "totalRawUsd": money(raw_usd),
        "totalMarginUsed": money(used),
    }


def _position_row(book: HyperliquidBook) -> dict[str, Any]:
    venue = book.venue
    p = venue.position()
    isolated = venue.margin_mode == "isolated"
    upnl = p.unrealized_pnl
    leverage: dict[str, Any] = {"type": venue.margin_mode, "value": venue.leverage}
    if isolated:
        leverage["rawUsd"] = money(-p.size_base * p.entry_price + p.margin)
    paid = [-f.amount_quote for f in venue.funding_payments(0)]
    return {
        "type": "oneWay",
        "position": {
            "coin": book.coin,
            "szi": wire(p.size_base),
            "leverage": leverage,
            "entryPx": wire(p.entry_price),
            "positionValue": money(abs(p.size_base) * p.mark_price),
            "unrealizedPnl": money(upnl),
            "returnOnEquity": wire((upnl / p.margin).quantize(Decimal("1e-8")))
            if p.margin
            else "0.0",
            "liquidationPx": wire(p.liquidation_price) if p.liquidation_price else None,
            "marginUsed": money(p.margin + upnl if isolated else p.margin),
            "maxLeverage": book.max_leverage,
            "cumFunding": {
                "allTime": money(sum(paid, _ZERO)),
                "sinceOpen": money(sum(paid, _ZERO)),
                "sinceChange": "0.0",
            },
        },
    }


def clearinghouse_state(book: HyperliquidBook, is_venue_account: bool) -> dict[str, Any]:
    """Perp account summary: positions, margin summaries, withdrawable."""
    now_ms = int(book.venue.clock.now() * 1000)
    if not is_venue_account:
        empty = _summary(_ZERO, _ZERO, _ZERO, _ZERO)
        return {
            "marginSummary": empty,
            "crossMarginSummary": empty,
            "crossMaintenanceMarginUsed": "0.0",
            "withdrawable": "0.0",
            "assetPositions": [],
            "time": now_ms,
        }
    venue = book.venue
    p = venue.position()
    balance = venue.balance()
    value = balance.wallet_balance + p.unrealized_pnl
    summary = _summary(
        value, abs(p.size_base) * p.mark_price, value - p.size_base * p.mark_price, p.margin
    )
    return {
        "marginSummary": summary,
        "crossMarginSummary": summary,
        "crossMaintenanceMarginUsed": "0.0",
        "withdrawable": money(balance.available),
        "assetPositions": [_position_row(book)] if p.size_base != 0 else [],
        "time": now_ms,
    }


def _remaining(order: Order) -> Decimal:
    return _ZERO if order.status is OrderStatus.FILLED else order.amount_base - order.filled_base


def order_row(book: HyperliquidBook, order: Order, frontend: bool = True) -> dict[str, Any]:
    """An order as ``openOrders`` (``frontend=False``) or ``frontendOpenOrders`` lists it."""
    meta = book.meta(order)
    row: dict[str, Any] = {
        "coin": book.coin,
        "side": "B" if order.side is Side.BUY else "A",
        "limitPx": wire(meta.limit_px),
        "sz": wire(_remaining(order)),
        "oid": book.oid_of(order),
        "timestamp": meta.created_ms,
        "origSz": wire(order.amount_base),
    }
    if meta.cloid is not None:
        row["cloid"] = meta.cloid
    if frontend:
        row.update(
            triggerCondition="N/A",
            isTrigger=False,
            triggerPx="0.0",
            children=[],
            isPositionTpsl=False,
            reduceOnly=order.reduce_only,
            orderType="Limit",
            tif=meta.tif,
            cloid=meta.cloid,
        )
    return row


def _status_word(book: HyperliquidBook, order: Order) -> str:
    meta = book.meta(order)
    if meta.status_override is not None:
        return meta.status_override
    if order.status is OrderStatus.EXPIRED and order.reduce_only:
        return "reduceOnlyCanceled"
    words = {OrderStatus.OPEN: "open", OrderStatus.FILLED: "filled"}
    return words.get(order.status, "canceled")


def order_status(book: HyperliquidBook, order: Order | None) -> dict[str, Any]:
    """``{"status": "order", "order": {order, status, statusTimestamp}}`` or unknownOid."""
    if order is None:
        return {"status": "unknownOid"}
    return {
        "status": "order",
        "order": {
            "order": order_row(book, order),
            "status": _status_word(book, order),
            "statusTimestamp": order.timestamp,
        },
    }


def open_orders(book: HyperliquidBook, frontend: bool) -> list[dict[str, Any]]:
    """Resting orders, newest first."""
    rows = [order_row(book, o, frontend) for o in book.venue.open_orders()]
    return sorted(rows, key=lambda r: -int(r["oid"]))


def _direction(start: Decimal, fill: Fill) -> str:
    if fill.side is Side.BUY:
        if start >= 0:
            return "Open Long"
        return "Close Short" if fill.amount_base <= -start else "Short > Long"
    if start <= 0:
        return "Open Short"
    return "Close Long" if fill.amount_base <= start else "Long > Short"


def _fill_rows(book: HyperliquidBook, fills: Iterable[Fill], user: str) -> list[dict[str, Any]]:
    """``userFills`` rows of ``user``'s ``fills``. A close the venue made (the simulated
    venue's liquidation, ``bot.exchange.venue_liquidations``) is rendered as Hyperliquid
    shows the liquidated user's fill: no cloid, a ``liquidation`` object naming ``user``,
    ``method`` ``market`` and as ``markPx`` the price it closed at (the simulated venue
    closes at the liquidation price the mark reached; it keeps no mark history)."""
    rows: list[dict[str, Any]] = []
    position = _ZERO
    for fill in fills:
        order = book.venue.order(fill.client_order_id)
        meta = book.meta(order) if order is not None else None
        row: dict[str, Any] = {
            "coin": book.coin,
            "px": wire(fill.price),
            "sz": wire(fill.amount_base),
            "side": "B" if fill.side is Side.BUY else "A",
            "time": fill.timestamp,
            "startPosition": wire(position),
            "dir": _direction(position, fill),
            "closedPnl": money(fill.realized_pnl),
            "hash": ZERO_HASH,
            "oid": book.oid_of(order) if order is not None else 0,
            "crossed": not (meta is not None and meta.rested),
            "fee": money(fill.fee_quote),
            "tid": TID_BASE + int(fill.trade_id),
            "feeToken": "USDC",
        }
        if is_venue_liquidation(fill.client_order_id):
            row["liquidation"] = {
                "liquidatedUser": user,
                "markPx": wire(fill.price),
                "method": "market",
            }
        elif meta is not None and meta.cloid is not None:
            row["cloid"] = meta.cloid
        rows.append(row)
        position += fill.amount_base if fill.side is Side.BUY else -fill.amount_base
    return rows


def user_fills(
    book: HyperliquidBook, user: str, start_ms: int | None = None, end_ms: int | None = None
) -> list[dict[str, Any]]:
    """``user``'s fills (the venue account's address; newest first), optionally within
    ``[start_ms, end_ms]``."""
    rows = _fill_rows(book, book.venue.fills(0), user)
    low, high = start_ms or 0, end_ms if end_ms is not None else 2**63
    return [r for r in reversed(rows) if low <= r["time"] <= high]


def user_funding(
    book: HyperliquidBook, start_ms: int, end_ms: int | None = None
) -> list[dict[str, Any]]:
    """Funding settled on the account within ``[start_ms, end_ms]``, oldest first."""
    high = end_ms if end_ms is not None else 2**63
    return [
        {
            "time": p.timestamp,
            "hash": ZERO_HASH,
            "delta": {
                "type": "funding",
                "coin": book.coin,
                "usdc": money(p.amount_quote),
                "szi": wire(p.position_base),
                "fundingRate": wire(p.rate),
                "nSamples": None,
            },
        }
        for p in book.venue.funding_payments(start_ms)
        if p.timestamp <= high
    ]


def l2_book(book: HyperliquidBook) -> dict[str, Any]:
    """A one-level book around the mark."""
    quote = book.venue.quote()
    bid, ask = quote.bid or quote.mark_price, quote.ask or quote.mark_price
    depth = "100.0"
    return {
        "coin": book.coin,
        "time": int(book.venue.clock.now() * 1000),
        "levels": [
            [{"px": wire(bid), "sz": depth, "n": 1}],
            [{"px": wire(ask), "sz": depth, "n": 1}],
        ],
    }
