"""V3 fork dialects and staked positions against ABI-shape contracts on anvil.

PancakeSwap V3 and Slipstream cannot be deployed here from a package: their pools, position
managers, MasterChefV3 and gauges are the shapes of ``bot/sim/contracts/V3ForkShapes.sol``,
filled with the state of a real Uniswap V3 pool and NFT after swaps (both token orders), so
each fork's reading must give exactly what the Uniswap reader gives on the real contracts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from v3_support import npm_contract, pool_contract
from web3 import AsyncWeb3

from bot.chain.multicall import BatchReader, encode_call
from bot.chain.reader import LpChainReader
from bot.chain.rpc import checksum, rpc_request
from bot.chain.uniswap_v3 import V3PositionReader
from bot.chain.v3_dialects import dialect
from bot.config import Settings, V3PositionConfig
from bot.domain import PositionExposure, PositionMove
from bot.errors import ChainError, PositionReadError
from bot.sim.compile import compiled_contracts
from bot.sim.deploy import Transactor
from bot.sim.deploy_v3 import V3Deployment
from bot.sim.localnet_v3 import V3MarketDriver
from bot.tick_messages import position_view

pytestmark = pytest.mark.integration

PANCAKE_FEE_PROTOCOL = 3200 | (3200 << 16)  # 32 % each way: does not fit Uniswap's uint8
SPACING = 60
IDS = (7, 8, 9)


@dataclass(frozen=True)
class ForkWorld:
    """One fork's shapes holding a copy of the real pool and NFT."""

    protocol: str
    npm: Any
    pool: str
    staker: Any  # MasterChefV3Shape or SlipstreamGaugeShape


def _contract(w3: AsyncWeb3[Any], name: str, address: str) -> Any:
    return w3.eth.contract(address=checksum(address), abi=compiled_contracts()[name].abi)


async def _deploy(
    w3: AsyncWeb3[Any], tx: Transactor, d: V3Deployment, name: str, *args: Any
) -> Any:
    address = await tx.deploy(compiled_contracts()[name], d.deployer_account, *args)
    return _contract(w3, name, address)


async def _copy_pool(
    w3: AsyncWeb3[Any], tx: Transactor, d: V3Deployment, pool: Any, block: int
) -> None:
    """The real pool's state at ``block`` into the shape at ``pool``: slot0, liquidity, fee
    growth and the LP range's ticks."""
    real = pool_contract(w3, d)
    slot0 = await real.functions.slot0().call(block_identifier=block)
    liquidity = await real.functions.liquidity().call(block_identifier=block)
    growth = [
        await getattr(real.functions, f"feeGrowthGlobal{i}X128")().call(block_identifier=block)
        for i in (0, 1)
    ]
    owner = d.deployer_account
    await tx.send("tokens", pool.functions.setTokens(d.token0, d.token1), owner)
    await tx.send("state", pool.functions.setState(slot0[0], slot0[1], liquidity, *growth), owner)
    for tick in (d.tick_lower, d.tick_upper):
        t = await real.functions.ticks(tick).call(block_identifier=block)
        await tx.send("tick", pool.functions.setTick(tick, t[0], t[1], t[2], t[3]), owner)


async def _mint_copies(
    w3: AsyncWeb3[Any],
    tx: Transactor,
    d: V3Deployment,
    npm: Any,
    key_setter: str,
    key: int,
    block: int,
) -> None:
    """NFTs ``IDS`` to the LP, each a copy of the real NFT at ``block`` (pool key ``key``)."""
    p = await npm_contract(w3, d).functions.positions(d.token_id).call(block_identifier=block)
    position = (p[2], p[3], p[5], p[6], p[7], p[8], p[9], p[10], p[11])
    for token_id in IDS:
        await tx.send(
            "mint", npm.functions.mint(d.lp_account, token_id, position), d.deployer_account
        )
        await tx.send("key", getattr(npm.functions, key_setter)(token_id, key), d.deployer_account)


