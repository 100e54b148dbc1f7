"""The emulator's Binance dialect on the wire: signatures, errors and the admin API."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from emulator_support import API_KEY, API_SECRET, running_emulator, venue_clock

from bot.exchange.emulator import EmulatorHandle

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
    query = signed_query({"timestamp": int(time.time() * 1000)})
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
    now_ms = int(time.time() * 1000)
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
