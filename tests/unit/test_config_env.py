"""A list or section given in the environment that is not JSON is a config mistake: exit 2
with one line naming the variable, never a pydantic-settings traceback (issue 18 review)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import EXIT_CONFIG, main

pytestmark = pytest.mark.unit

PAPER = str(Path(__file__).parents[2] / "config" / "paper.yaml")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HEDGEBOT_ALERTS__URLS", "ntfy://ntfy.sh/topic"),
        ("HEDGEBOT_CHAIN__RPC_URLS", "http://x"),
        ("HEDGEBOT_CHAIN__WS_URLS", "[unclosed"),
        ("HEDGEBOT_HEDGE", "ratio=2"),
    ],
)
@pytest.mark.parametrize("command", [["check-config", PAPER], ["run", "--config", PAPER]])
def test_a_non_json_list_in_the_env_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    command: list[str],
) -> None:
    """``check-config`` and ``run`` exit 2; stderr names the variable, never its value (it
    may be a secret URL), and carries no traceback."""
    monkeypatch.setenv(variable, value)
    assert main(command) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"{variable}: not JSON" in err
    assert value not in err
    assert "Traceback" not in err
    assert "SettingsError" not in err


def test_a_json_list_in_the_env_still_loads(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: the same variable written as JSON is taken."""
    monkeypatch.setenv("HEDGEBOT_CHAIN__RPC_URLS", '["http://node.example:8545"]')
    assert main(["check-config", PAPER]) == 0
    assert "node.example" in capsys.readouterr().out
