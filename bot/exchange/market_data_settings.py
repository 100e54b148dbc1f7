"""``exchange.paper.market_data``: where paper mode reads a live market (public data only).

Absent (the default), the paper venue's mark follows the pool price plus ``basis_bps`` and
works offline. Present, the mark, index, funding rate, next funding time, order book and
market rules (amount step, price tick, minimums) come from ``exchange_id``'s public endpoints
through ccxt, with no keys (:mod:`bot.exchange.paper_market`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MarketDataSettings"]


class MarketDataSettings(BaseModel):
    """A live venue's public market data for the paper venue."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    exchange_id: Annotated[str, Field(min_length=1)]  # a ccxt exchange id, e.g. binanceusdm
    # the live venue's unified symbol (e.g. ETH/USDC:USDC on hyperliquid); None: exchange.symbol
    symbol: str | None = None
    sandbox: bool = False  # the venue's testnet data (ccxt set_sandbox_mode)
    urls: dict[str, str] = Field(default_factory=dict)  # ccxt urls['api'] overrides
    timeout_ms: Annotated[int, Field(gt=0)] = 10_000
    book_depth: Annotated[int, Field(ge=1, le=1000)] = 20  # levels read per side
