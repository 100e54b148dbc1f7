"""The ``kind: v4`` position section: a Uniswap V4 NFT, by token id or by owner discovery.

Kept apart from ``bot/config.py`` (which includes it in the position union) so that module
stays one screenful per idea; the reader is ``bot/chain/uniswap_v4.py``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.config_address import Address
from bot.config_chains import ChainName

__all__ = ["V4PositionConfig"]


class V4PositionConfig(BaseModel):
    """A Uniswap V4 position: an NFT of the V4 ``position_manager``, read through
    ``state_view``.

    One of: ``token_id`` (``owner``, when given, is the holder it must stay with); or every
    NFT ``owner`` holds (``discover: true``), found from the PositionManager's ``Transfer``
    logs from ``from_block`` on (V4 has no enumeration), in ``eth_getLogs`` ranges of at most
    ``log_chunk_blocks`` blocks.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["v4"]
    chain: ChainName | None = None  # None: the primary chain (bot.config_chains)
    position_manager: Address
    state_view: Address
    token_id: Annotated[int, Field(ge=0)] | None = None
    owner: Address | None = None
    discover: bool = False
    from_block: Annotated[int, Field(ge=0)] = 0
    log_chunk_blocks: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000

    @model_validator(mode="after")
    def _one_way_to_find_it(self) -> V4PositionConfig:
        discovered = self.owner is not None and self.discover
        if (self.token_id is not None) == discovered or (self.discover and not discovered):
            raise ValueError("give exactly one of: token_id; owner + discover: true")
        return self
