"""Bybit's "not modified" answers to the start-up calls are success (issue 11 item 6, second
review): the adapter's real ``start()`` with the real ccxt ``bybit`` client over HTTP, against
a small local server speaking just enough of Bybit's v5 API. A classic (non-unified) account:
``/v5/position/switch-isolated`` answers retCode 110026 ("Cross/isolated margin mode is not
modified") and ``/v5/position/set-leverage`` 110043 ("Set leverage not modified").

The server answers only what ccxt's bybit asks on ``load_markets`` and ``start`` (every
request is recorded, and any other path is answered retCode 10004-style "unknown" so a new
call shows up as a failure); the one linear market is Bybit's ETHUSDT instrument row."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from bot.exchange.ccxt import CcxtPerpExchange, CcxtPerpSettings

pytestmark = pytest.mark.integration

ETHUSDT = {
    "symbol": "ETHUSDT", "contractType": "LinearPerpetual", "status": "Trading",
    "baseCoin": "ETH", "quoteCoin": "USDT", "settleCoin": "USDT", "launchTime": "1585526400000",
    "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "2",
    "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
    "priceFilter": {"minPrice": "0.10", "maxPrice": "199999.80", "tickSize": "0.01"},
    "lotSizeFilter": {
        "maxOrderQty": "7240.00", "minOrderQty": "0.01", "qtyStep": "0.01",
        "postOnlyMaxOrderQty": "7240.00", "maxMktOrderQty": "1000", "minNotionalValue": "5",
    },
    "unifiedMarginTrade": True, "fundingInterval": 480, "copyTrading": "both",
}  # fmt: skip
NOT_MODIFIED = {
    "/v5/position/switch-isolated": (110026, "Cross/isolated margin mode is not modified"),
    "/v5/position/set-leverage": (110043, "Set leverage not modified"),
}


class BybitV5:
    """The answers; ``requests`` records (method, path, query) of each."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def result(self, path: str, query: dict[str, str]) -> Any:
        if path == "/v5/market/time":
            now = time.time()
            return {"timeSecond": str(int(now)), "timeNano": str(int(now * 1e9))}
        if path == "/v5/market/instruments-info":
            category = query.get("category")
            rows = [ETHUSDT] if category == "linear" and "status" not in query else []
            return {"category": category, "list": rows, "nextPageCursor": ""}
        if path == "/v5/asset/coin/query-info":
            return {"rows": []}
        if path == "/v5/user/query-api":  # a classic account's key: not unified
            return {"id": "1", "readOnly": 0, "unified": 0, "uta": 0, "isMaster": True}
        if path == "/v5/account/info":
            return {"marginMode": "REGULAR_MARGIN", "unifiedMarginStatus": 1}
        return None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path, dict(request.query)))
        code, message = NOT_MODIFIED.get(request.path, (0, "OK"))
        result = self.result(request.path, dict(request.query)) if code == 0 else {}
        if result is None:
            code, message, result = 10004, f"emulated bybit: no {request.path}", {}
        body = {"retCode": code, "retMsg": message, "result": result, "retExtInfo": {}}
        return web.json_response({**body, "time": int(time.time() * 1000)})


@pytest.fixture
async def bybit() -> AsyncIterator[tuple[BybitV5, str]]:
    venue = BybitV5()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", venue.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield venue, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_not_modified_margin_mode_and_leverage_start_at_the_asked_setting(
    bybit: tuple[BybitV5, str],
) -> None:
    """110026 for isolated and 110043 for 7x: start completes, account_setup holds 7x
    isolated with no note and no refusal logged; both calls did reach the venue."""
    venue, base = bybit
    urls = {name: base for name in ("public", "private", "spot", "futures", "v2", "linear")}
    settings = CcxtPerpSettings(
        exchange_id="bybit", symbol="ETH/USDT:USDT", api_key="k", api_secret="s", leverage=7,
        margin_mode="isolated", urls=urls, enable_rate_limit=False, timeout_ms=3000,
    )  # fmt: skip
    adapter = CcxtPerpExchange(settings)
    with capture_logs() as logs:
        await adapter.start()
    try:
        assert adapter.account_setup is not None
        setup = adapter.account_setup
        assert (setup.leverage, setup.margin_mode, setup.note) == (7, "isolated", "")
        assert not [e for e in logs if str(e["event"]).endswith("_refused")]
        paths = [path for _method, path, _query in venue.requests]
        assert "/v5/position/switch-isolated" in paths
        assert "/v5/position/set-leverage" in paths
        assert not [p for p in paths if p not in _SERVED]
    finally:
        await adapter.close()


_SERVED = {
    "/v5/market/time",
    "/v5/market/instruments-info",
    "/v5/asset/coin/query-info",
    "/v5/user/query-api",
    "/v5/account/info",
    *NOT_MODIFIED,
}
