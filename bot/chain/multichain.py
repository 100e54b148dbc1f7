"""Several chains in one bot: one ``LpChainReader`` per chain, all read in each tick.

``MultiChainReader`` implements the ``ChainReader`` port over every chain of the config
(``bot.config_chains``). A tick's ``block`` is the primary chain's; every other chain is
read at its newest known head (fed by :class:`MergedHeads`, else asked for), all chains
concurrently (``asyncio.gather``), each bounded by its own ``read_timeout_s``. The snapshot
is all or nothing: the positions of every chain (each tagged with its chain), the delta
their exact ``Decimal`` sum. A chain that cannot be read, whose positions cannot be valued,
or whose block is older than its ``max_block_age_s`` fails the whole read, naming the chain
(``ChainsUnreadable``/``ChainPositionsUnreadable``, with ``failures`` by chain): an unknown
chain is never taken for an empty one. Each chain's failure episode is told once
(``chain.unreadable`` notice on the error) and its end once (``chain.readable`` on the next
snapshot). A replaced block of a non-primary chain is a ``chain.reorg`` notice (the
primary's is the engine's own check).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from web3 import AsyncWeb3

from bot.chain.chain_ids import check_chain_ids, in_whole_config
from bot.chain.chain_parts import ChainPart, chain_parts
from bot.chain.heads import HeadPoller
from bot.chain.preflight import REFUSES_START, Finding, inspect_chain
from bot.chain.reader import LpChainReader, connect_web3
from bot.chain.ws_heads import StreamedHeads, open_heads
from bot.config import ChainConfig, Settings
from bot.domain import ChainNotice, ChainSnapshot
from bot.errors import ChainError, ConfigError, PositionReadError, StaleChainData
from bot.ports import Clock
from bot.safety import describe_exc, safe_str

__all__ = [
    "ChainPositionsUnreadable",
    "ChainsUnreadable",
    "MergedHeads",
    "MultiChainReader",
    "build_chain_reader",
    "open_chain_heads",
]

log = structlog.get_logger("hedgebot.chain.multichain")

_REORG_DEPTH = 128  # block hashes kept per chain to notice a replaced block


class ChainsUnreadable(ChainError):
    """One or more chains could not be read this tick; ``failures``: chain -> reason;
    ``notices``: the ``chain.unreadable``/``chain.readable`` episode changes to tell."""

    def __init__(
        self, message: str, failures: Mapping[str, str], notices: tuple[ChainNotice, ...]
    ) -> None:
        super().__init__(message)
        self.failures = dict(failures)
        self.notices = notices


class ChainPositionsUnreadable(PositionReadError):
    """As :class:`ChainsUnreadable`, when a failing chain's node answered but a position
    there cannot be valued (the reader's ``PositionReadError``)."""

    def __init__(
        self, message: str, failures: Mapping[str, str], notices: tuple[ChainNotice, ...]
    ) -> None:
        super().__init__(message)
        self.failures = dict(failures)
        self.notices = notices


@dataclass
class _Chain:
    """One chain's reader and what the bot knows of it between ticks."""

    part: ChainPart
    config: ChainConfig
    reader: LpChainReader
    head: int | None = None  # newest head seen by the head stream
    hashes: dict[int, str] = field(default_factory=dict)


def _named(chain: str, reason: str) -> str:
    """``reason`` starting ``chain <chain>:`` once (the read's errors already name it)."""
    prefix = f"chain {chain}: "
    return reason if reason.startswith(prefix) else prefix + reason


class MultiChainReader:
    """Implements ``bot.ports.ChainReader`` (and the start-up check) over several chains.

    ``connect`` builds each chain's web3 client (``connect_web3``'s signature).
    """

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        *,
        connect: Callable[..., AsyncWeb3[Any]] = connect_web3,
    ) -> None:
        self._clock = clock
        self._wallet_base = settings.hedge_asset.wallet_base
        self.chains: dict[str, _Chain] = {}
        for part in chain_parts(settings):
            config = part.settings.chain
            w3 = connect(
                config.rpc_urls,
                config.request_timeout_s,
                max_lag_blocks=config.max_rpc_lag_blocks,
                max_response_bytes=config.max_response_bytes,
            )
            reader = LpChainReader(w3, part.settings)
            self.chains[part.name] = _Chain(part, config, reader)
        self.primary = next(iter(settings.chains))
        if self.primary not in self.chains:
            raise ConfigError(f"chains.{self.primary}: the primary (first) chain holds no position")
        self._down: dict[str, str] = {}  # chains failing now -> reason (told once)

    @property
    def w3(self) -> AsyncWeb3[Any]:
        """The primary chain's client."""
        return self.chains[self.primary].reader.w3

    def note_head(self, chain: str, number: int) -> None:
        """``number`` is ``chain``'s newest head (from the head stream); older are ignored."""
        slot = self.chains[chain]
        if slot.head is None or number > slot.head:
            slot.head = number

    def head(self, chain: str) -> int | None:
        """The newest head of ``chain`` the head stream reported, or None."""
        return self.chains[chain].head

    async def latest_block(self) -> int:
        """The newest block number of the primary chain."""
        return await self.chains[self.primary].reader.latest_block()

    async def start(self) -> list[Finding]:
        """The start-up check of every chain: each endpoint's chain id
        (``bot.chain.chain_ids``, pinned for failover), then ``bot.chain.preflight``;
        findings naming the whole config's fields (``positions.3.owner``,
        ``chains.arbitrum.rpc_urls.1``).

        ``ConfigError`` for findings that refuse a start (an endpoint on another chain, two
        sections on one chain, tokens not the pool's pair, swapped); ``ChainError`` naming the
        chain when a chain's node cannot be reached."""
        found = await check_chain_ids([(s.part, s.reader.w3) for s in self.chains.values()])
        if not any(f.kind in REFUSES_START for f in found):
            for name, slot in self.chains.items():
                try:
                    findings = await inspect_chain(slot.reader.w3, slot.part.settings)
                except ChainError as exc:
                    raise ChainError(f"chain {name}: {safe_str(exc)}") from exc
                found += [in_whole_config(slot.part, f) for f in findings]
        wrong = [f for f in found if f.kind in REFUSES_START]
        if wrong:
            raise ConfigError("; ".join(str(f) for f in wrong))
        return found

    async def snapshot(self, block_number: int) -> ChainSnapshot:
        """Every chain's positions, the primary chain at ``block_number`` and each other at
        its newest known head, all or nothing.

        Raises ``ChainPositionsUnreadable`` (a ``PositionReadError``) or ``ChainsUnreadable``
        (a ``ChainError``) naming each chain that failed and why.
        """
        names = list(self.chains)
        results = await asyncio.gather(
            *(self._read(name, block_number if name == self.primary else None) for name in names),
            return_exceptions=True,
        )
        snaps: dict[str, ChainSnapshot] = {}
        failures: dict[str, BaseException] = {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, ChainError):
                failures[name] = result
            elif isinstance(result, BaseException):
                raise result  # a bug or a cancellation: never read as a chain fault
            else:
                snaps[name] = result
        notices = self._episodes({n: safe_str(e) for n, e in failures.items()})
        if failures:
            raise self._failed(failures, notices)
        return self._merge(snaps, notices)

    async def _read(self, name: str, block: int | None) -> ChainSnapshot:
        """One chain's snapshot within its ``read_timeout_s``; errors name the chain."""
        slot = self.chains[name]
        try:
            async with asyncio.timeout(slot.config.read_timeout_s):
                if block is None:
                    block = slot.head if slot.head is not None else await slot.reader.latest_block()
                snap = await slot.reader.snapshot(block)
        except TimeoutError:
            raise ChainError(
                f"chain {name}: reads took over {slot.config.read_timeout_s:g}s"
            ) from None
        except PositionReadError as exc:
            raise PositionReadError(f"chain {name}: {safe_str(exc)}") from exc
        except ChainError as exc:
            raise ChainError(f"chain {name}: {safe_str(exc)}") from exc
        if name != self.primary:  # the primary's age is the risk guard's (risk.stale_block)
            age_s = self._clock.now() - snap.block_timestamp
            if age_s > slot.config.max_block_age_s:
                raise StaleChainData(
                    f"chain {name}: block {snap.block_number} is {age_s:.0f}s old "
                    f"(max_block_age_s {slot.config.max_block_age_s:g})"
                )
        return snap

    def _episodes(self, failing: dict[str, str]) -> tuple[ChainNotice, ...]:
        """``chain.unreadable`` for each chain that starts failing, ``chain.readable`` for
        each that reads again; the chains failing now are remembered."""
        notices = [
            ChainNotice("chain.unreadable", _named(name, reason), (name,))
            for name, reason in failing.items()
            if name not in self._down
        ]
        notices += [
            ChainNotice("chain.readable", f"chain {name} reads again", (name,))
            for name in self._down
            if name not in failing
        ]
        self._down = failing
        return tuple(notices)

    @staticmethod
    def _failed(failures: dict[str, BaseException], notices: tuple[ChainNotice, ...]) -> ChainError:
        reasons = {name: safe_str(exc) for name, exc in failures.items()}
        message = "; ".join(reasons.values())
        if any(type(exc) is PositionReadError for exc in failures.values()):
            return ChainPositionsUnreadable(message, reasons, notices)
        return ChainsUnreadable(message, reasons, notices)

    def _merge(
        self, snaps: dict[str, ChainSnapshot], notices: tuple[ChainNotice, ...]
    ) -> ChainSnapshot:
        """One snapshot: the primary's block, every chain's positions tagged with its name."""
        primary = snaps[self.primary]
        positions = tuple(
            replace(p, chain=name) for name, snap in snaps.items() for p in snap.positions
        )
        extra: list[ChainNotice] = list(notices)
        for name, snap in snaps.items():
            extra += snap.notices
            if name != self.primary:
                extra += self._reorg(name, snap)
        return ChainSnapshot(
            block_number=primary.block_number,
            block_timestamp=primary.block_timestamp,
            block_hash=primary.block_hash,
            price=primary.price,
            positions=positions,
            wallet_base=self._wallet_base,
            notices=tuple(extra),
            moves=tuple(m for snap in snaps.values() for m in snap.moves),
            blocks=tuple((name, snap.block_number) for name, snap in snaps.items()),
        )

    def _reorg(self, name: str, snap: ChainSnapshot) -> list[ChainNotice]:
        """A ``chain.reorg`` notice when ``snap``'s block replaced one read before."""
        hashes = self.chains[name].hashes
        number, new_hash = snap.block_number, snap.block_hash
        old_hash = hashes.get(number)
        hashes[number] = new_hash
        for stale in [b for b in hashes if b < number - _REORG_DEPTH]:
            del hashes[stale]
        if old_hash is None or old_hash == new_hash:
            return []
        detail = f"chain {name}: block {number} was {old_hash}, now {new_hash}"
        return [ChainNotice("chain.reorg", detail, (name,))]

    async def close(self) -> None:
        """Close every chain's HTTP session."""
        for slot in self.chains.values():
            await slot.reader.close()


