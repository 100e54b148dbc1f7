"""The one validation layer for venue data: raw ccxt dicts in, domain values out.

Pure functions, no I/O. Every field the bot needs is read through ``number``/``text`` with
the rule it must meet; a field that is missing, null, non-finite, not a number, of the wrong
sign, or inconsistent with another field of the same row raises ``VenueDataError`` naming the
row and the field. Nothing here turns an unreadable value into zero: an unread position would
otherwise be taken for a flat one and the whole hedge opened again on every tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from bot.domain import AccountBalance, MarketQuote, MarketRules
from bot.errors import VenueDataError
from bot.exchange.ccxt.fields import (
    NOTIONAL_TOLERANCE,
    agrees,
    mapping,
    number,
    required,
    short,
    timestamp_ms,
)
from bot.exchange.ccxt.positions import hedge_position_row, position_from_ccxt, position_size_base

__all__ = [
    "balance_from_ccxt",
    "best_prices",
    "contract_size_of",
    "funding_rate",
    "hedge_position_row",
    "leverage_from_ccxt",
    "margin_mode_from_ccxt",
    "mark_quote_from_ccxt",
    "position_from_ccxt",
    "position_size_base",
    "quote_from_ccxt",
    "rules_from_market",
]

# positions are read in ``positions`` (re-exported here: the adapter reads every row via parse)


def leverage_from_ccxt(row: Mapping[str, Any], what: str) -> int:
    """The leverage a ccxt leverage structure reports (one-way mode: long == short)."""
    values = {
        number(row, key, what, sign="positive", required=False)
        for key in ("longLeverage", "shortLeverage", "leverage")
    } - {None}
    if len(values) != 1:
        raise VenueDataError(f"{what}: no single leverage reported: {sorted(map(str, values))}")
    value = values.pop()
    assert value is not None
    if value != value.to_integral_value():
        raise VenueDataError(f"{what}: leverage {value} is not a whole number")
    return int(value)


# ------------------------------------------------------------------- balances


def balance_from_ccxt(
    raw: Mapping[str, Any], *, settle: str, settle_id: str | None, wallet_in_info: bool = False
) -> AccountBalance:
    """Settlement-currency collateral: wallet balance (no unrealized PnL) and available.

    Binance's ``info.assets[].walletBalance`` is preferred (ccxt's ``total`` includes
    unrealized PnL there), and required when ``wallet_in_info``; otherwise ccxt's ``total``.
    Raises ``VenueDataError``.
    """
    what = f"{settle} balance"
    account = mapping(raw.get(settle), what) if raw.get(settle) is not None else None
    if not account:
        raise VenueDataError(f"no {settle} balance reported")
    wallet = None
    info = raw.get("info")
    if isinstance(info, Mapping):
        assets = info.get("assets") or []
        if not isinstance(assets, list):
            raise VenueDataError(f"{what}: info.assets is not a list")
        for asset in assets:
            asset_row = mapping(asset, f"{what} asset")
            if settle_id is not None and asset_row.get("asset") == settle_id:
                wallet = required(asset_row, "walletBalance", what, sign="non_negative")
    if wallet is None and wallet_in_info:
        raise VenueDataError(f"{what}: info.assets lists no walletBalance for {settle_id}")
    if wallet is None:
        wallet = required(account, "total", what, sign="non_negative")
    available = required(account, "free", what, sign="non_negative")
    total = required(account, "total", what)
    if available > total + abs(total) * NOTIONAL_TOLERANCE:
        raise VenueDataError(f"{what}: free {available} exceeds total {total}")
    return AccountBalance(asset=settle, wallet_balance=wallet, available=available)


# -------------------------------------------------------------- quote, book


MAX_FUNDING_RATE = Decimal("0.1")  # per interval; venues cap it at a few percent
_MARK_TO_BOOK = Decimal("0.1")  # a mark 10% off the book's mid is corrupt (or no market)
_FUNDING_SLACK_MS = 3_600_000  # a next funding time this far in the past is not "next"


def funding_rate(row: Mapping[str, Any], what: str) -> Decimal:
    """``row['fundingRate']``, a number within +-``MAX_FUNDING_RATE`` (a plausible rate)."""
    rate = required(row, "fundingRate", what)
    if abs(rate) > MAX_FUNDING_RATE:
        raise VenueDataError(f"{what}: funding rate {rate} is not plausible")
    return rate


def best_prices(book: Mapping[str, Any], what: str) -> tuple[Decimal, Decimal]:
    """Best bid and ask of a ccxt order book. Both sides must have a level, each a
    ``[price > 0, amount >= 0, ...]`` list, and the book must not be crossed: a one-sided
    book is no market to cap an order's slippage against. Raises ``VenueDataError``."""
    best: list[Decimal] = []
    for side in ("bids", "asks"):
        levels = book.get(side)
        if not isinstance(levels, list) or not levels:
            raise VenueDataError(f"{what}: no {side} (a one-sided book is no market)")
        best.append(_level_prices(levels, f"{what} {side}")[0])
    bid, ask = best
    if bid >= ask:
        raise VenueDataError(f"{what}: crossed book, bid {bid} >= ask {ask}")
    return bid, ask


