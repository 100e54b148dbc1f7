"""ccxt exceptions (and failures to parse a venue's answer) to ``bot.errors``, by table.

The venue's own code is read from the body ccxt puts in the exception message (``"code"``
for Binance, ``"retCode"``/``"ret_code"`` for Bybit, ``"sCode"`` for OKX): ccxt maps most
Binance futures codes only when the URL is fapi.binance.com, so they must be read here too.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

import aiohttp
import ccxt

from bot import errors
from bot.exchange.binance_codes import CodeKind, codes_of
from bot.exchange.hyperliquid_texts import HyperliquidText, text_of

__all__ = [
    "PARSE_FAILURES",
    "ErrorContext",
    "is_duplicate_client_id",
    "is_not_modified",
    "is_order_not_found",
    "is_setup_fatal",
    "is_setup_refusal",
    "is_timestamp_error",
    "map_ccxt_error",
    "venue_code",
]

_VENUE_CODE = re.compile(r'"(?:code|retCode|ret_code|sCode)"\s*:\s*"?(-?\d{1,12})"?')
# Binance's codes by meaning, from the one table the emulator answers with
_INSUFFICIENT_MARGIN_CODES = codes_of(CodeKind.INSUFFICIENT_MARGIN)
_REDUCE_ONLY_CODES = codes_of(CodeKind.REDUCE_ONLY)
_MIN_NOTIONAL_CODES = codes_of(CodeKind.MIN_NOTIONAL)
_DUPLICATE_CLIENT_ID_CODES = codes_of(CodeKind.DUPLICATE_CLIENT_ID)
_ORDER_NOT_FOUND_CODES = codes_of(CodeKind.ORDER_NOT_FOUND)
_RATE_LIMIT_CODES = codes_of(CodeKind.RATE_LIMIT)
_AUTH_CODES = codes_of(CodeKind.AUTH)
_OUTCOME_UNKNOWN_CODES = codes_of(CodeKind.OUTCOME_UNKNOWN)
_TIMESTAMP_CODES = codes_of(CodeKind.TIMESTAMP)  # timestamp outside recvWindow / ahead
# venues without codes whose refusals are read from their text (``hyperliquid_texts``)
_TEXT_VENUES = frozenset({"hyperliquid"})

# Start-up settings the venue already has: success, whatever exception ccxt raised for them.
# (exchange id, venue code) -> what was unchanged. Bybit: 110043 (ccxt BadRequest), 34036
# (BadRequest, old API), 110026 (MarginModeAlreadySet), 110025 position mode. Binance: -4046.
NOT_MODIFIED: dict[tuple[str, int], str] = {
    ("bybit", 110043): "leverage not modified",
    ("bybit", 34036): "leverage not modified",
    ("bybit", 110026): "margin mode not modified",
    ("bybit", 110025): "position mode not modified",
    ("binanceusdm", -4046): "no need to change margin type",
    ("binance", -4046): "no need to change margin type",
}
# Known start-up refusals (while a position is open), for the reader: start goes on after any
# refusal that ``is_setup_fatal`` does not name, whether listed here or not.
SETUP_REFUSALS: dict[tuple[str, int], str] = {
    ("binanceusdm", -2027): "position too large for the new leverage",
    ("binanceusdm", -2028): "margin too small for the new leverage",
    ("binanceusdm", -4048): "margin type cannot change with a position open",
    ("binance", -2027): "position too large for the new leverage",
    ("binance", -2028): "margin too small for the new leverage",
    ("bybit", 110013): "leverage refused by the risk limit",
    ("bybit", 110012): "insufficient available balance for the new leverage",
}

# What a venue answer that cannot be parsed raises inside ccxt or our parsers: the C JSON
# decoder's RecursionError, ValueError, and the TypeError/KeyError/AttributeError/IndexError
# of ccxt code reading a list where it wanted a dict.
PARSE_FAILURES: tuple[type[BaseException], ...] = (
    RecursionError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    ArithmeticError,
    UnicodeError,
)


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What the caller knows about the failed call."""

    exchange_id: str
    client_order_id: str | None = None
    order_sent: bool = False
    retry_after_s: float | None = None


def venue_code(exc: BaseException) -> int | None:
    """The venue's error code in the exception text, if any."""
    match = _VENUE_CODE.search(_text(exc))
    return int(match.group(1)) if match else None


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:4096]
    except Exception:  # noqa: BLE001 - a hostile __str__ must not escape the mapping
        return type(exc).__name__


def is_not_modified(exchange_id: str, exc: BaseException) -> bool:
    """True when ``exc`` says a start-up setting is already what was asked (a success)."""
    if isinstance(exc, ccxt.MarginModeAlreadySet | ccxt.NoChange):
        return True
    return (exchange_id, venue_code(exc)) in NOT_MODIFIED


def is_setup_refusal(exchange_id: str, exc: BaseException) -> bool:
    """True when the venue refused a start-up setting for a reason start can live with."""
    return (exchange_id, venue_code(exc)) in SETUP_REFUSALS


def is_setup_fatal(mapped: errors.ExchangeError) -> bool:
    """True when a failed start-up setting must fail start: the keys were refused or the venue
    was not reached (network, unavailable, rate limit, clock). Any other refusal, whatever its
    code, is logged and the venue's current setting read back and used."""
    return isinstance(mapped, errors.AuthenticationError | errors.ExchangeUnavailable)


