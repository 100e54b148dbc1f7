"""Numbers for people: market precision, no ``0E-18``/``-0``, 80 columns (snapshot, logs)."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
import structlog
from rich.console import Console

from bot.display import fmt_base, fmt_price, fmt_quote, pnl_contributions
from bot.logging import configure_logging
from bot.render import render_snapshot

pytestmark = pytest.mark.unit


def test_rounding_to_the_market() -> None:
    """Base to the venue step, quote to cents, prices to 6 significant digits; zero is 0."""
    assert fmt_base("75.038024498546075665", "0.001") == "75.038"
    assert fmt_base("-75.0385", Decimal("0.01")) == "-75.04"
    assert fmt_base("0E-18", "0.001") == "0.000"
    assert fmt_base("-0E-18", "0.001") == "0.000"
    assert fmt_base("-0.0000001", "0.001") == "0.000"
    assert fmt_quote("299848.4312") == "299,848.43"
    assert fmt_quote("-0.001") == "0.00"
    assert fmt_price("1997.976605299093799984") == "1997.98"
    assert fmt_price("0.0123456789") == "0.0123457"
    assert fmt_price("0E-18") == "0"


def test_costs_are_negative_contributions() -> None:
    """A cost of 80.87 enters as -80.87 under a label without a minus sign."""
    rows = pnl_contributions(
        {"trading_fees_quote": Decimal("80.87"), "funding_quote": Decimal("59.45")}
    )
    assert rows == [
        ("funding_quote", "funding", Decimal("59.45")),
        ("trading_fees_quote", "trading fees", Decimal("-80.87")),
    ]


SNAPSHOT = {
    "block": 12345678,
    "block_timestamp": 1_700_000_000,
    "price": "1997.976605299093799984",
    "mark_price": "1998.1234567",
    "positions": [
        {
            "id": "lp-v2",
            "kind": "v2",
            "amount_base": "75.038024498546075665",
            "amount_quote": "149922.123456",
            "value_quote": "299848.431234",
            "delta_base": "75.038024498546075665",
            "in_range": True,
        }
    ],
    "wallet_base": "0",
    "delta_base": "75.038024498546075665",
    "target_base": "-75.038024498546075665",
    "hedge_base": "-75.038",
    "drift_base": "-0E-18",
    "band_base": "0.75038024498546075665",
    "amount_step_base": "0.001",
    "decision": {
        "action": "rebalance",
        "reason": "band",
        "side": "sell",
        "amount_base": "75.038",
        "reduce_only": False,
    },
}


def test_snapshot_text_is_rounded_and_fits_80_columns() -> None:
    """The human snapshot shows 75.038 (the 0.001 step), 299,848.43, 1997.98, never 0E-18."""
    console = Console(file=io.StringIO(), record=True, width=80)
    render_snapshot(SNAPSHOT, console)
    text = console.export_text()
    for shown in ("75.038", "-75.038", "299,848.43", "1997.98", "1998.12", "sell 75.038"):
        assert shown in text
    assert "E-" not in text
    assert "-0.000" not in text
    assert "75.038024" not in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_console_log_lines_round_like_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    """Console log lines show base/quote/price values rounded; JSON lines stay exact."""
    log = structlog.get_logger("t")
    configure_logging("info", "console")
    log.info("tick.completed", drift_base="-0E-18", price="1997.976605299093799984")
    console_line = capsys.readouterr().err
    assert "drift_base=0.0000" in console_line
    assert "price=1997.98" in console_line
    configure_logging("info", "json")
    log.info("tick.completed", drift_base="-0E-18")
    assert json.loads(capsys.readouterr().err)["drift_base"] == "-0E-18"
