"""A venue liquidation is recognised from the client id its fill is stored with (Binance's own
prefixes, Hyperliquid's ``liquidation`` object turned into an id), named by the position
check, and reaches people as a critical ``position.liquidated`` saying what was closed."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from bot.domain import Fill, Side
from bot.engine.position_watch import liquidation_alert, mismatch_cause
from bot.exchange.ccxt.dialect import HyperliquidDialect, VenueDialect
from bot.exchange.ccxt.order_ids import NO_CLIENT_ID
from bot.exchange.position_check import CheckedMark, check_running
from bot.exchange.venue_liquidations import (
    hyperliquid_liquidation_id,
    is_venue_liquidation,
    liquidation_summary,
)
from bot.telemetry.alert_rules import notice_for, severity_of

pytestmark = pytest.mark.unit

SYMBOL = "ETH/USDT:USDT"
LIQUIDATION = {"liquidatedUser": "0xab", "markPx": "2650.1", "method": "market"}


def fill(trade_id: str, cid: str, side: Side = Side.BUY, amount: str = "1.5") -> Fill:
    return Fill(
        trade_id=trade_id,
        client_order_id=cid,
        exchange_order_id="77",
        symbol=SYMBOL,
        side=side,
        amount_base=Decimal(amount),
        price=Decimal("2641.3"),
        fee_quote=Decimal(0),
        realized_pnl=Decimal(-900),
        timestamp=1_000,
    )


@pytest.mark.parametrize(
    "cid",
    [
        "autoclose-1700000000123",  # Binance liquidation
        "adl_autoclose",  # Binance auto-deleveraging
        "adl_autoclose-42",
        "settlement_autoclose-9",  # Binance delivery / delisting settlement
        "(liquidation 9000000004)",  # Hyperliquid, as the adapter names it
    ],
)
def test_the_venues_own_client_ids_are_liquidations(cid: str) -> None:
    """Each documented prefix, at the start of the id."""
    assert is_venue_liquidation(cid)


@pytest.mark.parametrize(
    "cid",
    [
        "AUTOCLOSE-1",  # Binance ids are case-sensitive: this is someone's own id
        "Autoclose-1",
        "ADL_AUTOCLOSE",
        "my-autoclose-1",  # merely contains it
        "x-autoclose-",
        " autoclose-1",
        "autoclose",  # no dash: not Binance's liquidation prefix
        "settlement_autoclose",  # no dash
        "hb-3f9a1c-19-1",  # the bot's own
        NO_CLIENT_ID,  # a manual trade without a client id
        "liquidation 1",  # no parenthesis
        "",
    ],
)
def test_other_client_ids_are_not(cid: str) -> None:
    """Case, position and the exact prefix matter: a false liquidation alert is worse than
    the plain mismatch the fill raises anyway."""
    assert not is_venue_liquidation(cid)


def test_a_hyperliquid_fill_with_a_liquidation_object_gets_an_id_of_its_order() -> None:
    """The liquidated user's fill (no cloid) is named after its oid; the id is recognised."""
    trade = {
        "id": "7",
        "order": "9000000004",
        "info": {"oid": 9000000004, "liquidation": LIQUIDATION},
    }
    cid = hyperliquid_liquidation_id(trade)
    assert cid == "(liquidation 9000000004)"
    assert is_venue_liquidation(cid)
    assert HyperliquidDialect().venue_made_client_id(trade) == cid
    assert VenueDialect().venue_made_client_id(trade) is None  # Binance names it by its id


@pytest.mark.parametrize(
    "liquidation",
    [None, "true", "", 1, 0, 2.5, True, [], [LIQUIDATION], ["liquidatedUser", "0xab"]],
)
def test_a_liquidation_value_that_is_no_object_is_not_one_and_does_not_fail(
    liquidation: Any,
) -> None:
    """Only a JSON object counts (the documented shape); anything else leaves the fill to the
    ordinary path (its order's client id, else someone else's fill), never an exception."""
    trade = {"id": "7", "order": "9000000004", "info": {"liquidation": liquidation}}
    assert hyperliquid_liquidation_id(trade) is None


