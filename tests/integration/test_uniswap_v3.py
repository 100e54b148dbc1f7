"""V3 reader and core math against the real V3 contracts on anvil, both token orders."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from v3_support import (
    MAX_UINT128,
    npm_contract,
    pool_contract,
    raw,
    static_decrease_and_collect,
    transact,
)
from web3 import AsyncWeb3

from bot.chain.reader import LpChainReader
from bot.chain.rpc import connect, rpc_request
from bot.chain.uniswap_v3 import V3PositionReader
from bot.config import Settings, V3PositionConfig
from bot.core.v3 import MAX_TICK, get_sqrt_ratio_at_tick
from bot.domain import PositionExposure
from bot.errors import PositionReadError
from bot.sim.deploy import Transactor
from bot.sim.deploy_v3 import TICK_SPACING, V3Deployment, mint_position
from bot.sim.localnet_v3 import V3MarketDriver

pytestmark = pytest.mark.integration


def nft(
    position_id: str, d: V3Deployment, token_id: int, owner: str | None = None
) -> V3PositionConfig:
    return V3PositionConfig(
        id=position_id,
        kind="v3",
        position_manager=d.position_manager,
        token_id=token_id,
        owner=owner,
    )


def reader_for(
    w3: AsyncWeb3[Any], d: V3Deployment, configs: list[V3PositionConfig]
) -> V3PositionReader:
    return V3PositionReader(
        w3, configs, base_token=d.base_token, quote_token=d.quote_token, multicall=d.multicall
    )


def raw_pairs(e: PositionExposure, d: V3Deployment) -> tuple[tuple[int, int], tuple[int, int]]:
    """((amount0, amount1), (fees0, fees1)) in raw units from a human-unit exposure."""
    base, quote = raw(e.amount_base, d.base_decimals), raw(e.amount_quote, d.quote_decimals)
    fee_b, fee_q = raw(e.fees_base, d.base_decimals), raw(e.fees_quote, d.quote_decimals)
    if d.base_is_token0:
        return (base, quote), (fee_b, fee_q)
    return (quote, base), (fee_q, fee_b)


def two_sided(d: V3Deployment, base: int, quote: int) -> tuple[int, int]:
    amounts = (base * 10**d.base_decimals, quote * 10**d.quote_decimals)
    return amounts if d.base_is_token0 else (amounts[1], amounts[0])


async def test_amounts_and_fees_equal_decrease_and_collect(
    v3: V3Deployment, v3_driver: V3MarketDriver, w3: AsyncWeb3[Any]
) -> None:
    """Below, inside and above range, across tick crossings: core == decreaseLiquidity/collect."""
    d = v3
    tx = await Transactor.create(w3)
    _, tick, _ = await v3_driver.pool_state()
    here = tick // TICK_SPACING * TICK_SPACING
    for lower, upper in (
        (here - 120, here + 120),
        (here + 600, here + 1200),
        (here - 1200, here - 600),
    ):
        await mint_position(tx, d, d.lp_account, lower, upper, *two_sided(d, 5, 10_000))
    reader = reader_for(
        w3,
        d,
        [
            V3PositionConfig(
                id="lp",
                kind="v3",
                position_manager=d.position_manager,
                owner=d.lp_account,
                discover=True,
            )
        ],
    )
    sqrt_at = get_sqrt_ratio_at_tick
    moves: list[Decimal | int] = [  # Decimal: a human price; int: a sqrt price (raw ticks)
        Decimal(2000),
        Decimal(2210),
        sqrt_at(here + 1500),  # above every extra range
        sqrt_at(here + 600),  # onto a range's lower tick from above: the pool tick is 599
        sqrt_at(here - 900),  # inside the range below the start
        sqrt_at(here + 600),  # onto the same tick from below: the pool tick is 600
        sqrt_at(here + 900),  # inside the range above the start
        Decimal(1700),
        Decimal(1990),
        Decimal(2003),
    ]
    seen: set[tuple[str, bool]] = set()
    boundary_ticks: list[int] = []
    for move in moves:
        if isinstance(move, Decimal):
            step = await v3_driver.move_to(move)
        else:
            step = await v3_driver.move_to_sqrt_price(move)
        if move == sqrt_at(here + 600):  # the pool's tick on a boundary, as the contract sets it
            boundary_ticks.append(step.tick)
        read = await reader.read(step.block_number)
        assert len(read.positions) == 4
        for exposure in read.positions:
            token_id = int(exposure.id.removeprefix("lp-"))
            expected = await static_decrease_and_collect(
                w3, d, token_id, d.lp_account, step.block_number
            )
            assert raw_pairs(exposure, d) == expected, (exposure.id, move)
            assert exposure.delta_base == exposure.amount_base
            seen.add((exposure.id, exposure.in_range))
    assert boundary_ticks == [here + 599, here + 600]
    assert all(e.fees_base + e.fees_quote > 0 for e in read.positions)
    # every extra position was both in and out of range at some point: ticks were crossed
    assert {(f"lp-{d.token_id + i}", flag) for i in (1, 2, 3) for flag in (True, False)} <= seen


async def test_direct_pool_position_equals_burn_and_collect(
    v3: V3Deployment, v3_driver: V3MarketDriver, w3: AsyncWeb3[Any]
) -> None:
    """A position owned directly in the pool (here the NPM's own) equals pool.burn/collect."""
    d = v3
    config = V3PositionConfig(
        id="direct", kind="v3", pool=d.pool, owner=d.position_manager,
        tick_lower=d.tick_lower, tick_upper=d.tick_upper,
    )  # fmt: skip
    reader = reader_for(w3, d, [config])
    for price in (Decimal(2300), Decimal(1900)):
        await v3_driver.move_to(price)
    block = await w3.eth.block_number
    (exposure,) = (await reader.read(block)).positions
    npm_position = await npm_contract(w3, d).functions.positions(d.token_id).call()
    assert exposure.liquidity == npm_position[7]
    pool = pool_contract(w3, d)
    npm = d.position_manager
    burned = await pool.functions.burn(d.tick_lower, d.tick_upper, exposure.liquidity).call(
        {"from": npm}, block_identifier=block
    )
    amounts, fees = raw_pairs(exposure, d)
    assert amounts == (burned[0], burned[1])
    await rpc_request(w3, "anvil_impersonateAccount", npm)
    await rpc_request(w3, "anvil_setBalance", npm, hex(10**18))
    await transact(w3, "poke", pool.functions.burn(d.tick_lower, d.tick_upper, 0), npm)
    collected = await pool.functions.collect(
        npm, d.tick_lower, d.tick_upper, MAX_UINT128, MAX_UINT128
    ).call({"from": npm})
    await rpc_request(w3, "anvil_stopImpersonatingAccount", npm)
    assert fees == (collected[0], collected[1])
    assert sum(fees) > 0


async def test_one_snapshot_is_one_eth_call(
    v3: V3Deployment, v3_driver: V3MarketDriver, tmp_path: Path
) -> None:
    """NFT by id, discovered NFTs and a direct position: one snapshot costs one eth_call."""
    d = v3
    settings = Settings(
        chain={"rpc_urls": [d.rpc_url], "multicall": d.multicall},
        positions=[
            nft("lp", d, d.token_id, d.lp_account).model_dump(),
            {"id": "bg", "kind": "v3", "position_manager": d.position_manager,
             "owner": d.deployer_account, "discover": True},
        ],
        hedge_asset={"base_token": d.base_token, "quote_token": d.quote_token},
        hedge={"include_fees_in_delta": True},
        store={"path": str(tmp_path / "s.sqlite")},
    )  # fmt: skip
    # The only direct pool position a test can make without a minter contract is the NPM's
    # own, which a real config may not list beside NFTs of that NPM (it is their sum: see
    # test_user_inputs.py); added unvalidated here, since this test counts eth_calls only.
    direct = V3PositionConfig(
        id="direct", kind="v3", pool=d.pool, owner=d.position_manager,
        tick_lower=d.tick_lower, tick_upper=d.tick_upper,
    )  # fmt: skip
    settings = settings.model_copy(update={"positions": [*settings.positions, direct]})
    w3 = connect(d.rpc_url)
    reader = LpChainReader(w3, settings)
    await reader.snapshot(await reader.latest_block())  # warms the immutable caches
    step = await v3_driver.move_to(Decimal(2100))
    methods: list[str] = []
    provider: Any = w3.provider
    original = provider.make_request

    async def counting(method: str, params: Any) -> Any:
        methods.append(str(method))
        return await original(method, params)

    provider.make_request = counting
    snapshot = await reader.snapshot(step.block_number)
    await reader.close()
    assert methods.count("eth_call") == 1
    assert [p.id for p in snapshot.positions] == ["lp", "bg-1", "direct"]
    assert snapshot.price == pytest.approx(Decimal(2100), rel=Decimal("1e-15"))
    lp = snapshot.positions[0]
    assert lp.fees_base > 0 or lp.fees_quote > 0
    assert lp.delta_base == lp.amount_base + lp.fees_base  # include_fees_in_delta
    assert snapshot.delta_base == sum(p.delta_base for p in snapshot.positions)


async def test_transferred_and_burned_nfts_are_removed_with_an_alert(
    v3: V3Deployment, w3: AsyncWeb3[Any]
) -> None:
    """The block that finds a transferred or burned NFT fails loudly; later ones drop it."""
    d = v3
    tx = await Transactor.create(w3)
    second, _ = await mint_position(
        tx, d, d.lp_account, d.tick_lower, d.tick_upper, *two_sided(d, 1, 2000)
    )
    reader = reader_for(w3, d, [nft("main", d, d.token_id), nft("second", d, second, d.lp_account)])
    assert len((await reader.read(await w3.eth.block_number)).positions) == 2
    npm = npm_contract(w3, d)
    await transact(
        w3,
        "transfer",
        npm.functions.transferFrom(d.lp_account, d.trader_account, second),
        d.lp_account,
    )
    block = await w3.eth.block_number
    with pytest.raises(PositionReadError, match=r"second: NFT \d+ transferred to .*removed"):
        await reader.read(block)
    assert [p.id for p in (await reader.read(block)).positions] == ["main"]

    (liquidity,) = (await npm.functions.positions(d.token_id).call())[7:8]
    for what, fn in (
        ("decrease", npm.functions.decreaseLiquidity((d.token_id, liquidity, 0, 0, 2**64))),
        ("collect", npm.functions.collect((d.token_id, d.lp_account, MAX_UINT128, MAX_UINT128))),
        ("burn", npm.functions.burn(d.token_id)),
    ):
        await transact(w3, what, fn, d.lp_account)
    block = await w3.eth.block_number
    with pytest.raises(PositionReadError, match=r"main: NFT .* burned"):
        await reader.read(block)
    read = await reader.read(block)
    assert read.positions == ()
    assert read.price is None


async def test_discovery_follows_the_owner(v3: V3Deployment, w3: AsyncWeb3[Any]) -> None:
    """New NFTs of the owner join without fuss; one that leaves raises once, then is gone."""
    d = v3
    config = V3PositionConfig(
        id="lp", kind="v3", position_manager=d.position_manager, owner=d.lp_account, discover=True
    )
    reader = reader_for(w3, d, [config])
    assert [p.id for p in (await reader.read(await w3.eth.block_number)).positions] == [
        f"lp-{d.token_id}"
    ]
    tx = await Transactor.create(w3)
    new_id, _ = await mint_position(
        tx, d, d.lp_account, -(MAX_TICK // 60 * 60), MAX_TICK // 60 * 60, *two_sided(d, 1, 2000)
    )
    block = await w3.eth.block_number
    assert [p.id for p in (await reader.read(block)).positions] == [
        f"lp-{d.token_id}",
        f"lp-{new_id}",
    ]
    npm = npm_contract(w3, d)
    await transact(
        w3,
        "transfer",
        npm.functions.transferFrom(d.lp_account, d.trader_account, d.token_id),
        d.lp_account,
    )
    block = await w3.eth.block_number
    with pytest.raises(PositionReadError, match=rf"lp: NFTs \[{d.token_id}\] no longer owned"):
        await reader.read(block)
    assert [p.id for p in (await reader.read(block)).positions] == [f"lp-{new_id}"]


async def test_unreadable_positions_raise(
    v3: V3Deployment, v3_worlds: dict[bool, V3Deployment], w3: AsyncWeb3[Any]
) -> None:
    """A missing NFT, a non-pool address and a pool of other tokens are PositionReadErrors."""
    d = v3
    other = v3_worlds[not d.base_is_token0]
    block = await w3.eth.block_number
    with pytest.raises(PositionReadError, match="NFT 999 does not exist"):
        await reader_for(w3, d, [nft("ghost", d, 999)]).read(block)
    for pool, message in ((d.multicall, "reverted"), (other.pool, "not the configured base/quote")):
        direct = V3PositionConfig(
            id="x", kind="v3", pool=pool, owner=d.lp_account, tick_lower=-60, tick_upper=60
        )
        with pytest.raises(PositionReadError, match=message):
            await reader_for(w3, d, [direct]).read(block)


@pytest.mark.parametrize("base_is_token0", [True, False], ids=["base0", "base1"])
async def test_local_world_v3_follows_the_path(
    anvil_node: Any, w3: AsyncWeb3[Any], base_is_token0: bool, tmp_path: Path
) -> None:
    """start_world_v3 yields a LocalWorld whose pool lands on each path price."""
    from bot.sim.localnet import local_settings
    from bot.sim.localnet_v3 import start_world_v3

    snapshot = await rpc_request(w3, "evm_snapshot")
    try:
        async with start_world_v3(
            anvil_node.rpc_url,
            sigma=0.9,
            step_seconds=600,
            seed=3,
            start_price=Decimal(2000),
            base_is_token0=base_is_token0,
        ) as world:
            assert world.kind == "v3"
            assert world.deployment.base_is_token0 is base_is_token0
            settings = local_settings(world, tmp_path)
            reader = LpChainReader(connect(world.rpc_url), settings)
            for _ in range(3):
                step: Any = await world.step()
                assert step.pool_price == pytest.approx(step.target_price, rel=Decimal("1e-15"))
                snap = await reader.snapshot(step.block_number)
                (position,) = snap.positions
                assert position.in_range
                assert snap.price == pytest.approx(step.target_price, rel=Decimal("1e-15"))
                assert Decimal(0) < position.delta_base < Decimal(20)
            await reader.close()
    finally:
        assert await rpc_request(w3, "evm_revert", snapshot) is True


async def test_single_calls_equal_the_batch(v3: V3Deployment, w3: AsyncWeb3[Any]) -> None:
    """Without Multicall (one eth_call per value, same block) the read is identical."""
    d = v3
    configs = [nft("lp", d, d.token_id, d.lp_account)]
    block = await w3.eth.block_number
    batched = await reader_for(w3, d, configs).read(block)
    single = V3PositionReader(
        w3, configs, base_token=d.base_token, quote_token=d.quote_token, multicall=None
    )
    assert await single.read(block) == batched
    with pytest.raises(PositionReadError, match="does not exist"):
        await V3PositionReader(
            w3, [nft("ghost", d, 999)], base_token=d.base_token, quote_token=d.quote_token,
            multicall=None,
        ).read(block)  # fmt: skip
