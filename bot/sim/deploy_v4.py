"""Deploy a local Uniswap V4 world on anvil from the npm artifacts, used as shipped.

From ``@uniswap/v4-core`` (``out/``): ``PoolManager`` and ``PoolSwapTest`` (v4-core's own swap
router for tests: ``swap(key, params, settings, hookData)``, pulling ERC-20s with
``transferFrom`` and native ETH from ``msg.value``), and ``EmptyTestHooks`` for a pool with a
hook. From ``@uniswap/v4-periphery`` (``foundry-out/``): ``PositionManager`` and ``StateView``.
Permit2 is not shipped as an artifact: v4-periphery's ``lib/permit2/test/utils/DeployPermit2.sol``
carries its runtime bytecode as a hex literal, which is placed with ``anvil_setCode`` at the
canonical address ``0x000000000022D473030F116dDEE9F6B43aC78BA3`` (as ``DeployPermit2`` does
with ``vm.etch``; Permit2 recomputes its EIP-712 domain when the chain id differs, so the
runtime code works as placed). ``PositionManager(poolManager, permit2, unsubscribeGasLimit,
tokenDescriptor = 0, weth9)``; WETH9 and Multicall are the repository's solc-compiled ones.
Nothing is compiled for V4.

The hooked pool's hook is ``EmptyTestHooks``' runtime code placed with ``anvil_setCode`` at an
address whose low 14 bits are the hook flags (``beforeAddLiquidity | beforeRemoveLiquidity |
beforeSwap | afterSwap``: V4 reads a hook's permissions from its address); its constructor,
which checks the address, is skipped. It answers every call with its selector and no delta, so
the pool accounts exactly as an unhooked one, which the tests check.

Positions are minted through ``PositionManager.modifyLiquidities`` with ``MINT_POSITION`` +
``SETTLE_PAIR`` (+ ``SWEEP`` of the ETH sent over for a native pool), paid through Permit2.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_account import Account
from web3 import AsyncWeb3

from bot.chain.rpc import checksum, connect, guarded, rpc_request
from bot.chain.v4_calls import NATIVE, PoolKey, pool_id
from bot.core.v3 import (
    MAX_TICK,
    price_to_tick,
    sqrt_price_x96_from_price,
)
from bot.sim.anvil import ANVIL_DEV_KEYS
from bot.sim.compile import Artifact, CompileError, compiled_contracts, project_root
from bot.sim.deploy import DEPLOYER, LP, TRADER, DeploymentError, Transactor
from bot.sim.deploy_v3 import V3DeploymentSpec, _deploy_tokens
from bot.sim.v4_actions import (
    Actions,
    liquidity_for_amounts,
    mint_params,
    modify_liquidities_data,
    pair_params,
)

__all__ = [
    "HOOK_FLAGS",
    "PERMIT2",
    "Actions",
    "V4Deployment",
    "V4DeploymentSpec",
    "deploy_v4",
    "liquidity_for_amounts",
    "mint_position",
    "modify_liquidities_data",
    "uniswap_v4_artifact",
]

FEE = 3000
TICK_SPACING = 60
DEADLINE = 2**64
PERMIT2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3"
# Hooks.BEFORE_ADD_LIQUIDITY_FLAG | BEFORE_REMOVE_LIQUIDITY_FLAG | BEFORE_SWAP_FLAG | AFTER_SWAP
HOOK_FLAGS = (1 << 11) | (1 << 9) | (1 << 7) | (1 << 6)
HOOK_ADDRESS = checksum("0x" + f"{(0xB00C << 144) | (0xF0 << 14) | HOOK_FLAGS:040x}")
UNSUBSCRIBE_GAS_LIMIT = 300_000
_MAX_UINT = 2**256 - 1
_MAX_U160 = 2**160 - 1
_MAX_U48 = 2**48 - 1
_FUNDS = 10**40  # raw units of each test token given to an account that mints or swaps
_TIMEOUT_S = 10.0
_ARTIFACTS = {
    "PoolManager": "v4-core/out/PoolManager.sol/PoolManager.json",
    "PoolSwapTest": "v4-core/out/PoolSwapTest.sol/PoolSwapTest.json",
    "EmptyTestHooks": "v4-core/out/EmptyTestHooks.sol/EmptyTestHooks.json",
    "PositionManager": "v4-periphery/foundry-out/PositionManager.sol/PositionManager.json",
    "StateView": "v4-periphery/foundry-out/StateView.sol/StateView.json",
    "IAllowanceTransfer": (
        "v4-periphery/foundry-out/IAllowanceTransfer.sol/IAllowanceTransfer.default.json"
    ),
}
_PERMIT2_SOURCE = "v4-periphery/lib/permit2/test/utils/DeployPermit2.sol"


def _uniswap_json(relative: str, root: Path | None) -> dict[str, Any]:
    path = (root or project_root()) / "node_modules" / "@uniswap" / relative
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise TypeError("not a JSON object")
        return raw
    except FileNotFoundError as exc:
        raise CompileError(f"{path} not found; run `npm ci`") from exc
    except (OSError, ValueError, TypeError) as exc:
        raise CompileError(f"{path} is unreadable: {exc}") from exc


@cache
def uniswap_v4_artifact(name: str, root: Path | None = None) -> Artifact:
    """A contract of ``@uniswap/v4-core`` / ``@uniswap/v4-periphery`` (foundry artifact).

    ``bytecode`` is the creation code. Raises ``CompileError`` when the package is missing.
    """
    raw = _uniswap_json(_ARTIFACTS[name], root)
    try:
        return Artifact(name=name, abi=raw["abi"], bytecode=raw["bytecode"]["object"])
    except (KeyError, TypeError) as exc:
        raise CompileError(f"{_ARTIFACTS[name]}: no abi/bytecode: {exc}") from exc


def _runtime_code(name: str, root: Path | None = None) -> str:
    raw = _uniswap_json(_ARTIFACTS[name], root)
    try:
        return str(raw["deployedBytecode"]["object"])
    except (KeyError, TypeError) as exc:
        raise CompileError(f"{_ARTIFACTS[name]}: no deployedBytecode: {exc}") from exc


@cache
def permit2_runtime_code(root: Path | None = None) -> str:
    """Permit2's runtime bytecode as v4-periphery's permit2 submodule ships it (``0x`` hex)."""
    path = (root or project_root()) / "node_modules" / "@uniswap" / _PERMIT2_SOURCE
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CompileError(f"{path} not readable; run `npm ci`: {exc}") from exc
    found = re.search(r'hex"([0-9a-fA-F]+)"', source)
    if found is None:
        raise CompileError(f"{path}: no Permit2 bytecode literal")
    return "0x" + found.group(1)


@dataclass(frozen=True, slots=True)
class V4DeploymentSpec(V3DeploymentSpec):
    """What to deploy: the V3 spec's prices and tokens, plus V4's choices.

    ``native_base``: the base is native ETH (currency0 = address 0), the quote a test token
    (``base_is_token0`` is then necessarily true). ``hooked``: the LP's pool has a hook.
    """

    native_base: bool = False
    hooked: bool = False


@dataclass(frozen=True, slots=True)
class V4Deployment:
    """Addresses and accounts of a local V4 deployment (fields as ``V3Deployment`` where
    they mean the same; ``base_token`` is ``NATIVE`` for a native-ETH pool)."""

    rpc_url: str
    chain_id: int
    deploy_block: int
    pool_manager: str
    position_manager: str
    state_view: str
    permit2: str
    swap_router: str
    hooks: str
    currency0: str
    currency1: str
    fee: int
    tick_spacing: int
    pool_id: str
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
        """The pool's currency0 (the lower address; ``NATIVE`` for native ETH)."""
        return self.currency0

    @property
    def token1(self) -> str:
        """The pool's currency1."""
        return self.currency1

    @property
    def key(self) -> PoolKey:
        """The LP pool's ``PoolKey``."""
        return PoolKey(self.currency0, self.currency1, self.fee, self.tick_spacing, self.hooks)

    @property
    def native(self) -> bool:
        """True when currency0 is native ETH."""
        return int(self.currency0, 16) == 0

    def to_json(self) -> str:
        """Pretty JSON of every field."""
        return json.dumps(asdict(self), indent=2) + "\n"


