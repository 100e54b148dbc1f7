"""Alerts to people, the pure part: severities, rate limit, daily summary timing, URL masking
and the settings that keep URLs in the environment."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from bot.errors import ConfigError
from bot.telemetry.alert_rules import (
    DailySummary,
    Notice,
    RateLimiter,
    guard_of,
    notice_for,
    severity_of,
    subject_of,
)
from bot.telemetry.notify import mask_notify_url
from bot.telemetry.notify_settings import AlertsSettings

pytestmark = pytest.mark.unit

MIDNIGHT = datetime(2026, 3, 1, tzinfo=UTC).timestamp()


def test_kinds_and_severities() -> None:
    """Trips keep the engine's name, clears become <rule>.cleared (info); other events: none."""
    trip = notice_for("b", "alert", {"alert": "risk.margin_critical", "message": "m"}, 1.0)
    clear = notice_for("b", "alert", {"alert": "risk.cleared", "rule": "margin_critical"}, 2.0)
    assert trip is not None
    assert clear is not None
    assert (trip.kind, trip.severity) == ("risk.margin_critical", "critical")
    assert (clear.kind, clear.severity) == ("risk.margin_critical.cleared", "info")
    assert notice_for("b", "decision", {"action": "hold"}, 1.0) is None
    exited = notice_for("b", "range.exited", {"position": "p"}, 1.0)
    assert exited is not None
    assert exited.severity == "warning"
    assert exited.body == "position: p"


def test_peer_text_in_a_body_is_escaped_and_bounded() -> None:
    """An error carrying ESC sequences or 100 KB reaches people escaped and short."""
    notice = notice_for(
        "b", "alert", {"alert": "order.rejected", "error": "\x1b[2J" + "x" * 10**5}, 1
    )
    assert notice is not None
    assert "\x1b" not in notice.body
    assert len(notice.body) < 1_100  # 1,000 characters and the "…(+N chars)" marker


def test_rate_limit_by_kind_on_the_clock() -> None:
    """One per kind per interval; another kind is not held; the next one says how many."""
    limiter = RateLimiter(60)
    note = Notice("k", "warning", "t", "b", 0)
    assert limiter.admit(note) is note
    assert limiter.admit(Notice("k", "warning", "t", "b", 59)) is None
    assert limiter.admit(Notice("other", "warning", "t", "b", 59)) is not None
    later = limiter.admit(Notice("k", "warning", "t", "b", 60))
    assert later is not None
    assert later.body.endswith("(1 more of this kind held back by the rate limit)")


def test_the_subject_of_an_alert_is_its_chain_venue_or_position() -> None:
    """chain.* by ``chain`` or the notice's ``entries`` (wire: a list), venue.* by ``venue``,
    position.* and range.* by ``position``; other families and alerts naming nothing have none."""
    assert subject_of("chain.unreadable", {"entries": ["base"], "detail": "d"}) == "base"
    assert subject_of("chain.readable", {"chain": "arb", "entries": ["x"]}) == "arb"
    assert subject_of("venue.authentication_refused", {"venue": "bybit"}) == "bybit"
    assert subject_of("position.duplicate", {"entries": ["a", "b"]}) == "a,b"
    assert subject_of("range.exited", {"position": "lp-1", "block": 9}) == "lp-1"
    assert subject_of("position.unreadable", {"error": "revert"}) == ""
    assert subject_of("risk.margin_warn", {"venue": "bybit", "entries": ["a"]}) == ""
    hostile = subject_of("venue.unreadable", {"venue": "\x1b" + "v" * 200})
    assert hostile == "\\x1b" + "v" * 79 + "…(+121 chars)"
    notice = notice_for("b", "alert", {"alert": "chain.unreadable", "entries": ["base"]}, 1.0)
    assert notice is not None
    assert (notice.subject, notice.key) == ("base", "chain.unreadable@base")
    trip = notice_for("b", "alert", {"alert": "risk.stale_block"}, 1.0)
    assert trip is not None
    assert (trip.subject, trip.key) == ("", "risk.stale_block")


def test_rate_limit_by_kind_and_subject() -> None:
    """The same kind about another subject is not held; the same subject is, and its next
    notice counts only its own held-back ones."""
    limiter = RateLimiter(300)
    assert limiter.admit(Notice("chain.unreadable", "critical", "t", "a", 0, "a")) is not None
    assert limiter.admit(Notice("chain.unreadable", "critical", "t", "b", 10, "b")) is not None
    assert limiter.admit(Notice("chain.unreadable", "critical", "t", "a", 20, "a")) is None
    assert limiter.suppressed == {"chain.unreadable@a": 1}
    later = limiter.admit(Notice("chain.unreadable", "critical", "t", "a", 300, "a"))
    assert later is not None
    assert later.subject == "a"
    assert later.body == "a\n(1 more of this kind held back by the rate limit)"
    again_b = limiter.admit(Notice("chain.unreadable", "critical", "t", "b", 310, "b"))
    assert again_b is not None
    assert again_b.body == "b"


def test_daily_summary_is_due_at_the_utc_time_and_splits_pnl() -> None:
    """Due at 08:00 UTC (not before), then the next day; PnL parts are the change since the
    last summary; filled orders count as rebalances."""
    summary = DailySummary(time(8, 0), started=MIDNIGHT + 3600)
    summary.observe_state({"pnl": {"hedge": "10", "funding": "1", "net": "5"}, "delta_base": "3"})
    summary.observe_event("order", {"filled_base": "0.5"})
    summary.observe_event("order", {"filled_base": "0"})
    assert summary.take_if_due("b", MIDNIGHT + 8 * 3600 - 1) is None
    summary.observe_state({"pnl": {"hedge": "12.5", "funding": "4", "net": "9"}})
    notice = summary.take_if_due("b", MIDNIGHT + 8 * 3600)
    assert notice is not None
    assert notice.kind == "daily.summary"
    lines = notice.body.splitlines()
    assert "rebalances: 1" in lines
    assert "hedge: 2.50" in lines
    assert "funding: 3.00" in lines
    assert "net: 4.00" in lines
    assert summary.take_if_due("b", MIDNIGHT + 20 * 3600) is None
    assert summary.take_if_due("b", MIDNIGHT + 32 * 3600) is not None


