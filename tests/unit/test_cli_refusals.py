"""Every refused command-line argument is exit 2 with one line naming it, before the command
runs: nothing is published, written or connected to (issue 12 review 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import cli

pytestmark = pytest.mark.unit

DEEP = "[" * 5000 + "]" * 5000
NESTED = {"fleet", "store"}  # commands whose first word is followed by a subcommand

# (argv, the flag named, a phrase of the reason)
REFUSED: list[tuple[list[str], str, str]] = [
    (["cmd", "b1", "pause", "--timeout", "-1"], "--timeout", "must be seconds > 0"),
    (["cmd", "b1", "pause", "--timeout", "0"], "--timeout", "must be seconds > 0"),
    (["cmd", "b1", "pause", "--timeout", "nan"], "--timeout", "must be seconds > 0"),
    (["cmd", "b1", "pause", "--timeout", "inf"], "--timeout", "must be seconds > 0"),
    (["cmd", "b1", "pause", "--timeout", "1e9"], "--timeout", "at most 604800"),
    (["cmd", "b1", "set_hedge_ratio", "--param", "=1"], "--param", "expects key=value"),
    (["cmd", "b1", "set_hedge_ratio", "--param", "value"], "--param", "expects key=value"),
    (["cmd", "b1", "set_hedge_ratio", "--param", "a b=1"], "--param", "must be a name"),
    (["cmd", "b1", "set_hedge_ratio", "--param", f"value={DEEP}"], "--param", "too long"),
    (
        ["cmd", "b1", "set_hedge_ratio", "--param", "v=" + "[" * 100 + "]" * 100],
        "--param",
        "deeper",
    ),
    (["cmd", "b1", "set_hedge_ratio", "--param", "v=" + "9" * 5000], "--param", "too long"),
    (["cmd", "b1", "pause", "--mqtt-url", "ftp://h"], "--mqtt-url", "must start with mqtt://"),
    (["monitor", "--once", "--duration", "-5"], "--duration", "must be seconds > 0"),
    (["monitor", "--duration", "0"], "--duration", "must be seconds > 0"),
    (["monitor", "--prefix", "+"], "--prefix", "without + #"),
    (["fleet", "status", "--stale-after", "-1"], "--stale-after", "must be seconds > 0"),
    (["fleet", "status", "--stale-after", "inf"], "--stale-after", "must be seconds > 0, finite"),
    (["fleet", "status", "--prefix", ""], "--prefix", "must be non-empty"),
    (["dashboard", "--port", "-1"], "--port", "must be a port"),
    (["dashboard", "--port", "70000"], "--port", "must be a port"),
    (["dashboard", "--host", "http://x/"], "--host", "must be a host name"),
    (["report", "--config", "{cfg}", "--since", "garbage"], "--since", "only with --store-url"),
    (["report", "--config", "{cfg}", "--bot", "nosuch"], "--bot", "only with --store-url"),
    (["report", "--config", "{cfg}", "--pg-schema", "x"], "--pg-schema", "only with --store-url"),
    (["report", "--store-url", "postgresql://u@h/d", "--since", "garbage"], "--since", "give a"),
    (["report", "--store-url", "postgresql://u@h/d", "--since", "1e999"], "--since", "finite"),
    (["report", "--store-url", "postgresql://u@h/d", "--bot", "a/b"], "--bot", "not a bot id"),
    (["report", "--store-url", "postgresql://u@h/d", "--out", "x.png"], "--out", "only with"),
    (["report", "--store-url", "postgresql://u@h/d", "--config", "{cfg}"], "--config", "not both"),
    (["run", "--config", "{cfg}", "--metrics-port", "99999"], "--metrics-port", "port"),
    (["run", "--config", "{cfg}", "--store-retries", "-1"], "--store-retries", ">= 0"),
    (["demo", "--blocks", "0"], "--blocks", ">= 1"),
    (["demo", "--sigma", "nan"], "--sigma", "finite"),
    (["localnet", "--out", "x", "--block-interval-s", "-1"], "--block-interval-s", "> 0"),
    (
        ["emulator", "--port", "1", "--api-key", "k", "--api-secret", "s", "--mark-price", "-1"],
        "--mark-price",
        "> 0",
    ),
]


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No broker, store or key reachable: were a command to run, it could touch nothing."""
    monkeypatch.setenv("MQTT_URL", "mqtt://127.0.0.1:1")
    monkeypatch.delenv("HEDGEBOT_OPERATOR_KEY", raising=False)
    monkeypatch.setenv("HEDGEBOT_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text("bot_id: never-started\n")
    return config


@pytest.mark.parametrize(("argv", "flag", "reason"), REFUSED, ids=lambda v: None)
def test_refused_argument_exits_2_naming_it(
    isolated: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    flag: str,
    reason: str,
) -> None:
    """exit 2, one stderr line '<hedgebot COMMAND>: error: argument FLAG: why' (named as
    argparse's own refusals name it; it read 'hedgebot:'), nothing on stdout, no file
    written."""
    argv = [str(isolated) if a == "{cfg}" else a for a in argv]
    before = sorted(p.name for p in isolated.parent.iterdir())
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    out, err = capsys.readouterr()
    assert exited.value.code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    command = argv[:2] if argv[0] in NESTED else argv[:1]
    assert lines[0].startswith(f"hedgebot {' '.join(command)}: error: "), lines[0]
    assert f"argument {flag}: " in lines[0], lines[0]
    assert reason in lines[0], lines[0]
    assert out == ""
    assert sorted(p.name for p in isolated.parent.iterdir()) == before


@pytest.mark.parametrize(
    "pair", ["value=0.8", "confirm=true", "reason=operator drill", "x=[1, 2]", "s=not json {"]
)
def test_good_params_pass(pair: str) -> None:
    """A number, a flag, free text (sent as a string) and a small list are accepted."""
    from bot.cli_commands import param_problem

    assert param_problem(pair) is None