async def pancake_world(w3: AsyncWeb3[Any], d: V3Deployment, block: int) -> ForkWorld:
    """PancakeSwap shapes: the pool placed at its PoolDeployer CREATE2 address (PancakeSwap's
    init code hash) with ``anvil_setCode``, since its creation code cannot be built here."""
    tx = await Transactor.create(w3)
    template = await _deploy(w3, tx, d, "PancakeV3PoolShape")
    deployer = checksum("0x" + "d3" * 20)  # the PoolDeployer: only an input of CREATE2 here
    npm = await _deploy(w3, tx, d, "PancakeNpmShape", d.factory, deployer)
    address = dialect("pancakeswap_v3").pool_address(deployer, None, d.token0, d.token1, d.fee)
    code = await w3.eth.get_code(template.address)
    await rpc_request(w3, "anvil_setCode", address, "0x" + bytes(code).hex())
    pool = _contract(w3, "PancakeV3PoolShape", address)
    await _copy_pool(w3, tx, d, pool, block)
    await tx.send(
        "feeProtocol", pool.functions.setFeeProtocol(PANCAKE_FEE_PROTOCOL), d.deployer_account
    )
    await _mint_copies(w3, tx, d, npm, "setFee", d.fee, block)
    chef = await _deploy(w3, tx, d, "MasterChefV3Shape", npm.address)
    return ForkWorld("pancakeswap_v3", npm, address, chef)


async def slipstream_world(w3: AsyncWeb3[Any], d: V3Deployment, block: int) -> ForkWorld:
    """Slipstream shapes: the pool an EIP-1167 clone made by the factory shape's CREATE2."""
    tx = await Transactor.create(w3)
    implementation = await _deploy(w3, tx, d, "SlipstreamPoolShape")
    factory = await _deploy(w3, tx, d, "SlipstreamFactoryShape", implementation.address)
    await tx.send(
        "createPool", factory.functions.createPool(d.token0, d.token1, SPACING), d.deployer_account
    )
    address = await factory.functions.getPool(d.token0, d.token1, SPACING).call()
    pool = _contract(w3, "SlipstreamPoolShape", address)
    await _copy_pool(w3, tx, d, pool, block)
    npm = await _deploy(w3, tx, d, "SlipstreamNpmShape", factory.address)
    await _mint_copies(w3, tx, d, npm, "setTickSpacing", SPACING, block)
    gauge = await _deploy(w3, tx, d, "SlipstreamGaugeShape", npm.address)
    return ForkWorld("slipstream", npm, checksum(address), gauge)


def config(world: ForkWorld, d: V3Deployment, **how: Any) -> V3PositionConfig:
    return V3PositionConfig(
        id="lp", kind="v3", protocol=world.protocol, position_manager=world.npm.address,
        owner=d.lp_account, **how,
    )  # fmt: skip


def reader_for(
    w3: AsyncWeb3[Any], d: V3Deployment, configs: list[V3PositionConfig]
) -> V3PositionReader:
    return V3PositionReader(
        w3, configs, base_token=d.base_token, quote_token=d.quote_token, multicall=d.multicall
    )


async def real_exposure(w3: AsyncWeb3[Any], d: V3Deployment, block: int) -> PositionExposure:
    """What the Uniswap reader gives for the real NFT on the real contracts."""
    real = V3PositionConfig(
        id="real", kind="v3", position_manager=d.position_manager, token_id=d.token_id
    )
    (exposure,) = (await reader_for(w3, d, [real]).read(block)).positions
    return exposure


def money(e: PositionExposure) -> tuple[Decimal, ...]:
    return (
        e.amount_base,
        e.amount_quote,
        e.value_quote,
        e.delta_base,
        e.gamma,
        e.price,
        e.fees_base,
        e.fees_quote,
    )


async def traded(driver: V3MarketDriver) -> int:
    """Swaps both ways (fees in both tokens) ending inside the LP's range; the last block."""
    for price in (Decimal(2150), Decimal(1880), Decimal(2030)):
        step = await driver.move_to(price)
    return step.block_number


@pytest.mark.parametrize(
    "make_world", [pancake_world, slipstream_world], ids=["pancake", "slipstream"]
)
async def test_fork_dialect_reads_what_uniswap_pays(
    v3: V3Deployment, v3_driver: V3MarketDriver, w3: AsyncWeb3[Any], make_world: Any
) -> None:
    """A fork's shapes holding the real pool's state read to the real position's amounts,
    fees and delta exactly; Uniswap's ABI cannot decode the fork's slot0."""
    d = v3
    block = await traded(v3_driver)
    expected = await real_exposure(w3, d, block)
    assert expected.fees_base > 0
    assert expected.fees_quote > 0
    world = await make_world(w3, d, block)
    head = await w3.eth.block_number
    read = await reader_for(w3, d, [config(world, d, token_id=IDS[0])]).read(head)
    (exposure,) = read.positions
    assert money(exposure) == money(expected)
    assert (exposure.protocol, exposure.location, exposure.earns) == (
        world.protocol,
        "wallet",
        "fees",
    )
    batch = BatchReader(w3, multicall=d.multicall)
    uniswap = encode_call("slot0", world.pool, dialect("uniswap_v3").pool_abi, "slot0")
    with pytest.raises(ChainError, match="undecodable"):  # uint32 feeProtocol; six words
        await batch.try_run([uniswap], head)
    own = encode_call("slot0", world.pool, dialect(world.protocol).pool_abi, "slot0")
    (slot0,) = await batch.try_run([own], head)
    real = await pool_contract(w3, d).functions.slot0().call(block_identifier=block)
    assert slot0 is not None
    assert slot0[:2] == (real[0], real[1])
    if world.protocol == "pancakeswap_v3":
        assert slot0[5] == PANCAKE_FEE_PROTOCOL


