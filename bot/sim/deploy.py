"""Deploy the local world on anvil: test tokens, WETH9, Multicall, the real UniswapV2Factory
and one seeded pair, with liquidity owned by an LP account (and optionally a second holder).

Accounts (anvil's development accounts): 0 deployer, 1 LP, 2 trader, 3 second LP holder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

from eth_account import Account
from web3 import AsyncWeb3
from web3.types import Nonce
from web3.utils.address import get_create_address

from bot.chain.rpc import checksum, connect, guarded, rpc_request
from bot.errors import HedgebotError
from bot.sim.anvil import ANVIL_DEV_KEYS
from bot.sim.compile import Artifact, compiled_contracts, uniswap_v2_artifact

__all__ = ["DeploymentError", "DeploymentSpec", "LocalDeployment", "Transactor", "deploy_local"]

_TX_TIMEOUT_S = 30.0
DEPLOYER, LP, TRADER, SECOND_LP = 0, 1, 2, 3


class DeploymentError(HedgebotError):
    """A deployment or simulation transaction failed or reverted."""


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    """What to deploy. Prices are quote per base; the depth is the base amount in the pool."""

    price_quote_per_base: Decimal = Decimal(2000)
    depth_base: Decimal = Decimal(1000)
    base_symbol: str = "ETH"
    base_name: str = "Test Ether"
    base_decimals: int = 18
    quote_symbol: str = "USDT"
    quote_name: str = "Test Tether USD"
    quote_decimals: int = 6
    base_is_token0: bool | None = None  # None: whatever the addresses give
    second_lp_fraction: Decimal = Decimal(0)  # share of the seeded depth minted to account 3

    def __post_init__(self) -> None:
        if self.price_quote_per_base <= 0 or self.depth_base <= 0:
            raise ValueError("price and depth must be positive")
        if not Decimal(0) <= self.second_lp_fraction < Decimal(1):
            raise ValueError("second_lp_fraction must be in [0, 1)")


@dataclass(frozen=True, slots=True)
class LocalDeployment:
    """Addresses and accounts of a local deployment; written as ``localnet.json``."""

    rpc_url: str
    chain_id: int
    deploy_block: int
    factory: str
    pair: str
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
    second_lp_account: str | None = None
    second_lp_private_key: str | None = None

    @property
    def token0(self) -> str:
        """The pair's token0 (the lower address)."""
        return self.base_token if self.base_is_token0 else self.quote_token

    @property
    def token1(self) -> str:
        """The pair's token1."""
        return self.quote_token if self.base_is_token0 else self.base_token

    def to_json(self) -> str:
        """Pretty JSON of every field."""
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Inverse of ``to_json``."""
        return cls(**json.loads(text))

    def write(self, path: Path) -> None:
        """Write ``localnet.json`` (holds anvil's public dev keys only)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> Self:
        """Load a file written by ``write``."""
        return cls.from_json(path.read_text(encoding="utf-8"))


class Transactor:
    """Sends transactions from anvil's unlocked accounts and waits for the receipt.

    When the node does not automine (``--no-mining`` or interval mining) each transaction is
    followed by ``evm_mine`` so deployment does not wait for the interval.
    """

    def __init__(self, w3: AsyncWeb3[Any], *, automine: bool) -> None:
        self.w3 = w3
        self.automine = automine

    @classmethod
    async def create(cls, w3: AsyncWeb3[Any]) -> Transactor:
        """Probe the node's mining mode."""
        automine = await rpc_request(w3, "anvil_getAutomine")
        return cls(w3, automine=bool(automine))

    async def send(self, what: str, fn: Any, sender: str, **tx: Any) -> Any:
        """Transact ``fn`` (a contract function or constructor) and return the receipt."""
        tx_hash = await guarded(what, fn.transact({"from": sender, **tx}), _TX_TIMEOUT_S)
        if not self.automine:
            await rpc_request(self.w3, "evm_mine")
        receipt: Any = await guarded(
            f"receipt of {what}",
            self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=_TX_TIMEOUT_S, poll_latency=0.02
            ),
            _TX_TIMEOUT_S + 1,
        )
        if receipt["status"] != 1:
            raise DeploymentError(f"{what} reverted (tx 0x{bytes(tx_hash).hex()})")
        return receipt

    async def deploy(self, artifact: Artifact, sender: str, *args: Any) -> str:
        """Deploy ``artifact`` with constructor ``args``; the new contract's address."""
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = await self.send(f"deploy {artifact.name}", factory.constructor(*args), sender)
        address = receipt["contractAddress"]
        if not address:
            raise DeploymentError(f"deploy {artifact.name}: no contract address in receipt")
        return str(checksum(address))


def _to_raw(amount: Decimal, decimals: int) -> int:
    return int(amount.scaleb(decimals).to_integral_value())


async def deploy_local(
    rpc_url: str, spec: DeploymentSpec | None = None, *, root: Path | None = None
) -> LocalDeployment:
    """Deploy everything on the node at ``rpc_url`` and seed the pair."""
    spec = spec or DeploymentSpec()
    w3 = connect(rpc_url)
    try:
        return await _deploy(w3, rpc_url, spec, root)
    finally:
        await w3.provider.disconnect()


