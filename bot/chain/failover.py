"""Several RPC endpoints behind one web3 provider: health scoring, failover, bounded requests.

Each request goes to the healthiest endpoint first: fewest recent failures, then lowest
latency (EWMA). A transport failure, a timeout, an oversized or undecodable answer, a *bad
answer* (a value out of range: ``bot.chain.answers``), a head too far behind the best head
seen (``max_lag_blocks``) or a chain id other than the pinned one (``chain_id``: each
endpoint is asked ``eth_chainId`` before its first use and again after each of its failures,
so a request never goes to a node of another chain) counts against the endpoint, puts it in
a cooldown that doubles with each consecutive failure, and the request moves on to the next
endpoint. A JSON-RPC error answer (a revert, an unknown block) is an answer, not a failure:
it is returned as it is. Only when every endpoint failed does the request fail, with the last
error. Endpoints appear in logs and errors only masked (``bot.safety.mask_url``) with their
index: a URL may carry an RPC key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from web3 import AsyncHTTPProvider
from web3.types import RPCEndpoint, RPCResponse

from bot.chain.answers import quantity
from bot.chain.transport import BoundedHTTPProvider
from bot.safety import MAX_RESPONSE_BYTES, describe_exc, mask_url

__all__ = ["ATTEMPTS_SHARE", "EndpointHealth", "FailoverProvider"]

log = structlog.get_logger("hedgebot.chain.failover")

# share of ``request_timeout_s`` that one request's attempts may take together: the rest is
# the margin before the caller's deadline of ``request_timeout_s`` cancels the last attempt
ATTEMPTS_SHARE = 0.9

_TRANSPORT_FAILURES: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    OSError,
    TimeoutError,
    ValueError,  # oversized, too deep, undecodable or out-of-range answer (PayloadRejected)
)


class EndpointLagging(Exception):
    """The endpoint's head is behind the best head seen by more than the tolerance."""


class EndpointOnOtherChain(Exception):
    """The endpoint answers ``eth_chainId`` with another id than the chain's."""


_FAILOVER_ON: tuple[type[BaseException], ...] = (
    *_TRANSPORT_FAILURES,
    EndpointLagging,
    EndpointOnOtherChain,
)


@dataclass
class EndpointHealth:
    """What we know about one endpoint; ``url`` is kept but only ``label`` is ever shown."""

    url: str
    label: str = ""  # the URL masked, for logs and errors
    failures: int = 0  # consecutive
    successes: int = 0
    latency_s: float = 0.0  # EWMA of successful requests
    cooldown_until_s: float = 0.0
    head: int | None = None
    chain_id: int | None = None  # what it answered to eth_chainId since its last failure
    last_error: str | None = None

    def score(self, now_s: float) -> tuple[int, int, float]:
        """Sort key, best first: out of cooldown, fewer failures, faster."""
        return (int(now_s < self.cooldown_until_s), self.failures, self.latency_s)