async def test_slipstream_reads_fee_growth_at_its_own_tick_words(
    v3: V3Deployment, v3_driver: V3MarketDriver, w3: AsyncWeb3[Any]
) -> None:
    """Slipstream's ticks() puts stakedLiquidityNet before the fee growth: read at Uniswap's
    word indexes the fees would differ, at the dialect's they are exact."""
    d = v3
    block = await traded(v3_driver)
    world = await slipstream_world(w3, d, block)
    real = await pool_contract(w3, d).functions.ticks(d.tick_lower).call(block_identifier=block)
    head = await w3.eth.block_number
    call = encode_call("ticks", world.pool, dialect("slipstream").pool_abi, "ticks", d.tick_lower)
    (answer,) = await BatchReader(w3, multicall=d.multicall).try_run([call], head)
    assert answer is not None
    g0, g1 = dialect("slipstream").tick_fee_growth
    assert (answer[g0], answer[g1]) == (real[2], real[3])
    assert (answer[2], answer[3]) != (real[2], real[3])


def moves(reader: V3PositionReader) -> list[tuple[str, bool, str]]:
    return [(m.position, m.arrived, m.location) for m in reader.take_moves()]


async def test_masterchef_staked_nfts_are_found_and_followed(
    v3: V3Deployment, v3_driver: V3MarketDriver, w3: AsyncWeb3[Any]
) -> None:
    """Owner discovery finds NFTs in the wallet and in MasterChefV3; staking, unstaking and
    a transfer away are moves (left/arrived); a staked PancakeSwap NFT keeps its fees."""
    d = v3
    block = await traded(v3_driver)
    expected = await real_exposure(w3, d, block)
    world = await pancake_world(w3, d, block)
    chef, lp = world.staker, d.lp_account
    tx = await Transactor.create(w3)
    reader = reader_for(w3, d, [config(world, d, discover=True, staked_in=(chef.address,))])
    first = await reader.read(await w3.eth.block_number)
    assert [(p.id, p.location) for p in first.positions] == [(f"lp-{i}", "wallet") for i in IDS]
    assert moves(reader) == []  # what the first look finds is no move

    await tx.send("stake", world.npm.functions.safeTransferFrom(lp, chef.address, IDS[1]), lp)
    read = await reader.read(await w3.eth.block_number)
    staked = f"staked:{chef.address}"
    by_id = {p.id: p for p in read.positions}
    assert sorted(by_id) == [f"lp-{i}" for i in IDS]  # still hedged, counted once
    assert (by_id["lp-8"].location, by_id["lp-8"].earns) == (staked, "fees+emissions")
    assert money(by_id["lp-8"]) == money(expected)  # the chef collects fees for the LP
    assert moves(reader) == [("lp-8", False, "wallet"), ("lp-8", True, staked)]

    await tx.send("unstake", chef.functions.withdraw(IDS[1], lp), lp)
    read = await reader.read(await w3.eth.block_number)
    assert {p.id: p.location for p in read.positions}["lp-8"] == "wallet"
    assert moves(reader) == [("lp-8", False, staked), ("lp-8", True, "wallet")]

    await tx.send("away", world.npm.functions.transferFrom(lp, d.trader_account, IDS[0]), lp)
    with pytest.raises(PositionReadError, match=r"lp: NFTs \[7\] no longer owned"):
        await reader.read(await w3.eth.block_number)
    assert moves(reader) == [("lp-7", False, "wallet")]
    read = await reader.read(await w3.eth.block_number)
    assert [p.id for p in read.positions] == ["lp-8", "lp-9"]


