"""The safety net's pure part: the ledger's filled own orders of which no fill reached the
account count in the expectation with the ledger's amount (``unfilled_own_orders``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain import Fill, Order, OrderStatus, Side
from bot.exchange.position_check import CheckedMark, check_running, unfilled_own_orders

pytestmark = pytest.mark.unit


def order(cid: str, side: Side, filled: str) -> Order:
    return Order(
        client_order_id=cid,
        exchange_order_id=f"x-{cid}",
        symbol="ETH/USDC:USDC",
        side=side,
        amount_base=Decimal(1),
        filled_base=Decimal(filled),
        average_price=Decimal(2000),
        status=OrderStatus.FILLED if Decimal(filled) else OrderStatus.CANCELED,
        reduce_only=False,
    )


def fill_of(cid: str, amount: str) -> Fill:
    return Fill(
        trade_id=f"t-{cid}",
        client_order_id=cid,
        exchange_order_id=f"x-{cid}",
        symbol="ETH/USDC:USDC",
        side=Side.SELL,
        amount_base=Decimal(amount),
        price=Decimal(2000),
        fee_quote=Decimal(0),
        realized_pnl=Decimal(0),
        timestamp=1000,
    )


def test_only_filled_orders_without_any_fill_after_the_baseline_count() -> None:
    """Seq 1 is in the adopted baseline, seq 2 has its fill, seq 3 filled nothing, seq 4
    and 5 were filled with no fill seen: 4 and 5, oldest first."""
    orders = {
        "hb-aaaaaaaa-9-5": order("hb-aaaaaaaa-9-5", Side.BUY, "0.1"),
        "hb-aaaaaaaa-9-1": order("hb-aaaaaaaa-9-1", Side.SELL, "0.5"),
        "hb-aaaaaaaa-9-2": order("hb-aaaaaaaa-9-2", Side.SELL, "0.5"),
        "hb-aaaaaaaa-9-3": order("hb-aaaaaaaa-9-3", Side.SELL, "0"),
        "hb-aaaaaaaa-9-4": order("hb-aaaaaaaa-9-4", Side.SELL, "0.4"),
    }
    unfilled = unfilled_own_orders(orders, [fill_of("hb-aaaaaaaa-9-2", "0.2")], baseline_seq=1)
    assert [o.client_order_id for o in unfilled] == ["hb-aaaaaaaa-9-4", "hb-aaaaaaaa-9-5"]


def test_the_running_check_expects_the_ledgers_amount() -> None:
    """No fill, the venue flat: expected -0.4 + 0.1 from the ledger, a mismatch, paused."""
    unfilled = (
        order("hb-aaaaaaaa-9-4", Side.SELL, "0.4"),
        order("hb-aaaaaaaa-9-5", Side.BUY, "0.1"),
    )
    check = check_running(
        baseline_base=Decimal(0),
        counted=[],
        intent_ids=[o.client_order_id for o in unfilled],
        checked=CheckedMark(0),
        venue_position_base=Decimal(0),
        on_mismatch="pause",
        unfilled=unfilled,
    )
    assert check.expected_position_base == Decimal("-0.3")
    assert not check.ok
    assert check.action == "paused"
    assert check.unfilled_orders == unfilled
