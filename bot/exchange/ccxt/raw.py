"""Raw venue answers checked before ccxt reads them: what ccxt would silently drop is refused.

ccxt filters and defaults as it parses. Binance's ``fetchPositions`` keeps only rows whose
``entryPrice`` is above 0, so an open row with entry 0 (or a ``null`` in the list) vanished
and the position read as flat; ``to_array`` turns an object answer into its values; a
``null`` or a number in a list of rows becomes a row of ``None`` that a symbol filter drops;
``omit_zero`` turns a leverage of 0 into "not reported". The checks here run on the parsed
JSON of every answer (``checked_fetch`` wraps the client's ``fetch``), so every ccxt method
that reads an endpoint is covered:

- shape, every venue and endpoint: no list holds ``null``, a list of objects holds only
  objects, a top-level list is a list of rows (objects), and no field other than an id or
  a name holds non-finite number text (``"NaN"``, ``"Infinity"``). Hyperliquid's ``/info``
  answers positional tuples (``metaAndAssetCtxs`` is ``[meta, [contexts]]``, ``perpDexs``
  ``[null, ...]`` with null for the default dex): for it (``TUPLE_ANSWERS``) only the
  non-finite text rule applies; its rows are judged by ``parse``/``history`` after ccxt;
- per endpoint (``LIST_ENDPOINTS``, ``ROW_RULES``): the answer is a list, and each row meets
  the venue's field rules (Binance position rows: ``check_binance_position_row``), including
  the arithmetic Binance does inside one row (``row_relations``).

A failure raises ``ccxt.BadResponse`` naming the venue, the endpoint, the row and the field;
the adapter maps it to ``VenueDataError`` (``OrderOutcomeUnknown`` for an order answer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import ccxt

from bot.errors import VenueDataError
from bot.exchange.ccxt.fields import mapping, number, required, short, text
from bot.exchange.ccxt.row_relations import check_binance_row_relations

__all__ = [
    "LIST_ENDPOINTS",
    "ROW_RULES",
    "check_answer",
    "check_binance_position_row",
    "checked_fetch",
]

_NON_FINITE = frozenset(
    {"nan", "+nan", "-nan", "snan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
)
# fields that hold names or ids: opaque text, "NaN" is a valid client order id
_TEXT_KEYS = frozenset({"symbol", "pair", "asset", "marginasset", "accountalias", "status"})

_BINANCE = ("binance", "binanceusdm")
# venues whose answers are positional tuples and use null list entries on purpose
TUPLE_ANSWERS = frozenset({"hyperliquid"})
_BINANCE_POSITIONS = ("/fapi/v2/positionRisk", "/fapi/v3/positionRisk")
# endpoints answering a list of rows: any other top-level shape is a read error (ccxt's
# ``to_array`` would read an object's values as rows, or its keys as rows of None)
LIST_ENDPOINTS: frozenset[tuple[str, str]] = frozenset(
    (venue, path)
    for venue in _BINANCE
    for path in (
        *_BINANCE_POSITIONS,
        "/fapi/v1/openOrders",
        "/fapi/v1/allOrders",
        "/fapi/v1/userTrades",
        "/fapi/v1/income",
        "/fapi/v1/fundingRate",
        "/fapi/v2/balance",
        "/fapi/v3/balance",
    )
)

# Binance position-row fields by rule (v2 and v3 of /fapi/*/positionRisk)
_NON_NEGATIVE = (
    "markPrice",
    "liquidationPrice",
    "breakEvenPrice",
    "isolatedMargin",
    "isolatedWallet",
    "initialMargin",
    "maintMargin",
    "positionInitialMargin",
    "openOrderInitialMargin",
    "maxNotionalValue",
    "adl",
    "adlQuantile",
    "bidNotional",
    "askNotional",
    "updateTime",
)
_SIGNED = ("unRealizedProfit", "notional")
_POSITION_SIDES = {"BOTH": 0, "LONG": 1, "SHORT": -1}


def check_binance_position_row(raw: object, where: str, market_ids: Collection[str] | None) -> None:
    """One raw Binance ``positionRisk`` row the bot can trust, or ``VenueDataError``.

    ``positionAmt`` (signed, base contracts) and ``entryPrice`` (> 0 when the row is open, 0
    when flat) are required; margins, prices and times are >= 0; ``notional`` has the sign of
    ``positionAmt`` (0 only when flat); ``leverage`` when reported is a whole number >= 1;
    ``positionSide`` is ``BOTH`` or the side of the sign; ``marginType`` is ``isolated`` or
    ``cross`` (and ``isolated`` agrees with it); the row's own arithmetic holds
    (``check_binance_row_relations``: notional, unrealized PnL, isolated margin, liquidation
    price against the wallet); an open row must be for a market of the venue (``market_ids``;
    None: not loaded yet, not checked).
    """
    row = mapping(raw, where)
    symbol = text(row, "symbol", where)
    amount = required(row, "positionAmt", where)
    entry = required(row, "entryPrice", where, sign="non_negative")
    for key in _NON_NEGATIVE:
        number(row, key, where, sign="non_negative", required=False)
    unrealized, notional = (number(row, key, where, required=False) for key in _SIGNED)
    if amount and not entry:
        raise VenueDataError(f"{where}: entryPrice {entry} on an open position of {amount}")
    if not amount and entry:
        raise VenueDataError(f"{where}: flat (positionAmt 0) but entryPrice {entry}")
    if not amount and (unrealized or notional):
        raise VenueDataError(
            f"{where}: flat (positionAmt 0) but notional {notional}, unRealizedProfit {unrealized}"
        )
    if notional is not None and amount and notional * amount <= 0:
        raise VenueDataError(f"{where}: notional {notional} disagrees with positionAmt {amount}")
    _check_leverage(row, where)
    _check_position_side(row, amount, where)
    _check_margin_type(row, where)
    _check_isolated_wallet(row, amount, where)
    check_binance_row_relations(row, amount, entry, where)
    if amount and market_ids is not None and symbol not in market_ids:
        raise VenueDataError(f"{where}: open position for {symbol!r}, no market of the venue")


def _check_leverage(row: Mapping[str, Any], where: str) -> None:
    leverage = number(row, "leverage", where, required=False)
    if leverage is not None and (leverage < 1 or leverage != leverage.to_integral_value()):
        raise VenueDataError(f"{where}: leverage {leverage} is not a whole number >= 1")


def _check_margin_type(row: Mapping[str, Any], where: str) -> None:
    """ccxt reads a position's margin by ``marginType`` exactly: any other word silently
    drops the isolated wallet, so only Binance's two words pass (and ``isolated`` agrees)."""
    margin_type = row.get("marginType")
    if margin_type is not None and margin_type not in ("isolated", "cross"):
        raise VenueDataError(f"{where}: marginType {short(margin_type)} unknown")
    isolated = row.get("isolated")
    if isolated is not None and (
        not isinstance(isolated, bool)
        or (margin_type is not None and isolated != (margin_type == "isolated"))
    ):
        raise VenueDataError(f"{where}: isolated {short(isolated)} against {margin_type}")