async def test_listed_nft_staked_in_masterchef_stays_hedged(
    v3: V3Deployment, v3_driver: V3MarketDriver, w3: AsyncWeb3[Any]
) -> None:
    """An NFT listed by token id and staked by its owner in a configured chef is read where
    it sits; withdrawn from the chef to another account it left from the chef (alert)."""
    d = v3
    block = await traded(v3_driver)
    world = await pancake_world(w3, d, block)
    chef, lp = world.staker, d.lp_account
    tx = await Transactor.create(w3)
    reader = reader_for(w3, d, [config(world, d, token_id=IDS[0], staked_in=(chef.address,))])
    assert (await reader.read(await w3.eth.block_number)).positions[0].location == "wallet"
    await tx.send("stake", world.npm.functions.safeTransferFrom(lp, chef.address, IDS[0]), lp)
    (exposure,) = (await reader.read(await w3.eth.block_number)).positions
    assert exposure.location == f"staked:{chef.address}"
    await tx.send("unstake", chef.functions.withdraw(IDS[0], d.trader_account), lp)
    with pytest.raises(PositionReadError, match=r"NFT 7 transferred to"):
        await reader.read(await w3.eth.block_number)
    assert moves(reader)[-1] == ("lp", False, f"staked:{chef.address}")


async def test_gauge_staked_positions_earn_emissions_not_fees(
    v3: V3Deployment, v3_driver: V3MarketDriver, w3: AsyncWeb3[Any]
) -> None:
    """A Slipstream NFT staked in its gauge is found there (stakedValues), keeps its amounts
    and delta, and reports fees 0 (known) and emissions: never booked as LP fees."""
    d = v3
    block = await traded(v3_driver)
    expected = await real_exposure(w3, d, block)
    world = await slipstream_world(w3, d, block)
    gauge, lp = world.staker, d.lp_account
    tx = await Transactor.create(w3)
    reader = reader_for(w3, d, [config(world, d, discover=True, staked_in=(gauge.address,))])
    await reader.read(await w3.eth.block_number)
    await tx.send("approve", world.npm.functions.approve(gauge.address, IDS[2]), lp)
    await tx.send("stake", gauge.functions.deposit(IDS[2]), lp)
    read = await reader.read(await w3.eth.block_number)
    staked = {p.id: p for p in read.positions}["lp-9"]
    assert (staked.location, staked.earns) == (f"staked:{gauge.address}", "emissions")
    assert (staked.fees_base, staked.fees_quote) == (0, 0)
    assert (staked.amount_base, staked.amount_quote, staked.delta_base) == (
        expected.amount_base, expected.amount_quote, expected.amount_base,
    )  # fmt: skip
    view = position_view(staked, detail=True)
    assert (view["protocol"], view["location"], view["earns"]) == (
        "slipstream",
        f"staked:{gauge.address}",
        "emissions",
    )
    assert (view["fees_base"], view["fees_quote"]) == ("0", "0")
    assert moves(reader) == [("lp-9", False, "wallet"), ("lp-9", True, f"staked:{gauge.address}")]

    await tx.send("unstake", gauge.functions.withdraw(IDS[2]), lp)
    read = await reader.read(await w3.eth.block_number)
    back = {p.id: p for p in read.positions}["lp-9"]
    assert (back.location, back.earns) == ("wallet", "fees")
    assert money(back) == money(expected)


async def test_a_new_staked_nft_arrives_in_the_chain_snapshot(
    v3: V3Deployment, v3_driver: V3MarketDriver, w3: AsyncWeb3[Any]
) -> None:
    """Through the ChainReader port: an NFT that appears in the gauge after the first look
    is a ``position.arrived`` move of the snapshot, with protocol and location."""
    d = v3
    block = await traded(v3_driver)
    world = await slipstream_world(w3, d, block)
    gauge, lp = world.staker, d.lp_account
    settings = Settings(
        chain={"rpc_urls": [d.rpc_url], "multicall": d.multicall},
        positions=[config(world, d, discover=True, staked_in=(gauge.address,))],
        hedge_asset={"base_token": d.base_token, "quote_token": d.quote_token},
    )
    reader = LpChainReader(w3, settings)
    first = await reader.snapshot(await w3.eth.block_number)
    assert first.moves == ()
    tx = await Transactor.create(w3)
    p = await npm_contract(w3, d).functions.positions(d.token_id).call(block_identifier=block)
    position = (p[2], p[3], p[5], p[6], p[7], p[8], p[9], p[10], p[11])
    await tx.send("mint", world.npm.functions.mint(lp, 10, position), d.deployer_account)
    await tx.send("key", world.npm.functions.setTickSpacing(10, SPACING), d.deployer_account)
    await tx.send("approve", world.npm.functions.approve(gauge.address, 10), lp)
    await tx.send("stake", gauge.functions.deposit(10), lp)
    head = await w3.eth.block_number
    snapshot = await reader.snapshot(head)
    assert snapshot.moves == (
        PositionMove(head, "lp-10", True, f"staked:{gauge.address}", "slipstream", 10),
    )
    assert len(snapshot.positions) == len(first.positions) + 1
    assert snapshot.delta_base == first.delta_base + snapshot.positions[-1].delta_base
