"""The simulated perp venue: fills, fees, slippage, funding, margin, liquidation, persistence."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bot import errors
from bot.clock import ManualClock
from bot.domain import OrderIntent, OrderStatus, Side
from bot.exchange.venue import SimVenue, VenueParams

pytestmark = pytest.mark.unit

T0 = 1_700_000_000.0 - (1_700_000_000 % 28_800) + 1  # just after a funding time
SYMBOL = "ETH/USDT:USDT"


def make(**overrides: object) -> tuple[SimVenue, ManualClock]:
    clock = ManualClock(T0)
    params = VenueParams(**overrides)  # type: ignore[arg-type]
    return SimVenue(params, clock), clock


def order(
    cid: str, side: Side, amount: str, *, reduce_only: bool = False, limit: str | None = None
):
    return OrderIntent(
        cid, SYMBOL, side, Decimal(amount), reduce_only, Decimal(limit) if limit else None
    )


def test_market_sell_fills_at_mark_less_slippage_and_pays_taker_fee() -> None:
    """A 2 base sell at mark 2000 with 1 + 0.5*2 bps slippage fills at 1999.60, fee 5 bps."""
    venue, _ = make(slippage_bps_per_base=Decimal("0.5"))
    placed = venue.submit(order("a", Side.SELL, "2"))
    assert placed.status is OrderStatus.FILLED
    assert placed.average_price == Decimal("1999.60")
    assert placed.fee_quote == Decimal("2") * Decimal("1999.60") * Decimal("0.0005")
    pos = venue.position()
    assert pos.size_base == Decimal(-2)
    assert pos.entry_price == Decimal("1999.60")
    assert venue.balance().wallet_balance == Decimal(100_000) - placed.fee_quote


def test_realized_pnl_on_reduce_and_weighted_entry_on_increase() -> None:
    """Entry is size-weighted when growing; closing realises size * (entry - exit) on a short."""
    venue, _ = make(slippage_bps_base=Decimal(0), slippage_bps_per_base=Decimal(0))
    venue.submit(order("a", Side.SELL, "1"))
    venue.set_mark(Decimal(2100))
    venue.submit(order("b", Side.SELL, "1"))
    assert venue.position().entry_price == Decimal(2050)
    venue.set_mark(Decimal(2000))
    closing = venue.submit(order("c", Side.BUY, "2", reduce_only=True))
    assert closing.status is OrderStatus.FILLED
    assert venue.position().size_base == 0
    assert venue.fills(0)[-1].realized_pnl == Decimal(100)


def test_funding_charged_on_position_held_at_funding_time_only() -> None:
    """Resizing between funding times never double-counts: one payment on the size at the time."""
    venue, clock = make(slippage_bps_base=Decimal(0), slippage_bps_per_base=Decimal(0))
    venue.submit(order("a", Side.SELL, "1"))
    clock.advance(3600)
    venue.submit(order("b", Side.SELL, "2"))  # grow between funding times
    clock.advance(3600)
    venue.submit(order("c", Side.BUY, "1", reduce_only=True))  # shrink again
    clock.advance(28_800)  # cross exactly one funding time
    payments = venue.funding_payments(0)
    assert len(payments) == 1
    assert payments[0].position_base == Decimal(-2)
    assert payments[0].amount_quote == Decimal(2) * Decimal(2000) * Decimal("0.0001")
    assert venue.funding_payments(0) == payments  # reading again settles nothing new


def test_funding_rate_path_and_negative_rate_charges_a_short() -> None:
    """A negative rate makes the short pay; the rate path picks the rate per funding time."""
    venue, clock = make(
        slippage_bps_base=Decimal(0),
        slippage_bps_per_base=Decimal(0),
        funding_rate_path=((0, Decimal("-0.001")),),
    )
    venue.submit(order("a", Side.SELL, "1"))
    clock.advance(2 * 28_800)
    payments = venue.funding_payments(0)
    assert [p.amount_quote for p in payments] == [Decimal(-2), Decimal(-2)]


def test_min_notional_and_step_refused_reduce_only_capped() -> None:
    """Below min notional and off-step amounts are refused; reduce-only never flips."""
    venue, _ = make()
    with pytest.raises(errors.MinNotionalError):
        venue.submit(order("a", Side.SELL, "0.002"))
    with pytest.raises(errors.InvalidOrder, match="step"):
        venue.submit(order("b", Side.SELL, "0.0015"))
    with pytest.raises(errors.ReduceOnlyRejected):
        venue.submit(order("c", Side.BUY, "1", reduce_only=True))
    venue.submit(order("d", Side.SELL, "1"))
    closed = venue.submit(order("e", Side.BUY, "3", reduce_only=True))
    assert closed.filled_base == Decimal(1)
    assert venue.position().size_base == 0
    assert [o.client_order_id for o in venue.order_log()] == ["d", "e"]


def test_duplicate_client_id_refused() -> None:
    """The same client order id twice is refused: retries cannot double an order."""
    venue, _ = make()
    venue.submit(order("a", Side.SELL, "1"))
    with pytest.raises(errors.InvalidOrder, match="duplicate"):
        venue.submit(order("a", Side.SELL, "1"))
    assert venue.position().size_base == Decimal(-1)


def test_ioc_limit_beyond_cap_expires_unfilled_and_partial_fill() -> None:
    """An IOC whose cap the fill price would breach expires; fill_fraction fills part."""
    venue, _ = make()
    expired = venue.submit(order("a", Side.BUY, "1", limit="2000.00"))
    assert expired.status is OrderStatus.EXPIRED
    assert expired.filled_base == 0
    partial = venue.submit(order("b", Side.SELL, "1", limit="1990"), fill_fraction=Decimal("0.5"))
    assert partial.status is OrderStatus.PARTIALLY_FILLED
    assert venue.position().size_base == Decimal("-0.5")


def test_insufficient_margin() -> None:
    """An order needing more initial margin than is available is refused, leaving no trace."""
    venue, _ = make(initial_balance=Decimal(1000), leverage=2)
    with pytest.raises(errors.InsufficientMargin):
        venue.submit(order("a", Side.SELL, "1"))
    assert venue.order_log() == []


def test_liquidation_price_and_liquidation() -> None:
    """Short 1 at 2000, 3x: liquidated when the mark reaches the bracket formula price."""
    venue, _ = make(slippage_bps_base=Decimal(0), slippage_bps_per_base=Decimal(0))
    venue.submit(order("a", Side.SELL, "1"))
    pos = venue.position()
    margin = Decimal(2000) / 3
    assert pos.margin == margin
    expected = (margin + Decimal(2000)) / (1 + Decimal("0.005"))
    assert pos.liquidation_price == expected
    venue.set_mark(Decimal(2600))
    assert venue.position().size_base == Decimal(-1)
    venue.set_mark(Decimal(2700))
    assert venue.position().size_base == 0
    assert venue.liquidations == 1
    assert venue.balance().wallet_balance == Decimal(100_000) - Decimal(1) - margin


def test_state_round_trips_through_json() -> None:
    """A restarted venue restored from its JSON state has the same account."""
    venue, clock = make()
    venue.submit(order("a", Side.SELL, "1.5"))
    clock.advance(28_800)
    venue.set_mark(Decimal(2100))
    state = json.loads(json.dumps(venue.to_state()))
    again = SimVenue(VenueParams(), clock)
    again.load_state(state)
    assert again.position() == venue.position()
    assert again.balance() == venue.balance()
    assert again.fills(0) == venue.fills(0)
    assert again.funding_payments(0) == venue.funding_payments(0)
    assert again.order("a") == venue.order("a")


def test_gtc_limit_rests_until_the_mark_reaches_it_then_fills_at_its_price_as_maker() -> None:
    """A GTC sell above the mark rests (open, no position) and fills whole at its limit with
    the maker fee once the mark reaches it."""
    venue, _ = make()
    resting = venue.submit(order("g", Side.SELL, "1", limit="2100"), time_in_force="GTC")
    assert resting.status is OrderStatus.OPEN
    assert venue.open_orders() == [resting]
    assert venue.position().size_base == 0
    venue.set_mark(Decimal("2099.99"))
    assert venue.open_orders() == [resting]
    venue.set_mark(Decimal(2100))
    filled = venue.order("g")
    assert filled is not None
    assert filled.status is OrderStatus.FILLED
    assert filled.average_price == Decimal(2100)
    assert filled.fee_quote == Decimal(2100) * Decimal("0.0002")
    assert venue.open_orders() == []
    assert venue.position().size_base == Decimal(-1)
    assert venue.fills(0)[-1].client_order_id == "g"


def test_gtc_that_crosses_fills_at_once_and_cancel_removes_a_resting_order() -> None:
    """A crossing GTC fills like an IOC; cancel takes a resting order off the book for good."""
    venue, _ = make()
    crossing = venue.submit(order("x", Side.SELL, "1", limit="1900"), time_in_force="GTC")
    assert crossing.status is OrderStatus.FILLED
    venue.submit(order("y", Side.BUY, "1", limit="1800"), time_in_force="GTC")
    cancelled = venue.cancel("y")
    assert cancelled.status is OrderStatus.CANCELED
    assert venue.open_orders() == []
    venue.set_mark(Decimal(1700))
    assert venue.position().size_base == Decimal(-1)
    with pytest.raises(errors.OrderNotFound):
        venue.cancel("y")


def test_resting_reduce_only_expires_when_there_is_nothing_to_reduce() -> None:
    """A resting reduce-only buy whose short was closed meanwhile expires instead of opening."""
    venue, _ = make()
    venue.submit(order("s", Side.SELL, "1"))
    venue.submit(order("r", Side.BUY, "1", reduce_only=True, limit="1900"), time_in_force="GTC")
    venue.submit(order("c", Side.BUY, "1", reduce_only=True))
    venue.set_mark(Decimal(1850))
    expired = venue.order("r")
    assert expired is not None
    assert expired.status is OrderStatus.EXPIRED
    assert venue.position().size_base == 0


def test_resting_order_survives_a_restart() -> None:
    """The book is part of the persisted state: a restored venue still fills the resting order."""
    venue, clock = make()
    venue.submit(order("g", Side.SELL, "1", limit="2100"), time_in_force="GTC")
    again = SimVenue(VenueParams(), clock)
    again.load_state(json.loads(json.dumps(venue.to_state())))
    assert [o.client_order_id for o in again.open_orders()] == ["g"]
    again.set_mark(Decimal(2150))
    assert again.position().size_base == Decimal(-1)
