"""A real ``hedgebot localnet`` and ``hedgebot run`` daemons as subprocesses, for the tests that
drive a whole daemon from outside (its dashboard, its HTTP routes, its signals)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from mqtt_support import operator_env

from bot.sim.mosquitto import Broker, free_port

HEDGEBOT = [sys.executable, "-m", "bot"]
TOKEN = "browser-test-token-0123456789"


@dataclass
class Proc:
    """A hedgebot subprocess and where it logs."""

    proc: asyncio.subprocess.Process
    log: Path

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(sig)
        await asyncio.wait_for(self.proc.wait(), 30)


async def spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *HEDGEBOT, *args, stdout=out, stderr=out, env=env
        )
    return Proc(proc, log)


async def until(condition: Any, timeout_s: float, what: str) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - a file or the store, not an event
            await asyncio.sleep(0.05)
    assert condition(), what


@contextlib.asynccontextmanager
async def running_localnet(out: Path) -> AsyncIterator[tuple[Path, Proc]]:
    """`hedgebot localnet` in ``out`` with a market swap every 0.5 s."""
    args = ["localnet", "--out", str(out), "--block-interval-s", "0.5", "--step-seconds", "3600"]
    proc = await spawn(args, out / "localnet.log")
    try:
        await until(lambda: (out / "localnet.json").exists(), 60, "localnet did not start")
        yield out, proc
    finally:
        await proc.stop()


@dataclass
class Bot:
    """A `hedgebot run` with its dashboard."""

    bot_id: str
    config: Path
    store: Path
    port: int
    proc: Proc

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def count(self, sql: str) -> int:
        with contextlib.closing(sqlite3.connect(f"file:{self.store}?mode=ro", uri=True)) as db:
            return int(db.execute(sql).fetchone()[0])


async def start_bot(localnet: Path, workdir: Path, bot_id: str, broker: Broker, prefix: str) -> Bot:
    """A daemon on ``localnet`` with its own store and venue, MQTT under ``prefix``."""
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - test setup
    config: dict[str, Any] = yaml.safe_load((localnet / "config.yaml").read_text())
    config["bot_id"] = bot_id
    config["store"] = {"path": str(workdir / "hedgebot.sqlite")}
    config["exchange"]["paper"]["state_path"] = str(workdir / "venue.json")
    config["mqtt"] = {"url": broker.url, "topic_prefix": prefix + "/{bot_id}", "keepalive_s": 5}
    port = free_port()
    config["metrics"] = {"port": port}
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    env = operator_env({**os.environ, "HEDGEBOT_DASHBOARD_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"})
    env.pop("MQTT_URL", None)
    proc = await spawn(["run", "--config", str(path)], workdir / "daemon.log", env)
    bot = Bot(bot_id, path, workdir / "hedgebot.sqlite", port, proc)
    await until(lambda: bot.store.exists(), 30, "daemon did not open its store")
    return bot
