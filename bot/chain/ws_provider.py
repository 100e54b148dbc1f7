"""The WebSocket side of streamed heads: web3's ``WebSocketProvider`` bounded, and the check
of one ``newHeads`` header. A WebSocket peer is untrusted: frames are size-limited, messages
parsed depth-limited, heads range-checked (``bot.chain.answers``), the URL shown masked."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, cast

from web3 import WebSocketProvider
from web3._utils.caching.caching_utils import generate_cache_key
from web3.types import RPCId, RPCResponse

from bot.chain.answers import AnswerRejected, hex_bytes, quantity
from bot.chain.heads import BlockInfo
from bot.safety import MAX_JSON_DEPTH, PayloadRejected, loads_bounded, mask_url

__all__ = [
    "WS_MAX_MESSAGE_BYTES",
    "BoundedWebSocketProvider",
    "mute_web3_socket_logs",
    "parse_head",
]

WS_MAX_MESSAGE_BYTES = 1024 * 1024  # a newHeads header is ~1 KB
_PING_S = 20.0  # keep-alive ping; no pong within as long: the connection is dropped
_ANSWER_CHECK_S = 0.001


def parse_head(header: Any) -> BlockInfo:
    """Number, timestamp and hash of one ``newHeads`` header (web3-formatted or raw hex).

    Raises ``AnswerRejected`` for anything else: not a mapping, a number or timestamp
    outside ``0..2**63-1``, a hash that is not 32 bytes."""
    if not isinstance(header, Mapping):
        raise AnswerRejected(f"newHeads: not a header object: {type(header).__name__}")
    try:
        return BlockInfo(
            number=quantity(header["number"], "head number"),
            timestamp=quantity(header["timestamp"], "head timestamp"),
            hash="0x" + hex_bytes(header["hash"], "head hash", length=32).hex(),
        )
    except KeyError as exc:
        raise AnswerRejected(f"newHeads: header without {exc}") from None


class BoundedWebSocketProvider(WebSocketProvider):
    """web3's ``WebSocketProvider`` with bounded frames and answers and a masked URL.

    Frames over ``max_message_bytes`` close the connection (``websockets``' ``max_size``);
    each message is parsed by ``loads_bounded`` (depth ``MAX_JSON_DEPTH``) and must be a JSON
    object, else ``PayloadRejected`` ends web3's listener and with it the subscription. One
    connection attempt per ``connect`` (the caller owns the retry policy); a keep-alive ping
    every 20 s, a peer silent to it for 20 s more is dropped."""

    def __init__(
        self,
        url: str,
        *,
        request_timeout_s: float = 10.0,
        max_message_bytes: int = WS_MAX_MESSAGE_BYTES,
    ) -> None:
        super().__init__(
            url,
            websocket_kwargs={
                "max_size": max_message_bytes,
                "ping_interval": _PING_S,
                "ping_timeout": _PING_S,
                "open_timeout": request_timeout_s,
            },
            request_timeout=request_timeout_s,
            max_connection_retries=1,
        )
        self.label = mask_url(url)
        self.max_message_bytes = max_message_bytes

    def __str__(self) -> str:
        return f"WebSocket connection {self.label}"

    async def _get_response_for_request_id(
        self,
        request_id: RPCId | list[RPCId],
        timeout: float | None = None,  # noqa: ASYNC109 - web3's signature, overridden
    ) -> RPCResponse:
        """web3's wait for the answer to one request (here only ``eth_subscribe``), checking
        every millisecond instead of spinning the event loop with ``sleep(0)``: a peer that
        never answers costs no CPU until ``TimeoutError`` after ``request_timeout``."""
        key = generate_cache_key(request_id)
        processor = self._request_processor
        async with asyncio.timeout(self.request_timeout if timeout is None else timeout):
            while True:
                self._handle_listener_task_exceptions()
                if key in processor._request_response_cache:
                    answer: RPCResponse = await processor.pop_raw_response(cache_key=key)
                    return answer
                await asyncio.sleep(_ANSWER_CHECK_S)

    async def socket_recv(self) -> RPCResponse:
        """The next message, size- and depth-bounded; ``PayloadRejected`` otherwise."""
        if self._ws is None:
            raise ConnectionError(f"{self.label}: not connected")
        raw = await self._ws.recv()
        answer = loads_bounded(raw, max_bytes=self.max_message_bytes, max_depth=MAX_JSON_DEPTH)
        if not isinstance(answer, dict):
            raise PayloadRejected(f"{self.label}: a message that is not a JSON object")
        return cast(RPCResponse, answer)


def mute_web3_socket_logs() -> None:
    """web3 and websockets log endpoint URLs (with any key in the path) and raw messages;
    our own lines say what happened, masked."""
    for name in (
        "web3.providers.WebSocketProvider",
        "web3.providers.PersistentConnectionProvider",
        "web3.providers.persistent.subscription_manager",
        "web3.manager.RequestManager",
        "websockets",
    ):
        logger = logging.getLogger(name)
        logger.propagate = False
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
