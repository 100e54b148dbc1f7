"""``hedgebot demo`` as a person runs it in a terminal (a pty on stderr): readable progress, no
JSON log lines, a summary whose report command runs as printed, and nothing left behind."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import shlex
import subprocess
import sys
from pathlib import Path

import aiomqtt
import pytest

from bot.sim.mosquitto import Broker

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
HEDGEBOT = [sys.executable, "-m", "bot"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def run_in_terminal(
    args: list[str], env: dict[str, str], timeout_s: float = 240
) -> tuple[str, str]:
    """Run ``hedgebot args`` with stderr on a pty (a terminal) and stdout piped; the stderr
    text without terminal escapes, and stdout."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*HEDGEBOT, *args], stdout=subprocess.PIPE, stderr=slave, env=env, cwd=ROOT
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    out, _ = proc.communicate(timeout=timeout_s)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return ANSI.sub("\n", b"".join(chunks).decode(errors="replace")), out.decode()


def cell(text: str, label: str) -> str:
    """The value cell of the table row whose label cell is ``label``."""
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        if len(cells) == 2 and cells[0] == label:
            return cells[1]
    raise AssertionError(f"no row {label!r} in:\n{text}")


def demo_env(broker: Broker, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HEDGEBOT_OPERATOR_KEY"}
    return {**env, "MQTT_URL": f"mqtt://{broker.host}:{broker.port}", "TMPDIR": str(tmp)}


async def retained(broker: Broker, topics: list[str]) -> dict[str, bytes]:
    """The retained messages on ``topics`` (empty payloads are none)."""
    seen: dict[str, bytes] = {}
    async with aiomqtt.Client(broker.host, broker.port, timeout=5) as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(1.5):
                async for message in client.messages:
                    payload = message.payload
                    if message.retain and isinstance(payload, bytes) and payload:
                        seen[str(message.topic)] = payload
        except TimeoutError:
            pass
    return seen


async def test_demo_in_a_terminal_reads_like_a_product(mqtt_broker: Broker, tmp_path: Path) -> None:
    """In a terminal the demo shows progress lines (no JSON), puts its JSON logs in
    WORKDIR/demo.log, names the metrics URL it served, prints a report command that runs as
    printed with the same net PnL, and clears its retained messages from the broker."""
    workdir = tmp_path / "my demo"  # a space: the printed command must quote it
    err, out = await asyncio.to_thread(
        run_in_terminal,
        ["demo", "--config", "config/demo.yaml", "--blocks", "30", "--workdir", str(workdir)],
        demo_env(mqtt_broker, tmp_path),
    )
    lines = [line for line in err.splitlines() if line.strip()]
    assert not [line for line in lines if line.lstrip().startswith("{")]
    progress = [line for line in lines if re.match(r"^[* ] block +\d+ price", line)]
    assert len(progress) >= 10
    assert any(line.startswith("*") for line in progress)  # the opening rebalance
    assert all(len(line) <= 80 for line in progress)
    assert f"work dir: {workdir}" in err

    log_lines = (workdir / "demo.log").read_text().splitlines()
    assert log_lines
    events = [json.loads(line) for line in log_lines]
    listening = next(e for e in events if e["event"] == "metrics.listening")
    assert f"metrics:   http://127.0.0.1:{listening['port']}/metrics" in out
    assert f"dashboard: http://127.0.0.1:{listening['port']}/" in out
    assert f"work dir:  {workdir} (kept)" in out
    assert all(len(line) <= 80 for line in out.splitlines() if "│" in line)
    assert "E-" not in out

    command = next(line for line in out.splitlines() if line.startswith("report:"))
    argv = shlex.split(command.removeprefix("report:"))
    assert argv[0] == "hedgebot"
    done = await asyncio.to_thread(
        subprocess.run, [*HEDGEBOT, *argv[1:]], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert cell(done.stdout, "net PnL") == cell(out, "PnL: net")
    assert cell(done.stdout, "trading fees") == cell(out, "PnL: trading fees")
    assert cell(done.stdout, "trading fees").startswith("-")  # a cost: one sign convention

    left = await retained(mqtt_broker, ["hedgebot/demo/status", "hedgebot/demo/state"])
    assert left == {}


async def test_demo_without_workdir_leaves_no_temporary_dirs(
    mqtt_broker: Broker, tmp_path: Path
) -> None:
    """Without --workdir the demo's temporary work dir is removed at exit (and it says so);
    with --log-format json the logs are JSON lines on stderr instead of a file."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = await asyncio.create_subprocess_exec(
        *HEDGEBOT,
        "demo",
        "--blocks",
        "5",
        "--log-format",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=demo_env(mqtt_broker, tmp),
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "(removed at exit)" in out.decode()
    assert "rerun with --workdir DIR" in out.decode()
    assert list(tmp.iterdir()) == []
    json_lines = [line for line in err.decode().splitlines() if line.startswith("{")]
    assert json_lines
    assert all("event" in json.loads(line) for line in json_lines)
