"""``hedgebot snapshot`` and ``hedgebot plan`` read the venue without changing the account:
both start it read-only (``bot.exchange.read_only.start_for_reading``), so leverage and
margin mode stay what they were. Real anvil with the session's V2 pool, the real ccxt
``binanceusdm`` client against the Binance emulator, whose admin state is the witness."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from emulator_support import API_KEY, API_SECRET, SYMBOL, running_emulator, venue_clock
from test_status_read_only import admin_state

from bot.app import take_snapshot
from bot.config import Settings
from bot.exchange.emulators.binance_usdm import EmulatorHandle
from bot.planner_cli import make_plan
from bot.sim.deploy import LocalDeployment

pytestmark = pytest.mark.integration


def settings(d: LocalDeployment, handle: EmulatorHandle, tmp_path: Path) -> Settings:
    """The LP's V2 share hedged on the emulator, configured 7x isolated."""
    data: dict[str, Any] = {
        "chain": {
            "rpc_urls": [d.rpc_url],
            "multicall": d.multicall,
            "max_block_age_s": 10 * 365 * 86400,
        },
        "positions": [{"id": "lp", "kind": "v2", "pool": d.pair, "owner": d.lp_account}],
        "hedge_asset": {"base_token": d.base_token, "quote_token": d.quote_token},
        "store": {"path": str(tmp_path / "store.sqlite")},
        "exchange": {
            "kind": "ccxt",
            "exchange_id": "binanceusdm",
            "symbol": SYMBOL,
            "api_key": API_KEY,
            "api_secret": API_SECRET,
            "leverage": 7,
            "margin_mode": "isolated",
            "urls": handle.ccxt_urls(),
        },
    }
    return Settings.model_validate(data)


async def test_snapshot_and_plan_leave_leverage_and_margin_mode_as_they_were(
    fresh_chain: LocalDeployment, tmp_path: Path
) -> None:
    """The account is at 3x cross, the configuration asks 7x isolated: after a snapshot and
    a plan that both read the venue's mark, the account is still 3x cross, with no order."""
    async with running_emulator(venue_clock()) as handle:
        handle.emulator.venue.margin_mode = "cross"
        before = await admin_state(handle)
        assert (before["leverage"], before["margin_mode"]) == (3, "cross")
        config = settings(fresh_chain, handle, tmp_path)

        snapshot = await take_snapshot(config)
        assert Decimal(snapshot["mark_price"]) == Decimal(2000)
        assert Decimal(snapshot["hedge_base"]) == 0
        after_snapshot = await admin_state(handle)
        assert (after_snapshot["leverage"], after_snapshot["margin_mode"]) == (3, "cross")

        plan = await make_plan(config, sigma=0.8, days=1)
        assert plan.funding.source == "venue quote"  # the venue was read, not the fallback
        after_plan = await admin_state(handle)
        assert (after_plan["leverage"], after_plan["margin_mode"]) == (3, "cross")
        assert after_plan["orders"] == 0
    assert not (tmp_path / "store.sqlite").exists()