def _check_isolated_wallet(row: Mapping[str, Any], amount: Decimal, where: str) -> None:
    """An open row says whether it is isolated, and an isolated one carries its wallet.

    The mode is ``marginType`` (v2) or, without it, what ccxt infers from ``isolatedMargin``
    (v3: non-zero is isolated), so an open row with neither is refused: ccxt would read its
    mode as unknown and its margin as ccxt's own estimate. An open isolated row needs a
    non-zero ``isolatedWallet`` (ccxt's margin for it; absent, null or 0 it would read another
    number), and a wallet on a row not isolated is refused (ccxt would drop it)."""
    wallet = number(row, "isolatedWallet", where, required=False)
    margin_type = row.get("marginType")
    isolated_margin = number(row, "isolatedMargin", where, required=False)
    if amount and margin_type is None and isolated_margin is None:
        raise VenueDataError(
            f"{where}: open position without marginType or isolatedMargin (margin mode unknown)"
        )
    isolated = margin_type == "isolated" or (margin_type is None and bool(isolated_margin))
    if amount and isolated and not wallet:
        raise VenueDataError(f"{where}: isolatedWallet {wallet} on an open isolated position")
    if wallet and not isolated:  # ccxt would read the row as cross and drop the wallet
        raise VenueDataError(f"{where}: isolatedWallet {wallet} on a row not marked isolated")


