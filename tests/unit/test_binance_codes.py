"""The one Binance error-code table: the emulator answers with it and the ccxt error mapping
reads it, so a code means the same thing on both sides."""

from __future__ import annotations

import json

import ccxt
import pytest

from bot import errors
from bot.exchange.binance_codes import BINANCE_CODES, CodeKind, codes_of
from bot.exchange.ccxt.errors import ErrorContext, map_ccxt_error
from bot.exchange.emulators.binance_usdm.wire import BinanceError

pytestmark = pytest.mark.unit

# kinds whose mapping does not depend on what the caller knows (order sent, client id)
_CONTEXT_FREE = {
    CodeKind.RATE_LIMIT,
    CodeKind.AUTH,
    CodeKind.TIMESTAMP,
    CodeKind.INSUFFICIENT_MARGIN,
    CodeKind.REDUCE_ONLY,
    CodeKind.MIN_NOTIONAL,
    CodeKind.ORDER_NOT_FOUND,
}


def emulator_exception(code: int) -> BaseException:
    """What ccxt binanceusdm raises for the emulator's answer with ``code`` (any URL)."""
    error = BinanceError(code, **{"name": "x", "legal": "", "reason": "r", "minimum": "5"})
    body = json.dumps({"code": error.code, "msg": error.msg})
    client = ccxt.binanceusdm()
    url = "http://127.0.0.1:1/fapi/v1/order"
    with pytest.raises(ccxt.BaseError) as caught:
        client.handle_errors(error.status, "x", url, "POST", {}, body, json.loads(body), {}, "")
    return caught.value


@pytest.mark.parametrize(
    "code", sorted(c.code for c in BINANCE_CODES.values() if c.kind in _CONTEXT_FREE)
)
def test_emulator_answer_maps_to_the_tables_domain_error(code: int) -> None:
    """Each context-free code the emulator answers maps to the table's domain class."""
    mapped = map_ccxt_error(emulator_exception(code), ErrorContext("binanceusdm"))
    assert type(mapped) is BINANCE_CODES[code].error


def test_emulator_answers_carry_the_tables_message_and_http_status() -> None:
    """-2015 is HTTP 401, -1003 429, -1007 503; messages filled from their fields."""
    assert BinanceError(-2015).status == 401
    assert BinanceError(-1003).status == 429
    assert BinanceError(-1007).status == 503
    assert BinanceError(-1021).msg == "Timestamp for this request is outside of the recvWindow."
    assert BinanceError(-1102, name="quantity").msg == (
        "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."
    )
    refused = BinanceError(-4161, "Leverage refused.")
    assert (refused.status, refused.msg) == (400, "Leverage refused.")


def test_unknown_outcome_codes_of_a_sent_order_are_unknown_outcomes() -> None:
    """-1006/-1007 of a sent order are OrderOutcomeUnknown, carrying the client id."""
    assert codes_of(CodeKind.OUTCOME_UNKNOWN) == {-1006, -1007}
    for code in codes_of(CodeKind.OUTCOME_UNKNOWN):
        ctx = ErrorContext("binanceusdm", client_order_id="hb-1", order_sent=True)
        mapped = map_ccxt_error(emulator_exception(code), ctx)
        assert isinstance(mapped, errors.OrderOutcomeUnknown)
        assert mapped.client_order_id == "hb-1"
