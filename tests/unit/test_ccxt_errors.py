"""ccxt exceptions to ``bot.errors``: start-up "not modified"/refusal tables read with the
exceptions ccxt itself raises for the venue's bodies, and a fuzz of the mapping (any message,
any size, any bytes, any exception from parsing) that always answers a domain error."""

from __future__ import annotations

import json
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import errors
from bot.exchange.ccxt import CcxtPerpExchange, CcxtPerpSettings
from bot.exchange.ccxt.account import apply_leverage
from bot.exchange.ccxt.errors import (
    PARSE_FAILURES,
    ErrorContext,
    is_not_modified,
    is_setup_refusal,
    is_timestamp_error,
    map_ccxt_error,
    venue_code,
)

pytestmark = pytest.mark.unit


def bybit_exception(ret_code: int, ret_msg: str) -> BaseException:
    """What ccxt's bybit raises for a V5 answer with ``retCode`` (its own handle_errors)."""
    exchange = ccxt.bybit()
    body = json.dumps({"retCode": ret_code, "retMsg": ret_msg, "result": {}, "time": 1})
    with pytest.raises(ccxt.BaseError) as caught:
        exchange.handle_errors(
            200, "OK", "https://api.bybit.com/v5/x", "POST", {}, body, json.loads(body), {}, ""
        )
    return caught.value


def binance_exception(code: int, msg: str) -> BaseException:
    """What ccxt's binanceusdm raises for a Binance error body on the futures URL."""
    exchange = ccxt.binanceusdm()
    body = json.dumps({"code": code, "msg": msg})
    with pytest.raises(ccxt.BaseError) as caught:
        exchange.handle_errors(
            400,
            "Bad Request",
            "https://fapi.binance.com/fapi/v1/leverage",
            "POST",
            {},
            body,
            json.loads(body),
            {},
            "",
        )
    return caught.value


def test_bybit_leverage_not_modified_is_success() -> None:
    """Bybit 110043 (ccxt raises BadRequest) is "not modified": success at start."""
    exc = bybit_exception(110043, "leverage not modified")
    assert isinstance(exc, ccxt.BadRequest)
    assert venue_code(exc) == 110043
    assert is_not_modified("bybit", exc)
    assert not is_setup_refusal("bybit", exc)


def test_bybit_margin_mode_not_modified_is_success() -> None:
    """Bybit 110026 (ccxt raises MarginModeAlreadySet) is "not modified"."""
    exc = bybit_exception(110026, "Cross/isolated margin mode is not modified")
    assert isinstance(exc, ccxt.MarginModeAlreadySet)
    assert is_not_modified("bybit", exc)


def test_binance_refusals_and_timestamp_codes() -> None:
    """Binance -2027 is a start-up refusal; -1021 a timestamp error; neither "not modified"."""
    refused = binance_exception(
        -2027, "Exceeded the maximum allowable position at current leverage."
    )
    assert is_setup_refusal("binanceusdm", refused)
    assert not is_not_modified("binanceusdm", refused)
    stale = binance_exception(-1021, "Timestamp for this request is outside of the recvWindow.")
    assert is_timestamp_error(stale)
    other = bybit_exception(10001, "params error")
    assert not is_not_modified("bybit", other)
    assert not is_setup_refusal("bybit", other)


def test_a_code_of_another_venue_is_not_read_as_not_modified() -> None:
    """110043 from an exchange other than bybit is no "not modified" (the table is per venue)."""
    exc = bybit_exception(110043, "leverage not modified")
    assert not is_not_modified("binanceusdm", exc)


async def test_start_treats_bybit_not_modified_as_the_asked_leverage() -> None:
    """The adapter's leverage step, given ccxt's real 110043 exception, keeps the asked 7x."""
    adapter = CcxtPerpExchange(
        CcxtPerpSettings(exchange_id="bybit", api_key="k", api_secret="s", leverage=7)
    )
    client = ccxt_async.bybit({"apiKey": "k", "secret": "s"})
    exc = bybit_exception(110043, "leverage not modified")

    async def set_leverage(*_args: Any) -> Any:
        raise exc

    client.set_leverage = set_leverage
    adapter._calls.client = client
    try:
        assert await apply_leverage(adapter._calls, adapter._symbol) == (7, "")
    finally:
        await client.close()


# ---------------------------------------------------------------- fuzz

_CCXT_ERRORS = [
    cls for cls in vars(ccxt).values() if isinstance(cls, type) and issubclass(cls, ccxt.BaseError)
]
_MESSAGES = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.integers(min_value=-(10**600), max_value=10**600).map(lambda n: f'{{"code": {n}}}'),
    st.integers().map(lambda n: json.dumps({"retCode": n, "retMsg": "x" * 50})),
    st.just('{"code": -1021, "msg": "\ud800"}'),
    st.integers(min_value=100_000, max_value=2_000_000).map(lambda n: "[" * n),
)


@settings(max_examples=300, deadline=None)
@given(
    cls=st.sampled_from([*_CCXT_ERRORS, *PARSE_FAILURES, Exception]),
    message=_MESSAGES,
    order_sent=st.booleans(),
)
def test_any_failure_maps_to_a_domain_exchange_error(
    cls: type[BaseException], message: str, order_sent: bool
) -> None:
    """Any ccxt/parse exception with any message maps to an ExchangeError, never raises."""
    assert len(_CCXT_ERRORS) > 30  # the whole ccxt hierarchy is sampled
    exc = cls(message)
    mapped = map_ccxt_error(
        exc,
        ErrorContext(exchange_id="binanceusdm", client_order_id="c-1", order_sent=order_sent),
    )
    assert isinstance(mapped, errors.ExchangeError)
    assert len(str(mapped)) < 1200
    if isinstance(exc, PARSE_FAILURES) and order_sent:
        assert isinstance(mapped, errors.OrderOutcomeUnknown)


def test_hostile_str_does_not_escape() -> None:
    """An exception whose __str__ raises still maps (to its class name)."""

    class Hostile(ccxt.ExchangeError):
        def __str__(self) -> str:
            raise RuntimeError("no text for you")

    mapped = map_ccxt_error(Hostile(), ErrorContext(exchange_id="bybit"))
    assert isinstance(mapped, errors.ExchangeError)
    assert "Hostile" in str(mapped)
