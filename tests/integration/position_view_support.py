"""Helpers for the tests of the bot page's per-position view (issue 18 item 1): a `hedgebot
localnet` of a given pool kind, a command's ``--json`` answer, the page's ``/api/state`` at a
block, and the pool each localnet deploys."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from daemon_support import HEDGEBOT, Bot, Proc, spawn, until


@contextlib.asynccontextmanager
async def pool_localnet(out: Path, pool_kind: str) -> AsyncIterator[tuple[Path, Proc]]:
    """`hedgebot localnet --pool-kind KIND` in ``out``, a market swap every 0.5 s."""
    args = ["localnet", "--out", str(out), "--pool-kind", pool_kind]
    args += ["--block-interval-s", "0.5", "--step-seconds", "3600"]
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - test setup
    proc = await spawn(args, out / "localnet.log")
    try:
        await until(lambda: (out / "localnet.json").exists(), 90, "localnet did not start")
        yield out, proc
    finally:
        await proc.stop()


async def cli_json(*args: str) -> dict[str, Any]:
    """A hedgebot command's ``--json`` answer."""
    proc = await asyncio.create_subprocess_exec(
        *HEDGEBOT, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return dict(json.loads(out))


async def api_state(bot: Bot) -> dict[str, Any]:
    """The page's ``/api/state`` (an empty state until the daemon answers)."""
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{bot.url}api/state", timeout=aiohttp.ClientTimeout(total=5)) as answer,
        ):
            return dict(await answer.json())
    except (aiohttp.ClientError, TimeoutError):
        return {"state": None}


async def state_at(bot: Bot, block: int) -> dict[str, Any]:
    """``/api/state`` once the daemon has published the state of ``block``."""
    async with asyncio.timeout(30):
        while True:
            body = await api_state(bot)
            if body["state"] is not None and body["state"]["block"] >= block:
                assert body["state"]["block"] == block, "the chain moved with the market stopped"
                return body
            await asyncio.sleep(0.2)


def expected_pool(kind: str, contracts: dict[str, Any]) -> str:
    """The pool the localnet deployed: the V2 pair, the V3 pool, the V4 pool id."""
    return str(contracts[{"v2": "pair", "v3": "pool", "v4": "pool_id"}[kind]])


def decisions(bot: Bot) -> int:
    """The daemon's recorded decisions (0 while its store is still being created)."""
    try:
        return bot.count("SELECT COUNT(*) FROM decisions")
    except sqlite3.OperationalError:  # no such table yet
        return 0
