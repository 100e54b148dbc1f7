"""A notification URL apprise cannot send to is a config mistake at ``check-config`` and at
``run`` start (exit 2, the entry named, the URL masked), not an alert lost later (issue 18
review)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import EXIT_CONFIG, main
from bot.telemetry.notify import alert_url_problems
from bot.telemetry.notify_settings import AlertsSettings, AlertTarget

pytestmark = pytest.mark.unit

PAPER = str(Path(__file__).parents[2] / "config" / "paper.yaml")
GOOD = "ntfy://ntfy.sh/my-topic"


@pytest.mark.parametrize(
    ("urls", "line"),
    [
        (["tgram:/typo"], "alerts.urls.0: <url> is not a URL apprise can send to"),
        ([GOOD, "bogus://foo/bar"], "alerts.urls.1: bogus://… is not a URL apprise can send to"),
    ],
)
@pytest.mark.parametrize("command", [["check-config", PAPER], ["run", "--config", PAPER]])
def test_an_unusable_alert_url_exits_2_naming_its_entry(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    urls: list[str],
    line: str,
    command: list[str],
) -> None:
    """``check-config`` and ``run`` refuse it before anything starts; the URL's path (a
    token) is never printed."""
    monkeypatch.setenv("HEDGEBOT_ALERTS__URLS", json.dumps(urls))
    assert main(command) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert line in err
    assert "typo" not in err
    assert "foo/bar" not in err


def test_a_target_variable_holding_an_unusable_url_is_named() -> None:
    """A ``targets`` entry names its index and variable; good URLs pass."""
    settings = AlertsSettings(
        targets=[AlertTarget(url_env="HB_PHONE"), AlertTarget(url_env="HB_HOOK")]
    )
    environ = {"HB_PHONE": GOOD, "HB_HOOK": "tgram://"}
    assert alert_url_problems(settings, environ) == [
        "alerts.targets.1.url_env: HB_HOOK holds tgram://…, which is not a URL apprise can send to"
    ]
    assert alert_url_problems(settings, {**environ, "HB_HOOK": "json://127.0.0.1:9/h"}) == []


def test_a_usable_alert_url_passes_check_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: a URL apprise knows is accepted."""
    monkeypatch.setenv("HEDGEBOT_ALERTS__URLS", json.dumps([GOOD]))
    assert main(["check-config", PAPER]) == 0
    assert "OK" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("urls", "line"),
    [
        (["ntfy://"], "alerts.urls.0: ntfy://… names no topic"),
        ([GOOD, "json:///path"], "alerts.urls.1: <url> has nothing after scheme://"),
        (["json://h:99999/x"], "alerts.urls.0: <url> has a port outside 1-65535"),
        (["json://h:0/x"], "alerts.urls.0: json://h:0/… has a port outside 1-65535"),
        (["json://h/x json://h/y"], "alerts.urls.0: json://h/… holds whitespace"),
        (["json://h/x,json://h/y"], "alerts.urls.0: json://h/… is 2 URLs in one entry"),
    ],
)
def test_a_url_that_can_never_send_exits_2_naming_its_entry(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    urls: list[str],
    line: str,
) -> None:
    """Issue 18 review 2 item 5: apprise parses these, yet none can ever send (no topic, no
    host, no valid port, two targets in one entry): ``check-config`` exits 2 naming it."""
    monkeypatch.setenv("HEDGEBOT_ALERTS__URLS", json.dumps(urls))
    assert main(["check-config", PAPER]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert line in err
    assert "/path" not in err
    assert "/x" not in err


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_alert_url_exits_2_naming_its_entry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], blank: str
) -> None:
    """Issue 18 review 2 item 6: ``'[""]'`` (an unset shell variable) was accepted with alerts
    silently off; it is exit 2 like an unset ``url_env``."""
    monkeypatch.setenv("HEDGEBOT_ALERTS__URLS", json.dumps([GOOD, blank]))
    assert main(["check-config", PAPER]) == EXIT_CONFIG
    assert "alerts.urls.1: blank (entry 1 of HEDGEBOT_ALERTS__URLS" in capsys.readouterr().err


def test_a_url_given_twice_exits_2_naming_both_entries(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same URL twice (in the list, or in the list and a target's variable) would send
    every alert twice: exit 2 naming both entries."""
    hook = "json://127.0.0.1:9/hook-tok"
    monkeypatch.setenv("HEDGEBOT_ALERTS__URLS", json.dumps([hook, hook]))
    assert main(["check-config", PAPER]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "alerts.urls.1: the same URL as alerts.urls.0 (json://127.0.0.1:9/…)" in err
    assert "hook-tok" not in err
    settings = AlertsSettings(urls=[hook], targets=[AlertTarget(url_env="HB_HOOK")])
    assert alert_url_problems(settings, {"HB_HOOK": f" {hook} "}) == [
        "alerts.targets.0.url_env (HB_HOOK): the same URL as alerts.urls.0 "
        "(json://127.0.0.1:9/…): every alert would be sent twice; give it once"
    ]
