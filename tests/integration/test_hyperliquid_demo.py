"""``hedgebot demo --exchange hyperliquid``: the whole demo through the real ccxt hyperliquid
client against the Hyperliquid emulator ends where the paper venue's run does, with fees
that differ only by the venues' taker fees."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.sim.demo import DemoOptions, run_demo

pytestmark = pytest.mark.integration

PAPER_TAKER_BPS = Decimal(5)  # config/demo.yaml's paper venue (VenueParams default)
HL_TAKER_BPS = Decimal("4.5")  # hyperliquid_venue_params(): Hyperliquid's base tier


async def test_hyperliquid_demo_matches_the_paper_run(tmp_path: Path) -> None:
    """Same seed and blocks: no tick error, the same final hedge (to the coarser step, the
    paper venue's 0.001), the same slippage, and trading fees in the ratio 4.5 / 5."""
    runs = {}
    for venue in ("paper", "hyperliquid"):
        runs[venue] = await run_demo(
            DemoOptions(
                blocks=40,
                seed=7,
                exchange=venue,
                workdir=tmp_path / venue,
                quiet=True,
                config=Path(__file__).parents[2] / "config/demo.yaml",
            )
        )
    paper, hl = runs["paper"], runs["hyperliquid"]
    assert hl["exchange"] == "hyperliquid"
    assert (hl["errors"], paper["errors"]) == (0, 0)
    assert hl["rebalances"] == paper["rebalances"] >= 1
    hedge_gap = abs(Decimal(hl["final_hedge_base"]) - Decimal(paper["final_hedge_base"]))
    assert hedge_gap <= Decimal("0.001")
    assert Decimal(hl["pnl"]["slippage_quote"]) == Decimal(paper["pnl"]["slippage_quote"])
    paper_fees, hl_fees = Decimal(paper["fees_quote"]), Decimal(hl["fees_quote"])
    assert abs(hl_fees - paper_fees * HL_TAKER_BPS / PAPER_TAKER_BPS) <= Decimal("0.01")
