"""The CLI against a running `hedgebot localnet`: one daemon per bot, a snapshot that writes
nothing, and `check-config --online`.

Subprocesses as a user runs them (see test_daemon.py for the pattern); no MQTT, no metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.sim.mosquitto import free_port

pytestmark = pytest.mark.integration

HEDGEBOT = [sys.executable, "-m", "bot"]
EMPTY_OWNER = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture(scope="module")
async def localnet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Path]:
    """`hedgebot localnet` with a block (one simulated day of market) every 0.5 s."""
    out = tmp_path_factory.mktemp("guards-localnet")
    with (out / "localnet.log").open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            *HEDGEBOT,
            *("localnet", "--out", str(out), "--block-interval-s", "0.5"),
            *("--step-seconds", "86400"),
            stdout=log_file,
            stderr=log_file,
        )
    try:
        async with asyncio.timeout(90):
            while not (out / "localnet.json").exists():
                assert proc.returncode is None, (out / "localnet.log").read_text()
                await asyncio.sleep(0.1)
        yield out
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)


def write_config(localnet: Path, workdir: Path, **changes: Any) -> Path:
    """localnet's config with this test's store and venue in ``workdir``; ``changes`` are
    top-level sections replaced."""
    workdir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = yaml.safe_load((localnet / "config.yaml").read_text())
    config["bot_id"] = "guarded"
    config["store"] = {"path": str(workdir / "hedgebot.sqlite")}
    config["exchange"]["paper"]["state_path"] = str(workdir / "venue.json")
    config["logging"] = {"level": "info", "format": "json"}
    config["metrics"] = {"enabled": False}
    config.pop("mqtt", None)
    config.update(changes)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


async def hedgebot(*args: str, timeout_s: float = 60) -> tuple[int, str, str]:
    """Run a short CLI command; (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *HEDGEBOT, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def start_daemon(config: Path, log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MQTT_URL", None)
    with log.open("ab") as log_file:
        return await asyncio.create_subprocess_exec(
            *HEDGEBOT, "run", "--config", str(config), stdout=log_file, stderr=log_file, env=env
        )


def count(store: Path, sql: str) -> int:
    if not store.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        try:
            return int(db.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:  # schema not created yet
            return 0


async def until(condition: Any, timeout_s: float, what: str) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached in {timeout_s} s: {what}")


def fingerprint(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file in ``directory``: content hash and mtime (ns)."""
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


@contextlib.asynccontextmanager
async def running(config: Path, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await start_daemon(config, log)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def test_second_daemon_refused_naming_the_first(localnet: Path, tmp_path: Path) -> None:
    """A second `run` on the same config (or sharing only the venue state) exits non-zero
    naming the first (pid, host); the venue holds one order per decision of the first."""
    config = write_config(localnet, tmp_path / "a")
    store = tmp_path / "a" / "hedgebot.sqlite"
    async with running(config, tmp_path / "a" / "daemon.log") as first:
        await until(lambda: count(store, "SELECT COUNT(*) FROM intents") >= 2, 90, "2 orders")
        code, _, err = await hedgebot("run", "--config", str(config))
        assert code == 1, err
        assert "Traceback" not in err
        assert f"pid {first.pid} on host {socket.gethostname()}" in err
        assert f"store {store} is in use by another hedgebot" in err
        # another store, the same paper venue state file: refused on the venue's lock
        other = write_config(localnet, tmp_path / "b")
        shared = yaml.safe_load(other.read_text())
        shared["exchange"]["paper"]["state_path"] = str(tmp_path / "a" / "venue.json")
        other.write_text(yaml.safe_dump(shared))
        code, _, err = await hedgebot("run", "--config", str(other))
        assert code == 1, err
        assert f"paper venue state {tmp_path / 'a' / 'venue.json'} is in use" in err
        assert f"pid {first.pid}" in err
        assert first.returncode is None  # the first one is unaffected
        first.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(first.wait(), 30) == 0
    venue = json.loads((tmp_path / "a" / "venue.json").read_text())
    assert len(venue["orders"]) == count(store, "SELECT COUNT(*) FROM intents") >= 2
    # the lock went with the process: the same config starts again
    async with running(config, tmp_path / "a" / "daemon2.log") as again:
        await until(
            lambda: count(store, "SELECT COUNT(*) FROM decisions") > 0 and again.returncode is None,
            60,
            "restart ticks",
        )


async def test_snapshot_writes_nothing(localnet: Path, tmp_path: Path) -> None:
    """`snapshot` beside a (paused) daemon changes no file; in an empty directory it creates
    neither store nor venue state; a failed snapshot creates nothing either."""
    config = write_config(localnet, tmp_path / "d")
    workdir = tmp_path / "d"
    async with running(config, workdir / "daemon.log") as daemon:
        await until(lambda: (workdir / "venue.json").exists(), 60, "venue state written")
        decisions = "SELECT COUNT(*) FROM decisions"
        await until(lambda: count(workdir / "hedgebot.sqlite", decisions) > 0, 60, "a tick")
        daemon.send_signal(signal.SIGSTOP)  # holds its files still, and its locks
        try:
            before = fingerprint(workdir)
            code, out, err = await hedgebot("snapshot", "--config", str(config), "--json")
            assert code == 0, err
            assert json.loads(out)["block"] > 0
            assert fingerprint(workdir) == before
        finally:
            daemon.send_signal(signal.SIGCONT)
    fresh = write_config(localnet, tmp_path / "fresh")
    code, out, err = await hedgebot("snapshot", "--config", str(fresh), "--json")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "fresh").iterdir()) == ["config.yaml"]
    chain = {"rpc_urls": ["http://127.0.0.1:1"], "request_timeout_s": 1}
    failing = write_config(localnet, tmp_path / "failing", chain=chain)
    code, _, err = await hedgebot("snapshot", "--config", str(failing))
    assert code != 0
    assert sorted(p.name for p in (tmp_path / "failing").iterdir()) == ["config.yaml"]


async def test_check_config_online(localnet: Path, tmp_path: Path) -> None:
    """`check-config --online`: a good config exits 0; an owner holding nothing is a warning
    (exit 0); a token that is not the pool's is an error (exit 2)."""
    good = write_config(localnet, tmp_path / "good")
    code, _, err = await hedgebot("check-config", str(good), "--online")
    assert code == 0, err
    assert "OK online" in err
    data = yaml.safe_load(good.read_text())
    empty = dict(data, positions=[{**data["positions"][0], "owner": EMPTY_OWNER}])
    path = write_config(localnet, tmp_path / "empty", positions=empty["positions"])
    code, _, err = await hedgebot("check-config", str(path), "--online")
    assert code == 0, err
    assert "  warning positions.0" in err
    wrong_asset = {**data["hedge_asset"], "quote_token": EMPTY_OWNER}
    path = write_config(localnet, tmp_path / "wrong", hedge_asset=wrong_asset)
    code, _, err = await hedgebot("check-config", str(path), "--online")
    assert code == 2, err
    assert "  error hedge_asset" in err


async def test_same_bot_id_on_another_store_is_refused_naming_the_first(
    localnet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two configs with one bot_id but their own store and venue state: the second `run` exits
    non-zero naming the first (pid, host, config) and touches neither store; the venue holds
    one order per decision of the first (issue 12 follow-up, item 3)."""
    lock_dir = tmp_path / "locks"
    monkeypatch.setenv("HEDGEBOT_LOCK_DIR", str(lock_dir))
    first_config = write_config(localnet, tmp_path / "a")
    second_config = write_config(localnet, tmp_path / "b")
    store = tmp_path / "a" / "hedgebot.sqlite"
    async with running(first_config, tmp_path / "a" / "daemon.log") as first:
        await until(lambda: count(store, "SELECT COUNT(*) FROM intents") >= 2, 90, "2 orders")
        code, _, err = await hedgebot("run", "--config", str(second_config))
        assert code == 1, err
        assert "Traceback" not in err
        assert "bot id 'guarded' is in use by another hedgebot" in err
        assert f"pid {first.pid} on host {socket.gethostname()}" in err
        assert f"config {first_config}" in err
        assert not (tmp_path / "b" / "hedgebot.sqlite").exists()
        assert not (tmp_path / "b" / "venue.json").exists()
        assert first.returncode is None
        first.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(first.wait(), 30) == 0
    assert oct((lock_dir).stat().st_mode & 0o777) == "0o700"
    venue = json.loads((tmp_path / "a" / "venue.json").read_text())
    assert len(venue["orders"]) == count(store, "SELECT COUNT(*) FROM intents") >= 2


@pytest.mark.parametrize(
    ("flag", "env", "named"),
    [
        (False, True, "env MQTT_URL mqtt://127.0.0.1:1/…"),
        # the flag is refused at argument time (exit 2, masked), the env when the run starts
        (True, False, "argument --mqtt-url: mqtt://127.0.0.1:1/…"),
        (True, True, "argument --mqtt-url: mqtt://127.0.0.1:1/…"),  # the flag wins over the env
    ],
)
async def test_credentialed_broker_url_is_refused_naming_its_source_before_anything_starts(
    localnet: Path, tmp_path: Path, flag: bool, env: bool, named: str
) -> None:
    """`run` with user:pass@ in MQTT_URL or --mqtt-url: exit 2 naming where the URL came from,
    never the password; no metrics port bound, no store, lock or venue file created."""
    config = write_config(localnet, tmp_path / "w", metrics={"enabled": True, "port": 1})
    secret_url = "mqtt://bot:hunter2-secret@127.0.0.1:1"
    environ = {**os.environ, "MQTT_URL": "mqtt://plain-broker.invalid:1883"}
    if env:
        environ["MQTT_URL"] = secret_url
    args = ["run", "--config", str(config), "--metrics-port", str(free_port())]
    if flag:
        args += ["--mqtt-url", secret_url]
    proc = await asyncio.create_subprocess_exec(
        *HEDGEBOT,
        *args,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = (part.decode() for part in await asyncio.wait_for(proc.communicate(), 60))
    assert proc.returncode == 2, err
    assert f"{named}: credentials in the broker URL are not used" in err
    assert "hunter2" not in out + err
    assert "metrics.listening" not in out + err
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["config.yaml"]


async def test_snapshot_with_swapped_tokens_is_refused_like_run(
    localnet: Path, tmp_path: Path
) -> None:
    """base/quote exchanged: `snapshot` refuses at start naming the field, exit 2, no
    traceback (it printed `ValueError: price must be positive`), as `run` does."""
    data = yaml.safe_load((localnet / "config.yaml").read_text())
    asset = data["hedge_asset"]
    swapped = {**asset, "base_token": asset["quote_token"], "quote_token": asset["base_token"]}
    config = write_config(localnet, tmp_path / "s", hedge_asset=swapped)
    code, out, err = await hedgebot("snapshot", "--config", str(config))
    assert code == 2, err
    assert "Traceback" not in err
    assert "price must be positive" not in err
    assert f"hedge_asset.base_token: {asset['quote_token']} is " in err
    assert "base and quote are swapped" in err
    assert out == ""
    code, _, run_err = await hedgebot("run", "--config", str(config))
    assert code == 2
    assert "base and quote are swapped" in run_err
