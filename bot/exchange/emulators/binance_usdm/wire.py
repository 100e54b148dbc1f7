r"""Binance USD-M wire format: errors as Binance JSON (codes, messages and HTTP statuses from
``bot.exchange.binance_codes``), decimals as plain text, and the one parser of numeric
request parameters with Binance's own rules: text outside
``^([0-9]{1,20})(\.[0-9]{1,20})?$`` (decimals) or ``^[0-9]{1,20}$`` (integers) is -1100
"Illegal characters", a missing mandatory one -1102, both HTTP 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.config import ExchangeConfig
from bot.domain import OrderStatus
from bot.exchange.binance_codes import BINANCE_CODES, binance_code
from bot.exchange.ccxt.settings import CcxtPerpSettings

__all__ = [
    "DECIMAL_WIRE",
    "INTEGER_WIRE",
    "STATUS_WIRE",
    "BinanceError",
    "ccxt_urls",
    "check_integer_params",
    "dec_param",
    "decimals",
    "emulator_ccxt_settings",
    "error_response",
    "int_param",
    "mandatory",
    "wire_decimal",
    "wire_id",
]

DECIMAL_WIRE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
INTEGER_WIRE = re.compile(r"^[0-9]{1,20}$")
_MAX_WIRE_INT = 2**63 - 1


class BinanceError(Exception):
    """A Binance error answer: ``code``, ``msg`` and HTTP ``status``, by default the table's
    (``binance_codes``) with its ``{name}`` fields filled from ``fields``; a code outside the
    table needs its ``msg`` (HTTP 400 unless ``status``). ``KeyError`` for neither."""

    def __init__(
        self, code: int, msg: str | None = None, status: int | None = None, **fields: Any
    ) -> None:
        entry = binance_code(code) if msg is None else BINANCE_CODES.get(code)
        text = msg if msg is not None else entry.message(**fields) if entry else ""
        super().__init__(text)
        self.code = code
        self.msg = text
        self.status = status if status is not None else entry.status if entry else 400


def error_response(exc: BinanceError, headers: Mapping[str, str] | None = None) -> web.Response:
    """Binance's error body ``{"code": ..., "msg": ...}`` with its HTTP status."""
    return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status, headers=headers)


def wire_decimal(value: Decimal | int | None) -> str:
    """Decimal to Binance's plain decimal text (no exponent); None is ``"0"``."""
    if value is None:
        return "0"
    return format(Decimal(value), "f")


def _wire_number(params: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> str | None:
    """The raw text when it is Binance-legal, None when absent; -1100 for anything else
    (1e400, nan, -1, abc, 1e999, ...)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not pattern.fullmatch(raw):
        raise BinanceError(-1100, name=name, legal=f"; legal range is '{pattern.pattern}'")
    return raw


def mandatory(name: str) -> BinanceError:
    """-1102 for a missing mandatory parameter ``name``."""
    return BinanceError(-1102, name=name)


def dec_param(params: Mapping[str, str], name: str, required: bool = True) -> Decimal | None:
    """A decimal parameter; -1102 when ``required`` and absent, -1100 when not legal text."""
    raw = _wire_number(params, name, DECIMAL_WIRE)
    if raw is None:
        if required:
            raise mandatory(name)
        return None
    return Decimal(raw)


def int_param(params: Mapping[str, str], name: str) -> int | None:
    """An integer parameter (None when absent); -1100 when not legal text or over 2**63-1."""
    raw = _wire_number(params, name, INTEGER_WIRE)
    if raw is None:
        return None
    value = int(raw)
    if value > _MAX_WIRE_INT:
        raise BinanceError(-1100, name=name, legal="")
    return value


# integer parameters of the endpoints served; an endpoint that does not read one (fromId of
# userTrades, page of income, orderId of openOrders) still refuses illegal text as Binance does
_INTEGER_PARAMS = (
    "endTime",
    "fromId",
    "limit",
    "orderId",
    "page",
    "recvWindow",
    "startTime",
    "timestamp",
)


def check_integer_params(params: Mapping[str, str]) -> None:
    """-1100 for any integer parameter in ``params`` that is not legal text (``1e400``, ``-1``,
    ``nan``, over 2**63-1), whether or not its endpoint reads it."""
    for name in _INTEGER_PARAMS:
        int_param(params, name)


STATUS_WIRE = {
    OrderStatus.NEW: "NEW",
    OrderStatus.OPEN: "NEW",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.PARTIALLY_FILLED: "EXPIRED",  # Binance: IOC remainder expired after a fill
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.REJECTED: "REJECTED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.UNKNOWN: "NEW",
}


def decimals(step: Decimal) -> int:
    """Digits after the point of a tick or step (0.01 -> 2)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def wire_id(value: str) -> int | str:
    """A numeric id as a JSON number, anything else as text."""
    return int(value) if value.isdigit() else value


def ccxt_urls(base_url: str) -> dict[str, str]:
    """ccxt binance ``urls['api']`` keys for USD-M futures, pointed at ``base_url``."""
    base = base_url.rstrip("/")
    return {
        "fapiPublic": f"{base}/fapi/v1",
        "fapiPublicV2": f"{base}/fapi/v2",
        "fapiPublicV3": f"{base}/fapi/v3",
        "fapiPrivate": f"{base}/fapi/v1",
        "fapiPrivateV2": f"{base}/fapi/v2",
        "fapiPrivateV3": f"{base}/fapi/v3",
        "fapiData": f"{base}/futures/data",
    }


def emulator_ccxt_settings(
    base_url: str,
    exchange: ExchangeConfig,
    api_key: str,
    api_secret: str,
    *,
    timeout_ms: int = 5000,
    enable_rate_limit: bool = False,
) -> CcxtPerpSettings:
    """The ccxt ``binanceusdm`` adapter's settings for the emulator at ``base_url``: the
    symbol, leverage and margin mode of the bot's ``exchange`` section, signed with the
    emulator's ``api_key``/``api_secret``. Loopback defaults: a 5 s timeout and no ccxt
    request spacing (it would only add latency). Raises ``ConfigError`` as
    ``CcxtPerpSettings`` does."""
    return CcxtPerpSettings(
        exchange_id="binanceusdm",
        symbol=exchange.symbol,
        api_key=api_key,
        api_secret=api_secret,
        leverage=exchange.leverage,
        margin_mode=exchange.margin_mode,
        urls=ccxt_urls(base_url),
        timeout_ms=timeout_ms,
        enable_rate_limit=enable_rate_limit,
    )
