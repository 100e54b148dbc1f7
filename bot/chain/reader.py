"""``LpChainReader``: the ChainReader port over the configured LP positions.

Reads every position pinned to one block, turns raw reads into exposures with the pure core,
and refuses partial data: one failed position read fails the whole snapshot, so the engine never
trades on a target that silently lost a position.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from web3 import AsyncWeb3

from bot.chain.failover import FailoverProvider
from bot.chain.heads import block_info, latest_block
from bot.chain.rpc import checksum, connect
from bot.chain.uniswap_v2 import V2PoolReader
from bot.chain.uniswap_v3 import V3PositionReader
from bot.config import Settings, V2PositionConfig, V3PositionConfig
from bot.core.amm import v2_exposure
from bot.domain import ChainSnapshot, PositionExposure, TokenInfo
from bot.errors import ChainError, PositionReadError

__all__ = ["LpChainReader", "connect_web3"]


def connect_web3(
    rpc_urls: str | Sequence[str], request_timeout_s: float, *, max_lag_blocks: int = 3
) -> AsyncWeb3[Any]:
    """An AsyncWeb3 client with bounded requests; several URLs fail over by health."""
    if isinstance(rpc_urls, str):
        return connect(rpc_urls, request_timeout_s=request_timeout_s)
    if len(rpc_urls) == 1:
        return connect(rpc_urls[0], request_timeout_s=request_timeout_s)
    provider = FailoverProvider(
        rpc_urls, request_timeout_s=request_timeout_s, max_lag_blocks=max_lag_blocks
    )
    return AsyncWeb3(provider)


class LpChainReader:
    """Implements ``bot.ports.ChainReader`` for the positions of one config."""

    def __init__(self, w3: AsyncWeb3[Any], settings: Settings) -> None:
        self.w3 = w3
        self._timeout_s = settings.chain.request_timeout_s
        self._base = checksum(settings.hedge_asset.base_token)
        self._quote = checksum(settings.hedge_asset.quote_token)
        self._wallet_base = settings.hedge_asset.wallet_base
        self._positions: dict[str, list[V2PositionConfig]] = defaultdict(list)
        self._readers: dict[str, V2PoolReader] = {}
        v3_positions = [p for p in settings.positions if isinstance(p, V3PositionConfig)]
        self._v3 = (
            V3PositionReader(
                w3,
                v3_positions,
                base_token=self._base,
                quote_token=self._quote,
                multicall=settings.chain.multicall,
                include_fees_in_delta=settings.hedge.include_fees_in_delta,
                request_timeout_s=self._timeout_s,
            )
            if v3_positions
            else None
        )
        for position in settings.positions:
            if not isinstance(position, V2PositionConfig):
                continue
            pool = checksum(position.pool)
            self._positions[pool].append(position)
            if pool not in self._readers:
                self._readers[pool] = V2PoolReader(
                    w3,
                    pool,
                    multicall=settings.chain.multicall,
                    request_timeout_s=self._timeout_s,
                )

    async def latest_block(self) -> int:
        """The newest block number the node knows."""
        return await latest_block(self.w3, timeout_s=self._timeout_s)

    def _base_is_token0(self, pool: str, tokens: tuple[TokenInfo, TokenInfo]) -> bool:
        """Token order comes from chain; the pool must hold exactly the configured pair."""
        token0, token1 = (checksum(t.address) for t in tokens)
        if {token0, token1} != {self._base, self._quote}:
            raise PositionReadError(
                f"pool {pool} holds {tokens[0].symbol}/{tokens[1].symbol} "
                f"({token0}, {token1}), not the configured base/quote "
                f"({self._base}, {self._quote})"
            )
        return token0 == self._base

    async def snapshot(self, block_number: int) -> ChainSnapshot:
        """Every configured position at ``block_number``, all or nothing."""
        info = await block_info(self.w3, block_number, timeout_s=self._timeout_s)
        exposures: list[PositionExposure] = []
        price: Decimal | None = None
        for pool, configs in self._positions.items():
            reader = self._readers[pool]
            try:
                reads = await reader.read_many(block_number, [c.owner for c in configs])
            except ChainError as exc:
                raise ChainError(f"pool {pool} at block {block_number}: {exc}") from exc
            tokens = reader.tokens
            assert tokens is not None  # loaded by the first read
            base_is_token0 = self._base_is_token0(pool, tokens)
            for config, read in zip(configs, reads, strict=True):
                exposure = v2_exposure(read, base_is_token0, config.id)
                exposures.append(exposure)
                if price is None:
                    price = exposure.price
        if self._v3 is not None:
            v3 = await self._v3.read(block_number)  # ChainError/PositionReadError propagate
            exposures.extend(v3.positions)
            if price is None:
                price = v3.price
        if price is None:
            raise PositionReadError(f"no position left to price the pool at block {block_number}")
        return ChainSnapshot(
            block_number=info.number,
            block_timestamp=info.timestamp,
            block_hash=info.hash,
            price=price,
            positions=tuple(exposures),
            wallet_base=self._wallet_base,
        )

    async def close(self) -> None:
        """Close the HTTP session of the provider."""
        disconnect = getattr(self.w3.provider, "disconnect", None)
        if disconnect is not None:
            await disconnect()
