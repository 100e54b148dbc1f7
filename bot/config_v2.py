"""The ``kind: v2`` position section: LP tokens of a V2 pair, and the pair's protocol-fee share.

Kept apart from ``bot/config.py`` (which includes it in the position union); the reader is
``bot/chain/uniswap_v2.py``, the math ``bot/core/amm.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.config_address import Address
from bot.config_chains import ChainName
from bot.config_checks import chain_identities
from bot.core.amm import V2_FEE_SHARES, ProtocolFeeShare, V2ProtocolFee

__all__ = ["V2PositionConfig", "fee_share_clashes"]


class V2PositionConfig(BaseModel):
    """LP tokens of a Uniswap V2 pair (or a fork's) held by ``owner``.

    ``protocol_fee`` is the fork's ``_mintFee`` share, used when the pair's factory has
    ``feeTo`` set: ``uniswap`` (Uniswap V2, SushiSwap: 1/6 of the growth in sqrt(k)) or
    ``pancake`` (PancakeSwap V2: 8/25). Another value is refused naming the field.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["v2"] = "v2"
    chain: ChainName | None = None  # None: the primary chain (bot.config_chains)
    pool: Address
    owner: Address
    protocol_fee: V2ProtocolFee = "uniswap"

    @property
    def fee_share(self) -> ProtocolFeeShare:
        """The integer constants of this pair's ``_mintFee`` (``bot.core.amm``)."""
        return V2_FEE_SHARES[self.protocol_fee]


def fee_share_clashes(settings: Any) -> list[str]:
    """``positions.<i>.protocol_fee: reason`` for each V2 position whose share differs from an
    earlier position's on the same pair and chain (two chain names are one chain as in
    ``bot.config_checks.chain_identities``): one pair has one ``_mintFee``, so the two cannot
    both be right. ``settings`` is a validated ``bot.config.Settings``."""
    identity = chain_identities(settings.chains)
    first: dict[tuple[str, str], tuple[int, str]] = {}
    problems = []
    positions: Sequence[Any] = settings.positions
    for index, position in enumerate(positions):
        if not isinstance(position, V2PositionConfig):
            continue
        key = (identity.get(position.chain, str(position.chain)), position.pool.lower())
        seen = first.setdefault(key, (index, position.protocol_fee))
        if seen[1] != position.protocol_fee:
            problems.append(
                f"positions.{index}.protocol_fee: {position.protocol_fee!r}, but positions."
                f"{seen[0]} on the same pair {position.pool} says {seen[1]!r}: a pair has one "
                "protocol-fee share"
            )
    return problems
