"""Acceptance in a real terminal (issue 17): ``hedgebot status`` and ``hedgebot monitor`` typed
into a tmux pane 80 columns wide (send-keys, capture-pane) against a running localnet daemon.
Numbers are visible and not cut, and the trading state shows after a tripped risk guard and
after ``hedgebot kill freeze``. Run alone with ``pytest -m terminal``; ``make test`` installs
tmux when it is missing (scripts/ensure-tmux.sh)."""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml
from mqtt_support import mqtt_broker as mqtt_broker  # a session fixture
from test_localnet_workflow import ROOT, base_env, localnet, run, shell, stop

from bot.sim.mosquitto import Broker

pytestmark = [pytest.mark.integration, pytest.mark.terminal]

assert localnet  # a fixture, imported for use here

WIDTH = 80
PYTHON = shlex.quote(sys.executable)


class Pane:
    """One tmux server of its own (a private socket) with one pane ``WIDTH`` columns wide."""

    def __init__(self) -> None:
        self.socket = f"hedgebot-test-{uuid.uuid4().hex[:8]}"
        self._tmux("new-session", "-d", "-s", "t", "-x", str(WIDTH), "-y", "60", "-c", str(ROOT))

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return done.stdout

    def type(self, line: str) -> None:
        """Type ``line`` and Enter, as a person would."""
        self._tmux("send-keys", "-t", "t", line, "Enter")

    def interrupt(self) -> None:
        self._tmux("send-keys", "-t", "t", "C-c")

    def screen(self) -> str:
        """What the pane shows now (trailing blanks cut)."""
        return self._tmux("capture-pane", "-p", "-t", "t")

    async def wait_for(self, pattern: str, timeout_s: float = 60) -> str:
        """The screen once ``pattern`` (a regex, multiline) is on it."""
        async with asyncio.timeout(timeout_s):
            while not re.search(pattern, screen := self.screen(), re.M):  # noqa: ASYNC110 - polls tmux
                await asyncio.sleep(0.3)
        return screen

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False, timeout=10)


