"""The bot page's kill switch leaves a record like any command (issue 18 review 2 item 10):
over real HTTP on a real SQLite store, freeze then clear from the page gives two rows of the
commands table with their outcome, listed in ``/api/events?kinds=command`` and acked on the
page; the flag file the engine reads is written first, so a store that is held (the engine
stuck in it) or a file that cannot be written is said, never silently lost."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from web_serving import served_bot_page

from bot.clock import WallClock
from bot.killswitch import FileKillSwitch
from bot.store.sqlite import SqliteStore
from bot.telemetry.dashboard.bot_page import BotDashboard
from bot.telemetry.dashboard.command_hub import CommandHub
from bot.telemetry.dashboard.feed import DashboardFeed
from bot.telemetry.dashboard.security import CommandGate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

TOKEN = "k" * 24
CSRF = "csrf-of-the-kill-page"
BOT = "kill-bot"


@dataclass
class Page:
    dashboard: BotDashboard
    store: SqliteStore
    flag: Path
    url: str

    async def post_kill(self, mode: str, **extra: str) -> tuple[int, dict[str, Any]]:
        port = self.url.rsplit(":", 1)[1]
        headers = {
            "Origin": f"http://127.0.0.1:{port}",
            "Content-Type": "application/json",
            "X-CSRF-Token": CSRF,
            "Authorization": f"Bearer {TOKEN}",
        }
        body = json.dumps({"mode": mode, **extra})
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.url}/api/killswitch", data=body, headers=headers) as answer,
        ):
            return answer.status, await answer.json()

    async def events(self, kinds: str) -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.url}/api/events?kinds={kinds}") as answer,
        ):
            assert answer.status == 200
            return list((await answer.json())["events"])


async def _serve(tmp_path: Path, flag: Path, record_timeout_s: float) -> AsyncIterator[Page]:
    store = await SqliteStore.open(tmp_path / "store.sqlite")
    dashboard = BotDashboard(
        bot_id=BOT,
        feed=DashboardFeed(),
        store=store,
        gate=CommandGate(token=TOKEN, port=0, csrf_token=CSRF),
        commands=CommandHub(BOT, record_timeout_s=record_timeout_s),
        kill_switch=FileKillSwitch(flag, WallClock()),
    )
    try:
        async with served_bot_page(dashboard) as url:
            yield Page(dashboard, store, flag, url)
    finally:
        await store.close()


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    async for served in _serve(tmp_path, tmp_path / "KILL", record_timeout_s=5.0):
        yield served


async def test_freeze_then_clear_from_the_page_are_two_recorded_commands(page: Page) -> None:
    """Each action takes effect through the flag file and is acked ``applied`` with its id;
    the commands table holds both rows (``kill_switch``, mode, ``ok``) and the event log's
    command filter lists each once (the stored row and its live event are one)."""
    with page.dashboard.feed.subscribe() as watcher:
        status, freeze = await page.post_kill("freeze")
        assert status == 200, freeze
        assert (freeze["status"], freeze["command"]) == ("applied", "kill_switch")
        assert freeze["kill_switch"]["mode"] == "freeze"
        assert json.loads(page.flag.read_text())["mode"] == "freeze"
        status, clear = await page.post_kill("clear")
        assert status == 200, clear
        assert (clear["status"], clear["kill_switch"]["mode"]) == ("applied", "off")
        assert not page.flag.exists()
        pushed = [json.loads(item.data) for item in watcher.items]
    acks = [p for p in pushed if p.get("kind") == "ack"]  # other open pages see the ack
    assert [(a["id"], a["status"]) for a in acks] == [
        (freeze["id"], "applied"),
        (clear["id"], "applied"),
    ]
    rows = await page.store.recent_commands(10)
    assert [(r["id"], r["command"], r["status"], r["params"]) for r in rows] == [
        (freeze["id"], "kill_switch", "ok", {"mode": "freeze"}),
        (clear["id"], "kill_switch", "ok", {"mode": "clear"}),
    ]
    log = await page.events("command")
    assert [(e["data"]["id"], e["data"]["params"], e["data"]["status"]) for e in log] == [
        (clear["id"], {"mode": "clear"}, "ok"),
        (freeze["id"], {"mode": "freeze"}, "ok"),
    ]


async def test_a_held_store_does_not_stop_the_kill_switch(tmp_path: Path) -> None:
    """The engine holding the store (a transaction that does not end): the freeze still
    writes the flag file and is acked applied, saying it was not recorded; the live event
    log still shows it."""
    async for page in _serve(tmp_path, tmp_path / "KILL", record_timeout_s=0.2):
        async with page.store.transaction():  # this task holds the store's write lock
            status, ack = await page.post_kill("freeze")
        assert status == 200, ack
        assert ack["status"] == "applied"
        assert ack["reason"].startswith("not recorded in the store:")
        assert json.loads(page.flag.read_text())["mode"] == "freeze"
        assert await page.store.recent_commands(10) == []
        log = await page.events("command")
        assert [(e["data"]["id"], e["data"]["params"]) for e in log] == [
            (ack["id"], {"mode": "freeze"})
        ]


async def test_a_flag_file_that_cannot_be_written_is_a_recorded_rejection(tmp_path: Path) -> None:
    """The kill switch's directory is a file: the page says ``rejected`` with the reason
    (HTTP 500) and the commands table records the rejection."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    async for page in _serve(tmp_path, blocker / "KILL", record_timeout_s=5.0):
        status, ack = await page.post_kill("freeze")
        assert status == 500, ack
        assert ack["status"] == "rejected"
        assert ack["reason"].startswith("kill switch file:")
        rows = await page.store.recent_commands(10)
        assert [(r["command"], r["status"], r["reason"]) for r in rows] == [
            ("kill_switch", "rejected", ack["reason"])
        ]


async def test_a_refused_kill_request_is_not_an_action(page: Page) -> None:
    """A kill-switch flatten without the typed confirmation changes nothing and is not a
    command (like the page's flatten command)."""
    status, answer = await page.post_kill("flatten", confirm_text="nope")
    assert (status, answer["status"]) == (400, "refused")
    assert not page.flag.exists()
    assert await page.store.recent_commands(10) == []