def test_notification_urls_are_masked_and_come_from_env() -> None:
    """Webhook URLs show scheme+host; token-hosted services only the scheme; a missing env
    variable is named, never a value."""
    assert mask_notify_url("json://127.0.0.1:8080/hook/SECRET") == "json://127.0.0.1:8080/…"
    assert mask_notify_url("tgram://123456:SECRET/42") == "tgram://…"
    assert mask_notify_url("discord://id/SECRET") == "discord://…"
    settings = AlertsSettings(
        urls=["json://h/SECRET"], targets=[{"url_env": "TG", "min_severity": "critical"}]
    )
    with pytest.raises(ConfigError, match=r"alerts.targets.0.url_env: TG is not set"):
        settings.resolve({})
    resolved = settings.resolve({"TG": "tgram://123:SECRET/1"})
    assert [(r.url, r.min_severity) for r in resolved] == [
        ("json://h/SECRET", "info"),  # the default: trips and their clears (was warning)
        ("tgram://123:SECRET/1", "critical"),
    ]
    assert "SECRET" not in repr(settings)
    with pytest.raises(ValueError, match="daily_summary_utc"):
        AlertsSettings(daily_summary_utc="24:00")


def test_by_default_every_url_gets_clears_and_the_summary() -> None:
    """Clears, re-entries and the daily summary are info, and info is the default filter of
    both HEDGEBOT_ALERTS__URLS and a target; a target can still raise it."""
    settings = AlertsSettings(urls=["json://h/a"], targets=[{"url_env": "B"}])
    resolved = settings.resolve({"B": "json://h/b"})
    assert [r.min_severity for r in resolved] == ["info", "info"]
    assert {severity_of(k) for k in ("risk.kill_switch_freeze.cleared", "daily.summary")} == {
        "info"
    }
    raised = AlertsSettings(targets=[{"url_env": "B", "min_severity": "warning"}])
    assert [r.min_severity for r in raised.resolve({"B": "json://h/b"})] == ["warning"]


@pytest.mark.parametrize(
    ("alert", "severity"),
    [("chain.unreadable", "critical"), ("chain.readable", "info"), ("chain.reorg", "warning")],
)
def test_chain_alerts_of_a_multichain_bot(alert: str, severity: str) -> None:
    """A chain of several unreadable stops trading (critical); readable again is info; a
    replaced block of another chain is a warning; the body names the chain (its detail)."""
    data = {"alert": alert, "block": 7, "detail": "chain l2: connection refused", "entries": ["l2"]}
    notice = notice_for("b", "alert", data, 1.0)
    assert notice is not None
    assert (notice.kind, notice.severity) == (alert, severity)
    assert "detail: chain l2: connection refused" in notice.body
    assert severity_of(alert) == severity


@pytest.mark.parametrize(
    ("trip", "clear"),
    [
        ("risk.margin_critical", "risk.margin_critical.cleared"),
        ("range.exited", "range.entered"),
        ("position.unreadable", "position.readable"),
        ("chain.unreadable", "chain.readable"),
    ],
)
def test_a_change_of_state_is_never_held_and_held_ones_of_the_old_state_are_dropped(
    trip: str, clear: str
) -> None:
    """Trip, trip (held), clear, trip, clear within one window: every change goes out; the
    clear counts the held trip and the held trip is never released after it."""
    limiter = RateLimiter(300)
    assert limiter.admit(Notice(trip, "critical", "t", "1", 0, "s")) is not None
    assert limiter.admit(Notice(trip, "critical", "t", "2", 5, "s")) is None
    cleared = limiter.admit(Notice(clear, "info", "t", "c", 10, "s"))
    assert cleared is not None
    assert cleared.body == f"c\n(1 more {trip} before this held back by the rate limit)"
    assert limiter.admit(Notice(trip, "critical", "t", "3", 20, "s")) is not None
    assert limiter.admit(Notice(clear, "info", "t", "c2", 30, "s")) is not None
    assert limiter.due(10_000) == []
    assert limiter.suppressed == {}
    # another subject's guard is its own
    assert limiter.admit(Notice(trip, "critical", "t", "o", 40, "other")) is not None
    assert guard_of(clear) == (trip, True)
    assert guard_of(trip) == (trip, False)


def test_held_back_notices_are_released_when_their_window_ends() -> None:
    """The newest held one is released at the window's end, stamped then, with the count;
    not before."""
    limiter = RateLimiter(60)
    assert limiter.admit(Notice("order.rejected", "warning", "t", "a", 0)) is not None
    assert limiter.admit(Notice("order.rejected", "warning", "t", "b", 10)) is None
    assert limiter.admit(Notice("order.rejected", "warning", "t", "c", 20)) is None
    assert limiter.due(59) == []
    (released,) = limiter.due(60)
    assert (released.body, released.ts) == (
        "c\n(2 of this kind held back by the rate limit, the newest shown)",
        60,
    )
    assert limiter.due(1_000) == []
    assert limiter.admit(Notice("order.rejected", "warning", "t", "d", 100)) is None
    (at_stop,) = limiter.due(101, everything=True)
    assert at_stop.body.startswith("d\n(1 of this kind")
