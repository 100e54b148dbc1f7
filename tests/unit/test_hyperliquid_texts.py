"""The one table of Hyperliquid refusal texts: the emulator answers with it and the ccxt error
mapping reads it, so a text means the same thing on both sides (as ``binance_codes``)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from bot import errors
from bot.errors import VenueDataError
from bot.exchange.binance_codes import CodeKind
from bot.exchange.ccxt.errors import ErrorContext, is_duplicate_client_id, map_ccxt_error
from bot.exchange.ccxt.history import fill_from_ccxt
from bot.exchange.ccxt.settings import REALIZED_PNL_FIELDS
from bot.exchange.hyperliquid_texts import HYPERLIQUID_TEXTS, Refusal, hyperliquid_text, text_of

pytestmark = pytest.mark.unit

_FIELDS = {
    "suffix": " asset=1",
    "signer": "0xabc",
    "user": "0xabc",
    "bbo": "1@2",
    "detail": "x",
    "vault": "0xdef",
}


def ccxt_exception(text: str, *, whole_action: bool) -> BaseException:
    """What ccxt hyperliquid raises for the venue's refusal ``text``: of the whole action
    (``status: err``) or of the one order (a status ``error`` in an ``ok`` answer)."""
    if whole_action:
        response: dict[str, Any] = {"status": "err", "response": text}
    else:
        statuses = [{"error": text}]
        response = {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}
    body = json.dumps(response)
    client = ccxt.hyperliquid()
    url = "http://127.0.0.1:1/exchange"
    with pytest.raises(ccxt.BaseError) as caught:
        client.handle_errors(200, "OK", url, "POST", {}, body, response, {}, "")
    return caught.value


@pytest.mark.parametrize("refusal", list(Refusal), ids=[r.value for r in Refusal])
@pytest.mark.parametrize("whole_action", [True, False], ids=["action", "order"])
def test_every_text_maps_to_the_tables_domain_error(refusal: Refusal, whole_action: bool) -> None:
    """Each text the emulator answers (filled in as it fills it) maps to the table's domain
    class, whichever ccxt class carried it (InvalidOrder for the $10 minimum)."""
    entry = hyperliquid_text(refusal)
    mapped = map_ccxt_error(
        ccxt_exception(entry.message(**_FIELDS), whole_action=whole_action),
        ErrorContext("hyperliquid"),
    )
    assert type(mapped) is entry.error


def test_min_value_is_min_notional_and_a_sent_duplicate_cloid_is_unknown() -> None:
    """The $10 minimum is MinNotionalError; a duplicate cloid on a sent order is
    OrderOutcomeUnknown (the order may exist) and recognised as a duplicate client id."""
    min_value = hyperliquid_text(Refusal.MIN_VALUE).message(suffix=" asset=1")
    assert min_value == "Order must have minimum value of $10. asset=1"
    exc = ccxt_exception(min_value, whole_action=False)
    assert isinstance(exc, ccxt.InvalidOrder)  # what ccxt makes of it
    assert isinstance(map_ccxt_error(exc, ErrorContext("hyperliquid")), errors.MinNotionalError)
    duplicate = ccxt_exception(
        hyperliquid_text(Refusal.DUPLICATE_CLOID).message(suffix=" asset=1"), whole_action=False
    )
    assert is_duplicate_client_id(duplicate)
    sent = ErrorContext("hyperliquid", client_order_id="hb-1", order_sent=True)
    assert isinstance(map_ccxt_error(duplicate, sent), errors.OrderOutcomeUnknown)


def test_text_lookup_needs_the_fixed_part_and_other_venues_are_not_read_by_text() -> None:
    """A text the table does not hold is None; the same words on another venue are not
    read as Hyperliquid's (their codes decide there)."""
    assert text_of("hyperliquid something new happened") is None
    assert (
        text_of('{"error": "Order must have minimum value of $10. asset=3"}')
        is (HYPERLIQUID_TEXTS[Refusal.MIN_VALUE])
    )
    assert HYPERLIQUID_TEXTS[Refusal.UNKNOWN_SIGNER].kind is CodeKind.AUTH
    other = ccxt.InvalidOrder("binanceusdm Order must have minimum value of $10.")
    assert type(map_ccxt_error(other, ErrorContext("binanceusdm"))) is errors.InvalidOrder


TRADE = {
    "id": "7",
    "order": "81",
    "side": "buy",
    "amount": 0.5,
    "price": 1990.0,
    "cost": 995.0,
    "fee": {"cost": 0.44775, "currency": "USDC"},
    "takerOrMaker": "taker",
    "timestamp": 1_800_000_000_000,
    "info": {"closedPnl": "5.0", "dir": "Close Short"},
}


def read_fill(trade: dict[str, Any], venue: str) -> Any:
    return fill_from_ccxt(
        trade,
        symbol="ETH/USDC:USDC",
        contract_size=Decimal(1),
        client_order_id="hb-1",
        realized_pnl_key=REALIZED_PNL_FIELDS.get(venue),
    )[0]


def test_hyperliquid_fill_reads_closed_pnl_and_unknown_is_never_zero() -> None:
    """userFills closedPnl is the fill's realized PnL; a row without it, or a venue whose
    field is not known, is a read error (never realized PnL 0)."""
    assert read_fill(TRADE, "hyperliquid").realized_pnl == Decimal(5)
    with pytest.raises(VenueDataError, match="closedPnl missing"):
        read_fill({**TRADE, "info": {"dir": "Close Short"}}, "hyperliquid")
    with pytest.raises(VenueDataError, match="realized PnL field is not known"):
        read_fill(TRADE, "some-unmapped-venue")
