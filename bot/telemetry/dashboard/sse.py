"""Server-sent events over aiohttp: one subscription of a ``DashboardFeed`` per page."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from bot.telemetry.dashboard.feed import DashboardFeed, FeedItem

__all__ = ["KEEPALIVE_S", "REFUSED_RETRY_MS", "stream_feed"]

KEEPALIVE_S = 15.0
REFUSED_RETRY_MS = 15_000
_STREAM_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",
}


async def _refuse(request: web.Request, reason: str) -> web.StreamResponse:
    """One ``refused`` event (``{"reason"}``) and the end of the stream."""
    response = web.StreamResponse(headers={**_STREAM_HEADERS, "X-Hedgebot-Refused": "1"})
    await response.prepare(request)
    body = json.dumps({"reason": reason})
    await response.write(f"retry: {REFUSED_RETRY_MS}\nevent: refused\ndata: {body}\n\n".encode())
    await response.write_eof()
    return response


async def stream_feed(
    request: web.Request,
    feed: DashboardFeed,
    closing: asyncio.Event,
    extra: Callable[[FeedItem], list[FeedItem]] | None = None,
) -> web.StreamResponse:
    """Serve ``feed`` as ``text/event-stream`` until the page goes or ``closing`` is set.

    ``extra(item)``: frames to send after ``item`` (e.g. the kill switch after each state).
    A page beyond the feed's subscriber limit gets one ``refused`` event saying why (a 503
    would only make the browser's EventSource give up silently) and retries after
    ``REFUSED_RETRY_MS``.
    """
    try:
        subscription_cm = feed.subscribe()
        subscription = subscription_cm.__enter__()
    except OverflowError as exc:
        return await _refuse(request, str(exc))
    response = web.StreamResponse(headers=_STREAM_HEADERS)
    try:
        await response.prepare(request)
        await response.write(b"retry: 1000\n\n")
        while not closing.is_set():
            item = await _next_or_none(subscription.next(), closing)
            frames = [] if item is None else [item, *(extra(item) if extra else [])]
            for frame in frames:
                await response.write(frame.sse())
            if item is None:
                await response.write(b": keepalive\n\n")
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        subscription_cm.__exit__(None, None, None)
    return response


async def _next_or_none(
    next_item: Coroutine[Any, Any, FeedItem], closing: asyncio.Event
) -> FeedItem | None:
    """The next item, or None after ``KEEPALIVE_S`` or when ``closing`` is set."""
    item_task = asyncio.ensure_future(next_item)
    closing_task = asyncio.ensure_future(closing.wait())
    try:
        done, _ = await asyncio.wait(
            {item_task, closing_task}, timeout=KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in (item_task, closing_task):
            if not task.done():
                task.cancel()
    if item_task in done:
        return item_task.result()
    return None
