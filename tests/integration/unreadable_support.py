"""Positions that cannot be valued, made with the real Uniswap contracts on anvil."""

from __future__ import annotations

from bot.chain.rpc import checksum, connect
from bot.sim.compile import uniswap_v2_artifact
from bot.sim.deploy import Transactor
from bot.sim.deploy_v3 import uniswap_v3_artifact

EMPTY_V3_FEE = 500  # a fee tier with no pool yet (the worlds use 3000)


async def deploy_empty_v2_pair(rpc_url: str, base: str, quote: str, deployer: str) -> str:
    """A real UniswapV2Pair of ``base``/``quote`` on a second factory, never funded: it
    exists, holds the right tokens, and has zero reserves and zero supply."""
    w3 = connect(rpc_url)
    try:
        tx = await Transactor.create(w3)
        artifact = uniswap_v2_artifact("UniswapV2Factory")
        address = await tx.deploy(artifact, deployer, deployer)
        factory = w3.eth.contract(address=checksum(address), abi=artifact.abi)
        await tx.send("createPair", factory.functions.createPair(base, quote), deployer)
        return str(checksum(await factory.functions.getPair(base, quote).call()))
    finally:
        await w3.provider.disconnect()


async def create_uninitialised_v3_pool(
    rpc_url: str, factory_address: str, base: str, quote: str, deployer: str
) -> str:
    """A real UniswapV3Pool created on the world's factory and never initialised
    (``slot0.sqrtPriceX96 == 0``)."""
    w3 = connect(rpc_url)
    try:
        tx = await Transactor.create(w3)
        abi = uniswap_v3_artifact("UniswapV3Factory").abi
        factory = w3.eth.contract(address=checksum(factory_address), abi=abi)
        await tx.send(
            "createPool", factory.functions.createPool(base, quote, EMPTY_V3_FEE), deployer
        )
        pool = await factory.functions.getPool(base, quote, EMPTY_V3_FEE).call()
        return str(checksum(pool))
    finally:
        await w3.provider.disconnect()
