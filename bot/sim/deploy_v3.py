"""Deploy a local Uniswap V3 world on anvil from the npm artifacts, used as shipped.

Test tokens (18-decimal base, 6-decimal quote, either ordering), WETH9, Multicall, the real
``UniswapV3Factory``, one pool, ``NonfungiblePositionManager`` (token descriptor = zero
address: ``tokenURI`` is never called) and ``SwapRouter``. The v3-periphery 1.4.4 artifacts
carry the pool init-code hash of the v3-core pool artifact, so NPM and the router find the pool.
Liquidity: a full-range background position of the deployer and one concentrated NFT
position of the LP account. Accounts as in ``bot.sim.deploy``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import AsyncWeb3
from web3.logs import DISCARD
from web3.types import Nonce
from web3.utils.address import get_create_address

from bot.chain.rpc import checksum, connect, guarded
from bot.core.v3 import MAX_TICK, MIN_TICK, price_to_tick, sqrt_price_x96_from_price
from bot.sim.anvil import ANVIL_DEV_KEYS
from bot.sim.compile import Artifact, CompileError, compiled_contracts, project_root
from bot.sim.deploy import DEPLOYER, LP, TRADER, DeploymentError, Transactor

__all__ = [
    "DEADLINE",
    "V3Deployment",
    "V3DeploymentSpec",
    "deploy_v3",
    "mint_position",
    "uniswap_v3_artifact",
]

FEE = 3000
TICK_SPACING = 60
DEADLINE = 2**64
_TIMEOUT_S = 10.0
_ZERO = "0x0000000000000000000000000000000000000000"
_PATHS = {
    "UniswapV3Factory": "v3-core/artifacts/contracts/UniswapV3Factory.sol",
    "UniswapV3Pool": "v3-core/artifacts/contracts/UniswapV3Pool.sol",
    "NonfungiblePositionManager": "v3-periphery/artifacts/contracts/NonfungiblePositionManager.sol",
    "SwapRouter": "v3-periphery/artifacts/contracts/SwapRouter.sol",
}


def uniswap_v3_artifact(name: str, root: Path | None = None) -> Artifact:
    """A contract of ``@uniswap/v3-core`` or ``@uniswap/v3-periphery`` (hardhat artifact)."""
    path = (root or project_root()) / "node_modules" / "@uniswap" / _PATHS[name] / f"{name}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Artifact(name=name, abi=raw["abi"], bytecode=raw["bytecode"])
    except FileNotFoundError as exc:
        raise CompileError(f"{path} not found; run `npm ci`") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CompileError(f"{path} is unreadable: {exc}") from exc


@dataclass(frozen=True, slots=True)
class V3DeploymentSpec:
    """What to deploy. Prices are quote per base."""

    price_quote_per_base: Decimal = Decimal(2000)
    range_fraction: Decimal = Decimal("0.2")  # LP range: price * (1 -/+ range_fraction)
    lp_base: Decimal = Decimal(10)  # base the LP offers (quote: the matching amount)
    background_base: Decimal = Decimal(100)  # full-range depth of the deployer
    base_is_token0: bool | None = None
    base_symbol: str = "ETH"
    quote_symbol: str = "USDT"
    base_decimals: int = 18
    quote_decimals: int = 6
    tokens: tuple[str, str] | None = None  # (base, quote) already deployed: reused, not deployed


@dataclass(frozen=True, slots=True)
class V3Deployment:
    """Addresses and accounts of a local V3 deployment."""

    rpc_url: str
    chain_id: int
    deploy_block: int
    factory: str
    pool: str
    position_manager: str
    swap_router: str
    fee: int
    tick_spacing: int
    base_token: str
    quote_token: str
    base_symbol: str
    quote_symbol: str
    base_decimals: int
    quote_decimals: int
    base_is_token0: bool
    weth: str
    multicall: str
    deployer_account: str
    lp_account: str
    lp_private_key: str
    trader_account: str
    trader_private_key: str
    token_id: int
    tick_lower: int
    tick_upper: int

    @property
    def token0(self) -> str:
        """The pool's token0 (the lower address)."""
        return self.base_token if self.base_is_token0 else self.quote_token

    @property
    def token1(self) -> str:
        """The pool's token1."""
        return self.quote_token if self.base_is_token0 else self.base_token

    def to_json(self) -> str:
        """Pretty JSON of every field."""
        return json.dumps(asdict(self), indent=2) + "\n"


