"""The emulator refuses bad numbers from every side: command line, admin API, order parameters.

`hedgebot emulator --mark-price -5` printed a traceback after logging that it listened; the
admin API answered HTTP 500 to ``price=nan`` and ``1e400``; ``stopPrice=nan`` on an order was
accepted. Each now goes through one parser: a one-line exit 2, an HTTP 400 naming the field, a
Binance -1100.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from emulator_support import running_emulator, venue_clock
from test_emulator_http import ORDER, signed_request

from bot.exchange.emulators.binance_usdm import EmulatorHandle

pytestmark = pytest.mark.integration

HEDGEBOT = [sys.executable, "-m", "bot"]


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


async def mark_price(http: aiohttp.ClientSession, emulator: EmulatorHandle) -> str:
    """The mark as GET /_emulator/state reports it."""
    async with http.get(f"{emulator.url}/_emulator/state") as response:
        return str((await response.json())["mark_price"])


@pytest.mark.parametrize(
    ("flag", "value", "shown"),
    [
        ("--mark-price", "-5", "must be > 0"),
        ("--mark-price", "0", "must be > 0"),
        ("--mark-price", "nan", "must be a finite number"),
        ("--mark-price", "1e400", "must be a finite number"),
        ("--mark-price", "abc", "not a number"),
        ("--funding-rate", "5", "must be a fraction in (-1, 1)"),
        ("--funding-rate", "inf", "must be a finite number"),
        ("--port", "99999", "must be a port"),
        ("--host", "http://x/", "must be a host name"),
    ],
)
async def test_emulator_command_line_is_validated_before_it_starts(
    flag: str, value: str, shown: str
) -> None:
    """A bad emulator argument: exit 2, one line naming the argument, no traceback, and the
    emulator never logs that it listens."""
    proc = await asyncio.create_subprocess_exec(
        *HEDGEBOT,
        "emulator",
        "--api-key",
        "k",
        "--api-secret",
        "s",
        "--port",
        "0",
        flag,
        value,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    text = err.decode()
    assert proc.returncode == 2, text
    assert text.splitlines() == [text.strip()]
    assert text.startswith(f"hedgebot emulator: error: argument {flag}: {shown}")
    assert b"emulator.listening" not in out + err


@pytest.mark.parametrize(
    ("action", "body", "shown"),
    [
        ("mark", {"price": "nan"}, "price must be a finite number"),
        ("mark", {"price": "1e400"}, "price must be a finite number"),
        ("mark", {"price": 1e308}, "price must be a finite number"),
        ("mark", {"price": "-5"}, "price must be a finite number in (0,"),
        ("mark", {"price": "0"}, "price must be a finite number in (0,"),
        ("mark", {"price": True}, "price must be a number"),
        ("mark", {"price": "abc"}, "price must be a number"),
        ("mark", {"price": "2000", "index": "nan"}, "index must be a finite number"),
        ("mark", {}, "price is required"),
        ("funding_rate", {"rate": "Infinity"}, "rate must be a finite number"),
        ("funding_rate", {"rate": "2"}, "rate must be a finite number in [-1, 1]"),
        ("advance", {"seconds": "nan"}, "seconds must be a finite number"),
        ("advance", {"seconds": -60}, "seconds must be a finite number in [0,"),
        ("latency", {"seconds": "1e400"}, "seconds must be a finite number"),
        ("rate_limit", {"count": 1.5}, "count must be a whole number"),
        ("partial_fill_next_ioc", {"fraction": "nan"}, "fraction must be a finite number"),
    ],
)
async def test_emulator_admin_numbers_are_400_with_a_clear_message(
    emulator: EmulatorHandle,
    http: aiohttp.ClientSession,
    action: str,
    body: dict[str, Any],
    shown: str,
) -> None:
    """nan, 1e400, negative, zero, true, text or a missing number in an admin body: HTTP 400
    with a message naming the field; the mark stays where it was."""
    before = await mark_price(http, emulator)
    async with http.post(f"{emulator.url}/_emulator/{action}", json=body) as response:
        status, answer = response.status, await response.json()
    assert status == 400
    assert answer["ok"] is False
    assert shown in answer["error"]
    assert await mark_price(http, emulator) == before


async def test_emulator_admin_body_that_is_not_a_json_object_is_400(
    emulator: EmulatorHandle, http: aiohttp.ClientSession
) -> None:
    """Not JSON, a JSON list, or nested 100,000 deep: HTTP 400, never 500."""
    for raw in (b"{nan", b"[1, 2]", b"[" * 100_000 + b"]" * 100_000):
        async with http.post(f"{emulator.url}/_emulator/mark", data=raw) as response:
            assert response.status == 400
            assert (await response.json())["ok"] is False


async def test_emulator_admin_accepts_good_numbers(
    emulator: EmulatorHandle, http: aiohttp.ClientSession
) -> None:
    """A number as JSON number or as text sets the mark."""
    for price, shown in ((2500, "2500"), ("2400.5", "2400.5")):
        async with http.post(f"{emulator.url}/_emulator/mark", json={"price": price}) as r:
            assert r.status == 200
        assert await mark_price(http, emulator) == shown


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("stopPrice", "nan"),
        ("stopPrice", "1e400"),
        ("activationPrice", "-1"),
        ("callbackRate", "Infinity"),
        ("goodTillDate", "9" * 25),
    ],
)
async def test_every_numeric_order_parameter_is_binance_legal(
    emulator: EmulatorHandle, http: aiohttp.ClientSession, name: str, value: str
) -> None:
    """stopPrice=nan (and any other numeric order parameter out of Binance's range): HTTP 400,
    -1100 naming the parameter, nothing placed."""
    params = {**ORDER, "quantity": "0.5", "price": "1900", name: value}
    status, body = await signed_request(http, "POST", f"{emulator.url}/fapi/v1/order", params)
    assert (status, body["code"]) == (400, -1100)
    assert f"parameter '{name}'" in body["msg"]
    assert emulator.venue.order_log() == []
