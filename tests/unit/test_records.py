"""The JSON codec of the domain records (``bot.records``): what the previous, hand-written
decoders read, the generic ones read the same, and every record round-trips exactly.

``tests/data/venue_state_v1_head.json`` is a ``SimVenue.to_state()`` written by the code before
the generic decoders (a filled sell, a funding payment, a reduce-only buy, a resting GTC)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.domain import (
    ChainNotice,
    ChainSnapshot,
    Decision,
    Fill,
    FundingPayment,
    Order,
    OrderIntent,
    OrderStatus,
    PositionExposure,
    Side,
)
from bot.exchange.venue import SimVenue, VenueParams
from bot.records import (
    decision_from,
    fill_from,
    funding_from,
    intent_from,
    order_from,
    plain,
    snapshot_from,
    to_json,
)

pytestmark = pytest.mark.unit

VENUE_STATE = Path(__file__).resolve().parent.parent / "data" / "venue_state_v1_head.json"
SYMBOL = "ETH/USDT:USDT"

INTENT = OrderIntent("hb-a-10-1", SYMBOL, Side.SELL, Decimal("1.50"), True, Decimal("1999.5"))
ORDER = Order(
    "hb-a-10-1", "77", SYMBOL, Side.SELL, Decimal("1.5"), Decimal("0.75"), None,
    OrderStatus.PARTIALLY_FILLED, True, Decimal("0.30000"), 1_700_000_000_123,
)  # fmt: skip
FILL = Fill(
    "t9", "hb-a-10-1", "77", SYMBOL, Side.BUY, Decimal("0.5"), Decimal("2100.22"),
    Decimal("0.525055"), Decimal("-50.220"), 1_700_006_401_000,
)  # fmt: skip
FUNDING = FundingPayment(
    "funding-1", SYMBOL, Decimal("0.30000"), Decimal("-0.0001"), Decimal("-1.5"),
    Decimal(2000), 1_700_006_400_000,
)  # fmt: skip
POSITION = PositionExposure(
    "lp-1", "v3", Decimal("1.2"), Decimal("2400.5"), Decimal("4800.9"), Decimal("0.61"),
    Decimal("-0.0003"), Decimal("2000.1"), Decimal("0.01"), Decimal("2.5"), False, -200, 200,
    10**24,
)  # fmt: skip
SNAPSHOT = ChainSnapshot(19_000_000, 1_700_000_000, "0xabc", Decimal("2000.1"), (POSITION,),
                         Decimal("0.25"))  # fmt: skip
DECISION = Decision(
    "rebalance", "drift", Decimal("1.2"), Decimal("-1.2"), Decimal(0), Decimal("1.2"),
    Decimal("0.1"), Side.SELL, Decimal("1.2"), False, ("a", "b"), Decimal("2000"),
)  # fmt: skip


@pytest.mark.parametrize(
    ("value", "decode"),
    [
        (INTENT, intent_from),
        (ORDER, order_from),
        (FILL, fill_from),
        (FUNDING, funding_from),
        (SNAPSHOT, snapshot_from),
        (DECISION, decision_from),
    ],
)
def test_every_record_round_trips_through_its_json(value: object, decode: object) -> None:
    """to_json then the decoder gives the record back, Decimal digits and all."""
    text = to_json(value)
    again = decode(json.loads(text))  # type: ignore[operator]
    assert again == value
    assert to_json(again) == text


def test_bodies_from_before_the_optional_fields_decode_with_their_defaults() -> None:
    """Snapshots and decisions stored before fees, range, ticks, wallet, order amount, notes and
    mark existed read with the defaults the old decoders gave."""
    old_position = {
        k: v
        for k, v in plain(POSITION).items()
        if k not in {"fees_base", "fees_quote", "in_range", "tick_lower", "tick_upper", "liquidity"}
    }
    body = {k: v for k, v in plain(SNAPSHOT).items() if k not in {"wallet_base", "notices"}}
    body["positions"] = [old_position]
    snapshot = snapshot_from(body)
    (position,) = snapshot.positions
    assert (position.fees_base, position.fees_quote, position.in_range) == (0, 0, True)
    assert (position.tick_lower, position.tick_upper, position.liquidity) == (None, None, None)
    assert snapshot.wallet_base == 0
    old_decision = {
        k: v
        for k, v in plain(DECISION).items()
        if k not in {"order_side", "order_amount_base", "reduce_only", "notes", "mark_price"}
    }
    decision = decision_from(old_decision)
    assert decision.order_side is None
    assert decision.order_amount_base == 0
    assert decision.reduce_only is False
    assert decision.notes == ()
    assert decision.mark_price is None


def test_snapshot_notices_are_not_read_back() -> None:
    """Notices are raised once, on the snapshot that found them: a stored one reads without."""
    noticed = ChainSnapshot(
        1, 2, "0x1", Decimal(1), (), notices=(ChainNotice("position.duplicate", "x", ("a",)),)
    )
    assert snapshot_from(json.loads(to_json(noticed))).notices == ()


def test_malformed_bodies_are_refused() -> None:
    """A missing field, an unknown side or status, or a non-number amount raise ValueError or
    KeyError (never a record with a made-up value)."""
    good = json.loads(to_json(ORDER))
    for broken in (
        {k: v for k, v in good.items() if k != "side"},
        {**good, "side": "sideways"},
        {**good, "status": "lost"},
        {**good, "amount_base": "lots"},
    ):
        with pytest.raises((ValueError, KeyError, ArithmeticError)):
            order_from(broken)


def test_venue_state_written_by_the_previous_code_loads() -> None:
    """The venue state file from before the generic decoders restores the same account:
    -1.0 ETH at 1999.78, wallet 99948.055110, two fills, one funding payment, one resting GTC."""
    state = json.loads(VENUE_STATE.read_text(encoding="utf-8"))
    venue = SimVenue(VenueParams(), ManualClock(1_700_006_401.0))
    venue.load_state(state)
    position = venue.position()
    assert position.size_base == Decimal("-1.0")
    assert position.entry_price == Decimal("1999.78")
    assert venue.balance().wallet_balance == Decimal("99948.055110")
    fills = venue.fills(0)
    assert [(f.trade_id, f.client_order_id, f.side, f.amount_base, f.price) for f in fills] == [
        ("1", "sell-1", Side.SELL, Decimal("1.5"), Decimal("1999.78")),
        ("2", "buy-1", Side.BUY, Decimal("0.5"), Decimal("2100.22")),
    ]
    assert fills[1].realized_pnl == Decimal("-50.220")
    assert venue.funding_payments(0) == [
        FundingPayment(
            id="funding-1700006400",
            symbol=SYMBOL,
            amount_quote=Decimal("0.30000"),
            rate=Decimal("0.0001"),
            position_base=Decimal("-1.5"),
            mark_price=Decimal(2000),
            timestamp=1_700_006_400_000,
        )
    ]
    (resting,) = venue.open_orders()
    assert (resting.client_order_id, resting.status, resting.average_price) == (
        "rest-1",
        OrderStatus.OPEN,
        None,
    )
    buy = venue.order("buy-1")
    assert buy is not None
    assert (buy.reduce_only, buy.status, buy.fee_quote) == (True, OrderStatus.FILLED,
                                                             Decimal("0.525055"))  # fmt: skip
    assert json.loads(json.dumps(venue.to_state())) == state
