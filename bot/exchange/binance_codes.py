"""Binance USD-M futures error codes: the one table the emulator answers with and the ccxt
adapter's error mapping reads (``ccxt/errors.py``).

Each ``BinanceCode`` is the venue's code, its message (a template with ``{name}`` fields
where Binance puts a parameter or a value in it), the HTTP status Binance answers it with,
what it means to us (``CodeKind``) and the domain exception it maps to once the mapping knows
nothing more (``errors.ExchangeError`` subclasses; the mapping refines a few kinds by
context: an unknown outcome or a duplicate client id of a sent order is
``OrderOutcomeUnknown``). Source: Binance USD-M "Error Codes" page and the answers of the
live API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any

from bot import errors

__all__ = ["BINANCE_CODES", "BinanceCode", "CodeKind", "binance_code", "codes_of"]


class CodeKind(Enum):
    """What a Binance code means to the bot."""

    RATE_LIMIT = "rate_limit"
    AUTH = "auth"
    INTERNAL_ERROR = "internal_error"  # 5xx other than "execution status unknown"
    OUTCOME_UNKNOWN = "outcome_unknown"  # the request may or may not have acted
    TIMESTAMP = "timestamp"  # the host clock is off: refused before any effect, retryable
    INSUFFICIENT_MARGIN = "insufficient_margin"
    REDUCE_ONLY = "reduce_only"
    MIN_NOTIONAL = "min_notional"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    ORDER_NOT_FOUND = "order_not_found"
    NOT_MODIFIED = "not_modified"  # a start-up setting already as asked: success
    SETUP_REFUSAL = "setup_refusal"  # a start-up setting refused while a position is open
    BAD_REQUEST = "bad_request"  # a malformed or refused request, nothing happened


@dataclass(frozen=True, slots=True)
class BinanceCode:
    """One Binance error: ``code``, ``msg`` (template), HTTP ``status``, ``kind``, ``error``."""

    code: int
    msg: str
    kind: CodeKind
    error: type[errors.ExchangeError]
    status: int = 400

    def message(self, **fields: Any) -> str:
        """The message with its ``{name}`` fields filled in."""
        return self.msg.format(**fields) if fields else self.msg


def _c(
    code: int, kind: CodeKind, error: type[errors.ExchangeError], msg: str, status: int = 400
) -> BinanceCode:
    return BinanceCode(code, msg, kind, error, status)


_K = CodeKind
_E = errors
_TABLE = (
    _c(-1001, _K.INTERNAL_ERROR, _E.ExchangeUnavailable,
       "Internal error; unable to process your request. Please try again.", 500),
    _c(-1002, _K.AUTH, _E.AuthenticationError,
       "You are not authorized to execute this request.", 401),
    _c(-1003, _K.RATE_LIMIT, _E.RateLimited,
       "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per minute. Please "
       "use the websocket for live updates to avoid polling the API.", 429),
    _c(-1006, _K.OUTCOME_UNKNOWN, _E.ExchangeUnavailable,
       "An unexpected response was received from the message bus. Execution status unknown.",
       503),
    _c(-1007, _K.OUTCOME_UNKNOWN, _E.ExchangeUnavailable,
       "Timeout waiting for response from backend server. Send status unknown; execution "
       "status unknown.", 503),
    _c(-1013, _K.BAD_REQUEST, _E.InvalidOrder, "{reason}"),
    _c(-1015, _K.RATE_LIMIT, _E.RateLimited, "Too many new orders.", 429),
    _c(-1021, _K.TIMESTAMP, _E.ExchangeUnavailable,
       "Timestamp for this request is outside of the recvWindow."),
    _c(-1022, _K.AUTH, _E.AuthenticationError, "Signature for this request is not valid."),
    _c(-1023, _K.BAD_REQUEST, _E.InvalidOrder, "Start time is greater than end time."),
    _c(-1100, _K.BAD_REQUEST, _E.InvalidOrder,
       "Illegal characters found in parameter '{name}'{legal}."),
    _c(-1102, _K.BAD_REQUEST, _E.InvalidOrder,
       "Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    _c(-1106, _K.BAD_REQUEST, _E.InvalidOrder, "Parameter '{name}' sent when not required."),
    _c(-1111, _K.BAD_REQUEST, _E.InvalidOrder,
       "Precision is over the maximum defined for this asset."),
    _c(-1115, _K.BAD_REQUEST, _E.InvalidOrder, "Invalid timeInForce."),
    _c(-1116, _K.BAD_REQUEST, _E.InvalidOrder, "Invalid orderType."),
    _c(-1117, _K.BAD_REQUEST, _E.InvalidOrder, "Invalid side."),
    _c(-1121, _K.BAD_REQUEST, _E.InvalidOrder, "Invalid symbol."),
    _c(-1130, _K.BAD_REQUEST, _E.InvalidOrder, "Data sent for parameter '{name}' is not valid."),
    _c(-1131, _K.BAD_REQUEST, _E.InvalidOrder, "recvWindow must be less than 60000"),
    _c(-2011, _K.ORDER_NOT_FOUND, _E.OrderNotFound, "Unknown order sent."),
    _c(-2013, _K.ORDER_NOT_FOUND, _E.OrderNotFound, "Order does not exist."),
    _c(-2014, _K.AUTH, _E.AuthenticationError, "API-key format invalid.", 401),
    _c(-2015, _K.AUTH, _E.AuthenticationError,
       "Invalid API-key, IP, or permissions for action.", 401),
    _c(-2018, _K.INSUFFICIENT_MARGIN, _E.InsufficientMargin, "Balance is insufficient."),
    _c(-2019, _K.INSUFFICIENT_MARGIN, _E.InsufficientMargin, "Margin is insufficient."),
    _c(-2022, _K.REDUCE_ONLY, _E.ReduceOnlyRejected, "ReduceOnly Order is rejected."),
    _c(-2027, _K.SETUP_REFUSAL, _E.ExchangeError,
       "Exceeded the maximum allowable position at current leverage."),
    _c(-2028, _K.SETUP_REFUSAL, _E.ExchangeError,
       "Leverage is smaller than permitted: insufficient margin balance."),
    _c(-4001, _K.BAD_REQUEST, _E.InvalidOrder, "Price less than 0."),
    _c(-4003, _K.BAD_REQUEST, _E.InvalidOrder, "Quantity less than or equal to zero."),
    _c(-4004, _K.BAD_REQUEST, _E.InvalidOrder, "Quantity less than min quantity."),
    _c(-4014, _K.BAD_REQUEST, _E.InvalidOrder, "Price not increased by tick size."),
    _c(-4015, _K.BAD_REQUEST, _E.InvalidOrder, "Client order id is not valid."),
    _c(-4028, _K.BAD_REQUEST, _E.InvalidOrder, "Leverage {leverage} is not valid"),
    _c(-4044, _K.BAD_REQUEST, _E.InvalidOrder, "The balance type is not valid."),
    _c(-4046, _K.NOT_MODIFIED, _E.ExchangeError, "No need to change margin type."),
    _c(-4048, _K.SETUP_REFUSAL, _E.ExchangeError,
       "Margin type cannot be changed if there exists position."),
    _c(-4050, _K.INSUFFICIENT_MARGIN, _E.InsufficientMargin,
       "Cross balance insufficient."),
    _c(-4051, _K.INSUFFICIENT_MARGIN, _E.InsufficientMargin,
       "Isolated balance insufficient."),
    _c(-4061, _K.BAD_REQUEST, _E.InvalidOrder,
       "Order's position side does not match user's setting."),
    _c(-4116, _K.DUPLICATE_CLIENT_ID, _E.InvalidOrder, "ClientOrderId is duplicated."),
    _c(-4118, _K.REDUCE_ONLY, _E.ReduceOnlyRejected,
       "ReduceOnly Order Failed. Please check your existing position and open orders."),
    _c(-4164, _K.MIN_NOTIONAL, _E.MinNotionalError,
       "Order's notional must be no smaller than {minimum} (unless you choose reduce only)."),
    _c(-4166, _K.BAD_REQUEST, _E.InvalidOrder,
       "The time between startTime and endTime cannot be longer than 7 days."),
)  # fmt: skip

BINANCE_CODES: Mapping[int, BinanceCode] = MappingProxyType({c.code: c for c in _TABLE})


def binance_code(code: int) -> BinanceCode:
    """The table entry of ``code``; ``KeyError`` for a code the table does not hold."""
    return BINANCE_CODES[code]


def codes_of(*kinds: CodeKind) -> frozenset[int]:
    """Every code of the given kinds."""
    return frozenset(c.code for c in _TABLE if c.kind in kinds)
