"""``hedgebot demo --exchange hyperliquid``: the whole demo through the real ccxt hyperliquid
client against the Hyperliquid emulator ends where the paper venue's run does, with fees
that differ only by the venues' taker fees."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import load_config
from bot.report import load_report
from bot.sim.demo import DemoOptions, run_demo
from bot.store import open_store

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

    await written_config_is_what_ran(tmp_path / "hyperliquid", hl)
    paper_config = load_config(tmp_path / "paper" / "config.yaml", require_secrets=False)
    assert (paper_config.exchange.kind, paper_config.exchange.paper.taker_fee_bps) == (
        "paper",
        PAPER_TAKER_BPS,
    )


async def written_config_is_what_ran(workdir: Path, summary: dict[str, object]) -> None:
    """The work dir's config names ccxt hyperliquid against the (then running) emulator with
    Hyperliquid's fees, the agent key left out (env only), and its store reports the run."""
    config = load_config(workdir / "config.yaml", require_secrets=False)
    exchange = config.exchange
    assert (exchange.kind, exchange.exchange_id, exchange.symbol) == (
        "ccxt",
        "hyperliquid",
        "ETH/USDC:USDC",
    )
    assert exchange.sandbox
    assert exchange.urls["public"].startswith("http://127.0.0.1:")
    assert exchange.wallet_address is not None
    assert exchange.api_secret is None
    assert (exchange.paper.taker_fee_bps, exchange.paper.funding_interval_s) == (HL_TAKER_BPS, 3600)
    assert exchange.missing_secrets()  # status says "no key", never reads another venue
    store = await open_store(config, read_only=True)
    try:
        report = await load_report(store)
    finally:
        await store.close()
    assert report is not None
    pnl = summary["pnl"]
    assert isinstance(pnl, dict)
    net = Decimal(report.summary()["net_pnl_quote"])
    assert abs(net - Decimal(pnl["net_pnl_quote"])) <= Decimal("1e-10")
