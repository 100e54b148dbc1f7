"""``hedgebot cmd`` checks a command's params with the bot's own schema before signing and
publishing (issue 11 review 7): ``set_hedge_ratio --param value=nan`` is exit 2 naming the
param, and nothing reaches the broker (an unreachable one here: reaching it would be exit 3)."""

from __future__ import annotations

import pytest

from bot.cli import main

pytestmark = pytest.mark.unit

NOWHERE = "mqtt://127.0.0.1:1"  # nothing listens: a command that got this far exits 3


@pytest.fixture(autouse=True)
def operator_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGEBOT_OPERATOR_KEY", "k" * 40)


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["set_hedge_ratio", "--param", "value=nan"], "params.value: must be a finite number"),
        (["set_hedge_ratio", "--param", "value=NaN"], "params.value: must be a finite number"),
        (["set_hedge_ratio", "--param", "value=1e309"], "params.value: must be a finite number"),
        (["set_hedge_ratio", "--param", "value=5"], "params.value: must be <= 3"),
        (["set_hedge_ratio"], "params.value: required"),
        (["set_threshold", "--param", "fraction=-Infinity"], "params.fraction: must be a finite"),
        (["pause", "--param", "x=1"], "params.x: unknown field"),
    ],
)
def test_params_the_bot_would_refuse_are_exit_2_and_never_sent(
    argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused locally, naming the param, before any broker connection."""
    code = main(["cmd", "b1", *argv, "--mqtt-url", NOWHERE, "--timeout", "1"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert f"cmd {argv[0]}: {reason}" in err
    assert err.endswith("(not sent)")
    assert "cannot reach" not in err


def test_valid_params_go_on_to_the_broker(capsys: pytest.CaptureFixture[str]) -> None:
    """value=0.8 passes the local check: the command goes on (here to an unreachable broker)."""
    code = main(["cmd", "b1", "set_hedge_ratio", "--param", "value=0.8", "--mqtt-url", NOWHERE])
    assert code == 3
    assert "cannot reach MQTT broker" in capsys.readouterr().err
