"""The ``state`` message's ``blocks`` (the block each chain was read at) and each position's
``chain``: present with several chains, left off the wire with one (byte-compatible with the
state of before)."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from pydantic import ValidationError
from tick_state_support import held_tick_state

from bot.domain import ChainSnapshot, PositionExposure
from bot.events import TickState
from bot.telemetry.messages import PositionState, StateMessage
from bot.telemetry.wire import state_message

pytestmark = pytest.mark.unit

D = Decimal


def _tick(blocks: tuple[tuple[str, int], ...] = ()) -> TickState:
    """One tick's typed state (one V2 position), read from ``blocks`` (empty: one chain; else
    the position is tagged with the first chain, as ``MultiChainReader`` tags it)."""
    lp = PositionExposure("lp", "v2", D(1), D(2000), D(4000), D(1), D(0), D(2000))
    if blocks:
        lp = replace(lp, chain=blocks[0][0])
    return held_tick_state(ChainSnapshot(7, 1_700_000_000, "0xabc", D(2000), (lp,), blocks=blocks))


def test_one_chain_leaves_blocks_off_the_wire() -> None:
    """A single-chain state has no ``blocks`` key: the same bytes as before the field."""
    message = state_message(_tick())
    assert message.blocks is None
    wire = message.to_json()
    assert b"blocks" not in wire
    before = {"blocks", "next_funding_ts", "trading_state", "trading_reasons", "guards_tripped"}
    before.add("sig")  # only with an operator key (MqttTelemetry signs)
    assert set(json.loads(wire)) == set(StateMessage.model_fields) - before
    assert StateMessage.model_validate_json(wire) == message


def test_several_chains_publish_each_chains_block() -> None:
    """With several chains ``blocks`` names each chain's block; it reads back equal."""
    message = state_message(_tick((("base", 7), ("arbitrum", 123_456_789))))
    body = json.loads(message.to_json())
    assert body["block"] == 7
    assert body["blocks"] == {"base": 7, "arbitrum": 123_456_789}
    assert StateMessage.model_validate_json(message.to_json()) == message


@pytest.mark.parametrize(
    "blocks",
    [{"base": -1}, {"not a name": 1}, {"": 1}, {f"c{i}": i for i in range(65)}],
    ids=["negative", "bad-name", "empty-name", "too-many"],
)
def test_bad_blocks_are_refused(blocks: dict[str, int]) -> None:
    """A negative block, a name no config can hold or an unbounded map is a schema error."""
    body = json.loads(state_message(_tick((("a", 1), ("b", 2)))).to_json())
    with pytest.raises(ValidationError):
        StateMessage.model_validate({**body, "blocks": blocks})


def test_the_snapshot_blocks_reach_the_state_unchanged() -> None:
    """``state_message`` copies the snapshot's blocks, whatever the primary's ``block``."""
    tick = _tick((("l1", 7), ("l2", 9)))
    tick = replace(tick, snapshot=replace(tick.snapshot, blocks=(("l1", 7), ("l2", 10))))
    assert state_message(tick).blocks == {"l1": 7, "l2": 10}


def test_one_chain_leaves_each_positions_chain_off_the_wire() -> None:
    """A single-chain position has the wire keys of before (no ``chain``) and reads back."""
    message = state_message(_tick())
    (position,) = json.loads(message.to_json())["positions"]
    assert set(position) == set(PositionState.model_fields) - {"chain"}
    assert message.positions[0].chain is None
    assert StateMessage.model_validate_json(message.to_json()) == message


def test_several_chains_name_each_positions_chain() -> None:
    """With several chains each position carries its chain's config name; it reads back equal;
    a name no config can hold is a schema error."""
    message = state_message(_tick((("base", 7), ("arbitrum", 9))))
    (position,) = json.loads(message.to_json())["positions"]
    assert position["chain"] == "base"
    assert message.model_dump(mode="json")["positions"][0]["chain"] == "base"
    assert StateMessage.model_validate_json(message.to_json()) == message
    with pytest.raises(ValidationError):
        PositionState.model_validate({**position, "chain": "not a name"})
