"""Uniswap V2 LP math: amounts, value, delta, gamma and impermanent loss.

A V2 pair holds reserves x (base) and y (quote) with x·y = k. A holder of a share s of the
LP supply owns s·x base and s·y quote (``UniswapV2Pair.burn`` pays ``liquidity · balance /
totalSupply``, rounded down, after ``_mintFee`` has minted the pending protocol fee). With
the position's liquidity ``L = s·sqrt(x·y)`` and the price ``P = y/x`` (quote per base), the
value is ``V(P) = 2·L·sqrt(P)``, so

* delta ``dV/dP = L / sqrt(P)`` = the base amount held (the base reserve share),
* gamma ``d²V/dP² = -L / (2·P^1.5)`` = ``-amount_base / (2·P)``,
* impermanent loss vs holding the entry amounts ``2·sqrt(r)/(1+r) - 1`` for ``r = P/P0``
  (Uniswap V2 whitepaper; Pintail, "Uniswap: a good deal for liquidity providers?", 2019).

Integers stay integers until the last step: base amounts are computed in raw token units with
the pair's own rounding, then scaled by the token decimals, so the delta matches what ``burn``
would pay to the last wei.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from types import MappingProxyType
from typing import Literal

from bot.domain import PositionExposure, V2PoolRead

__all__ = [
    "PANCAKE_V2_FEE",
    "UNISWAP_V2_FEE",
    "V2_FEE_SHARES",
    "ProtocolFeeShare",
    "V2ProtocolFee",
    "burn_supply",
    "pending_fee_liquidity",
    "raw_share",
    "to_units",
    "v2_delta",
    "v2_exposure",
    "v2_gamma",
    "v2_il_fraction",
    "v2_value",
]

_PRECISION = 60  # digits; a uint112 reserve times a uint256 supply fits with room to spare
_EXACT = Context(prec=100)  # wide enough that scaling a uint256 never rounds
_E18 = Decimal("1e-18")  # prices, values and gamma are reported to 18 decimals


def to_units(raw: int, decimals: int) -> Decimal:
    """Raw token units as a human amount, exactly (``raw / 10**decimals``)."""
    return Decimal(raw).scaleb(-decimals, _EXACT)


def raw_share(reserve: int, lp_balance: int, total_supply: int) -> int:
    """What ``burn`` pays for ``lp_balance`` of ``total_supply``: floor(balance·reserve/supply)."""
    if total_supply <= 0:
        return 0
    return lp_balance * reserve // total_supply


@dataclass(frozen=True, slots=True)
class ProtocolFeeShare:
    """The integer constants of a V2 fork's ``_mintFee``: the LP tokens minted to ``feeTo`` are
    ``supply·(rootK − rootKLast)·numerator / (rootK·root_k_factor + rootKLast·root_k_last_factor)``.
    """

    numerator: int = 1
    root_k_factor: int = 5
    root_k_last_factor: int = 1


UNISWAP_V2_FEE = ProtocolFeeShare()  # 1/6 of the growth in sqrt(k); SushiSwap uses the same
# PancakeSwap's PancakePair._mintFee: 8/25 of the growth in sqrt(k)
PANCAKE_V2_FEE = ProtocolFeeShare(numerator=8, root_k_factor=17, root_k_last_factor=8)

V2ProtocolFee = Literal["uniswap", "pancake"]  # a V2 position's ``protocol_fee`` config value
V2_FEE_SHARES: Mapping[V2ProtocolFee, ProtocolFeeShare] = MappingProxyType(
    {"uniswap": UNISWAP_V2_FEE, "pancake": PANCAKE_V2_FEE}
)


def pending_fee_liquidity(
    reserve0: int,
    reserve1: int,
    k_last: int,
    total_supply: int,
    *,
    fee_on: bool,
    share: ProtocolFeeShare = UNISWAP_V2_FEE,
) -> int:
    """LP tokens the next ``mint``/``burn`` mints to ``feeTo`` first (``UniswapV2Pair._mintFee``).

    Integer math as the contract does it (``Math.sqrt`` is the floor square root); 0 when the
    fee is off, ``kLast`` is 0 or ``sqrt(k)`` did not grow. Raw LP units.
    """
    if not fee_on or k_last == 0:
        return 0
    root_k = math.isqrt(reserve0 * reserve1)
    root_k_last = math.isqrt(k_last)
    if root_k <= root_k_last:
        return 0
    numerator = total_supply * (root_k - root_k_last) * share.numerator
    denominator = root_k * share.root_k_factor + root_k_last * share.root_k_last_factor
    return numerator // denominator


def burn_supply(read: V2PoolRead, share: ProtocolFeeShare = UNISWAP_V2_FEE) -> int:
    """The ``totalSupply`` that ``burn`` divides by at ``read``'s block: the supply plus the
    pending protocol-fee mint (``_mintFee`` runs before the division). Raw LP units."""
    return read.total_supply + pending_fee_liquidity(
        read.reserve0,
        read.reserve1,
        read.k_last,
        read.total_supply,
        fee_on=read.fee_on,
        share=share,
    )


def v2_value(liquidity: Decimal, price: Decimal) -> Decimal:
    """Position value in quote, ``2·L·sqrt(P)``."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return 2 * liquidity * price.sqrt()