async def _approve_all(tx: Transactor, d: V4Deployment, account: str) -> None:
    """Give ``account`` test tokens and let Permit2 (for the PositionManager) and the swap
    router pull them."""
    token_abi = compiled_contracts()["TestToken"].abi
    permit2 = tx.w3.eth.contract(
        address=checksum(d.permit2), abi=uniswap_v4_artifact("IAllowanceTransfer").abi
    )
    for token in (d.currency0, d.currency1):
        if int(token, 16) == 0:
            continue
        contract = tx.w3.eth.contract(address=checksum(token), abi=token_abi)
        await tx.send("mint token", contract.functions.mint(account, _FUNDS), account)
        for spender in (d.permit2, d.swap_router):
            await tx.send("approve", contract.functions.approve(spender, _MAX_UINT), account)
        fn = permit2.functions.approve(token, d.position_manager, _MAX_U160, _MAX_U48)
        await tx.send("permit2.approve", fn, account)


async def mint_position(
    tx: Transactor, d: V4Deployment, owner: str, tick_lower: int, tick_upper: int, liquidity: int
) -> int:
    """Mint an NFT position of ``liquidity`` in ``d``'s pool for ``owner`` (approved by
    ``deploy_v4``); the new token id. Native ETH is sent as value and the rest swept back."""
    posm = tx.w3.eth.contract(
        address=checksum(d.position_manager), abi=uniswap_v4_artifact("PositionManager").abi
    )
    token_id = int(await guarded("nextTokenId", posm.functions.nextTokenId().call(), _TIMEOUT_S))
    key = d.key
    actions = [
        (Actions.MINT_POSITION, mint_params(key, tick_lower, tick_upper, liquidity, owner)),
        (Actions.SETTLE_PAIR, pair_params(key)),
    ]
    value = 0
    if d.native:
        balance = int(await guarded("balance", tx.w3.eth.get_balance(checksum(owner)), _TIMEOUT_S))
        value = balance // 2
        actions.append((Actions.SWEEP, encode(["address", "address"], [NATIVE, owner])))
    fn = posm.functions.modifyLiquidities(modify_liquidities_data(actions), DEADLINE)
    await tx.send("posm.mint", fn, owner, value=value)
    return token_id


