"""The README's two-terminal workflow, run as a person types it: ``hedgebot localnet``, then in
other shells ``set -a; . DIR/operator.env; set +a`` and ``hedgebot run``, ``hedgebot
monitor`` and ``hedgebot cmd BOT pause``, with no extra flags."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from bot.sim.mosquitto import Broker

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
PYTHON = shlex.quote(sys.executable)


def shell(env_file: Path, command: str) -> list[str]:
    """``command`` in a bash that loaded ``env_file`` as the README says (hedgebot = -m bot)."""
    line = f"set -a; . {shlex.quote(str(env_file))}; set +a; exec {PYTHON} -m bot {command}"
    return ["bash", "-c", line]


def base_env(broker: Broker) -> dict[str, str]:
    """This process's env without an operator key; the broker where localnet looks first."""
    env = {k: v for k, v in os.environ.items() if k != "HEDGEBOT_OPERATOR_KEY"}
    return {**env, "MQTT_URL": f"mqtt://{broker.host}:{broker.port}", "PYTHONUNBUFFERED": "1"}


async def run(argv: list[str], env: dict[str, str], timeout_s: float = 60) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=ROOT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def stop(proc: asyncio.subprocess.Process) -> str:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return (out or b"").decode(errors="replace")


@pytest.fixture
async def localnet(mqtt_broker: Broker, tmp_path: Path) -> AsyncIterator[Path]:
    """Terminal 1: ``hedgebot localnet --out DIR`` (a block a second) until the test ends."""
    out = tmp_path / "localnet"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "localnet",
        "--out",
        str(out),
        "--block-interval-s",
        "1",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=base_env(mqtt_broker),
        cwd=ROOT,
    )
    try:
        async with asyncio.timeout(120):
            while not (out / "localnet.json").exists():
                assert proc.returncode is None, "localnet exited early"
                await asyncio.sleep(0.2)
        yield out
    finally:
        text = await stop(proc)
        assert proc.returncode == 0, text[-2000:]


async def test_readme_two_terminal_workflow(localnet: Path, mqtt_broker: Broker) -> None:
    """localnet writes an MQTT section for the reachable broker, a unique bot id and an
    operator.env (0600); run, monitor and cmd pause then work without extra flags, the
    monitor shows the bot online, then paused, with an age from the bot's own clock."""
    config = yaml.safe_load((localnet / "config.yaml").read_text())
    bot_id = config["bot_id"]
    assert re.fullmatch(r"local-[0-9a-f]{6}", bot_id)
    assert config["mqtt"]["url"] == f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}"
    env_file = localnet / "operator.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    env_text = env_file.read_text()
    assert re.search(r"^HEDGEBOT_OPERATOR_KEY=[0-9a-f]{64}$", env_text, re.M)
    assert f"MQTT_URL=mqtt://{mqtt_broker.host}:{mqtt_broker.port}" in env_text

    env = {k: v for k, v in base_env(mqtt_broker).items() if k != "MQTT_URL"}
    daemon = await asyncio.create_subprocess_exec(
        *shell(env_file, f"run --config {shlex.quote(str(localnet / 'config.yaml'))}"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        frame = ""
        async with asyncio.timeout(90):
            # the online status can reach the monitor before the first tick's state
            # (block shown as "-", unknown): wait for a row with the bot's block
            while not re.search(rf"^{bot_id}\s+online\s+\d", frame, re.M):
                assert daemon.returncode is None, "the daemon exited"
                _, frame = await run(shell(env_file, "monitor --once --duration 1.5"), env)
        row = next(line for line in frame.splitlines() if line.startswith(bot_id)).split()
        _, _, block, chain_time, age = row[:5]
        assert int(block) > 0
        assert re.fullmatch(r"\d\d:\d\d", chain_time)  # the block's chain time, apart
        assert re.fullmatch(r"\d+s", age)
        assert int(age[:-1]) < 30  # published_at against now, not the block's chain time
        assert all(len(line) <= 80 for line in frame.splitlines())

        code, said = await run(shell(env_file, f"cmd {bot_id} pause"), env)
        assert code == 0, said
        assert "ok: pause applied" in said

        async with asyncio.timeout(30):
            while not re.search(rf"^{bot_id}\s+paused\s", frame, re.M):
                _, frame = await run(shell(env_file, "monitor --once --duration 1.5"), env)
    finally:
        text = await stop(daemon)
    assert daemon.returncode == 0, text[-2000:]
