"""The bot page's positions table in headless Chromium against a real `hedgebot run` on a V3
`hedgebot localnet` (issue 18 item 1): with the market stopped, the row shows the chain, the
pool the localnet deployed (short, the whole address in its title), the range's edge prices at
the position's ticks with a bar marking the price, in/out of range, and the same amounts,
delta and fees as `snapshot --json` at that block."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from daemon_support import Bot, Proc, start_bot, until
from position_view_support import cli_json, decisions, pool_localnet

from bot.core.v3 import tick_to_price
from bot.sim.mosquitto import Broker

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
async def v3_localnet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Path, Proc]]:
    """`hedgebot localnet --pool-kind v3`, a market swap every 0.5 s."""
    async with pool_localnet(tmp_path_factory.mktemp("positions-localnet"), "v3") as started:
        yield started


@pytest.fixture(scope="module")
async def v3_bot(
    v3_localnet: tuple[Path, Proc], mqtt_broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Bot]:
    """One daemon hedging the localnet's V3 position."""
    prefix = f"hedgebot-positions/{uuid.uuid4().hex[:8]}"
    started = await start_bot(
        v3_localnet[0], tmp_path_factory.mktemp("positions-bot"), "pos1", mqtt_broker, prefix
    )
    try:
        yield started
    finally:
        await started.proc.stop()


async def _cell(row: Any, cls: str, attribute: str = "data-value") -> str:
    return str(await row.locator(f"td.{cls}").get_attribute(attribute))


async def test_the_positions_row_shows_what_snapshot_shows(
    browser: Any, v3_bot: Bot, v3_localnet: tuple[Path, Proc], tmp_path: Path
) -> None:
    """Market stopped: chain, pool, range edges (tick_to_price at the snapshot's ticks), the
    price's place on the bar, in range, amounts, delta and fees equal `snapshot --json`."""
    out, localnet = v3_localnet
    contracts = json.loads((out / "localnet.json").read_text())["contracts"]
    context = await browser.new_context(viewport={"width": 1400, "height": 1200})
    try:
        page = await context.new_page()
        await page.goto(v3_bot.url)
        await page.locator("#live.ok").wait_for(timeout=15_000)
        await until(lambda: decisions(v3_bot) >= 3, 60, "ticks")
        localnet.proc.send_signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(1.5)  # the swap in flight is mined and ticked
            snapshot = await cli_json("snapshot", "--config", str(v3_bot.config), "--json")
            await page.locator(f"#block[data-value='{snapshot['block']}']").wait_for(timeout=10_000)
            (snap,) = snapshot["positions"]
            row = page.locator(f"#positions tr[data-id='{snap['id']}']")
            await row.wait_for(timeout=5_000)
            await page.screenshot(path=str(tmp_path / "bot-positions.png"), full_page=True)
            assert await _cell(row, "chain") == snap["chain"]
            assert await row.locator("td.chain").text_content() == snap["chain"]
            pool = contracts["pool"]
            assert await _cell(row, "pool") == pool
            assert await _cell(row, "pool", "title") == pool
            assert await row.locator("td.pool").text_content() == f"{pool[:6]}…{pool[-4:]}"
            edges = sorted(
                tick_to_price(
                    tick,
                    base_is_token0=contracts["base_is_token0"],
                    base_decimals=contracts["base_decimals"],
                    quote_decimals=contracts["quote_decimals"],
                )
                for tick in (snap["tick_lower"], snap["tick_upper"])
            )
            assert Decimal(await _cell(row, "range", "data-lower")) == edges[0]
            assert Decimal(await _cell(row, "range", "data-upper")) == edges[1]
            where = Decimal(await _cell(row, "range", "data-where"))
            price = Decimal(snapshot["price"])
            assert abs(where - (price - edges[0]) / (edges[1] - edges[0])) < Decimal(
                "1e-15"
            )  # snapshot price: 18 places
            assert await row.locator("td.range .rangebar .mark").count() == 1
            in_range = snap["in_range"]
            assert await _cell(row, "in-range") == ("true" if in_range else "false")
            shown = await row.locator("td.in-range").text_content()
            assert shown == ("in range" if in_range else "OUT of range")
            for cls, name in (
                ("base", "amount_base"),
                ("quote", "amount_quote"),
                ("value", "value_quote"),
                ("delta", "delta_base"),
            ):
                shown_value = Decimal(await _cell(row, cls)).quantize(Decimal("1e-18"))
                assert shown_value == Decimal(snap[name]), name  # snapshot: 18 places
            assert Decimal(await _cell(row, "fees", "data-base")) == Decimal(snap["fees_base"])
            assert Decimal(await _cell(row, "fees", "data-quote")) == Decimal(snap["fees_quote"])
            assert " / " in str(await row.locator("td.fees").text_content())
        finally:
            localnet.proc.send_signal(signal.SIGCONT)
    finally:
        await context.close()
