"""The Binance USD-M emulator refuses any key, signature or query a client sends (non-ASCII,
raw bytes that are no UTF-8, empty, very long) with Binance's own error code over real HTTP,
never an HTTP 500 (a ``TypeError`` from comparing non-ASCII text in constant time)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from bot.clock import ManualClock
from bot.exchange.emulators.binance_usdm import EmulatorHandle, start_emulator
from bot.exchange.venue import VenueParams

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

KEY, SECRET = "emulator-key", "emulator-secret"


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorHandle]:
    handle = await start_emulator("127.0.0.1", 0, KEY, SECRET, VenueParams(), ManualClock(1.7e9))
    handle.venue.set_mark(Decimal(2000))
    try:
        yield handle
    finally:
        await handle.close()


async def _raw(
    port: int, method: bytes, target: bytes, headers: dict[bytes, bytes]
) -> tuple[int, dict[str, object]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers.items()]
    lines += [b"Content-Length: 0", b"Connection: close", b"", b""]
    writer.write(b"\r\n".join(lines))
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body.startswith(b"{") else {}


@pytest.mark.parametrize(
    "key",
    ["é".encode(), b"\xff\xfe\x80", b"k" * 6000, ("é" * 2000).encode(), b"emulator-k\xc3\xa9y"],
)
@pytest.mark.parametrize(
    ("method", "target"),
    [
        (b"GET", b"/fapi/v3/account?timestamp=1700000000000&signature=ab"),
        (b"POST", b"/fapi/v1/listenKey"),
    ],
)
async def test_a_hostile_api_key_is_binances_refusal_never_a_500(
    emulator: EmulatorHandle, method: bytes, target: bytes, key: bytes
) -> None:
    status, body = await _raw(emulator.port, method, target, {b"X-MBX-APIKEY": key})
    assert status == 401
    assert body.get("code") == -2015


@pytest.mark.parametrize(
    "signature", [b"%C3%A9", b"%FF%FE", b"a" * 5000, b"%00", "é".encode()[:1] * 3]
)
async def test_a_hostile_signature_is_binances_refusal_never_a_500(
    emulator: EmulatorHandle, signature: bytes
) -> None:
    """Percent-encoded non-ASCII or undecodable bytes, a long or NUL signature: Binance's
    -1022. (Raw bytes >= 0x80 in the request line are refused by the HTTP parser itself, 400.)"""
    target = b"/fapi/v3/account?timestamp=1700000000000&signature=" + signature
    status, body = await _raw(emulator.port, b"GET", target, {b"X-MBX-APIKEY": KEY.encode()})
    assert status != 500
    if signature.isascii():
        assert (status, body.get("code")) == (400, -1022)
    else:
        assert status == 400
