"""Orders, fills and funding payments from raw ccxt dicts (see ``ccxt_fields`` for the rules).

Pure functions; each raises ``VenueDataError`` for a row it cannot trust, never a silent zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from bot.domain import Fill, FundingPayment, Order, OrderIntent, OrderStatus, Side
from bot.errors import VenueDataError
from bot.exchange.ccxt.fields import (
    NOTIONAL_TOLERANCE,
    agrees,
    mapping,
    number,
    required,
    short,
    side_of,
    text,
    timestamp_ms,
)
from bot.exchange.ccxt.parse import funding_rate

__all__ = [
    "FUNDING_MATCH_MS",
    "fee_cost",
    "fill_from_ccxt",
    "funding_from_ccxt",
    "order_from_ccxt",
]

FUNDING_MATCH_MS = 60_000  # a funding income is matched to the rate published within this


# --------------------------------------------------------------- orders, fills


_STATUSES = {
    "closed": OrderStatus.FILLED,
    "open": OrderStatus.OPEN,
    "rejected": OrderStatus.REJECTED,
}


def _status(raw: object, filled: Decimal, *, fresh: bool, what: str) -> OrderStatus:
    """ccxt's unified status to ours; an IOC remainder cancelled after a fill is partial.

    An unreported status is UNKNOWN only in the answer to our own submit (``fresh``: the
    order is looked up next); a status read back from the venue must be one ccxt knows."""
    if raw in ("canceled", "expired"):
        if filled > 0:
            return OrderStatus.PARTIALLY_FILLED
        return OrderStatus.CANCELED if raw == "canceled" else OrderStatus.EXPIRED
    if isinstance(raw, str) and raw in _STATUSES:
        return _STATUSES[raw]
    if not fresh:
        raise VenueDataError(f"{what}: status {short(raw)} unknown")
    return OrderStatus.UNKNOWN


def fee_cost(fee: object, what: str, *, needed: bool = False) -> tuple[Decimal, object]:
    """``(cost, currency)`` of a ccxt fee structure; no fee reported is ``(0, None)`` unless
    ``needed`` (then ``VenueDataError``)."""
    if fee is None and needed:
        raise VenueDataError(f"{what}: no fee reported")
    if fee is None:
        return Decimal(0), None
    fee_row = mapping(fee, f"{what} fee")
    cost = number(fee_row, "cost", f"{what} fee", required=needed)
    return (cost if cost is not None else Decimal(0)), fee_row.get("currency")


def order_from_ccxt(
    raw: Mapping[str, Any],
    *,
    symbol: str,
    contract_size: Decimal,
    intent: OrderIntent | None,
    now_ms: int,
) -> tuple[Order, object]:
    """An order from a ccxt order structure, and its fee currency (for the caller to judge).

    Missing side, amount, reduce-only or client id fall back to the ``intent`` the order was
    sent for (an ACK answer echoes little); without an intent they are required. Filled must
    not exceed the amount; a fill needs a positive average price. Raises ``VenueDataError``.
    """
    what = f"order {short(raw.get('id'))}"
    fallback: dict[str, Any] = {}
    if intent is not None:
        fallback = {
            "clientOrderId": intent.client_order_id,
            "side": intent.side.value,
            "amount": intent.amount_base / contract_size,
            "reduceOnly": intent.reduce_only,
            "filled": 0,  # a fresh ACK may not report fills yet; the order is looked up later
            "timestamp": now_ms,
        }
    row = {**fallback, **{k: v for k, v in raw.items() if v is not None}}
    client_id = text(row, "clientOrderId", what)
    amount = required(row, "amount", what, sign="positive")
    filled = required(row, "filled", what, sign="non_negative")
    if filled > amount:
        raise VenueDataError(f"{what}: filled {filled} exceeds amount {amount}")
    if row.get("status") == "closed" and filled != amount:
        raise VenueDataError(f"{what}: closed with {filled} of {amount} filled")
    average = (
        required(row, "average", what, sign="positive")
        if filled
        else number(row, "average", what, required=False)
    )
    reduce_only = row.get("reduceOnly")
    if not isinstance(reduce_only, bool):
        raise VenueDataError(f"{what}: reduceOnly {short(reduce_only)} is not a boolean")
    fee, currency = fee_cost(raw.get("fee"), what)
    order = Order(
        client_order_id=client_id,
        exchange_order_id=text(row, "id", what),
        symbol=symbol,
        side=Side(side_of(row.get("side"), ("buy", "sell"), what)),
        amount_base=amount * contract_size,
        filled_base=filled * contract_size,
        average_price=average if filled else None,
        status=_status(row.get("status"), filled, fresh=intent is not None, what=what),
        reduce_only=reduce_only,
        fee_quote=fee,
        timestamp=timestamp_ms(row.get("timestamp"), f"{what} timestamp"),
    )
    return order, currency


def fill_from_ccxt(
    trade: Mapping[str, Any],
    *,
    symbol: str,
    contract_size: Decimal,
    client_order_id: str,
    realized_pnl_key: str | None,
) -> tuple[Fill, object]:
    """One execution from a ccxt trade, and its fee currency (for the caller to judge).

    Needs id, order, side, amount and price (positive), timestamp; ``cost`` must
    equal amount x price within ``NOTIONAL_TOLERANCE``; a taker fee is not negative. The
    venue's realized PnL is ``info[realized_pnl_key]`` (``settings.REALIZED_PNL_FIELDS``:
    Binance ``realizedPnl``, Hyperliquid ``closedPnl``), required: a row without it, or a
    venue whose field is not known (``None``), is unknown realized PnL, never 0. Raises
    ``VenueDataError``.
    """
    what = f"trade {short(trade.get('id'))}"
    amount = required(trade, "amount", what, sign="positive")
    price = required(trade, "price", what, sign="positive")
    cost = required(trade, "cost", what, sign="non_negative")  # ccxt fills it in when absent
    if not any(
        agrees(cost, amount * price * size, NOTIONAL_TOLERANCE) for size in (contract_size, 1)
    ):
        raise VenueDataError(f"{what}: cost {cost} disagrees with {amount} x {price}")
    info = mapping(trade.get("info") or {}, f"{what} info")
    if realized_pnl_key is None:
        raise VenueDataError(f"{what}: this venue's realized PnL field is not known (not 0)")
    realized = required(info, realized_pnl_key, what)
    fee, currency = fee_cost(trade.get("fee"), what, needed=True)
    if fee < 0 and trade.get("takerOrMaker") == "taker":
        raise VenueDataError(f"{what}: negative fee {fee} on a taker trade")
    fill = Fill(
        trade_id=text(trade, "id", what),
        client_order_id=client_order_id,
        exchange_order_id=text(trade, "order", what),
        symbol=symbol,
        side=Side(side_of(trade.get("side"), ("buy", "sell"), what)),
        amount_base=amount * contract_size,
        price=price,
        fee_quote=fee,
        realized_pnl=realized,
        timestamp=timestamp_ms(trade.get("timestamp"), f"{what} timestamp"),
    )
    return fill, currency


# -------------------------------------------------------------------- funding


def funding_from_ccxt(
    income: Mapping[str, Any],
    rates: Sequence[Mapping[str, Any]],
    *,
    symbol: str,
    amount_step: Decimal,
) -> FundingPayment:
    """One funding payment from a ccxt funding-history row and the venue's rate history.

    The rate (and Binance's ``info.markPrice``) come from the rate published within
    ``FUNDING_MATCH_MS`` of the payment; the position is derived from the amount,
    ``amount = -position * mark * rate`` (Binance's income record holds only the amount),
    rounded to ``amount_step``. A non-zero rate needs a positive mark. Raises
    ``VenueDataError``.
    """
    ts = timestamp_ms(income.get("timestamp"), "funding payment timestamp")
    what = f"funding payment at {ts}"
    amount = required(income, "amount", what)
    timed = [(timestamp_ms(r.get("timestamp"), "funding rate timestamp"), r) for r in rates]
    nearest = min(timed, key=lambda pair: abs(pair[0] - ts), default=None)
    if nearest is None or abs(nearest[0] - ts) > FUNDING_MATCH_MS:
        raise VenueDataError(f"{what}: no funding rate published then")
    rate_row = nearest[1]
    rate = funding_rate(rate_row, what)
    info = mapping(rate_row.get("info") or {}, f"{what} rate info")
    mark = number(info, "markPrice", f"{what} rate", sign="non_negative", required=bool(rate))
    position = Decimal(0)
    if rate and mark:
        position = (-amount / (mark * rate)).quantize(amount_step)
    elif rate:
        raise VenueDataError(f"{what}: mark price 0 with funding rate {rate}")
    return FundingPayment(
        id=text(income, "id", what, default=ts),
        symbol=symbol,
        amount_quote=amount,
        rate=rate,
        position_base=position,
        mark_price=mark if mark is not None else Decimal(0),
        timestamp=ts,
    )
