"""The alerts that halt trading, or say the account is not what the bot made it, reach people
as critical, and the refused key's notice names the venue."""

from __future__ import annotations

import pytest

from bot.events import Alert
from bot.telemetry.alert_rules import notice_for, severity_of

pytestmark = pytest.mark.unit


def test_halting_and_mismatch_alerts_are_critical() -> None:
    """order.illegal_answer, position.mismatch and venue.authentication_refused: critical;
    order.rejected (a refusal the bot goes on after) stays a warning."""
    for kind in ("order.illegal_answer", "position.mismatch", "venue.authentication_refused"):
        assert severity_of(kind) == "critical", kind
    assert severity_of("order.rejected") == "warning"


def test_the_refused_key_notice_names_the_venue_and_the_cause() -> None:
    """The engine's alert as published: title critical, body with the venue and the text."""
    alert = Alert.of(
        "venue.authentication_refused",
        block=7,
        venue="hyperliquid",
        message="hyperliquid: authentication refused; trading halted until an operator "
        "fixes the key and resumes",
        error="AuthenticationError: hyperliquid: User or API Wallet 0xab does not exist.",
        action="halted",
    )
    notice = notice_for("b1", "alert", alert.data(), 1.0)
    assert notice is not None
    assert notice.title == "hedgebot b1: venue.authentication_refused (critical)"
    assert "venue: hyperliquid" in notice.body.splitlines()
    assert "authentication refused" in notice.body
    assert "does not exist" in notice.body