async def _deploy(
    w3: AsyncWeb3[Any], rpc_url: str, spec: DeploymentSpec, root: Path | None
) -> LocalDeployment:
    contracts = compiled_contracts(root)
    accounts = [str(a) for a in await guarded("eth_accounts", w3.eth.accounts, 10.0)]
    if len(accounts) <= SECOND_LP:
        raise DeploymentError(f"need {SECOND_LP + 1} unlocked accounts, node has {len(accounts)}")
    deployer, lp, trader, second = (accounts[i] for i in (DEPLOYER, LP, TRADER, SECOND_LP))
    for index in (DEPLOYER, LP, TRADER, SECOND_LP):
        if Account.from_key(ANVIL_DEV_KEYS[index]).address != accounts[index]:
            raise DeploymentError("the node's accounts are not anvil's default dev accounts")
    chain_id = int(await guarded("eth_chainId", w3.eth.chain_id, 10.0))
    tx = await Transactor.create(w3)
    token = contracts["TestToken"]

    # Token order in the pair is by address. The next two contract addresses of the deployer
    # are known from its nonce, so deploy base first or second to get the ordering asked for.
    nonce = int(
        await guarded(
            "eth_getTransactionCount", w3.eth.get_transaction_count(checksum(deployer)), 10.0
        )
    )
    first, second_addr = (get_create_address(checksum(deployer), Nonce(nonce + i)) for i in (0, 1))
    first_is_lower = int(first, 16) < int(second_addr, 16)
    base_first = spec.base_is_token0 is None or spec.base_is_token0 == first_is_lower
    base_args = (spec.base_name, spec.base_symbol, spec.base_decimals)
    quote_args = (spec.quote_name, spec.quote_symbol, spec.quote_decimals)
    if base_first:
        base = await tx.deploy(token, deployer, *base_args)
        quote = await tx.deploy(token, deployer, *quote_args)
    else:
        quote = await tx.deploy(token, deployer, *quote_args)
        base = await tx.deploy(token, deployer, *base_args)
    base_is_token0 = int(base, 16) < int(quote, 16)
    if spec.base_is_token0 is not None and base_is_token0 != spec.base_is_token0:
        raise DeploymentError("token ordering prediction failed (nonce moved during deploy?)")

    weth = await tx.deploy(contracts["WETH9"], deployer)
    multicall = await tx.deploy(contracts["Multicall"], deployer)
    factory_address = await tx.deploy(
        uniswap_v2_artifact("UniswapV2Factory", root), deployer, deployer
    )
    factory = w3.eth.contract(
        address=checksum(factory_address), abi=uniswap_v2_artifact("UniswapV2Factory", root).abi
    )
    await tx.send("createPair", factory.functions.createPair(base, quote), deployer)
    pair = str(await guarded("getPair", factory.functions.getPair(base, quote).call(), 10.0))

    base_c = w3.eth.contract(address=checksum(base), abi=token.abi)
    quote_c = w3.eth.contract(address=checksum(quote), abi=token.abi)
    pair_c = w3.eth.contract(
        address=checksum(pair), abi=uniswap_v2_artifact("UniswapV2Pair", root).abi
    )
    total_base = _to_raw(spec.depth_base, spec.base_decimals)
    total_quote = _to_raw(spec.depth_base * spec.price_quote_per_base, spec.quote_decimals)
    second_base = _to_raw(spec.depth_base * spec.second_lp_fraction, spec.base_decimals)
    second_quote = total_quote * second_base // total_base
    holders = [(lp, total_base - second_base, total_quote - second_quote)]
    if second_base > 0:
        holders.append((second, second_base, second_quote))
    for holder, amount_base, amount_quote in holders:
        await tx.send("mint base", base_c.functions.mint(holder, amount_base), holder)
        await tx.send("mint quote", quote_c.functions.mint(holder, amount_quote), holder)
        await tx.send("fund pair", base_c.functions.transfer(pair, amount_base), holder)
        await tx.send("fund pair", quote_c.functions.transfer(pair, amount_quote), holder)
        await tx.send("pair.mint", pair_c.functions.mint(holder), holder)

    deploy_block = int(await guarded("eth_blockNumber", w3.eth.get_block_number(), 10.0))
    return LocalDeployment(
        rpc_url=rpc_url,
        chain_id=chain_id,
        deploy_block=deploy_block,
        factory=factory_address,
        pair=str(checksum(pair)),
        base_token=base,
        quote_token=quote,
        base_symbol=spec.base_symbol,
        quote_symbol=spec.quote_symbol,
        base_decimals=spec.base_decimals,
        quote_decimals=spec.quote_decimals,
        base_is_token0=base_is_token0,
        weth=weth,
        multicall=multicall,
        deployer_account=deployer,
        lp_account=lp,
        lp_private_key=ANVIL_DEV_KEYS[LP],
        trader_account=trader,
        trader_private_key=ANVIL_DEV_KEYS[TRADER],
        second_lp_account=second if second_base > 0 else None,
        second_lp_private_key=ANVIL_DEV_KEYS[SECOND_LP] if second_base > 0 else None,
    )
