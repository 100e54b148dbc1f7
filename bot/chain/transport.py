"""JSON-RPC over HTTP that trusts nothing it receives and shows no credential it was given.

``BoundedHTTPProvider`` is web3's ``AsyncHTTPProvider`` with the answer read in bounded
chunks (a body over ``max_response_bytes`` is refused before it is parsed) and parsed by
``bot.safety.loads_bounded`` (a deeply nested body is refused instead of overflowing the C
stack), then range-checked by ``bot.chain.answers.check_answer`` (a block number of 200,000
hex digits is refused as ``AnswerRejected``, a bad answer of this endpoint). Every transport
failure is re-raised as ``EndpointFailed`` whose message names the endpoint by ``mask_url``
only: an RPC key in the URL's path, query or userinfo never reaches a log line, an event or an
error.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import aiohttp
from web3 import AsyncHTTPProvider
from web3.types import RPCEndpoint, RPCResponse

from bot.chain.answers import check_answer
from bot.safety import MAX_RESPONSE_BYTES, PayloadRejected, loads_bounded, mask_url

__all__ = ["BoundedHTTPProvider", "EndpointFailed"]

_CHUNK_BYTES = 64 * 1024


class EndpointFailed(ConnectionError):
    """An RPC endpoint could not be reached or answered with an HTTP error; the message names
    the endpoint masked (scheme, host and port only)."""


def _redacted(text: str, url: str) -> str:
    """``text`` with ``url`` (and its path/query, which may hold a key) replaced by its mask."""
    return text.replace(url, mask_url(url)) if url else text


class BoundedHTTPProvider(AsyncHTTPProvider):
    """An ``AsyncHTTPProvider`` whose answers are size- and depth-bounded and whose errors
    and ``str()`` show the endpoint masked.

    Raises from ``make_request``: ``PayloadRejected`` (a ``ValueError``) for an oversized,
    non-UTF-8, non-JSON or too deeply nested body, ``AnswerRejected`` (a ``PayloadRejected``)
    for a value out of range; ``EndpointFailed`` (an ``OSError``) for a
    refused connection or an HTTP error status; ``TimeoutError`` when the session's timeout
    expires. Batch requests are not used by hedgebot and are refused.
    """

    def __init__(
        self,
        endpoint_uri: str,
        *,
        request_timeout_s: float = 10.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        if max_response_bytes <= 0:
            raise ValueError("max_response_bytes must be positive")
        super().__init__(
            endpoint_uri,
            request_kwargs={"timeout": aiohttp.ClientTimeout(total=request_timeout_s)},
            exception_retry_configuration=None,
        )
        self.max_response_bytes = max_response_bytes
        self.label = mask_url(endpoint_uri)
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def __str__(self) -> str:
        return f"RPC connection {self.label}"

    def _own_session(self) -> aiohttp.ClientSession:
        """This provider's own session (one per event loop), never web3's shared cache: its
        process-wide ``threading.Lock`` is taken in executor threads and leaks when a request
        is cancelled while waiting for it, after which every request in the process hangs."""
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._session_loop is not loop:
            session = aiohttp.ClientSession()
            self._session, self._session_loop = session, loop
        return session

    async def disconnect(self) -> None:
        """Close this provider's session."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """One JSON-RPC round trip; the answer is read and parsed within the bounds."""
        raw = await self._post(self.encode_rpc_request(method, params))
        try:
            answer = loads_bounded(raw, max_bytes=self.max_response_bytes, max_depth=None)
            check_answer(method, answer)
        except PayloadRejected as exc:
            raise type(exc)(f"{method} answer from {self.label}: {exc}") from None
        return cast(RPCResponse, answer)

    async def make_batch_request(
        self, batch_requests: list[tuple[RPCEndpoint, Any]]
    ) -> list[RPCResponse] | RPCResponse:
        """Not used by hedgebot: refused rather than read unbounded."""
        raise NotImplementedError("batch JSON-RPC requests are not supported")

    async def _post(self, request_data: bytes) -> bytes:
        url = str(self.endpoint_uri)
        try:
            session = self._own_session()
            response = await session.post(url, data=request_data, **dict(self.get_request_kwargs()))
            async with response:
                if response.status >= 400:
                    raise EndpointFailed(f"{self.label}: HTTP {response.status} {response.reason}")
                return await self._read_bounded(response)
        except (EndpointFailed, PayloadRejected, TimeoutError):
            raise
        except (aiohttp.ClientError, OSError) as exc:
            reason = _redacted(str(exc), url)
            raise EndpointFailed(f"{self.label}: {type(exc).__name__}: {reason}") from None

    async def _read_bounded(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self.max_response_bytes
        declared = response.content_length
        if declared is not None and declared > limit:
            response.close()
            raise PayloadRejected(
                f"answer from {self.label} declares {declared} bytes, over the limit of {limit}"
            )
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
            body += chunk
            if len(body) > limit:
                response.close()
                raise PayloadRejected(
                    f"answer from {self.label} exceeds the limit of {limit} bytes"
                )
        return bytes(body)
