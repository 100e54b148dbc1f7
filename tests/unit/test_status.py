"""``hedgebot status``: the trading state from the store's records, a missing store, and the
screen's unknowns (``hedge: unknown (no key)``, never 0) in 80 columns."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from bot.chain.rpc import checksum
from bot.cli import main
from bot.config import Settings
from bot.core.killswitch import KillSwitchState
from bot.core.operator import OperatorState, TradingState
from bot.status import _pool_of
from bot.status_render import render_status
from bot.status_trading import guard_effect, trading_summary, tripped_guards

pytestmark = pytest.mark.unit

POOL, BASE, QUOTE, OWNER = ("0x" + d * 40 for d in "abcd")
NPM_A, NPM_B = ("0x" + d * 40 for d in "ef")


def test_pool_of_a_discovered_position_names_its_nft() -> None:
    """A discovered position ``<entry>-<token id>`` names its NFT; the longest entry id
    wins (``lp-b-7``: NFT 7 of ``lp-b``, not of ``lp``), a listed id before a discovered one; a
    pool entry names its pool; an id no entry has, a non-numeric suffix, or a suffix on an
    entry that does not discover, is None. (An entry ``lp-2`` beside a discovering ``lp`` is
    refused by the config: ``tests/unit/test_config_position_identity.py``.)"""
    found = {"kind": "v3", "owner": OWNER, "discover": True}
    settings = Settings(
        chain={"rpc_urls": ["http://127.0.0.1:8545"]},
        positions=[
            {"id": "lp", "position_manager": NPM_A, **found},
            {"id": "lp-b", "position_manager": NPM_B, **found},
            {"id": "nft", "kind": "v3", "position_manager": NPM_A, "token_id": 9},
            {"id": "v2", "kind": "v2", "pool": POOL, "owner": OWNER},
        ],
        hedge_asset={"base_token": BASE, "quote_token": QUOTE},
    )
    npm_a, npm_b, pool = checksum(NPM_A), checksum(NPM_B), checksum(POOL)
    assert _pool_of(settings, "lp-7") == f"{npm_a}#7"
    assert _pool_of(settings, "lp-b-7") == f"{npm_b}#7"
    assert _pool_of(settings, "nft") == f"{npm_a}#9"
    assert _pool_of(settings, "v2") == pool
    for unknown in ("lp-", "lp-x", "lp-\u00b2", "other-7", "nft-3", "v2-1"):
        assert _pool_of(settings, unknown) is None, unknown


def test_tripped_guards_replay_trips_and_clears() -> None:
    """``risk.<rule>`` trips (first time kept), ``risk.cleared`` clears; other alerts ignored."""
    alerts = [
        {"alert": "risk.daily_loss", "ts": 10.0, "message": "lost 12", "blocks_trading": False},
        {"alert": "order.rejected", "ts": 11.0},
        {"alert": "risk.stale_block", "ts": 12.0, "message": "old", "blocks_trading": True},
        {"alert": "risk.daily_loss", "ts": 13.0, "message": "again"},
        {"alert": "risk.cleared", "ts": 14.0, "rule": "stale_block"},
    ]
    assert tripped_guards(alerts) == [
        {"name": "daily_loss", "since": 10.0, "detail": "lost 12", "blocks_trading": False}
    ]


@pytest.mark.parametrize(
    ("rule", "effect"),
    [
        ("margin_warn", TradingState.ACTIVE),
        ("margin_critical", TradingState.REDUCING),
        ("funding_spike", TradingState.REDUCING),
        ("daily_loss", TradingState.HALTED),
        ("stale_block", TradingState.HALTED),
    ],
)
def test_guard_effect(rule: str, effect: TradingState) -> None:
    """A warning restricts nothing, an emergency rule reduces, a data/order guard halts."""
    assert guard_effect(rule) is effect


def test_trading_summary_is_the_strictest_with_every_reason() -> None:
    """Operator pause + kill flatten + a margin guard: halted, reasons in the state's words."""
    state, reasons = trading_summary(
        OperatorState(trading_state=TradingState.HALTED),
        KillSwitchState("flatten", "drill", 1.0, "cli"),
        [{"name": "margin_critical"}, {"name": "kill_switch_flatten"}, {"name": "margin_warn"}],
    )
    assert state is TradingState.HALTED
    assert reasons == ["paused by operator", "kill switch flatten (cli)", "guard margin_critical"]
    active, none = trading_summary(OperatorState(), KillSwitchState(), [])
    assert (active, none) == (TradingState.ACTIVE, [])