def _check_position_side(row: Mapping[str, Any], amount: Decimal, where: str) -> None:
    side = row.get("positionSide")
    if side is None:
        return
    sign = _POSITION_SIDES.get(side) if isinstance(side, str) else None
    if sign is None:
        raise VenueDataError(f"{where}: positionSide {short(side)} unknown")
    if sign and amount * sign < 0:
        raise VenueDataError(f"{where}: positionSide {side} on positionAmt {amount}")


RowRule = Callable[[object, str, Collection[str] | None], None]
ROW_RULES: dict[tuple[str, str], RowRule] = {
    (venue, path): check_binance_position_row for venue in _BINANCE for path in _BINANCE_POSITIONS
}


def check_answer(
    exchange_id: str, path: str, answer: object, market_ids: Collection[str] | None = None
) -> None:
    """Refuse a parsed venue answer ccxt would misread (see the module doc); ``path`` is the
    URL path of the endpoint. Raises ``VenueDataError`` naming venue, endpoint and field."""
    where = f"{exchange_id} {path}"
    if (exchange_id, path) in LIST_ENDPOINTS and not isinstance(answer, list):
        raise VenueDataError(f"{where}: expected a list of rows, got {type(answer).__name__}")
    _check_shape(answer, where, tuples=exchange_id in TUPLE_ANSWERS)
    rule = ROW_RULES.get((exchange_id, path))
    if rule is not None and isinstance(answer, list):
        for index, row in enumerate(answer):
            rule(row, f"{where}[{index}]", market_ids)


def _check_shape(answer: object, where: str, *, tuples: bool = False) -> None:
    if isinstance(answer, list) and not tuples:
        for index, item in enumerate(answer):
            if not isinstance(item, Mapping):
                raise VenueDataError(f"{where}: [{index}] is {short(item)}, not a row")
    stack: list[tuple[str, object]] = [("answer", answer)]
    while stack:
        at, value = stack.pop()
        if isinstance(value, list):
            if not tuples:
                _check_list(value, f"{where}: {at}")
            stack.extend((f"{at}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                _check_field(str(key), item, f"{where}: {at}.{key}")
                stack.append((f"{at}.{key}", item))


def _check_list(items: list[Any], where: str) -> None:
    objects = sum(isinstance(item, Mapping) for item in items)
    for index, item in enumerate(items):
        if item is None:
            raise VenueDataError(f"{where}[{index}] is null")
        if objects and not isinstance(item, Mapping):
            raise VenueDataError(f"{where}[{index}] is {short(item)} in a list of objects")


def _check_field(key: str, value: object, where: str) -> None:
    lowered = key.lower()
    if lowered in _TEXT_KEYS or lowered.endswith("id"):
        return
    if isinstance(value, str) and value.strip().lower() in _NON_FINITE:
        raise VenueDataError(f"{where} is not a finite number: {short(value)}")


def checked_fetch(
    fetch: Callable[..., Awaitable[Any]],
    exchange_id: str,
    market_ids: Callable[[], Collection[str] | None],
) -> Callable[..., Awaitable[Any]]:
    """Wrap a ccxt client's ``fetch(url, method, headers, body)``: its answer goes through
    ``check_answer`` before ccxt parses it. A refusal is ``ccxt.BadResponse``."""

    async def fetch_checked(
        url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        answer = await fetch(url, method, headers, body)
        try:
            check_answer(exchange_id, urlsplit(url).path, answer, market_ids())
        except VenueDataError as exc:
            raise ccxt.BadResponse(str(exc)) from None
        return answer

    return fetch_checked
