"""The bot page's history charts in headless Chromium (issue 18 review 2 item 13): live points
are bounded by the selected range and a hard cap, and a band far beyond the drift
(set_threshold base=1e30) leaves the drift chart readable, with a note.

The page is served in this process (the real aiohttp app over a real SQLite store); states
reach it over its real server-sent events stream from the dashboard feed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from web_serving import served_bot_page

from bot.store.sqlite import SqliteStore
from bot.telemetry.dashboard.bot_page import BotDashboard
from bot.telemetry.dashboard.feed import DashboardFeed
from bot.telemetry.dashboard.security import CommandGate
from bot.telemetry.messages import PnlParts, StateMessage

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

MAX_POINTS = 4000  # charts.js CHARTS.MAX_POINTS


def _state(block: int, published_at: float, band: str, drift: str) -> StateMessage:
    return StateMessage(
        bot_id="charts-bot",
        block=block,
        timestamp=1_700_000_000 + block,
        price=Decimal(2000),
        delta_base=Decimal(75),
        target_base=Decimal(-75),
        hedge_base=Decimal("-75.05"),
        drift_base=Decimal(drift),
        band_base=Decimal(band),
        published_at=published_at,
    )


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[BotDashboard, str]]:
    store = await SqliteStore.open(tmp_path / "store.sqlite")
    dashboard = BotDashboard(
        bot_id="charts-bot",
        feed=DashboardFeed(),
        store=store,
        gate=CommandGate(token=None, port=0),
    )
    try:
        async with served_bot_page(dashboard) as url:
            yield dashboard, f"{url}/"
    finally:
        await store.close()


@pytest.fixture
async def page(browser: Any, served: tuple[BotDashboard, str]) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 1500})
    opened = await context.new_page()
    await opened.goto(served[1])
    await opened.locator("#live.ok").wait_for(timeout=15_000)
    await opened.wait_for_function("document.querySelectorAll('.charts canvas').length === 4")
    try:
        yield opened
    finally:
        await context.close()


# 10,000 live states one second apart through the page's own appendLive (the SSE handler's
# step): the lengths and time span of every chart's series afterwards
_FEED_JS = """(t0) => {
  for (let i = 0; i < 10000; i++) {
    appendLive({ published_at: t0 + i, price: "2000", delta_base: "75", target_base: "-75",
      hedge_base: "-75", drift_base: String(i % 7 / 100), band_base: "0.75", pnl: { net: "1" } });
  }
  return Object.fromEntries(Object.entries(series).map(([key, cols]) => [key, {
    lengths: cols.map((c) => c.length), first: cols[0][0], last: cols[0][cols[0].length - 1],
    rendered: charts[key] ? charts[key].data[0].length : null }]));
}"""


async def _select_range(page: Any, value: str) -> None:
    """Select a range and wait until the page has reloaded its history for it."""
    await page.evaluate("() => { document.getElementById('decisions').dataset.value = ''; }")
    await page.select_option("#range", value)
    await page.locator("#decisions[data-value='0']").wait_for(state="attached", timeout=10_000)


async def test_live_points_stay_within_the_selected_range(page: Any) -> None:
    """Range 1 h: after 10,000 live states 1 s apart each chart holds the last hour only
    (3,601 points, the oldest 3,600 s before the newest), as drawn."""
    await _select_range(page, "1h")
    t0 = 1_800_000_000
    got = await page.evaluate(_FEED_JS, t0)
    newest = t0 + 9999
    for key, chart in got.items():
        assert set(chart["lengths"]) == {3601}, key
        assert (chart["first"], chart["last"]) == (newest - 3600, newest), key
        assert chart["rendered"] == 3601, key


async def test_live_points_are_capped_over_the_whole_range(page: Any) -> None:
    """Range all: 10,000 live states leave at most MAX_POINTS per chart, still spanning
    from the first seconds to the newest point."""
    await _select_range(page, "all")
    t0 = 1_800_000_000
    got = await page.evaluate(_FEED_JS, t0)
    for key, chart in got.items():
        (length,) = set(chart["lengths"])
        assert MAX_POINTS // 2 < length <= MAX_POINTS, key
        assert chart["first"] - t0 <= 2, key
        assert chart["last"] == t0 + 9999, key


async def test_a_huge_band_leaves_the_drift_readable_with_a_note(
    page: Any, served: tuple[BotDashboard, str], tmp_path: Path
) -> None:
    """Live states with band 1e30 and drift 0.05 (over the page's SSE stream): the drift
    chart's y axis spans the drift (±0.055), the note says the band lies beyond; a normal
    band is drawn whole and the note goes."""
    dashboard, _ = served
    now = time.time()
    for block in range(1, 4):
        dashboard.feed.publish_state(_state(block, now + block, "1e30", "0.05"))
    note = page.locator("#drift-note[data-clipped='1']")
    await note.wait_for(timeout=10_000)
    assert "1.0e+30" in str(await note.text_content())
    y = await page.evaluate("() => [charts.drift.scales.y.min, charts.drift.scales.y.max]")
    assert y == [pytest.approx(-0.055), pytest.approx(0.055)]
    await page.locator("#chart-drift").screenshot(path=str(tmp_path / "drift-huge-band.png"))
    await _select_range(page, "1h")  # history from the store (empty) replaces the live points
    for block in range(4, 7):
        dashboard.feed.publish_state(_state(block, now + block, "0.75", "0.05"))
    await page.locator("#block[data-value='6']").wait_for(timeout=10_000)
    assert await page.locator("#drift-note").get_attribute("data-clipped") == "0"
    assert await page.locator("#drift-note").text_content() == ""
    y = await page.evaluate("() => [charts.drift.scales.y.min, charts.drift.scales.y.max]")
    assert y == [pytest.approx(-0.825), pytest.approx(0.825)]


async def test_live_points_keep_time_order_and_the_historys_signs(
    page: Any, served: tuple[BotDashboard, str]
) -> None:
    """A live state stamped before the newest point is drawn in time order (never a line
    going back); its PnL costs (paid, positive on the wire) are drawn negative, as the
    history draws them, so the live line does not jump to the other side of zero."""
    dashboard, _ = served
    now = time.time()
    pnl = PnlParts(trading_fees=Decimal(75), slippage=Decimal(12), gas=Decimal(1), net=Decimal(5))
    dashboard.feed.publish_state(
        _state(1, now + 10, "0.75", "0.05").model_copy(update={"pnl": pnl})
    )
    dashboard.feed.publish_state(_state(2, now + 5, "0.75", "0.05").model_copy(update={"pnl": pnl}))
    await page.locator("#block[data-value='2']").wait_for(timeout=10_000)
    last_points = "() => ({ t: series.pnl[0], last: series.pnl.map((c) => c[c.length - 1]) })"
    got = await page.evaluate(last_points)
    assert got["t"] == sorted(got["t"])
    assert got["t"][-2:] == [pytest.approx(now + 5), pytest.approx(now + 10)]
    # lp_hold, il, lp_fees, hedge, funding, - trading fees, - slippage, - gas, net
    assert got["last"][1:] == [0, 0, 0, 0, 0, -75, -12, -1, 5]
