"""``hedgebot status`` reads the venue without changing the account: its venue read starts the
adapter read-only (no leverage, no margin mode, no builder approval, no paper state written),
against the real ccxt ``binanceusdm`` client and the Binance emulator, whose admin state shows
the account's leverage and margin mode."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from emulator_support import API_KEY, API_SECRET, SYMBOL, running_emulator, venue_clock

from bot import errors
from bot.config import Settings
from bot.exchange.emulators.binance_usdm import EmulatorHandle
from bot.exchange.paper import PaperExchange, venue_params
from bot.exchange.read_only import start_for_reading
from bot.exchange.venue import SimVenue
from bot.status import _read_venue

pytestmark = pytest.mark.integration

POOL, BASE, QUOTE, OWNER = ("0x" + d * 40 for d in "abcd")


def settings(exchange: dict[str, Any], tmp_path: Path) -> Settings:
    """A bot configuration whose ``exchange`` section is ``exchange``."""
    return Settings.model_validate(
        {
            "chain": {"rpc_urls": ["http://127.0.0.1:1"]},
            "positions": [{"id": "a", "kind": "v2", "pool": POOL, "owner": OWNER}],
            "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
            "store": {"path": str(tmp_path / "s.sqlite")},
            "exchange": exchange,
        }
    )


async def admin_state(handle: EmulatorHandle) -> dict[str, Any]:
    """The emulator's admin state over HTTP, as an operator reads it."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{handle.url}/_emulator/state") as answer,
    ):
        state: dict[str, Any] = await answer.json()
    return state


async def test_status_leaves_leverage_and_margin_mode_as_they_were(tmp_path: Path) -> None:
    """The account is at 3x cross; the configuration asks 7x isolated. status reads the
    mark and the hedge and the account is still at 3x cross (a start would have set 7x
    isolated: the second half shows the emulator does take a start's settings)."""
    async with running_emulator(venue_clock()) as handle:
        handle.emulator.venue.margin_mode = "cross"
        before = await admin_state(handle)
        assert (before["leverage"], before["margin_mode"]) == (3, "cross")
        config = settings(
            {
                "kind": "ccxt",
                "exchange_id": "binanceusdm",
                "symbol": SYMBOL,
                "api_key": API_KEY,
                "api_secret": API_SECRET,
                "leverage": 7,
                "margin_mode": "isolated",
                "urls": handle.ccxt_urls(),
            },
            tmp_path,
        )
        venue = await _read_venue(config, Decimal(2000))
        assert (venue["mark_price"], venue["hedge_base"]) == (Decimal(2000), Decimal(0))
        after = await admin_state(handle)
        assert (after["leverage"], after["margin_mode"]) == (3, "cross")
        assert after["orders"] == 0
        from bot.app import build_exchange
        from bot.clock import WallClock

        started = build_exchange(config, WallClock())
        await started.start()
        await started.close()
        final = await admin_state(handle)
        assert (final["leverage"], final["margin_mode"]) == (7, "isolated")


async def test_paper_read_only_start_keeps_the_files_leverage_and_writes_nothing(
    tmp_path: Path,
) -> None:
    """A paper state file at 2x cross: the read-only start keeps 2x cross (start would
    apply the configured 5x isolated) and the file is byte for byte what it was."""
    config = settings(
        {"kind": "paper", "leverage": 5, "margin_mode": "isolated"}, tmp_path
    ).exchange
    state_path = tmp_path / "venue.json"
    writer = SimVenue(venue_params(config), venue_clock())
    writer.set_leverage(2)
    writer.margin_mode = "cross"
    state_path.write_text(json.dumps(writer.to_state()), encoding="utf-8")
    written = state_path.read_bytes()
    paper = PaperExchange(SimVenue(venue_params(config), venue_clock()), state_path)
    await start_for_reading(paper)
    paper.set_reference_price(Decimal(2100))
    position = await paper.position()
    await paper.quote()
    await paper.close()
    assert (position.leverage, paper.venue.margin_mode) == (2, "cross")
    assert state_path.read_bytes() == written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["venue.json"]  # noqa: ASYNC240


async def test_a_venue_without_a_read_only_start_is_not_started() -> None:
    """start_for_reading refuses a venue that has only the writing start (never falls back)."""

    class WritingOnly:
        started = False

        async def start(self) -> None:
            self.started = True

    venue = WritingOnly()
    with pytest.raises(errors.ExchangeError, match="no read-only start"):
        await start_for_reading(venue)  # type: ignore[arg-type]
    assert venue.started is False
