"""The ccxt adapter's exchange-id -> client-id map is bounded (issue 16: every in-memory
buffer has a bound) and a forgotten order a fill names is looked up again by id: the real
ccxt ``binanceusdm`` client against the Binance emulator over HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from emulator_support import SYMBOL, emulator, started_exchange  # noqa: F401 - fixture

from bot.clock import ManualClock
from bot.domain import OrderIntent, Side
from bot.exchange.ccxt.order_ids import VenueOrderIds
from bot.exchange.emulators.binance_usdm import EmulatorHandle

pytestmark = pytest.mark.integration


def test_the_map_keeps_the_most_recent_ids_only() -> None:
    ids = VenueOrderIds(calls=None, capacity=3)  # type: ignore[arg-type]  # no lookups here
    for n in range(10):
        ids.remember({"id": str(n), "clientOrderId": f"hb-{n}"})
    assert len(ids) == 3
    assert ids.client_id_of({"order": "9"}) == "hb-9"
    assert ids.client_id_of({"order": "7"}) == "hb-7"  # used: now the most recent
    ids.remember({"id": "10", "clientOrderId": "hb-10"})
    assert ids.client_id_of({"order": "7"}) == "hb-7"  # kept: 8 was the least recent
    with pytest.raises(Exception, match="order 8 has no client order id"):
        ids.client_id_of({"order": "8"})


async def test_a_forgotten_order_of_a_fill_is_looked_up_again(
    emulator: EmulatorHandle,  # noqa: F811 - fixture
    clock: ManualClock,
) -> None:
    async with started_exchange(emulator, clock) as exchange:
        exchange._order_ids.capacity = 2
        for n in range(4):
            clock.advance(1)
            order = await exchange.submit(
                OrderIntent(f"hb-bound-{n}", SYMBOL, Side.SELL, Decimal("0.01"), reduce_only=False)
            )
            assert order.filled_base == Decimal("0.01")
        remembered = len(exchange._order_ids)
        fills = await exchange.fills(0)
    assert remembered == 2
    assert [fill.client_order_id for fill in fills] == [f"hb-bound-{n}" for n in range(4)]
