"""``LpChainReader``: the ChainReader port over the configured LP positions.

Reads every position pinned to one block, turns raw reads into exposures with the pure core,
and refuses partial data: one failed position read fails the whole snapshot, so the engine never
trades on a target that silently lost a position.

A position that cannot be valued (empty reserves, zero supply, an uninitialised V3 pool, no
contract at an address, a revert, an answer that does not decode) raises ``PositionReadError``
naming it; only a node that cannot be reached or answers nothing usable stays a plain
``ChainError``. Raw ``ValueError``/``ArithmeticError``/... from a protocol reader or the core
math are converted here, per position, whatever the protocol.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import aiohttp
from web3 import AsyncWeb3

from bot.chain.chain_ids import check_chain_id, nothing_to_compare
from bot.chain.failover import FailoverProvider
from bot.chain.heads import block_info, latest_block
from bot.chain.log_ranges import LogWindow
from bot.chain.preflight import REFUSES_START, Finding, inspect_chain
from bot.chain.rpc import checksum, connect, rpc_request
from bot.chain.uniswap_v2 import V2PoolReader
from bot.chain.uniswap_v3 import V3PositionReader
from bot.chain.uniswap_v4 import V4PositionReader
from bot.config import Settings, V2PositionConfig, V3PositionConfig, V4PositionConfig
from bot.domain import ChainSnapshot, PositionExposure, TokenInfo
from bot.errors import ChainError, ConfigError, PositionReadError
from bot.safety import MAX_RESPONSE_BYTES, PayloadRejected, describe_exc, safe_str

__all__ = ["DATA_FAULTS", "LpChainReader", "connect_web3"]

# What bad chain data raises in a protocol reader or the core math (empty reserves, zero
# supply, a zero sqrt price, a short answer): a fault of the position, not a bug of ours.
# decimal.InvalidOperation and ZeroDivisionError are ArithmeticErrors; KeyError a LookupError.
DATA_FAULTS: tuple[type[Exception], ...] = (ValueError, ArithmeticError, LookupError, TypeError)

# Failures of the transport: the node (or the way to it) failed, not the position.
_TRANSPORT: tuple[type[BaseException], ...] = (aiohttp.ClientError, OSError, TimeoutError)


def _transport_failure(exc: BaseException) -> bool:
    """True when ``exc`` or anything chained to it is a transport failure or a refused answer."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (*_TRANSPORT, PayloadRejected)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _cannot_value(what: str, block: int, exc: Exception) -> PositionReadError:
    return PositionReadError(f"{what} cannot be valued at block {block}: {describe_exc(exc)}")