def _level_prices(levels: list[Any], what: str) -> list[Decimal]:
    """Every level's price: each a ``[price > 0, amount >= 0, ...]`` list, none skipped."""
    prices = []
    for index, level in enumerate(levels):
        where = f"{what}[{index}]"
        if not isinstance(level, list | tuple) or len(level) < 2:
            raise VenueDataError(f"{where} is not a [price, amount] level: {short(level)}")
        prices.append(required({"price": level[0]}, "price", where, sign="positive"))
        required({"amount": level[1]}, "amount", where, sign="non_negative")
    return prices


def quote_from_ccxt(
    funding: Mapping[str, Any], book: Mapping[str, Any], *, symbol: str, now_ms: int
) -> MarketQuote:
    """Mark, index, funding rate and next funding time from a ccxt funding-rate structure,
    best bid/ask from the book. ``indexPrice`` absent means the mark. Raises
    ``VenueDataError``."""
    default_now = timestamp_ms(book.get("timestamp"), f"{symbol} book timestamp", default=now_ms)
    quote = mark_quote_from_ccxt(funding, symbol=symbol, now_ms=default_now)
    bid, ask = best_prices(book, f"{symbol} order book")
    if not agrees(quote.mark_price, (bid + ask) / 2, _MARK_TO_BOOK):
        raise VenueDataError(
            f"{symbol} funding rate: mark {quote.mark_price} far from the book {bid}/{ask}"
        )
    return replace(quote, bid=bid, ask=ask)


def mark_quote_from_ccxt(funding: Mapping[str, Any], *, symbol: str, now_ms: int) -> MarketQuote:
    """Mark, index, funding rate and next funding time from a ccxt funding-rate structure
    alone (no bid/ask: the lean read of a quiet tick); its time is the answer's ``timestamp``,
    else ``now_ms``. Raises ``VenueDataError``."""
    what = f"{symbol} funding rate"
    mark = required(funding, "markPrice", what, sign="positive")
    index = number(funding, "indexPrice", what, sign="positive", required=False)
    rate = funding_rate(funding, what)
    next_raw = funding.get("fundingTimestamp")
    if next_raw is None:
        next_raw = funding.get("nextFundingTimestamp")
    next_ms = timestamp_ms(next_raw, f"{what} fundingTimestamp")
    now = timestamp_ms(funding.get("timestamp"), f"{what} timestamp", default=now_ms)
    if next_ms < now - _FUNDING_SLACK_MS:
        raise VenueDataError(f"{what}: next funding time {next_ms} before the quote's {now}")
    return MarketQuote(
        symbol=symbol,
        mark_price=mark,
        index_price=index if index is not None else mark,
        funding_rate=rate,
        next_funding_ts=next_ms // 1000,
        timestamp=now // 1000,
    )


# --------------------------------------------------------------- market rules


def rules_from_market(
    market: Mapping[str, Any], *, symbol: str, contract_size: Decimal, precision_mode: str
) -> MarketRules:
    """Step, tick, min amount and min notional (base/quote units) from a ccxt market.

    ``precision_mode``: ``"tick"`` (the precision is the step) or ``"decimals"`` (a number of
    digits). A missing min amount is one step; a missing min notional is no minimum.
    """
    what = f"{symbol} market"
    precision = mapping(market.get("precision") or {}, f"{what} precision")
    limits = mapping(market.get("limits") or {}, f"{what} limits")
    amount_step = _step(precision, "amount", what, precision_mode) * contract_size
    price_tick = _step(precision, "price", what, precision_mode)
    amount_limits = mapping(limits.get("amount") or {}, f"{what} amount limits")
    cost_limits = mapping(limits.get("cost") or {}, f"{what} cost limits")
    min_amount = number(
        amount_limits, "min", f"{what} min amount", sign="non_negative", required=False
    )
    min_notional = number(
        cost_limits, "min", f"{what} min notional", sign="non_negative", required=False
    )
    if min_amount is not None and 0 < min_amount * contract_size < amount_step:
        raise VenueDataError(f"{what}: min amount {min_amount} below the step {amount_step}")
    return MarketRules(
        symbol=symbol,
        amount_step=amount_step,
        price_tick=price_tick,
        min_amount=(min_amount * contract_size) if min_amount else amount_step,
        min_notional=min_notional or Decimal(0),
    )


def contract_size_of(market: Mapping[str, Any], symbol: str) -> Decimal:
    """Base units per contract of a linear market (must be reported and positive)."""
    return required(market, "contractSize", f"{symbol} market", sign="positive")


def _step(precision: Mapping[str, Any], key: str, what: str, mode: str) -> Decimal:
    value = required(precision, key, f"{what} precision", sign="positive")
    if mode == "tick":
        return value
    if value != value.to_integral_value() or value > 18:
        raise VenueDataError(f"{what}: {key} precision {value} is not a digit count")
    return Decimal(1).scaleb(-int(value))


def margin_mode_from_ccxt(row: Mapping[str, Any], what: str) -> str:
    """``isolated`` or ``cross`` from a ccxt margin-mode structure; ``VenueDataError`` else."""
    mode = row.get("marginMode")
    if mode not in ("isolated", "cross"):
        raise VenueDataError(f"{what}: marginMode {short(mode)} is neither isolated nor cross")
    return str(mode)
