"""Uniswap V2 LP math: amounts, value, delta, gamma and impermanent loss.

A V2 pair holds reserves x (base) and y (quote) with x·y = k. A holder of a share s of the
LP supply owns s·x base and s·y quote (``UniswapV2Pair.burn`` pays ``liquidity · reserve /
totalSupply``, rounded down). With the position's liquidity ``L = s·sqrt(x·y)`` and the price
``P = y/x`` (quote per base), the value is ``V(P) = 2·L·sqrt(P)``, so

* delta ``dV/dP = L / sqrt(P)`` = the base amount held (the base reserve share),
* gamma ``d²V/dP² = -L / (2·P^1.5)`` = ``-amount_base / (2·P)``,
* impermanent loss vs holding the entry amounts ``2·sqrt(r)/(1+r) - 1`` for ``r = P/P0``
  (Uniswap V2 whitepaper; Pintail, "Uniswap: a good deal for liquidity providers?", 2019).

Integers stay integers until the last step: base amounts are computed in raw token units with
the pair's own rounding, then scaled by the token decimals, so the delta matches what ``burn``
would pay to the last wei.
"""

from __future__ import annotations

from decimal import Context, Decimal, localcontext

from bot.domain import PositionExposure, V2PoolRead

__all__ = [
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


def v2_exposure(read: V2PoolRead, base_is_token0: bool, position_id: str) -> PositionExposure:
    """Exposure of the LP tokens in ``read``; token order and decimals come from chain."""
    if base_is_token0:
        base_token, quote_token = read.token0, read.token1
        reserve_base, reserve_quote = read.reserve0, read.reserve1
    else:
        base_token, quote_token = read.token1, read.token0
        reserve_base, reserve_quote = read.reserve1, read.reserve0
    if reserve_base <= 0 or reserve_quote <= 0:
        raise ValueError(f"pool {read.pair} has an empty reserve")
    base_raw = raw_share(reserve_base, read.lp_balance, read.total_supply)
    quote_raw = raw_share(reserve_quote, read.lp_balance, read.total_supply)
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
    )
