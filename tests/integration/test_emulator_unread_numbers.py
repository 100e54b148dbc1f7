"""Every integer parameter the Binance emulator is sent is checked, read or not (issue 12 review
2 item 11): ``GET /fapi/v1/userTrades?fromId=1e400`` answered 200 [] while every other numeric
parameter answered -1100. Real HTTP against the running emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from emulator_support import running_emulator, venue_clock
from test_emulator_http import signed_request

from bot.exchange.emulators.binance_usdm import EmulatorHandle

pytestmark = pytest.mark.integration

SIGNED_GETS = ["v1/userTrades", "v1/allOrders", "v1/income", "v1/openOrders", "v2/positionRisk"]
PUBLIC_GETS = ["fundingRate", "premiumIndex", "depth", "time"]
INTEGER_PARAMS = ["fromId", "orderId", "startTime", "endTime", "limit", "page"]
ILLEGAL = ["1e400", "-1", "nan", "9" * 25, "1.5"]


@pytest.fixture(scope="module")
async def emulator() -> AsyncIterator[EmulatorHandle]:
    """One venue behind the emulator for the module (every request here is refused)."""
    async with running_emulator(venue_clock()) as handle:
        yield handle


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.parametrize("path", SIGNED_GETS)
@pytest.mark.parametrize("name", INTEGER_PARAMS)
async def test_signed_endpoints_refuse_any_illegal_integer_parameter(
    emulator: EmulatorHandle, http: aiohttp.ClientSession, path: str, name: str
) -> None:
    """fromId=1e400 on userTrades (and any integer parameter out of Binance's range on any
    signed read): HTTP 400, -1100 naming the parameter."""
    for value in ILLEGAL:
        params = {"symbol": "ETHUSDT", name: value}
        status, body = await signed_request(http, "GET", f"{emulator.url}/fapi/{path}", params)
        assert (status, body["code"]) == (400, -1100), (value, body)
        assert f"parameter '{name}'" in body["msg"]


@pytest.mark.parametrize("path", PUBLIC_GETS)
async def test_public_endpoints_refuse_an_illegal_integer_parameter(
    emulator: EmulatorHandle, http: aiohttp.ClientSession, path: str
) -> None:
    """The same on the public market routes, which read fewer of them."""
    for name in INTEGER_PARAMS:
        url = f"{emulator.url}/fapi/v1/{path}"
        async with http.get(url, params={"symbol": "ETHUSDT", name: "1e400"}) as response:
            body = await response.json()
        assert (response.status, body["code"]) == (400, -1100), (name, body)


async def test_user_trades_with_a_legal_from_id_still_answers(
    emulator: EmulatorHandle, http: aiohttp.ClientSession
) -> None:
    """A legal fromId is accepted as before (the venue has no trades: an empty list)."""
    status, body = await signed_request(
        http, "GET", f"{emulator.url}/fapi/v1/userTrades", {"symbol": "ETHUSDT", "fromId": "1"}
    )
    assert (status, body) == (200, [])