def _spaced(tick: int) -> int:
    return tick // TICK_SPACING * TICK_SPACING


async def deploy_v4(rpc_url: str, spec: V4DeploymentSpec | None = None) -> V4Deployment:
    """Deploy everything on the node at ``rpc_url``, seed the pool, mint the LP position.

    Raises ``DeploymentError`` when a step reverts, ``CompileError`` without ``npm ci``.
    """
    spec = spec or V4DeploymentSpec()
    w3 = connect(rpc_url)
    try:
        return await _deploy(w3, rpc_url, spec)
    finally:
        await w3.provider.disconnect()


async def _accounts(w3: AsyncWeb3[Any]) -> list[str]:
    accounts = [str(a) for a in await guarded("eth_accounts", w3.eth.accounts, _TIMEOUT_S)]
    if len(accounts) <= TRADER:
        raise DeploymentError(f"need {TRADER + 1} unlocked accounts, node has {len(accounts)}")
    for index in (DEPLOYER, LP, TRADER):
        if Account.from_key(ANVIL_DEV_KEYS[index]).address != accounts[index]:
            raise DeploymentError("the node's accounts are not anvil's default dev accounts")
    return accounts


async def _core(tx: Transactor, deployer: str) -> dict[str, str]:
    """PoolManager, Permit2, WETH9, Multicall, PositionManager, StateView, PoolSwapTest."""
    contracts = compiled_contracts()
    manager = await tx.deploy(uniswap_v4_artifact("PoolManager"), deployer, deployer)
    await rpc_request(tx.w3, "anvil_setCode", PERMIT2, permit2_runtime_code())
    weth = await tx.deploy(contracts["WETH9"], deployer)
    posm = await tx.deploy(
        uniswap_v4_artifact("PositionManager"),
        deployer,
        manager,
        PERMIT2,
        UNSUBSCRIBE_GAS_LIMIT,
        "0x" + "00" * 20,
        weth,
    )
    return {
        "pool_manager": manager,
        "permit2": checksum(PERMIT2),
        "weth": weth,
        "multicall": await tx.deploy(contracts["Multicall"], deployer),
        "position_manager": posm,
        "state_view": await tx.deploy(uniswap_v4_artifact("StateView"), deployer, manager),
        "swap_router": await tx.deploy(uniswap_v4_artifact("PoolSwapTest"), deployer, manager),
    }


