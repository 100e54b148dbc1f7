"""The adapter's I/O core: one ccxt client, every call through ``request``/``call``, every
failure mapped once to ``bot.errors`` (``map_error``), the venue clock measured (``sync_time``),
every HTTP request the client sends counted by endpoint (``rest``, a :class:`RestCalls`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ccxt
import structlog

from bot import errors
from bot.exchange.ccxt.errors import (
    PARSE_FAILURES,
    ErrorContext,
    is_timestamp_error,
    map_ccxt_error,
)
from bot.exchange.ccxt.settings import CcxtPerpSettings

__all__ = ["CALL_FAILURES", "REST_ENDPOINTS", "CcxtCalls", "RestCalls", "endpoint_of"]

_log = structlog.get_logger("hedgebot.exchange.ccxt_perp")
_T = TypeVar("_T")
# what a failed ccxt call can raise: ccxt's own errors, and parse failures of a hostile answer
CALL_FAILURES: tuple[type[BaseException], ...] = (ccxt.BaseError, *PARSE_FAILURES)


# The endpoint label of a counted request: the last path segment of a known REST route
# (Binance USD-M ``/fapi/v*/...``), or the ``type`` of a Hyperliquid ``/info`` / ``/exchange``
# body; anything else is ``other``, so the label set is bounded whatever the venue answers.
REST_ENDPOINTS = frozenset(
    {
        # Binance USD-M
        "premiumIndex", "depth", "positionRisk", "balance", "account", "userTrades",
        "income", "fundingRate", "order", "openOrders", "allOrders", "time", "exchangeInfo",
        "leverage", "marginType", "positionSide", "listenKey", "ticker",
        # Hyperliquid (body type)
        "clearinghouseState", "metaAndAssetCtxs", "allMids", "l2Book", "userFills",
        "userFillsByTime", "userFunding", "fundingHistory", "orderStatus", "frontendOpenOrders",
        "meta", "spotMeta", "spotMetaAndAssetCtxs", "exchange",
    }
)  # fmt: skip


def endpoint_of(url: str, body: object = None) -> str:
    """The bounded endpoint label of one request (see ``REST_ENDPOINTS``)."""
    path = urlsplit(url).path.rstrip("/")
    name = path.rsplit("/", 1)[-1]
    if name == "info" and isinstance(body, str):
        marker = '"type":'
        at = body.find(marker)
        if at >= 0:
            name = body[at + len(marker) :].lstrip(' "').split('"', 1)[0]
    return name if name in REST_ENDPOINTS else "other"


class RestCalls:
    """HTTP requests one ccxt client sent: ``total`` and per endpoint label (a bounded set,
    ``REST_ENDPOINTS`` + ``other``). Counts only grow; a reader takes differences.
    ``recent`` holds the labels of the last ``RECENT`` requests in order (bounded)."""

    RECENT = 64

    def __init__(self) -> None:
        self.total = 0
        self._by_endpoint: dict[str, int] = {}
        self.recent: deque[str] = deque(maxlen=self.RECENT)

    def record(self, url: str, body: object = None) -> None:
        """One request to ``url`` (with its ``body``, for Hyperliquid's typed posts)."""
        label = endpoint_of(url, body)
        self.total += 1
        self._by_endpoint[label] = self._by_endpoint.get(label, 0) + 1
        self.recent.append(label)

    def by_endpoint(self) -> Mapping[str, int]:
        """Requests so far per endpoint label (a copy)."""
        return dict(self._by_endpoint)


def _counted(client: Any, rest: RestCalls) -> Any:
    """``client`` with its one HTTP entry point (ccxt async ``fetch``) counting requests."""
    fetch = client.fetch

    async def counted_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
        body = kwargs.get("body", args[2] if len(args) > 2 else None)
        rest.record(url, body)
        return await fetch(url, *args, **kwargs)

    client.fetch = counted_fetch
    return client


class CcxtCalls:
    """The ccxt client of one adapter (``client`` is None before start and after close).

    Every HTTP request of the client is counted in ``rest`` (retries and re-sends included),
    across restarts of the client."""

    def __init__(self, settings: CcxtPerpSettings) -> None:
        self.settings = settings
        self.rest = RestCalls()
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The ccxt client, or None."""
        return self._client

    @client.setter
    def client(self, client: Any) -> None:
        self._client = None if client is None else _counted(client, self.rest)

    def api(self) -> Any:
        """The started client; ``ExchangeError`` before start() or after close()."""
        if self.client is None:
            raise errors.ExchangeError("exchange used before start() or after close()")
        return self.client

    async def request(self, method: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """Run a ccxt call; on a timestamp refusal (host clock off, -1021 / InvalidNonce),
        re-sync the clock and send it once more. Raises what ccxt raised."""
        self.api()
        try:
            return await method(*args)
        except CALL_FAILURES as exc:
            if not is_timestamp_error(exc) or not self.settings.sync_time:
                raise
            _log.warning("exchange.timestamp_refused", reason=str(self.map_error(exc)))
        await self.sync_time()
        return await method(*args)

    async def call(self, method: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """Run a ccxt call that places nothing; map its failure to ``bot.errors``."""
        try:
            return await self.request(method, *args)
        except CALL_FAILURES as exc:
            raise self.map_error(exc) from exc

    async def sync_time(self) -> None:
        """Measure the venue's clock (ccxt ``load_time_difference``) so signed requests carry
        its time, not the host's; a failure is logged and signing stays on the host clock."""
        client = self.api()
        if not (self.settings.sync_time and client.has.get("fetchTime")):
            return
        try:
            await client.load_time_difference()
        except CALL_FAILURES as exc:
            mapped = self.map_error(exc)
            _log.warning(
                "exchange.time_sync_failed", error=type(mapped).__name__, reason=str(mapped)
            )
            return
        _log.info("exchange.time_synced", offset_ms=client.options.get("timeDifference"))

    def map_error(
        self, exc: BaseException, *, client_order_id: str | None = None, order_sent: bool = False
    ) -> errors.ExchangeError:
        """The one place ccxt exceptions (and unparseable answers) become ``bot.errors``."""
        return map_ccxt_error(
            exc,
            ErrorContext(
                exchange_id=self.settings.exchange_id,
                client_order_id=client_order_id,
                order_sent=order_sent,
                retry_after_s=self._retry_after_s(),
            ),
        )

    def _retry_after_s(self) -> float | None:
        headers = getattr(self.client, "last_response_headers", None) or {}
        for name, value in headers.items():
            if str(name).lower() == "retry-after":
                try:
                    return float(value)
                except (TypeError, ValueError):
                    return None
        return None
