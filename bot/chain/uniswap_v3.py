"""Uniswap V3 position reader: every pool and position of a config in one eth_call per block.

Positions come as NFTs of a ``NonfungiblePositionManager`` (by token id, or all NFTs of an
owner) or as positions owned directly in a pool. Immutable facts (a token id's pool and ticks,
token order and decimals, the NPM's factory) are read once and cached; after that a block
costs ONE Multicall ``tryAggregate`` eth_call pinned to the block: pools' slot0, liquidity and
fee growth, the ticks of every range, NPM/pool positions, owners and discovery counters. Past
``MAX_CALLS_PER_ETH_CALL`` sub-calls (~250 positions) the batch is split into concurrent
eth_calls, all pinned to the same block, since one call would exceed nodes' eth_call gas cap.
Only a changed NFT set of a discovered owner costs extra round trips (same block).

Failure stance: any failed sub-call raises ``PositionReadError``; a burned NFT or one no longer
owned by its owner is removed from the hedge and reported by a ``PositionReadError`` on the
block where it is found, so that tick does not trade and the alert is never silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import structlog
from web3 import AsyncWeb3

from bot.chain.multicall import BatchReader, ContractCall, encode_call
from bot.chain.rpc import checksum, load_abi
from bot.chain.v3_calls import (
    POOL_INIT_CODE_HASH,
    CallPlan,
    Tracked,
    TrackedState,
    decode_static,
    pool_address,
    position_key,
)
from bot.chain.v3_owed import OwedSplitter
from bot.config import V3PositionConfig
from bot.core.v3 import PairDecimals
from bot.core.v3_position import V3PoolState, V3PositionState, V3TickState, v3_exposure
from bot.domain import ChainNotice, PositionExposure
from bot.errors import PositionReadError

__all__ = ["POOL_INIT_CODE_HASH", "V3PositionReader", "V3Read", "pool_address", "position_key"]

log = structlog.get_logger("hedgebot.chain.uniswap_v3")

# Sub-calls per Multicall eth_call. A cold NPM ``positions`` read costs ~15k gas, so 1000 stay
# well under common eth_call gas caps (anvil 30M, geth 50M); about 250 positions fit in one.
MAX_CALLS_PER_ETH_CALL = 1000


@dataclass(frozen=True, slots=True)
class V3Read:
    """All V3 exposures at one block, and the price of the first pool read."""

    block_number: int
    positions: tuple[PositionExposure, ...]
    price: Decimal | None


def _checksummed(config: V3PositionConfig) -> V3PositionConfig:
    """The config with EIP-55 addresses, so reads compare and key without re-hashing."""
    fields = ("pool", "owner", "position_manager")
    update = {f: checksum(getattr(config, f)) for f in fields if getattr(config, f) is not None}
    return config.model_copy(update=update)


class V3PositionReader:
    """Reads the V3 positions of a config at a block, all or nothing."""

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        positions: Sequence[V3PositionConfig],
        *,
        base_token: str,
        quote_token: str,
        multicall: str | None,
        include_fees_in_delta: bool = False,
        request_timeout_s: float = 10.0,
        max_calls_per_eth_call: int = MAX_CALLS_PER_ETH_CALL,
        owed_logs_from_block: int = 0,
    ) -> None:
        self._w3 = w3
        self._configs = [_checksummed(c) for c in positions]
        self._base, self._quote = checksum(base_token), checksum(quote_token)
        self._batch = BatchReader(
            w3,
            multicall=multicall,
            request_timeout_s=request_timeout_s,
            max_calls_per_eth_call=max_calls_per_eth_call,
        )
        self._fees_in_delta = include_fees_in_delta
        self._timeout_s = request_timeout_s
        self._owed = OwedSplitter(w3, from_block=owed_logs_from_block, timeout_s=request_timeout_s)
        self._npm_abi = load_abi("uniswap_v3_position_manager")
        self._pool_abi = load_abi("uniswap_v3_pool")
        self._erc20_abi = load_abi("erc20")
        self._factories: dict[str, str] = {}  # npm -> factory
        self._pairs: dict[str, PairDecimals] = {}  # pool -> ordering and decimals
        self._nfts: dict[tuple[str, int], Tracked] = {}
        self._discovered: dict[str, list[int]] = {}  # config id -> token ids, index order
        self._removed: set[str] = set()
        self._duplicates: set[tuple[str, str, tuple[Any, ...]]] = set()
        self._notices: list[ChainNotice] = []
        self._plan_cache: tuple[Any, CallPlan] | None = None
        self._ready = False  # immutable facts of every tracked position loaded

    # --- batching ------------------------------------------------------------------------

    async def _run(self, calls: Sequence[ContractCall], block: int) -> list[tuple[Any, ...] | None]:
        """Decoded answers at ``block``, ``None`` for a revert; one eth_call per Multicall chunk."""
        return await self._batch.try_run(calls, block, decode=decode_static)

    async def _run_all(self, calls: Sequence[ContractCall], block: int) -> list[tuple[Any, ...]]:
        """Like ``_run`` but any revert is a ``PositionReadError`` naming the call."""
        results = await self._run(calls, block)
        failed = [c.label for c, r in zip(calls, results, strict=True) if r is None]
        if failed:
            raise PositionReadError(f"reverted at block {block}: {', '.join(failed[:5])}")
        return [r for r in results if r is not None]

    def _npm(self, npm: str, fn: str, *args: Any) -> ContractCall:
        return encode_call(f"npm.{fn}{args!r}", npm, self._npm_abi, fn, *args)

    def _pool(self, pool: str, fn: str, *args: Any) -> ContractCall:
        return encode_call(f"pool {pool}.{fn}", pool, self._pool_abi, fn, *args)

    # --- immutable facts, read once ------------------------------------------------------

    async def _load_metadata(self, block: int) -> None:
        if self._ready:
            return
        npms = {c.position_manager for c in self._configs if c.position_manager}
        missing = sorted(npms - self._factories.keys())
        for npm, (factory,) in zip(
            missing,
            await self._run_all([self._npm(n, "factory") for n in missing], block),
            strict=True,
        ):
            self._factories[npm] = checksum(factory)
        for config in self._configs:
            if config.discover and config.id not in self._discovered:
                await self._discover(config, block)
        wanted = [
            (c.position_manager, c.token_id, c.id, c.owner)
            for c in self._configs
            if c.position_manager is not None and c.token_id is not None
        ]
        for config in self._configs:
            if config.discover and config.position_manager and config.owner:
                npm = config.position_manager
                wanted += [
                    (npm, i, f"{config.id}-{i}", config.owner) for i in self._discovered[config.id]
                ]
        unknown: dict[tuple[str, int], tuple[str, int, str, str | None]] = {}
        for w in wanted:  # listed NFTs come first: an NFT also discovered keeps the listed id
            if (w[0], w[1]) not in self._nfts:
                unknown.setdefault((w[0], w[1]), w)
        new = list(unknown.values())
        reads = await self._run(
            [self._npm(n, fn, i) for n, i, _, _ in new for fn in ("positions", "ownerOf")], block
        )
        answers, owners = reads[0::2], reads[1::2]
        for (npm, token_id, exposure_id, owner), pos, held in zip(
            new, answers, owners, strict=True
        ):
            if pos is None or held is None:
                raise PositionReadError(f"position {exposure_id}: NFT {token_id} does not exist")
            token0, token1, fee, lower, upper = pos[2:7]
            pool = pool_address(self._factories[npm], token0, token1, int(fee))
            first_owner = checksum(owner) if owner else checksum(held[0])
            self._nfts[(npm, token_id)] = Tracked(
                exposure_id, pool, int(lower), int(upper), npm, token_id, first_owner
            )
        pools = {t.pool for t in self._nfts.values()}
        pools |= {c.pool for c in self._configs if c.pool is not None}
        await self._load_pairs(sorted(pools - self._pairs.keys()), block)
        self._ready = True

    async def _load_pairs(self, pools: list[str], block: int) -> None:
        calls = [self._pool(p, fn) for p in pools for fn in ("token0", "token1")]
        tokens = [checksum(t[0]) for t in await self._run_all(calls, block)]
        decimals = await self._run_all(
            [encode_call("token.decimals", t, self._erc20_abi, "decimals") for t in tokens], block
        )
        for i, pool in enumerate(pools):
            token0, token1 = tokens[2 * i], tokens[2 * i + 1]
            if {token0, token1} != {self._base, self._quote}:
                raise PositionReadError(
                    f"pool {pool} holds ({token0}, {token1}), not the configured base/quote "
                    f"({self._base}, {self._quote})"
                )
            dec0, dec1 = int(decimals[2 * i][0]), int(decimals[2 * i + 1][0])
            base_is_token0 = token0 == self._base
            self._pairs[pool] = PairDecimals(
                base_is_token0=base_is_token0,
                base_decimals=dec0 if base_is_token0 else dec1,
                quote_decimals=dec1 if base_is_token0 else dec0,
            )

    async def _discover(self, config: V3PositionConfig, block: int) -> list[int]:
        """Every token id of the config's owner, in index order; removes vanished ones."""
        assert config.position_manager is not None
        assert config.owner is not None
        npm, owner = config.position_manager, config.owner
        ((count,),) = await self._run_all([self._npm(npm, "balanceOf", owner)], block)
        ids = [
            int(r[0])
            for r in await self._run_all(
                [self._npm(npm, "tokenOfOwnerByIndex", owner, i) for i in range(int(count))], block
            )
        ]
        gone = sorted(set(self._discovered.get(config.id, [])) - set(ids))
        if ids != self._discovered.get(config.id):
            self._ready = False  # new token ids need their pool and ticks
        self._discovered[config.id] = ids
        for token_id in gone:
            self._nfts.pop((npm, token_id), None)
        if gone:
            raise PositionReadError(
                f"position {config.id}: NFTs {gone} no longer owned by {owner} at block {block} "
                "(transferred or burned); removed from the hedge"
            )
        return ids

    # --- one block -----------------------------------------------------------------------

    def _config_positions(self, c: V3PositionConfig) -> list[Tracked]:
        if c.pool is not None and c.owner is not None and c.tick_lower is not None:
            assert c.tick_upper is not None
            return [Tracked(c.id, c.pool, c.tick_lower, c.tick_upper, owner=c.owner)]
        assert c.position_manager is not None
        npm = c.position_manager
        ids = self._discovered[c.id] if c.discover else [c.token_id or 0]
        return [self._nfts[(npm, i)] for i in ids if (npm, i) in self._nfts]

    def _tracked(self) -> list[Tracked]:
        """Every position of the config once, whichever entries reach it (first one wins)."""
        seen: dict[tuple[Any, ...], tuple[str, Tracked]] = {}
        for c in self._configs:
            for t in self._config_positions(c):
                first = seen.setdefault(t.identity, (c.id, t))
                if first[0] != c.id:
                    self._report_duplicate(first[0], c.id, t)
        return [t for _, t in seen.values() if t.exposure_id not in self._removed]

    def _report_duplicate(self, first: str, second: str, t: Tracked) -> None:
        """Queue one ``position.duplicate`` notice per pair of entries (``take_notices``)."""
        if (first, second, t.identity) in self._duplicates:
            return
        self._duplicates.add((first, second, t.identity))
        where = (
            f"NFT {t.token_id} of {t.npm}"
            if t.npm is not None
            else f"pool {t.pool} owner {t.owner} ticks [{t.tick_lower}, {t.tick_upper}]"
        )
        detail = (
            f"config entries {first} and {second} both reach {where}; it is counted once "
            f"(as {t.exposure_id})"
        )
        log.warning("position.duplicate", entries=[first, second], position=where)
        self._notices.append(ChainNotice("position.duplicate", detail, (first, second)))

    def take_notices(self) -> tuple[ChainNotice, ...]:
        """The notices found since the last call (each duplicate is reported once)."""
        notices, self._notices = tuple(self._notices), []
        return notices

    def _plan(self, tracked: list[Tracked]) -> CallPlan:
        plan = CallPlan()
        for t in tracked:
            if t.pool not in plan.pools:
                plan.pools[t.pool] = plan.add(self._pool(t.pool, "slot0"))
                for fn in ("liquidity", "feeGrowthGlobal0X128", "feeGrowthGlobal1X128"):
                    plan.add(self._pool(t.pool, fn))
            for tick in (t.tick_lower, t.tick_upper):
                if (t.pool, tick) not in plan.ticks:
                    plan.ticks[(t.pool, tick)] = plan.add(self._pool(t.pool, "ticks", tick))
            if t.npm is None:
                assert t.owner is not None
                key = position_key(t.owner, t.tick_lower, t.tick_upper)
                plan.positions[t.exposure_id] = plan.add(self._pool(t.pool, "positions", key))
            else:
                plan.positions[t.exposure_id] = plan.add(self._npm(t.npm, "positions", t.token_id))
                plan.owners[t.exposure_id] = plan.add(self._npm(t.npm, "ownerOf", t.token_id))
        for c in self._configs:
            if c.discover and c.position_manager and c.owner:
                npm, owner = c.position_manager, c.owner
                plan.counts[c.id] = plan.add(self._npm(npm, "balanceOf", owner))
                for index in range(len(self._discovered[c.id])):
                    plan.add(self._npm(npm, "tokenOfOwnerByIndex", owner, index))
        return plan

    async def read(self, block_number: int) -> V3Read:
        """Every tracked V3 position at ``block_number`` (one eth_call once caches are warm)."""
        await self._load_metadata(block_number)
        tracked = self._tracked()
        key = (tuple(t.exposure_id for t in tracked), tuple(map(len, self._discovered.values())))
        if self._plan_cache is None or self._plan_cache[0] != key:
            self._plan_cache = (key, self._plan(tracked))  # encoding is the costly part
        plan = self._plan_cache[1]
        results = await self._run(plan.calls, block_number)
        stale = [
            c
            for c in self._configs
            if c.id in plan.counts and self._discovery_changed(c, plan, results)
        ]
        if stale:
            for config in stale:
                await self._discover(config, block_number)  # raises when an NFT vanished
            return await self.read(block_number)  # new NFTs only: read again with them
        states = self._states(tracked, plan, results, block_number)
        return await self._exposures(states, block_number)

    def _discovery_changed(
        self, config: V3PositionConfig, plan: CallPlan, results: list[tuple[Any, ...] | None]
    ) -> bool:
        start = plan.counts[config.id]
        known = self._discovered[config.id]
        answers = results[start : start + 1 + len(known)]
        if any(a is None for a in answers):
            return True
        count, *ids = (int(a[0]) for a in answers if a is not None)
        return count != len(known) or ids != known

    def _check_owner(self, t: Tracked, held: tuple[Any, ...] | None, block: int) -> None:
        if held is None or str(held[0]).lower() != str(t.owner).lower():
            self._removed.add(t.exposure_id)
            where = "burned" if held is None else f"transferred to {checksum(held[0])}"
            raise PositionReadError(
                f"position {t.exposure_id}: NFT {t.token_id} {where} at block {block} "
                f"(owner was {t.owner}); removed from the hedge"
            )

    def _states(
        self,
        tracked: list[Tracked],
        plan: CallPlan,
        results: list[tuple[Any, ...] | None],
        block: int,
    ) -> list[TrackedState]:
        for t in tracked:
            if t.exposure_id in plan.owners:
                self._check_owner(t, results[plan.owners[t.exposure_id]], block)
        failed = [c.label for c, r in zip(plan.calls, results, strict=True) if r is None]
        if failed:
            raise PositionReadError(f"reverted at block {block}: {', '.join(failed[:5])}")
        answers = [r for r in results if r is not None]
        pools: dict[str, V3PoolState] = {}
        for pool, i in plan.pools.items():
            slot0, (liquidity,), (growth0,), (growth1,) = answers[i : i + 4]
            pools[pool] = V3PoolState(
                int(slot0[0]), int(slot0[1]), int(liquidity), growth0, growth1
            )
        out: list[TrackedState] = []
        for t in tracked:
            raw = answers[plan.positions[t.exposure_id]]
            fields = raw[7:12] if t.npm is not None else raw[0:5]
            state = V3PositionState(t.tick_lower, t.tick_upper, *(int(v) for v in fields))
            lower, upper = (answers[plan.ticks[(t.pool, k)]] for k in (t.tick_lower, t.tick_upper))
            ticks = (
                V3TickState(int(lower[2]), int(lower[3])),
                V3TickState(int(upper[2]), int(upper[3])),
            )
            out.append(TrackedState(t, pools[t.pool], ticks, state))
        return out

    async def _exposures(self, positions: list[TrackedState], block: int) -> V3Read:
        """Exposures with tokens owed split into principal and fees (``bot.chain.v3_owed``)."""
        principals = await self._owed.principals(
            [(p.tracked.exposure_id, p.owed_source(), p.state) for p in positions], block
        )
        exposures = []
        for p, owed in zip(positions, principals, strict=True):
            state = p.state
            if owed != (0, 0):
                state = replace(state, principal_owed0=owed[0], principal_owed1=owed[1])
            exposures.append(
                v3_exposure(
                    p.tracked.exposure_id,
                    p.pool,
                    *p.ticks,
                    state,
                    self._pairs[p.tracked.pool],
                    include_fees_in_delta=self._fees_in_delta,
                )
            )
        price = exposures[0].price if exposures else None
        return V3Read(block_number=block, positions=tuple(exposures), price=price)
