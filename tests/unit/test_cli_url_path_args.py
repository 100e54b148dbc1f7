"""URL and path arguments refused at argument time, each kind with its own check (issue 12
review 2 items 2, 4, 5): ``localnet --mqtt-url mqtt://u:pw@...`` was accepted, printed and
written into config.yaml; ``localnet --rpc-url mqtt://...`` passed and failed late; ``localnet
--out /dev/null`` was a FileExistsError traceback. Exit 2, one line naming the flag, nothing
written, no URL credential shown."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from bot import cli, cli_args

pytestmark = pytest.mark.unit

SECRET = "secretpw-7f3a"
CREDENTIALED = f"mqtt://u:{SECRET}@127.0.0.1:1883"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Nothing reachable; a regular file ``afile`` and a FIFO ``fifo`` to point paths at."""
    monkeypatch.setenv("MQTT_URL", "mqtt://127.0.0.1:1")
    monkeypatch.setenv("HEDGEBOT_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x\n")
    (tmp_path / "c.yaml").write_text("bot_id: never-started\n")
    os.mkfifo(tmp_path / "fifo")
    return tmp_path


# (argv, flag named, phrase of the reason); {d} is the test's directory
REFUSED: list[tuple[list[str], str, str]] = [
    (["localnet", "--out", "{d}/ln", "--mqtt-url", CREDENTIALED], "--mqtt-url", "credentials"),
    (["demo", "--mqtt-url", CREDENTIALED], "--mqtt-url", "credentials in the broker URL"),
    (["monitor", "--mqtt-url", CREDENTIALED], "--mqtt-url", "credentials in the broker URL"),
    (["localnet", "--out", "{d}/ln", "--mqtt-url", "http://h:1"], "--mqtt-url", "mqtt://"),
    (["localnet", "--out", "{d}/ln", "--mqtt-url", "ws://h:1"], "--mqtt-url", "mqtt://"),
    (
        ["localnet", "--out", "{d}/ln", "--rpc-url", "mqtt://127.0.0.1:1883"],
        "--rpc-url",
        "must be an RPC URL like scheme://host:port (scheme one of http, https, ws, wss)",
    ),
    (["localnet", "--out", "{d}/ln", "--rpc-url", "mqtts://h"], "--rpc-url", "an RPC URL"),
    (["localnet", "--out", "{d}/ln", "--rpc-url", "ftp://h"], "--rpc-url", "an RPC URL"),
    (["localnet", "--out", "/dev/null"], "--out", "/dev/null exists and is not a directory"),
    (["localnet", "--out", "{d}/afile"], "--out", "afile exists and is not a directory"),
    (["localnet", "--out", "{d}/afile/sub"], "--out", "afile, which is not a directory"),
    (["localnet", "--out", ""], "--out", "empty path"),
    (["demo", "--workdir", "/dev/null"], "--workdir", "exists and is not a directory"),
    (["demo", "--workdir", "{d}/afile/w"], "--workdir", "which is not a directory"),
    (["backtest", "--prices", "{d}"], "--prices", "is a directory, not a file"),
    (["backtest", "--prices", "{d}/missing.csv"], "--prices", "no such file"),
    (["backtest", "--prices", "{d}/fifo"], "--prices", "is not a regular file"),
    (["backtest", "--plot", "{d}"], "--plot", "is a directory, not a file"),
    (["backtest", "--plot", "/dev/null/x.png"], "--plot", "/dev/null, which is not a directory"),
    (["backtest", "--plot", "{d}/fifo"], "--plot", "is not a regular file"),
    (["report", "--config", "{d}/c.yaml", "--out", "{d}"], "--out", "is a directory, not a file"),
    (["report", "--config", "{d}"], "--config", "is a directory, not a config file"),
    (["kill", "--config", "{d}", "status"], "--config", "is a directory, not a config file"),
    (["store", "compact", "--config", "{d}"], "--config", "is a directory, not a config file"),
]


@pytest.mark.parametrize(("argv", "flag", "reason"), REFUSED, ids=lambda v: None)
def test_refused_url_or_path_exits_2_naming_the_flag(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    flag: str,
    reason: str,
) -> None:
    """exit 2, one stderr line 'argument FLAG: why', no secret shown, nothing created."""
    argv = [a.replace("{d}", str(workdir)) for a in argv]
    before = sorted(p.name for p in workdir.iterdir())
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    out, err = capsys.readouterr()
    assert exited.value.code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert f"argument {flag}: " in lines[0], lines[0]
    assert reason in lines[0], lines[0]
    assert SECRET not in out + err
    assert out == ""
    assert sorted(p.name for p in workdir.iterdir()) == before


def test_localnet_refuses_a_credentialed_mqtt_url_from_the_environment(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``$MQTT_URL`` with user:password@: exit 2 naming ``env MQTT_URL``, the URL masked, before
    anvil starts or --out is created (it was written into config.yaml and operator.env)."""
    monkeypatch.setenv("MQTT_URL", CREDENTIALED)
    code = cli.main(["localnet", "--out", str(workdir / "ln")])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "env MQTT_URL mqtt://127.0.0.1:1883/…: credentials in the broker URL" in err
    assert SECRET not in out + err
    assert not (workdir / "ln").exists()


@pytest.mark.parametrize(
    "value", ["http://127.0.0.1:8545", "https://node.example/v2/KEY", "ws://h:8546", "wss://h"]
)
def test_rpc_urls_of_every_rpc_scheme_pass(value: str) -> None:
    """http, https, ws and wss are RPC schemes; the sweep leaves them be."""
    assert cli_args.rpc_url(value) == value
    cli_args.check_namespace(argparse.Namespace(rpc_url=value))


@pytest.mark.parametrize("value", ["mqtt://127.0.0.1:1883", "mqtts://broker.example:8883"])
def test_broker_urls_pass_and_are_no_rpc_urls(value: str) -> None:
    """mqtt and mqtts are broker schemes: accepted for --mqtt-url, refused for --rpc-url."""
    assert cli_args.broker_url(value) == value
    cli_args.check_namespace(argparse.Namespace(mqtt_url=value))
    with pytest.raises(argparse.ArgumentTypeError, match="an RPC URL"):
        cli_args.rpc_url(value)


@pytest.mark.parametrize(
    ("argv", "dest"),
    [
        (["localnet", "--out", "{d}/new/deeper"], "out"),
        (["localnet", "--out", "{d}"], "out"),
        (["backtest", "--plot", "{d}/charts/p.png"], "plot"),
        (["backtest", "--plot", "/dev/null"], "plot"),
        (["report", "--config", "{d}/c.yaml", "--out", "{d}/afile"], "out"),
    ],
)
def test_usable_paths_pass_the_check(workdir: Path, argv: list[str], dest: str) -> None:
    """A directory to create (parents too) or that exists, a file to create or replace, and a
    character device to discard into are fine."""
    from bot.cli_paths import path_problem

    parser = cli.build_parser()
    args = parser.parse_args([a.replace("{d}", str(workdir)) for a in argv])
    assert path_problem(args) is None
    assert getattr(args, dest)
