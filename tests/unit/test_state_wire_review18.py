"""The ``state`` message carries what the bot page shows from the venue and the chain (issue
18 review): the venue's next funding time, and per position its range and fees."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from bot.core.gate import MarginView
from bot.domain import ChainSnapshot, Decision, MarketQuote, PerpPosition, PositionExposure
from bot.events import TickState
from bot.telemetry.dashboard.feed import DashboardFeed
from bot.telemetry.wire import state_message

pytestmark = pytest.mark.unit

D = Decimal
NEXT_FUNDING = 1_700_006_400  # the venue's, not a multiple of 8 h from the browser's clock


def _tick(next_funding_ts: int = NEXT_FUNDING) -> TickState:
    lp = PositionExposure("lp", "v2", D(1), D(2000), D(4000), D(1), D(0), D(2000))
    return TickState(
        bot_id="b1",
        block=5,
        snapshot=ChainSnapshot(5, 1_700_000_000, "0xabc", D(2000), (lp,)),
        quote=MarketQuote("ETH/USDT:USDT", D(2001), D(2001), D("0.0001"), next_funding_ts, 0),
        position=PerpPosition("ETH/USDT:USDT", D("-0.9"), D(2000), D(2001), D(0), D(100), None, 3),
        decision=Decision("hold", "within band", D(1), D(-1), D("-0.9"), D("0.1"), D("0.05")),
        pnl={},
        margin=MarginView(None, None, None),
        paused=False,
        flattening=False,
    )


def test_the_state_carries_the_venues_next_funding_time() -> None:
    """``next_funding_ts`` is ``MarketQuote.next_funding_ts`` (unix s), on the wire and in
    what the page receives."""
    message = state_message(_tick())
    assert message.next_funding_ts == NEXT_FUNDING
    assert json.loads(message.to_json())["next_funding_ts"] == NEXT_FUNDING
    feed = DashboardFeed()
    feed.publish_state(message)
    assert feed.latest_state is not None
    assert feed.latest_state["next_funding_ts"] == NEXT_FUNDING


def test_an_unknown_next_funding_time_is_left_off_the_wire() -> None:
    """A venue that gives no next funding time (0) publishes none, never 1970."""
    message = state_message(replace(_tick(), quote=replace(_tick().quote, next_funding_ts=0)))
    assert message.next_funding_ts is None
    assert "next_funding_ts" not in json.loads(message.to_json())
