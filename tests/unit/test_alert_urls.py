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
        "alerts.targets.1.url_env: HB_HOOK holds tgram://…, not a URL apprise can send to"
    ]
    assert alert_url_problems(settings, {**environ, "HB_HOOK": "json://127.0.0.1:9/h"}) == []


def test_a_usable_alert_url_passes_check_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: a URL apprise knows is accepted."""
    monkeypatch.setenv("HEDGEBOT_ALERTS__URLS", json.dumps([GOOD]))
    assert main(["check-config", PAPER]) == 0
    assert "OK" in capsys.readouterr().err