def connect_web3(
    rpc_urls: str | Sequence[str],
    request_timeout_s: float,
    *,
    max_lag_blocks: int = 3,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> AsyncWeb3[Any]:
    """An AsyncWeb3 client with bounded requests and answers; several URLs fail over by
    health. Answers over ``max_response_bytes`` are refused before parsing."""
    urls = [rpc_urls] if isinstance(rpc_urls, str) else list(rpc_urls)
    if len(urls) == 1:
        return connect(
            urls[0], request_timeout_s=request_timeout_s, max_response_bytes=max_response_bytes
        )
    provider = FailoverProvider(
        urls,
        request_timeout_s=request_timeout_s,
        max_lag_blocks=max_lag_blocks,
        max_response_bytes=max_response_bytes,
    )
    return AsyncWeb3(provider)


class LpChainReader:
    """Implements ``bot.ports.ChainReader`` for the positions of one config."""

    def __init__(self, w3: AsyncWeb3[Any], settings: Settings) -> None:
        self.w3 = w3
        self._settings = settings
        multicall = settings.chain.multicall
        self._multicall = [checksum(multicall)] if multicall is not None else []
        self._timeout_s = settings.chain.request_timeout_s
        self._base = checksum(settings.hedge_asset.base_token)
        self._quote = checksum(settings.hedge_asset.quote_token)
        self._wallet_base = settings.hedge_asset.wallet_base
        self._positions: dict[str, list[V2PositionConfig]] = defaultdict(list)
        self._readers: dict[str, V2PoolReader] = {}
        v3_positions = [p for p in settings.positions if isinstance(p, V3PositionConfig)]
        self._v3_ids = [p.id for p in v3_positions]
        self._v3_addresses = sorted(
            {checksum(a) for p in v3_positions for a in (p.pool, p.position_manager) if a}
        )
        self._v3 = (
            V3PositionReader(
                w3,
                v3_positions,
                base_token=self._base,
                quote_token=self._quote,
                multicall=settings.chain.multicall,
                include_fees_in_delta=settings.hedge.include_fees_in_delta,
                request_timeout_s=self._timeout_s,
                owed_logs=LogWindow.of(settings.chain),
            )
            if v3_positions
            else None
        )
        v4_positions = [p for p in settings.positions if isinstance(p, V4PositionConfig)]
        self._v4_ids = [p.id for p in v4_positions]
        self._v4_addresses = sorted(
            {checksum(a) for p in v4_positions for a in (p.position_manager, p.state_view)}
        )
        self._v4 = (
            V4PositionReader(
                w3,
                v4_positions,
                base_token=self._base,
                quote_token=self._quote,
                multicall=settings.chain.multicall,
                include_fees_in_delta=settings.hedge.include_fees_in_delta,
                request_timeout_s=self._timeout_s,
                log_reorg_depth=settings.chain.log_reorg_depth,
            )
            if v4_positions
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
                    fee_share=position.fee_share,  # one per pair (config_v2.fee_share_clashes)
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

    async def start(self) -> list[Finding]:
        """Check the config against the chain once, before the first tick.

        Returns the findings that do not stop the bot (positions holding nothing, positions
        that cannot be read now); raises ``ConfigError`` naming the field when a configured
        hedge-asset token is not a token of a configured pool, base and quote are swapped
        (see ``bot.chain.preflight``) or an endpoint answers another chain id than
        ``chain.chain_id`` (``bot.chain.chain_ids``); ``ChainError`` when no node
        answers (the ticks' own checks then cover it).
        """
        findings: list[Finding] = []
        if not nothing_to_compare(self._settings.chain, several=False):
            findings += (await check_chain_id(self.w3, self._settings.chain))[1]  # pinned
        if not any(f.kind in REFUSES_START for f in findings):
            findings += await inspect_chain(self.w3, self._settings)
        wrong = [f for f in findings if f.kind in REFUSES_START]
        if wrong:
            raise ConfigError("; ".join(str(f) for f in wrong))
        return findings

    async def snapshot(self, block_number: int) -> ChainSnapshot:
        """Every configured position at ``block_number``, all or nothing.

        Raises ``PositionReadError`` naming the position when one cannot be valued, and
        ``ChainError`` when the node cannot be read.
        """
        info = await block_info(self.w3, block_number, timeout_s=self._timeout_s)
        exposures: list[PositionExposure] = []
        for pool, configs in self._positions.items():
            exposures += await self._v2_pool(pool, configs, block_number)
        if self._v3 is not None:
            exposures += await self._v3_positions(block_number)
        if self._v4 is not None:
            exposures += await self._v4_positions(block_number)
        if not exposures:
            raise PositionReadError(f"no position left to price the pool at block {block_number}")
        nft_readers = [r for r in (self._v3, self._v4) if r is not None]
        return ChainSnapshot(
            block_number=info.number,
            block_timestamp=info.timestamp,
            block_hash=info.hash,
            price=exposures[0].price,
            positions=tuple(exposures),
            wallet_base=self._wallet_base,
            notices=tuple(n for r in nft_readers for n in r.take_notices()),
            moves=tuple(m for r in nft_readers for m in r.take_moves()),
        )

    async def _v2_pool(
        self, pool: str, configs: list[V2PositionConfig], block: int
    ) -> list[PositionExposure]:
        what = f"position {', '.join(c.id for c in configs)} (pool {pool})"
        reader = self._readers[pool]
        try:
            reads = await reader.read_many(block, [c.owner for c in configs])
            assert reader.tokens is not None  # loaded by the first read
            base_is_token0 = self._base_is_token0(pool, reader.tokens)
            return [
                reader.exposure(read, base_is_token0, config.id)
                for config, read in zip(configs, reads, strict=True)
            ]
        except PositionReadError:
            raise
        except ChainError as exc:
            raise await self._classify(what, [pool], block, exc) from exc
        except DATA_FAULTS as exc:
            raise _cannot_value(what, block, exc) from exc

    async def _v3_positions(self, block: int) -> list[PositionExposure]:
        assert self._v3 is not None
        what = f"V3 position {', '.join(self._v3_ids)}"
        try:
            return list((await self._v3.read(block)).positions)
        except PositionReadError:
            raise
        except ChainError as exc:
            raise await self._classify(what, self._v3_addresses, block, exc) from exc
        except DATA_FAULTS as exc:
            raise _cannot_value(what, block, exc) from exc

    async def _v4_positions(self, block: int) -> list[PositionExposure]:
        assert self._v4 is not None
        what = f"V4 position {', '.join(self._v4_ids)}"
        try:
            return list((await self._v4.read(block)).positions)
        except PositionReadError:
            raise
        except ChainError as exc:
            raise await self._classify(what, self._v4_addresses, block, exc) from exc
        except DATA_FAULTS as exc:
            raise _cannot_value(what, block, exc) from exc

    async def _classify(
        self, what: str, addresses: Sequence[str], block: int, exc: ChainError
    ) -> ChainError:
        """The error a failed read stands for: the node's (``ChainError``) when it could not
        be reached; the position's (``PositionReadError``) when the node answers about the
        block but the contract is missing, reverts or answers garbage."""
        if _transport_failure(exc):
            return ChainError(f"{what} at block {block}: {safe_str(exc)}")
        missing = [a for a in [*addresses, *self._multicall] if not await self._has_code(a, block)]
        if missing:
            return PositionReadError(
                f"{what}: no contract at {', '.join(missing)} at block {block}"
            )
        return PositionReadError(f"{what} unreadable at block {block}: {safe_str(exc)}")

    async def _has_code(self, address: str, block: int) -> bool:
        """``ChainError`` when the node does not answer: then the node is what failed."""
        code = await rpc_request(
            self.w3, "eth_getCode", checksum(address), hex(block), timeout_s=self._timeout_s
        )
        return isinstance(code, str) and code not in ("0x", "0x0", "")

    async def close(self) -> None:
        """Close the HTTP session of the provider."""
        disconnect = getattr(self.w3.provider, "disconnect", None)
        if disconnect is not None:
            await disconnect()