class FailoverProvider(AsyncHTTPProvider):
    """An ``AsyncHTTPProvider`` that spreads each request over ``urls`` by health."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        request_timeout_s: float = 10.0,
        max_lag_blocks: int = 3,
        base_cooldown_s: float = 2.0,
        max_cooldown_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        chain_id: int | None = None,
    ) -> None:
        if not urls:
            raise ValueError("at least one RPC url is needed")
        super().__init__(urls[0], exception_retry_configuration=None)
        self._providers = [
            BoundedHTTPProvider(
                url, request_timeout_s=request_timeout_s, max_response_bytes=max_response_bytes
            )
            for url in urls
        ]
        self.health = [EndpointHealth(url, label=mask_url(url)) for url in urls]
        self.request_timeout_s = request_timeout_s
        self.max_lag_blocks = max_lag_blocks
        self.base_cooldown_s = base_cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self._monotonic = monotonic
        self.failovers = 0
        self.chain_id = chain_id  # pinned: endpoints answering another id are never used

    def __str__(self) -> str:
        return f"RPC failover over {[h.label for h in self.health]}"

    @property
    def best_head(self) -> int | None:
        """The highest block number any endpoint reported."""
        heads = [h.head for h in self.health if h.head is not None]
        return max(heads) if heads else None

    def _order(self) -> list[int]:
        now = self._monotonic()
        return sorted(range(len(self.health)), key=lambda i: self.health[i].score(now))

    def _failed(self, index: int, error: BaseException) -> None:
        health = self.health[index]
        health.failures += 1
        health.last_error = describe_exc(error)
        health.chain_id = None  # asked again before its next use
        cooldown = min(self.max_cooldown_s, self.base_cooldown_s * 2 ** (health.failures - 1))
        health.cooldown_until_s = self._monotonic() + cooldown
        log.warning(
            "rpc.endpoint_failed",
            endpoint=index,
            url=health.label,
            failures=health.failures,
            cooldown_s=cooldown,
            error=health.last_error,
        )

    def _succeeded(self, index: int, latency_s: float) -> None:
        health = self.health[index]
        if health.failures:
            log.info("rpc.endpoint_recovered", endpoint=index, url=health.label)
        health.failures = 0
        health.successes += 1
        health.cooldown_until_s = 0.0
        health.latency_s = (
            latency_s if health.successes == 1 else 0.8 * health.latency_s + (0.2 * latency_s)
        )

    def _check_head(self, index: int, method: RPCEndpoint, response: RPCResponse) -> None:
        if method != "eth_blockNumber" or "result" not in response:
            return
        head = quantity(response["result"], "eth_blockNumber result")  # AnswerRejected
        best = self.best_head
        self.health[index].head = head
        if best is not None and head + self.max_lag_blocks < best:
            raise EndpointLagging(f"head {head} is {best - head} blocks behind {best}")

    def pin_chain_id(self, chain_id: int) -> None:
        """From now on, use only endpoints that answer ``eth_chainId`` with ``chain_id``."""
        self.chain_id = chain_id

    async def _ask_chain_id(self, index: int) -> int:
        """``eth_chainId`` of endpoint ``index`` (recorded in its health); transport errors,
        an error answer or a bad quantity raise (``OSError``, ``ValueError``,
        ``TimeoutError``)."""
        async with asyncio.timeout(self.request_timeout_s):
            response = await self._providers[index].make_request(RPCEndpoint("eth_chainId"), [])
        if "result" not in response:
            raise ValueError(f"eth_chainId: {response.get('error', 'no result')}")
        answered = quantity(response["result"], "eth_chainId result")
        self.health[index].chain_id = answered
        return answered

    async def endpoint_chain_ids(self) -> list[tuple[str, int | str]]:
        """``(masked url, chain id or why it did not answer)`` of every endpoint, in
        configuration order; unscored (a start-up check, not traffic)."""
        answers: list[tuple[str, int | str]] = []
        for index, health in enumerate(self.health):
            try:
                answers.append((health.label, await self._ask_chain_id(index)))
            except _TRANSPORT_FAILURES as exc:
                answers.append((health.label, describe_exc(exc)))
        return answers

    async def _verify_chain(self, index: int) -> None:
        """Raise ``EndpointOnOtherChain`` when a chain id is pinned and endpoint ``index``
        answers another (asked once, then again after each of its failures)."""
        health = self.health[index]
        if self.chain_id is None or health.chain_id == self.chain_id:
            return
        answered = health.chain_id
        if answered is None:
            answered = await self._ask_chain_id(index)
        if answered != self.chain_id:
            raise EndpointOnOtherChain(f"answers chain id {answered}, expected {self.chain_id}")

    async def _attempt(
        self, index: int, method: RPCEndpoint, params: Any, budget_s: float
    ) -> RPCResponse:
        """One endpoint's try (its chain id check included) within ``budget_s``; a silent or
        dripping endpoint raises ``TimeoutError`` naming it, so it is scored."""
        try:
            async with asyncio.timeout(budget_s):
                await self._verify_chain(index)
                response = await self._providers[index].make_request(method, params)
        except TimeoutError:
            label = self.health[index].label
            raise TimeoutError(f"no answer from {label} within {budget_s:.3g}s") from None
        self._check_head(index, method, response)
        return response

    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """Try endpoints best first; the first answer wins, every failure is scored.

        The whole request takes at most ``ATTEMPTS_SHARE × request_timeout_s`` (the caller's
        own deadline, ``bot.chain.rpc.guarded``, is ``request_timeout_s``): each endpoint gets
        an equal share of what is left, so an endpoint that accepts the connection and never
        answers (or drips a byte a second) is cut off, scored failed and put in cooldown, and
        the next endpoint answers within the same deadline. Raises the last endpoint's error
        when none answered (``TimeoutError``, ``OSError``, ``ValueError``).
        """
        last: BaseException | None = None
        order = self._order()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.request_timeout_s * ATTEMPTS_SHARE
        for attempt, index in enumerate(order):
            started = self._monotonic()
            budget_s = (deadline - loop.time()) / (len(order) - attempt)
            try:
                response = await self._attempt(index, method, params, budget_s)
            except _FAILOVER_ON as exc:
                last = exc
                self._failed(index, exc)
                continue
            self._succeeded(index, self._monotonic() - started)
            if attempt:
                self.failovers += 1
                log.warning(
                    "rpc.failover", method=method, endpoint=index, url=self.health[index].label
                )
            return response
        assert last is not None
        if isinstance(last, EndpointLagging):
            raise TimeoutError(f"{method}: every RPC endpoint failed or lags: {last}")
        if isinstance(last, EndpointOnOtherChain):
            raise ConnectionError(f"{method}: no RPC endpoint on chain id {self.chain_id}: {last}")
        raise last

    async def make_batch_request(
        self, batch_requests: list[tuple[RPCEndpoint, Any]]
    ) -> list[RPCResponse] | RPCResponse:
        """Not used by hedgebot: refused rather than sent unbounded to the first endpoint."""
        raise NotImplementedError("batch JSON-RPC requests are not supported")

    async def disconnect(self) -> None:
        """Close every endpoint's session."""
        for provider in self._providers:
            await provider.disconnect()
