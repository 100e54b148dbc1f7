"""Uniswap V4 position reader: every V4 NFT of a config in the block's one batched eth_call.

A V4 position is an NFT of the ``PositionManager``, whose liquidity the PoolManager holds under
``(owner = PositionManager, tickLower, tickUpper, salt = bytes32(tokenId))``. Immutable facts
are read once: ``getPoolAndPositionInfo(tokenId)`` gives the ``PoolKey`` and the packed
``PositionInfo`` (ticks), the currencies' decimals (native ETH, ``address(0)``: 18). Each
block then costs one Multicall ``tryAggregate`` eth_call pinned to the block, through the
``StateView`` lens: per pool ``getSlot0``, ``getLiquidity``, ``getFeeGrowthGlobals``; per
range edge ``getTickFeeGrowthOutside``; per NFT ``getPositionInfo(poolId, PositionManager,
tickLower, tickUpper, salt)`` and ``ownerOf``; per discovering owner ``balanceOf``.

Valuation is the V3 integer math (``bot.core.v3_position.v3_exposure``): V4's ``Pool.
modifyLiquidity`` pays a decrease with the same ``SqrtPriceMath`` rounding, and its
``getFeeGrowthInside`` is V3's formula over the same globals and edge ticks (read once per pool
and tick, shared by the positions on them; it equals ``StateView.getFeeGrowthInside``). V4 has
no ``tokensOwed``: a modify pays the fees out at once, so uncollected fees are fee growth only.
A pool with hooks is read as the pool accounts it and flagged ``hooked`` (a hook that takes a
cut of a withdrawal is not modelled: its pool's amounts are what the PoolManager holds).

Failure stance as the V3 reader: a failed sub-call, an unknown token id, a burned NFT or one
that left its owner raises ``PositionReadError`` naming the position; a transferred NFT is
dropped from the hedge and reported on the block where it is found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from web3 import AsyncWeb3

from bot.chain.multicall import BatchReader, ContractCall, encode_call
from bot.chain.rpc import checksum, load_abi
from bot.chain.v3_calls import DuplicateNotices, Tracked
from bot.chain.v3_discovery import Whereabouts
from bot.chain.v4_calls import NATIVE, CallPlan, PoolKey, TrackedNft, pool_id, token_salt
from bot.chain.v4_calls import decode_position_info as _decode_info
from bot.chain.v4_discovery import REORG_DEPTH, TransferFollower
from bot.config import V4PositionConfig
from bot.config_checks import generated_id_clashes
from bot.core.v3 import PairDecimals
from bot.core.v3_position import V3PoolState, V3PositionState, V3TickState, v3_exposure
from bot.domain import ChainNotice, PositionExposure, PositionMove
from bot.errors import ConfigError, PositionReadError

__all__ = ["PROTOCOL", "V4PositionReader", "V4Read"]

PROTOCOL = "uniswap_v4"
MAX_CALLS_PER_ETH_CALL = 1000
_NATIVE_DECIMALS = 18


@dataclass(frozen=True, slots=True)
class V4Read:
    """All V4 exposures at one block."""

    block_number: int
    positions: tuple[PositionExposure, ...]


class V4PositionReader:
    """Reads the V4 positions of a config at a block, all or nothing; ``ConfigError`` when a
    listed id is one a discovering entry generates (``<id>-<token id>``)."""

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        positions: Sequence[V4PositionConfig],
        *,
        base_token: str,
        quote_token: str,
        multicall: str | None,
        include_fees_in_delta: bool = False,
        request_timeout_s: float = 10.0,
        max_calls_per_eth_call: int = MAX_CALLS_PER_ETH_CALL,
        log_reorg_depth: int = REORG_DEPTH,
    ) -> None:
        if clashes := generated_id_clashes(positions):  # ids unique by construction
            raise ConfigError("; ".join(clashes))
        self._configs = list(positions)
        self._base, self._quote = checksum(base_token), checksum(quote_token)
        self._batch = BatchReader(
            w3,
            multicall=multicall,
            request_timeout_s=request_timeout_s,
            max_calls_per_eth_call=max_calls_per_eth_call,
        )
        self._fees_in_delta = include_fees_in_delta
        self._posm_abi = load_abi("uniswap_v4_position_manager")
        self._view_abi = load_abi("uniswap_v4_state_view")
        self._erc20_abi = load_abi("erc20")
        self._followers = {
            c.id: TransferFollower(
                w3,
                c.position_manager,
                c.owner,
                from_block=c.from_block,
                chunk_blocks=c.log_chunk_blocks,
                reorg_depth=log_reorg_depth,
                timeout_s=request_timeout_s,
            )
            for c in self._configs
            if c.discover and c.owner is not None
        }
        self._held: dict[str, list[int]] = {}  # discovering config id -> token ids
        self._nfts: dict[tuple[str, int], TrackedNft] = {}
        self._pairs: dict[PoolKey, PairDecimals] = {}
        self._removed: set[str] = set()
        self._where = Whereabouts()  # position.arrived / position.left (always the wallet)
        self._found: set[tuple[str, int]] = set()  # NFTs discovered after the first look
        self._duplicates = DuplicateNotices()
        self._plan_cache: tuple[tuple[str, ...], CallPlan] | None = None

    # --- calls ---------------------------------------------------------------------------

    def _posm(self, posm: str, fn: str, *args: Any) -> ContractCall:
        return encode_call(f"v4 posm.{fn}{args!r}", posm, self._posm_abi, fn, *args)

    def _view(self, view: str, fn: str, pid: bytes, *args: Any) -> ContractCall:
        label = f"v4 stateView.{fn}(0x{pid.hex()[:12]}..{''.join(f', {a}' for a in args)})"
        return encode_call(label, view, self._view_abi, fn, pid, *args)

    async def _run_all(self, calls: Sequence[ContractCall], block: int) -> list[tuple[Any, ...]]:
        results = await self._batch.try_run(calls, block)
        failed = [c.label for c, r in zip(calls, results, strict=True) if r is None]
        if failed:
            raise PositionReadError(f"reverted at block {block}: {', '.join(failed[:5])}")
        return [r for r in results if r is not None]

    # --- immutable facts, read once ------------------------------------------------------

    def _wanted(self) -> list[tuple[V4PositionConfig, int, str]]:
        """(config, token id, exposure id) of every NFT the config reaches, listed first."""
        wanted = [(c, c.token_id, c.id) for c in self._configs if c.token_id is not None]
        for c in self._configs:
            wanted += [(c, i, f"{c.id}-{i}") for i in self._held.get(c.id, [])]
        return wanted

    async def _load(self, block: int) -> None:
        new: dict[tuple[str, int], tuple[V4PositionConfig, int, str]] = {}
        for config, token_id, exposure_id in self._wanted():
            if (config.position_manager, token_id) not in self._nfts:
                new.setdefault((config.position_manager, token_id), (config, token_id, exposure_id))
        if not new:
            return
        entries = list(new.values())
        calls = [
            self._posm(c.position_manager, fn, i)
            for c, i, _ in entries
            for fn in ("getPoolAndPositionInfo", "ownerOf")
        ]
        results = await self._batch.try_run(calls, block)
        for (config, token_id, exposure_id), info, held in zip(
            entries, results[0::2], results[1::2], strict=True
        ):
            key = PoolKey.from_answer(info[0]) if info is not None else None
            if info is None or key is None or held is None or not key.exists:
                raise PositionReadError(
                    f"position {exposure_id}: V4 NFT {token_id} does not exist on "
                    f"{config.position_manager} at block {block}"
                )
            _, lower, upper, _ = _decode_info(int(info[1]))
            owner = config.owner or checksum(held[0])
            self._nfts[(config.position_manager, token_id)] = TrackedNft(
                exposure_id, config.position_manager, config.state_view, token_id, key,
                pool_id(key), lower, upper, owner,
            )  # fmt: skip
        await self._load_pairs(block)

    async def _load_pairs(self, block: int) -> None:
        keys = sorted({t.key for t in self._nfts.values()} - self._pairs.keys(), key=repr)
        for key in keys:
            if {key.currency0, key.currency1} != {self._base, self._quote}:
                raise PositionReadError(
                    f"V4 pool ({key.currency0}, {key.currency1}) is not the configured "
                    f"base/quote ({self._base}, {self._quote})"
                )
        tokens = sorted({c for k in keys for c in (k.currency0, k.currency1) if c != NATIVE})
        answers = await self._run_all(
            [encode_call("token.decimals", t, self._erc20_abi, "decimals") for t in tokens], block
        )
        decimals = {t: int(a[0]) for t, a in zip(tokens, answers, strict=True)}
        decimals[NATIVE] = _NATIVE_DECIMALS
        for key in keys:
            base_is_token0 = key.currency0 == self._base
            self._pairs[key] = PairDecimals(
                base_is_token0=base_is_token0,
                base_decimals=decimals[self._base],
                quote_decimals=decimals[self._quote],
            )

    # --- one block -----------------------------------------------------------------------

    def _tracked(self) -> list[TrackedNft]:
        """Every NFT once, whichever entries reach it (listed first; a second entry reaching
        it is one ``position.duplicate`` notice)."""
        seen: dict[tuple[str, int], tuple[str, TrackedNft]] = {}
        for config, token_id, _ in self._wanted():
            nft = self._nfts.get((config.position_manager, token_id))
            if nft is None:
                continue
            first = seen.setdefault(nft.identity, (config.id, nft))
            if first[0] != config.id:
                self._duplicates.report(first[0], config.id, _as_tracked(nft))
        return [t for _, t in seen.values() if t.exposure_id not in self._removed]

    def take_notices(self) -> tuple[ChainNotice, ...]:
        """The ``position.duplicate`` notices found since the last call (each once)."""
        return self._duplicates.take()

    def take_moves(self) -> tuple[PositionMove, ...]:
        """V4 NFTs that arrived in or left an owner's wallet since the last call."""
        return self._where.take_moves()

    def _plan(self, tracked: list[TrackedNft]) -> CallPlan:
        plan = CallPlan()
        for t in tracked:
            pool = (t.state_view, t.pool_id)
            if pool not in plan.pools:
                plan.pools[pool] = plan.add(self._view(t.state_view, "getSlot0", t.pool_id))
                plan.add(self._view(t.state_view, "getLiquidity", t.pool_id))
                plan.add(self._view(t.state_view, "getFeeGrowthGlobals", t.pool_id))
            for tick in (t.tick_lower, t.tick_upper):
                if (*pool, tick) not in plan.ticks:
                    call = self._view(t.state_view, "getTickFeeGrowthOutside", t.pool_id, tick)
                    plan.ticks[(*pool, tick)] = plan.add(call)
            plan.positions[t.exposure_id] = plan.add(
                self._view(
                    t.state_view,
                    "getPositionInfo",
                    t.pool_id,
                    t.position_manager,
                    t.tick_lower,
                    t.tick_upper,
                    token_salt(t.token_id),
                )
            )
            plan.owners[t.exposure_id] = plan.add(
                self._posm(t.position_manager, "ownerOf", t.token_id)
            )
        for c in self._configs:
            if c.id in self._followers:
                assert c.owner is not None
                plan.counts[c.id] = plan.add(self._posm(c.position_manager, "balanceOf", c.owner))
        return plan

    async def _discover(
        self, block: int, plan: CallPlan | None, results: list[Any], gone: list[str]
    ) -> bool:
        """Follow each discovering owner's NFTs; True when a set changed (then re-plan).
        Exposure ids of NFTs that left their owner are appended to ``gone``."""
        changed = False
        for config in self._configs:
            follower = self._followers.get(config.id)
            if follower is None:
                continue
            if plan is None:
                (balance,) = (await self._run_all([self._balance(config)], block))[0]
            else:
                answer = results[plan.counts[config.id]]
                balance = None if answer is None else answer[0]
                if balance is not None and self._still_held(config, int(balance), plan, results):
                    continue
                if balance is None:
                    (balance,) = (await self._run_all([self._balance(config)], block))[0]
            first, before = config.id not in self._held, self._held.get(config.id, [])
            ids = await follower.held(block, int(balance))
            self._held[config.id] = ids
            if ids != before:
                self._removed -= {f"{config.id}-{i}" for i in ids}
                changed = True
            if not first:
                self._found |= {(config.position_manager, i) for i in set(ids) - set(before)}
            for token_id in sorted(set(before) - set(ids)):
                gone.append(f"{config.id}-{token_id}")
                nft = self._nfts.get((config.position_manager, token_id))
                exposure_id = gone[-1] if nft is None else nft.exposure_id
                self._where.left(exposure_id, block=block, protocol=PROTOCOL, token_id=token_id)
        return changed

    def _still_held(
        self, config: V4PositionConfig, balance: int, plan: CallPlan, results: list[Any]
    ) -> bool:
        """True when the batch shows the owner holds exactly the ids it held (no logs needed)."""
        known = self._held.get(config.id, [])
        if balance != len(known):
            return False
        for token_id in known:
            nft = self._nfts.get((config.position_manager, token_id))
            index = None if nft is None else plan.owners.get(nft.exposure_id)
            held = None if index is None else results[index]
            if held is None or checksum(held[0]) != config.owner:
                return False
        return True

    def _balance(self, config: V4PositionConfig) -> ContractCall:
        assert config.owner is not None
        return self._posm(config.position_manager, "balanceOf", config.owner)

    async def read(self, block_number: int) -> V4Read:
        """Every tracked V4 position at ``block_number`` (one eth_call once caches are warm)."""
        gone: list[str] = []
        if self._plan_cache is None:
            await self._discover(block_number, None, [], gone)
        await self._load(block_number)
        plan = self._cached_plan()
        results = await self._batch.try_run(plan.calls, block_number)
        if await self._discover(block_number, plan, results, gone):
            await self._load(block_number)
            plan = self._cached_plan()
            results = await self._batch.try_run(plan.calls, block_number)
        if gone:
            raise PositionReadError(
                f"positions {', '.join(gone)}: V4 NFTs no longer held by their owner at block "
                f"{block_number} (transferred or burned); removed from the hedge"
            )
        tracked = self._tracked()
        self._check_owners(tracked, plan, results, block_number)
        failed = [c.label for c, r in zip(plan.calls, results, strict=True) if r is None]
        if failed:
            raise PositionReadError(f"reverted at block {block_number}: {', '.join(failed[:5])}")
        exposures = [self._exposure(t, plan, results) for t in tracked]
        return V4Read(block_number=block_number, positions=tuple(exposures))

    def _cached_plan(self) -> CallPlan:
        tracked = self._tracked()
        ids = tuple(t.exposure_id for t in tracked) + tuple(sorted(self._followers))
        if self._plan_cache is None or self._plan_cache[0] != ids:
            self._plan_cache = (ids, self._plan(tracked))
        return self._plan_cache[1]

    def _check_owners(
        self, tracked: list[TrackedNft], plan: CallPlan, results: list[Any], block: int
    ) -> None:
        for t in tracked:
            held = results[plan.owners[t.exposure_id]]
            if held is not None and checksum(held[0]) == t.owner:
                arrived = t.identity in self._found
                self._found.discard(t.identity)
                self._where.seen(
                    t.exposure_id, "wallet", block=block, protocol=PROTOCOL,
                    token_id=t.token_id, arrived=arrived,
                )  # fmt: skip
            else:
                self._removed.add(t.exposure_id)
                self._plan_cache = None
                self._where.left(t.exposure_id, block=block, protocol=PROTOCOL, token_id=t.token_id)
                where = "burned" if held is None else f"transferred to {checksum(held[0])}"
                raise PositionReadError(
                    f"position {t.exposure_id}: V4 NFT {t.token_id} {where} at block {block} "
                    f"(owner was {t.owner}); removed from the hedge"
                )

    def _exposure(self, t: TrackedNft, plan: CallPlan, results: list[Any]) -> PositionExposure:
        i = plan.pools[(t.state_view, t.pool_id)]
        slot0, (liquidity,), (growth0, growth1) = results[i : i + 3]
        pool = V3PoolState(int(slot0[0]), int(slot0[1]), int(liquidity), growth0, growth1)
        lower, upper = (
            V3TickState(*results[plan.ticks[(t.state_view, t.pool_id, k)]])
            for k in (t.tick_lower, t.tick_upper)
        )
        position_liquidity, last0, last1 = results[plan.positions[t.exposure_id]]
        state = V3PositionState(
            t.tick_lower, t.tick_upper, int(position_liquidity), last0, last1, 0, 0
        )
        exposure = v3_exposure(
            t.exposure_id,
            pool,
            lower,
            upper,
            state,
            self._pairs[t.key],
            include_fees_in_delta=self._fees_in_delta,
            pool_id="0x" + t.pool_id.hex(),
        )
        return replace(exposure, protocol=PROTOCOL, hooked=t.key.hooked)


def _as_tracked(nft: TrackedNft) -> Tracked:
    """``nft`` in the V3 reader's shape, for the shared ``position.duplicate`` notice."""
    return Tracked(
        nft.exposure_id, "0x" + nft.pool_id.hex(), nft.tick_lower, nft.tick_upper,
        nft.position_manager, nft.token_id, nft.owner, PROTOCOL,
    )  # fmt: skip
