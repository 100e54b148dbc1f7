"""The bot page's ``/api/events`` over real HTTP on a real store (SQLite and PostgreSQL): an
alert both recorded and in the live tail is listed once, and the store's commands are listed
as ``command`` rows, also when the filter asks for commands only (issue 18 review)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from store_backends import BACKENDS, Backend, backend_for
from web_serving import served_bot_page

from bot.store.base import RecordStore
from bot.telemetry.dashboard.bot_page import BotDashboard
from bot.telemetry.dashboard.command_hub import CommandHub
from bot.telemetry.dashboard.feed import DashboardFeed
from bot.telemetry.dashboard.security import CommandGate
from bot.telemetry.messages import EventMessage

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from backend_for(request.param, tmp_path)


@pytest.fixture
async def page(store_backend: Backend) -> AsyncIterator[tuple[BotDashboard, RecordStore, str]]:
    """A bot page over the backend's store with a command hub; (page, store, base URL)."""
    store = await store_backend.open("evlog-bot")
    dashboard = BotDashboard(
        bot_id="evlog-bot",
        feed=DashboardFeed(),
        store=store,
        gate=CommandGate(token=None, port=0),
        commands=CommandHub("evlog-bot"),
    )
    try:
        async with served_bot_page(dashboard) as url:
            yield dashboard, store, url
    finally:
        await store.close()


async def _events(url: str, kinds: str | None = None) -> list[dict[str, Any]]:
    query = "" if kinds is None else f"?kinds={kinds}"
    async with aiohttp.ClientSession() as http, http.get(f"{url}/api/events{query}") as answer:
        assert answer.status == 200
        body = await answer.json()
    return list(body["events"])


async def test_an_alert_recorded_and_live_is_listed_once_and_commands_are_listed(
    page: tuple[BotDashboard, RecordStore, str],
) -> None:
    """The engine publishes an alert (live tail) and records it (store) a moment later; the
    page lists it once. A page command's outcome and an MQTT command rejected by the engine
    appear as ``command`` rows with their names, once each."""
    dashboard, store, url = page
    dashboard.feed.publish_event(
        EventMessage(type="alert", ts=1000.0, data={"alert": "margin.warn", "ratio": "0.4"})
    )
    await store.record_event(1000.002, "alert", {"alert": "margin.warn", "ratio": "0.4"})
    hub = dashboard.commands
    assert hub is not None
    await hub.ack("mqtt-7", False, "hedge ratio too high")  # live: the hub's command event
    await store.record_command(
        1001.0, "mqtt-7", "set_hedge_ratio", "rejected",
        {"params": {"value": "2.5"}, "reason": "hedge ratio too high"},
    )  # fmt: skip
    await store.record_command(1002.0, "web-1", "pause", "ok", {"params": {}, "reason": None})
    await store.record_event(
        1002.0, "trading_state", {"previous": "active", "current": "halted", "cause": "pause"}
    )
    log = await _events(url)
    assert [row["type"] for row in log] == ["trading_state", "command", "command", "alert"]
    assert [row["data"].get("command") for row in log if row["type"] == "command"] == [
        "pause",
        "set_hedge_ratio",
    ]
    only = await _events(url, "command")
    assert [(r["data"]["id"], r["data"]["status"]) for r in only] == [
        ("web-1", "ok"),
        ("mqtt-7", "rejected"),
    ]
    assert [r["type"] for r in await _events(url, "trading_state")] == ["trading_state"]