async def mint_position(
    tx: Transactor,
    d: V3Deployment,
    owner: str,
    tick_lower: int,
    tick_upper: int,
    amount0: int,
    amount1: int,
) -> tuple[int, int]:
    """Mint test tokens to ``owner`` and an NFT position from them: (token id, liquidity)."""
    token_abi = compiled_contracts()["TestToken"].abi
    npm = tx.w3.eth.contract(
        address=checksum(d.position_manager),
        abi=uniswap_v3_artifact("NonfungiblePositionManager").abi,
    )
    for token, amount in ((d.token0, amount0), (d.token1, amount1)):
        contract = tx.w3.eth.contract(address=checksum(token), abi=token_abi)
        await tx.send("mint token", contract.functions.mint(owner, amount), owner)
        await tx.send("approve npm", contract.functions.approve(npm.address, amount), owner)
    params = (
        d.token0, d.token1, d.fee, tick_lower, tick_upper, amount0, amount1, 0, 0, owner, DEADLINE
    )  # fmt: skip
    receipt = await tx.send("npm.mint", npm.functions.mint(params), owner)
    events = npm.events.IncreaseLiquidity().process_receipt(receipt, errors=DISCARD)
    if len(events) != 1:
        raise DeploymentError("npm.mint: no IncreaseLiquidity event")
    return int(events[0]["args"]["tokenId"]), int(events[0]["args"]["liquidity"])


def _spaced(tick: int) -> int:
    return tick // TICK_SPACING * TICK_SPACING


async def deploy_v3(rpc_url: str, spec: V3DeploymentSpec | None = None) -> V3Deployment:
    """Deploy everything on the node at ``rpc_url``, seed the pool, mint the LP position."""
    spec = spec or V3DeploymentSpec()
    w3 = connect(rpc_url)
    try:
        return await _deploy(w3, rpc_url, spec)
    finally:
        await w3.provider.disconnect()


async def _deploy_tokens(tx: Transactor, deployer: str, spec: V3DeploymentSpec) -> tuple[str, str]:
    """(base, quote), deployed in the order that gives the asked-for token ordering (or the
    spec's ``tokens``, reused: their order is their addresses')."""
    if spec.tokens is not None:
        return spec.tokens
    token = compiled_contracts()["TestToken"]
    nonce = int(
        await guarded(
            "eth_getTransactionCount",
            tx.w3.eth.get_transaction_count(checksum(deployer)),
            _TIMEOUT_S,
        )
    )
    first, second = (get_create_address(checksum(deployer), Nonce(nonce + i)) for i in (0, 1))
    first_is_lower = int(first, 16) < int(second, 16)
    base_args = (f"Test {spec.base_symbol}", spec.base_symbol, spec.base_decimals)
    quote_args = (f"Test {spec.quote_symbol}", spec.quote_symbol, spec.quote_decimals)
    if spec.base_is_token0 is None or spec.base_is_token0 == first_is_lower:
        base = await tx.deploy(token, deployer, *base_args)
        quote = await tx.deploy(token, deployer, *quote_args)
    else:
        quote = await tx.deploy(token, deployer, *quote_args)
        base = await tx.deploy(token, deployer, *base_args)
    if spec.base_is_token0 is not None and (int(base, 16) < int(quote, 16)) != spec.base_is_token0:
        raise DeploymentError("token ordering prediction failed (nonce moved during deploy?)")
    return base, quote


