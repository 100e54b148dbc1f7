"""Any header value a client sends to a dashboard's command routes (non-ASCII, raw bytes that
are no UTF-8, empty, very long) gets a 401/403/415 refusal over real HTTP, never a 500: the bot
page and the fleet page, served by aiohttp on a loopback port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web
from web_serving import serving

from bot.store.sqlite import SqliteStore
from bot.telemetry.dashboard.bot_page import BotDashboard
from bot.telemetry.dashboard.feed import DashboardFeed
from bot.telemetry.dashboard.fleet import FleetBoard, FleetCommander
from bot.telemetry.dashboard.fleet_page import FleetApp
from bot.telemetry.dashboard.security import CommandGate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

TOKEN = "operator-token-" + "x" * 16
CSRF = "csrf-value-of-this-page"
BODY = b'{"command": "pause", "params": {}}'

# (header, raw value bytes, expected status)
HOSTILE = [
    (b"X-CSRF-Token", "é".encode(), 403),
    (b"X-CSRF-Token", b"\xff\xfe\x80", 403),  # not UTF-8 at all
    (b"X-CSRF-Token", b"", 403),
    (b"X-CSRF-Token", b"a" * 6000, 403),
    (b"X-CSRF-Token", ("é" * 3000).encode(), 403),
    (b"Authorization", "Bearer é".encode(), 401),
    (b"Authorization", b"Bearer \xff\xfe", 401),
    (b"Authorization", b"", 401),
    (b"Authorization", b"Bearer " + b"z" * 6000, 401),
    (b"Origin", "http://127.0.0.1:é".encode(), 403),
    (b"Sec-Fetch-Site", "sämé".encode(), 403),
    (b"Content-Type", "application/jsön".encode(), 415),
]


@pytest.fixture
async def bot_page(tmp_path: Path) -> AsyncIterator[int]:
    """A bot dashboard over a real SQLite store; yields its port."""
    store = await SqliteStore.open(tmp_path / "bot.sqlite")
    page = BotDashboard(
        bot_id="hdr-bot",
        feed=DashboardFeed(),
        store=store,
        gate=CommandGate(token=TOKEN, port=0, csrf_token=CSRF),
    )
    app = web.Application()
    page.mount(app)
    try:
        async with serving(app) as port:
            page.gate = replace(page.gate, port=port)
            yield port
    finally:
        await store.close()


@pytest.fixture
async def fleet_page() -> AsyncIterator[int]:
    """A fleet dashboard (no broker needed: every request here is refused before sending)."""
    board = FleetBoard("hdr-fleet", DashboardFeed())
    commander = FleetCommander("mqtt://127.0.0.1:1", "hdr-fleet", None)
    fleet = FleetApp(board, commander, CommandGate(token=TOKEN, port=0, csrf_token=CSRF))
    app = web.Application()
    fleet.mount(app)
    async with serving(app) as port:
        fleet.gate = replace(fleet.gate, port=port)
        yield port


async def _post_raw(
    port: int, path: str, headers: dict[bytes, bytes]
) -> tuple[int, dict[str, str]]:
    """POST ``BODY`` with exactly these header bytes; (status, JSON answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST {path} HTTP/1.1".encode()]
    lines += [name + b": " + value for name, value in headers.items()]
    lines += [b"Content-Length: " + str(len(BODY)).encode(), b"Connection: close", b"", BODY]
    writer.write(b"\r\n".join(lines))
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else {}


def _headers(port: int, name: bytes, value: bytes) -> dict[bytes, bytes]:
    headers = {
        b"Host": f"127.0.0.1:{port}".encode(),
        b"Origin": f"http://127.0.0.1:{port}".encode(),
        b"Content-Type": b"application/json",
        b"X-CSRF-Token": CSRF.encode(),
        b"Authorization": f"Bearer {TOKEN}".encode(),
    }
    headers[name] = value
    return headers


@pytest.mark.parametrize(("name", "value", "status"), HOSTILE)
async def test_the_bot_page_refuses_any_header_value_without_a_500(
    bot_page: int, name: bytes, value: bytes, status: int
) -> None:
    """A non-ASCII, non-UTF-8, empty or very long header is a refusal naming the check."""
    got, body = await _post_raw(bot_page, "/api/command", _headers(bot_page, name, value))
    assert got == status, body
    assert body["status"] == "refused"
    got, body = await _post_raw(bot_page, "/api/killswitch", _headers(bot_page, name, value))
    assert got == status, body


@pytest.mark.parametrize(("name", "value", "status"), HOSTILE)
async def test_the_fleet_page_refuses_any_header_value_without_a_500(
    fleet_page: int, name: bytes, value: bytes, status: int
) -> None:
    """The fleet page's command route shares the gate: the same refusals."""
    got, body = await _post_raw(fleet_page, "/api/command", _headers(fleet_page, name, value))
    assert got == status, body
    assert body["status"] == "refused"


async def test_the_right_headers_still_pass_the_gate(bot_page: int) -> None:
    """The control: the page's own headers reach the command path (no channel here: 503)."""
    got, body = await _post_raw(bot_page, "/api/command", _headers(bot_page, b"Accept", b"*/*"))
    assert got == 503, body
    assert body["reason"] == "no command channel"


async def test_the_page_offers_every_hedge_ratio_the_config_allows(bot_page: int) -> None:
    """The hedge-ratio input's bound is the config's (``MAX_HEDGE_RATIO``), not a copy."""
    reader, writer = await asyncio.open_connection("127.0.0.1", bot_page)
    writer.write(
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{bot_page}\r\nConnection: close\r\n\r\n".encode()
    )
    await writer.drain()
    page = (await reader.read()).decode()
    writer.close()
    await writer.wait_closed()
    assert 'id="ratio" step="0.05" min="0" max="3"' in page
