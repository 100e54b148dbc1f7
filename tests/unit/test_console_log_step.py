"""Console log lines round base amounts to the venue's step once the market is known, as
``status`` does (issue 17: the log showed 4 decimals where status showed the step's 3)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import structlog

from bot.logging import configure_logging, set_console_base_step

pytestmark = pytest.mark.unit


def test_console_base_amounts_follow_the_venue_step(capsys: pytest.CaptureFixture[str]) -> None:
    """4 decimals until the step is known, then the step's (0.001: 3); quote and price
    unchanged; a new configuration forgets the step; JSON lines stay exact."""
    log = structlog.get_logger("t")
    configure_logging("info", "console")
    log.info("tick.completed", hedge_base="-75.038024498", price="1997.976605")
    assert "hedge_base=-75.0380" in capsys.readouterr().err
    set_console_base_step(Decimal("0.001"))
    log.info("tick.completed", hedge_base="-75.038024498", pnl_quote="12.346", price="1997.9766")
    line = capsys.readouterr().err
    assert "hedge_base=-75.038 " in line + " "
    assert "hedge_base=-75.0380" not in line
    assert "pnl_quote=12.35" in line
    assert "price=1997.98" in line
    configure_logging("info", "console")
    log.info("tick.completed", hedge_base="-75.038024498")
    assert "hedge_base=-75.0380" in capsys.readouterr().err
    configure_logging("info", "json")
    set_console_base_step(Decimal("0.001"))
    log.info("tick.completed", hedge_base="-75.038024498")
    assert json.loads(capsys.readouterr().err)["hedge_base"] == "-75.038024498"