def test_missing_store_is_a_clear_error_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No store at the configured path: exit 1 naming it; no store, venue or flag file."""
    config = tmp_path / "c.yaml"
    store = tmp_path / "var" / "s.sqlite"
    config.write_text(
        yaml.safe_dump(
            {
                "chain": {"rpc_urls": ["http://127.0.0.1:1"]},
                "positions": [{"id": "a", "kind": "v2", "pool": POOL, "owner": OWNER}],
                "hedge_asset": {"base_token": BASE, "quote_token": QUOTE},
                "store": {"path": str(store)},
                "exchange": {"kind": "ccxt", "exchange_id": "binanceusdm"},
            }
        )
    )
    assert main(["status", "--config", str(config)]) == 1
    assert f"no store at {store}" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["c.yaml"]


def _status(**live: Any) -> dict[str, Any]:
    """A status as read_status returns it for a V3 position, the venue not read (no key)."""
    body: dict[str, Any] = {
        "bot_id": "bot-1",
        "now": 1_700_000_100.0,
        "chain_error": None,
        "venue_error": "no key",
        "chain_id": 1,
        "block": 19_000_000,
        "positions": [
            {
                "id": "lp-main",
                "kind": "v3",
                "pool": "0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640",
                "range_lower": "2812.345678",
                "range_upper": "3433.1",
                "price": "3100.123456789",
                "where": "46 %",
                "in_range": True,
                "value_quote": "1000000",
                "delta_base": "171.123456789",
            }
        ],
        "mark_price": None,
        "funding_rate": None,
        "amount_step_base": None,
        "delta_base": "171.123456789",
        "target_base": "-171.123456789",
        "hedge_ratio": "1",
        "hedge_base": None,
        "drift_base": None,
        "band_base": None,
        "last_hedge_base": "-170.5",
        "pnl": {"net_since_start_quote": "-1234.5678", "net_today_quote": "0E-18"},
        "last_tick": {"block": 18_999_990, "at": 1_700_000_000.0, "age_s": 100.0},
        "trading": {
            "state": "active",
            "reasons": [],
            "operator": "active",
            "operator_since": None,
            "operator_cause": None,
            "kill_switch": {"mode": "off", "reason": None, "source": None, "since": None},
            "guards_tripped": [],
        },
        "endpoints": {
            "mqtt_url": "mqtt://broker",
            "mqtt_topics": "hedgebot/bot-1/(status|state|events)",
            "metrics_url": "http://127.0.0.1:9108/metrics",
            "healthz_url": "http://127.0.0.1:9108/healthz",
        },
    }
    body.update(live)
    return body


def _screen(status: dict[str, Any]) -> str:
    console = Console(file=io.StringIO(), record=True, width=80)
    render_status(status, console)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    return text


def test_no_key_shows_the_hedge_unknown_never_zero() -> None:
    """Without venue keys the hedge, drift and margin are unknown (no key), the last tick's
    hedge is labelled as such, and no 0E-18 is printed."""
    text = _screen(_status())
    assert "hedge unknown (no key); last tick -170.5000" in text
    assert "drift unknown (no key)" in text
    assert "mark, funding, margin: unknown (no key)" in text
    assert "0E-18" not in text
    assert "net PnL today 0.00   since start -1,234.57" in text
    assert "2812.3-3433.1" in text  # the range, prices to significant digits
    assert "3100.12   46 %" in text
    assert "last tick: block 18999990, 100s ago" in text


def test_halted_by_a_guard_shows_why_and_since() -> None:
    """A tripped guard and a kill switch each get a line with the time they started."""
    trading = {
        "state": "halted",
        "reasons": ["kill switch freeze (file)", "guard daily_loss"],
        "operator": "active",
        "operator_since": None,
        "operator_cause": None,
        "kill_switch": {"mode": "freeze", "reason": "drill", "source": "file", "since": 1.7e9},
        "guards_tripped": [{"name": "daily_loss", "since": 1_700_000_040.0, "detail": "x"}],
    }
    text = _screen(_status(trading=trading))
    assert "trading HALTED: kill switch freeze (file); guard daily_loss" in text
    assert "  kill switch freeze (file): drill since 11-14 22:13:20 UTC (100s ago)" in text
    assert "  guard daily_loss since 11-14 22:14:00 UTC (60s ago)" in text
