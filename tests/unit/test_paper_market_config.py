"""``exchange.paper.market_data``: paper trading on a live venue's public data, configured in
YAML or env; absent, the offline default; bad fields named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.app import build_exchange
from bot.clock import ManualClock
from bot.config import load_config
from bot.errors import ConfigError
from bot.exchange.paper import PaperExchange

pytestmark = pytest.mark.unit

ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
POOL, BASE, QUOTE = ("0x" + digit * 40 for digit in "abc")
BASE_CONFIG = {
    "bot_id": "t1",
    "chain": {"rpc_urls": ["http://127.0.0.1:8545"]},
    "positions": [{"id": "lp1", "kind": "v2", "pool": POOL, "owner": ADDR}],
    "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
    "hedge": {"ratio": "1.0", "threshold_base": "0.05"},
}


def config_with(tmp_path: Path, paper: dict[str, object]) -> Path:
    path = tmp_path / "c.yaml"
    data = {**BASE_CONFIG, "exchange": {"kind": "paper", "paper": paper}}
    path.write_text(yaml.safe_dump(data))
    return path


def test_market_data_builds_a_paper_venue_on_live_data(tmp_path: Path) -> None:
    """``market_data: {exchange_id, symbol}`` gives the paper venue a live market reader for
    that symbol; the pool price then does not move its mark."""
    path = config_with(
        tmp_path, {"market_data": {"exchange_id": "hyperliquid", "symbol": "ETH/USDC:USDC"}}
    )
    settings = load_config(path)
    market = settings.exchange.paper.market_data
    assert market is not None
    assert (market.exchange_id, market.symbol, market.book_depth) == (
        "hyperliquid",
        "ETH/USDC:USDC",
        20,
    )
    venue = build_exchange(settings, ManualClock())
    assert isinstance(venue, PaperExchange)
    assert venue.market is not None
    assert venue.market.source == "hyperliquid ETH/USDC:USDC"
    mark = venue.venue.quote().mark_price
    venue.set_reference_price(mark * 2)
    assert venue.venue.quote().mark_price == mark


def test_without_market_data_the_mark_follows_the_pool(tmp_path: Path) -> None:
    """Absent ``market_data`` is the offline default: the mark is the pool price (+ basis)."""
    settings = load_config(config_with(tmp_path, {}))
    assert settings.exchange.paper.market_data is None
    venue = build_exchange(settings, ManualClock())
    assert isinstance(venue, PaperExchange)
    assert venue.market is None
    venue.set_reference_price(venue.venue.quote().mark_price * 2)
    assert venue.venue.quote().mark_price == 4000


def test_env_sets_market_data_and_bad_fields_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The env override reaches market_data; a missing exchange id and a depth of 0 are
    named errors."""
    monkeypatch.setenv("HEDGEBOT_EXCHANGE__PAPER__MARKET_DATA__EXCHANGE_ID", "binanceusdm")
    market = load_config(config_with(tmp_path, {})).exchange.paper.market_data
    assert market is not None
    assert (market.exchange_id, market.symbol) == ("binanceusdm", None)
    monkeypatch.delenv("HEDGEBOT_EXCHANGE__PAPER__MARKET_DATA__EXCHANGE_ID")
    with pytest.raises(ConfigError) as info:
        load_config(config_with(tmp_path, {"market_data": {"book_depth": 0}}))
    text = str(info.value)
    assert "exchange.paper.market_data.exchange_id: required" in text
    assert "exchange.paper.market_data.book_depth" in text
