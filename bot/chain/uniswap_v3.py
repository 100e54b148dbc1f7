"""Uniswap V3 position reader: every pool and position of a config in one eth_call per block.

Positions come as NFTs of a ``NonfungiblePositionManager`` (by token id, or all NFTs of an
owner) or as positions owned directly in a pool. Immutable facts (a token id's pool and ticks,
token order and decimals, the NPM's factory) are read once and cached; after that a block
costs ONE Multicall ``tryAggregate`` eth_call pinned to the block: pools' slot0, liquidity and
fee growth, the ticks of every range, NPM/pool positions, owners and discovery counters. Past
``MAX_CALLS_PER_ETH_CALL`` sub-calls (~250 positions) the batch is split into concurrent
eth_calls, all pinned to the same block, since one call would exceed nodes' eth_call gas cap.
Only a changed NFT set of a discovered owner costs extra round trips (same block).

Forks are read by dialect (``bot.chain.v3_dialects``: ABI shapes, pool addressing, stakers):
each tracked position carries its protocol, the reader never branches on one. An NFT may sit in
the owner's wallet or, when the config names them, staked in a MasterChefV3 or a gauge
(``bot.chain.staked``): each block checks where it is (``ownerOf`` and the staker's depositor),
each exposure says so (``location``, ``earns``), and every move is a ``PositionMove``
(``take_moves``).

Failure stance: any failed sub-call raises ``PositionReadError``; a burned NFT or one no longer
owned (nor staked) by its owner is removed from the hedge and reported by a
``PositionReadError`` on the block where it is found, so that tick does not trade and the alert
is never silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import structlog
from web3 import AsyncWeb3

from bot.chain.log_ranges import LogWindow
from bot.chain.multicall import BatchReader, ContractCall, encode_call
from bot.chain.rpc import checksum
from bot.chain.staked import Holder, location_of
from bot.chain.v3_calls import (
    POOL_INIT_CODE_HASH,
    CallPlan,
    DuplicateNotices,
    Tracked,
    TrackedState,
    decode_static,
    pair_decimals,
    pool_address,
    position_key,
)
from bot.chain.v3_dialects import dialect, placed, pool_creators, stakers_of
from bot.chain.v3_discovery import OwnerNfts, Whereabouts
from bot.chain.v3_owed import OwedSplitter
from bot.config import V3PositionConfig
from bot.config_checks import generated_id_clashes
from bot.core.v3 import PairDecimals
from bot.core.v3_position import V3PoolState, V3PositionState, V3TickState, v3_exposure
from bot.domain import ChainNotice, PositionExposure, PositionMove
from bot.errors import ConfigError, PositionReadError

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
    update: dict[str, Any] = {
        f: checksum(getattr(config, f)) for f in fields if getattr(config, f) is not None
    }
    update["staked_in"] = tuple(checksum(s) for s in config.staked_in)
    return config.model_copy(update=update)


class V3PositionReader:
    """Reads the V3 positions of a config at a block, all or nothing; ``ConfigError`` when a
    listed id is one a discovering entry generates (``<id>-<token id>``)."""

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
        owed_logs: LogWindow | None = None,
    ) -> None:
        if clashes := generated_id_clashes(positions):  # ids unique by construction
            raise ConfigError("; ".join(clashes))
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
        self._owed = OwedSplitter(w3, owed_logs, timeout_s=request_timeout_s)
        # (npm, protocol) -> the pools' CREATE2 deployer and clone implementation
        self._creators: dict[tuple[str, str], tuple[str, str | None]] = {}
        self._pool_dialects = {c.pool: dialect(c.protocol) for c in self._configs if c.pool}
        self._pairs: dict[str, PairDecimals] = {}  # pool -> ordering and decimals
        self._nfts: dict[tuple[str, int], Tracked] = {}
        self._owners = {  # config id -> the owner's NFTs in the wallet and the stakers
            c.id: OwnerNfts(
                [
                    Holder.wallet(c.position_manager, c.owner, dialect(c.protocol).npm_abi),
                    *stakers_of(c.protocol, c.owner, c.staked_in),
                ]
            )
            for c in self._configs
            if c.discover and c.position_manager and c.owner
        }
        self._where = Whereabouts()
        self._removed: set[str] = set()
        self._duplicates = DuplicateNotices()
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

    def _npm(self, npm: str, protocol: str, fn: str, *args: Any) -> ContractCall:
        return encode_call(f"npm.{fn}{args!r}", npm, dialect(protocol).npm_abi, fn, *args)

    def _pool(self, pool: str, fn: str, *args: Any) -> ContractCall:
        abi = self._pool_dialects[pool].pool_abi
        return encode_call(f"pool {pool}.{fn}", pool, abi, fn, *args)

    # --- immutable facts, read once ------------------------------------------------------

    async def _load_metadata(self, block: int) -> None:
        if self._ready:
            return
        npms = {(c.position_manager, c.protocol) for c in self._configs if c.position_manager}
        missing = sorted(npms - self._creators.keys())
        self._creators.update(await pool_creators(self._run_all, missing, block))
        for config in self._configs:
            if config.id in self._owners and not self._owners[config.id].known:
                await self._discover(config, block)
        wanted = [(c, c.token_id, c.id) for c in self._configs if c.token_id is not None]
        for config in self._configs:
            if config.id in self._owners:
                wanted += [(config, i, f"{config.id}-{i}") for i in self._owners[config.id].ids]
        unknown: dict[tuple[str, int], tuple[V3PositionConfig, int, str]] = {}
        for c, token_id, exposure_id in wanted:  # listed first: an NFT also discovered keeps
            key = (c.position_manager or "", token_id)  # the listed id
            if c.position_manager is not None and key not in self._nfts:
                unknown.setdefault(key, (c, token_id, exposure_id))
        new = list(unknown.values())
        reads = await self._run(
            [
                self._npm(c.position_manager or "", c.protocol, fn, i)
                for c, i, _ in new
                for fn in ("positions", "ownerOf")
            ],
            block,
        )
        for (c, token_id, exposure_id), pos, held in zip(
            new, reads[0::2], reads[1::2], strict=True
        ):
            if pos is None or held is None:
                raise PositionReadError(f"position {exposure_id}: NFT {token_id} does not exist")
            self._track(c, token_id, exposure_id, pos, checksum(held[0]))
        pools = {t.pool for t in self._nfts.values()}
        pools |= {c.pool for c in self._configs if c.pool is not None}
        missing_pairs = sorted(pools - self._pairs.keys())
        tokens = (self._base, self._quote)
        self._pairs.update(
            await pair_decimals(self._run_all, self._pool, missing_pairs, tokens, block)
        )
        self._ready = True

    def _track(
        self, c: V3PositionConfig, token_id: int, exposure_id: str, pos: tuple[Any, ...], held: str
    ) -> None:
        """Follow NFT ``token_id`` from its ``positions`` answer: its pool by the dialect."""
        npm, d = c.position_manager or "", dialect(c.protocol)
        token0, token1, key, lower, upper = pos[2:7]
        pool = d.pool_address(*self._creators[(npm, c.protocol)], token0, token1, int(key))
        self._pool_dialects.setdefault(pool, d)
        owner = c.owner or held
        self._nfts[(npm, token_id)] = Tracked(
            exposure_id, pool, int(lower), int(upper), npm, token_id, owner, c.protocol,
            stakers_of(c.protocol, c.owner, c.staked_in),
        )  # fmt: skip

    async def _discover(self, config: V3PositionConfig, block: int) -> None:
        """Every token id of the config's owner, wallet and stakers; removes vanished ones,
        records the ones that arrived after the first look."""
        owners = self._owners[config.id]
        npm, owner, first = config.position_manager or "", config.owner, not owners.known
        before = owners.ids
        gone, new = await owners.refresh(self._run_all, block)
        if owners.ids != before:
            self._ready = False  # new token ids need their pool and ticks
        for token_id in gone:
            self._nfts.pop((npm, token_id), None)
        self._where.refreshed(config.id, config.protocol, owners, gone, [] if first else new, block)
        if gone:
            raise PositionReadError(
                f"position {config.id}: NFTs {gone} no longer owned by {owner} at block {block} "
                "(transferred or burned); removed from the hedge"
            )

    # --- one block -----------------------------------------------------------------------

    def _config_positions(self, c: V3PositionConfig) -> list[Tracked]:
        if c.pool is not None and c.owner is not None and c.tick_lower is not None:
            assert c.tick_upper is not None
            return [
                Tracked(c.id, c.pool, c.tick_lower, c.tick_upper, None, None, c.owner, c.protocol)
            ]
        assert c.position_manager is not None
        npm = c.position_manager
        ids = self._owners[c.id].ids if c.id in self._owners else [c.token_id or 0]
        return [self._nfts[(npm, i)] for i in ids if (npm, i) in self._nfts]

    def _tracked(self) -> list[Tracked]:
        """Every position of the config once, whichever entries reach it (first one wins)."""
        seen: dict[tuple[Any, ...], tuple[str, Tracked]] = {}
        for c in self._configs:
            for t in self._config_positions(c):
                first = seen.setdefault(t.identity, (c.id, t))
                if first[0] != c.id:
                    self._duplicates.report(first[0], c.id, t)
        return [t for _, t in seen.values() if t.exposure_id not in self._removed]

    def take_notices(self) -> tuple[ChainNotice, ...]:
        """The notices found since the last call (each duplicate is reported once)."""
        return self._duplicates.take()

    def take_moves(self) -> tuple[PositionMove, ...]:
        """Positions that arrived or left since the last call (``bot.chain.v3_discovery``)."""
        return self._where.take_moves()

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
                npm, p, token_id = t.npm, t.protocol, t.token_id
                plan.positions[t.exposure_id] = plan.add(self._npm(npm, p, "positions", token_id))
                plan.owners[t.exposure_id] = plan.add(self._npm(npm, p, "ownerOf", token_id))
                for staker in t.stakers:
                    plan.add(staker.depositor_call(token_id or 0))
        for config_id, owners in self._owners.items():
            plan.counts[config_id] = len(plan.calls)
            for call in owners.check_calls():
                plan.add(call)
        return plan

    async def read(self, block_number: int) -> V3Read:
        """Every tracked V3 position at ``block_number`` (one eth_call once caches are warm)."""
        await self._load_metadata(block_number)
        tracked = self._tracked()
        key = (tuple(t.exposure_id for t in tracked), tuple(o.shape for o in self._owners.values()))
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
        start, owners = plan.counts[config.id], self._owners[config.id]
        return not owners.unchanged(results[start : start + owners.check_size()])

    def _locate(
        self,
        t: Tracked,
        held: tuple[Any, ...] | None,
        deposits: list[tuple[Any, ...] | None],
        block: int,
    ) -> None:
        """Where NFT ``t`` sits at ``block`` (wallet or a staker of its owner), or raise."""
        at = None if held is None else location_of(str(held[0]), str(t.owner), t.stakers, deposits)
        if at is not None:
            self._where.seen(
                t.exposure_id, at, block=block, protocol=t.protocol, token_id=t.token_id
            )
        else:
            self._removed.add(t.exposure_id)
            self._where.left(t.exposure_id, block=block, protocol=t.protocol, token_id=t.token_id)
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
                at = plan.owners[t.exposure_id]
                self._locate(t, results[at], results[at + 1 : at + 1 + len(t.stakers)], block)
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
            g0, g1 = self._pool_dialects[t.pool].tick_fee_growth
            ticks = (
                V3TickState(int(lower[g0]), int(lower[g1])),
                V3TickState(int(upper[g0]), int(upper[g1])),
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
            exposure = v3_exposure(
                p.tracked.exposure_id,
                p.pool,
                *p.ticks,
                state,
                self._pairs[p.tracked.pool],
                include_fees_in_delta=self._fees_in_delta,
                pool_id=p.tracked.pool,
            )
            at = self._where.location(p.tracked.exposure_id)
            exposures.append(placed(exposure, p.tracked.protocol, at))
        price = exposures[0].price if exposures else None
        return V3Read(block_number=block, positions=tuple(exposures), price=price)
