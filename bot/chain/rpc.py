"""One place where web3/aiohttp failures become ``ChainError`` and every call gets a deadline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

import aiohttp
from eth_abi.exceptions import DecodingError
from eth_typing import ChecksumAddress
from web3 import AsyncWeb3
from web3.exceptions import Web3Exception
from web3.types import RPCEndpoint

from bot.chain.transport import BoundedHTTPProvider
from bot.errors import ChainError
from bot.safety import MAX_RESPONSE_BYTES, describe_exc, safe_str

__all__ = [
    "CHAIN_FAILURES",
    "checksum",
    "connect",
    "eth_call",
    "guarded",
    "load_abi",
    "rpc_request",
]

T = TypeVar("T")

# Everything a node, the transport or a decoder raises for a bad answer. Programming errors
# (AttributeError, NameError, ...) are left alone so they surface as bugs.
CHAIN_FAILURES: tuple[type[BaseException], ...] = (
    Web3Exception,
    aiohttp.ClientError,
    OSError,
    ValueError,
    TypeError,
    LookupError,
    DecodingError,
    TimeoutError,
)


@lru_cache(maxsize=4096)
def checksum(address: str) -> ChecksumAddress:
    """``address`` in EIP-55 form; ``ValueError`` when it is not an address.

    Memoised: the readers checksum the same few addresses every block (a keccak each)."""
    return AsyncWeb3.to_checksum_address(address)


def connect(
    rpc_url: str,
    *,
    request_timeout_s: float = 10.0,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> AsyncWeb3[Any]:
    """An ``AsyncWeb3`` over HTTP without web3's own retries (callers own retry policy).

    Answers over ``max_response_bytes`` or nested too deeply are refused before parsing; the
    URL is shown masked in every error (see ``bot.chain.transport``).
    """
    provider = BoundedHTTPProvider(
        rpc_url, request_timeout_s=request_timeout_s, max_response_bytes=max_response_bytes
    )
    return AsyncWeb3(provider)


async def guarded(what: str, call: Awaitable[T], timeout_s: float) -> T:
    """Await ``call`` within ``timeout_s``; any chain-side failure raises ``ChainError`` (its
    message bounded and escaped: it may carry a peer's text)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await call
    except TimeoutError as exc:
        detail = f" ({describe_exc(exc, 200)})" if str(exc) else ""  # which endpoint, if known
        raise ChainError(f"{what}: no answer within {timeout_s:g}s{detail}") from exc
    except CHAIN_FAILURES as exc:
        raise ChainError(f"{what}: {describe_exc(exc)}") from exc


async def rpc_request(
    w3: AsyncWeb3[Any], method: str, *params: Any, timeout_s: float = 10.0
) -> Any:
    """One raw JSON-RPC request, no middleware: exactly one round trip; errors -> ChainError."""
    response: Any = await guarded(
        method, w3.provider.make_request(RPCEndpoint(method), list(params)), timeout_s
    )
    if not isinstance(response, dict):
        raise ChainError(f"{method}: malformed answer of type {type(response).__name__}")
    if "error" in response:
        error = response["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise ChainError(f"{method}: {safe_str(message)}")
    return response.get("result")


async def eth_call(
    w3: AsyncWeb3[Any], to: str, data: bytes, block_number: int, *, timeout_s: float = 10.0
) -> bytes:
    """``eth_call`` pinned to ``block_number``; a revert or bad answer raises ``ChainError``."""
    call = {"to": to, "data": "0x" + data.hex()}
    result = await rpc_request(w3, "eth_call", call, hex(block_number), timeout_s=timeout_s)
    if not isinstance(result, str) or not result.startswith("0x"):
        raise ChainError(f"eth_call to {to}: malformed result {safe_str(result, 200)}")
    try:
        return bytes.fromhex(result[2:])
    except ValueError as exc:
        raise ChainError(f"eth_call to {to}: malformed result {safe_str(result, 200)}") from exc


def load_abi(name: str) -> list[dict[str, Any]]:
    """A minimal ABI shipped in ``bot/chain/abi/<name>.json``."""
    text = resources.files("bot.chain").joinpath("abi", f"{name}.json").read_text("utf-8")
    abi: list[dict[str, Any]] = json.loads(text)
    return abi