@pytest.fixture
def pane() -> Iterator[Pane]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: run scripts/ensure-tmux.sh (make test does)")
    terminal = Pane()
    try:
        yield terminal
    finally:
        terminal.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def daemon(localnet: Path, mqtt_broker: Broker) -> AsyncIterator[tuple[Path, str]]:
    """``hedgebot run`` on the localnet config, with a risk guard that trips once hedged
    (liquidation closer than 80 % of the mark is critical: reduce) and metrics on a free
    port; yields (config, bot id) once the daemon has ticked."""
    config_path = localnet / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["risk"] = {
        "liquidation_warn_distance_pct": 90,
        "liquidation_critical_distance_pct": 80,
        "critical_action": "reduce",
    }
    config["metrics"] = {"port": _free_port()}
    config_path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in base_env(mqtt_broker).items() if k != "MQTT_URL"}
    proc = await asyncio.create_subprocess_exec(
        *shell(localnet / "operator.env", f"run --config {shlex.quote(str(config_path))}"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    store = Path(config["store"]["path"])
    try:
        async with asyncio.timeout(90):
            while not store.exists():  # noqa: ASYNC240 - written by the daemon
                assert proc.returncode is None, "the daemon exited"
                await asyncio.sleep(0.3)
        yield config_path, str(config["bot_id"])
    finally:
        text = await stop(proc)
    assert proc.returncode == 0, text[-2000:]


def _typed(env_file: Path, command: str) -> str:
    """The line a person types in a shell of the repository (hedgebot = python -m bot)."""
    env = shlex.quote(str(env_file))
    return f"clear; (set -a; . {env}; set +a; {PYTHON} -m bot {command}); echo '<done>'"


def _fits(screen: str) -> None:
    lines = screen.splitlines()
    assert all(len(line) <= WIDTH for line in lines)
    assert not any(line.rstrip().endswith("…") for line in lines)  # nothing cut


async def test_status_and_monitor_in_80_columns(
    daemon: tuple[Path, str], pane: Pane, mqtt_broker: Broker
) -> None:
    """status and monitor in an 80-column tmux pane: every number visible; the state reads
    reducing with the margin guard tripped, then halted after ``kill freeze``."""
    config, bot_id = daemon
    env_file = config.parent / "operator.env"
    status = _typed(env_file, f"status --config {shlex.quote(str(config))}")

    async with asyncio.timeout(120):  # hedged, then the margin guard trips
        screen = ""
        while "guard margin_critical" not in screen:
            pane.type(status)
            screen = await pane.wait_for(r"^<done>$")
    _fits(screen)
    assert re.search(r"^trading REDUCING: .*guard margin_critical", screen, re.M), screen
    assert re.search(r"^  guard margin_critical since \d\d-\d\d \d\d:\d\d:\d\d UTC", screen, re.M)
    assert re.search(r"lp-v2 v2\s+0x\w{4}…\w{4}\s+full\s+\d+\.\d+\s+full\s+\d+\.\d{3}", screen)
    assert re.search(r"^delta \d+\.\d{3}\s+target -\d+\.\d{3}\s+\(ratio 1\)$", screen, re.M)
    assert re.search(r"^hedge -?\d+\.\d{3}$", screen, re.M)
    assert re.search(r"^drift -?\d+\.\d{3} / band \d+\.\d{3}", screen, re.M)
    assert re.search(r"^mark \d+\.\d+\s+funding 0\.0100 % per interval$", screen, re.M)
    assert re.search(
        r"^margin ratio \d+\.\d\d %, liquidation \d+\.?\d* \(\d+\.\d % away\)$", screen, re.M
    )
    assert re.search(
        r"^net PnL today [+-]?[\d,]+\.\d\d\s+since start [+-]?[\d,]+\.\d\d", screen, re.M
    )
    assert re.search(r"^last tick: block \d+, \d+s ago$", screen, re.M)
    assert re.search(r"^daemon: running \(pid \d+", screen, re.M)
    assert re.search(
        rf"^MQTT mqtt://127\.0\.0\.1:{mqtt_broker.port}\s+hedgebot/{bot_id}/", screen, re.M
    )
    assert re.search(r"^metrics http://127\.0\.0\.1:\d+/metrics$", screen, re.M)

    kill = f"kill --config {shlex.quote(str(config))} freeze"
    code, said = await run(shell(env_file, kill), base_env(mqtt_broker))
    assert code == 0, said
    async with asyncio.timeout(60):  # the flag is read as written
        while "trading HALTED" not in screen:
            pane.type(status)
            screen = await pane.wait_for(r"^<done>$")
    _fits(screen)
    assert re.search(r"^trading HALTED: .*kill switch freeze \(cli\)", screen, re.M), screen
    assert re.search(  # the time phrase is kept whole on its own line, never "(5s\nago)"
        r"^  kill switch freeze \(cli\): operator request \(cli\)\n"
        r"    since \d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+s ago\)$",
        screen,
        re.M,
    )
    assert "guard margin_critical" in screen  # still tripped, still shown

    pane.type(_typed(env_file, "monitor"))
    row = rf"^{bot_id}\s+halted\s+\d+\s+\d\d:\d\d\s+\d+s\s+\d+\.\d{{4}}\s+-?\d+\.\d{{4}}"
    screen = await pane.wait_for(row, timeout_s=30)
    pane.interrupt()
    bots_table = screen[: screen.index("last 10 events")]  # event data is cut by design
    _fits(bots_table)
    assert re.search(
        r"^bot\s+status\s+block\s+time\s+age\s+delta\s+hedge\s+drift\s+margin\s+net pnl$",
        bots_table,
        re.M,
    )
    line = next(x for x in screen.splitlines() if x.startswith(bot_id))
    assert re.search(r"\s-?[\d.]+ %\s+-?\d+\.\d\d$", line), line  # margin % and net PnL, whole
