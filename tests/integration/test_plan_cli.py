"""`hedgebot plan --json` on a real anvil: V3 (both token orders) inside, at the edge of and
outside the range, and V2; every figure checked against the core math."""

from __future__ import annotations

import json
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_cli import run_cli
from v3_support import npm_contract
from web3 import AsyncWeb3

from bot.core.amm import v2_delta, v2_value
from bot.core.margin import liquidation_price_isolated
from bot.core.v3 import get_sqrt_ratio_at_tick, tick_to_price, v3_delta, v3_value
from bot.domain import ChainSnapshot
from bot.sim.deploy import LocalDeployment
from bot.sim.deploy_v3 import V3Deployment
from bot.sim.localnet_v3 import V3MarketDriver, position_config
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration
D = Decimal

RATIOS = ("0.5", "0.75", "1", "1.25")


def write_config(
    tmp_path: Path, d: LocalDeployment | V3Deployment, position: dict[str, Any]
) -> Path:
    data = {
        "chain": {
            "rpc_urls": [d.rpc_url],
            "multicall": d.multicall,
            "max_block_age_s": 10 * 365 * 86400,
        },
        "positions": [position],
        "hedge_asset": {"base_token": d.base_token, "quote_token": d.quote_token},
        "hedge": {"threshold_base": "0.5", "threshold_fraction": "0.01"},
        "exchange": {
            "leverage": 3,
            "paper": {"state_path": str(tmp_path / "venue.json"), "funding_rate": "0.0001"},
        },
        "store": {"path": str(tmp_path / "store" / "hedgebot.sqlite")},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def plan_json(config: Path, *extra: str) -> dict[str, Any]:
    code, out, err = await run_cli("plan", "--config", str(config), "--json", *extra)
    assert code == 0, err
    plan: dict[str, Any] = json.loads(out)
    return plan


def close(actual: str | Decimal, expected: Decimal, rel: str = "1e-15") -> bool:
    """Equal up to the last digits of a 60-digit computation on 18-decimal inputs."""
    with localcontext() as ctx:
        ctx.prec = 60
        diff = abs(Decimal(actual) - expected)
        return diff <= Decimal(rel) * max(abs(expected), Decimal(1))


def row_at(plan: dict[str, Any], move_pct: str) -> dict[str, Any]:
    (row,) = [r for r in plan["grid"] if r["move_pct"] == move_pct]
    return row


def check_hedges(plan: dict[str, Any], delta: Decimal) -> None:
    """hedge = -ratio x delta; isolated margin notional/3; liquidation by the core formula."""
    mark = Decimal(plan["mark_price"])
    assert [h["ratio"] for h in plan["hedges"]] == list(RATIOS)
    for option in plan["hedges"]:
        hedge = -Decimal(option["ratio"]) * delta
        assert close(option["hedge_base"], hedge)
        margin = abs(hedge) * mark / 3
        assert close(option["margin_quote"], margin)
        per_day = -hedge * mark * Decimal("0.0001") * 3
        assert close(option["funding_per_day_quote"], per_day)
        if hedge == 0:
            assert option["liquidation_price"] is None
        else:
            expected = liquidation_price_isolated(hedge, mark, margin)
            assert expected is not None
            assert expected > mark
            assert close(option["liquidation_price"], expected)
    assert plan["funding"]["source"] == "paper venue (config rate)"


async def v3_range(w3: AsyncWeb3[Any], d: V3Deployment) -> tuple[Decimal, Decimal, Decimal]:
    """(liquidity in human units, lower, upper price) from the NFT as the contract stores it."""
    position = await npm_contract(w3, d).functions.positions(d.token_id).call()
    tick_lower, tick_upper, liquidity = int(position[5]), int(position[6]), int(position[7])
    edges = [
        tick_to_price(
            t,
            base_is_token0=d.base_is_token0,
            base_decimals=d.base_decimals,
            quote_decimals=d.quote_decimals,
        )
        for t in (tick_lower, tick_upper)
    ]
    with localcontext() as ctx:
        ctx.prec = 40
        scale = Decimal(10) ** (Decimal(d.base_decimals + d.quote_decimals) / 2)
        human = +(Decimal(liquidity) / scale)
    return human, min(edges), max(edges)


async def test_plan_json_v3_inside_at_edge_and_outside_the_range(
    v3: V3Deployment, v3_driver: V3MarketDriver, w3: AsyncWeb3[Any], tmp_path: Path
) -> None:
    """At three pool prices (inside, exactly at the lower edge, above the range) the plan's
    value and delta at the current price, its range-edge rows and every grid row equal the
    core V3 curves of the NFT's on-chain liquidity and ticks; hedges follow the delta."""
    d = v3
    config = write_config(tmp_path, d, position_config(d))
    liquidity, lower, upper = await v3_range(w3, d)
    lower_tick = d.tick_lower if d.base_is_token0 else d.tick_upper
    states = {}
    states["inside"] = await plan_json(config, "--sigma", "0.5", "--days", "2")
    await v3_driver.move_to_sqrt_price(get_sqrt_ratio_at_tick(lower_tick))
    states["edge"] = await plan_json(config, "--sigma", "0.5", "--days", "2")
    await v3_driver.move_to(upper * Decimal("1.1"))
    states["outside"] = await plan_json(config, "--sigma", "0.5", "--days", "2")

    for name, plan in states.items():
        price = Decimal(plan["price"])
        now = row_at(plan, "0.00")
        expected_delta = v3_delta(liquidity, price, lower, upper)
        assert close(now["value_quote"], v3_value(liquidity, price, lower, upper)), name
        assert close(now["delta_base"], expected_delta), name
        # the reader's integer amounts (decreaseLiquidity's rounding) agree to 1e-12
        assert close(plan["delta_base"], expected_delta, "1e-12"), name
        for row in plan["grid"]:
            p = Decimal(row["price"])
            assert close(row["value_quote"], v3_value(liquidity, p, lower, upper), "1e-14")
            assert close(row["delta_base"], v3_delta(liquidity, p, lower, upper), "1e-14")
        edges = {row["edge"]: Decimal(row["price"]) for row in plan["grid"] if row["edge"]}
        check_hedges(plan, Decimal(plan["delta_base"]))
        assert plan["forecast"]["sigma_source"] == "given (--sigma)"
        assert plan["forecast"]["days"] == 2
        assert Decimal(plan["forecast"]["expected_rebalances"]) >= 0
        if name == "inside":
            assert lower < price < upper
            assert Decimal(0) < Decimal(plan["delta_base"])
            assert close(edges["lp-v3 lower edge"], lower)
            assert close(edges["lp-v3 upper edge"], upper)
        if name == "edge":  # all base at the lower edge: delta is the whole base amount
            assert close(price, lower, "1e-12")
            base_at_edge = liquidity * (1 / lower.sqrt() - 1 / upper.sqrt())
            assert close(now["delta_base"], base_at_edge, "1e-12")
        if name == "outside":  # above the range: all quote, no delta, no hedge
            assert price > upper
            assert Decimal(now["delta_base"]) == 0
            assert Decimal(plan["delta_base"]) == 0
            assert all(Decimal(h["hedge_base"]) == 0 for h in plan["hedges"])
            assert "lp-v3 upper edge" in edges  # upper/1.1 is within -50 %
    # the plan wrote nothing: no store, no venue file
    assert not (tmp_path / "store").exists()
    assert not (tmp_path / "venue.json").exists()


async def test_plan_json_v2_matches_the_share_of_reserves_and_the_observed_sigma(
    fresh_chain: LocalDeployment, w3: AsyncWeb3[Any], tmp_path: Path
) -> None:
    """V2: L = the LP's share of sqrt(x·y); the grid is 2·L·√P and L/√P; the volatility comes
    from the store's price history (read-only) when no --sigma is given."""
    d = fresh_chain
    config = write_config(tmp_path, d, {"id": "lp", "pool": d.pair, "owner": d.lp_account})
    store = tmp_path / "store" / "hedgebot.sqlite"
    store.parent.mkdir()
    records = await SqliteStore.open(store)  # the real store: the planner reads its snapshots
    prices = [2000 * (1.005 if i % 2 else 0.995) for i in range(40)]
    for i, p in enumerate(prices):  # a block a minute, recorded a second apart
        snapshot = ChainSnapshot(i + 1, 1_700_000_000 + 60 * i, f"0x{i:064x}", D(str(p)), ())
        await records.record_snapshot(1_800_000_000 + i, snapshot)
    await records.close()
    before = store.read_bytes()
    plan = await plan_json(config)

    pair = w3.eth.contract(address=w3.to_checksum_address(d.pair), abi=PAIR_ABI)
    reserve0, reserve1, _ = await pair.functions.getReserves().call()
    supply = await pair.functions.totalSupply().call()
    balance = await pair.functions.balanceOf(w3.to_checksum_address(d.lp_account)).call()
    x, y = (reserve0, reserve1) if d.base_is_token0 else (reserve1, reserve0)
    with localcontext() as ctx:
        ctx.prec = 60
        share = Decimal(balance) / Decimal(supply)
        base = Decimal(x) / Decimal(10) ** d.base_decimals
        quote = Decimal(y) / Decimal(10) ** d.quote_decimals
        liquidity = share * (base * quote).sqrt()
    for row in plan["grid"]:
        p = Decimal(row["price"])
        assert close(row["value_quote"], v2_value(liquidity, p), "1e-12")
        assert close(row["delta_base"], v2_delta(liquidity, p), "1e-12")
        assert row["edge"] is None
    assert close(row_at(plan, "0.00")["delta_base"], Decimal(plan["delta_base"]), "1e-12")
    moves = [r["move_pct"] for r in plan["grid"]]
    assert moves == [f"{m}.00" for m in range(-50, 51, 10)]
    check_hedges(plan, Decimal(plan["delta_base"]))
    forecast = plan["forecast"]
    assert forecast["sigma_source"] == (
        "observed: EWMA of 40 stored prices over 0.7 h of block time"
    )
    assert Decimal(forecast["sigma_annual"]) > 1  # ±0.5 % a minute is a wild market
    assert forecast["days"] == 30
    assert "V2" in forecast["model"]
    assert store.read_bytes() == before  # read-only
    assert not (tmp_path / "venue.json").exists()


PAIR_ABI = json.loads(
    (Path(__file__).parents[2] / "bot/chain/abi/uniswap_v2_pair.json").read_text()
)
