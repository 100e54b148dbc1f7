"""Reading a venue's history endpoints page by page (trades, funding income and rates)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot import errors
from bot.exchange.ccxt.calls import CcxtCalls
from bot.exchange.ccxt.fields import mapping, timestamp_ms

__all__ = ["paged", "rows", "windowed"]

_HISTORY_MS = 180 * 86_400_000  # venues keep about six months of trade history
_WEEK_MS = 7 * 24 * 3600 * 1000
_PAGE = 1000
HistoryMethod = Callable[..., Awaitable[list[dict[str, Any]]]]


async def windowed(
    calls: CcxtCalls, method: HistoryMethod, symbol: str, since_ms: int
) -> list[Mapping[str, Any]]:
    """Rows since ``since_ms`` (at most ~180 days back), deduplicated by ``id``, through 7-day
    windows (binance caps each query at 7 days); the last window is open-ended."""
    out: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    now = calls.api().milliseconds()
    start = max(since_ms, now - _HISTORY_MS)
    while True:
        # the last window is open-ended: the venue's clock may run ahead of ours
        end = start + _WEEK_MS - 1
        last = end >= now
        params = {} if last else {"until": end}
        page = rows(await calls.call(method, symbol, start, _PAGE, params))
        for row in page:
            key = str(row.get("id"))
            if key not in seen:
                seen.add(key)
                out.append(row)
        if len(page) >= _PAGE:
            start = _latest_ms(page) + 1
        elif last:
            return out
        else:
            start = end + 1


async def paged(
    calls: CcxtCalls, method: HistoryMethod, symbol: str, since_ms: int
) -> list[Mapping[str, Any]]:
    """Rows since ``since_ms``, following full pages by their latest timestamp."""
    out: list[Mapping[str, Any]] = []
    start = since_ms
    while True:
        page = rows(await calls.call(method, symbol, start, _PAGE))
        out.extend(page)
        if len(page) < _PAGE:
            return out
        start = _latest_ms(page) + 1


def rows(page: object) -> list[Mapping[str, Any]]:
    """A ccxt list answer whose every item is an object; ``VenueDataError`` otherwise."""
    if not isinstance(page, list):
        raise errors.VenueDataError(f"expected a list, got {type(page).__name__}")
    return [mapping(row, "row") for row in page]


def _latest_ms(page: list[Mapping[str, Any]]) -> int:
    return max(timestamp_ms(r.get("timestamp"), "row timestamp") for r in page)
