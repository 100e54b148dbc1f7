"""An NFT listed by token_id and also found by discovery is hedged once, with one alert (11.2)."""

from __future__ import annotations

from typing import Any

import pytest
from web3 import AsyncWeb3

from bot.chain.uniswap_v3 import V3PositionReader
from bot.config import V3PositionConfig
from bot.sim.deploy import Transactor
from bot.sim.deploy_v3 import V3Deployment, mint_position

pytestmark = pytest.mark.integration


def reader_for(
    w3: AsyncWeb3[Any], d: V3Deployment, configs: list[V3PositionConfig]
) -> V3PositionReader:
    return V3PositionReader(
        w3, configs, base_token=d.base_token, quote_token=d.quote_token, multicall=d.multicall
    )


async def test_listed_and_discovered_nft_counts_once(v3: V3Deployment, w3: AsyncWeb3[Any]) -> None:
    """Delta equals the single-counted position exactly; ids unique; the alert comes once."""
    d = v3
    listed = V3PositionConfig(
        id="lp", kind="v3", position_manager=d.position_manager, token_id=d.token_id
    )
    discovered = V3PositionConfig(
        id="all", kind="v3", position_manager=d.position_manager, owner=d.lp_account,
        discover=True,
    )  # fmt: skip
    block = await w3.eth.block_number
    single = (await reader_for(w3, d, [listed]).read(block)).positions
    both = reader_for(w3, d, [discovered, listed])
    read = await both.read(block)
    assert read.positions == single
    assert [p.id for p in read.positions] == ["lp"]
    assert sum(p.delta_base for p in read.positions) == single[0].delta_base
    assert 8 < single[0].delta_base < 9  # the deployment's ~8.27 base, not twice that
    (notice,) = both.take_notices()
    assert notice.alert == "position.duplicate"
    assert set(notice.entries) == {"lp", "all"}
    assert f"NFT {d.token_id}" in notice.detail

    tx = await Transactor.create(w3)
    amounts = (10**18, 2000 * 10**6) if d.base_is_token0 else (2000 * 10**6, 10**18)
    new_id, _ = await mint_position(tx, d, d.lp_account, d.tick_lower, d.tick_upper, *amounts)
    later = await both.read(await w3.eth.block_number)
    ids = [p.id for p in later.positions]
    assert ids == ["lp", f"all-{new_id}"]
    assert len(set(ids)) == len(ids)
    assert both.take_notices() == ()  # raised once, not on every block
