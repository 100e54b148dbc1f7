"""The emulator's Binance dialect on the wire: signatures, errors and the admin API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import signal
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from emulator_support import API_KEY, API_SECRET, running_emulator, venue_clock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from bot.exchange.emulators.binance_usdm import EmulatorHandle

pytestmark = pytest.mark.integration


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorHandle]:
    """A fresh venue behind the emulator."""
    async with running_emulator(venue_clock()) as handle:
        yield handle


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client."""
    async with aiohttp.ClientSession() as session:
        yield session


def venue_ms(emulator: EmulatorHandle) -> int:
    """The venue's time in ms: what a host whose clock agrees with the venue stamps."""
    return int(emulator.emulator.clock.now() * 1000)


def signed_query(params: dict[str, Any], secret: str = API_SECRET) -> str:
    query = urlencode(params)
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


async def get(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with http.get(url, headers=headers) as response:
        return response.status, await response.json()


async def test_emulator_signed_request_accepted(
    emulator: EmulatorHandle, http: aiohttp.ClientSession
) -> None:
    """A correctly signed request gets the account."""
    query = signed_query({"timestamp": venue_ms(emulator)})
    status, body = await get(
        http, f"{emulator.url}/fapi/v3/account?{query}", {"X-MBX-APIKEY": API_KEY}
    )
    assert status == 200
    assert body["assets"][0]["asset"] == "USDT"


@pytest.mark.parametrize(
    ("headers", "params", "secret", "status", "code"),
    [
        ({}, {"timestamp": "now"}, API_SECRET, 401, -2014),
        ({"X-MBX-APIKEY": "other"}, {"timestamp": "now"}, API_SECRET, 401, -2015),
        ({"X-MBX-APIKEY": API_KEY}, {"timestamp": "now"}, "wrong", 400, -1022),
        ({"X-MBX-APIKEY": API_KEY}, {"timestamp": "stale"}, API_SECRET, 400, -1021),
        ({"X-MBX-APIKEY": API_KEY}, {}, API_SECRET, 400, -1102),
    ],
    ids=["no-key", "unknown-key", "bad-signature", "stale-timestamp", "no-timestamp"],
)
async def test_emulator_rejects_bad_auth_like_binance(
    emulator: EmulatorHandle,
    http: aiohttp.ClientSession,
    headers: dict[str, str],
    params: dict[str, str],
    secret: str,
    status: int,
    code: int,
) -> None:
    """Auth failures answer Binance's code and HTTP status."""
    now_ms = venue_ms(emulator)
    resolved = {k: (now_ms if v == "now" else now_ms - 60_000) for k, v in params.items()}
    url = f"{emulator.url}/fapi/v2/positionRisk?{signed_query(resolved, secret)}"
    got_status, body = await get(http, url, headers)
    assert (got_status, body["code"]) == (status, code)


async def test_emulator_rate_limit_answers_429_with_retry_after(
    emulator: EmulatorHandle, http: aiohttp.ClientSession
) -> None:
    """The 429 fault carries -1003 and Retry-After, then clears."""
    emulator.rate_limit_next(1, retry_after_s=4)
    async with http.get(f"{emulator.url}/fapi/v1/ping") as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "4"
        assert (await response.json())["code"] == -1003
    status, _ = await get(http, f"{emulator.url}/fapi/v1/ping")
    assert status == 200


async def test_emulator_admin_api_moves_mark_and_funding(
    emulator: EmulatorHandle, http: aiohttp.ClientSession
) -> None:
    """POST /_emulator/mark and /funding_rate change what premiumIndex reports."""
    async with http.post(f"{emulator.url}/_emulator/mark", json={"price": "2500.5"}) as r:
        assert r.status == 200
    async with http.post(f"{emulator.url}/_emulator/funding_rate", json={"rate": "-0.0002"}) as r:
        assert r.status == 200
    status, body = await get(http, f"{emulator.url}/fapi/v1/premiumIndex?symbol=ETHUSDT")
    assert status == 200
    assert Decimal(body["markPrice"]) == Decimal("2500.5")
    assert Decimal(body["lastFundingRate"]) == Decimal("-0.0002")


async def test_emulator_admin_advance_moves_server_time(
    emulator: EmulatorHandle, http: aiohttp.ClientSession
) -> None:
    """POST /_emulator/advance moves the venue clock that /time reports."""
    _, before = await get(http, f"{emulator.url}/fapi/v1/time")
    async with http.post(f"{emulator.url}/_emulator/advance", json={"seconds": 60}) as r:
        assert r.status == 200
    _, after = await get(http, f"{emulator.url}/fapi/v1/time")
    assert after["serverTime"] - before["serverTime"] == 60_000


async def test_emulator_exchange_info_describes_the_perpetual(
    emulator: EmulatorHandle, http: aiohttp.ClientSession
) -> None:
    """exchangeInfo lists one USDT-margined PERPETUAL with Binance's filters."""
    _, info = await get(http, f"{emulator.url}/fapi/v1/exchangeInfo")
    (symbol,) = info["symbols"]
    assert (symbol["symbol"], symbol["contractType"], symbol["marginAsset"]) == (
        "ETHUSDT",
        "PERPETUAL",
        "USDT",
    )
    kinds = {f["filterType"] for f in symbol["filters"]}
    assert {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "MIN_NOTIONAL"} <= kinds


async def signed_request(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    params: dict[str, Any],
    timestamp_ms: int | None = None,
) -> tuple[int, Any]:
    """A signed Binance request with ``params`` in the query string, stamped with
    ``timestamp_ms`` or else the server's ``/fapi/v1/time`` (a time-synced client)."""
    if timestamp_ms is None:
        _, server = await get(http, str(URL(url).origin() / "fapi/v1/time"))
        timestamp_ms = int(server["serverTime"])
    query = signed_query({**params, "timestamp": timestamp_ms})
    async with http.request(method, f"{url}?{query}", headers={"X-MBX-APIKEY": API_KEY}) as r:
        return r.status, await r.json()


ORDER = {"symbol": "ETHUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "IOC"}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/fapi/v1/order", {**ORDER, "quantity": "1e400", "price": "1900"}),
        ("/fapi/v1/order", {**ORDER, "quantity": "0.5", "price": "nan"}),
        ("/fapi/v1/order", {**ORDER, "quantity": "-1", "price": "1900"}),
        ("/fapi/v1/order", {**ORDER, "quantity": "abc", "price": "1900"}),
        ("/fapi/v1/order", {**ORDER, "quantity": "Infinity", "price": "1900"}),
        ("/fapi/v1/order", {**ORDER, "quantity": "0.5", "price": "1.9e3"}),
        ("/fapi/v1/order", {**ORDER, "quantity": "0." + "1" * 21, "price": "1900"}),
        ("/fapi/v1/leverage", {"symbol": "ETHUSDT", "leverage": "1e999"}),
        ("/fapi/v1/leverage", {"symbol": "ETHUSDT", "leverage": "5.5"}),
        ("/fapi/v1/leverage", {"symbol": "ETHUSDT", "leverage": "9" * 21}),
    ],
    ids=[
        "quantity-1e400",
        "price-nan",
        "quantity-negative",
        "quantity-text",
        "quantity-infinity",
        "price-exponent",
        "quantity-21-decimals",
        "leverage-1e999",
        "leverage-fraction",
        "leverage-21-digits",
    ],
)
async def test_emulator_bad_numeric_parameter_is_binance_1100(
    emulator: EmulatorHandle, http: aiohttp.ClientSession, path: str, params: dict[str, str]
) -> None:
    """Any numeric parameter outside Binance's legal range: HTTP 400, -1100, nothing placed."""
    status, body = await signed_request(
        http, "POST", f"{emulator.url}{path}", params, venue_ms(emulator)
    )
    assert (status, body["code"]) == (400, -1100)
    assert "Illegal characters found in parameter" in body["msg"]
    assert emulator.venue.order_log() == []


