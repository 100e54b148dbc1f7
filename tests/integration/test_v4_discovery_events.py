"""V4 positions through the chain reader, as V3's: one reached both by token id and by owner
discovery is counted once with a ``position.duplicate`` notice; an NFT that arrives in or
leaves the owner's wallet is a ``position.arrived`` / ``position.left`` move; the Transfer
logs' reorg depth is the chain's ``log_reorg_depth``. Real V4 contracts on the session anvil."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.chain.reader import LpChainReader
from bot.chain.rpc import connect, rpc_request
from bot.config import ChainConfig, Settings
from bot.domain import PositionMove
from bot.errors import PositionReadError
from bot.sim.anvil import Anvil
from bot.sim.deploy import Transactor
from bot.sim.deploy_v4 import TICK_SPACING, V4Deployment, V4DeploymentSpec, deploy_v4, mint_position

sys.path.insert(0, str(Path(__file__).resolve().parent))
from v4_support import posm

pytestmark = pytest.mark.integration

PROTOCOL = "uniswap_v4"


@pytest.fixture(scope="module")
async def world(anvil_node: Anvil) -> V4Deployment:
    """A V4 pool (base token1) with the LP's NFT, deployed once for this module."""
    return await deploy_v4(anvil_node.rpc_url, V4DeploymentSpec(base_is_token0=False))


@pytest.fixture
async def v4(world: V4Deployment) -> AsyncIterator[V4Deployment]:
    """The world, with the test's state changes reverted after."""
    w3 = connect(world.rpc_url)
    snapshot = await rpc_request(w3, "evm_snapshot")
    try:
        yield world
    finally:
        assert await rpc_request(w3, "evm_revert", snapshot) is True
        await w3.provider.disconnect()


def settings(d: V4Deployment, *positions: dict[str, Any], **chain: Any) -> Settings:
    """A one-chain config of V4 ``positions`` (``chain``: extra fields of the chain section)."""
    return Settings.model_validate(
        {
            "chain": {"rpc_urls": [d.rpc_url], "multicall": d.multicall, **chain},
            "positions": [
                {"kind": "v4", "position_manager": d.position_manager, "state_view": d.state_view}
                | p
                for p in positions
            ],
            "hedge_asset": {"base_token": d.base_token, "quote_token": d.quote_token},
        }
    )


def listed(d: V4Deployment, token_id: int, name: str = "listed") -> dict[str, Any]:
    return {"id": name, "token_id": token_id}


def owned(d: V4Deployment, name: str = "owner") -> dict[str, Any]:
    return {"id": name, "owner": d.lp_account, "discover": True, "log_chunk_blocks": 50}


async def test_listed_and_discovered_nft_is_counted_once_with_a_duplicate_notice(
    v4: V4Deployment,
) -> None:
    """The NFT listed by token id and found by its owner's discovery: one exposure (the
    listed one) and one position.duplicate notice naming both entries, told once."""
    d = v4
    reader = LpChainReader(connect(d.rpc_url), settings(d, listed(d, d.token_id), owned(d)))
    try:
        first = await reader.snapshot(await reader.latest_block())
        assert [p.id for p in first.positions] == ["listed"]
        (notice,) = first.notices
        assert notice.alert == "position.duplicate"
        assert notice.entries == ("listed", "owner")
        assert f"NFT {d.token_id} of {d.position_manager}" in notice.detail
        again = await reader.snapshot(await reader.latest_block())
        assert [p.id for p in again.positions] == ["listed"]
        assert again.notices == ()
    finally:
        await reader.close()


async def test_nfts_arriving_and_leaving_the_wallet_are_moves(v4: V4Deployment) -> None:
    """Discovery at start is no move; a mint later arrives; a transfer away fails its block
    and leaves (told on the next snapshot, with the block it left at)."""
    d = v4
    reader = LpChainReader(connect(d.rpc_url), settings(d, owned(d, "lp")))
    w3 = reader.w3
    tx = await Transactor.create(w3)
    try:
        start = await reader.snapshot(await reader.latest_block())
        assert [p.id for p in start.positions] == [f"lp-{d.token_id}"]
        assert start.moves == ()
        lower, upper = d.tick_lower - TICK_SPACING, d.tick_upper + TICK_SPACING
        second = await mint_position(tx, d, d.lp_account, lower, upper, 10**15)
        minted_at = await reader.latest_block()
        found = await reader.snapshot(minted_at)
        assert found.moves == (
            PositionMove(minted_at, f"lp-{second}", True, "wallet", PROTOCOL, second),
        )
        quiet = await reader.snapshot(await reader.latest_block())
        assert quiet.moves == ()
        fn = posm(w3, d).functions.transferFrom(d.lp_account, d.trader_account, d.token_id)
        await tx.send("transfer", fn, d.lp_account)
        sent_at = await reader.latest_block()
        with pytest.raises(PositionReadError, match="no longer held"):
            await reader.snapshot(sent_at)
        after = await reader.snapshot(await reader.latest_block())
        assert [p.id for p in after.positions] == [f"lp-{second}"]
        left = PositionMove(sent_at, f"lp-{d.token_id}", False, "wallet", PROTOCOL, d.token_id)
        assert after.moves == (left,)
    finally:
        await reader.close()


async def test_listed_nft_transferred_away_leaves(v4: V4Deployment) -> None:
    """A listed NFT (owner given) transferred away: its block fails and it leaves."""
    d = v4
    entry = listed(d, d.token_id) | {"owner": d.lp_account}
    reader = LpChainReader(connect(d.rpc_url), settings(d, entry))
    tx = await Transactor.create(reader.w3)
    try:
        assert (await reader.snapshot(await reader.latest_block())).moves == ()
        fn = posm(reader.w3, d).functions.transferFrom(d.lp_account, d.trader_account, d.token_id)
        await tx.send("transfer", fn, d.lp_account)
        sent_at = await reader.latest_block()
        with pytest.raises(PositionReadError, match="transferred to"):
            await reader.snapshot(sent_at)
        assert reader._v4 is not None
        moves = reader._v4.take_moves()
        assert moves == (PositionMove(sent_at, "listed", False, "wallet", PROTOCOL, d.token_id),)
    finally:
        await reader.close()


async def test_the_chains_log_reorg_depth_sets_the_discovery_cursor(v4: V4Deployment) -> None:
    """With ``log_reorg_depth: 5`` Transfer logs up to 5 blocks below the block read are
    folded for good; by default 64 blocks (from_block 0: the cursor starts at -1)."""
    d = v4
    for depth in (5, None):
        extra = {} if depth is None else {"log_reorg_depth": depth}
        reader = LpChainReader(connect(d.rpc_url), settings(d, owned(d, "lp"), **extra))
        try:
            block = await reader.latest_block()
            await reader.snapshot(block)
            assert reader._v4 is not None
            assert reader._v4._followers["lp"].cursor == max(-1, block - (depth or 64))
        finally:
            await reader.close()


@pytest.mark.parametrize("depth", [0, -1, 10_001, 2.5])
def test_log_reorg_depth_is_validated(depth: Any) -> None:
    """A depth below 1 block, above 10,000 or not whole is refused by field."""
    with pytest.raises(ValidationError, match="log_reorg_depth"):
        ChainConfig.model_validate(
            {"rpc_urls": ["http://127.0.0.1:8545"], "log_reorg_depth": depth}
        )
    assert ChainConfig.model_validate({"rpc_urls": ["http://x"]}).log_reorg_depth == 64