def is_timestamp_error(exc: BaseException) -> bool:
    """True for a request refused for its timestamp (host clock off): safe to retry."""
    return isinstance(exc, ccxt.InvalidNonce) or venue_code(exc) in _TIMESTAMP_CODES


def is_duplicate_client_id(exc: BaseException) -> bool:
    """Binance -4116 ``ClientOrderId is duplicated``; Hyperliquid ``Order has duplicate
    cloid``."""
    text = _text(exc)
    venue_text = text_of(text)
    return (
        venue_code(exc) in _DUPLICATE_CLIENT_ID_CODES
        or "clientorderid is duplicated" in text.lower()
        or (venue_text is not None and venue_text.kind is CodeKind.DUPLICATE_CLIENT_ID)
    )


def is_order_not_found(exc: BaseException) -> bool:
    """The venue does not know the order."""
    return isinstance(exc, ccxt.OrderNotFound) or venue_code(exc) in _ORDER_NOT_FOUND_CODES


def _never_connected(exc: BaseException) -> bool:
    """True when the request provably never reached the venue (connection refused, DNS)."""
    return isinstance(exc.__cause__, aiohttp.ClientConnectorError | socket.gaierror)


def map_ccxt_error(exc: BaseException, ctx: ErrorContext) -> errors.ExchangeError:
    """The one place ccxt exceptions and unparseable answers become ``bot.errors``.

    Never raises: any exception (with any message, of any size) maps to an
    ``ExchangeError`` subclass.
    """
    if isinstance(exc, errors.ExchangeError):
        return exc
    text = f"{ctx.exchange_id}: {_text(exc)[:1000]}"
    if isinstance(exc, (*PARSE_FAILURES, ccxt.BadResponse)):
        what = f"unreadable answer ({type(exc).__name__}): {text}"
        if ctx.order_sent and ctx.client_order_id is not None:
            return errors.OrderOutcomeUnknown(what, ctx.client_order_id)
        return errors.VenueDataError(what)
    if not isinstance(exc, ccxt.BaseError):
        return errors.ExchangeError(text)
    return _map_known(exc, venue_code(exc), text, ctx)


def _map_known(
    exc: ccxt.BaseError, code: int | None, text: str, ctx: ErrorContext
) -> errors.ExchangeError:
    venue_text = text_of(text) if ctx.exchange_id in _TEXT_VENUES else None
    if venue_text is not None:
        return _from_venue_text(venue_text, text, ctx)
    if isinstance(exc, ccxt.DDoSProtection) or code in _RATE_LIMIT_CODES:
        return errors.RateLimited(text, retry_after_s=ctx.retry_after_s)
    if isinstance(exc, ccxt.AuthenticationError) or code in _AUTH_CODES:
        return errors.AuthenticationError(text)
    refused = _order_refusal(exc, code, text)
    if refused is not None:
        return refused
    if is_order_not_found(exc):
        return errors.OrderNotFound(text)
    if is_duplicate_client_id(exc):
        if ctx.client_order_id is not None:  # the order may exist: only a lookup can tell
            return errors.OrderOutcomeUnknown(
                f"duplicate client order id: {text}", ctx.client_order_id
            )
        return errors.InvalidOrder(f"duplicate client order id: {text}")
    if is_timestamp_error(exc):  # clock skew: refused before any side effect
        return errors.ExchangeUnavailable(text)
    if isinstance(exc, ccxt.OperationFailed) or code in _OUTCOME_UNKNOWN_CODES:
        if ctx.order_sent and ctx.client_order_id is not None and not _never_connected(exc):
            return errors.OrderOutcomeUnknown(text, ctx.client_order_id)
        return errors.ExchangeUnavailable(text)
    if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest):
        return errors.InvalidOrder(text)
    return errors.ExchangeError(text)


def _from_venue_text(entry: HyperliquidText, text: str, ctx: ErrorContext) -> errors.ExchangeError:
    """A refusal the venue's text names (ccxt raises most as ``InvalidOrder``: the $10
    minimum, an unknown signer), as its table entry maps it. Every text of the table is a
    refusal of the whole request or of the order: nothing was placed, except a duplicate
    client id, whose order may exist (only a look-up can tell)."""
    if entry.kind is CodeKind.RATE_LIMIT:
        return errors.RateLimited(text, retry_after_s=ctx.retry_after_s)
    if entry.kind is CodeKind.DUPLICATE_CLIENT_ID and ctx.client_order_id is not None:
        return errors.OrderOutcomeUnknown(f"duplicate client order id: {text}", ctx.client_order_id)
    return entry.error(text)


def _order_refusal(exc: ccxt.BaseError, code: int | None, text: str) -> errors.ExchangeError | None:
    """Margin, reduce-only and min-notional refusals, by code or by ccxt class and text."""
    lowered = text.lower()
    if code in _INSUFFICIENT_MARGIN_CODES or isinstance(exc, ccxt.InsufficientFunds):
        return errors.InsufficientMargin(text)
    invalid_order = isinstance(exc, ccxt.InvalidOrder)
    if code in _REDUCE_ONLY_CODES or (invalid_order and "reduce" in lowered and "only" in lowered):
        return errors.ReduceOnlyRejected(text)
    if code in _MIN_NOTIONAL_CODES or (invalid_order and "notional" in lowered):
        return errors.MinNotionalError(text)
    return None