def build_chain_reader(settings: Settings, clock: Clock) -> LpChainReader | MultiChainReader:
    """The chain reader of ``settings``: the single-chain reader for one chain (as before
    several chains existed), ``MultiChainReader`` for several."""
    if len(settings.chains) == 1:
        config = settings.chain
        w3 = connect_web3(
            config.rpc_urls,
            config.request_timeout_s,
            max_lag_blocks=config.max_rpc_lag_blocks,
            max_response_bytes=config.max_response_bytes,
        )
        return LpChainReader(w3, settings)
    return MultiChainReader(settings, clock)


class MergedHeads:
    """``async for block in MergedHeads(reader, sources)``: a tick per new head on any chain.

    ``sources`` are the per-chain head iterators (``open_heads``); each new head is recorded
    in ``reader`` (:meth:`MultiChainReader.note_head`) and the primary chain's newest head is
    handed out (a head on another chain hands out the primary's again: that tick reads the
    other chain at its new head). A failed poll of the primary is raised once, as a single
    chain's source does; another chain's failure is logged and its poll retried after its
    ``poll_interval_s`` (that chain's reads, pinned to its last head, then fail by name).
    """

    def __init__(
        self,
        reader: MultiChainReader,
        sources: Mapping[str, HeadPoller | StreamedHeads],
    ) -> None:
        self._reader = reader
        self._sources = dict(sources)
        self._changed = asyncio.Event()
        self._pending = False
        self._primary_error: ChainError | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def __aiter__(self) -> MergedHeads:
        return self

    async def __anext__(self) -> int:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._follow(name, source))
                for name, source in self._sources.items()
            ]
        primary = self._reader.primary
        while True:
            if self._primary_error is not None:
                error, self._primary_error = self._primary_error, None
                raise error
            head = self._reader.head(primary)
            if self._pending and head is not None:
                self._pending = False
                return head
            self._changed.clear()
            await self._changed.wait()

    async def _follow(self, name: str, source: HeadPoller | StreamedHeads) -> None:
        iterator = aiter(source)
        pause_s = self._reader.chains[name].config.poll_interval_s
        failing = False
        while True:
            try:
                number = await anext(iterator)
            except StopAsyncIteration:
                return
            except ChainError as exc:
                if name == self._reader.primary:
                    self._primary_error = exc
                    self._changed.set()
                elif not failing:  # once per episode: the ticks alert by name
                    log.warning("heads.chain_failed", chain=name, error=describe_exc(exc))
                failing = True
                await asyncio.sleep(pause_s)
                continue
            failing = False
            self._reader.note_head(name, number)
            self._pending = True
            self._changed.set()

    async def aclose(self) -> None:
        """Stop following every chain."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def open_chain_heads(
    reader: LpChainReader | MultiChainReader, chain: ChainConfig
) -> AsyncIterator[AsyncIterator[int]]:
    """The daemon's head source: one chain's ``open_heads`` for the single-chain reader;
    for several chains each chain's ``open_heads`` (WebSocket ``newHeads`` where configured,
    polling otherwise) merged by :class:`MergedHeads`. Closed on exit."""
    if isinstance(reader, LpChainReader):
        async with open_heads(reader.w3, chain) as heads:
            yield heads
        return
    async with contextlib.AsyncExitStack() as stack:
        sources = {
            name: await stack.enter_async_context(open_heads(slot.reader.w3, slot.config))
            for name, slot in reader.chains.items()
        }
        merged = MergedHeads(reader, sources)
        stack.push_async_callback(merged.aclose)
        yield merged
