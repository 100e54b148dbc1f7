"""``hedgebot status`` and ``hedgebot plan`` read every chain of a multi-chain config, as the
daemon does (two real anvils, the fixture of test_multichain), and a V4 pool whose currency0
is native ETH (no ``decimals()`` to call: 18)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import build_bot, take_snapshot
from bot.clock import WallClock
from bot.config import Settings, load_config
from bot.planner_cli import make_plan, read_chain
from bot.sim.deploy_v4 import V4DeploymentSpec, deploy_v4
from bot.status import read_status
from bot.telemetry.wire import state_message

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_multichain import (
    CHAIN_A,
    CHAIN_B,
    Recorded,
    TwoChains,
    config_data,
    open_two_chains,
    settings_of,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def two_chains() -> AsyncIterator[TwoChains]:
    """The two chains of test_multichain, once per module."""
    async with open_two_chains() as world:
        yield world


async def _one_tick(settings: Settings) -> Recorded:
    """Start the bot as ``run`` does and tick once, so its store exists for ``status``; what
    it published."""
    telemetry = Recorded()
    bot = await build_bot(settings, clock=WallClock(), telemetry=telemetry)
    try:
        await bot.engine.start()
        assert await bot.engine.tick(await bot.chain.latest_block()) is not None
    finally:
        await bot.close()
    return telemetry


def _stored_blocks(store: Path) -> Any:
    """The ``blocks`` of the last snapshot the store recorded."""
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        (body,) = db.execute("SELECT body FROM snapshots ORDER BY id DESC LIMIT 1").fetchone()
    return json.loads(body)["blocks"]


def _inside(row: dict[str, Any]) -> bool:
    return Decimal(row["range_lower"]) < Decimal(row["price"]) < Decimal(row["range_upper"])


async def test_status_reads_every_chain_with_each_chains_token_order(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """status: every chain's positions (chain named), each chain's id and block, the delta
    summed over both chains; the V3 and V4 ranges of chain l2 (base token1 there, token0 on
    the primary) bracket their price, so each chain's own token order was used."""
    settings = settings_of(two_chains, tmp_path)
    telemetry = await _one_tick(settings)
    snap = await take_snapshot(settings)
    (state,) = telemetry.states
    published = state_message(state)  # the MQTT state and the stored record: every chain
    assert published.blocks == snap["blocks"]  # nothing mined since the tick
    assert published.block == snap["blocks"]["l1"]
    wire = json.loads(published.to_json())  # each position names its chain on MQTT too
    assert {p["id"]: p["chain"] for p in wire["positions"]} == {
        "v2-lp": "l1",
        "v3-lp": "l2",
        "v4-lp": "l2",
    }
    assert dict(_stored_blocks(settings.store.path)) == snap["blocks"]
    status = await asyncio.to_thread(read_status, settings, now_s=time.time())
    assert status["chain_error"] is None
    rows = {p["id"]: p for p in status["positions"]}
    assert {i: p["chain"] for i, p in rows.items()} == {"v2-lp": "l1", "v3-lp": "l2", "v4-lp": "l2"}
    assert status["chain_ids"] == {"l1": CHAIN_A, "l2": CHAIN_B}
    assert status["chain_id"] == CHAIN_A
    assert status["blocks"] == snap["blocks"]
    assert status["block"] == snap["blocks"]["l1"]
    assert Decimal(status["delta_base"]) == Decimal(snap["delta_base"])
    for pid in ("v3-lp", "v4-lp"):
        assert _inside(rows[pid]), rows[pid]
        assert rows[pid]["where"].endswith("%")
    assert rows["v2-lp"]["where"] == "full"


async def test_status_names_the_nft_of_each_discovered_position(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """Entries that discover their owner's NFTs (V3 by enumeration, V4 by Transfer logs, both
    on chain l2): status lists each found position as ``<entry>-<token id>`` with its pool
    column naming that NFT (``<position manager>#<token id>``), never None."""
    world = two_chains
    data = config_data(world, tmp_path)
    v3 = {"position_manager": world.v3.position_manager, "owner": world.v3.lp_account}
    v4 = {"position_manager": world.v4.position_manager, "owner": world.v4.lp_account}
    for entry in data["positions"]:
        if entry["id"] in ("v3-lp", "v4-lp"):
            del entry["token_id"]
            entry.update(v3 if entry["kind"] == "v3" else v4, discover=True)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    settings = load_config(path)
    await _one_tick(settings)
    status = await asyncio.to_thread(read_status, settings, now_s=time.time())
    assert status["chain_error"] is None
    v3_id, v4_id = f"v3-lp-{world.v3.token_id}", f"v4-lp-{world.v4.token_id}"
    pools = {p["id"]: (p["chain"], p["pool"]) for p in status["positions"]}
    assert pools == {
        "v2-lp": ("l1", world.v2.pair),
        v3_id: ("l2", f"{world.v3.position_manager}#{world.v3.token_id}"),
        v4_id: ("l2", f"{world.v4.position_manager}#{world.v4.token_id}"),
    }


async def test_plan_reads_every_chain(two_chains: TwoChains, tmp_path: Path) -> None:
    """plan: the delta and value of every chain's positions, one curve each, the V3/V4
    ranges in each chain's own token order."""
    settings = settings_of(two_chains, tmp_path)
    snap = await take_snapshot(settings)
    plan = await make_plan(settings, sigma=0.8, days=1)
    read, _, _ = await read_chain(settings)
    prices = {p.id: p.price for p in read.positions}
    assert plan.delta_base == Decimal(snap["delta_base"])
    assert plan.value_quote == sum(Decimal(p["value_quote"]) for p in snap["positions"])
    curves = {c.id: c for c in plan.positions}
    assert set(curves) == {"v2-lp", "v3-lp", "v4-lp"}
    for pid in ("v3-lp", "v4-lp"):
        lower, upper = curves[pid].lower, curves[pid].upper
        assert lower is not None
        assert upper is not None
        assert lower < prices[pid] < upper


async def test_native_eth_currency0_has_18_decimals_in_status_and_plan(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    """A V4 pool of native ETH (address 0, no contract) and a 6-decimal quote: status and
    plan read it (they called ``decimals()`` on address 0 and failed) and its range brackets
    the pool price of the deployment (2000 quote per base)."""
    d = await deploy_v4(two_chains.a.rpc_url, V4DeploymentSpec(native_base=True))
    assert d.native
    assert int(d.base_token, 16) == 0
    settings = Settings.model_validate(
        {
            "bot_id": "native",
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
            "hedge_asset": {"base_token": d.base_token, "quote_token": d.quote_token},
            "exchange": {"paper": {"state_path": str(tmp_path / "venue.json")}},
            "store": {"path": str(tmp_path / "store.sqlite")},
        }
    )
    _, pairs, chain_ids = await read_chain(settings)
    pair = pairs[None]
    assert (pair.base_is_token0, pair.base_decimals, pair.quote_decimals) == (True, 18, 6)
    assert chain_ids == {"default": CHAIN_A}
    plan = await make_plan(settings, sigma=0.8, days=1)
    (curve,) = plan.positions
    assert curve.lower is not None
    assert curve.upper is not None
    assert curve.lower < plan.price < curve.upper
    assert abs(plan.price - 2000) < 1  # the deployment's price, in quote per ETH
    await _one_tick(settings)
    status = await asyncio.to_thread(read_status, settings, now_s=time.time())
    assert status["chain_error"] is None
    (row,) = status["positions"]
    assert _inside(row)
    assert status["blocks"] is None
    assert status["chain_ids"] is None