async def test_emulator_missing_quantity_is_binance_1102(
    emulator: EmulatorHandle, http: aiohttp.ClientSession
) -> None:
    """A missing mandatory number is -1102 (HTTP 400)."""
    status, body = await signed_request(
        http,
        "POST",
        f"{emulator.url}/fapi/v1/order",
        {**ORDER, "price": "1900"},
        venue_ms(emulator),
    )
    assert (status, body["code"]) == (400, -1102)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/fapi/v1/allOrders", "orderId"),
        ("/fapi/v1/userTrades", "startTime"),
        ("/fapi/v1/income", "limit"),
        ("/fapi/v1/order", "orderId"),
    ],
)
async def test_emulator_bad_integer_query_parameter_is_1100(
    emulator: EmulatorHandle, http: aiohttp.ClientSession, path: str, name: str
) -> None:
    """Integer parameters of reads (ids, times, limits) go through the same parser."""
    for bad in ("1e400", "nan", "-5", "1.5", "9" * 25):
        status, body = await signed_request(
            http,
            "GET",
            f"{emulator.url}{path}",
            {"symbol": "ETHUSDT", name: bad},
            venue_ms(emulator),
        )
        assert (status, body["code"]) == (400, -1100), bad


async def test_emulator_public_depth_limit_is_validated(
    emulator: EmulatorHandle, http: aiohttp.ClientSession
) -> None:
    """A public endpoint's number (depth limit=1e400) is -1100 too, never a 500."""
    status, body = await get(http, f"{emulator.url}/fapi/v1/depth?symbol=ETHUSDT&limit=1e400")
    assert (status, body["code"]) == (400, -1100)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(quantity=st.text(min_size=1, max_size=40))
