"""Position rows: the one open ccxt position row of the hedge symbol, read into a
``PerpPosition`` (part of the validation layer, ``parse``).

Pure functions, no I/O. Where a venue's own fields are known (``settings.RAW_SIZE_FIELDS``),
only they count: ccxt fills a missing size, liquidation price or initial margin with its own
estimate, which the bot must never take for the venue's number. Every disagreement between
fields of one row (size and side, notional and size x price, unrealized PnL and the prices)
raises ``VenueDataError`` naming the row and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bot.domain import PerpPosition
from bot.errors import ExchangeError, VenueDataError
from bot.exchange.ccxt.fields import (
    NOTIONAL_TOLERANCE,
    agrees,
    mapping,
    number,
    required,
    short,
    side_of,
)
from bot.exchange.ccxt.settings import AccountSetup, RawSize

__all__ = [
    "hedge_position_row",
    "leverage_setting_of_row",
    "position_from_ccxt",
    "position_size_base",
]


def position_size_base(
    row: Mapping[str, Any], contract_size: Decimal, what: str, raw_size: RawSize | None = None
) -> Decimal:
    """Signed size in base units of one ccxt position row (0: a flat row).

    ``contracts`` is ccxt's size (unsigned; a venue that signs it must agree with ``side``).
    With ``raw_size`` the venue's own field in ``info`` must be there and agree in size and
    sign, and ``notional`` when present must match size x the venue's notional price. Raises
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
    _check_notional(row, size * contract_size, what, raw_size)
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


def _check_notional(
    row: Mapping[str, Any], size_base: Decimal, what: str, raw_size: RawSize | None
) -> None:
    """``notional`` (when reported) is ``|size| x price`` at the venue's price for it: the
    mark (Binance ``notional``, Hyperliquid ``positionValue``, OKX), or the entry where the
    venue says so (``RawSize.notional_price``: Bybit's ``positionValue``). Taking either
    price would let a row whose mark and entry were swapped (and its PnL sign with them)
    read as a consistent position of the other sign of PnL."""
    notional = number(row, "notional", what, required=False)
    if notional is None:
        return
    if (notional < 0 < size_base) or (notional != 0 and size_base == 0):
        raise VenueDataError(f"{what}: notional {notional} disagrees with size {size_base}")
    key = (
        "entryPrice" if raw_size is not None and raw_size.notional_price == "entry" else "markPrice"
    )
    price = number(row, key, what, sign="positive", required=False)
    if price and not agrees(abs(size_base) * price, abs(notional), NOTIONAL_TOLERANCE):
        raise VenueDataError(
            f"{what}: notional {notional} disagrees with size {size_base} at {key} {price}"
        )


_MARGIN_MODES = ("isolated", "cross")


def _margin(row: Mapping[str, Any], what: str, account_mode: str | None) -> Decimal:
    """The margin of an open position, by its margin mode: the row's ``marginMode``, else the
    account's (``account_mode``, as set or read back at start); the two must agree.

    Isolated: the wallet assigned to the position (ccxt's ``positionMargin``), required and
    non-zero; cross: the initial margin in use (``initialMargin``), required. Never one for the
    other: ccxt computes ``initialMargin`` as ``notional / leverage`` for an isolated row
    (Binance v2), not the venue's figure, and a row whose wallet was dropped would otherwise
    read as another quantity. Raises ``VenueDataError`` (unknown or contradicting mode, the
    field missing)."""
    row_mode = row.get("marginMode")
    if row_mode is not None and row_mode not in _MARGIN_MODES:
        raise VenueDataError(f"{what}: marginMode {short(row_mode)} unknown")
    if row_mode is not None and account_mode is not None and row_mode != account_mode:
        raise VenueDataError(
            f"{what}: marginMode {row_mode} contradicts the account's {account_mode} (set at start)"
        )
    mode = row_mode or account_mode
    if mode == "isolated":
        wallet = number(row, "positionMargin", what, sign="non_negative", required=False)
        if not wallet:
            raise VenueDataError(
                f"{what}: isolated position without its wallet (positionMargin {wallet})"
            )
        return wallet
    if mode == "cross":
        return required(row, "initialMargin", what, sign="non_negative")
    raise VenueDataError(f"{what}: margin mode unknown (no marginMode, none confirmed at start)")


def _leverage(row: Mapping[str, Any], what: str, default: int) -> int:
    value = number(row, "leverage", what, sign="positive", required=False)
    if value is None:
        return default
    if value != value.to_integral_value():
        raise VenueDataError(f"{what}: leverage {value} is not a whole number")
    return int(value)


def leverage_setting_of_row(row: Mapping[str, Any], what: str) -> tuple[int, str | None]:
    """``(leverage, margin mode)`` an open ccxt position row carries: the venue's current
    setting where ccxt cannot fetch it (Hyperliquid's ``leverage {type, value}``). The leverage
    is required (whole, >= 1); the mode ``isolated``/``cross``, None when the row has none.
    Raises ``VenueDataError``."""
    if number(row, "leverage", what, sign="positive", required=False) is None:
        raise VenueDataError(f"{what}: leverage missing or null")
    mode = row.get("marginMode")
    if mode is not None and mode not in _MARGIN_MODES:
        raise VenueDataError(f"{what}: marginMode {short(mode)} unknown")
    return _leverage(row, what, 0), mode


def position_from_ccxt(
    row: Mapping[str, Any],
    *,
    symbol: str,
    contract_size: Decimal,
    account: AccountSetup,
    raw_size: RawSize | None = None,
) -> PerpPosition:
    """An open position from one ccxt position row.

    Needs contracts, side, entryPrice and markPrice (positive), unrealizedPnl, and a margin
    (``_margin``); ``notional`` when present must match size x the venue's notional price
    within ``NOTIONAL_TOLERANCE``. ``unrealizedPnl`` must equal ``(mark - entry) x size`` (1%,
    or 1 bp of the notional), a liquidation price lie beyond the mark on the losing side.
    ``liquidationPrice`` absent or 0 means none reported; ``leverage`` absent means
    ``account.leverage`` (what the venue accepted at start); the margin follows the margin
    mode, the row's or ``account.margin_mode`` (``_margin``). Raises ``VenueDataError``.
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
        margin=_margin(row, what, account.margin_mode),
        liquidation_price=liquidation or None,
        leverage=_leverage(row, what, account.leverage),
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
