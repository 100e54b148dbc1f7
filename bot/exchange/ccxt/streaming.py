"""The optional streaming venue mode (``exchange.streaming: true``, issue 16 item 2): the ccxt
adapter with a ccxt.pro client beside its REST client.

Two watch tasks keep :class:`~bot.exchange.ccxt.stream_state.StreamState` current: the mark
(``watch_mark_price``: ``<symbol>@markPrice@1s``) and the account (``watch_positions`` on the
user-data stream, whose ``ACCOUNT_UPDATE`` and ``ORDER_TRADE_UPDATE`` frames say the position
changed). The client's own frame handlers and socket callbacks feed the state synchronously,
so no frame is missed between two watch calls. A quiet tick then reads the mark and the
position from memory, no REST request; REST remains the fallback (a socket closed, a frame
too old, a change heard) and the reconciliation (the first read, one read in
``reconcile_reads``, every read after an own order until the stream's account update came).

A dropped stream is opened again by its task after ``backoff_s``, doubling up to
``backoff_max_s`` (reset by the next frame); meanwhile every read is a REST read. Fills and
funding stay REST reads (the lean cadence's, ``bot.engine.cadence``): the stream only tells
the adapter when its position is no longer current. Bounds: one mark and one position kept;
ccxt.pro keeps at most ``cache_limit`` orders and trades; ccxt opens its sockets with aiohttp's
``max_msg_size`` of 10 MiB (a larger frame fails the socket: REST until it is open again).
The listen-key requests of the ccxt.pro client are counted in the adapter's ``rest_calls``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import ccxt
import ccxt.pro as ccxt_pro
import structlog

from bot import errors
from bot.domain import MarketQuote, Order, OrderIntent, PerpPosition
from bot.exchange.ccxt import parse
from bot.exchange.ccxt.adapter import CcxtPerpExchange
from bot.exchange.ccxt.calls import RestCalls
from bot.exchange.ccxt.http import bounded_json_parser
from bot.exchange.ccxt.settings import CcxtPerpSettings, secret_value
from bot.exchange.ccxt.stream_state import StreamState
from bot.exchange.stream_settings import STREAMING_VENUES, StreamSettings
from bot.ports import Clock

__all__ = ["StreamingCcxtExchange", "ccxt_exchange"]

_log = structlog.get_logger("hedgebot.exchange.stream")

_STREAM_FAILURES = (ccxt.BaseError, OSError, asyncio.TimeoutError)


def ccxt_exchange(
    settings: CcxtPerpSettings, stream: StreamSettings | None, clock: Clock | None = None
) -> CcxtPerpExchange:
    """The ccxt adapter, streaming when ``stream`` is given. Raises ``ConfigError`` for
    streaming on a venue whose streams are not wired (``STREAMING_VENUES``)."""
    if stream is None:
        return CcxtPerpExchange(settings, clock)
    return StreamingCcxtExchange(settings, stream, clock)


class StreamingCcxtExchange(CcxtPerpExchange):
    """``CcxtPerpExchange`` whose quiet reads come from the venue's streams (module doc).

    ``stream_state`` is the streamed mark and position with their validity."""

    def __init__(
        self, settings: CcxtPerpSettings, stream: StreamSettings, clock: Clock | None = None
    ) -> None:
        if settings.exchange_id not in STREAMING_VENUES:
            raise errors.ConfigError(f"exchange.streaming: not wired for {settings.exchange_id}")
        super().__init__(settings, clock)
        self.stream_settings = stream
        self.stream_state = StreamState(stream.max_age_s, stream.reconcile_reads)
        self._pro: Any = None
        self._watchers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """REST start (``CcxtPerpExchange.start``), then the streams; the first reads are REST
        reads until the sockets are open and a REST read seeded the position."""
        await super().start()
        rest = self._calls.api()
        market_id = str(self._market.get("id", ""))
        self._pro = _pro_client(
            self._settings, self.stream_settings, self.stream_state, rest, market_id
        )
        _count_requests(self._pro, self._calls.rest)
        symbol = self._symbol
        self._watchers = [
            asyncio.create_task(self._watch("mark", lambda: self._pro.watch_mark_price(symbol))),
            asyncio.create_task(self._watch("account", lambda: self._pro.watch_positions())),
        ]

    async def close(self) -> None:
        """Stop the watch tasks, close the ccxt.pro client, then the REST client."""
        watchers, self._watchers = self._watchers, []
        for task in watchers:
            task.cancel()
        for task in watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pro, self._pro = self._pro, None
        if pro is not None:
            with contextlib.suppress(*_STREAM_FAILURES):
                await pro.close()
        self.stream_state.market_socket(False)
        self.stream_state.account_socket(False)
        await super().close()

    async def _watch(self, stream: str, watch: Callable[[], Awaitable[Any]]) -> None:
        """Keep one stream subscribed: on failure, wait (``backoff_s`` doubling up to
        ``backoff_max_s``, reset by a frame) and subscribe again. Cancellation ends it."""
        wait_s = self.stream_settings.backoff_s
        while True:
            try:
                await watch()
                wait_s = self.stream_settings.backoff_s
            except _STREAM_FAILURES as exc:
                if stream == "mark":
                    self.stream_state.market_socket(False)
                else:
                    self.stream_state.account_socket(False)
                _log.warning(
                    "venue.stream_dropped",
                    stream=stream,
                    error=type(exc).__name__,
                    reason=str(exc)[:200],
                    retry_in_s=wait_s,
                )
                await asyncio.sleep(wait_s)
                wait_s = min(wait_s * 2, self.stream_settings.backoff_max_s)

    # ------------------------------------------------------------------ reads
    async def mark_quote(self) -> MarketQuote:
        """The streamed mark when current (no request), else ``CcxtPerpExchange.mark_quote``.
        Raises ``VenueDataError`` for a streamed frame that does not parse."""
        funding = self.stream_state.mark()
        if funding is None:
            return await super().mark_quote()
        quote = parse.mark_quote_from_ccxt(funding, symbol=self._symbol, now_ms=self._now_ms())
        self._mark_seen.saw(quote.mark_price)
        return quote

    async def position(self) -> PerpPosition:
        """The kept position at the streamed mark when current (no request), else a REST
        read that becomes the kept one if nothing changed while it was in flight."""
        kept = self.stream_state.position()
        if kept is not None:
            return kept
        token = self.stream_state.rest_read()
        read = await super().position()
        self.stream_state.seed(token, read)
        return read

    async def submit(self, intent: OrderIntent) -> Order:
        """``CcxtPerpExchange.submit``; the kept position is dropped before and after (an own
        order moves it: the next read is a REST read)."""
        self.stream_state.account_changed()
        try:
            return await super().submit(intent)
        finally:
            self.stream_state.account_changed()


def _pro_client(
    settings: CcxtPerpSettings,
    stream: StreamSettings,
    state: StreamState,
    rest: Any,
    market_id: str,
) -> Any:
    """A ccxt.pro client for the venue whose socket callbacks and frame handlers feed
    ``state`` (mark frames of ``market_id`` only); markets are the REST client's (no second
    ``load_markets``); its JSON answers are bounded as the REST client's."""
    base: Any = getattr(ccxt_pro, settings.exchange_id)

    class Streamed(base):  # type: ignore[misc]  # ccxt ships no types
        def on_connected(self, client: Any, message: Any = None) -> None:
            super().on_connected(client, message)
            _socket(state, client, is_open=True)

        def on_error(self, client: Any, error: Any) -> None:
            _socket(state, client, is_open=False)
            super().on_error(client, error)

        def on_close(self, client: Any, error: Any) -> None:
            _socket(state, client, is_open=False)
            super().on_close(client, error)

        def handle_acount_update(self, client: Any, message: Any) -> None:
            state.account_changed()
            super().handle_acount_update(client, message)

        def handle_order_update(self, client: Any, message: Any) -> None:
            body = message.get("o") if isinstance(message, dict) else None
            if isinstance(body, dict) and body.get("x") == "TRADE":
                state.account_changed()
            super().handle_order_update(client, message)

        def handle_mark_prices(self, client: Any, message: Any) -> None:
            super().handle_mark_prices(client, message)
            for row in message if isinstance(message, list) else [message]:
                if isinstance(row, dict) and row.get("s") == market_id:
                    state.saw_mark(row)

    options: dict[str, Any] = {
        "defaultType": "swap",
        "fetchCurrencies": False,
        "fetchMargins": False,
        "tradesLimit": stream.cache_limit,
        "ordersLimit": stream.cache_limit,
        "watchPositions": {"fetchPositionsSnapshot": False, "awaitPositionsSnapshot": False},
    }
    client = Streamed(
        {
            "apiKey": secret_value(settings.api_key),
            "secret": secret_value(settings.api_secret),
            "enableRateLimit": settings.enable_rate_limit,
            "timeout": settings.timeout_ms,
            "options": options,
        }
    )
    if settings.sandbox:
        client.set_sandbox_mode(True)
    client.urls["api"] = {**client.urls["api"], **settings.urls}
    if stream.ws_url is not None:
        client.urls["api"]["ws"] = {**client.urls["api"]["ws"], "linear": stream.ws_url}
    client.set_markets(rest.markets, rest.currencies)
    client.on_json_response = bounded_json_parser(settings.max_response_bytes)
    return client


def _socket(state: StreamState, client: Any, *, is_open: bool) -> None:
    """A socket of the ccxt.pro client opened or closed: the user-data one carries its
    listen key in the URL, every other one is a market socket."""
    account = "listenKey=" in str(getattr(client, "url", ""))
    if account:
        state.account_socket(is_open)
    else:
        state.market_socket(is_open)
    event = "venue.stream_open" if is_open else "venue.stream_closed"
    _log.info(event, stream="account" if account else "mark")


def _count_requests(client: Any, rest: RestCalls) -> None:
    """Count the ccxt.pro client's HTTP requests (listen keys) with the adapter's."""
    send = client.fetch

    async def counted(url: str, *args: Any, **kwargs: Any) -> Any:
        rest.record(url, kwargs.get("body"))
        return await send(url, *args, **kwargs)

    client.fetch = counted
