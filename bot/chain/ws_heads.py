"""New block heads streamed over WebSocket (``newHeads``), with the HTTP poller as fallback.

:class:`StreamedHeads` merges three sources into one ``async for number in heads`` iterator:
a ``newHeads`` subscription on every ``chain.ws_urls`` endpoint (web3's persistent
``WebSocketProvider``), the HTTP poller at ``poll_interval_s`` (so a silent or dead WebSocket
never stalls the bot), and one HTTP ``eth_blockNumber`` after each (re)subscription (so a
block mined while the socket was down is never lost). The first source to report a number
wins; an older or equal number from any source is dropped; when several arrive between two
ticks only the newest is handed out and the ones passed over are counted in ``skipped``. The
heartbeat is the poller's: no new block for ``heartbeat_s`` hands the last one out again.

A WebSocket peer is not trusted: each frame is bounded (``max_message_bytes``, 1 MiB), parsed
depth-limited, each head range-checked (number, timestamp, 32-byte hash: see
``bot.chain.ws_provider``). A head past the newest block the HTTP node has confirmed is
handed out only once the HTTP node (which the tick reads from, pinned to the block) returns
the same hash for that number (one ``eth_getBlockByNumber``): a peer cannot push a forged or
far-future head, and a peer running ahead of the HTTP node never makes the bot tick on blocks
it cannot read (every such tick would fail, and hide the real block behind it). A head more
than ``MAX_UNVERIFIED_LEAD_BLOCKS`` past the confirmed head is refused without asking. One
within the lead waits in its endpoint's :class:`~bot.chain.ws_endpoint.PendingHeads` (by
number, a head kept is never displaced by a later one): the first head of a number is asked
for at once, one the node lacks is asked again after ``RECHECK_S`` doubling to
``RECHECK_MAX_S``, and refused once ``max(poll_interval_s, SETTLE_S)`` passed without it. One
request per endpoint is in flight at a time.

Each refused head is a strike: the endpoint's heads are dropped unread for a penalty on the
reconnection backoff's schedule; strikes halve per ``2 × reconnect_max_s`` without a refusal,
good heads do not clear them. Logged on the 1st, 2nd, 4th, ... of an endpoint (URL masked):
``heads.ws_rejected`` per refusal, ``heads.ws_dropped`` per lost connection. A lost
subscription is retried with backoff (0.5 s doubling to 30 s), reset only when that
connection delivered a new block the HTTP node confirmed (not a replayed known one).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

import structlog
from web3 import AsyncWeb3

from bot.chain.answers import AnswerRejected
from bot.chain.heads import BlockInfo, HeadPoller, block_info, latest_block
from bot.chain.ws_endpoint import ConfirmedHashes, PendingHeads, WsEndpoint
from bot.chain.ws_provider import (
    WS_MAX_MESSAGE_BYTES,
    BoundedWebSocketProvider,
    mute_web3_socket_logs,
    parse_head,
)
from bot.errors import ChainError
from bot.safety import describe_exc, mask_url

if TYPE_CHECKING:
    from bot.config import ChainConfig

__all__ = ["MAX_UNVERIFIED_LEAD_BLOCKS", "HeadSource", "StreamedHeads", "open_heads"]


log = structlog.get_logger("hedgebot.chain.heads")

MAX_UNVERIFIED_LEAD_BLOCKS = 4  # further past the HTTP-confirmed head: refused without asking
RECHECK_S = 0.02  # a head the HTTP node lacks yet, within the lead: first asked again after
RECHECK_MAX_S = 0.5  # ... doubling up to this
SETTLE_S = 2.0  # refused when the node lacks it after max(poll interval, this): honest lag


class HeadSource(StrEnum):
    """Where a head was seen first."""

    WS = "ws"  # a newHeads notification
    POLL = "poll"  # the HTTP poller
    RESYNC = "resync"  # the one HTTP read after a (re)subscription


class StreamedHeads:
    """``async with StreamedHeads(w3, ws_urls, ...) as heads: async for number in heads``.

    ``w3`` is the HTTP connection the ticks read from. Each yielded number is newer than the
    one before (the heartbeat's repeat excepted); ``last_source`` says which source saw it
    first. A failed HTTP poll raises ``ChainError`` from ``__anext__`` once, when no newer head
    is waiting, as :class:`bot.chain.heads.HeadPoller` does; the iterator stays usable.
    WebSocket failures never reach the caller: they are logged and retried.
    """

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        ws_urls: Sequence[str],
        *,
        poll_interval_s: float = 1.0,
        request_timeout_s: float = 10.0,
        heartbeat_s: float | None = None,
        max_message_bytes: int = WS_MAX_MESSAGE_BYTES,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
    ) -> None:
        if poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")
        if heartbeat_s is not None and heartbeat_s <= 0:
            raise ValueError("heartbeat_s must be positive")
        if not 0 < reconnect_min_s <= reconnect_max_s:
            raise ValueError("need 0 < reconnect_min_s <= reconnect_max_s")
        self._w3 = w3
        self._endpoints = [
            WsEndpoint(
                url=url, label=mask_url(url), index=i, pending=self._pending(poll_interval_s)
            )
            for i, url in enumerate(ws_urls)
        ]
        self._interval_s = poll_interval_s
        self._timeout_s = request_timeout_s
        self._heartbeat_s = heartbeat_s
        self._max_message_bytes = max_message_bytes
        self._backoff = (reconnect_min_s, reconnect_max_s)
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._newest: int | None = None
        self._newest_source = HeadSource.POLL
        self._confirmed: int | None = None  # newest block the HTTP node is known to have
        self._hashes = ConfirmedHashes()  # of heads the HTTP node confirmed by hash
        self._poll_error: ChainError | None = None
        self._last: int | None = None
        self._yielded_at = time.monotonic()
        self.last_source: HeadSource | None = None  # of the last number handed out
        self.first_seen: Counter[HeadSource] = Counter()  # heads each source reported first
        self.skipped = 0  # newer heads passed over because a newer one was waiting
        self.repeats = 0  # heartbeat repeats of the last block
        self.reconnects = 0  # subscriptions lost (and retried)

    @staticmethod
    def _pending(poll_interval_s: float) -> PendingHeads:
        settle_s = max(poll_interval_s, SETTLE_S)
        lead = 2 * MAX_UNVERIFIED_LEAD_BLOCKS  # numbers; the lead's worth, and as many settling
        return PendingHeads(
            max_numbers=lead, settle_s=settle_s, recheck_s=RECHECK_S, recheck_max_s=RECHECK_MAX_S
        )

    @property
    def last_yielded(self) -> int | None:
        """The newest block number handed out."""
        return self._last

    @property
    def subscriptions(self) -> int:
        """Endpoints with a live ``newHeads`` subscription now."""
        return sum(e.live for e in self._endpoints)

    @property
    def rejected(self) -> int:
        """WebSocket heads refused (malformed, past the lead, another hash, never confirmed)."""
        return sum(e.rejected for e in self._endpoints)

    @property
    def ignored(self) -> int:
        """WebSocket heads dropped unread: their endpoint was penalised for refused heads."""
        return sum(e.ignored for e in self._endpoints)

    # lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    def start(self) -> None:
        """Start the poller and one subscriber per endpoint (idempotent)."""
        if self._tasks:
            return
        mute_web3_socket_logs()
        self._spawn(self._poll_loop())
        for endpoint in self._endpoints:
            self._spawn(self._endpoint_loop(endpoint))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)

    async def aclose(self) -> None:
        """Stop every background task and close the sockets."""
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # the iterator ------------------------------------------------------------------------
    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> int:
        self.start()
        while True:
            newest = self._newest
            if newest is not None and (self._last is None or newest > self._last):
                if self._last is not None:
                    self.skipped += newest - self._last - 1
                self._last, self.last_source = newest, self._newest_source
                self._yielded_at = time.monotonic()
                return newest
            if self._poll_error is not None:
                error, self._poll_error = self._poll_error, None
                raise error
            wait_s = None
            if self._heartbeat_s is not None and self._last is not None:
                wait_s = self._heartbeat_s - (time.monotonic() - self._yielded_at)
                if wait_s <= 0:
                    self.repeats += 1
                    self._yielded_at = time.monotonic()
                    return self._last
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._changed.wait()

    def _offer(self, number: int, source: HeadSource) -> bool:
        """Take ``number`` as the newest head when it is newer than every one seen."""
        if self._newest is not None and number <= self._newest:
            return False
        self._newest, self._newest_source = number, source
        self.first_seen[source] += 1
        self._changed.set()
        return True

    def _confirm(self, number: int) -> None:
        if self._confirmed is None or number > self._confirmed:
            self._confirmed = number

    # HTTP -------------------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        while True:
            await self._poll_once(HeadSource.POLL)
            await asyncio.sleep(self._interval_s)

    async def _poll_once(self, source: HeadSource) -> None:
        try:
            number = await latest_block(self._w3, timeout_s=self._timeout_s)
        except ChainError as exc:
            if source is HeadSource.POLL:
                self._poll_error = exc
                self._changed.set()
            else:
                log.warning("heads.resync_failed", error=describe_exc(exc))
            return
        if source is HeadSource.POLL:
            self._poll_error = None
        self._confirm(number)
        self._offer(number, source)

    # WebSocket --------------------------------------------------------------------------
    async def _endpoint_loop(self, endpoint: WsEndpoint) -> None:
        """Subscribe, stream, and after any failure subscribe again with backoff."""
        delay_s = self._backoff[0]
        while True:
            endpoint.accepted = endpoint.delivered = 0
            try:
                await self._stream(endpoint)
                error = "the subscription stream ended"
            except Exception as exc:  # noqa: BLE001 - a peer's failure of any kind, logged
                error = describe_exc(exc).replace(endpoint.url, endpoint.label)
            self.reconnects += 1
            if endpoint.delivered:  # this connection delivered a new block that checked out
                delay_s = self._backoff[0]
            endpoint.lost(error, delay_s)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, self._backoff[1])

    async def _stream(self, endpoint: WsEndpoint) -> None:
        provider = BoundedWebSocketProvider(
            endpoint.url,
            request_timeout_s=self._timeout_s,
            max_message_bytes=self._max_message_bytes,
        )
        async with AsyncWeb3(provider) as ws:
            async with asyncio.timeout(self._timeout_s):
                await ws.eth.subscribe("newHeads")
            endpoint.connects += 1
            try:
                log.info("heads.ws_subscribed", endpoint=endpoint.label, index=endpoint.index)
                await self._poll_once(HeadSource.RESYNC)  # what was mined while we were away
                endpoint.live = True  # subscribed and caught up: later blocks come streamed
                async for message in ws.socket.process_subscriptions():
                    await self._take(endpoint, message.get("result"))
            finally:
                endpoint.live = False

    async def _take(self, endpoint: WsEndpoint, header: Any) -> None:
        """Check one streamed header and offer its number; a bad one is a strike. At most one
        HTTP request in flight for the endpoint, and none while it is penalised."""
        now = time.monotonic()
        if endpoint.penalised(now):
            return
        try:
            head = parse_head(header)
            if self._newest is not None and head.number <= self._newest:
                if self._hashes.matches(head):  # on the chain the HTTP node confirmed
                    endpoint.accept(new=False)
                return  # another source was first; an unknown hash is not worth a request
            if not self._within_lead(head) or not endpoint.pending.add(head, now):
                return  # nothing confirmed yet, or its number waits already (or no room)
            if not endpoint.lock.locked():
                async with endpoint.lock:
                    await self._settle(endpoint, head.number)
        except (AnswerRejected, ChainError) as exc:
            endpoint.refuse(exc, time.monotonic(), *self._backoff)
            return
        if endpoint.pending and endpoint.waiter is None:
            task = asyncio.create_task(self._recheck(endpoint))
            endpoint.waiter = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _within_lead(self, head: BlockInfo) -> bool:
        """Whether ``head`` may be asked for; False (dropped, not refused) while the HTTP node
        has confirmed nothing yet. ``ChainError``, without any request, for a head more than
        ``MAX_UNVERIFIED_LEAD_BLOCKS`` past the confirmed head."""
        confirmed = self._confirmed
        if confirmed is None:
            return False
        if head.number > confirmed + MAX_UNVERIFIED_LEAD_BLOCKS:
            raise ChainError(
                f"head {head.number} is more than {MAX_UNVERIFIED_LEAD_BLOCKS} blocks past "
                f"block {confirmed}, the newest the HTTP node confirmed: refused unasked"
            )
        return True

    async def _settle(self, endpoint: WsEndpoint, number: int) -> bool:
        """Ask the HTTP node for block ``number`` (unless its hash is known) and settle the
        endpoint's heads of that number: the matching one is offered, the others refused.
        False when the node lacks it (heads past their deadline refused). ``ChainError``
        (the number dropped) for a failed request."""
        known = self._hashes.get(number)
        if known is None:
            try:
                info = await block_info(self._w3, number, timeout_s=self._timeout_s)
            except (AnswerRejected, ChainError) as exc:
                if "does not have block" not in str(exc):
                    endpoint.pending.drop(number)
                    raise
                for late in endpoint.pending.lacking(number, time.monotonic()):
                    lacked = f"the HTTP node did not have block {late.number} in time"
                    endpoint.refuse(ChainError(lacked), time.monotonic(), *self._backoff)
                return False
            self._hashes.add(info)
            self._confirm(number)
            known = info.hash
        match, refuted = endpoint.pending.settle(number, known)
        for bad in refuted:
            wrong = f"head {number} is {known} on the HTTP node, not {bad.hash}"
            endpoint.refuse(ChainError(wrong), time.monotonic(), *self._backoff)
        if match is not None:
            endpoint.accept(new=True)  # it came before any source reported its number
            self._offer(number, HeadSource.WS)
        return True

    async def _recheck(self, endpoint: WsEndpoint) -> None:
        """Ask again for the endpoint's waiting heads when due, lowest number first; a round
        stops at the first number the HTTP node lacks (it lacks the higher ones too)."""
        try:
            while (due_at := endpoint.pending.next_due()) is not None:
                await asyncio.sleep(max(0.0, due_at - time.monotonic()))
                async with endpoint.lock:
                    for number in endpoint.pending.due(time.monotonic()):
                        try:
                            if not await self._settle(endpoint, number):
                                break
                        except (AnswerRejected, ChainError) as exc:
                            endpoint.refuse(exc, time.monotonic(), *self._backoff)
        finally:
            endpoint.waiter = None


@contextlib.asynccontextmanager
async def open_heads(
    w3: AsyncWeb3[Any], chain: ChainConfig
) -> AsyncIterator[HeadPoller | StreamedHeads]:
    """The daemon's head source for ``chain``: :class:`StreamedHeads` over ``chain.ws_urls``
    with the poller as fallback, or the poller alone when no ``ws_urls`` are configured.
    Background tasks and sockets are closed on exit."""
    if not chain.ws_urls:
        yield HeadPoller(
            w3,
            poll_interval_s=chain.poll_interval_s,
            request_timeout_s=chain.request_timeout_s,
            heartbeat_s=chain.heartbeat_s,
        )
        return
    async with StreamedHeads(
        w3,
        chain.ws_urls,
        poll_interval_s=chain.poll_interval_s,
        request_timeout_s=chain.request_timeout_s,
        heartbeat_s=chain.heartbeat_s,
    ) as heads:
        yield heads
