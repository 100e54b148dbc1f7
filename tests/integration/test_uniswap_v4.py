"""V4 reader against the real V4 contracts on anvil: amounts equal what DECREASE_LIQUIDITY +
TAKE_PAIR pay and fees what a zero decrease pays, to the wei; both token orders, native ETH as
currency0 and a hooked pool; owner discovery from Transfer logs."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from v3_support import raw
from v4_support import (
    WORLDS,
    balances,
    decrease_and_take,
    move_to_sqrt_price,
    posm,
    state_view,
    swap,
)
from web3 import AsyncWeb3

from bot.chain.reader import LpChainReader
from bot.chain.rpc import connect, rpc_request
from bot.chain.uniswap_v4 import V4PositionReader
from bot.chain.v4_calls import decode_position_info, pool_id
from bot.config import Settings, V4PositionConfig
from bot.core.v3 import Q128, get_sqrt_ratio_at_tick
from bot.domain import PositionExposure
from bot.errors import PositionReadError
from bot.sim.anvil import Anvil
from bot.sim.deploy import Transactor
from bot.sim.deploy_v4 import TICK_SPACING, V4Deployment, deploy_v4, mint_position

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
async def v4_worlds(anvil_node: Anvil) -> dict[str, V4Deployment]:
    """Each V4 world of ``WORLDS``, deployed once."""
    return {name: await deploy_v4(anvil_node.rpc_url, spec) for name, spec in WORLDS.items()}


@pytest.fixture(params=list(WORLDS))
async def v4(
    request: pytest.FixtureRequest, v4_worlds: dict[str, V4Deployment]
) -> AsyncIterator[V4Deployment]:
    """One V4 world per param, with the test's state changes reverted after."""
    d = v4_worlds[str(request.param)]
    w3 = connect(d.rpc_url)
    snapshot = await rpc_request(w3, "evm_snapshot")
    try:
        yield d
    finally:
        assert await rpc_request(w3, "evm_revert", snapshot) is True
        await w3.provider.disconnect()


def nft(position_id: str, d: V4Deployment, token_id: int) -> V4PositionConfig:
    return V4PositionConfig(
        id=position_id,
        kind="v4",
        position_manager=d.position_manager,
        state_view=d.state_view,
        token_id=token_id,
    )


def reader_for(w3: AsyncWeb3[Any], d: V4Deployment, configs: list[V4PositionConfig]) -> Any:
    return V4PositionReader(
        w3, configs, base_token=d.base_token, quote_token=d.quote_token, multicall=d.multicall
    )


def raw_pairs(e: PositionExposure, d: V4Deployment) -> tuple[tuple[int, int], tuple[int, int]]:
    """((amount0, amount1), (fees0, fees1)) in raw units from a human-unit exposure."""
    base, quote = raw(e.amount_base, d.base_decimals), raw(e.amount_quote, d.quote_decimals)
    fee_b, fee_q = raw(e.fees_base, d.base_decimals), raw(e.fees_quote, d.quote_decimals)
    if d.base_is_token0:
        return (base, quote), (fee_b, fee_q)
    return (quote, base), (fee_q, fee_b)


async def accrue_fees_both_ways(w3: AsyncWeb3[Any], d: V4Deployment) -> None:
    """Swaps each way through the LP's range, so fees accrue in both currencies."""
    one_base = 10**d.base_decimals
    base_in = d.base_is_token0
    await swap(w3, d, zero_for_one=base_in, amount_in=one_base * 3)
    await swap(w3, d, zero_for_one=not base_in, amount_in=3 * 2000 * 10**d.quote_decimals)
    await swap(w3, d, zero_for_one=base_in, amount_in=one_base)


async def assert_pays_as_read(w3: AsyncWeb3[Any], d: V4Deployment, token_id: int) -> None:
    """The reader's amounts and fees at the latest block equal what the contracts pay."""
    block = await w3.eth.get_block_number()
    (exposure,) = (await reader_for(w3, d, [nft("lp", d, token_id)]).read(block)).positions
    amounts, fees = raw_pairs(exposure, d)
    liquidity = int(await posm(w3, d).functions.getPositionLiquidity(token_id).call())
    assert exposure.liquidity == liquidity
    assert exposure.protocol == "uniswap_v4"
    assert exposure.hooked is (d.hooks != "0x" + "00" * 20)
    assert await decrease_and_take(w3, d, token_id, 0, d.lp_account) == fees
    paid = await decrease_and_take(w3, d, token_id, liquidity, d.lp_account)
    assert paid == (amounts[0] + fees[0], amounts[1] + fees[1])
    # StateView.getFeeGrowthInside agrees with the reader's fees (no tokensOwed in V4)
    view = state_view(w3, d).functions
    pid = bytes.fromhex(d.pool_id[2:])
    lower, upper = exposure.tick_lower, exposure.tick_upper
    inside = await view.getFeeGrowthInside(pid, lower, upper).call()
    salt = token_id.to_bytes(32, "big")
    info = await view.getPositionInfo(pid, d.position_manager, lower, upper, salt).call()
    expected = tuple(
        ((g - last) % 2**256) * liquidity // Q128 for g, last in zip(inside, info[1:], strict=True)
    )
    assert fees == expected


