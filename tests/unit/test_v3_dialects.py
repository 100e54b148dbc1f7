"""The V3 dialect table, what a staked position earns, and position moves (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak

from bot.chain.v3_calls import pool_address
from bot.chain.v3_dialects import (
    PANCAKE_POOL_INIT_CODE_HASH,
    V3_DIALECTS,
    clone_address,
    create2_address,
    dialect,
    placed,
)
from bot.chain.v3_discovery import Whereabouts
from bot.domain import PositionExposure, PositionMove
from bot.events import PositionMoved
from bot.telemetry.wire import event_message

T0, T1 = "0x" + "11" * 20, "0x" + "22" * 20
CREATOR, IMPL = "0x" + "aa" * 20, "0x" + "bb" * 20


def test_uniswap_and_sushiswap_derive_pools_as_the_v3_periphery() -> None:
    """Uniswap and SushiSwap V3 share PoolAddress.computeAddress over the factory."""
    for protocol in ("uniswap_v3", "sushiswap_v3"):
        assert dialect(protocol).pool_address(CREATOR, None, T0, T1, 3000) == pool_address(
            CREATOR, T0, T1, 3000
        )


def test_pancake_salts_over_the_deployer_with_its_own_init_code_hash() -> None:
    """PancakeSwap: same salt as Uniswap, its PancakeV3Pool init code hash, the deployer."""
    salt = keccak(encode(["address", "address", "uint24"], [T0, T1, 2500]))
    expected = create2_address(CREATOR, salt, PANCAKE_POOL_INIT_CODE_HASH)
    assert dialect("pancakeswap_v3").pool_address(CREATOR, None, T0, T1, 2500) == expected
    assert expected != pool_address(CREATOR, T0, T1, 2500)


def test_slipstream_pools_are_clones_salted_by_tick_spacing() -> None:
    """Slipstream: an EIP-1167 clone of the implementation, salt over int24 tickSpacing; a
    negative key encodes as int24 (a uint24 salt would refuse it)."""
    salt = keccak(encode(["address", "address", "int24"], [T0, T1, 100]))
    assert dialect("slipstream").pool_address(CREATOR, IMPL, T0, T1, 100) == clone_address(
        CREATOR, IMPL, salt
    )
    with pytest.raises(ValueError, match="poolImplementation"):
        dialect("slipstream").pool_address(CREATOR, None, T0, T1, 100)


def test_each_dialect_names_its_abi_shapes() -> None:
    """slot0 widths, positions()' key type and the ticks() fee-growth words per fork."""

    def outputs(abi: list[dict[str, object]], name: str) -> list[str]:
        (entry,) = [e for e in abi if e.get("name") == name]
        return [o["type"] for o in entry["outputs"]]  # type: ignore[index, union-attr]

    assert outputs(dialect("uniswap_v3").pool_abi, "slot0")[5] == "uint8"
    assert outputs(dialect("pancakeswap_v3").pool_abi, "slot0")[5] == "uint32"
    assert len(outputs(dialect("slipstream").pool_abi, "slot0")) == 6
    assert outputs(dialect("slipstream").npm_abi, "positions")[4] == "int24"
    assert outputs(dialect("pancakeswap_v3").npm_abi, "positions")[4] == "uint24"
    assert dialect("slipstream").tick_fee_growth == (3, 4)
    assert sorted(V3_DIALECTS) == ["pancakeswap_v3", "slipstream", "sushiswap_v3", "uniswap_v3"]
    with pytest.raises(KeyError, match="known"):
        dialect("quickswap_v3")


def _exposure() -> PositionExposure:
    one = Decimal(1)
    return PositionExposure(
        id="lp-1", kind="v3", amount_base=one, amount_quote=Decimal(2000),
        value_quote=Decimal(4000),
        delta_base=Decimal("1.5"), gamma=Decimal(0), price=Decimal(2000),
        fees_base=Decimal("0.5"), fees_quote=Decimal(3),
    )  # fmt: skip


def test_a_gauge_staked_position_earns_emissions_and_no_fees() -> None:
    """Slipstream staked: fees 0 (known), delta is its base alone; PancakeSwap staked keeps
    its fees and adds emissions; in the wallet both earn fees."""
    staked = placed(_exposure(), "slipstream", "staked:0x" + "cc" * 20)
    assert (staked.earns, staked.fees_base, staked.fees_quote) == ("emissions", 0, 0)
    assert staked.delta_base == staked.amount_base
    chef = placed(_exposure(), "pancakeswap_v3", "staked:0x" + "cc" * 20)
    assert (chef.earns, chef.fees_base, chef.delta_base) == (
        "fees+emissions",
        Decimal("0.5"),
        Decimal("1.5"),
    )
    wallet = placed(_exposure(), "slipstream", "wallet")
    assert (wallet.earns, wallet.fees_quote, wallet.protocol) == ("fees", 3, "slipstream")


def test_whereabouts_turns_changes_into_moves() -> None:
    """First sight is no move; a later find arrives; a stake is left + arrived; a loss left."""
    where = Whereabouts()
    facts = {"protocol": "slipstream", "token_id": 1}
    where.seen("lp-1", "wallet", block=1, **facts)  # type: ignore[arg-type]
    where.seen("lp-1", "wallet", block=2, **facts)  # type: ignore[arg-type]
    assert where.take_moves() == ()
    where.seen("lp-1", "staked:g", block=3, **facts)  # type: ignore[arg-type]
    where.seen("lp-2", "staked:g", block=3, arrived=True, protocol="slipstream", token_id=2)
    where.left("lp-1", block=4, **facts)  # type: ignore[arg-type]
    assert where.take_moves() == (
        PositionMove(3, "lp-1", False, "wallet", "slipstream", 1),
        PositionMove(3, "lp-1", True, "staked:g", "slipstream", 1),
        PositionMove(3, "lp-2", True, "staked:g", "slipstream", 2),
        PositionMove(4, "lp-1", False, "staked:g", "slipstream", 1),
    )
    assert where.take_moves() == ()


def test_position_moved_events_have_stable_types() -> None:
    """position.arrived / position.left with the move's block, id, location and protocol."""
    move = PositionMove(9, "lp-1", True, "staked:g", "pancakeswap_v3", 1)
    arrived, left = (
        PositionMoved(move),
        PositionMoved(PositionMove(9, "lp-1", False, "wallet", "uniswap_v3")),
    )
    assert (arrived.kind, left.kind) == ("position.arrived", "position.left")
    assert arrived.data() == {
        "block": 9, "position": "lp-1", "location": "staked:g", "protocol": "pancakeswap_v3",
        "token_id": 1,
    }  # fmt: skip


def test_position_moves_are_in_the_mqtt_contract() -> None:
    """Both move types pass the wire contract (an unknown type would be refused)."""
    move = PositionMove(9, "lp-1", False, "staked:g", "slipstream", 1)
    message = event_message(PositionMoved(move), 1.5)
    assert (message.type, message.data["location"]) == ("position.left", "staked:g")
