"""The one validation layer for venue data: raw ccxt dicts in, domain values out.

Pure functions, no I/O. Every field the bot needs is read through ``number``/``text`` with
the rule it must meet; a field that is missing, null, non-finite, not a number, of the wrong
sign, or inconsistent with another field of the same row raises ``VenueDataError`` naming the
row and the field. Nothing here turns an unreadable value into zero: an unread position would
otherwise be taken for a flat one and the whole hedge opened again on every tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bot.domain import AccountBalance, MarketQuote, MarketRules, PerpPosition
from bot.errors import ExchangeError, VenueDataError
from bot.exchange.ccxt.fields import (
    NOTIONAL_TOLERANCE,
    agrees,
    mapping,
    number,
    required,
    short,
    side_of,
    timestamp_ms,
)
from bot.exchange.ccxt.settings import RawSize

__all__ = [
    "balance_from_ccxt",
    "best_prices",
    "contract_size_of",
    "funding_rate",
    "hedge_position_row",
    "leverage_from_ccxt",
    "margin_mode_from_ccxt",
    "position_from_ccxt",
    "position_size_base",
    "quote_from_ccxt",
    "rules_from_market",
]

# ------------------------------------------------------------------ positions


def position_size_base(
    row: Mapping[str, Any], contract_size: Decimal, what: str, raw_size: RawSize | None = None
) -> Decimal:
    """Signed size in base units of one ccxt position row (0: a flat row).

    ``contracts`` is ccxt's size (unsigned; a venue that signs it must agree with ``side``).
    With ``raw_size`` the venue's own field in ``info`` must be there and agree in size and
    sign, and ``notional`` when present must match size x mark (or entry). Raises
    ``VenueDataError``.
    """
    contracts = required(row, "contracts", what)
    size = Decimal(0)
    if contracts != 0:
        side = side_of(row.get("side"), ("long", "short"), what)
        if contracts < 0 and side == "long":
            raise VenueDataError(f"{what}: side long with negative contracts {contracts}")
        size = abs(contracts) * (1 if side == "long" else -1)
    if raw_size is not None:
        _check_raw_size(row, size, raw_size, what)
    _check_notional(row, size * contract_size, what)
    return size * contract_size


def hedge_position_row(
    answer: object, symbol: str, contract_size: Decimal, raw_size: RawSize | None = None
) -> Mapping[str, Any] | None:
    """The one open ccxt position row for ``symbol`` in a ``fetchPositions`` answer; None
    when flat (no row for it, or rows of zero size).

    Every element must be an object and sizeable (``position_size_base``); open rows only
    for other symbols, or two open rows for ours (hedge mode), raise ``ExchangeError``: the
    bot would otherwise take a position it cannot attribute for flat and hedge again.
    """
    if not isinstance(answer, list):
        raise VenueDataError(f"{symbol}: positions answer is not a list")
    rows = [mapping(p, f"{symbol} position row") for p in answer]
    ours = [p for p in rows if p.get("symbol") == symbol]
    what = f"{symbol} position"
    mine = [p for p in ours if position_size_base(p, contract_size, what, raw_size)]
    if len(mine) > 1:
        raise ExchangeError(f"{symbol}: {len(mine)} positions (hedge mode?)")
    if not ours:
        others = {
            str(p.get("symbol"))
            for p in rows
            if position_size_base(p, Decimal(1), f"{p.get('symbol')!r} position")
        }
        if others:
            raise ExchangeError(
                f"{symbol}: the venue returned open positions only for {', '.join(sorted(others))}"
            )
    return mine[0] if mine else None


def _check_raw_size(row: Mapping[str, Any], size: Decimal, raw: RawSize, what: str) -> None:
    info = mapping(row.get("info") or {}, f"{what} info")
    amount = required(info, raw.key, what, sign="any" if raw.signed else "non_negative")
    if abs(amount) != abs(size) or (raw.signed and amount * size < 0):
        raise VenueDataError(f"{what}: {raw.key} {amount} disagrees with ccxt's size {size}")


def _check_notional(row: Mapping[str, Any], size_base: Decimal, what: str) -> None:
    notional = number(row, "notional", what, required=False)
    if notional is None:
        return
    if (notional < 0 < size_base) or (notional != 0 and size_base == 0):
        raise VenueDataError(f"{what}: notional {notional} disagrees with size {size_base}")
    prices = [
        p
        for p in (
            number(row, "markPrice", what, sign="positive", required=False),
            number(row, "entryPrice", what, sign="positive", required=False),
        )
        if p
    ]
    if prices and not any(
        agrees(abs(size_base) * p, abs(notional), NOTIONAL_TOLERANCE) for p in prices
    ):
        raise VenueDataError(
            f"{what}: notional {notional} disagrees with size {size_base} at price {prices[0]}"
        )


def _margin(row: Mapping[str, Any], what: str) -> Decimal:
    """Isolated: the wallet assigned to the position; cross: initial margin in use."""
    found = [
        number(row, key, what, sign="non_negative", required=False)
        for key in ("positionMargin", "initialMargin")
    ]
    present = [m for m in found if m is not None]
    if not present:
        raise VenueDataError(f"{what}: neither positionMargin nor initialMargin reported")
    return next((m for m in present if m), Decimal(0))


def _leverage(row: Mapping[str, Any], what: str, default: int) -> int:
    value = number(row, "leverage", what, sign="positive", required=False)
    if value is None:
        return default
    if value != value.to_integral_value():
        raise VenueDataError(f"{what}: leverage {value} is not a whole number")
    return int(value)


def position_from_ccxt(
    row: Mapping[str, Any],
    *,
    symbol: str,
    contract_size: Decimal,
    default_leverage: int,
    raw_size: RawSize | None = None,
) -> PerpPosition:
    """An open position from one ccxt position row.

    Needs contracts, side, entryPrice and markPrice (positive), unrealizedPnl, and a margin;
    ``notional`` when present must match size x mark (or entry) within ``NOTIONAL_TOLERANCE``.
    ``unrealizedPnl`` must equal ``(mark - entry) x size`` (1%, or 1 bp of the notional), a
    liquidation price lie beyond the mark on the losing side. ``liquidationPrice`` absent or 0
    means none reported; ``leverage`` absent means
    ``default_leverage`` (what the venue accepted at start). Raises ``VenueDataError``.
    """
    what = f"{symbol} position"
    size = position_size_base(row, contract_size, what, raw_size)
    entry = required(row, "entryPrice", what, sign="positive")
    mark = required(row, "markPrice", what, sign="positive")
    unrealized = required(row, "unrealizedPnl", what)
    _check_unrealized(unrealized, size, entry, mark, what)
    liquidation = _liquidation(row, raw_size, what)
    if liquidation and (liquidation - mark) * size > 0:
        raise VenueDataError(f"{what}: liquidation {liquidation} on the wrong side of mark {mark}")
    return PerpPosition(
        symbol=symbol,
        size_base=size,
        entry_price=entry,
        mark_price=mark,
        unrealized_pnl=unrealized,
        margin=_margin(row, what),
        liquidation_price=liquidation or None,
        leverage=_leverage(row, what, default_leverage),
    )


_SAME_NUMBER = Decimal("1e-12")  # a venue's text and ccxt's float of it


def _liquidation(row: Mapping[str, Any], raw_size: RawSize | None, what: str) -> Decimal | None:
    """The venue's liquidation price (0 or absent: none reported). Where the venue's own field
    is known, only it counts: ccxt fills a missing one with its own estimate."""
    if raw_size is None or raw_size.liquidation_key is None:
        return number(row, "liquidationPrice", what, sign="non_negative", required=False)
    info = mapping(row.get("info") or {}, f"{what} info")
    own = number(info, raw_size.liquidation_key, what, sign="non_negative", required=False)
    parsed = number(row, "liquidationPrice", what, sign="non_negative", required=False)
    if own and parsed and not agrees(parsed, own, _SAME_NUMBER):
        raise VenueDataError(f"{what}: liquidationPrice {parsed} disagrees with the venue's {own}")
    return own


def _check_unrealized(
    reported: Decimal, size: Decimal, entry: Decimal, mark: Decimal, what: str
) -> None:
    """Unrealized PnL is ``(mark - entry) x size`` at the venue (rounded, or a moment apart)."""
    expected = (mark - entry) * size
    slack = max(abs(expected) * Decimal("0.01"), abs(size) * mark * Decimal("0.0001"))
    if abs(reported - expected) > slack:
        raise VenueDataError(
            f"{what}: unrealizedPnl {reported} disagrees with ({mark} - {entry}) x {size}"
        )


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
    what = f"{symbol} funding rate"
    mark = required(funding, "markPrice", what, sign="positive")
    index = number(funding, "indexPrice", what, sign="positive", required=False)
    rate = funding_rate(funding, what)
    next_raw = funding.get("fundingTimestamp")
    if next_raw is None:
        next_raw = funding.get("nextFundingTimestamp")
    next_ms = timestamp_ms(next_raw, f"{what} fundingTimestamp")
    default_now = timestamp_ms(book.get("timestamp"), f"{symbol} book timestamp", default=now_ms)
    now = timestamp_ms(funding.get("timestamp"), f"{what} timestamp", default=default_now)
    if next_ms < now - _FUNDING_SLACK_MS:
        raise VenueDataError(f"{what}: next funding time {next_ms} before the quote's {now}")
    bid, ask = best_prices(book, f"{symbol} order book")
    if not agrees(mark, (bid + ask) / 2, _MARK_TO_BOOK):
        raise VenueDataError(f"{what}: mark {mark} far from the book {bid}/{ask}")
    return MarketQuote(
        symbol=symbol,
        mark_price=mark,
        index_price=index if index is not None else mark,
        funding_rate=rate,
        next_funding_ts=next_ms // 1000,
        timestamp=now // 1000,
        bid=bid,
        ask=ask,
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
