"""Reading a dashboard bound beyond loopback needs the operator token (issue 18 review 2
item 7): the bot page and the fleet page over real HTTP (aiohttp on a port, a real SQLite
store) answer 401 and the login form without it; ``POST /login`` with the token sets an
HttpOnly, SameSite=Strict cookie with which the page, its API and its commands work."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.sim.mosquitto import Broker, free_port
from bot.store.sqlite import SqliteStore
from bot.telemetry.dashboard.bot_page import BotDashboard
from bot.telemetry.dashboard.command_hub import CommandHub
from bot.telemetry.dashboard.daemon import DaemonDashboard
from bot.telemetry.dashboard.feed import DashboardFeed
from bot.telemetry.dashboard.fleet import FleetBoard, FleetCommander
from bot.telemetry.dashboard.fleet_page import FleetApp, serve_fleet
from bot.telemetry.dashboard.security import SESSION_COOKIE, CommandGate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

TOKEN = "operator-token-" + "x" * 16
CSRF = "csrf-value-of-this-page"


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(runner.addresses[0][1])


def _gate(login_required: bool) -> CommandGate:
    # what a bind on 0.0.0.0 builds (security.is_loopback false): the login is required
    return CommandGate(token=TOKEN, port=0, csrf_token=CSRF, login_required=login_required)


@pytest.fixture(params=["bot", "fleet"])
async def page(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, int]]:
    """The bot page (over a real store) or the fleet page, as a non-loopback bind serves it;
    yields (which, port)."""
    app = web.Application()
    store = await SqliteStore.open(tmp_path / "bot.sqlite")
    holder: BotDashboard | FleetApp
    if request.param == "bot":
        holder = BotDashboard(bot_id="lg", feed=DashboardFeed(), store=store, gate=_gate(True))
    else:
        board = FleetBoard("lg-fleet", DashboardFeed())
        commander = FleetCommander("mqtt://127.0.0.1:1", "lg-fleet", None)
        holder = FleetApp(board, commander, _gate(True))
    holder.mount(app)
    runner, port = await _serve(app)
    holder.gate = replace(holder.gate, port=port)
    try:
        yield request.param, port
    finally:
        await runner.cleanup()
        await store.close()


async def _get(port: int, path: str, **headers: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}", headers=headers) as answer,
    ):
        return answer.status, await answer.text()


async def _login(port: int, token: str) -> aiohttp.ClientResponse:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{port}/login",
            data={"token": token},
            headers={"Origin": f"http://127.0.0.1:{port}"},
            allow_redirects=False,
        ) as answer,
    ):
        await answer.read()
        return answer


async def test_without_the_token_nothing_but_the_login_form_is_served(
    page: tuple[str, int],
) -> None:
    """GET / is 401 with the login form (and no CSRF token); the API and the stream are 401;
    a wrong token at /login is 401 again."""
    which, port = page
    status, text = await _get(port, "/")
    assert status == 401
    assert 'name="token"' in text
    assert CSRF not in text
    api = "/api/state" if which == "bot" else "/api/fleet"
    for path in (api, "/api/stream", "/static/common.js"):
        assert (await _get(port, path))[0] == 401, path
    assert (await _login(port, "wrong-token-" + "y" * 20)).status == 401


async def test_after_login_the_page_its_api_and_its_commands_work(page: tuple[str, int]) -> None:
    """The right token: 303 to / with an HttpOnly SameSite=Strict session cookie; with it
    the page (with its CSRF token) and the API answer, and a command passes the gate with no
    Authorization header; the bearer token alone works too (scripts)."""
    which, port = page
    answer = await _login(port, TOKEN)
    assert answer.status == 303
    assert answer.headers["Location"] == "/"
    set_cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie
    assert "SameSite=Strict" in set_cookie
    assert TOKEN not in set_cookie
    session = answer.cookies[SESSION_COOKIE].value
    cookie = f"{SESSION_COOKIE}={session}"
    status, text = await _get(port, "/", Cookie=cookie)
    assert status == 200
    assert CSRF in text
    api = "/api/state" if which == "bot" else "/api/fleet"
    assert (await _get(port, api, Cookie=cookie))[0] == 200
    assert (await _get(port, api, Authorization=f"Bearer {TOKEN}"))[0] == 200
    headers = {
        "Origin": f"http://127.0.0.1:{port}",
        "X-CSRF-Token": CSRF,
        "Cookie": cookie,
        "Content-Type": "application/json",
    }
    body = {"command": "pause", "params": {}, "bot_id": "nobody"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://127.0.0.1:{port}/api/command", json=body, headers=headers) as sent,
    ):
        reply = await sent.json()
    # past the gate: the bot page has no command channel here, the fleet no such bot
    assert (sent.status, reply["reason"]) in {
        (503, "no command channel"),
        (400, "unknown bot or command"),
    }


async def test_on_loopback_reading_needs_no_login(tmp_path: Path) -> None:
    """The control: the same page with a loopback bind answers without a token."""
    store = await SqliteStore.open(tmp_path / "bot.sqlite")
    page = BotDashboard(bot_id="lg", feed=DashboardFeed(), store=store, gate=_gate(False))
    app = web.Application()
    page.mount(app)
    runner, port = await _serve(app)
    page.gate = replace(page.gate, port=port)
    try:
        status, text = await _get(port, "/")
        assert status == 200
        assert CSRF in text
    finally:
        await runner.cleanup()
        await store.close()


async def test_a_daemon_bound_beyond_loopback_requires_the_login(tmp_path: Path) -> None:
    """``hedgebot run``'s wiring: binding 0.0.0.0 turns the login on, 127.0.0.1 leaves it off."""
    store = await SqliteStore.open(tmp_path / "bot.sqlite")
    try:
        page = BotDashboard(bot_id="lg", feed=DashboardFeed(), store=store, gate=_gate(False))
        daemon = DaemonDashboard(page, CommandHub("lg"), "0.0.0.0")
        daemon.bound("0.0.0.0", 9108)
        assert page.gate.login_required
        daemon.bound("127.0.0.1", 9108)
        assert not page.gate.login_required
    finally:
        await store.close()


async def test_the_fleet_command_on_0_0_0_0_requires_the_login_and_takes_allowed_hosts(
    mqtt_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve_fleet`` (``hedgebot dashboard --host 0.0.0.0 --allowed-host …``) on the real
    broker: / without the token is the login form; a listed name with the token is served;
    a name not listed is 421."""
    monkeypatch.setenv("HEDGEBOT_DASHBOARD_TOKEN", TOKEN)
    port = free_port()
    ready = asyncio.Event()
    task = asyncio.create_task(
        serve_fleet(
            mqtt_broker.url,
            "lg-fleet-cli",
            "0.0.0.0",
            port,
            None,
            ready,
            allowed_hosts=("fleet.example",),
        )
    )
    try:
        async with asyncio.timeout(20):
            await ready.wait()
        assert (await _get(port, "/"))[0] == 401
        bearer = f"Bearer {TOKEN}"
        assert (await _get(port, "/api/fleet", Host="fleet.example", Authorization=bearer))[
            0
        ] == 200
        assert (await _get(port, "/api/fleet", Host="other.example", Authorization=bearer))[
            0
        ] == 421
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
