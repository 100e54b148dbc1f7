"""A listed id that discovery would generate is refused; renamed, both NFTs are hedged once each.

Issue 11 review item 2, on anvil with the real V3 contracts: a discovering entry ``lp`` names
the NFT it finds ``lp-<token id>``; a listed entry with that id (another NFT) made both
positions share one id, so each read as moved away and neither was hedged.
"""

from __future__ import annotations

from typing import Any

import pytest
from web3 import AsyncWeb3

from bot.chain.uniswap_v3 import V3PositionReader
from bot.config import V3PositionConfig
from bot.errors import ConfigError
from bot.sim.deploy import Transactor
from bot.sim.deploy_v3 import V3Deployment, mint_position

pytestmark = pytest.mark.integration


def reader(w3: AsyncWeb3[Any], d: V3Deployment, configs: list[V3PositionConfig]) -> Any:
    return V3PositionReader(
        w3, configs, base_token=d.base_token, quote_token=d.quote_token, multicall=d.multicall
    )


async def test_generated_id_clash_refused_and_renamed_entries_hedged_once(
    v3: V3Deployment, w3: AsyncWeb3[Any]
) -> None:
    """``lp-<n>`` listed beside a discovering ``lp`` is a ConfigError naming both; renamed, the
    two NFTs read under two ids with the sum of their single deltas."""
    d = v3
    tx = await Transactor.create(w3)
    amounts = (10**18, 2000 * 10**6) if d.base_is_token0 else (2000 * 10**6, 10**18)
    other, _ = await mint_position(tx, d, d.lp_account, d.tick_lower, d.tick_upper, *amounts)
    discover = V3PositionConfig(
        id="lp", kind="v3", position_manager=d.position_manager, owner=d.lp_account,
        discover=True,
    )  # fmt: skip

    def listed(entry_id: str) -> V3PositionConfig:
        return V3PositionConfig(
            id=entry_id, kind="v3", position_manager=d.position_manager, token_id=d.token_id
        )

    with pytest.raises(ConfigError) as info:
        reader(w3, d, [discover, listed(f"lp-{other}")])
    assert f"positions.1 (lp-{other}) and positions.0 (lp) can give two positions one id" in str(
        info.value
    )

    block = await w3.eth.block_number
    alone = (await reader(w3, d, [listed("main")]).read(block)).positions
    found = V3PositionConfig(id="x", kind="v3", position_manager=d.position_manager, token_id=other)
    second = (await reader(w3, d, [found]).read(block)).positions
    both = (await reader(w3, d, [discover, listed("main")]).read(block)).positions
    assert [p.id for p in both] == ["main", f"lp-{other}"]
    assert [p.delta_base for p in both] == [alone[0].delta_base, second[0].delta_base]
    assert min(alone[0].delta_base, second[0].delta_base) > 0
