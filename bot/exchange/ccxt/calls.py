"""The adapter's I/O core: one ccxt client, every call through ``request``/``call``, every
failure mapped once to ``bot.errors`` (``map_error``), the venue clock measured (``sync_time``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

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

__all__ = ["CALL_FAILURES", "CcxtCalls"]

_log = structlog.get_logger("hedgebot.exchange.ccxt_perp")
_T = TypeVar("_T")
# what a failed ccxt call can raise: ccxt's own errors, and parse failures of a hostile answer
CALL_FAILURES: tuple[type[BaseException], ...] = (ccxt.BaseError, *PARSE_FAILURES)


class CcxtCalls:
    """The ccxt client of one adapter (``client`` is None before start and after close)."""

    def __init__(self, settings: CcxtPerpSettings) -> None:
        self.settings = settings
        self.client: Any = None

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
