"""Closing the ccxt client and the aiohttp session the adapter gave it.

ccxt's ``close()`` sleeps ``timeout_on_exit`` (250 ms) so that SSL transports can finish
closing (aiohttp's graceful-shutdown advice: wait a moment after closing a session with SSL
connections). The adapter owns the session, so ccxt's sleep would come before the session is
closed; instead the grace is waited after it, unless every URL in use is plain http (the
loopback emulators), which closes at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import aiohttp

__all__ = ["close_client", "tls_grace_ms"]


def _url_strings(value: object) -> Iterator[str]:
    """Every string in ccxt's ``urls['api']`` (a string, or nested dicts of strings)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _url_strings(item)


def tls_grace_ms(client: Any, url_overrides: Mapping[str, str]) -> int:
    """ccxt's ``timeout_on_exit`` (milliseconds) unless every URL the client talks to is
    plain http, then 0. Those URLs are ``url_overrides`` (the configured ``urls``, which
    replace the ones the adapter uses: the emulators') when given, else ccxt's own
    ``urls['api']``. No readable URL keeps the grace (the safe side)."""
    grace = int(getattr(client, "timeout_on_exit", 0) or 0)
    if url_overrides:
        strings = list(url_overrides.values())
    else:
        urls = getattr(client, "urls", None)
        strings = list(_url_strings(urls.get("api") if isinstance(urls, dict) else None))
    if strings and all(url.lower().startswith("http://") for url in strings):
        return 0
    return grace


async def close_client(
    client: Any,
    session: aiohttp.ClientSession | None,
    url_overrides: Mapping[str, str],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Close ``client`` (ccxt, its own sleep skipped) and then ``session`` (ours), then
    ``sleep`` the SSL grace in seconds (:func:`tls_grace_ms`), if any. The session is closed
    even when the client's close raises."""
    grace_ms = 0
    try:
        if client is not None:
            grace_ms = tls_grace_ms(client, url_overrides)
            client.timeout_on_exit = 0  # the grace is waited below, after our session closes
            await client.close()
    finally:
        if session is not None:
            await session.close()
        if grace_ms:
            await sleep(grace_ms / 1000)