@pytest.mark.parametrize(
    "trade",
    [
        {"id": "7", "order": "9", "info": "not an object"},
        {"id": "7", "order": "9"},
        {"id": "7", "order": None, "info": {"liquidation": LIQUIDATION}},  # no order id
        {"id": "7", "order": "", "info": {"liquidation": LIQUIDATION}},
    ],
)
def test_a_trade_without_info_or_order_id_gets_no_liquidation_id(trade: dict[str, Any]) -> None:
    """Nothing to name it by: the ordinary path decides (and refuses a fill without order)."""
    assert hyperliquid_liquidation_id(trade) is None


def test_the_running_check_names_the_liquidation_among_the_foreign_fills() -> None:
    """A short of 1.5 closed by the venue's buy and someone's manual sell: both foreign, the
    liquidation named; the halt's cause says the venue liquidated."""
    own = fill("1", "hb-abc-1-1", Side.SELL)
    liquidated = fill("2", "autoclose-5")
    manual = fill("3", NO_CLIENT_ID, Side.SELL, "0.1")
    check = check_running(
        baseline_base=Decimal(0),
        counted=[own, liquidated, manual],
        intent_ids=["hb-abc-1-1"],
        checked=CheckedMark(1_000, frozenset({"1"})),
        venue_position_base=Decimal("-0.1"),
        on_mismatch="pause",
    )
    assert check.foreign_fills == (liquidated, manual)
    assert check.liquidations == (liquidated,)
    assert mismatch_cause(check.liquidations) == "venue_liquidation"
    assert mismatch_cause(()) == "position_mismatch"


def test_the_alert_says_what_the_venue_closed_and_is_critical() -> None:
    """Fill ids, side, amount in base, price, venue, and one line a person reads first."""
    alert = liquidation_alert([fill("2", "autoclose-5")], "binanceusdm", "paused")
    assert alert is not None
    data = alert.data()
    assert data == {
        "alert": "position.liquidated",
        "venue": "binanceusdm",
        "symbol": SYMBOL,
        "trade_ids": ["2"],
        "client_order_ids": ["autoclose-5"],
        "side": "buy",
        "amount_base": "1.5",
        "net_base": "1.5",
        "prices": ["2641.3"],
        "action": "paused",
        "message": "binanceusdm liquidated the hedge: buy 1.5 ETH/USDT:USDT at 2641.3 "
        "(fill 2); trading paused: check the account, then resume",
    }
    assert severity_of("position.liquidated") == "critical"
    notice = notice_for("b1", "alert", data, 1.0)
    assert notice is not None
    assert notice.title == "hedgebot b1: position.liquidated (critical)"
    assert notice.body.splitlines() == [f"message: {data['message']}", "venue: binanceusdm"]
    assert liquidation_alert([], "binanceusdm", "paused") is None


def test_a_liquidation_in_several_fills_adds_up() -> None:
    """Two fills of the close: the amounts add up, each price and id is listed; an adopted
    position says so."""
    a, b = fill("2", "autoclose-5", amount="1"), fill("3", "autoclose-5", amount="0.5")
    b = replace(b, price=Decimal("2650"))
    summary = liquidation_summary([a, b])
    assert summary is not None
    assert (summary.side, summary.amount_base, summary.net_base) == (
        "buy",
        Decimal("1.5"),
        Decimal("1.5"),
    )
    assert summary.message("hyperliquid", "adopted") == (
        "hyperliquid liquidated the hedge: buy 1.5 ETH/USDT:USDT at 2641.3, 2650 (fills 2, 3); "
        "the venue's position is the new baseline, trading on"
    )
    mixed = liquidation_summary([a, fill("4", "adl_autoclose", Side.SELL, "0.25")])
    assert mixed is not None
    assert (mixed.side, mixed.amount_base, mixed.net_base) == (
        "buy+sell",
        Decimal("1.25"),
        Decimal("0.75"),
    )
