"""``hedgebot run 2>&1 | head``: once the reader of its log pipe exits, the daemon stops after
its current tick and exits 1 with its locks released (issue 12 review: it stopped ticking,
closed its metrics port and then hung until SIGTERM, a BrokenPipeError from a log call
having skipped the store's close, whose worker thread kept the process alive).

A real ``hedgebot localnet`` (anvil, Uniswap V2, a market) and a real ``hedgebot run``
subprocess whose stdout and stderr are one OS pipe that the test reads, then closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from daemon_support import HEDGEBOT, Proc, spawn, until

from bot.sim.mosquitto import free_port

pytestmark = pytest.mark.integration


async def _read_lines(read_fd: int, wanted: int) -> list[dict[str, Any]]:
    """The first ``wanted`` JSON log lines from the non-blocking ``read_fd``."""
    data = b""
    while data.count(b"\n") < wanted:
        try:
            chunk = os.read(read_fd, 65536)
        except BlockingIOError:
            await asyncio.sleep(0.05)
            continue
        assert chunk, f"the daemon closed its output early: {data[-2000:]!r}"
        data += chunk
    return [json.loads(line) for line in data.splitlines()[:wanted]]


async def test_run_exits_nonzero_when_its_log_pipe_closes(tmp_path: Path) -> None:
    out = tmp_path / "localnet"
    out.mkdir()
    args = ["localnet", "--out", str(out), "--no-mqtt", "--block-interval-s", "0.5"]
    localnet: Proc = await spawn([*args, "--step-seconds", "3600"], tmp_path / "localnet.log")
    try:
        await until(lambda: (out / "localnet.json").exists(), 60, "localnet did not start")
        config: dict[str, Any] = yaml.safe_load((out / "config.yaml").read_text())
        config["bot_id"] = f"pipe-{os.getpid()}"
        config["store"] = {"path": str(tmp_path / "bot.sqlite")}
        config["exchange"]["paper"]["state_path"] = str(tmp_path / "venue.json")
        config["metrics"] = {"port": free_port()}
        config["logging"] = {"level": "info", "format": "json"}
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        env = {**os.environ, "HEDGEBOT_LOCK_DIR": str(tmp_path / "locks"), "PYTHONUNBUFFERED": "1"}
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        try:
            proc = await asyncio.create_subprocess_exec(
                *HEDGEBOT, "run", "--config", str(path), stdout=write_fd, stderr=write_fd, env=env
            )
        finally:
            os.close(write_fd)  # the daemon holds the only write end now
        try:
            async with asyncio.timeout(90):  # a hang guard: the daemon starts and logs
                first = await _read_lines(read_fd, 3)
            assert first[0]["event"]  # it was logging JSON lines to the pipe
            os.close(read_fd)  # `head` exits: the next log line is EPIPE
            read_fd = -1
            code = await asyncio.wait_for(proc.wait(), 90)  # a hang guard, not a timing
        finally:
            if read_fd >= 0:
                os.close(read_fd)
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
        # 1: the clean stop of LogStreamClosed (not 0, not 120 from a failed flush at exit,
        # not the SIGKILL of the guard); the process ended, so its locks are free
        assert code == 1
    finally:
        with contextlib.suppress(ProcessLookupError):
            await localnet.stop()