async def _deploy(w3: AsyncWeb3[Any], rpc_url: str, spec: V4DeploymentSpec) -> V4Deployment:
    accounts = await _accounts(w3)
    deployer, lp, trader = accounts[DEPLOYER], accounts[LP], accounts[TRADER]
    chain_id = int(await guarded("eth_chainId", w3.eth.chain_id, _TIMEOUT_S))
    tx = await Transactor.create(w3)
    if spec.native_base:
        if spec.base_decimals != 18 or spec.base_is_token0 is False:
            raise DeploymentError("native ETH is currency0 with 18 decimals")
        token = compiled_contracts()["TestToken"]
        quote_args = (f"Test {spec.quote_symbol}", spec.quote_symbol, spec.quote_decimals)
        base, quote = NATIVE, await tx.deploy(token, deployer, *quote_args)
    else:
        base, quote = await _deploy_tokens(tx, deployer, spec)
    base_is_token0 = int(base, 16) < int(quote, 16)
    core = await _core(tx, deployer)
    hooks = "0x" + "00" * 20
    if spec.hooked:
        await rpc_request(w3, "anvil_setCode", HOOK_ADDRESS, _runtime_code("EmptyTestHooks"))
        hooks = HOOK_ADDRESS
    currency0, currency1 = (base, quote) if base_is_token0 else (quote, base)
    key = PoolKey(currency0, currency1, FEE, TICK_SPACING, hooks)
    pair: dict[str, Any] = {
        "base_is_token0": base_is_token0,
        "base_decimals": spec.base_decimals,
        "quote_decimals": spec.quote_decimals,
    }
    sqrt_price = sqrt_price_x96_from_price(spec.price_quote_per_base, **pair)
    manager = w3.eth.contract(
        address=checksum(core["pool_manager"]), abi=uniswap_v4_artifact("PoolManager").abi
    )
    fn = manager.functions.initialize(key.as_tuple(), sqrt_price)
    await tx.send("poolManager.initialize", fn, deployer)
    lo_price = spec.price_quote_per_base * (1 - spec.range_fraction)
    hi_price = spec.price_quote_per_base * (1 + spec.range_fraction)
    ticks = sorted(_spaced(price_to_tick(p, **pair)) for p in (lo_price, hi_price))
    tick_lower, tick_upper = ticks[0], ticks[1] + TICK_SPACING
    draft = V4Deployment(
        rpc_url=rpc_url, chain_id=chain_id, deploy_block=0, **core, hooks=checksum(hooks),
        currency0=checksum(currency0), currency1=checksum(currency1), fee=FEE,
        tick_spacing=TICK_SPACING, pool_id="0x" + pool_id(key).hex(), base_token=checksum(base),
        quote_token=quote, base_symbol=spec.base_symbol, quote_symbol=spec.quote_symbol,
        base_decimals=spec.base_decimals, quote_decimals=spec.quote_decimals,
        base_is_token0=base_is_token0, deployer_account=deployer, lp_account=lp,
        lp_private_key=ANVIL_DEV_KEYS[LP], trader_account=trader,
        trader_private_key=ANVIL_DEV_KEYS[TRADER], token_id=0, tick_lower=tick_lower,
        tick_upper=tick_upper,
    )  # fmt: skip
    for account in (deployer, lp, trader):
        await _approve_all(tx, draft, account)

    def raw_pair(amount_base: Decimal) -> tuple[int, int]:
        raw_base = int(amount_base.scaleb(spec.base_decimals))
        raw_quote = int((amount_base * spec.price_quote_per_base).scaleb(spec.quote_decimals))
        return (raw_base, raw_quote) if base_is_token0 else (raw_quote, raw_base)

    full = _spaced(MAX_TICK)
    background = liquidity_for_amounts(sqrt_price, -full, full, *raw_pair(spec.background_base))
    await mint_position(tx, draft, deployer, -full, full, background)
    lp_liquidity = liquidity_for_amounts(
        sqrt_price, tick_lower, tick_upper, *raw_pair(spec.lp_base)
    )
    token_id = await mint_position(tx, draft, lp, tick_lower, tick_upper, lp_liquidity)
    deploy_block = int(await guarded("eth_blockNumber", w3.eth.get_block_number(), _TIMEOUT_S))
    return V4Deployment(**{**asdict(draft), "token_id": token_id, "deploy_block": deploy_block})
