"""A simulated market on the local chain: a seeded GBM price path and a trader who swaps
through the real Uniswap V2 pair so the pool follows it, one block per step.

Floats only for the path itself (ARCHITECTURE.md: "float only inside simulation"); swap
amounts are exact integers computed like UniswapV2Library.getAmountOut (0.3% fee).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from types import TracebackType
from typing import Any, Literal, Self

from web3 import AsyncWeb3

from bot.chain.rpc import checksum, connect, guarded, load_abi, rpc_request
from bot.sim.compile import compiled_contracts
from bot.sim.deploy import DeploymentError, LocalDeployment

__all__ = [
    "SECONDS_PER_YEAR",
    "MarketDriver",
    "MarketStep",
    "SeededGbm",
    "V2Swap",
    "pool_price",
    "swap_to_price",
    "v2_amount_out",
]

SECONDS_PER_YEAR = 365 * 24 * 3600
_TIMEOUT_S = 10.0
_GAS_TOKEN = 120_000
_GAS_SWAP = 250_000


class SeededGbm:
    """Geometric Brownian motion, reproducible from ``seed``.

    S(t+dt) = S(t) * exp((mu - sigma^2/2) dt + sigma sqrt(dt) Z), Z ~ N(0, 1), dt in years.
    """

    def __init__(
        self,
        *,
        start_price: float,
        sigma_annual: float,
        step_s: float,
        drift_annual: float = 0.0,
        seed: int = 0,
    ) -> None:
        if start_price <= 0 or step_s <= 0 or sigma_annual < 0:
            raise ValueError("start_price and step_s must be positive, sigma_annual >= 0")
        self._rng = random.Random(seed)
        self._price = start_price
        dt = step_s / SECONDS_PER_YEAR
        self._mean = (drift_annual - sigma_annual**2 / 2) * dt
        self._scale = sigma_annual * math.sqrt(dt)

    @property
    def price(self) -> float:
        """The current price."""
        return self._price

    def advance(self) -> float:
        """Move one step and return the new price."""
        self._price *= math.exp(self._mean + self._scale * self._rng.gauss(0.0, 1.0))
        return self._price


def v2_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """Output of a V2 swap after the 0.3% fee (UniswapV2Library.getAmountOut)."""
    if amount_in <= 0 or reserve_in <= 0 or reserve_out <= 0:
        raise ValueError("amount and reserves must be positive")
    amount_in_with_fee = amount_in * 997
    return amount_in_with_fee * reserve_out // (reserve_in * 1000 + amount_in_with_fee)


@dataclass(frozen=True, slots=True)
class V2Swap:
    """One exact-input swap against a pair."""

    zero_for_one: bool  # token0 in, token1 out
    amount_in: int
    amount_out: int


def swap_to_price(reserve0: int, reserve1: int, target_price1_per_0: Fraction) -> V2Swap | None:
    """The smallest exact-input swap that moves reserve1/reserve0 to ``target`` or past it.

    Found by bisection on the integer input, so the fee and rounding are exact. ``None`` when
    the pool already sits at the target.
    """
    current = Fraction(reserve1, reserve0)
    if target_price1_per_0 <= 0:
        raise ValueError("target price must be positive")
    if current == target_price1_per_0:
        return None
    zero_for_one = target_price1_per_0 < current
    reserve_in, reserve_out = (reserve0, reserve1) if zero_for_one else (reserve1, reserve0)

    def reached(amount_in: int) -> bool:
        out = v2_amount_out(amount_in, reserve_in, reserve_out)
        if out >= reserve_out:
            return True
        if zero_for_one:
            return Fraction(reserve1 - out, reserve0 + amount_in) <= target_price1_per_0
        return Fraction(reserve1 + amount_in, reserve0 - out) >= target_price1_per_0

    hi = max(1, reserve_in // 1000)
    while not reached(hi):
        hi *= 2
    lo = 0  # reached(0) is False: the price differs from the target
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reached(mid):
            hi = mid
        else:
            lo = mid
    out = v2_amount_out(hi, reserve_in, reserve_out)
    if out == 0 or out >= reserve_out:
        return None
    return V2Swap(zero_for_one=zero_for_one, amount_in=hi, amount_out=out)


def pool_price(deployment: LocalDeployment, reserve0: int, reserve1: int) -> Decimal:
    """Mid price of the deployed pair in quote per base, from raw reserves."""
    d = deployment
    base, quote = (reserve0, reserve1) if d.base_is_token0 else (reserve1, reserve0)
    return (Decimal(quote) / Decimal(base)).scaleb(d.base_decimals - d.quote_decimals)


@dataclass(frozen=True, slots=True)
class MarketStep:
    """What one driver step did."""

    block_number: int
    block_timestamp: int
    target_price: Decimal  # quote per base
    pool_price: Decimal  # quote per base, after the swap
    swap: V2Swap | None


class MarketDriver:
    """Moves the pool to the price path, one mined block per ``step()``.

    Each step: next target from the path; the exact swap computed from the latest reserves;
    the trader's token transfer and ``pair.swap`` mined together in one block whose
    timestamp is ``step_s`` after the previous block.
    """

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        deployment: LocalDeployment,
        path: SeededGbm,
        *,
        step_s: int,
        automine: bool,
        owns_connection: bool = False,
    ) -> None:
        if step_s < 1:
            raise ValueError("step_s must be at least 1 second")
        self._w3 = w3
        self._deployment = deployment
        self._path = path
        self._step_s = step_s
        self._automine = automine
        self._owns_connection = owns_connection
        self._target = Decimal(repr(path.price))
        token_abi = compiled_contracts()["TestToken"].abi
        self._pair = w3.eth.contract(
            address=checksum(deployment.pair), abi=load_abi("uniswap_v2_pair")
        )
        self._token0 = w3.eth.contract(address=checksum(deployment.token0), abi=token_abi)
        self._token1 = w3.eth.contract(address=checksum(deployment.token1), abi=token_abi)

    @classmethod
    async def create(
        cls,
        deployment: LocalDeployment,
        *,
        sigma_annual: float = 0.9,
        drift_annual: float = 0.0,
        step_s: int = 600,
        seed: int = 7,
        start_price: Decimal | None = None,
    ) -> MarketDriver:
        """A driver with its own connection; the path starts at the pool price by default."""
        w3 = connect(deployment.rpc_url, request_timeout_s=_TIMEOUT_S)
        try:
            automine = bool(await rpc_request(w3, "anvil_getAutomine"))
            if start_price is None:
                pair = w3.eth.contract(
                    address=checksum(deployment.pair), abi=load_abi("uniswap_v2_pair")
                )
                r0, r1, _ = await guarded(
                    "pair.getReserves", pair.functions.getReserves().call(), _TIMEOUT_S
                )
                start_price = pool_price(deployment, int(r0), int(r1))
        except BaseException:
            await w3.provider.disconnect()
            raise
        path = SeededGbm(
            start_price=float(start_price),
            sigma_annual=sigma_annual,
            drift_annual=drift_annual,
            step_s=step_s,
            seed=seed,
        )
        return cls(w3, deployment, path, step_s=step_s, automine=automine, owns_connection=True)

    @property
    def target_price(self) -> Decimal:
        """The path's current price (quote per base): what a simulated mark should follow."""
        return self._target

    @property
    def step_s(self) -> int:
        """Chain seconds per step."""
        return self._step_s

    async def reserves(self, block: int | Literal["latest"] = "latest") -> tuple[int, int]:
        """``(reserve0, reserve1)`` of the pair."""
        r0, r1, _ = await guarded(
            "pair.getReserves",
            self._pair.functions.getReserves().call(block_identifier=block),
            _TIMEOUT_S,
        )
        return int(r0), int(r1)

    def _raw_target(self, price_quote_per_base: Decimal) -> Fraction:
        """Human quote-per-base price as raw token1 per raw token0."""
        d = self._deployment
        raw = Fraction(price_quote_per_base) * Fraction(10**d.quote_decimals, 10**d.base_decimals)
        return raw if d.base_is_token0 else 1 / raw

    async def pool_price(self, block: int | Literal["latest"] = "latest") -> Decimal:
        """The pool's mid price, quote per base."""
        return pool_price(self._deployment, *await self.reserves(block))

    async def step(self) -> MarketStep:
        """Advance the path one step and move the pool there."""
        target = Decimal(repr(self._path.advance()))
        return await self.move_to(target)

    async def move_to(self, price_quote_per_base: Decimal) -> MarketStep:
        """Swap the pool to ``price_quote_per_base`` in one new block (path untouched)."""
        self._target = price_quote_per_base
        w3 = self._w3
        trader = self._deployment.trader_account
        reserve0, reserve1 = await self.reserves()
        swap = swap_to_price(reserve0, reserve1, self._raw_target(price_quote_per_base))
        latest: Any = await guarded("eth_getBlockByNumber", w3.eth.get_block("latest"), _TIMEOUT_S)
        next_timestamp = int(latest["timestamp"]) + self._step_s

        tx_hashes: list[Any] = []
        if self._automine:
            await rpc_request(w3, "evm_setAutomine", False)
        try:
            if swap is not None:
                tx_hashes = await self._send_swap(trader, swap)
            await rpc_request(w3, "anvil_setNextBlockTimestamp", next_timestamp)
            await rpc_request(w3, "evm_mine")
        finally:
            if self._automine:
                await rpc_request(w3, "evm_setAutomine", True)
        for tx_hash in tx_hashes:
            receipt: Any = await guarded(
                "swap receipt", w3.eth.get_transaction_receipt(tx_hash), _TIMEOUT_S
            )
            if receipt["status"] != 1:
                raise DeploymentError(f"market swap reverted (tx 0x{bytes(tx_hash).hex()})")
        block: Any = await guarded("eth_getBlockByNumber", w3.eth.get_block("latest"), _TIMEOUT_S)
        number = int(block["number"])
        return MarketStep(
            block_number=number,
            block_timestamp=int(block["timestamp"]),
            target_price=price_quote_per_base,
            pool_price=await self.pool_price(number),
            swap=swap,
        )

    async def _send_swap(self, trader: str, swap: V2Swap) -> list[Any]:
        """Queue (mint shortfall,) transfer in, ``pair.swap``: mined by the caller."""
        token_in = self._token0 if swap.zero_for_one else self._token1
        nonce = int(
            await guarded(
                "eth_getTransactionCount",
                self._w3.eth.get_transaction_count(checksum(trader), "pending"),
                _TIMEOUT_S,
            )
        )
        held = int(
            await guarded("balanceOf", token_in.functions.balanceOf(trader).call(), _TIMEOUT_S)
        )
        calls: list[tuple[str, Any, int]] = []
        if held < swap.amount_in:
            calls.append(
                ("mint", token_in.functions.mint(trader, swap.amount_in - held), _GAS_TOKEN)
            )
        calls.append(
            (
                "transfer",
                token_in.functions.transfer(self._deployment.pair, swap.amount_in),
                _GAS_TOKEN,
            )
        )
        amount0_out, amount1_out = (
            (0, swap.amount_out) if swap.zero_for_one else (swap.amount_out, 0)
        )
        calls.append(
            (
                "pair.swap",
                self._pair.functions.swap(amount0_out, amount1_out, trader, b""),
                _GAS_SWAP,
            )
        )
        hashes: list[Any] = []
        for offset, (what, fn, gas) in enumerate(calls):
            params = {"from": trader, "gas": gas, "nonce": nonce + offset}
            hashes.append(await guarded(what, fn.transact(params), _TIMEOUT_S))
        return hashes

    async def close(self) -> None:
        """Close the connection when the driver opened it."""
        if self._owns_connection:
            await self._w3.provider.disconnect()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
