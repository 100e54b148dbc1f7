"""The dashboards in headless Chromium against a real `hedgebot run` on `hedgebot localnet`.

One localnet (a market swap every 0.5 s) serves the module; the bot page is checked against
`snapshot --json` and `report --json` with the market stopped (SIGSTOP: the chain holds still),
then moved by the next swap. Commands go through the page with and without the operator token.
The fleet page runs against the session's broker with two bots, one killed (Last Will).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from daemon_support import HEDGEBOT, TOKEN, Bot, Proc, running_localnet, start_bot, until
from daemon_support import spawn as _spawn
from mqtt_support import operator_env

from bot.sim.mosquitto import Broker, free_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

DOCS_SCREENSHOT = Path(__file__).parents[2] / "docs" / "dashboard.png"
DOCS_FLEET_SCREENSHOT = Path(__file__).parents[2] / "docs" / "fleet-dashboard.png"


@pytest.fixture(scope="module")
async def localnet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Path, Proc]]:
    """`hedgebot localnet` with a market swap every 0.5 s."""
    async with running_localnet(tmp_path_factory.mktemp("web-localnet")) as started:
        yield started


@pytest.fixture(scope="module")
async def bot(
    localnet: tuple[Path, Proc], mqtt_broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Bot]:
    """One daemon for the bot-page tests."""
    prefix = f"hedgebot-web/{uuid.uuid4().hex[:8]}"
    started = await start_bot(
        localnet[0], tmp_path_factory.mktemp("web1"), "web1", mqtt_broker, prefix
    )
    try:
        yield started
    finally:
        await started.proc.stop()


@pytest.fixture
async def page(browser: Any, bot: Bot) -> AsyncIterator[Any]:
    """The bot page, loaded and live."""
    context = await browser.new_context(viewport={"width": 1280, "height": 1500})
    opened = await context.new_page()
    await opened.goto(bot.url)
    await opened.locator("#live.ok").wait_for(timeout=15_000)
    await opened.locator("#delta[data-value]:not([data-value=''])").wait_for(timeout=15_000)
    try:
        yield opened
    finally:
        await context.close()


async def _cli_json(*args: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        *HEDGEBOT, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return dict(json.loads(out))


async def _value(page: Any, selector: str) -> str:
    return str(await page.locator(selector).get_attribute("data-value"))


async def test_page_shows_what_snapshot_and_report_show_at_that_block(
    page: Any, bot: Bot, localnet: tuple[Path, Proc], tmp_path: Path
) -> None:
    """Market stopped: the page's block, delta, hedge and net PnL equal `snapshot --json` and
    `report --json` at that block; a swap then moves them within 2 s, without a reload."""
    market = localnet[1].proc
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    market.send_signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(1.5)  # the swap in flight is mined and ticked
        snapshot = await _cli_json("snapshot", "--config", str(bot.config), "--json")
        await page.locator(f"#block[data-value='{snapshot['block']}']").wait_for(timeout=10_000)
        await until(
            lambda: bot.count("SELECT MAX(block) FROM decisions") == snapshot["block"], 10, "tick"
        )
        report = await _cli_json("report", "--config", str(bot.config), "--json")
        # the report ends at the last snapshot the store kept; the snapshot policy (issue 16)
        # keeps a quiet tick's snapshot only when something changed, so with the market
        # stopped that may be the block before the CLI's (the same pool state)
        kept = bot.count("SELECT MAX(block) FROM snapshots")
        assert report["last_block"] == kept
        assert snapshot["block"] - 1 <= kept <= snapshot["block"]
        # the same numbers (the state message may keep a trailing zero: -74.380 is -74.38)
        assert Decimal(await _value(page, "#delta")) == Decimal(snapshot["delta_base"])
        assert Decimal(await _value(page, "#hedge")) == Decimal(snapshot["hedge_base"])
        assert Decimal(await _value(page, "#hedge")) == Decimal(report["hedge_base"])
        page_net = Decimal(await _value(page, "#net-pnl"))
        assert page_net == Decimal(report["net_pnl_quote"]).quantize(Decimal("1e-10"))
        shown = await page.locator("#net-pnl").text_content()
        assert shown == f"{page_net:,.2f}"
        await page.screenshot(path=str(tmp_path / "bot-dashboard.png"), full_page=True)
        if os.environ.get("HEDGEBOT_UPDATE_SCREENSHOTS") == "1":
            shutil.copy(tmp_path / "bot-dashboard.png", DOCS_SCREENSHOT)
        before_delta = await _value(page, "#delta")
    finally:
        market.send_signal(signal.SIGCONT)
    moved = f"#delta:not([data-value='{before_delta}'])"
    await page.locator(moved).wait_for(timeout=2_000)
    assert int(await _value(page, "#block")) > snapshot["block"]
    assert navigations == []  # pushed over SSE: no reload, no navigation


async def _click_command(page: Any, button: str, token: str | None) -> tuple[str, str]:
    await page.fill("#token", token or "")
    await page.click(button)
    ack = page.locator("#ack[data-status]:not([data-status='sending'])")
    await ack.wait_for(timeout=15_000)
    return str(await ack.get_attribute("data-status")), str(await ack.text_content())


async def test_a_command_without_the_token_is_refused(page: Any, bot: Bot) -> None:
    """No token: the page shows the refusal and the bot keeps trading."""
    status, text = await _click_command(page, "#cmd-pause", None)
    assert status == "refused"
    assert "operator token required" in text
    assert await page.locator("#trading").text_content() == "trading"
    status, text = await _click_command(page, "#cmd-pause", "wrong-token-0123456789")
    assert (status, "wrong operator token" in text) == ("refused", True)


async def test_a_cross_site_post_is_refused(bot: Bot) -> None:
    """A POST with the token but from another origin (and no CSRF token) is refused."""
    headers = {"Origin": "http://evil.example", "Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        answer = await http.post(
            bot.url + "api/command", json={"command": "pause"}, headers=headers
        )
        assert answer.status == 403
        assert "cross-site" in (await answer.json())["reason"]


async def test_flatten_without_the_typed_confirmation_does_nothing(page: Any, bot: Bot) -> None:
    """The button sends nothing without the bot id typed; a forged request is refused too."""
    status, text = await _click_command(page, "#cmd-flatten", TOKEN)
    assert status == "not sent"
    assert "type the bot id or FLATTEN" in text
    csrf = await page.locator("meta[name=csrf]").get_attribute("content")
    headers = {
        "Origin": f"http://127.0.0.1:{bot.port}",
        "X-CSRF-Token": str(csrf),
        "Authorization": f"Bearer {TOKEN}",
    }
    async with aiohttp.ClientSession() as http:
        body = {"command": "flatten", "params": {"confirm": True}, "confirm_text": "yes"}
        answer = await http.post(bot.url + "api/command", json=body, headers=headers)
        assert answer.status == 400
    assert bot.count("SELECT COUNT(*) FROM commands WHERE command = 'flatten'") == 0
    assert await page.locator("#trading").text_content() == "trading"


async def test_pause_from_the_page_is_acked_and_no_order_follows(page: Any, bot: Bot) -> None:
    """Pause is applied (ack on the page); blocks go on and no order is placed; resume."""
    status, text = await _click_command(page, "#cmd-pause", TOKEN)
    assert (status, text) == ("applied", "pause: applied")
    orders = bot.count("SELECT COUNT(*) FROM intents")
    block = int(await _value(page, "#block"))
    await page.locator("#trading", has_text="paused").wait_for(timeout=5_000)
    for later in range(block + 1, block + 5):
        await page.locator(f"#block[data-value='{later}']").wait_for(timeout=5_000)
    assert bot.count("SELECT COUNT(*) FROM intents") == orders
    status, _ = await _click_command(page, "#cmd-resume", TOKEN)
    assert status == "applied"


async def test_fleet_lists_two_bots_and_shows_one_going_offline(
    browser: Any, localnet: tuple[Path, Proc], mqtt_broker: Broker, tmp_path: Path
) -> None:
    """Two bots on one broker are listed online; SIGKILL one: its Last Will shows offline."""
    prefix = f"hedgebot-fleet/{uuid.uuid4().hex[:8]}"
    bots = [
        await start_bot(localnet[0], tmp_path / name, name, mqtt_broker, prefix)
        for name in ("fleet-a", "fleet-b")
    ]
    port = free_port()
    env = operator_env({**os.environ, "HEDGEBOT_DASHBOARD_TOKEN": TOKEN})
    args = ["dashboard", "--mqtt-url", mqtt_broker.url, "--prefix", prefix, "--port", str(port)]
    fleet = await _spawn(args, tmp_path / "fleet.log", env)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        for _ in range(100):
            with contextlib.suppress(Exception):
                await page.goto(f"http://127.0.0.1:{port}/")
                break
            await asyncio.sleep(0.1)
        for name in ("fleet-a", "fleet-b"):
            await page.locator(f"tr[data-bot='{name}'][data-status='online']").wait_for(
                timeout=20_000
            )
        assert await page.locator("#bots tr").count() == 2
        assert "since this dashboard started" in str(await page.locator("#since").text_content())
        await page.click("tr[data-bot='fleet-a']")
        await page.locator("#d-delta[data-value]:not([data-value=''])").wait_for(timeout=5_000)
        await page.fill("#token", TOKEN)
        await page.click("#f-pause")
        ack = page.locator("#ack[data-status]:not([data-status='sending'])")
        await ack.wait_for(timeout=15_000)
        assert await ack.get_attribute("data-status") == "applied"
        await bots[1].proc.stop(signal.SIGKILL)
        await page.locator("tr[data-bot='fleet-b'][data-status='offline']").wait_for(timeout=15_000)
        assert await page.locator("tr[data-bot='fleet-a'][data-status='online']").count() == 1
        await page.screenshot(path=str(tmp_path / "fleet-dashboard.png"), full_page=True)
        if os.environ.get("HEDGEBOT_UPDATE_SCREENSHOTS") == "1":
            shutil.copy(tmp_path / "fleet-dashboard.png", DOCS_FLEET_SCREENSHOT)
    finally:
        await context.close()
        await fleet.stop()
        for started in bots:
            await started.proc.stop()


_LAYOUT_JS = """() => {
  const box = (n) => {
    const r = n.getBoundingClientRect();
    return {left: r.left, right: r.right};
  };
  return {
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    charts: [...document.querySelectorAll('.charts > div')].map((c) => ({
      id: c.id,
      card: box(c.closest('section')),
      canvas: c.querySelector('canvas') ? box(c.querySelector('canvas')) : null,
      legend: c.querySelector('.u-legend') ? box(c.querySelector('.u-legend')) : null,
    })),
  };
}"""


@pytest.mark.parametrize("width", [1280, 1920])
async def test_the_bot_page_fits_its_window_and_each_chart_its_card(
    browser: Any, bot: Bot, tmp_path: Path, width: int
) -> None:
    """At 1280×900 and 1920×900 nothing is wider than the window (no sideways scroll) and
    every chart's canvas and legend lie inside its card; screenshots under tmp_path."""
    context = await browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(bot.url)
        await page.locator("#live.ok").wait_for(timeout=15_000)
        await page.locator("#events tr").first.wait_for(timeout=15_000)
        await page.wait_for_function("document.querySelectorAll('.charts canvas').length === 4")
        layout = await page.evaluate(_LAYOUT_JS)
        await page.screenshot(path=str(tmp_path / f"bot-{width}.png"), full_page=True)
    finally:
        await context.close()
    assert layout["scroll"] <= layout["inner"] == width
    assert [c["id"] for c in layout["charts"]] == [
        "chart-price",
        "chart-delta",
        "chart-drift",
        "chart-pnl",
    ]
    for chart in layout["charts"]:
        card = chart["card"]
        for part in ("canvas", "legend"):
            inside = chart[part]
            assert inside is not None, (chart["id"], part)
            assert card["left"] <= inside["left"] < inside["right"] <= card["right"], (
                chart["id"],
                part,
                chart,
            )