async def test_emulator_never_answers_500_to_any_quantity(
    emulator: EmulatorHandle, http: aiohttp.ClientSession, quantity: str
) -> None:
    """Random quantity text: a Binance 4xx error or an order, never a 5xx."""
    status, body = await signed_request(
        http,
        "POST",
        f"{emulator.url}/fapi/v1/order",
        {**ORDER, "quantity": quantity, "price": "1900"},
        venue_ms(emulator),
    )
    assert status < 500
    if status != 200:
        assert isinstance(body["code"], int)
        assert body["code"] < 0


async def test_standalone_emulator_advance_moves_its_offset_clock(
    http: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    """`hedgebot emulator` runs on the wall clock plus an offset: POST /_emulator/advance
    answers 200 and moves /time by the advance (a funding time passes from outside)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "emulator",
        "--port",
        str(unused_tcp_port),
        "--mark-price",
        "2000",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={
            **os.environ,
            "HEDGEBOT_EMULATOR_API_KEY": API_KEY,
            "HEDGEBOT_EMULATOR_API_SECRET": API_SECRET,
        },
    )
    url = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        async with asyncio.timeout(60):
            while True:
                assert proc.returncode is None, "the emulator exited early"
                try:
                    _, before = await get(http, f"{url}/fapi/v1/time")
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.2)
        _, premium = await get(http, f"{url}/fapi/v1/premiumIndex?symbol=ETHUSDT")
        next_funding_ms = premium["nextFundingTime"]
        async with http.post(f"{url}/_emulator/advance", json={"seconds": 8 * 3600}) as r:
            assert r.status == 200
            assert (await r.json())["ok"] is True
        _, after = await get(http, f"{url}/fapi/v1/time")
        _, moved = await get(http, f"{url}/fapi/v1/premiumIndex?symbol=ETHUSDT")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
    advanced_ms = after["serverTime"] - before["serverTime"]
    assert 8 * 3600 * 1000 <= advanced_ms < 8 * 3600 * 1000 + 5000
    assert moved["nextFundingTime"] == next_funding_ms + 8 * 3600 * 1000
