"""``hedgebot run`` keeps answering its probes while PostgreSQL is down (issue 19 review,
item 4): a daemon started while the database is unreachable waits for it instead of exiting
1 (a pod would crash-loop), and during that wait and a later mid-run outage the metrics port
stays open: ``/healthz`` 200 (liveness: waiting correctly), ``/readyz`` 503, both saying
since when the store is unreachable.

A real daemon subprocess (paper venue, anvil with a real Uniswap V2 pool) keeps its store in
PostgreSQL behind a TCP relay (tests/tcp_proxy.py) this test stops and starts.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
import yaml
from store_backends import PG_URL, unique_schema
from tcp_proxy import TcpProxy
from test_fault_crash import Child

from bot.sim.anvil import Anvil
from bot.sim.localnet import local_config, start_world

pytestmark = pytest.mark.faults


@pytest.fixture
def schema() -> Iterator[str]:
    """A PostgreSQL schema of this test's own."""
    with unique_schema() as name:
        yield name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _after(child: Child, event: str, index: int) -> list[dict[str, Any]]:
    return [e for e in child.events()[index:] if e.get("event") == event]


async def _wait_after(child: Child, event: str, index: int, timeout_s: float = 60.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not _after(child, event, index):  # noqa: ASYNC110 - polls the daemon's log file
            await asyncio.sleep(0.05)


async def _probe(port: int, path: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}", timeout=aiohttp.ClientTimeout(total=5)) as r,
    ):
        return r.status, await r.json()


async def _until(port: int, path: str, status: int, timeout_s: float = 60.0) -> dict[str, Any]:
    """The body of ``path`` once it answers ``status`` (the port may be changing hands)."""
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                code, body = await _probe(port, path)
            except aiohttp.ClientError:
                code, body = 0, {}
            if code == status:
                return body
            await asyncio.sleep(0.1)


async def _outage_answers(child: Child, port: int) -> None:
    """The daemon is alive; /healthz 200 waiting and /readyz 503, naming the outage."""
    live = await _until(port, "/healthz", 200)
    assert live["status"] == "waiting", live
    assert live["store"].startswith("unreachable since 20"), live
    assert live["store"].endswith("Z")
    code, ready = await _probe(port, "/readyz")
    assert code == 503
    assert ready["status"] == "unready"
    assert ready["store"] == live["store"]
    assert child.proc is not None
    assert child.proc.returncode is None


async def test_daemon_started_while_the_database_is_down_waits_and_answers_its_probes(
    anvil_node: Anvil, tmp_path: Path, schema: str
) -> None:
    """Database down at start: no exit, probes answered (live, not ready); database up: the
    engine starts and ticks, /healthz and /readyz 200; database down mid-run: answered again;
    SIGTERM during the outage: exit 0."""
    target = urlsplit(PG_URL)
    relay = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await relay.start()
    await relay.stop()  # its port is kept: the database is "down" from the start
    url = target._replace(netloc=f"{target.username}@127.0.0.1:{relay.port}").geturl()
    port = _free_port()
    async with start_world(anvil_node.rpc_url, seed=5, sigma=0.8) as world:
        data = local_config(world, tmp_path, "outage-health")
        data["logging"] = {"level": "info", "format": "json"}
        data["metrics"] = {"enabled": True, "host": "127.0.0.1", "port": port}
        data["store"] = {**data["store"], "url": url, "pg_schema": schema, "timeout_s": 1}
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump(data))
        child = Child(config, tmp_path / "daemon.log", None)
        try:
            await child.start()
            await child.wait_for("daemon.store_unreachable", 60)
            assert _after(child, "daemon.store_unreachable", 0)[0]["at"] == "start"
            await _outage_answers(child, port)

            back = len(child.events())
            await relay.start()
            await _wait_after(child, "daemon.store_back", back)
            await _wait_after(child, "tick.completed", back)
            assert (await _until(port, "/healthz", 200))["status"] == "ok"
            assert (await _until(port, "/readyz", 200))["status"] == "ok"

            down = len(child.events())
            await relay.stop()
            for _ in range(3):  # new blocks: the next tick's write finds the store gone
                await world.step()
            await _wait_after(child, "daemon.store_unreachable", down)
            assert _after(child, "daemon.store_unreachable", down)[0]["at"] == "run"
            await _outage_answers(child, port)
            assert await child.stop() == 0
        finally:
            if child.proc is not None and child.proc.returncode is None:
                await child.stop()
            if relay._server is not None:
                await relay.stop()
