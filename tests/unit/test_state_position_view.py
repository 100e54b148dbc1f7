"""The ``state`` message's per-position view for the bot page (issue 18 item 1): pool, range
edge prices, where the price sits in the range and the fees, as plain decimal text (never an
exponent), null for what a V2 position does not have."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal, localcontext
from typing import Any

import pytest
from tick_state_support import held_tick_state

from bot.core.v3 import PairDecimals, get_sqrt_ratio_at_tick, tick_to_price
from bot.core.v3_position import V3PoolState, V3PositionState, V3TickState, v3_exposure
from bot.domain import ChainSnapshot, PositionExposure
from bot.events import TickState
from bot.telemetry.messages import PositionState, StateMessage, plain_decimal
from bot.telemetry.wire import state_message

pytestmark = pytest.mark.unit

D = Decimal
POOL = "0x8ad599c3A0ff1De082011EFDDc58f1908eb6e6D8"
PAIR = "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"
NEW_FIELDS = ("pool", "price_lower", "price_upper", "range_position", "fees_base", "fees_quote")


def _tick(*positions: PositionExposure) -> TickState:
    return held_tick_state(ChainSnapshot(7, 1_700_000_000, "0xabc", positions[0].price, positions))


def _v3(base_is_token0: bool) -> tuple[PositionExposure, PairDecimals]:
    """A V3 position in range with fees owed in both tokens (18/6 decimals, price ~2000)."""
    pair = PairDecimals(base_is_token0=base_is_token0, base_decimals=18, quote_decimals=6)
    lower, upper = (-201_000, -195_000) if base_is_token0 else (195_000, 201_000)
    tick = (lower + upper) // 2 + 7
    pool = V3PoolState(get_sqrt_ratio_at_tick(tick), tick, 10**18, 0, 0)
    owed_base, owed_quote = 3 * 10**15, 12_345_678  # 0.003 base, 12.345678 quote
    owed0, owed1 = (owed_base, owed_quote) if base_is_token0 else (owed_quote, owed_base)
    position = V3PositionState(lower, upper, 10**18, 0, 0, owed0, owed1)
    zero = V3TickState(0, 0)
    return v3_exposure("lp-v3", pool, zero, zero, position, pair, pool_id=POOL), pair


@pytest.mark.parametrize("base_is_token0", [True, False], ids=["base=token0", "base=token1"])
def test_a_v3_position_publishes_pool_range_prices_where_and_fees(base_is_token0: bool) -> None:
    """Each new field equals the core's value at the position's ticks, read back exactly."""
    exposure, pair = _v3(base_is_token0)
    message = state_message(_tick(exposure))
    (wire,) = json.loads(message.to_json())["positions"]
    human: dict[str, Any] = {
        "base_is_token0": pair.base_is_token0,
        "base_decimals": pair.base_decimals,
        "quote_decimals": pair.quote_decimals,
    }
    assert exposure.tick_lower is not None
    assert exposure.tick_upper is not None
    edges = sorted(tick_to_price(t, **human) for t in (exposure.tick_lower, exposure.tick_upper))
    assert wire["pool"] == POOL
    assert D(wire["price_lower"]) == edges[0]
    assert D(wire["price_upper"]) == edges[1]
    where = D(wire["range_position"])
    with localcontext() as ctx:
        ctx.prec = 40
        assert where == (exposure.price - edges[0]) / (edges[1] - edges[0])
    assert D(0) < where < D(1)
    assert wire["in_range"] is True
    assert D(wire["fees_base"]) == D("0.003")
    assert D(wire["fees_quote"]) == D("12.345678")
    assert StateMessage.model_validate_json(message.to_json()) == message


def test_a_v2_position_publishes_its_pair_and_no_range() -> None:
    """V2: the pair as pool, null range prices and range position, fees ``"0"``."""
    lp = PositionExposure("lp", "v2", D(1), D(2000), D(4000), D(1), D(0), D(2000), pool=PAIR)
    (wire,) = json.loads(state_message(_tick(lp)).to_json())["positions"]
    assert {k: wire[k] for k in NEW_FIELDS} == {
        "pool": PAIR,
        "price_lower": None,
        "price_upper": None,
        "range_position": None,
        "fees_base": "0",
        "fees_quote": "0",
    }


def test_the_new_fields_are_plain_decimal_text_never_an_exponent() -> None:
    """Tiny or wei-scaled values (``1E-12``, ``0E-18``, ``2E+3``) cross as plain text that
    reads back equal, in the MQTT bytes and the dashboard's JSON dump alike."""
    lp = PositionExposure(
        "lp", "v3", D(1), D(2000), D(4000), D(1), D(0), D("0.00000000015"),
        fees_base=D("1E-12"), fees_quote=D("0E-18"),
        price_lower=D("1E-10"), price_upper=D("2E-10"), pool=POOL,
    )  # fmt: skip
    message = state_message(_tick(lp))
    for body in (json.loads(message.to_json()), message.model_dump(mode="json")):
        (wire,) = body["positions"]
        texts = [wire[k] for k in NEW_FIELDS[1:]]
        assert texts == ["0.0000000001", "0.0000000002", "0.5", "0.000000000001", "0"]
    assert StateMessage.model_validate_json(message.to_json()) == message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("1E-7"), "0.0000001"),
        (D("2E+3"), "2000"),
        (D("0E-18"), "0"),
        (D("-0"), "0"),
        (D("-1.50"), "-1.50"),
        (D("2000.123456789012345678901234567890"), "2000.123456789012345678901234567890"),
    ],
)
def test_plain_decimal_keeps_every_digit_in_plain_notation(value: Decimal, text: str) -> None:
    """No exponent, zero as ``0``, every digit kept."""
    assert plain_decimal(value) == text
    assert D(text) == value


def test_from_exposure_copies_chain_pool_range_and_fees() -> None:
    """The published view of an exposure on a named chain carries all of it."""
    exposure, _ = _v3(True)
    view = PositionState.from_exposure(replace(exposure, chain="base"))
    assert (view.chain, view.pool) == ("base", POOL)
    assert (view.price_lower, view.price_upper) == (exposure.price_lower, exposure.price_upper)
    assert (view.fees_base, view.fees_quote) == (exposure.fees_base, exposure.fees_quote)
