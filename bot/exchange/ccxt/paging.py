"""Reading a venue's history endpoints page by page (trades, funding income and rates).

The cursors they are read from are venue time (the timestamps of the venue's own records), so
the windows follow the venue's clock too (``venue_now_ms``: the host clock less the offset
``CcxtCalls.sync_time`` measured), never the host's alone: a venue whose clock runs behind
the host's (a skewed host, an emulator on a simulated chain's time) still has every record
since the cursor read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from bot import errors
from bot.domain import FundingPayment
from bot.exchange.ccxt.calls import CcxtCalls
from bot.exchange.ccxt.fields import mapping, timestamp_ms
from bot.exchange.ccxt.history import funding_from_ccxt
from bot.exchange.ccxt.hyperliquid import funding_from_user_funding
from bot.exchange.ccxt.settings import FUNDING_IN_INCOME, CcxtPerpSettings

__all__ = ["paged", "rows", "venue_now_ms", "windowed"]

_HISTORY_MS = 180 * 86_400_000  # venues keep about six months of trade history
_WEEK_MS = 7 * 24 * 3600 * 1000
_PAGE = 1000
HistoryMethod = Callable[..., Awaitable[list[dict[str, Any]]]]


async def windowed(
    calls: CcxtCalls, method: HistoryMethod, symbol: str, since_ms: int
) -> list[Mapping[str, Any]]:
    """Rows since ``since_ms`` (venue ms; at most ~180 days of the venue's clock back, what
    venues keep), deduplicated by ``id``, through 7-day windows (binance caps each query at 7
    days); the last window, the one reaching the venue's now (``venue_now_ms``), is
    open-ended. Raises what ``CcxtCalls.call`` raises; ``VenueDataError`` for a malformed
    page."""
    out: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    now = venue_now_ms(calls)
    start = max(since_ms, now - _HISTORY_MS)
    while True:
        # the last window is open-ended: the venue's clock may run ahead of the estimate
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


def venue_now_ms(calls: CcxtCalls) -> int:
    """The venue's clock now (unix ms), as measured: the client's clock less ccxt's
    ``timeDifference`` (host minus venue, set by ``CcxtCalls.sync_time``; 0 when never
    measured). A history read anchored on the host clock alone would start its walk after
    every record of a venue running more than ~180 days behind it, and never read them."""
    client = calls.api()
    offset = client.options.get("timeDifference") if isinstance(client.options, dict) else None
    skew_ms = int(offset) if isinstance(offset, int | float) else 0
    return int(client.milliseconds()) - skew_ms


def rows(page: object) -> list[Mapping[str, Any]]:
    """A ccxt list answer whose every item is an object; ``VenueDataError`` otherwise."""
    if not isinstance(page, list):
        raise errors.VenueDataError(f"expected a list, got {type(page).__name__}")
    return [mapping(row, "row") for row in page]


def _latest_ms(page: list[Mapping[str, Any]]) -> int:
    return max(timestamp_ms(r.get("timestamp"), "row timestamp") for r in page)


async def funding_since(
    calls: CcxtCalls,
    settings: CcxtPerpSettings,
    symbol: str,
    amount_step: Decimal,
    since_ms: int,
) -> list[FundingPayment]:
    """Funding payments on ``symbol`` since ``since_ms`` (unix ms), in time order; rate and
    mark come from the venue's funding-rate history. Binance's income record holds only the
    amount, so the position size is derived: ``amount = -position * mark * rate`` (rounded to
    ``amount_step``); Hyperliquid's userFunding carries all of it. Raises the mapped
    ``ExchangeError``s; ``VenueDataError`` for an unreadable record."""
    incomes = await paged(calls, calls.api().fetch_funding_history, symbol, since_ms)
    if not incomes:
        return []
    if settings.exchange_id in FUNDING_IN_INCOME:
        funded = [funding_from_user_funding(i, symbol=symbol) for i in incomes]
        return sorted(funded, key=lambda p: (p.timestamp, p.id))
    rates = await paged(calls, calls.api().fetch_funding_rate_history, symbol, since_ms - 1000)
    result = [
        funding_from_ccxt(income, rates, symbol=symbol, amount_step=amount_step)
        for income in incomes
    ]
    return sorted(result, key=lambda p: (p.timestamp, p.id))