async def test_the_planner_draws_its_charts_and_the_hedge_table(page: Any) -> None:
    """Issue 18 review: the planner on the page is charts (delta and value across the price
    grid with range edges marked, the hedge at the four ratios) and a table of the four
    hedges, drawn with the served uPlot, not a flat key/value table."""
    await page.click("#plan-load")
    await page.locator("#plan[data-charts='3']").wait_for(timeout=90_000)
    assert await page.locator("#plan .plan-chart canvas").count() == 3
    assert await page.locator("#plan-hedges tbody tr").count() == 4
    titles = await page.locator("#plan .u-title").all_text_contents()
    assert titles == [
        "delta across the price grid (base)",
        "value across the price grid (quote)",
        "hedge at each ratio (base) and funding per day (quote)",
    ]


async def test_next_funding_is_the_venues_time_from_the_state(page: Any, bot: Bot) -> None:
    """Issue 18 review: the page shows the state's ``next_funding_ts`` (the venue's), not a
    time guessed from the browser's clock."""
    async with aiohttp.ClientSession() as http, http.get(f"{bot.url}api/state") as answer:
        state = (await answer.json())["state"]
    assert state["next_funding_ts"] > 0
    shown = page.locator("#next-funding:not([data-value=''])")
    await shown.wait_for(timeout=15_000)
    assert int(str(await shown.get_attribute("data-value"))) >= state["next_funding_ts"]
