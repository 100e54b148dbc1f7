"""Native ETH as the *quote* of the hedged pair (issue 15 review): a V4 pool of native ETH
(currency0 = address 0) and a 6-decimal token, configured with the token as base and native
ETH as quote, so the price is 0.0005 ETH per token, below the paper venue's default price
tick 0.01. ``snapshot`` died with a traceback (``ValueError: price must be positive, got
0.00``: the paper mark floored to the tick); now a clean config error names the cause and
the fix, and with a fine enough tick the pair is read and valued (ETH has 18 decimals)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.app import take_snapshot
from bot.config import Settings
from bot.errors import ConfigError
from bot.sim.anvil import Anvil
from bot.sim.deploy_v4 import V4Deployment, V4DeploymentSpec, deploy_v4

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def native_pool(anvil_node: Anvil) -> V4Deployment:
    """A V4 pool of native ETH and a 6-decimal token at 2000 tokens per ETH."""
    return await deploy_v4(anvil_node.rpc_url, V4DeploymentSpec(native_base=True))


def settings_for(d: V4Deployment, tmp_path: Path, paper: dict[str, Any]) -> Settings:
    """The token as base, native ETH (address 0) as quote."""
    return Settings.model_validate(
        {
            "bot_id": "native-quote",
            "chain": {"rpc_urls": [d.rpc_url], "multicall": d.multicall},
            "positions": [
                {
                    "id": "eth-lp",
                    "kind": "v4",
                    "position_manager": d.position_manager,
                    "state_view": d.state_view,
                    "token_id": d.token_id,
                }
            ],
            "hedge_asset": {"base_token": d.quote_token, "quote_token": d.base_token},
            "exchange": {"paper": {"state_path": str(tmp_path / "venue.json"), **paper}},
            "store": {"path": str(tmp_path / "store.sqlite")},
        }
    )


async def test_a_sub_tick_price_is_a_clean_config_error(
    native_pool: V4Deployment, tmp_path: Path
) -> None:
    """The default paper price tick 0.01: a ConfigError naming the field, the price and a
    tick that works, not a ValueError traceback."""
    assert int(native_pool.base_token, 16) == 0  # native ETH, configured as the quote
    with pytest.raises(ConfigError) as caught:
        await take_snapshot(settings_for(native_pool, tmp_path, {}))
    message = str(caught.value)
    assert message.startswith("exchange.paper.price_tick: the pool price 0.0005")
    assert "below the paper venue's price tick 0.01, so its mark would be 0" in message
    assert message.endswith("set exchange.paper.price_tick to at most 0.0000000001")


async def test_native_eth_quote_is_read_with_18_decimals(
    native_pool: V4Deployment, tmp_path: Path
) -> None:
    """With the suggested tick the snapshot values the position in ETH: the price is the
    inverse of the pool's 2000 tokens per ETH, the mark follows it, the quote amount is ETH."""
    paper = {"price_tick": "0.0000000001", "min_notional": "0"}
    snap = await take_snapshot(settings_for(native_pool, tmp_path, paper))
    price, mark = Decimal(snap["price"]), Decimal(snap["mark_price"])
    assert abs(price - Decimal("0.0005")) < Decimal("0.0000001")
    assert abs(mark - price) <= Decimal("0.0000000001")
    (row,) = snap["positions"]
    assert Decimal(row["amount_quote"]) > 0
    assert Decimal(row["amount_quote"]) < 100  # ETH (18 decimals), not 1e12 times more
    assert Decimal(row["delta_base"]) > 0