@pytest.mark.parametrize("where", ["below", "inside", "above"])
async def test_amounts_and_fees_equal_decrease_and_take(v4: V4Deployment, where: str) -> None:
    d = v4
    w3 = connect(d.rpc_url)
    await accrue_fees_both_ways(w3, d)
    target = {
        "below": get_sqrt_ratio_at_tick(d.tick_lower - 5 * TICK_SPACING),
        "inside": get_sqrt_ratio_at_tick((d.tick_lower + d.tick_upper) // 2 + 7),
        "above": get_sqrt_ratio_at_tick(d.tick_upper + 5 * TICK_SPACING),
    }[where]
    await move_to_sqrt_price(w3, d, target)
    tick = int((await state_view(w3, d).functions.getSlot0(d.pool_id).call())[1])
    assert (tick < d.tick_lower, tick >= d.tick_upper) == (where == "below", where == "above")
    (fees_seen,) = (
        await reader_for(w3, d, [nft("lp", d, d.token_id)]).read(await w3.eth.get_block_number())
    ).positions
    assert fees_seen.fees_base > 0  # both currencies earned
    assert fees_seen.fees_quote > 0
    await assert_pays_as_read(w3, d, d.token_id)
    await w3.provider.disconnect()


@pytest.mark.parametrize("edge", ["lower", "upper"])
async def test_exact_edge_ticks(v4: V4Deployment, edge: str) -> None:
    """The pool exactly on a range edge (tick = edge, or edge - 1 after a swap down onto it)."""
    d = v4
    w3 = connect(d.rpc_url)
    await accrue_fees_both_ways(w3, d)
    tick = d.tick_lower if edge == "lower" else d.tick_upper
    for approach in (tick + TICK_SPACING, tick - TICK_SPACING):  # from above, then below
        await move_to_sqrt_price(w3, d, get_sqrt_ratio_at_tick(approach))
        await move_to_sqrt_price(w3, d, get_sqrt_ratio_at_tick(tick))
        slot0 = await state_view(w3, d).functions.getSlot0(d.pool_id).call()
        assert int(slot0[0]) == get_sqrt_ratio_at_tick(tick)
        await assert_pays_as_read(w3, d, d.token_id)
    await w3.provider.disconnect()


async def test_position_info_and_pool_id_decode_as_the_contracts() -> None:
    """Pure: PositionInfo packing as PositionInfoLibrary.initialize writes it."""
    pid = bytes(range(32))
    info = (int.from_bytes(pid[:25], "big") << 56) | ((-887220 & 0xFFFFFF) << 32)
    info |= (887220 & 0xFFFFFF) << 8 | 1
    assert decode_position_info(info) == (pid[:25], 887220, -887220, True)
    with pytest.raises(ValueError, match="not a uint256"):
        decode_position_info(1 << 256)


async def test_pool_id_and_ticks_match_the_position_manager(v4: V4Deployment) -> None:
    d = v4
    w3 = connect(d.rpc_url)
    key, info = await posm(w3, d).functions.getPoolAndPositionInfo(d.token_id).call()
    assert "0x" + pool_id(d.key).hex() == d.pool_id
    assert [str(k).lower() for k in key] == [str(k).lower() for k in d.key.as_tuple()]
    assert decode_position_info(int(info))[:3] == (
        bytes.fromhex(d.pool_id[2:])[:25], d.tick_lower, d.tick_upper,
    )  # fmt: skip
    await w3.provider.disconnect()


async def test_discovery_from_transfer_logs(v4: V4Deployment) -> None:
    """An owner's NFTs from Transfer logs (small chunks), followed incrementally: a quiet
    block costs no eth_getLogs, a mint arrives, a transfer out is an error once, then gone."""
    d = v4
    w3 = connect(d.rpc_url)
    tx = await Transactor.create(w3)
    config = V4PositionConfig(
        id="lp", kind="v4", position_manager=d.position_manager, state_view=d.state_view,
        owner=d.lp_account, discover=True, from_block=0, log_chunk_blocks=7,
    )  # fmt: skip
    reader = reader_for(w3, d, [config])
    first = await reader.read(await w3.eth.get_block_number())
    assert [p.id for p in first.positions] == [f"lp-{d.token_id}"]
    follower = reader._followers["lp"]
    scans = follower.scans
    await swap(w3, d, zero_for_one=True, amount_in=10**15)
    await reader.read(await w3.eth.get_block_number())
    assert follower.scans == scans  # balanceOf and ownerOf agreed: no logs read
    lower, upper = d.tick_lower - TICK_SPACING, d.tick_upper + TICK_SPACING
    second = await mint_position(tx, d, d.lp_account, lower, upper, 10**15)
    read = await reader.read(await w3.eth.get_block_number())
    assert [p.id for p in read.positions] == [f"lp-{d.token_id}", f"lp-{second}"]
    assert follower.scans > scans
    manager = posm(w3, d)
    fn = manager.functions.transferFrom(d.lp_account, d.trader_account, d.token_id)
    await tx.send("transfer", fn, d.lp_account)
    with pytest.raises(PositionReadError, match=f"lp-{d.token_id}.*no longer held"):
        await reader.read(await w3.eth.get_block_number())
    after = await reader.read(await w3.eth.get_block_number())
    assert [p.id for p in after.positions] == [f"lp-{second}"]
    await w3.provider.disconnect()


async def test_listed_nft_transferred_is_removed_with_an_alert(v4: V4Deployment) -> None:
    d = v4
    w3 = connect(d.rpc_url)
    config = nft("lp", d, d.token_id).model_copy(update={"owner": d.lp_account})
    reader = reader_for(w3, d, [config])
    await reader.read(await w3.eth.get_block_number())
    tx = await Transactor.create(w3)
    fn = posm(w3, d).functions.transferFrom(d.lp_account, d.trader_account, d.token_id)
    await tx.send("transfer", fn, d.lp_account)
    with pytest.raises(PositionReadError, match="transferred to"):
        await reader.read(await w3.eth.get_block_number())
    missing = reader_for(w3, d, [nft("gone", d, 999)])
    with pytest.raises(PositionReadError, match="does not exist"):
        await missing.read(await w3.eth.get_block_number())
    await w3.provider.disconnect()


async def test_snapshot_json_shows_v4_positions(v4: V4Deployment, tmp_path: Path) -> None:
    """``hedgebot snapshot --json`` through the chain reader: protocol, hooked and the usual
    fields, delta = the position's base, to the wei of what a decrease pays."""
    d = v4
    w3 = connect(d.rpc_url)
    await accrue_fees_both_ways(w3, d)
    config: dict[str, Any] = {
        "chain": {"rpc_urls": [d.rpc_url], "multicall": d.multicall},
        "positions": [
            {"id": "lp", "kind": "v4", "position_manager": d.position_manager,
             "state_view": d.state_view, "token_id": d.token_id},
        ],
        "hedge_asset": {"base_token": d.base_token, "quote_token": d.quote_token},
        "exchange": {"paper": {"state_path": str(tmp_path / "venue.json")}},
        "store": {"path": str(tmp_path / "store.sqlite")},
    }  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "snapshot", "--config", str(path), "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    (position,) = json.loads(out)["positions"]
    assert position["protocol"] == "uniswap_v4"
    assert position["hooked"] is (d.hooks != "0x" + "00" * 20)
    settings = Settings.model_validate(config)
    reader = LpChainReader(w3, settings)
    snap = await reader.snapshot(await reader.latest_block())
    (exposure,) = snap.positions
    for field in ("amount_base", "amount_quote", "delta_base", "fees_base", "fees_quote"):
        assert Decimal(position[field]) == getattr(exposure, field)  # wei-exact decimals
    assert Decimal(position["value_quote"]) == pytest.approx(
        exposure.value_quote, rel=Decimal("1e-20")
    )
    amounts, fees = raw_pairs(exposure, d)
    liquidity = int(exposure.liquidity or 0)
    paid = await decrease_and_take(w3, d, d.token_id, liquidity, d.lp_account)
    assert paid == (amounts[0] + fees[0], amounts[1] + fees[1])
    assert exposure.delta_base == exposure.amount_base
    assert await balances(w3, d, d.lp_account) != (0, 0)
    await reader.close()