def v2_delta(liquidity: Decimal, price: Decimal) -> Decimal:
    """``dV/dP = L / sqrt(P)``: the base amount held, in base units."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return liquidity / price.sqrt()


def v2_gamma(liquidity: Decimal, price: Decimal) -> Decimal:
    """``d²V/dP² = -L / (2·P^1.5)``: base units per (quote per base)."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return -liquidity / (2 * price * price.sqrt())


def v2_il_fraction(entry_price: Decimal, price: Decimal) -> Decimal:
    """LP value over the value of holding the entry amounts, minus one (always <= 0)."""
    if entry_price <= 0 or price <= 0:
        raise ValueError("prices must be positive")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        ratio = price / entry_price
        return 2 * ratio.sqrt() / (1 + ratio) - 1


def v2_exposure(
    read: V2PoolRead,
    base_is_token0: bool,
    position_id: str,
    share: ProtocolFeeShare = UNISWAP_V2_FEE,
) -> PositionExposure:
    """Exposure of the LP tokens in ``read``; token order and decimals come from chain.

    Amounts are what ``burn`` pays at that block, to the wei: the pair's token balances (not
    the reserves: ``burn`` pays donated, unsynced tokens too) times the LP balance over the
    supply including the pending protocol-fee mint (``burn_supply``). The exposure's ``pool`` is
    the pair; no range prices (full range). Raises ``ValueError`` for an empty reserve.
    """
    if base_is_token0:
        base_token, quote_token = read.token0, read.token1
        reserve_base, reserve_quote = read.reserve0, read.reserve1
        balance_base, balance_quote = read.balance0, read.balance1
    else:
        base_token, quote_token = read.token1, read.token0
        reserve_base, reserve_quote = read.reserve1, read.reserve0
        balance_base, balance_quote = read.balance1, read.balance0
    if reserve_base <= 0 or reserve_quote <= 0:
        raise ValueError(f"pool {read.pair} has an empty reserve")
    supply = burn_supply(read, share)
    base_raw = raw_share(
        reserve_base if balance_base is None else balance_base, read.lp_balance, supply
    )
    quote_raw = raw_share(
        reserve_quote if balance_quote is None else balance_quote, read.lp_balance, supply
    )
    amount_base = to_units(base_raw, base_token.decimals)
    amount_quote = to_units(quote_raw, quote_token.decimals)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        price = to_units(reserve_quote, quote_token.decimals) / to_units(
            reserve_base, base_token.decimals
        )
        value = (amount_base * price + amount_quote).quantize(_E18)
        gamma = (-amount_base / (2 * price)).quantize(_E18)
        price = price.quantize(_E18)
    return PositionExposure(
        id=position_id,
        kind="v2",
        amount_base=amount_base,
        amount_quote=amount_quote,
        value_quote=value,
        delta_base=amount_base,
        gamma=gamma,
        price=price,
        liquidity=read.lp_balance,
        pool=read.pair,
    )