async def _deploy(w3: AsyncWeb3[Any], rpc_url: str, spec: V3DeploymentSpec) -> V3Deployment:
    contracts = compiled_contracts()
    accounts = [str(a) for a in await guarded("eth_accounts", w3.eth.accounts, _TIMEOUT_S)]
    if len(accounts) <= TRADER:
        raise DeploymentError(f"need {TRADER + 1} unlocked accounts, node has {len(accounts)}")
    for index in (DEPLOYER, LP, TRADER):
        if Account.from_key(ANVIL_DEV_KEYS[index]).address != accounts[index]:
            raise DeploymentError("the node's accounts are not anvil's default dev accounts")
    deployer, lp, trader = accounts[DEPLOYER], accounts[LP], accounts[TRADER]
    chain_id = int(await guarded("eth_chainId", w3.eth.chain_id, _TIMEOUT_S))
    tx = await Transactor.create(w3)
    base, quote = await _deploy_tokens(tx, deployer, spec)
    base_is_token0 = int(base, 16) < int(quote, 16)
    weth = await tx.deploy(contracts["WETH9"], deployer)
    multicall = await tx.deploy(contracts["Multicall"], deployer)
    factory_artifact = uniswap_v3_artifact("UniswapV3Factory")
    factory_address = await tx.deploy(factory_artifact, deployer)
    factory = w3.eth.contract(address=checksum(factory_address), abi=factory_artifact.abi)
    await tx.send("createPool", factory.functions.createPool(base, quote, FEE), deployer)
    pool = str(
        await guarded("getPool", factory.functions.getPool(base, quote, FEE).call(), _TIMEOUT_S)
    )
    if int(pool, 16) == 0:
        raise DeploymentError("createPool left no pool")
    pool_c = w3.eth.contract(address=checksum(pool), abi=uniswap_v3_artifact("UniswapV3Pool").abi)
    pair: dict[str, Any] = {
        "base_is_token0": base_is_token0,
        "base_decimals": spec.base_decimals,
        "quote_decimals": spec.quote_decimals,
    }
    sqrt_price = sqrt_price_x96_from_price(spec.price_quote_per_base, **pair)
    await tx.send("pool.initialize", pool_c.functions.initialize(sqrt_price), deployer)
    npm = await tx.deploy(
        uniswap_v3_artifact("NonfungiblePositionManager"), deployer, factory_address, weth, _ZERO
    )
    router = await tx.deploy(uniswap_v3_artifact("SwapRouter"), deployer, factory_address, weth)

    lo_price = spec.price_quote_per_base * (1 - spec.range_fraction)
    hi_price = spec.price_quote_per_base * (1 + spec.range_fraction)
    ticks = sorted(_spaced(price_to_tick(p, **pair)) for p in (lo_price, hi_price))
    tick_lower, tick_upper = ticks[0], ticks[1] + TICK_SPACING
    deploy_block = 0
    draft = V3Deployment(
        rpc_url=rpc_url, chain_id=chain_id, deploy_block=deploy_block,
        factory=factory_address, pool=str(checksum(pool)), position_manager=npm,
        swap_router=router, fee=FEE, tick_spacing=TICK_SPACING, base_token=base,
        quote_token=quote, base_symbol=spec.base_symbol, quote_symbol=spec.quote_symbol,
        base_decimals=spec.base_decimals, quote_decimals=spec.quote_decimals,
        base_is_token0=base_is_token0, weth=weth, multicall=multicall,
        deployer_account=deployer, lp_account=lp, lp_private_key=ANVIL_DEV_KEYS[LP],
        trader_account=trader, trader_private_key=ANVIL_DEV_KEYS[TRADER],
        token_id=0, tick_lower=tick_lower, tick_upper=tick_upper,
    )  # fmt: skip

    def raw_pair(amount_base: Decimal) -> tuple[int, int]:
        raw_base = int(amount_base.scaleb(spec.base_decimals))
        raw_quote = int((amount_base * spec.price_quote_per_base).scaleb(spec.quote_decimals))
        return (raw_base, raw_quote) if base_is_token0 else (raw_quote, raw_base)

    full_lo, full_hi = -_spaced(MAX_TICK), _spaced(MAX_TICK)
    assert full_lo >= MIN_TICK
    await mint_position(tx, draft, deployer, full_lo, full_hi, *raw_pair(spec.background_base))
    token_id, _ = await mint_position(
        tx, draft, lp, tick_lower, tick_upper, *raw_pair(spec.lp_base)
    )
    deploy_block = int(await guarded("eth_blockNumber", w3.eth.get_block_number(), _TIMEOUT_S))
    return V3Deployment(**{**asdict(draft), "token_id": token_id, "deploy_block": deploy_block})
